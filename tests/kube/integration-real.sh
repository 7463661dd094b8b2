#!/bin/sh
# Runs the Kubernetes client's integration suite against a real kube-apiserver v1.20.2
# and etcd on 127.0.0.1 (built once from Debian's source package and cached outside the
# tree by tests/kube-apiserver/build.sh). Skipped (77) with NSC_SKIP_REAL_APISERVER=1, or
# when neither root (to install and build) nor a cached binary is available.
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
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-it-real.XXXXXX")
cleanup() {
    sh "$here/stop.sh" "$work"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
sh "$here/start.sh" "$work"
NSC_IT_KUBECONFIG=$work/admin.kubeconfig
NSC_IT_UNBOUND_KUBECONFIG=$work/unbound.kubeconfig
NSC_IT_TOKENFILE_KUBECONFIG=$work/tokenfile.kubeconfig
NSC_IT_EXPIRE_CMD="sh $here/restart-apiserver.sh $work"
NSC_IT_NAME=kube-integration-real
export NSC_IT_KUBECONFIG NSC_IT_UNBOUND_KUBECONFIG NSC_IT_TOKENFILE_KUBECONFIG NSC_IT_EXPIRE_CMD NSC_IT_NAME
"$top_builddir/tests/kube/test_kube_integration"

# The command line on the live cluster the suite left behind (it holds the replay
# fixture's nodes, pods and PDBs) must decide exactly as the replay of a kubectl-style
# dump of that same cluster.
server=$(sed -n 's/^ *server: *//p' "$NSC_IT_KUBECONFIG" | head -n 1)
token=$(cat "$work/admin.token")
dump() {
    curl -sS --fail --cacert "$work/serving.crt" -H "Authorization: Bearer $token" "$server$1"
}
dump /api/v1/nodes >"$work/nodes.json"
dump /api/v1/pods >"$work/pods.json"
dump /apis/policy/v1beta1/poddisruptionbudgets >"$work/pdbs.json"
python3 - "$work" <<'PY'
import json, sys
d = sys.argv[1]
items = []
for f, kind, ver in (("nodes", "Node", "v1"), ("pods", "Pod", "v1"),
                     ("pdbs", "PodDisruptionBudget", "policy/v1beta1")):
    for it in json.load(open(f"{d}/{f}.json"))["items"]:
        it["kind"], it["apiVersion"] = kind, ver
        items.append(it)
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(f"{d}/dump.json", "w"))
PY
groups=$top_srcdir/tests/data/replay/groups.json
run() {
    NSC_BACKEND_PATH="$top_builddir/plugins" "$top_builddir/nodescaler" --backend=static \
        --backend-opt="groups=$groups" --once --dry-run --output=json "$@"
}
run --kubeconfig="$NSC_IT_KUBECONFIG" >"$work/live.json"
run --cluster-snapshot="$work/dump.json" >"$work/replayed.json"
python3 - "$work" <<'PY'
import json, sys
d = sys.argv[1]
live, rep = (json.load(open(f"{d}/{n}.json")) for n in ("live", "replayed"))
if live != rep:
    print("live and replayed decisions differ:")
    print(json.dumps(live, indent=1, sort_keys=True))
    print(json.dumps(rep, indent=1, sort_keys=True))
    sys.exit(1)
if not (live["scale_up"] or live["no_scale_up"]):
    print("the live decision considered no pending pod:", json.dumps(live))
    sys.exit(1)
print("nodescaler --kubeconfig and --cluster-snapshot agree:",
      len(live["scale_up"]), "scale-ups,", len(live["no_scale_up"]), "pods not helped")
PY
