# Sourced by the daemon e2e scenarios (not run on its own): a cluster to autoscale. It
# starts a kube-apiserver (the emulator, or the real one with NSC_E2E_APISERVER=real), the
# Exoscale emulator playing kubelet into it, and the fake scheduler when the tree has one;
# then gives the scenarios pods, PDBs, polls with deadlines, write counts on both sides,
# and nodescaler daemons with their logs. Everything it starts is stopped by cluster_stop,
# which it installs as the EXIT trap. The caller sets top_builddir, top_srcdir and set -eu.
#
# cluster_start NAME BACKEND [EMULATOR-ARG...]: BACKEND is sks (nodepools general and gpu,
# the GPU one tainted nvidia.com/gpu=present:NoSchedule, labelled accelerator=nvidia, at
# 0) or instance-pool (standalone pools workers and batch, batch at 0). The general group
# (general / workers) starts with CLUSTER_GENERAL_SIZE machines (default 1). Sets:
#   cl_work (logs, kubeconfig), cl_kubeconfig, cl_kube_url, cl_exo_url (Exoscale base),
#   cl_g1 / cl_g1_name (the general group's id and name), cl_g2 / cl_g2_name (the empty
#   one), cl_nodes_flags (--nodes bounds for both groups: 1:5 and 0:3).

cl_work=""
cl_pids=""
cl_daemons=""
cl_apiserver_dir=""
cl_failed=0

# Machines and calls are quick in the emulator, but a loaded 2-core machine is not: every
# wait polls for its condition up to this many seconds, so no verdict depends on speed.
: "${CLUSTER_WAIT_S:=90}"
# As `make check` sets it, for runs by hand from the build directory.
: "${NSC_BACKEND_PATH:=$top_builddir/plugins}"
export NSC_BACKEND_PATH

cl_say() {
    echo "[$(date -u +%H:%M:%S)] $*"
}

# fail MESSAGE: the scenario failed; shows what each process said, then exits 1.
fail() {
    cl_failed=1
    echo "FAIL: $*"
    cluster_dump
    exit 1
}

