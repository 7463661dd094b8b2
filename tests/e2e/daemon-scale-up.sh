#!/bin/sh
# nodescaler as a daemon (no --once) against the kube emulator, the Exoscale emulator wired
# to it (new instances become Nodes) and the fake scheduler, for --backend=sks and
# --backend=instance-pool: pending pods make the daemon grow the group once (one :scale),
# later loops do not grow it again for the same pods, the pods land on the new nodes, and
# SIGTERM stops it quickly with exit 0 and the lease released. A --dry-run daemon, woken
# by pods turning unschedulable, logs the resize it would make and writes nothing to
# either emulator. Every wait polls for its condition with a deadline.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
bin="$top_builddir/nodescaler"
data="$top_srcdir/tests/data/exoscale"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-daemon-up.XXXXXX")
kube_pid="" emu_pid="" sched_pid="" nsc_pid=""
# A generous deadline for every wait: the verdict must not depend on the machine's speed.
deadline=${DAEMON_E2E_DEADLINE:-60}
token=e2e-admin-token

stop_all() {
    for p in $nsc_pid $sched_pid $emu_pid $kube_pid; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    nsc_pid="" sched_pid="" emu_pid="" kube_pid=""
}
cleanup() {
    stop_all
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL: $*"
    for f in nsc.log kube.log emulator.out sched.log; do
        [ -s "$work/$f" ] && { echo "--- $f (last 40 lines)"; tail -n 40 "$work/$f"; }
    done
    exit 1
}

# wait_for WHAT CMD...: run CMD until it succeeds, at most $deadline seconds.
wait_for() {
    what=$1
    shift
    i=0
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -le $((deadline * 10)) ] || fail "no $what within $deadline s"
        sleep 0.1
    done
}

kube() { curl -sf -H "Authorization: Bearer $token" "$@"; }

# start_cluster: the kube emulator, the Exoscale emulator registering a Node in it for each
# running instance, and a kubeconfig for nodescaler in $work/kubeconfig. New machines boot
# for 5 s: loops run meanwhile with the target raised and no Node yet (upcoming nodes).
start_cluster() {
    rm -f "$work/kport" "$work/port"
    "$top_builddir/tests/emulator/kube-emulator" --port-file="$work/kport" --token=$token \
        --load="$work/cluster.json" 2>"$work/kube.log" &
    kube_pid=$!
    wait_for "kube emulator" test -s "$work/kport"
    kbase="http://127.0.0.1:$(cat "$work/kport")"
    printf '%s\n' "$token" >"$work/token"
    cat >"$work/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: e2e
clusters:
- name: emu
  cluster:
    server: $kbase
users:
- name: u
  user:
    token: $token
contexts:
- name: e2e
  context: {cluster: emu, user: u}
KC
    . "$top_srcdir/tests/e2e/exoscale-emulator.sh"
    exo_emulator_start "$work" "$work/world-$backend.json" --op-delay-ms 100 --boot-delay-ms 5000 \
        --node-ready-delay-ms 300 --kube-url "$kbase" --kube-token-file "$work/token"
}

# The world of the Exoscale emulator for each backend: the instance-pool backend's without
# the SKS cluster, whose running machines would otherwise hold the test's pods.
cp "$data/world.json" "$work/world-sks.json"
python3 -c 'import json, sys
w = json.load(open(sys.argv[1]))
w["sks-clusters"] = []
json.dump(w, open(sys.argv[2], "w"))' "$data/world.json" "$work/world-instance-pool.json"

# The namespaces; the Exoscale emulator registers a Node for every running instance of
# the world (2 CPUs, 4 GiB, Ready) and for each new one.
cat >"$work/cluster.json" <<'JSON'
{"items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}]}
JSON

# pods.py SERVER TOKEN N [gpu] [unschedulable]: create N pods of 1.5 CPU (with [gpu]: for
# the GPU nodepool, its taint tolerated and its label selected); [unschedulable]: mark them
# PodScheduled=False/Unschedulable as the scheduler would.
cat >"$work/pods.py" <<'PY'
import json, sys, urllib.request
server, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
flags = sys.argv[4:]
def call(method, path, body):
    req = urllib.request.Request(server + path, data=json.dumps(body).encode(), method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())
for i in range(n):
    spec = {"containers": [{"name": "main", "image": "example/job:1",
                            "resources": {"requests": {"cpu": "1500m", "memory": "256Mi"}}}]}
    if "gpu" in flags:
        spec["nodeSelector"] = {"accelerator": "nvidia"}
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists",
                                "effect": "NoSchedule"}]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "job-%d" % i, "namespace": "default",
                        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                             "name": "job", "uid": "u-job",
                                             "controller": True}]},
           "spec": spec, "status": {"phase": "Pending"}}
    pod = call("POST", "/api/v1/namespaces/default/pods", pod)
    if "unschedulable" in flags:
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False",
                                        "reason": "Unschedulable",
                                        "message": "0/1 nodes are available"}]
        call("PUT", "/api/v1/namespaces/default/pods/job-%d/status" % i, pod)
