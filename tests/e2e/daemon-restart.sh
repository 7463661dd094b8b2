#!/bin/sh
# What a daemon restart keeps and what it clears, on two idle machines of the general
# group: a ToBeDeletedByClusterAutoscaler taint that no drain owns (left as by a SIGKILL in
# the middle of a drain) is removed by the next leader when it starts leading, and the
# nodescaler.io/unneeded-since annotation of an idle node keeps its time across a SIGKILL
# and across a SIGTERM restart, so that the unneeded clock does not start again.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

taint=ToBeDeletedByClusterAutoscaler
ann=nodescaler.io/unneeded-since

# The machines are new: no delay after an add lets them be unneeded at once; an hour of
# unneeded time means that no drain starts during the scenario, the clock only runs.
replica() {
    daemon_spawn "$1" --scan-interval=1s --scale-down-delay-after-add=0s \
        --scale-down-unneeded-time=1h \
        --leader-elect-resource-name=nsc-e2e-restart --leader-elect-lease-duration=4s \
        --leader-elect-renew-deadline=3s --leader-elect-retry-period=1s
}

# annotated: the first general Node carrying the annotation, or nothing.
annotated() {
    for n in $(nodes_of "$cl_g1"); do
        if node_annotation "$n" "$ann" >/dev/null 2>&1; then
            echo "$n"
            return 0
        fi
    done
    return 1
}

leads() { grep -q 'leading: the lease' "$cl_work/$1.log"; }

CLUSTER_GENERAL_SIZE=2
cluster_start restart sks
[ "$(nodes_of "$cl_g1" | grep -c .)" -eq 2 ] || fail "want 2 general Nodes: $(nodes_of "$cl_g1")"

replica d1
wait_for "d1 leads" "leads d1"
wait_for "d1 marks an idle node with $ann" "annotated"
node=$(annotated)
since=$(node_annotation "$node" "$ann")
cl_say "ok: $node unneeded since $since"

# The taint of a drain in progress, then the leader dies without rolling it back.
victim=$(nodes_of "$cl_g1" | sed -n 1p)
kube_api PATCH "/api/v1/nodes/$victim" \
    "{\"spec\":{\"taints\":[{\"key\":\"$taint\",\"value\":\"$(date +%s)\",\"effect\":\"NoSchedule\"}]}}" \
    application/merge-patch+json >/dev/null || fail "cannot taint $victim"
daemon_kill d1 KILL
[ "$(node_taint "$victim" "$taint")" = NoSchedule ] || fail "$victim lost its taint at the SIGKILL"

# The next replica waits for the dead holder's lease to expire, then clears the taint.
replica d2
wait_for "d2 leads" "leads d2"
wait_for "the stale taint on $victim is removed" "[ \$(nodes_tainted $taint) -eq 0 ]"
grep -q "node $victim: stale $taint removed" "$cl_work/d2.log" ||
    fail "d2 did not log the removal of the stale taint on $victim"

# Whole loops of the new leader over the idle node: its clock is the one d1 started.
daemon_wait_loops d2 3
[ "$(node_annotation "$node" "$ann")" = "$since" ] ||
    fail "$ann of $node reset after a SIGKILL: $since -> $(node_annotation "$node" "$ann")"
daemon_stop d2

replica d3
wait_for "d3 leads" "leads d3"
daemon_wait_loops d3 3
[ "$(node_annotation "$node" "$ann")" = "$since" ] ||
    fail "$ann of $node reset after a restart: $since -> $(node_annotation "$node" "$ann")"
[ "$(exo_writes)" -eq 0 ] || fail "the idle cluster saw $(exo_writes) writes to the cloud"
daemon_stop d3
echo "ok"
