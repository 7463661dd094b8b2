#!/usr/bin/env python3
"""Sends rendered objects to a real kube-apiserver with server-side dry run (POST to the
collection, ?dryRun=All, as `kubectl apply --dry-run=server` does for a new object) and
fails unless every one is accepted (2xx). Uses curl, so the TLS and auth path is plain.
Usage: apply-dry-run.py APISERVER_DIR RENDERED.json... (APISERVER_DIR from start.sh)
policy/v1 PodDisruptionBudgets are sent as policy/v1beta1 when the server has no
policy/v1 (before Kubernetes 1.21); the spec used is the same in both.
A Deployment is accepted whatever its pod template's priority class is: admission of
pods checks that. So each Deployment's pod template is also sent as a Pod (dry run)."""
import json
import os
import subprocess
import sys
import tempfile

# kind -> (API prefix, plural, namespaced)
KINDS = {
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Secret": ("/api/v1", "secrets", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Service": ("/api/v1", "services", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "Pod": ("/api/v1", "pods", True),
    "PodDisruptionBudget": ("/apis/{policy}", "poddisruptionbudgets", True),
}


def curl(d, method, path, body=None):
    port = open(os.path.join(d, "port")).read().strip()
    token = open(os.path.join(d, "admin.token")).read().strip()
    with tempfile.NamedTemporaryFile("w", suffix=".hdr", delete=False) as hdr:
        # the token goes in a header file, not in curl's argv
        hdr.write(f"Authorization: Bearer {token}\nContent-Type: application/json\n")
    cmd = ["curl", "-sS", "--max-time", "30", "--cacert", os.path.join(d, "serving.crt"),
           "-H", f"@{hdr.name}", "-X", method, "-o", "-", "-w", "\n%{http_code}",
           f"https://127.0.0.1:{port}{path}"]
    if body is not None:
        cmd[1:1] = ["--data-binary", "@-"]
    try:
        out = subprocess.run(cmd, input=json.dumps(body) if body is not None else None,
                             capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(hdr.name)
    text, _, code = out.stdout.rpartition("\n")
    return int(code or 0), text, out.stderr


def main():
    d, files = sys.argv[1], sys.argv[2:]
    code, _, _ = curl(d, "GET", "/apis/policy/v1")
    policy = "policy/v1" if code == 200 else "policy/v1beta1"
    failed = sent = 0
    for f in files:
        objs = json.load(open(f))
        for o in list(objs):
            if o["kind"] == "Deployment":
                t = o["spec"]["template"]
                objs.append({"apiVersion": "v1", "kind": "Pod",
                             "metadata": dict(t.get("metadata", {}),
                                              name=o["metadata"]["name"] + "-template",
                                              namespace=o["metadata"].get("namespace")),
                             "spec": t["spec"]})
        for o in objs:
            kind, md = o["kind"], o["metadata"]
            if kind not in KINDS:
                print(f"{f}: {kind} {md['name']}: no API path known to this test")
                failed += 1
                continue
            prefix, plural, namespaced = KINDS[kind]
            if kind == "PodDisruptionBudget":
                if o["apiVersion"] != "policy/v1":
                    print(f"{f}: PodDisruptionBudget {md['name']} is {o['apiVersion']}, "
                          "expected policy/v1")
                    failed += 1
                o = dict(o, apiVersion=policy)
                prefix = prefix.format(policy=policy)
            if namespaced:
                if not md.get("namespace"):
                    print(f"{f}: {kind} {md['name']} has no namespace")
                    failed += 1
                    continue
                path = f"{prefix}/namespaces/{md['namespace']}/{plural}"
            else:
                path = f"{prefix}/{plural}"
            code, text, err = curl(d, "POST", path + "?dryRun=All", o)
            sent += 1
            if not 200 <= code < 300:
                print(f"{f}: {kind} {md['name']}: HTTP {code}: {text[:600]} {err}")
                failed += 1
            else:
                print(f"{f}: {kind} {md['name']} ({o['apiVersion']}): accepted ({code})")
            # a dry run must have stored nothing
            code, _, _ = curl(d, "GET", f"{path}/{md['name']}")
            if code != 404:
                print(f"{f}: {kind} {md['name']}: GET after the dry run gave {code}, not 404")
                failed += 1
    if policy != "policy/v1":
        print("note: this server has no policy/v1; PodDisruptionBudgets were sent as "
              "policy/v1beta1")
    print(f"{sent} objects sent, {failed} problems")
    sys.exit(1 if failed or not sent else 0)


if __name__ == "__main__":
    main()