PY

# check.py: reads JSON on stdin and evaluates the expression given, exit 1 when false.
cat >"$work/check.py" <<'PY'
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if eval(sys.argv[1], {"d": d}) else 1)
PY
jcheck() { python3 "$work/check.py" "$1"; }

scale_calls() {
    curl -sf "$base/_emu/calls" | python3 -c '
import json, sys
c = json.load(sys.stdin)["operations"]
print(sum(v for k, v in c.items() if k.startswith("scale-")))'
}
writes_to_cloud() {
    curl -sf "$base/_emu/calls" | python3 -c '
import json, sys
c = json.load(sys.stdin)["operations"]
print(json.dumps({k: v for k, v in c.items() if k.startswith(("scale-", "evict-"))}))'
}
scaled() { [ "$(scale_calls)" -ge 1 ]; }
loops() { grep -c 'Starting main loop' "$work/nsc.log" || true; }
more_loops_than() { [ "$(loops)" -gt "$1" ]; }
pods_bound() {
    kube "$kbase/api/v1/namespaces/default/pods" |
        jcheck 'len(d["items"]) == 3 and all(p["spec"].get("nodeName") for p in d["items"])'
}
# Every pod bound or marked Unschedulable by the scheduler: the input no longer changes.
pods_settled() {
    kube "$kbase/api/v1/namespaces/default/pods" |
        jcheck 'len(d["items"]) == 3 and all(p["spec"].get("nodeName") or any(
            c.get("reason") == "Unschedulable" for c in p.get("status", {}).get("conditions", []))
            for p in d["items"])'
}
lease_holder() {
    kube "$kbase/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/cluster-autoscaler" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["spec"].get("holderIdentity", ""))'
}
lease_held() { [ -n "$(lease_holder)" ]; }
log_has() { grep -q -- "$1" "$work/nsc.log"; }

# stop_daemon: SIGTERM, then exit 0 within 30 s.
stop_daemon() {
    t0=$(date +%s)
    kill -TERM "$nsc_pid"
    i=0
    while kill -0 "$nsc_pid" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 300 ] || fail "$1: still running 30 s after SIGTERM"
        sleep 0.1
    done
    rc=0
    wait "$nsc_pid" || rc=$?
    nsc_pid=""
    [ "$rc" -eq 0 ] || fail "$1: exit status $rc after SIGTERM, want 0"
    echo "ok: $1: stopped by SIGTERM in $(($(date +%s) - t0)) s, exit 0"
}

# scenario BACKEND KEY SECRET GROUP FROM TO PODFLAGS [FLAGS...]: a daemon grows GROUP
# FROM -> TO for three pending pods, once.
scenario() {
    backend=$1 key=$2 secret=$3 gid=$4 from=$5 to=$6 podflags=$7
    shift 7
    start_cluster
    python3 "$top_srcdir/tests/e2e/fake-scheduler.py" --server "$kbase" --token "$token" \
        --interval 0.2 >"$work/sched.log" 2>&1 &
    sched_pid=$!
    # The pods settle before the daemon starts, so that its first loop sees them all:
    # pods created one by one while it runs could be planned for in two steps.
    # shellcheck disable=SC2086 # the flags are words
    python3 "$work/pods.py" "$kbase" "$token" 3 $podflags || fail "$backend: cannot create pods"
    wait_for "$backend: pods bound or unschedulable" pods_settled
    : >"$work/nsc.log"
    EXOSCALE_API_KEY=$key EXOSCALE_API_SECRET=$secret "$bin" --backend="$backend" \
        --address=127.0.0.1:0 \
        --kubeconfig="$work/kubeconfig" --scan-interval=2s --v=4 "$@" \
        >"$work/nsc.out" 2>"$work/nsc.log" &
    nsc_pid=$!
    wait_for "$backend: lease taken" lease_held
    wait_for "$backend: :scale" scaled
    wait_for "$backend: pods on the new nodes" pods_bound
    # Loops after the pods found their nodes see nothing pending: the count is final.
    n=$(loops)
    wait_for "$backend: two more loops" more_loops_than $((n + 1))
    [ "$(scale_calls)" -eq 1 ] ||
        fail "$backend: $(scale_calls) scale calls for one set of pods, want 1: $(writes_to_cloud)"
    # A second plan to grow would be refused by the backend while its operation runs, or
    # absorbed when asking the same target: count the plans, not only the API calls.
    plans=$(grep -c ', [1-9][0-9]* groups to grow' "$work/nsc.log" || true)
    [ "$plans" -eq 1 ] || fail "$backend: $plans loops planned a scale-up for one set of pods, want 1"
    log_has "resized group $gid from $from to $to" ||
        fail "$backend: no log of the resize of $gid from $from to $to"
    curl -sf "$base/_emu/state" >"$work/state.json"
    if grep -q "s3cr3t\|-secret-" "$work/nsc.log"; then fail "$backend: the secret was logged"; fi
    echo "ok: $backend: $gid grown $from -> $to once in $(loops) loops; pods bound"
    stop_daemon "$backend"
    [ -z "$(lease_holder)" ] || fail "$backend: lease still held by $(lease_holder) after stop"
    log_has 'lease kube-system/cluster-autoscaler: released' ||
        fail "$backend: the release of the lease is not logged"
    stop_all
}

