#!/bin/sh
# Runs the Kubernetes client's integration suite against the kube-apiserver emulator
# (or the program in NSC_IT_PROGRAM, with the same emulator and environment).
set -eu
: "${top_builddir:=.}"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-it-emu.XXXXXX")
emu_pid=""
cleanup() {
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$top_builddir/tests/emulator/kube-emulator" --port-file="$work/port" \
    --token=it-admin-token --unbound-token=it-unbound-token --bookmark-ms=2000 \
    2>"$work/emulator.log" &
emu_pid=$!
i=0
while [ ! -s "$work/port" ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "emulator did not start"; cat "$work/emulator.log"; exit 1; }
    sleep 0.1
done
port=$(cat "$work/port")
for who in admin unbound; do
    cat >"$work/$who.kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: it
clusters:
- name: emu
  cluster:
    server: http://127.0.0.1:$port
users:
- name: u
  user:
    token: it-$who-token
contexts:
- name: it
  context: {cluster: emu, user: u}
KC
done
NSC_IT_KUBECONFIG=$work/admin.kubeconfig
NSC_IT_UNBOUND_KUBECONFIG=$work/unbound.kubeconfig
NSC_IT_EXPIRE_CMD="curl -sf -XPOST http://127.0.0.1:$port/admin/expire >/dev/null"
NSC_IT_ADMIN_URL=http://127.0.0.1:$port
NSC_IT_NAME=kube-integration-emulator
export NSC_IT_KUBECONFIG NSC_IT_UNBOUND_KUBECONFIG NSC_IT_EXPIRE_CMD NSC_IT_ADMIN_URL NSC_IT_NAME
"${NSC_IT_PROGRAM:-$top_builddir/tests/kube/test_kube_integration}"
