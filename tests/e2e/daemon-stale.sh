#!/bin/sh
# While a watched resource must be listed again (its watch answered 410 Gone and the list
# fails), the daemon's model of it may be missing changes, so it plans no scale-down in
# that loop and says which resource it waits for; once the list succeeds, scale-down
# resumes. First the PDBs are cut off while the pods watch works: a node freed of its
# load stays (an unfixed daemon would remove it); then the pods themselves. Faults match
# the daemon's User-Agent only, so the fake scheduler and the kubelet are not disturbed.
# Run time: 4 min measured on 2 loaded cores (sks backend; most of it is set-up).
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

taint=ToBeDeletedByClusterAutoscaler
since=nodescaler.io/unneeded-since
sd_flags="--scan-interval=1s --scale-down-unneeded-time=5s --scale-down-delay-after-add=0s
    --scale-down-delay-after-delete=0s --scale-down-delay-after-failure=0s"

log_has() { grep -q -- "$1" "$cl_work/st.log"; }
log_count() { grep -c -- "$1" "$cl_work/st.log" || true; }
node_http() { kube_curl -o /dev/null -w '%{http_code}' "$cl_kube_url/api/v1/nodes/$1"; }

# has_deletion_taint NODE: the node carries the hard deletion taint.
has_deletion_taint() {
    kube_api GET "/api/v1/nodes/$1" |
        cl_json "any(t['key'] == '$taint' for t in d['spec'].get('taints', []))" | grep -qx True
}

# cut PATH: the daemon's watches under PATH get 410 Gone and its lists 500, until cleared;
# open watches are dropped so that the daemon meets the faults at once.
cut() {
    kube_admin /admin/fault "{\"method\":\"GET\",\"path\":\"$1\",\"watch\":true,\"status\":410,\"count\":-1,\"agent\":\"nodescaler/\"}"
    kube_admin /admin/fault "{\"method\":\"GET\",\"path\":\"$1\",\"watch\":false,\"status\":500,\"count\":-1,\"agent\":\"nodescaler/\"}"
    kube_admin /admin/drop-watches
}

# held WHAT NODE KIND: for several loops past the unneeded time, each loop logs that KIND
# must be listed again, and NODE is neither marked unneeded nor tainted, nor evicted.
held() {
    n0=$(log_count "no scale-down in this loop: $3 must be listed again")
    daemon_wait_loops st 8
    n1=$(log_count "no scale-down in this loop: $3 must be listed again")
    [ $((n1 - n0)) -ge 6 ] || fail "$1: only $((n1 - n0)) of 8 loops held scale-down for $3"
    if has_deletion_taint "$2"; then fail "$1: $2 was tainted $taint while $3 was stale"; fi
    if node_annotation "$2" "$since" >/dev/null 2>&1; then
        fail "$1: $2 was marked unneeded while $3 was stale"
    fi
    [ "$(exo_writes)" -eq 0 ] || fail "$1: the cloud was written to: $(exo_admin GET calls)"
    cl_say "ok: $1: $((n1 - n0)) loops held scale-down for $3"
}

# removed NODE SIZE: NODE is drained, evicted from the group, which goes down to SIZE.
removed() {
    wait_for "$1 tainted $taint" "has_deletion_taint $1"
    wait_for "group $cl_g1 down to $2" "[ \$(group_size $cl_g1) -eq $2 ]"
    wait_for "the Node $1 deleted" "[ \$(node_http $1) = 404 ]"
}

CLUSTER_GENERAL_SIZE=3 cluster_start stale sks
# shellcheck disable=SC2046 # one name a line
set -- $(nodes_of "$cl_g1")
[ $# -eq 3 ] || fail "want 3 Nodes in group $cl_g1, got: $*"
keep=$1 drop=$2 drop2=$3
pods_create 1 1500m base node="$keep"
pods_create 1 1500m load node="$drop"
pods_create 1 1500m load2 node="$drop2"
writes_reset
# shellcheck disable=SC2086 # the flags are words
daemon_start st $sd_flags --address=127.0.0.1:0
daemon_wait_loops st 2

# PDBs stale, pods current: the daemon sees drop freed, and must still not remove it.
cut /apis/policy/
wait_for "scale-down held for the PDBs" \
    "log_has 'no scale-down in this loop: poddisruptionbudgets must be listed again'"
pods_delete load
held "PDBs stale" "$drop" poddisruptionbudgets
kube_admin /admin/clear-faults
removed "$drop" 2
cl_say "ok: after the PDBs were listed again, $drop was removed"

# Pods stale: held, whatever the pods did meanwhile; after the relist drop2 goes.
writes_reset
cut /api/v1/pods
wait_for "scale-down held for the pods" \
    "log_has 'no scale-down in this loop: pods must be listed again'"
pods_delete load2
held "pods stale" "$drop2" pods
kube_admin /admin/clear-faults
removed "$drop2" 1
[ "$(nodes_of "$cl_g1")" = "$keep" ] || fail "group $cl_g1 holds $(nodes_of "$cl_g1")"
if grep -q -- "-secret-" "$cl_work/st.log"; then fail "the API secret was logged"; fi
daemon_stop st
echo "ok"