# dry_run BACKEND KEY SECRET GROUP FROM TO PODFLAGS [FLAGS...]: a --dry-run daemon
# with a long scan interval is woken by the pods turning unschedulable, logs the resize
# it would make, and neither emulator sees a write from it.
dry_run() {
    backend=$1 key=$2 secret=$3 gid=$4 from=$5 to=$6 podflags=$7
    shift 7
    start_cluster
    : >"$work/nsc.log"
    EXOSCALE_API_KEY=$key EXOSCALE_API_SECRET=$secret "$bin" --backend="$backend" \
        --address=127.0.0.1:0 \
        --kubeconfig="$work/kubeconfig" --scan-interval=10m --dry-run --v=4 "$@" \
        >"$work/nsc.out" 2>"$work/nsc.log" &
    nsc_pid=$!
    wait_for "$backend dry run: first loop" log_has 'Starting main loop'
    # shellcheck disable=SC2086
    python3 "$work/pods.py" "$kbase" "$token" 3 $podflags unschedulable ||
        fail "$backend dry run: cannot create pods"
    rv0=$(kube "$kbase/admin/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["resourceVersion"])')
    curl -sf -X POST "$base/_emu/calls/reset" >/dev/null
    # Only the wake-up for new unschedulable pods can run a loop before 10 minutes.
    wait_for "$backend dry run: planned resize" \
        log_has "dry run: would resize group $gid from $from to $to"
    n=$(loops)
    stop_daemon "$backend dry run"
    rv1=$(kube "$kbase/admin/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["resourceVersion"])')
    [ "$rv1" = "$rv0" ] ||
        fail "$backend dry run: the cluster changed under a dry run (resourceVersion $rv0 -> $rv1)"
    [ "$(writes_to_cloud)" = "{}" ] || fail "$backend dry run: cloud writes $(writes_to_cloud)"
    kube "$kbase/apis/coordination.k8s.io/v1/namespaces/kube-system/leases" |
        jcheck 'len(d["items"]) == 0' || fail "$backend dry run: a lease was written"
    echo "ok: $backend dry run: woken by pending pods ($n loops), would resize $gid $from -> $to, no write"
    stop_all
}

# sks: three pods for the GPU nodepool (taint tolerated, label selected) need one 12-CPU
# GPU machine; the general nodepool is pinned at its size.
scenario sks EXOsks00000000000000000001 sks-secret-0123456789abcdefghijklmnopqrstu \
    66666666-7777-8888-9999-000000000002 0 1 gpu --nodes=2:2:general
# instance-pool: of three 1.5-CPU pods one fits the running workers machine (2 CPUs); the
# other two need two machines of the empty pool batch (workers is pinned at its size).
scenario instance-pool EXOpool0000000000000000001 pool-secret-0123456789abcdefghijklmnopqrst \
    bbbbbbbb-0000-4000-8000-000000000002 0 2 "" \
    --nodes=1:1:workers --nodes=0:4:batch

dry_run sks EXOsks00000000000000000001 sks-secret-0123456789abcdefghijklmnopqrstu \
    66666666-7777-8888-9999-000000000002 0 1 gpu --nodes=2:2:general
dry_run instance-pool EXOpool0000000000000000001 pool-secret-0123456789abcdefghijklmnopqrst \
    bbbbbbbb-0000-4000-8000-000000000002 0 2 "" \
    --nodes=1:1:workers --nodes=0:4:batch
echo "ok"
