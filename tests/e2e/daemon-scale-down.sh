#!/bin/sh
# nodescaler as a daemon shrinking a group, against the kube emulator, the Exoscale emulator
# wired to it and the fake scheduler. Two machines carry load; once the load on one is
# removed it is marked unneeded and, after --scale-down-unneeded-time, tainted
# ToBeDeletedByClusterAutoscaler, drained through the eviction API, evicted from its pool
# (the group's target lowered by one :evict) and its Node goes; the other machine and its
# pod are left alone. A PodDisruptionBudget that closes (0 disruptions allowed) after the
# taint makes the drain fail: the node is untainted and uncordoned, its pod stays, nothing
# is evicted from the pool, and later loops do not try again while the budget is closed.
# The daemon exits 0 on SIGTERM. Every wait polls for its condition with a deadline.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

taint=ToBeDeletedByClusterAutoscaler
soft=DeletionCandidateOfClusterAutoscaler
since=nodescaler.io/unneeded-since

# Short clocks, so that a scenario takes seconds: a node is removable after 5 s unneeded,
# and neither a scale-up nor a deletion nor a failure holds scale-down back.
sd_flags="--scan-interval=1s --scale-down-unneeded-time=5s --scale-down-delay-after-add=0s
    --scale-down-delay-after-delete=0s --scale-down-delay-after-failure=0s"

# pod_http NAME: the HTTP status of GET on pod default/NAME (404 once it is gone).
pod_http() {
    kube_curl -o /dev/null -w '%{http_code}' "$cl_kube_url/api/v1/namespaces/default/pods/$1"
}

# pod_node NAME: the node pod default/NAME is bound to.
pod_node() {
    kube_api GET "/api/v1/namespaces/default/pods/$1" | cl_json 'd["spec"].get("nodeName", "")'
}

node_http() {
    kube_curl -o /dev/null -w '%{http_code}' "$cl_kube_url/api/v1/nodes/$1"
}

# node_cordoned NODE yes|no: whether the node is marked unschedulable; false when unread.
node_cordoned() {
    [ "$(kube_api GET "/api/v1/nodes/$1" | cl_json 'd["spec"].get("unschedulable", False)')" = \
        "$(if [ "$2" = yes ]; then echo True; else echo False; fi)" ]
}

# node_taints NODE: "KEY:EFFECT" of each taint, one a line; fails when the node is unread.
node_taints() {
    kube_api GET "/api/v1/nodes/$1" >"$cl_work/node.json" || return 1
    cl_json "'\\n'.join(t['key'] + ':' + t['effect'] for t in d['spec'].get('taints', []))" \
        <"$cl_work/node.json"
}

# has_taint NODE KEY:EFFECT yes|no: whether the node carries the taint; false when unread.
has_taint() {
    node_taints "$1" >"$cl_work/taints" || return 1
    if grep -qx -- "$2" "$cl_work/taints"; then [ "$3" = yes ]; else [ "$3" = no ]; fi
}

# pdb_allow NAME N: the disruption controller's verdict changes to N allowed disruptions.
pdb_allow() {
    kube_api PATCH "/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets/$1/status" \
        "{\"status\":{\"disruptionsAllowed\":$2}}" application/merge-patch+json >/dev/null ||
        fail "cannot set the disruptions allowed by PDB $1 to $2"
}

pdb_allowed() {
    kube_api GET "/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets/$1" |
        cl_json 'd["status"]["disruptionsAllowed"]'
}

# evictions_of POD: eviction requests the daemon sent for the pod (accepted or not).
evictions_of() {
    kube_writes_list | grep -c "^POST /api/v1/namespaces/default/pods/$1/eviction " || true
}

log_has() {
    grep -q -- "$1" "$cl_work/sd.log"
}

no_secret_logged() {
    if grep -q -- "-secret-" "$cl_work/sd.log"; then fail "the API secret was logged"; fi
}

