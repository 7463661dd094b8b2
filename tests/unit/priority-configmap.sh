#!/bin/sh
# The priority expander's ConfigMap on a live cluster (the kube-apiserver emulator): a
# --kubeconfig run with priority in the chain reads the key `priorities` of the ConfigMap
# cluster-autoscaler-priority-expander in --namespace, refuses it missing, forbidden or
# broken naming the ConfigMap, the line and the problem, and prefers
# --expander-priority-config when both exist.
set -u
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
data="$top_srcdir/tests/data/replay/priority"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-prio-cm.XXXXXX")
tmp=$work
emu_pid=""
cleanup() {
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
. "$top_srcdir/tests/unit/priority-common.sh"

"$top_builddir/tests/emulator/kube-emulator" --port-file="$work/port" --token=admin-token \
    --unbound-token=unbound-token --load="$data/snapshot.json" 2>"$work/emulator.log" &
emu_pid=$!
i=0
while [ ! -s "$work/port" ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "emulator did not start"; cat "$work/emulator.log"; exit 1; }
    sleep 0.1
done
server=http://127.0.0.1:$(cat "$work/port")
for who in admin unbound; do
    cat >"$work/$who.kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: it
clusters:
- name: emu
  cluster:
    server: $server
users:
- name: u
  user:
    token: $who-token
contexts:
- name: it
  context: {cluster: emu, user: u}
KC
done

# put_configmap NAMESPACE FILE|-: the ConfigMap with `priorities` = the file ("-": no key).
put_configmap() {
    python3 - "$1" "$2" >"$work/cm.json" <<'PY'
import json, sys
ns, src = sys.argv[1], sys.argv[2]
data = {"other": "x"} if src == "-" else {"priorities": open(src).read()}
print(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "cluster-autoscaler-priority-expander",
                               "namespace": ns}, "data": data}))
PY
    url=$server/api/v1/namespaces/$1/configmaps
    curl -sS -o /dev/null -H "Authorization: Bearer admin-token" -X DELETE \
        "$url/cluster-autoscaler-priority-expander"
    curl -sS --fail -o /dev/null -H "Authorization: Bearer admin-token" \
        -H "Content-Type: application/json" -X POST --data-binary "@$work/cm.json" "$url" ||
        { echo "FAIL: cannot create the ConfigMap in $1"; fail=1; }
}

run() {
    "$top_builddir/nodescaler" --backend=static --backend-opt="groups=$data/groups.json" \
        --once --dry-run --output=json "$@"
}

admin="--kubeconfig=$work/admin.kubeconfig"
chain="--expander=priority,least-waste"
cm=cluster-autoscaler-priority-expander

# Without priority in the chain no ConfigMap is needed.
expect_scale_up "$admin --expander=least-waste" "general:1:3:4"
expect_error 1 "$admin $chain" \
    "--expander=priority,least-waste: no priority configuration: ConfigMap kube-system/$cm does not exist"
put_configmap kube-system "$data/bad-regex.yaml"
expect_error 1 "$admin $chain" \
    "priority expander configuration in ConfigMap kube-system/$cm, key priorities: line 4: bad regex \"^spot-(medium\""
put_configmap kube-system -
expect_error 1 "$admin $chain" "ConfigMap kube-system/$cm has no string key priorities"
put_configmap kube-system "$data/priorities.yaml"
expect_scale_up "$admin $chain" "spot-medium:0:1:3,general:1:2:1"
grep -qF "priority expander configuration read from ConfigMap kube-system/$cm, key priorities" \
    "$work/err" || { echo "FAIL: the source of the priorities is not logged"; fail=1; }
# --namespace chooses where it is read.
put_configmap autoscaling "$data/large-first.yaml"
expect_scale_up "$admin $chain --namespace=autoscaling" "spot-large:0:1:3,general:1:2:1"
# A file wins over the ConfigMap.
expect_scale_up "$admin $chain --expander-priority-config=$data/large-first.yaml" \
    "spot-large:0:1:3,general:1:2:1"
# A user who may not read it gets the API's answer.
expect_error 1 "--kubeconfig=$work/unbound.kubeconfig $chain" \
    "--expander=priority,least-waste: cannot read ConfigMap kube-system/$cm: GET /api/v1/namespaces/kube-system/configmaps/$cm: 403"
exit $fail