cluster_dump() {
    [ -n "$cl_work" ] || return 0
    for f in "$cl_work"/*.log; do
        [ -s "$f" ] || continue
        echo "--- $(basename "$f") (last 40 lines)"
        tail -n 40 "$f"
    done
}

# The kube-apiserver's URL and token never reach the daemon's argv or environment in any
# other way than the kubeconfig, as in a Deployment.
kube_curl() {
    if [ -n "$cl_apiserver_dir" ]; then
        curl -sS --max-time 15 -A e2e-cluster --cacert "$cl_apiserver_dir/serving.crt" \
            -H "Authorization: Bearer $cl_kube_token" "$@"
    else
        curl -sS --max-time 15 -A e2e-cluster -H "Authorization: Bearer $cl_kube_token" "$@"
    fi
}

# kube_api METHOD PATH [JSON-BODY] [CONTENT-TYPE]: prints the answer; fails on HTTP >= 400.
kube_api() {
    if [ $# -ge 3 ]; then
        kube_curl -f -X "$1" -H "Content-Type: ${4:-application/json}" --data-binary "$3" \
            "$cl_kube_url$2"
    else
        kube_curl -f -X "$1" "$cl_kube_url$2"
    fi
}

# kube_admin PATH [JSON-BODY]: the kube emulator's fault and log endpoints (POST).
kube_admin() {
    [ -z "$cl_apiserver_dir" ] || fail "kube_admin $1: the real kube-apiserver has no /admin"
    cl_body=${2:-}
    [ -n "$cl_body" ] || cl_body='{}'
    curl -sSf --max-time 15 -X POST --data-binary "$cl_body" "$cl_kube_url$1" >/dev/null ||
        fail "kube emulator admin $1"
}

# exo_admin METHOD PATH [JSON-BODY]: the Exoscale emulator's /_emu endpoints.
exo_admin() {
    if [ $# -ge 3 ]; then
        curl -sSf --max-time 15 -X "$1" --data-binary "$3" "$cl_exo_url/_emu/$2"
    else
        curl -sSf --max-time 15 -X "$1" "$cl_exo_url/_emu/$2"
    fi
}

cl_wait_file() {
    cl_i=0
    while [ ! -s "$1" ]; do
        cl_i=$((cl_i + 1))
        [ $cl_i -lt 300 ] || fail "$2 did not start within 30 s"
        sleep 0.1
    done
}

cl_world() {
    cl_g1_size=${CLUSTER_GENERAL_SIZE:-1}
    case $cl_g1_size in
    '' | *[!0-9]*) fail "CLUSTER_GENERAL_SIZE=$cl_g1_size is not a number of machines" ;;
    esac
    [ "$cl_g1_size" -le 5 ] || fail "CLUSTER_GENERAL_SIZE=$cl_g1_size is above the group's max 5"
    python3 - "$1" "$cl_backend" "$cl_g1_size" <<'PY'
import json, sys
path, backend, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
std = "b6cd1ff5-3a2f-4e9d-a4d1-8988c1191fe8"
gpu = "2e0a0a3f-8f0c-4a3e-9a3e-7b0d3f4c5a61"
w = {
    "zone": "ch-gva-2",
    "credentials": [
        {"key": "EXOe2esks000000000000000001",
         "secret": "e2e-sks-secret-Zq7wXv3Lm9Pk2Rt8Yb4Nc6Hd1Fg5",
         "operations": ["list-sks-clusters", "get-sks-cluster", "get-sks-nodepool",
                        "list-instances", "get-instance", "get-instance-pool",
                        "get-instance-type", "get-quota", "get-operation",
                        "scale-sks-nodepool", "evict-sks-nodepool-members"]},
        {"key": "EXOe2epool00000000000000001",
         "secret": "e2e-pool-secret-Jh3Ks8Ld2Mf7Ng1Qw6Er4Ty9Ux0",
         "operations": ["list-instance-pools", "get-instance-pool", "list-instances",
                        "get-instance", "get-instance-type", "get-quota", "get-operation",
                        "scale-instance-pool", "evict-instance-pool-members"]}],
    "instance-types": [
        {"id": std, "family": "standard", "size": "medium", "cpus": 2, "gpus": 0,
         "memory": 4294967296, "authorized": True, "zones": ["ch-gva-2"]},
        {"id": gpu, "family": "gpu3", "size": "small", "cpus": 12, "gpus": 1,
         "memory": 60129542144, "authorized": True, "zones": ["ch-gva-2"]}],
    "quotas": [{"resource": "instance", "limit": 50}, {"resource": "gpu", "limit": -1}],
}
if backend == "sks":
    w["sks-clusters"] = [{
        "id": "11111111-2222-3333-4444-555555555555", "name": "e2e", "version": "1.34.1",
        "cni": "cilium", "level": "pro",
        "nodepools": [
            {"id": "66666666-7777-8888-9999-000000000001", "name": "general",
             "size": size, "disk-size": 50,
             "instance-pool": {"id": "aaaaaaaa-bbbb-cccc-dddd-000000000001"},
             "instance-type": {"id": std}, "labels": {"role": "worker"}, "taints": {}},
            {"id": "66666666-7777-8888-9999-000000000002", "name": "gpu", "size": 0,
             "disk-size": 100,
             "instance-pool": {"id": "aaaaaaaa-bbbb-cccc-dddd-000000000002"},
             "instance-type": {"id": gpu}, "labels": {"accelerator": "nvidia"},
             "taints": {"nvidia.com/gpu": {"value": "present", "effect": "NoSchedule"}}}]}]
else:
    w["instance-pools"] = [
        {"id": "bbbbbbbb-0000-4000-8000-000000000001", "name": "workers", "size": size,
         "disk-size": 50, "instance-type": {"id": std}},
        {"id": "bbbbbbbb-0000-4000-8000-000000000002", "name": "batch", "size": 0,
         "disk-size": 50, "instance-type": {"id": std}}]
json.dump(w, open(path, "w"), indent=1)
PY
}

cl_start_kube() {
    if [ "${NSC_E2E_APISERVER:-emulator}" = real ]; then
        cl_apiserver_dir=$cl_work/apiserver
        sh "$top_srcdir/tests/kube-apiserver/start.sh" "$cl_apiserver_dir" \
            >"$cl_work/apiserver-start.log" 2>&1 || fail "the real kube-apiserver did not start"
        cl_kube_url=https://127.0.0.1:$(cat "$cl_apiserver_dir/port")
        cl_kube_token=$(cat "$cl_apiserver_dir/admin.token")
        cl_kubeconfig=$cl_apiserver_dir/tokenfile.kubeconfig
        return 0
    fi
    cl_kube_token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    "$top_builddir/tests/emulator/kube-emulator" --port-file="$cl_work/kube.port" \
        --token="$cl_kube_token" --bookmark-ms=2000 >"$cl_work/kube-emulator.log" 2>&1 &
    cl_pids="$! $cl_pids"
    cl_wait_file "$cl_work/kube.port" kube-emulator
    cl_kube_url=http://127.0.0.1:$(cat "$cl_work/kube.port")
    cl_kubeconfig=$cl_work/kubeconfig
    (
        umask 077
        cat >"$cl_kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: e2e
clusters:
- name: emu
  cluster:
    server: $cl_kube_url
users:
- name: e2e
  user:
    token: $cl_kube_token
contexts:
- name: e2e
  context: {cluster: emu, user: e2e, namespace: default}
KC
    )
}

cluster_start() {
    cl_name=$1
    cl_backend=$2
    shift 2
    cl_work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-e2e-$cl_name.XXXXXX")
    trap cluster_stop EXIT
    trap 'exit 1' INT TERM
    case $cl_backend in
    sks)
        cl_g1=66666666-7777-8888-9999-000000000001 cl_g1_name=general
        cl_g2=66666666-7777-8888-9999-000000000002 cl_g2_name=gpu
        cl_key=EXOe2esks000000000000000001
        cl_secret=e2e-sks-secret-Zq7wXv3Lm9Pk2Rt8Yb4Nc6Hd1Fg5
        ;;
    instance-pool)
        cl_g1=bbbbbbbb-0000-4000-8000-000000000001 cl_g1_name=workers
        cl_g2=bbbbbbbb-0000-4000-8000-000000000002 cl_g2_name=batch
        cl_key=EXOe2epool00000000000000001
        cl_secret=e2e-pool-secret-Jh3Ks8Ld2Mf7Ng1Qw6Er4Ty9Ux0
        ;;
    *) fail "cluster_start: backend '$cl_backend' is neither sks nor instance-pool" ;;
    esac
    cl_nodes_flags="--nodes=1:5:$cl_g1_name --nodes=0:3:$cl_g2_name"
    cl_world "$cl_work/world.json"
    cl_start_kube
    printf '%s\n' "$cl_kube_token" >"$cl_work/kube.token"
    set -- --world "$cl_work/world.json" --op-delay-ms 200 --boot-delay-ms 500 \
        --node-ready-delay-ms 1000 --kube-url "$cl_kube_url" \
        --kube-token-file "$cl_work/kube.token" "$@"
    [ -z "$cl_apiserver_dir" ] || set -- "$@" --kube-ca-file "$cl_apiserver_dir/serving.crt"
    "$top_builddir/tests/emulator/exoscale-emulator" "$@" --port-file "$cl_work/exo.port" \
        >"$cl_work/exoscale-emulator.log" 2>&1 &
    cl_pids="$! $cl_pids"
    cl_wait_file "$cl_work/exo.port" exoscale-emulator
    cl_exo_url=http://127.0.0.1:$(cat "$cl_work/exo.port")
    export EXOSCALE_ZONE=ch-gva-2 EXOSCALE_API_ENDPOINT="$cl_exo_url/v2"
    if [ -f "$top_srcdir/tests/e2e/fake-scheduler.py" ] && [ -z "${CLUSTER_NO_SCHEDULER:-}" ]; then
        python3 "$top_srcdir/tests/e2e/fake-scheduler.py" --server "$cl_kube_url" \
            --token "$cl_kube_token" --seconds 3600 >"$cl_work/scheduler.log" 2>&1 &
        cl_pids="$! $cl_pids"
        cl_scheduler=1
    else
        cl_scheduler=""
    fi
    wait_for "the ${CLUSTER_GENERAL_SIZE:-1} first machine(s) registered Ready" \
        "[ \$(nodes_ready) -eq ${CLUSTER_GENERAL_SIZE:-1} ]"
    cl_say "cluster $cl_name ($cl_backend) up: kube $cl_kube_url, exoscale $cl_exo_url," \
        "scheduler ${cl_scheduler:-none}; work $cl_work"
}

# cluster_stop: the EXIT trap; stops daemons first (they write to the others), then the
# rest; keeps cl_work when the scenario failed or KEEP_WORK is set.
cluster_stop() {
    cl_rc=$?
    trap - EXIT
    for cl_d in $cl_daemons; do
        daemon_kill "$cl_d" KILL
    done
    for cl_p in $cl_pids; do
        kill "$cl_p" 2>/dev/null || true
        wait "$cl_p" 2>/dev/null || true
    done
    [ -z "$cl_apiserver_dir" ] || sh "$top_srcdir/tests/kube-apiserver/stop.sh" \
        "$cl_apiserver_dir" >/dev/null 2>&1 || true
    if [ -n "$cl_work" ]; then
        if [ "$cl_rc" -ne 0 ] || [ $cl_failed -ne 0 ] || [ -n "${KEEP_WORK:-}" ]; then
            echo "logs kept in $cl_work"
        else
            rm -rf "$cl_work"
        fi
    fi
    exit "$cl_rc"
}

# wait_for WHAT CONDITION [SECONDS]: polls the shell CONDITION every 0.2 s until it holds;
# after SECONDS (default CLUSTER_WAIT_S) the scenario fails naming WHAT.
wait_for() {
    cl_what=$1
    cl_deadline=$(($(date +%s) + ${3:-$CLUSTER_WAIT_S}))
    while ! eval "$2" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$cl_deadline" ] ||
            fail "waited ${3:-$CLUSTER_WAIT_S} s for: $cl_what (condition: $2)"
        sleep 0.2
    done
    cl_say "ok: $cl_what"
}

# cl_json PYTHON-EXPR < JSON: prints the expression evaluated with d = the document.
cl_json() {
    python3 -c 'import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(json.dumps(r) if isinstance(r, (dict, list)) else r)' "$1"
}

# ---- the cluster ----

nodes_json() { kube_api GET /api/v1/nodes; }

# nodes_ready: how many Nodes are Ready.
nodes_ready() {
    nodes_json | cl_json 'sum(1 for n in d["items"] for c in n.get("status", {}).get("conditions", []) if c["type"] == "Ready" and c["status"] == "True")'
}

# nodes_of GROUP: names of the Nodes whose machines are in GROUP (a nodepool or a pool
# id), one a line, from the emulator's instances and the Nodes' providerIDs.
nodes_of() {
    cl_pool=$(exo_pool_of "$1")
    exo_admin GET nodes | cl_json "'\\n'.join(n['node'] for n in d['nodes'] if n['pool'] == '$cl_pool' and n['posted'] and not n['gone'])"
}

# exo_pool_of GROUP: the instance pool behind a nodepool id (or the pool id itself).
exo_pool_of() {
    exo_admin GET state | cl_json "([n['instance-pool']['id'] for c in d['sks-clusters'] for n in c['nodepools'] if n['id'] == '$1'] or ['$1'])[0]"
}

# group_size GROUP: the size the emulator holds for a nodepool or a pool (its target).
group_size() {
    cl_pool=$(exo_pool_of "$1")
    exo_admin GET state | cl_json "[p['size'] for p in d['instance-pools'] if p['id'] == '$cl_pool'][0]"
}

# group_instances GROUP: machines in the pool, whatever their state.
group_instances() {
    cl_pool=$(exo_pool_of "$1")
    exo_admin GET state | cl_json "len([p for p in d['instance-pools'] if p['id'] == '$cl_pool'][0]['instances'])"
}

# node_taint NODE KEY: prints the taint's effect; fails when the node lacks it.
node_taint() {
    kube_api GET "/api/v1/nodes/$1" | cl_json "[t['effect'] for t in d['spec'].get('taints', []) if t['key'] == '$2'][0]"
}

# node_annotation NODE KEY: prints the annotation; fails when absent.
node_annotation() {
    kube_api GET "/api/v1/nodes/$1" | cl_json "d['metadata']['annotations']['$2']"
}

# nodes_tainted KEY: how many Nodes carry the taint KEY.
nodes_tainted() {
    nodes_json | cl_json "sum(1 for n in d['items'] if any(t['key'] == '$1' for t in n['spec'].get('taints', [])))"
}

# pods_create N CPU PREFIX [node=NAME] [gpu] [ns=NAMESPACE]: N pods PREFIX-1.. of a
# ReplicaSet PREFIX (so a drain may move them), requesting CPU cores each, labelled
# app=PREFIX. With node=NAME they are bound to NAME and running; otherwise pending, marked
# Unschedulable here when no scheduler runs. gpu: tolerate the GPU taint, select the GPU
# nodepool's label and request one nvidia.com/gpu.
pods_create() {
    cl_n=$1 cl_cpu=$2 cl_prefix=$3
    shift 3
    python3 - "$cl_n" "$cl_cpu" "$cl_prefix" "${cl_scheduler:-}" "$@" >"$cl_work/pods.json" <<'PY' ||
import json, sys
n, cpu, prefix, sched = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
opts = dict(a.split("=", 1) if "=" in a else (a, "1") for a in sys.argv[5:])
ns = opts.get("ns", "default")
for i in range(1, n + 1):
    name = "%s-%d" % (prefix, i)
    req = {"cpu": cpu, "memory": "256Mi"}
    spec = {"containers": [{"name": "c", "image": "registry.invalid/pause:3",
                            "resources": {"requests": req, "limits": dict(req)}}],
            "terminationGracePeriodSeconds": 0}
    if "gpu" in opts:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists",
                                "effect": "NoSchedule"}]
        spec["nodeSelector"] = {"accelerator": "nvidia"}
        req["nvidia.com/gpu"] = "1"
        spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "1"
    if "tolerate-gpu" in opts:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists",
                                "effect": "NoSchedule"}]
    if "node" in opts:
        spec["nodeName"] = opts["node"]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "labels": {"app": prefix},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                             "name": prefix, "uid": "e2e-rs-" + prefix,
                                             "controller": True}]},
           "spec": spec}
    if "node" in opts:
        status = {"phase": "Running", "conditions": [
            {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]}
    elif not sched:
        status = {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/1 nodes are available: insufficient cpu (marked by the test)"}]}
    else:
        status = None
    print(json.dumps({"ns": ns, "name": name, "pod": pod, "status": status}))
PY
        fail "pods_create: bad arguments $*"
    while read -r cl_line; do
        cl_ns=$(printf '%s' "$cl_line" | cl_json 'd["ns"]')
        cl_pname=$(printf '%s' "$cl_line" | cl_json 'd["name"]')
        kube_api POST "/api/v1/namespaces/$cl_ns/pods" \
            "$(printf '%s' "$cl_line" | cl_json 'd["pod"]')" >/dev/null ||
            fail "cannot create pod $cl_ns/$cl_pname"
        cl_status=$(printf '%s' "$cl_line" | cl_json 'json.dumps({"status": d["status"]}) if d["status"] else ""')
        [ -z "$cl_status" ] || kube_api PATCH "/api/v1/namespaces/$cl_ns/pods/$cl_pname/status" \
            "$cl_status" application/merge-patch+json >/dev/null ||
            fail "cannot set the status of pod $cl_ns/$cl_pname"
    done <"$cl_work/pods.json"
}

# pods_delete PREFIX [NAMESPACE]: deletes the pods labelled app=PREFIX at once.
pods_delete() {
    for cl_pname in $(kube_api GET "/api/v1/namespaces/${2:-default}/pods?labelSelector=app%3D$1" |
        cl_json "' '.join(p['metadata']['name'] for p in d['items'])"); do
        kube_api DELETE "/api/v1/namespaces/${2:-default}/pods/$cl_pname?gracePeriodSeconds=0" \
            >/dev/null || fail "cannot delete pod $cl_pname"
    done
}

# pods_on NODE: how many pods are bound to NODE.
pods_on() {
    kube_api GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$1" | cl_json 'len(d["items"])'
}

# pods_pending PREFIX: how many of PREFIX's pods are not bound to a node.
pods_pending() {
    kube_api GET "/api/v1/namespaces/default/pods?labelSelector=app%3D$1" |
        cl_json 'sum(1 for p in d["items"] if not p["spec"].get("nodeName"))'
}

# pdb_create NAME APP ALLOWED: a PDB over app=APP whose status allows ALLOWED disruptions
# (no disruption controller runs here, so the test writes the status it would).
pdb_create() {
    kube_api POST /apis/policy/v1beta1/namespaces/default/poddisruptionbudgets \
        "{\"apiVersion\":\"policy/v1beta1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"default\"},\"spec\":{\"minAvailable\":1,\"selector\":{\"matchLabels\":{\"app\":\"$2\"}}}}" \
        >/dev/null || fail "cannot create PDB $1"
    cl_gen=$(kube_api GET "/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets/$1" |
        cl_json 'd["metadata"].get("generation", 1)')
    kube_api PATCH "/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets/$1/status" \
        "{\"status\":{\"observedGeneration\":$cl_gen,\"disruptionsAllowed\":$3,\"currentHealthy\":1,\"desiredHealthy\":1,\"expectedPods\":1}}" \
        application/merge-patch+json >/dev/null || fail "cannot set the status of PDB $1"
}

# ---- what changed ----

# exo_calls OPERATION: how many calls of that operationId the Exoscale emulator received.
exo_calls() {
    exo_admin GET calls | cl_json "d['operations'].get('$1', 0)"
}

# exo_writes: calls that change the cloud (:scale and :evict of pools and nodepools).
exo_writes() {
    exo_admin GET calls |
        cl_json 'sum(v for k, v in d["operations"].items() if k.startswith(("scale-", "evict-")))'
}

# kube_writes: writes to the apiserver by anyone but the test's own actors (this library,
# the Exoscale emulator's kubelet, the fake scheduler). An overflowing log counts as a
# write: a dry run must not pass because a log was full.
kube_writes() {
    [ -z "$cl_apiserver_dir" ] || fail "kube_writes: the real kube-apiserver keeps no write log"
    kube_curl -f "$cl_kube_url/admin/writes" | cl_json 'd["total"] if d["truncated"] else sum(1 for w in d["writes"] if not w["agent"].startswith(("e2e-cluster", "exoscale-emulator", "Python-urllib", "fake-scheduler")))'
}

# kube_writes_list: the counted writes, one "METHOD PATH (AGENT)" a line, for messages.
kube_writes_list() {
    kube_curl -f "$cl_kube_url/admin/writes" | cl_json '"\n".join("%s %s (%s)" % (w["method"], w["path"], w["agent"]) for w in d["writes"] if not w["agent"].startswith(("e2e-cluster", "exoscale-emulator", "Python-urllib", "fake-scheduler")))'
}

writes_reset() {
    exo_admin POST calls/reset >/dev/null || fail "cannot reset the Exoscale call counts"
    [ -n "$cl_apiserver_dir" ] || kube_admin /admin/writes/reset
}

# ---- the daemon ----

# daemon_start NAME [FLAG...]: runs nodescaler (the cluster's backend, its kubeconfig,
# --v=4 and the groups' bounds, then FLAGs) in the background, output in $cl_work/NAME.log;
# waits until it logs its first "Starting main loop", failing if it exits first.
daemon_start() {
    daemon_spawn "$@"
    cl_deadline=$(($(date +%s) + CLUSTER_WAIT_S))
    until grep -q 'Starting main loop' "$cl_work/$cl_dname.log"; do
        daemon_alive "$cl_dname" || fail "$cl_dname exited before its first 'Starting main loop'"
        [ "$(date +%s)" -lt "$cl_deadline" ] ||
            fail "$cl_dname logged no 'Starting main loop' within $CLUSTER_WAIT_S s"
        sleep 0.2
    done
    cl_say "ok: $cl_dname runs its main loop"
}

# daemon_spawn NAME [FLAG...]: as daemon_start, without waiting for a loop (a follower
# replica does not loop); the key and secret given by DAEMON_KEY / DAEMON_SECRET if set.
daemon_spawn() {
    cl_dname=$1
    shift
    # shellcheck disable=SC2086
    env EXOSCALE_API_KEY="${DAEMON_KEY:-$cl_key}" \
        EXOSCALE_API_SECRET="${DAEMON_SECRET:-$cl_secret}" \
        "$top_builddir/nodescaler" --backend="$cl_backend" --kubeconfig="$cl_kubeconfig" \
        --address=127.0.0.1:0 \
        --v=4 $cl_nodes_flags "$@" >>"$cl_work/$cl_dname.log" 2>&1 &
    echo $! >"$cl_work/$cl_dname.pid"
    cl_daemons="$cl_dname $cl_daemons"
    cl_say "started $cl_dname (pid $!): nodescaler --backend=$cl_backend $*"
}

daemon_alive() {
    kill -0 "$(cat "$cl_work/$1.pid")" 2>/dev/null
}

# daemon_loops NAME: how many loops NAME has started.
daemon_loops() {
    grep -c 'Starting main loop' "$cl_work/$1.log" || true
}

# daemon_kill NAME SIGNAL: sends SIGNAL, waits up to 30 s for the exit; sets daemon_rc.
daemon_kill() {
    cl_dpid=$(cat "$cl_work/$1.pid" 2>/dev/null) || return 0
    daemon_rc=""
    kill -s "$2" "$cl_dpid" 2>/dev/null || true
    cl_deadline=$(($(date +%s) + 30))
    while kill -0 "$cl_dpid" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$cl_deadline" ]; then
            kill -s KILL "$cl_dpid" 2>/dev/null || true
            wait "$cl_dpid" 2>/dev/null || true
            rm -f "$cl_work/$1.pid"
            daemon_rc=timeout
            return 0
        fi
        sleep 0.1
    done
    daemon_rc=0
    wait "$cl_dpid" 2>/dev/null || daemon_rc=$?
    rm -f "$cl_work/$1.pid"
}

# daemon_stop NAME: SIGTERM; the daemon must exit 0 within 30 s.
daemon_stop() {
    daemon_kill "$1" TERM
    [ "$daemon_rc" = 0 ] || fail "$1 exited '$daemon_rc' after SIGTERM, want 0 within 30 s"
    cl_say "ok: $1 exited 0 on SIGTERM"
}

# daemon_wait_loops NAME N: waits until NAME has started N more loops than now, so that
# an assertion about "nothing happened" covers whole loops.
daemon_wait_loops() {
    cl_target=$(($(daemon_loops "$1") + $2))
    wait_for "$1 runs $2 more loop(s)" "[ \$(daemon_loops $1) -ge $cl_target ]"
}
