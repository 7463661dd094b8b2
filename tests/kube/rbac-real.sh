#!/bin/sh
# deploy/manifests/base (ServiceAccount and RBAC) on a real kube-apiserver v1.20.2: its
# objects are accepted, and SubjectAccessReviews for the ServiceAccount allow every request
# nodescaler makes and deny a sample of those it never makes. Skipped (77) as
# integration-real.sh is.
set -eu
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
here=$top_srcdir/tests/kube-apiserver
if [ -n "${NSC_SKIP_REAL_APISERVER:-}" ]; then
    echo "NSC_SKIP_REAL_APISERVER set: skipped"
    exit 77
fi
if [ "$(id -u)" != 0 ] && ! [ -x "${NSC_KUBE_CACHE:-/var/cache/nodescaler}/kube-apiserver-v1.20.2" ]; then
    echo "not root and no cached kube-apiserver: skipped (run tests/kube-apiserver/build.sh as root)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-rbac-real.XXXXXX")
cleanup() {
    sh "$here/stop.sh" "$work"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
sh "$here/start.sh" "$work"
server=$(sed -n 's/^ *server: *//p' "$work/admin.kubeconfig" | head -n 1)
python3 - "$server" "$work/admin.token" "$work/serving.crt" \
    "$top_srcdir/deploy/manifests/base/serviceaccount.yaml" \
    "$top_srcdir/deploy/manifests/base/rbac.yaml" <<'PY'
import json, ssl, sys, time, urllib.error, urllib.request
import yaml

server, token, ca, manifests = sys.argv[1], open(sys.argv[2]).read().strip(), sys.argv[3], sys.argv[4:]
ctx = ssl.create_default_context(cafile=ca)

def call(method, path, body=None):
    req = urllib.request.Request(server + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")

plural = {"ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles",
          "ClusterRoleBinding": "clusterrolebindings", "Role": "roles", "RoleBinding": "rolebindings"}
# kube-system exists once the apiserver's bootstrap has run: wait for it (deadline 60 s).
deadline = time.time() + 60
while call("GET", "/api/v1/namespaces/kube-system")[0] != 200:
    if time.time() > deadline:
        sys.exit("FAIL: no kube-system namespace within 60 s")
    time.sleep(0.5)
objs = [o for m in manifests for o in yaml.safe_load_all(open(m)) if o]
for obj in objs:
    group = "/api/v1" if obj["apiVersion"] == "v1" else "/apis/" + obj["apiVersion"]
    ns = obj["metadata"].get("namespace")
    path = group + ("/namespaces/%s" % ns if ns else "") + "/" + plural[obj["kind"]]
    st, ans = call("POST", path, obj)
    if st != 201:
        sys.exit("FAIL: %s %s refused: %s %s" % (obj["kind"], obj["metadata"]["name"], st, ans.get("message")))
print("ok: the %d objects of the ServiceAccount and RBAC manifests created" % len(objs))

sa = "system:serviceaccount:kube-system:nodescaler"
def allowed(verb, resource, group="", ns=None, name=None, sub=None):
    attrs = {"verb": verb, "resource": resource, "group": group}
    if ns: attrs["namespace"] = ns
    if name: attrs["name"] = name
    if sub: attrs["subresource"] = sub
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": sa, "groups": ["system:serviceaccounts",
                                              "system:serviceaccounts:kube-system",
                                              "system:authenticated"],
                       "resourceAttributes": attrs}}
    st, ans = call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    if st != 201:
        sys.exit("FAIL: SubjectAccessReview answered %s: %s" % (st, ans))
    return ans["status"].get("allowed", False)

need = []
for res, grp in (("namespaces", ""), ("nodes", ""), ("pods", ""), ("persistentvolumes", ""),
                 ("persistentvolumeclaims", ""), ("poddisruptionbudgets", "policy"),
                 ("storageclasses", "storage.k8s.io"), ("csinodes", "storage.k8s.io")):
    need += [("list", res, grp, None, None, None), ("watch", res, grp, None, None, None)]
need += [
    ("get", "nodes", "", None, "node-1", None), ("update", "nodes", "", None, "node-1", None),
    ("get", "pods", "", "default", "web-1", None),
    ("create", "pods", "", "default", "web-1", "eviction"),
    ("create", "events", "", "default", None, None),
    ("create", "events", "", "team-a", None, None),
    ("create", "events", "", "kube-system", None, None),
    ("create", "configmaps", "", "kube-system", None, None),
    ("get", "configmaps", "", "kube-system", "cluster-autoscaler-status", None),
    ("update", "configmaps", "", "kube-system", "cluster-autoscaler-status", None),
    ("get", "configmaps", "", "kube-system", "cluster-autoscaler-priority-expander", None),
    ("create", "leases", "coordination.k8s.io", "kube-system", None, None),
    ("get", "leases", "coordination.k8s.io", "kube-system", "cluster-autoscaler", None),
    ("update", "leases", "coordination.k8s.io", "kube-system", "cluster-autoscaler", None),
]
never = [
    ("delete", "nodes", "", None, "node-1", None), ("patch", "nodes", "", None, "node-1", None),
    ("delete", "pods", "", "default", "web-1", None),
    ("patch", "events", "", "default", "x", None),
    ("get", "secrets", "", "kube-system", "any", None),
    ("update", "configmaps", "", "kube-system", "coredns", None),
    ("update", "configmaps", "", "default", "cluster-autoscaler-status", None),
    ("update", "leases", "coordination.k8s.io", "kube-system", "kube-scheduler", None),
]
bad = [a for a in need if not allowed(*a)] + [("NOT DENIED",) + a for a in never if allowed(*a)]
if bad:
    sys.exit("FAIL: %s" % "; ".join(" ".join(str(x) for x in a if x) for a in bad))
print("ok: %d requests nodescaler makes allowed, %d others denied" % (len(need), len(never)))
PY
echo "ok"