# The two machines of the general group: one keeps 1.5 CPU of its 2 (never unneeded), the
# other is freed of its load and keeps a 0.2-CPU pod that fits beside it.
two_nodes() {
    # shellcheck disable=SC2046 # one name a line
    set -- $(nodes_of "$cl_g1")
    [ $# -eq 2 ] || fail "want 2 Nodes in group $cl_g1, got: $*"
    keep=$1 drop=$2
}

evict_op() {
    if [ "$cl_backend" = sks ]; then echo evict-sks-nodepool-members; else
        echo evict-instance-pool-members; fi
}

scale_op() {
    if [ "$cl_backend" = sks ]; then echo scale-sks-nodepool; else echo scale-instance-pool; fi
}

scale_down() {
    CLUSTER_GENERAL_SIZE=2 cluster_start "scale-down-$1" "$1"
    two_nodes
    pods_create 1 1500m base node="$keep"
    pods_create 1 1500m load node="$drop"
    pods_create 1 200m light node="$drop"
    writes_reset
    # The delay after the taint is the window in which the test must see the taints: on a
    # loaded machine one poll of the apiserver can take seconds.
    # shellcheck disable=SC2086 # the flags are words
    daemon_start sd $sd_flags --node-delete-delay-after-taint=20s

    # Loaded, both are needed for longer than the unneeded time: nothing is marked.
    daemon_wait_loops sd 8
    for n in $keep $drop; do
        if node_annotation "$n" "$since" >/dev/null 2>&1; then
            fail "loaded node $n was marked unneeded since $(node_annotation "$n" "$since")"
        fi
    done
    [ "$(nodes_tainted $taint)" -eq 0 ] || fail "a loaded node was tainted $taint"
    [ "$(exo_writes)" -eq 0 ] || fail "the cloud was written to while both nodes were loaded"

    pods_delete load
    wait_for "$drop marked unneeded" "node_annotation $drop $since"
    wait_for "$drop soft-tainted $soft" "has_taint $drop $soft:PreferNoSchedule yes"
    wait_for "$drop tainted $taint" "has_taint $drop $taint:NoSchedule yes"
    node_cordoned "$drop" yes || fail "$drop tainted for deletion but not cordoned"
    wait_for "light-1 evicted from $drop" "[ \$(pod_http light-1) = 404 ]"
    wait_for "one $(evict_op) call" "[ \$(exo_calls $(evict_op)) -ge 1 ]"
    wait_for "group $cl_g1 target lowered to 1" "[ \$(group_size $cl_g1) -eq 1 ]"
    wait_for "the Node $drop deleted" "[ \$(node_http $drop) = 404 ]"
    wait_for "the removal logged" "log_has 'node $drop removed from group $cl_g1'"
    [ "$(evictions_of light-1)" -ge 1 ] ||
        fail "light-1 went without an eviction request: $(kube_writes_list)"

    # Later loops: the group is at its min size, the remaining node is left alone.
    daemon_wait_loops sd 3
    [ "$(exo_calls "$(evict_op)")" -eq 1 ] ||
        fail "want one $(evict_op), got $(exo_calls "$(evict_op)")"
    [ "$(exo_calls "$(scale_op)")" -eq 0 ] || fail "the group was resized with :scale"
    [ "$(group_size "$cl_g1")" -eq 1 ] || fail "group $cl_g1 holds $(group_size "$cl_g1")"
    [ "$(nodes_of "$cl_g1")" = "$keep" ] || fail "group $cl_g1 holds $(nodes_of "$cl_g1")"
    [ "$(pod_node base-1)" = "$keep" ] || fail "base-1 left $keep"
    [ "$(evictions_of base-1)" -eq 0 ] || fail "base-1 on the kept node was evicted"
    [ "$(nodes_tainted $taint)" -eq 0 ] || fail "$keep was tainted $taint"
    node_cordoned "$keep" no || fail "$keep was cordoned"
    no_secret_logged
    daemon_stop sd
    cl_say "ok: $1: $drop drained and evicted from $cl_g1 (2 -> 1), $keep kept"
}

pdb_blocks() {
    CLUSTER_GENERAL_SIZE=2 cluster_start "scale-down-pdb-$1" "$1"
    two_nodes
    pods_create 1 1500m base node="$keep"
    pods_create 1 200m guarded node="$drop"
    # Open at first, so that the planner picks the node: a closed budget would keep it
    # from being chosen at all, and there would be no drain to fail.
    pdb_create guard guarded 1
    writes_reset
    # The delay after the taint is the window in which the budget closes (long enough for a
    # loaded machine's polls); a short eviction time fails the drain soon after the first
    # refusal.
    # shellcheck disable=SC2086
    daemon_start sd $sd_flags --node-delete-delay-after-taint=30s --max-pod-eviction-time=5s

    wait_for "$drop tainted $taint" "has_taint $drop $taint:NoSchedule yes"
    pdb_allow guard 0
    [ "$(pod_http guarded-1)" = 200 ] ||
        fail "guarded-1 was evicted before its budget closed: the delay after the taint is too short"
    [ "$(evictions_of guarded-1)" -eq 0 ] ||
        fail "an eviction of guarded-1 was sent before its budget closed"
    wait_for "an eviction of guarded-1 refused" "[ \$(evictions_of guarded-1) -ge 1 ]"
    wait_for "the drain of $drop given up" "log_has 'node $drop: scale-down failed'"
    wait_for "$drop untainted" "has_taint $drop $taint:NoSchedule no"
    wait_for "$drop uncordoned" "node_cordoned $drop no"
    # Unremovable now: no longer a candidate, and its unneeded clock is dropped.
    wait_for "$drop's $soft removed" "has_taint $drop $soft:PreferNoSchedule no"
    wait_for "$drop's $since removed" "! node_annotation $drop $since && [ \$(node_http $drop) = 200 ]"
    [ "$(pod_http guarded-1)" = 200 ] || fail "guarded-1 was evicted through a closed budget"
    [ "$(pod_node guarded-1)" = "$drop" ] || fail "guarded-1 left $drop"
    [ "$(pdb_allowed guard)" -eq 0 ] || fail "PDB guard allows $(pdb_allowed guard), want 0"

    # While the budget stays closed, later loops find the node unremovable.
    daemon_wait_loops sd 6
    [ "$(nodes_tainted $taint)" -eq 0 ] || fail "a node was tainted $taint again"
    [ "$(exo_writes)" -eq 0 ] || fail "the cloud was written to: $(exo_admin GET calls)"
    [ "$(group_size "$cl_g1")" -eq 2 ] || fail "group $cl_g1 holds $(group_size "$cl_g1")"
    [ "$(pod_http guarded-1)" = 200 ] || fail "guarded-1 was evicted through a closed budget"
    no_secret_logged
    daemon_stop sd
    cl_say "ok: $1: a closed budget failed the drain of $drop, which was untainted"
}

for backend in ${SCALE_DOWN_BACKENDS:-sks instance-pool}; do
    (scale_down "$backend")
    (pdb_blocks "$backend")
done
echo "ok"
