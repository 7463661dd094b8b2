#!/bin/sh
# The control loop's start: a cluster dump without --once and a missing kubeconfig are
# refused with an error naming the flag (exit 1, the cloud untouched); SIGTERM while the
# API server cannot be reached (the first list still pending) exits 0 within 30 s; the
# longest --scan-interval the flag takes schedules the next loop without overflow.
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
bin="$top_builddir/nodescaler"
groups="$top_srcdir/tests/data/replay/groups.json"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nsc-daemon-start.XXXXXX")
pid="" kube_pid=""
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    [ -n "$kube_pid" ] && kill "$kube_pid" 2>/dev/null && wait "$kube_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}
run() {
    "$bin" --backend=static --backend-opt="groups=$groups" --address=127.0.0.1:0 "$@" \
        >"$tmp/out" 2>"$tmp/err"
}

run --cluster-snapshot="$top_srcdir/tests/data/replay/snapshot.json"
rc=$?
[ "$rc" -eq 1 ] || fail "a dump without --once exited $rc, want 1"
grep -q -- '--cluster-snapshot=.*replays a recorded cluster once: add --once' "$tmp/err" ||
    fail "a dump without --once: $(cat "$tmp/err")"
echo "ok: --cluster-snapshot without --once refused"

run --kubeconfig="$tmp/none.yaml"
rc=$?
[ "$rc" -eq 1 ] || fail "a missing kubeconfig exited $rc, want 1"
grep -q "$tmp/none.yaml" "$tmp/err" || fail "the error does not name the kubeconfig: $(cat "$tmp/err")"
echo "ok: missing kubeconfig refused: $(tail -n 1 "$tmp/err")"

# Port 1 on loopback: nothing listens, so the first list never completes.
cat >"$tmp/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: c
clusters:
- name: k
  cluster:
    server: http://127.0.0.1:1
users:
- name: u
  user:
    token: t
contexts:
- name: c
  context: {cluster: k, user: u}
KC
"$bin" --backend=static --backend-opt="groups=$groups" --address=127.0.0.1:0 \
    --kubeconfig="$tmp/kubeconfig" \
    >"$tmp/out" 2>"$tmp/err" &
pid=$!
i=0
# Wait until it is listing (or gone), at most 60 s.
while kill -0 "$pid" 2>/dev/null && ! grep -q 'GET /api/v1/' "$tmp/err"; do
    i=$((i + 1))
    [ $i -le 600 ] || break
    sleep 0.1
done
# term WHAT: SIGTERM to $pid, which must exit 0 within 30 s and log the stop.
term() {
    kill -0 "$pid" 2>/dev/null || fail "$1: exited before SIGTERM: $(tail -n 3 "$tmp/err")"
    kill -TERM "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 300 ] || { fail "$1: still running 30 s after SIGTERM"; break; }
        sleep 0.1
    done
    rc=0
    wait "$pid" || rc=$?
    pid=""
    [ "$rc" -eq 0 ] || fail "$1: exit $rc after SIGTERM, want 0: $(tail -n 3 "$tmp/err")"
    grep -q 'received SIGTERM: stopping' "$tmp/err" || fail "$1: the stop is not logged"
    echo "ok: $1: SIGTERM, exit $rc"
}
term "API server unreachable"

# The longest --scan-interval (about 292 million years in ms): after the first loop the
# next one is "never", not an overflow (UBSan stops the process on one).
"$top_builddir/tests/emulator/kube-emulator" --port-file="$tmp/kport" 2>"$tmp/kube.log" &
kube_pid=$!
i=0
while [ ! -s "$tmp/kport" ]; do
    i=$((i + 1))
    [ $i -le 100 ] || { fail "kube emulator did not start"; exit 1; }
    sleep 0.1
done
sed "s#http://127.0.0.1:1#http://127.0.0.1:$(cat "$tmp/kport")#" "$tmp/kubeconfig" >"$tmp/kc2"
"$bin" --backend=static --backend-opt="groups=$groups" --address=127.0.0.1:0 \
    --kubeconfig="$tmp/kc2" \
    --leader-elect=false --scan-interval=2562047h --v=4 >"$tmp/out" 2>"$tmp/err" &
pid=$!
i=0
while kill -0 "$pid" 2>/dev/null && ! grep -q 'Starting main loop' "$tmp/err"; do
    i=$((i + 1))
    [ $i -le 600 ] || break
    sleep 0.1
done
# A few slices of the wait that follows the first loop.
sleep 1
term "--scan-interval=2562047h"
exit $failed
