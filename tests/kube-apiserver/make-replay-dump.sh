#!/bin/sh
# Regenerates tests/data/replay/kubectl-1.20-dump.json, the replay fixture that a real
# kubectl wrote: it starts the real kube-apiserver v1.20.2 (start.sh), creates a small
# cluster with kubectl v1.20.2 (nodes with providerIDs, labels, taints and allocatable;
# running pods bound to them; pending pods marked PodScheduled=False/Unschedulable; a
# PodDisruptionBudget; a PriorityClass), writes each status through its status subresource
# (no kubelet, scheduler or controller runs), and dumps it with
#     kubectl get nodes,pods,pdb -A -o json
# Usage: make-replay-dump.sh [OUT.json]   (default: the fixture in this source tree)
# Builds kubectl once (build.sh kubectl, minutes; needs root the first time). Not run by
# CI: the committed dump is the fixture; tests/unit/replay-kubectl-dump.sh checks the
# decision on it. The groups it belongs to are tests/data/replay/kubectl-1.20-groups.json.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../data/replay/kubectl-1.20-dump.json}
kubectl=$(sh "$here/build.sh" kubectl)
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-kubectl-dump.XXXXXX")
cleanup() {
    sh "$here/stop.sh" "$work"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
sh "$here/start.sh" "$work"
export KUBECONFIG="$work/admin.kubeconfig"
k() { "$kubectl" "$@"; }

# The objects as a user would write them, and their statuses, keyed by API path.
python3 - "$work" <<'PY'
import json, sys, zlib
work = sys.argv[1]
objs, statuses = [], {}

def ready_node(name, pool, cpu, mem_ki, alloc_cpu, alloc_mem_ki, extra_labels=None,
               taints=None, gpus=0):
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "pool": pool,
              "topology.kubernetes.io/region": "ch-gva-2",
              "topology.kubernetes.io/zone": "ch-gva-2"}
    labels.update(extra_labels or {})
    spec = {"providerID": "static://" + name}
    if taints:
        spec["taints"] = taints
    objs.append({"apiVersion": "v1", "kind": "Node",
                 "metadata": {"name": name, "labels": labels}, "spec": spec})
    cap = {"cpu": cpu, "memory": "%dKi" % mem_ki, "pods": "110",
           "ephemeral-storage": "51474912Ki"}
    alloc = {"cpu": alloc_cpu, "memory": "%dKi" % alloc_mem_ki, "pods": "110",
             "ephemeral-storage": "47439278445"}
    if gpus:
        cap["nvidia.com/gpu"] = alloc["nvidia.com/gpu"] = str(gpus)
    cond = [{"type": t, "status": "False", "reason": r, "message": m}
            for t, r, m in (("MemoryPressure", "KubeletHasSufficientMemory",
                             "kubelet has sufficient memory available"),
                            ("DiskPressure", "KubeletHasNoDiskPressure",
                             "kubelet has no disk pressure"),
                            ("PIDPressure", "KubeletHasSufficientPID",
                             "kubelet has sufficient PID available"))]
    cond.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "kubelet is posting ready status"})
    statuses["/api/v1/nodes/%s/status" % name] = {
        "capacity": cap, "allocatable": alloc, "conditions": cond,
        "addresses": [{"type": "Hostname", "address": name}],
        "nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2",
                     "architecture": "amd64", "operatingSystem": "linux",
                     "containerRuntimeVersion": "containerd://1.4.3", "osImage": "Debian",
                     "kernelVersion": "5.10.0", "machineID": "", "systemUUID": "",
                     "bootID": ""}}

def pod(ns, name, owner_kind, owner, cpu, mem, node=None, extra_spec=None, labels=None):
    spec = {"containers": [{"name": "main", "image": "registry.example/%s:1" % owner,
                            "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}
    spec.update(extra_spec or {})
    if node:
        spec["nodeName"] = node
    objs.append({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": name, "namespace": ns,
                              "labels": labels or {"app": owner.split("-")[0]},
                              "ownerReferences": [{
                                  "apiVersion": "apps/v1", "kind": owner_kind, "name": owner,
                                  "uid": "00000000-0000-4000-8000-%012x" % zlib.crc32(owner.encode()),
                                  "controller": True, "blockOwnerDeletion": True}]},
                 "spec": spec})
    path = "/api/v1/namespaces/%s/pods/%s/status" % (ns, name)
    if node:
        statuses[path] = {"phase": "Running", "conditions": [
            {"type": t, "status": "True"} for t in
            ("Initialized", "Ready", "ContainersReady", "PodScheduled")]}
    else:
        statuses[path] = {"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient resources."}]}

