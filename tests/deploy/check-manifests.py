#!/usr/bin/env python3
"""Checks one rendered install of nodescaler (a JSON array of objects, from render.py or
the chart renderer) for what the README promises operators.
Usage: check-manifests.py BACKEND RENDERED.json HELP.txt [--replicas N]"""
import json
import re
import sys

backend, rendered, helpfile = sys.argv[1:4]
want_replicas = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--replicas" else 1
objs = json.load(open(rendered))
flags = set(re.findall(r"^\s+--([a-z0-9-]+)", open(helpfile).read(), re.M))
errors = []


def need(cond, what):
    if not cond:
        errors.append(what)


def one(kind):
    found = [o for o in objs if o["kind"] == kind]
    need(len(found) == 1, f"{len(found)} {kind} objects, expected 1")
    return found[0] if found else {}


for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
             "PodDisruptionBudget"):
    one(kind)
dep = one("Deployment")
spec = dep.get("spec", {})
pod = spec.get("template", {}).get("spec", {})
need(spec.get("replicas") == want_replicas, f"replicas {spec.get('replicas')}, expected {want_replicas}")
need(pod.get("priorityClassName") == "system-cluster-critical", "priorityClassName")
psc = pod.get("securityContext", {})
need(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65532, "non-root uid 65532")
need(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
sa = one("ServiceAccount")
need(pod.get("serviceAccountName") == sa.get("metadata", {}).get("name"), "serviceAccountName")
cs = pod.get("containers", [])
need(len(cs) == 1, "one container")
c = cs[0] if cs else {}
csc = c.get("securityContext", {})
need(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
need(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
need(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL")
ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
need(ports.get("metrics") == 8085, "port 8085 named metrics")
probe = c.get("livenessProbe", {}).get("httpGet", {})
need(probe.get("path") == "/health-check" and probe.get("port") in ("metrics", 8085),
     "liveness on /health-check, port metrics")
res = c.get("resources", {})
need("memory" in res.get("requests", {}) and "memory" in res.get("limits", {}),
     "memory request and limit")
env = {e["name"]: e for e in c.get("env", [])}
for name in ("EXOSCALE_API_KEY", "EXOSCALE_API_SECRET", "EXOSCALE_ZONE"):
    ref = env.get(name, {}).get("valueFrom", {}).get("secretKeyRef", {})
    need(ref.get("name") == "exoscale-api-credentials", f"{name} from the Secret")
    need("value" not in env.get(name, {}), f"{name} given in clear")
args = c.get("args", [])
need(f"--backend={backend}" in args, f"--backend={backend} in args {args}")
for a in args:
    m = re.match(r"--([a-z0-9-]+)", a)
    need(m is not None and m.group(1) in flags, f"argument {a!r} is no flag of nodescaler --help")
addr = [a for a in args if a.startswith("--address=")]
need(addr and addr[-1].endswith(":8085"), "--address on port 8085")
if want_replicas > 1:
    need("--leader-elect=true" in args, "leader election with more than one replica")
if backend == "instance-pool":
    tol = {t.get("key") for t in pod.get("tolerations", [])}
    need("node-role.kubernetes.io/control-plane" in tol, "control-plane toleration")
    need("node-role.kubernetes.io/control-plane" in pod.get("nodeSelector", {}),
         "control-plane nodeSelector")
# every subject of every binding is the ServiceAccount the pod runs as
for o in objs:
    if o["kind"] in ("ClusterRoleBinding", "RoleBinding"):
        for s in o.get("subjects", []):
            need(s.get("name") == sa.get("metadata", {}).get("name")
                 and s.get("namespace") == sa.get("metadata", {}).get("namespace"),
                 f"{o['kind']} binds {s}")
if errors:
    print(f"{rendered} ({backend}): " + "; ".join(errors))
    sys.exit(1)
print(f"{rendered} ({backend}): {len(objs)} objects, all checks pass")
