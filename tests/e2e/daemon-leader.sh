#!/bin/sh
# Leader election between two nodescaler replicas with short leases (4 s, renew 3 s, retry
# 1 s): exactly one holds the Lease and only it grows a group for a pending pod; after it
# is SIGKILLed (the lease not released) the other takes the lease within the lease
# duration plus a margin and grows the group for a new pending pod; a restarted replica
# stays a follower; both survivors exit 0 on SIGTERM and the lease is released.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

lease_name=nsc-e2e-leader
lease_path=/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/$lease_name
# The takeover is due within the lease duration plus one jittered retry (4 + 2.2 s); the
# margin covers a loaded machine, and a takeover later than this fails the scenario.
: "${LEADER_TAKEOVER_S:=30}"

replica() {
    daemon_spawn "$1" --scan-interval=2s --leader-elect-resource-name=$lease_name \
        --leader-elect-lease-duration=4s --leader-elect-renew-deadline=3s \
        --leader-elect-retry-period=1s
}

# lease_holder: the Lease's holderIdentity (empty when released); fails when absent.
lease_holder() {
    kube_api GET "$lease_path" | cl_json 'd["spec"].get("holderIdentity") or ""'
}

# identity NAME: the candidate name a replica logged at its start.
identity() {
    sed -n "s|.*leader election on lease kube-system/$lease_name as \([^ ]*\)$|\1|p" \
        "$cl_work/$1.log" | tail -n 1
}

# pods_settled PREFIX N: N pods of PREFIX, each bound or marked Unschedulable.
pods_settled() {
    kube_api GET "/api/v1/namespaces/default/pods?labelSelector=app%3D$1" |
        cl_json "len(d['items']) == $2 and all(p['spec'].get('nodeName') or any(c.get('reason') == 'Unschedulable' for c in p.get('status', {}).get('conditions', [])) for p in d['items'])" |
        grep -qx True
}

scale_calls() { exo_calls scale-sks-nodepool; }
resizes() { grep -c 'resized group' "$cl_work/$1.log" || true; }

cluster_start leader sks

# Two pods of 1.5 CPU: one fits the general machine (2 CPUs), the other needs a new one.
# They settle before the replicas start, so that one loop sees the pending one.
pods_create 2 1500m web
wait_for "web pods bound or unschedulable" "pods_settled web 2"
[ "$(pods_pending web)" -eq 1 ] || fail "want 1 pending web pod, got $(pods_pending web)"
writes_reset

replica r1
replica r2
wait_for "both replicas named themselves" "[ -n \"\$(identity r1)\" ] && [ -n \"\$(identity r2)\" ]"
id1=$(identity r1) id2=$(identity r2)
[ "$id1" != "$id2" ] || fail "both replicas took the identity $id1"
wait_for "a replica holds lease $lease_name" "[ -n \"\$(lease_holder)\" ]"
holder=$(lease_holder)
case $holder in
"$id1") leader=r1 follower=r2 id_f=$id2 ;;
"$id2") leader=r2 follower=r1 id_f=$id1 ;;
*) fail "the lease is held by '$holder', neither $id1 nor $id2" ;;
esac
cl_say "ok: $leader holds the lease as $holder"

wait_for "one :scale for the pending pod" "[ \$(scale_calls) -ge 1 ]"
wait_for "the web pods run" "[ \$(pods_pending web) -eq 0 ]"
# Whole loops after the pod found its node: the count of writes is final.
daemon_wait_loops $leader 2
[ "$(scale_calls)" -eq 1 ] || fail "want 1 :scale for one pending pod, got $(scale_calls)"
[ "$(exo_writes)" -eq 1 ] || fail "want 1 write to the cloud, got $(exo_writes)"
[ "$(resizes $leader)" -eq 1 ] || fail "$leader logged $(resizes $leader) resizes, want 1"
[ "$(lease_holder)" = "$holder" ] || fail "the lease moved to '$(lease_holder)' without a failure"
# The follower never runs a loop, never leads, never writes.
[ "$(daemon_loops $follower)" -eq 0 ] ||
    fail "the follower $follower ran $(daemon_loops $follower) loops"
if grep -q 'leading: the lease' "$cl_work/$follower.log"; then
    fail "the follower $follower claims to lead"
fi
[ "$(grep -c 'leading: the lease' "$cl_work/$leader.log")" -eq 1 ] ||
    fail "$leader did not log that it leads exactly once"

# SIGKILL: no release, the lease stays with a dead holder until it expires.
daemon_kill $leader KILL
t_kill=$(date +%s)
[ "$(lease_holder)" = "$holder" ] || fail "the lease changed at the SIGKILL: '$(lease_holder)'"
wait_for "$follower takes the lease" "[ \"\$(lease_holder)\" = '$id_f' ]" "$LEADER_TAKEOVER_S"
cl_say "ok: $follower took the lease $(($(date +%s) - t_kill)) s after the SIGKILL"
wait_for "$follower logs that it leads" "grep -q 'leading: the lease' '$cl_work/$follower.log'"

# The killed replica comes back, and follows.
replica "$leader-again"

# A new pod of 1.5 CPU fits no machine: the new leader grows the group once more.
daemon_wait_loops $follower 1
pods_create 1 1500m late
wait_for "a second :scale, by $follower" "[ \$(scale_calls) -ge 2 ]"
wait_for "the late pod runs" "[ \$(pods_pending late) -eq 0 ]"
daemon_wait_loops $follower 2
[ "$(scale_calls)" -eq 2 ] || fail "want 2 :scale in all, got $(scale_calls)"
[ "$(resizes $follower)" -eq 1 ] || fail "$follower logged $(resizes $follower) resizes, want 1"
[ "$(lease_holder)" = "$id_f" ] || fail "the lease left $follower: '$(lease_holder)'"
[ "$(daemon_loops "$leader-again")" -eq 0 ] ||
    fail "the restarted $leader-again ran loops while $follower leads"

[ -n "$(identity "$leader-again")" ] || fail "the restarted $leader-again never started its election"
daemon_stop "$leader-again"
daemon_stop $follower
[ -z "$(lease_holder)" ] || fail "the lease is still held by '$(lease_holder)' after the stops"
if grep -q -- '-secret-' "$cl_work"/r*.log; then fail "a secret was logged"; fi
echo "ok"