for ns in ("shop", "ml", "analytics"):
    objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
objs.append({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
             "metadata": {"name": "batch-low"}, "value": -20,
             "description": "work that never justifies a new node"})

gib = 1024 * 1024
ready_node("general-1", "general", "4", 16 * gib, "3800m", 15 * gib)
ready_node("general-2", "general", "4", 16 * gib, "3800m", 15 * gib)
ready_node("gpu-1", "gpu", "8", 32 * gib, "7800m", 30 * gib, gpus=1,
           taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}])

tolerate_all = {"tolerations": [{"operator": "Exists"}]}
for n in ("general-1", "general-2", "gpu-1"):
    pod("kube-system", "node-exporter-" + n, "DaemonSet", "node-exporter", "100m", "128Mi",
        node=n, extra_spec=tolerate_all)
pod("kube-system", "coredns-74ff55c5b-x7kq2", "ReplicaSet", "coredns-74ff55c5b", "100m",
    "70Mi", node="general-1")
for i, n in enumerate(("general-1", "general-1", "general-2", "general-2")):
    pod("default", "web-6d4b8f7c9-%d" % i, "ReplicaSet", "web-6d4b8f7c9", "800m", "1Gi", node=n)
pod("shop", "db-0", "StatefulSet", "db", "1500m", "4Gi", node="general-2")
gpu_spec = {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                             "effect": "NoSchedule"}]}
pod("ml", "train-0", "StatefulSet", "train", "4", "8Gi", node="gpu-1", extra_spec=gpu_spec)
objs[-1]["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "1"
objs[-1]["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/gpu": "1"}

# Pending: three more web replicas (two fit general-1), a second training pod (gpu-1 has
# no GPU left), a driver only a high-memory node holds, one pod no group can hold, and a
# low-priority pod that never causes a scale-up.
for i in (4, 5, 6):
    pod("default", "web-6d4b8f7c9-%d" % i, "ReplicaSet", "web-6d4b8f7c9", "800m", "1Gi")
pod("ml", "train-1", "StatefulSet", "train", "4", "8Gi", extra_spec=gpu_spec)
objs[-1]["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "1"
objs[-1]["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/gpu": "1"}
pod("analytics", "spark-driver-0", "StatefulSet", "spark-driver", "2", "48Gi")
pod("default", "huge-0", "ReplicaSet", "huge-5f6c7d", "64", "1Gi")
pod("default", "batch-0", "ReplicaSet", "batch-7b9c5d", "500m", "512Mi",
    extra_spec={"priorityClassName": "batch-low"})

objs.append({"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
             "metadata": {"name": "db", "namespace": "shop"},
             "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}})
# No disruption controller runs: write what it would (one healthy pod, none to spare).
statuses["/apis/policy/v1beta1/namespaces/shop/poddisruptionbudgets/db/status"] = {
    "currentHealthy": 1, "desiredHealthy": 1, "disruptionsAllowed": 0, "expectedPods": 1,
    "observedGeneration": 1}

json.dump({"apiVersion": "v1", "kind": "List", "items": objs},
          open(work + "/objects.json", "w"), indent=1)
json.dump(statuses, open(work + "/statuses.json", "w"), indent=1)
PY

k create -f "$work/objects.json" >&2
# Each status through its subresource: read the object, set .status, PUT it back.
python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))))' \
    "$work/statuses.json" >"$work/paths"
while read -r path; do
    k get --raw "${path%/status}" >"$work/obj.json"
    python3 - "$work/obj.json" "$work/statuses.json" "$path" <<'PY'
import json, sys
obj = json.load(open(sys.argv[1]))
obj["status"].update(json.load(open(sys.argv[2]))[sys.argv[3]])
json.dump(obj, open(sys.argv[1], "w"))
PY
    k replace --raw "$path" -f "$work/obj.json" >/dev/null
done <"$work/paths"
# The TaintNodesByCondition admission put node.kubernetes.io/not-ready on each new node;
# the node lifecycle controller would lift it once the node is Ready.
for n in $(k get nodes -o 'jsonpath={.items[*].metadata.name}'); do
    k taint nodes "$n" node.kubernetes.io/not-ready:NoSchedule- >&2
done
k get nodes,pods,pdb -A -o json >"$out"
echo "wrote $out ($(k version --client --short 2>/dev/null || true))" >&2
