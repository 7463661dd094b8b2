#!/usr/bin/env python3
"""Compares the RBAC rules of a rendered install (ClusterRole + Role, from render.py) with
the requests nodescaler made in the e2e scenarios, read from the kube emulator's request
logs (NSC_KUBE_REQUEST_LOG: "METHOD PATH WATCH AGENT" lines). Fails when a request is not
granted (missing) or a granted permission was never used (unused) and is not in ALLOWED.
Usage: rbac-check.py RENDERED.json REQUEST_LOG..."""
import json
import re
import sys

# The daemon's User-Agent: --user-agent's default (the Go autoscaler's) or the client's own.
AGENTS = re.compile(r"^(cluster-autoscaler|nodescaler/)")
# Granted but not exercised by the e2e scenarios, each with the reason it is needed.
# The scenarios rename what the manifests leave at its default, so that runs do not meet:
# these flags' values are mapped back to the manifests' names before the comparison.
RENAMED = {
    # --leader-elect-resource-name (daemon-leader.sh, daemon-restart.sh)
    ("coordination.k8s.io", "leases", "nsc-e2e-leader"): "cluster-autoscaler",
    ("coordination.k8s.io", "leases", "nsc-e2e-restart"): "cluster-autoscaler",
}
# --namespace=autoscaling (priority-configmap.sh) stands for nodescaler's own namespace.
RENAMED_NAMESPACES = {"autoscaling": "kube-system"}
ALLOWED = {
    # Granted though a scenario may not show it: an Event is posted only when a decision
    # has something to say within the scenario's loops, and the status ConfigMap is
    # created only where it is missing (the first leader of a cluster). A permission of
    # this list that the logs show used is reported, to be removed here.
    ("", "events", "create", ""),
    ("", "configmaps", "create", ""),
}
# Paths every authenticated user may read (system:discovery); not RBAC rules of ours.
DISCOVERY = re.compile(r"^/api(/v1)?/?$|^/apis(/[^/]+(/[^/]+)?)?/?$|^/(version|healthz|readyz|livez)$")


def parse(path, method, watch):
    """(group, resource, verb, namespace, name) of an API request, None for discovery."""
    if DISCOVERY.match(path):
        return None
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        raise ValueError(f"not an API path: {path}")
    ns = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    if len(rest) > 2:
        resource += "/" + rest[2]
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}[method]
    if verb == "create" and "/" not in resource:
        name = ""  # the authorizer sees no name on a create
    name = RENAMED.get((group, resource, name), name)
    ns = RENAMED_NAMESPACES.get(ns, ns)
    return group, resource, verb, ns, name


def rules_of(objs):
    out = []  # (scope namespace or "" for cluster-wide, rule)
    for o in objs:
        if o["kind"] == "ClusterRole":
            out += [("", r) for r in o.get("rules", [])]
        elif o["kind"] == "Role":
            out += [(o["metadata"]["namespace"], r) for r in o.get("rules", [])]
    return out


def grants(scope, rule, req):
    group, resource, verb, ns, name = req
    if scope and scope != ns:
        return False
    names = rule.get("resourceNames")
    return (group in rule.get("apiGroups", []) and resource in rule.get("resources", [])
            and verb in rule.get("verbs", []) and (not names or name in names))


def main():
    objs = json.load(open(sys.argv[1]))
    rules = rules_of(objs)
    reqs = {}
    for f in sys.argv[2:]:
        for line in open(f):
            fields = line.split()
            if len(fields) != 4 or not AGENTS.match(fields[3]):
                continue
            r = parse(fields[1], fields[0], fields[2] == "watch")
            if r is not None:
                reqs.setdefault(r, fields[0] + " " + fields[1])
    if not reqs:
        sys.exit("rbac: no request of nodescaler in the logs: " + " ".join(sys.argv[2:]))
    missing = [(r, ex) for r, ex in sorted(reqs.items())
               if not any(grants(s, rule, r) for s, rule in rules)]
    unused = []
    for s, rule in rules:
        for g in rule.get("apiGroups", []):
            for res in rule.get("resources", []):
                for v in rule.get("verbs", []):
                    for n in rule.get("resourceNames") or [""]:
                        used = any(grants(s, {"apiGroups": [g], "resources": [res],
                                              "verbs": [v], **({"resourceNames": [n]} if n else {})}, r)
                                   for r in reqs)
                        what = (f"{'Role ' + s if s else 'ClusterRole'}: "
                                f"{g or 'core'}/{res} {v}{' ' + n if n else ''}")
                        if not used and (g, res, v, n) not in ALLOWED:
                            unused.append(what)
                        elif used and (g, res, v, n) in ALLOWED:
                            print(f"note: {what} is used now: take it off the allow-list")
    print(f"rbac: {len(reqs)} distinct requests of nodescaler in {len(sys.argv) - 2} logs")
    for (g, res, v, ns, n), ex in sorted(reqs.items()):
        print(f"  {v:6} {g or 'core'}/{res} {('ns=' + ns) if ns else ''} {n}  (e.g. {ex})")
    for r, ex in missing:
        print(f"MISSING: {r[2]} {r[0] or 'core'}/{r[1]} in '{r[3]}' name '{r[4]}' (e.g. {ex})")
    for u in unused:
        print(f"UNUSED: {u}")
    sys.exit(1 if missing or unused else 0)


if __name__ == "__main__":
    main()
