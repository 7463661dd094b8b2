#!/bin/sh
# The control loop growing an empty group from zero, on both backends: an SKS nodepool at
# size 0 (GPU, tainted, labelled) and an instance pool at size 0 (the other pool pinned at
# its size). Pending pods that only that group can hold make the daemon scale it from its
# template node; the new machines register as Nodes, the fake scheduler binds the pods on
# them, and later loops do not grow the group again. Every wait polls with a deadline.
# Run time: 6.5 min measured on 2 loaded cores, run beside another e2e (both backends;
# most of it is set-up).
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

log_has() { grep -q -- "$1" "$cl_work/zero.log"; }

scale_op() {
    if [ "$cl_backend" = sks ]; then echo scale-sks-nodepool; else echo scale-instance-pool; fi
}

# scale_ops GROUP: :scale operations the emulator ran on GROUP.
scale_ops() {
    exo_admin GET state | cl_json "len([o for o in d['operations'] if o['reference']['command'] == '$(scale_op)' and o['reference']['id'] == '$1'])"
}

# pods_settled PREFIX N: all N pods bound or marked unschedulable by the scheduler.
pods_settled() {
    kube_api GET "/api/v1/namespaces/default/pods?labelSelector=app%3D$1" |
        cl_json "len(d['items']) == $2 and all(p['spec'].get('nodeName') or any(c.get('reason') == 'Unschedulable' for c in p.get('status', {}).get('conditions', [])) for p in d['items'])" |
        grep -qx True
}

# from_zero BACKEND N PODS-ARGS...: N machines of the empty group for the pods.
from_zero() {
    cluster_start "from-zero-$1" "$1"
    want=$2
    shift 2
    if [ "$cl_backend" = instance-pool ]; then
        # The running pool is full and pinned: only the empty one can take the pods.
        cl_nodes_flags="--nodes=1:1:$cl_g1_name --nodes=0:3:$cl_g2_name"
        pods_create 1 1500m base node="$(nodes_of "$cl_g1")"
    fi
    pods_create "$@"
    # Settled before the daemon starts, so that its first loop sees them all.
    wait_for "pods $3 pending and marked unschedulable" "pods_settled $3 $1"
    [ "$(group_size "$cl_g2")" -eq 0 ] || fail "group $cl_g2 is not empty at the start"
    writes_reset
    daemon_start zero --scan-interval=1s --address=127.0.0.1:0
    wait_for "one $(scale_op) on $cl_g2" "[ \$(exo_calls $(scale_op)) -ge 1 ]"
    wait_for "group $cl_g2 at $want" "[ \$(group_size $cl_g2) -eq $want ]"
    wait_for "$want Nodes of $cl_g2 registered" "[ \$(nodes_of $cl_g2 | wc -l) -eq $want ]"
    wait_for "pods $3 bound" "[ \$(pods_pending $3) -eq 0 ]"
    # The input no longer changes: whole loops later, the count is final.
    daemon_wait_loops zero 3
    [ "$(scale_ops "$cl_g2")" -eq 1 ] || fail "$(scale_ops "$cl_g2") :scale operations on $cl_g2, want 1"
    [ "$(exo_calls "$(scale_op)")" -eq 1 ] || fail "$(exo_calls "$(scale_op)") :scale calls, want 1"
    [ "$(group_size "$cl_g2")" -eq "$want" ] || fail "group $cl_g2 at $(group_size "$cl_g2")"
    [ "$(group_size "$cl_g1")" -eq 1 ] || fail "group $cl_g1 was resized to $(group_size "$cl_g1")"
    plans=$(grep -c ', [1-9][0-9]* groups to grow' "$cl_work/zero.log" || true)
    [ "$plans" -eq 1 ] || fail "$plans loops planned a scale-up for one set of pods, want 1"
    log_has "resized group $cl_g2 from 0 to $want" || fail "no log of the resize of $cl_g2 from 0"
    if grep -q -- "-secret-" "$cl_work/zero.log"; then fail "the API secret was logged"; fi
    daemon_stop zero
    cl_say "ok: $cl_backend: $cl_g2 grown 0 -> $want once, pods bound"
}

# sks: two pods, one GPU each, fit only the GPU nodepool (1 GPU a machine).
(from_zero sks 2 2 1 train gpu)
# instance-pool: two 1.5-CPU pods on 2-CPU machines.
(from_zero instance-pool 2 2 1500m report)
echo "ok"
