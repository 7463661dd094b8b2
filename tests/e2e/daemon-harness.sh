#!/bin/sh
# The daemon scenarios' library (tests/e2e/cluster.sh) and emulator knobs, checked with
# nodescaler --once, for both backends: the first machines register as Ready Nodes; pending
# pods make a dry run write nothing on either side and a real run scale once, and the new
# machines become Ready Nodes; the kube write log counts a foreign write and not the test's
# own; a never-register fault leaves a running machine that never becomes a Node.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

# once [FLAG...]: one pass of nodescaler against the cluster, output in $cl_work/once.log.
once() {
    env EXOSCALE_API_KEY="$cl_key" EXOSCALE_API_SECRET="$cl_secret" \
        "$top_builddir/nodescaler" --backend="$cl_backend" --kubeconfig="$cl_kubeconfig" \
        --once "$@" >"$cl_work/once.log" 2>&1 || fail "nodescaler --once $* exited $?"
}

scenario() {
    backend=$1
    cluster_start "harness-$backend" "$backend"

    # The write log: the library's own writes are not counted, anyone else's are.
    writes_reset
    pods_create 3 1500m web
    [ "$(kube_writes)" -eq 0 ] || fail "the library's writes were counted: $(kube_writes_list)"
    kube_curl -sf -A probe/1 -X POST -H 'Content-Type: application/json' \
        --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"probe"}}' \
        "$cl_kube_url/api/v1/namespaces/default/configmaps" >/dev/null ||
        fail "cannot write the probe ConfigMap"
    [ "$(kube_writes)" -eq 1 ] || fail "a foreign write was not counted once: $(kube_writes_list)"
    kube_writes_list | grep -q '^POST /api/v1/namespaces/default/configmaps (probe/1)$' ||
        fail "the write log does not name the probe: $(kube_writes_list)"

    # Three pending pods of 1.5 CPU on 2-CPU machines, one fits the first: a dry run
    # changes nothing anywhere.
    writes_reset
    if [ "$backend" = sks ]; then
        once --dry-run --nodes=1:5:general --nodes=0:3:gpu
    else
        once --dry-run --nodes=1:5:workers --nodes=0:3:batch
    fi
    [ "$(exo_writes)" -eq 0 ] || fail "a dry run called :scale or :evict"
    [ "$(kube_writes)" -eq 0 ] || fail "a dry run wrote to the cluster: $(kube_writes_list)"

    # The real run scales the general group once, and its machines join the cluster.
    if [ "$backend" = sks ]; then
        once --nodes=1:5:general --nodes=0:3:gpu
        op=scale-sks-nodepool
    else
        once --nodes=1:5:workers --nodes=0:3:batch
        op=scale-instance-pool
    fi
    [ "$(exo_calls $op)" -eq 1 ] || fail "want exactly one $op, got $(exo_calls $op)"
    [ "$(exo_writes)" -eq 1 ] || fail "want one write to the cloud, got $(exo_writes)"
    # Two identical pools may take the two new machines: count both.
    wait_for "the groups hold 3 machines" \
        "[ \$((\$(group_size $cl_g1) + \$(group_size $cl_g2))) -eq 3 ]"
    wait_for "3 Ready Nodes" "[ \$(nodes_ready) -eq 3 ]"
    [ "$( (nodes_of "$cl_g1" && nodes_of "$cl_g2") | grep -c .)" -eq 3 ] ||
        fail "the Nodes of the groups: $(nodes_of "$cl_g1") $(nodes_of "$cl_g2")"

    # Bad fault rules are refused, naming the field.
    if exo_admin POST faults '{"kind":"never-register"}' >/dev/null 2>&1; then
        fail "a never-register fault without a pool was accepted"
    fi
    curl -sS -X POST --data-binary '{"kind":"never-register"}' "$cl_exo_url/_emu/faults" |
        grep -q 'pool.. must be an instance pool id' || fail 'the refusal does not name the pool field'
    if exo_admin POST faults '{"kind":"500","operation":"*","count":"x"}' >/dev/null 2>&1; then
        fail "a fault with a non-integer count was accepted"
    fi

    # never-register: the next machine to come up runs, and never becomes a Node.
    exo_admin POST faults '{"kind":"never-register","pool":"*","count":1}' >/dev/null ||
        fail "cannot add a never-register fault"
    writes_reset
    if [ "$backend" = sks ]; then
        pods_create 1 1 train gpu
        once --nodes=1:5:general --nodes=0:3:gpu
        grown=$cl_g2
    else
        pods_create 1 1500m extra
        once --nodes=1:5:workers --nodes=0:3:batch
        grown="workers or batch"
    fi
    [ "$(exo_writes)" -eq 1 ] || fail "want one :scale for the last pod, got $(exo_writes)"
    wait_for "a running machine withheld from the cluster" \
        "exo_admin GET nodes | cl_json 'sum(1 for n in d[\"nodes\"] if n[\"withheld\"] and not n[\"posted\"])' | grep -qx 1"
    withheld=$(exo_admin GET nodes | cl_json "[n['node'] for n in d['nodes'] if n['withheld']][0]")
    exo_admin GET state | cl_json "[i['state'] for i in d['instances'] if i['name'] == '$withheld'][0]" |
        grep -qx running || fail "the withheld machine $withheld is not running"
    # The fault is used up: a second machine would register; the withheld one stays out.
    if kube_api GET "/api/v1/nodes/$withheld" >/dev/null 2>&1; then
        fail "the withheld machine $withheld became a Node"
    fi
    [ "$(nodes_ready)" -eq 3 ] || fail "want 3 Ready Nodes, got $(nodes_ready)"
    [ "$(exo_admin GET nodes | cl_json 'd["kube-errors"]')" -eq 0 ] ||
        fail "the Exoscale emulator failed to write Nodes"
    cl_say "ok: $backend: $grown has a machine that never registered"
}

for backend in ${HARNESS_BACKENDS:-sks instance-pool}; do
    (scenario "$backend")
done
echo "ok"
