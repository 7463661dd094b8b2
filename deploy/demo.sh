#!/bin/sh
# The demo from a fresh clone, as root on Debian bookworm: install what is needed, build
# (no sanitizers, in build-demo/), run one dry pass with the static backend on the shipped
# example groups and replay a recorded cluster, printing both decisions; then run the
# daemon against an emulated cluster (the kube-apiserver and Exoscale emulators and a
# stand-in scheduler) and watch it grow an SKS nodepool for pending pods and shrink it
# once they are gone. NSC_DEMO_OFFLINE=1 stops after the offline part.
set -eu
cd "$(dirname "$0")/.."
# Backends are refused when group- or world-writable; keep the built ones safe.
umask 022
sh deploy/install-deps.sh
./autogen.sh >/dev/null 2>&1 || ./autogen.sh
mkdir -p build-demo
cd build-demo
../configure >configure.out 2>&1 || {
    cat configure.out
    exit 1
}
jobs=$(nproc 2>/dev/null || echo 2)
# The emulators are test programs: built on request, not by a plain `make`.
make -j"$jobs" all tests/emulator/kube-emulator >make.out 2>&1 || {
    cat make.out
    exit 1
}
# NSC_BACKEND_PATH finds the backend in this build tree instead of the install directory.
export NSC_BACKEND_PATH="$PWD/plugins"

echo "+ nodescaler --backend=static --backend-opt=groups=deploy/examples/groups.json --once --dry-run"
./nodescaler --backend=static --backend-opt=groups=../deploy/examples/groups.json --once --dry-run

# The offline replay: a recorded cluster (kubectl get nodes,pods,pdb -A -o json) and its
# node groups, through the same planners the daemon runs.
echo
echo "+ nodescaler --backend=static --backend-opt=groups=deploy/examples/cluster-groups.json \\"
echo "      --cluster-snapshot=deploy/examples/cluster.json --once --dry-run"
./nodescaler --backend=static --backend-opt=groups=../deploy/examples/cluster-groups.json \
    --cluster-snapshot=../deploy/examples/cluster.json --once --dry-run

[ -z "${NSC_DEMO_OFFLINE:-}" ] || exit 0

# The running daemon. cluster.sh is the e2e tests' cluster: the kube emulator, the Exoscale
# emulator registering a Node for each machine it boots, and a scheduler binding pods.
echo
echo "== the daemon on an emulated cluster (SKS nodepool 'general', 2 CPUs a node, 1..5 nodes)"
top_builddir=.
top_srcdir=..
CLUSTER_WAIT_S=${CLUSTER_WAIT_S:-120}
. ../tests/e2e/cluster.sh
cluster_start demo sks

say() { echo "[$(date -u +%H:%M:%S)] $*"; }
# The lines an operator would read, as the daemon writes them (klog format).
show_log() {
    grep -E 'resized group|would resize|unschedulable pods|removing [0-9]+ unneeded|removed from group|removed instance|not removed' \
        "$cl_work/demo.log" | sed -n "$1,\$p" | sed 's/^/    | /'
}

daemon_start demo --scan-interval=2s --scale-down-unneeded-time=15s \
    --scale-down-delay-after-add=10s --scale-down-delay-after-delete=0s \
    --node-delete-delay-after-taint=2s --max-node-provision-time=2m
say "3 pods of 1.5 CPU each: one fits the single node, two wait for new ones"
pods_create 3 1500m web
wait_for "the nodepool grown to 3" "[ \$(group_size $cl_g1) -eq 3 ]"
wait_for "3 Nodes Ready" "[ \$(nodes_ready) -eq 3 ]"
wait_for "every pod running" "[ \$(pods_pending web) -eq 0 ]"
show_log 1
# What an operator asks it: why did this pod make it act? (/explain, on --address)
port=$(sed -n 's/.*serving metrics, health and explain on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
    "$cl_work/demo.log" | head -n 1)
if [ -n "$port" ]; then
    echo "+ curl -s 'http://127.0.0.1:$port/explain?pod=default/web-3'"
    curl -s --max-time 10 "http://127.0.0.1:$port/explain?pod=default/web-3" |
        python3 -c 'import json, sys
d = json.load(sys.stdin)
for l in d.get("loops", [])[:2]:
    print("    |", json.dumps(l)[:300])' || true
    echo "+ curl -s http://127.0.0.1:$port/metrics | grep scaled_up_nodes_total"
    curl -s --max-time 10 "http://127.0.0.1:$port/metrics" |
        grep '^cluster_autoscaler_scaled_up_nodes_total' | sed 's/^/    | /' || true
fi
seen=$(grep -cE 'resized group|would resize|unschedulable pods|removing [0-9]+ unneeded|removed from group|removed instance|not removed' \
    "$cl_work/demo.log" || true)

say "the pods are deleted: after 15 s unneeded, two nodes are drained and removed"
pods_delete web
wait_for "the nodepool back to 1" "[ \$(group_size $cl_g1) -eq 1 ]"
wait_for "1 Node left" "[ \$(nodes_ready) -eq 1 ]"
show_log $((seen + 1))
daemon_stop demo
say "Exoscale calls that changed the cloud: $(exo_writes); the daemon's whole log: $cl_work/demo.log"
KEEP_WORK=1
