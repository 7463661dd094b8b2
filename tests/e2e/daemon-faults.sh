#!/bin/sh
# The control loop under API faults, on both backends: the Exoscale emulator answers the
# listing with 500s, a reset connection and a timeout, and :scale with a 500 and a reset;
# the kube emulator, for the daemon's own calls only (matched by its User-Agent), fails
# pod lists with 500, node watches with 410 Gone, and drops every watch. The daemon keeps
# running, grows the group for the pending pods to exactly the size they need (never twice
# for the same pods), removes no node, and the faults it was given were all met (GET
# /_emu/faults is empty at the end). Every wait polls with a deadline.
# Run time: 8 min measured on 2 loaded cores (both backends; most of it is set-up).
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

taint=ToBeDeletedByClusterAutoscaler

log_has() { grep -q -- "$1" "$cl_work/flt.log"; }

scale_op() {
    if [ "$cl_backend" = sks ]; then echo scale-sks-nodepool; else echo scale-instance-pool; fi
}

exo_fault() { exo_admin POST faults "$1" >/dev/null || fail "cannot set Exoscale fault $1"; }

# kube_fault JSON-FIELDS: a fault on the daemon's calls only.
kube_fault() { kube_admin /admin/fault "{$1,\"agent\":\"nodescaler/\"}"; }

faults_left() { exo_admin GET faults | cl_json 'len(d["faults"])'; }

# sizes: the two groups' sizes summed (either may grow on the instance-pool backend, whose
# pools have the same machine type).
sizes() { echo $(($(group_size "$cl_g1") + $(group_size "$cl_g2"))); }

nodes_count() { nodes_json | cl_json 'len(d["items"])'; }

faults() {
    cluster_start "faults-$1" "$1"
    pods_create 1 1500m base node="$(nodes_of "$cl_g1")"
    pods_create 2 1500m web
    wait_for "web pods pending" "[ \$(pods_pending web) -eq 2 ]"
    writes_reset

    exo_fault '{"operation":"list-instances","kind":"500","count":2}'
    exo_fault '{"operation":"list-instances","kind":"reset","count":1}'
    exo_fault '{"operation":"list-instances","kind":"slow","delay-ms":4000,"count":1}'
    exo_fault "{\"operation\":\"$(scale_op)\",\"kind\":\"500\",\"count\":1}"
    exo_fault "{\"operation\":\"$(scale_op)\",\"kind\":\"reset\",\"count\":1}"
    [ "$(faults_left)" -eq 5 ] || fail "GET /_emu/faults lists $(faults_left) rules, want 5"
    kube_fault '"method":"GET","path":"/api/v1/pods","watch":false,"status":500,"count":2'
    kube_fault '"method":"GET","path":"/api/v1/nodes","watch":true,"status":410,"count":2'

    daemon_start flt --scan-interval=1s --address=127.0.0.1:0 \
        --backend-opt=request-timeout-ms=2000 --scale-down-unneeded-time=20s \
        --scale-down-delay-after-add=0s --scale-down-delay-after-failure=0s
    wait_for "the groups grown by 2" "[ \$(sizes) -eq 3 ]"
    wait_for "web pods bound" "[ \$(pods_pending web) -eq 0 ]"
    wait_for "every Exoscale fault met" "[ \$(faults_left) -eq 0 ]"
    log_has "pods: list failed" || fail "the pod list 500s were not met"
    log_has "nodes: watch answered 410" || fail "the node watch 410s were not met"

    # Watches dropped and pods lists failing again once the nodes are up: nothing moves.
    kube_fault '"method":"GET","path":"/api/v1/pods","watch":true,"status":410,"count":1'
    kube_fault '"method":"GET","path":"/api/v1/pods","watch":false,"status":500,"count":2'
    kube_admin /admin/drop-watches
    daemon_wait_loops flt 12
    daemon_alive flt || fail "the daemon exited under faults"
    [ "$(sizes)" -eq 3 ] || fail "groups at $(sizes) machines, want 3: grown twice"
    [ "$(nodes_count)" -eq 3 ] || fail "$(nodes_count) Nodes, want 3"
    [ "$(nodes_tainted $taint)" -eq 0 ] || fail "a Node was tainted $taint"
    evicts=$(exo_admin GET calls | cl_json "sum(v for k, v in d['operations'].items() if k.startswith('evict-'))")
    [ "$evicts" -eq 0 ] || fail "$evicts evict calls: a machine was removed"
    [ "$(kube_writes_list | grep -c '^DELETE /api/v1/nodes/' || true)" -eq 0 ] ||
        fail "the daemon deleted a Node: $(kube_writes_list)"
    ops=$(exo_admin GET state | cl_json "sum(1 for o in d['operations'] if o['reference']['command'] == '$(scale_op)' and o['state'] == 'success')")
    [ "$ops" -ge 1 ] || fail "no :scale operation succeeded"
    # It recovered: a new pending pod is still served.
    pods_create 1 1500m late
    wait_for "the groups grown for late-1" "[ \$(sizes) -eq 4 ]"
    wait_for "late-1 bound" "[ \$(pods_pending late) -eq 0 ]"
    daemon_wait_loops flt 3
    [ "$(sizes)" -eq 4 ] || fail "groups at $(sizes) machines after late-1, want 4"
    if grep -q -- "-secret-" "$cl_work/flt.log"; then fail "the API secret was logged"; fi
    daemon_stop flt
    cl_say "ok: $cl_backend: grown 1 -> 3 -> 4 through the faults, no node removed"
}

(faults sks)
(faults instance-pool)
echo "ok"
