#!/bin/sh
# nodescaler --once in a pod: with KUBERNETES_SERVICE_HOST set and neither --cluster-snapshot
# nor --kubeconfig, the pass reads the cluster in-cluster (and says so when it cannot); with
# none of the three it lists the backend's groups only.
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
bin="$top_builddir/nodescaler"
groups="$top_srcdir/tests/data/replay/groups.json"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nsc-incluster.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}
run() {
    "$bin" --backend=static --backend-opt="groups=$groups" --once --dry-run "$@" \
        >"$tmp/out" 2>"$tmp/err"
}

# Port 1 on loopback: nothing listens there, so the pass can only fail, and must name the
# in-cluster configuration (its service account token, or the server it could not reach).
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=1 run
rc=$?
[ "$rc" -eq 1 ] || fail "in-cluster without a reachable API server exited $rc, want 1"
grep -q 'in-cluster' "$tmp/err" || fail "the error does not name the in-cluster config: $(cat "$tmp/err")"
grep -q '^node groups' "$tmp/out" && fail "fell back to the groups-only listing"
echo "ok: in-cluster read attempted: $(tail -n 1 "$tmp/err")"

# An empty KUBERNETES_SERVICE_HOST is not a pod.
KUBERNETES_SERVICE_HOST='' run || fail "an empty KUBERNETES_SERVICE_HOST: exit $?: $(cat "$tmp/err")"
grep -q '^node groups (' "$tmp/out" || fail "no groups-only listing with an empty host"

# Outside a pod and without a source of the cluster: the groups-only listing, exit 0.
(unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT; run) ||
    fail "groups-only listing exited $?: $(cat "$tmp/err")"
grep -q '^node groups (' "$tmp/out" || fail "no groups-only listing: $(cat "$tmp/out")"
grep -q '^decision: ' "$tmp/out" || fail "no decision line in the groups-only listing"
echo "ok: groups-only listing without a cluster"
exit $failed
