#!/bin/sh
# The offline replay on a snapshot that real tools wrote: kubectl v1.20.2's
# `get nodes,pods,pdb -A -o json` of a real kube-apiserver v1.20.2 (managedFields, defaulted
# specs, the priority admission's values; tests/kube-apiserver/make-replay-dump.sh made
# it), with its static groups. The decision is checked whole, except the reasons for the
# nodes that stay (they depend on the time since the dump).
set -u
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
data="$top_srcdir/tests/data/replay"
out=$(mktemp "${TMPDIR:-/tmp}/nsc-kubectl-dump.XXXXXX")
trap 'rm -f "$out"' EXIT
"$top_builddir/nodescaler" --backend=static --backend-opt="groups=$data/kubectl-1.20-groups.json" \
    --cluster-snapshot="$data/kubectl-1.20-dump.json" --once --dry-run --output=json >"$out" ||
    { echo "FAIL: the replay of the kubectl dump failed"; exit 1; }
python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
want_up = [
    # The Spark driver needs a high-memory node; the web replica that does not fit general-1
    # rides along (one node of highmem wastes less than a new general node for it alone).
    {"group": "highmem", "from": 0, "to": 1,
     "pods": ["analytics/spark-driver-0", "default/web-6d4b8f7c9-6"]},
    # gpu-1's only GPU is taken by train-0.
    {"group": "gpu", "from": 1, "to": 2, "pods": ["ml/train-1"]},
]
bad = []
up = [{k: e[k] for k in ("group", "from", "to", "pods")} for e in d["scale_up"]]
for e in up:
    e["pods"] = sorted(e["pods"])
if up != want_up:
    bad.append("scale_up %s, want %s" % (up, want_up))
fits = sorted((e["pod"], e["node"]) for e in d["fits_existing"])
if fits != [("default/web-6d4b8f7c9-4", "general-1"), ("default/web-6d4b8f7c9-5", "general-1")]:
    bad.append("fits_existing %s" % fits)
no = {e["pod"]: e.get("reasons", e.get("reason")) for e in d["no_scale_up"]}
if sorted(no) != ["default/batch-0", "default/huge-0"]:
    bad.append("no_scale_up %s" % sorted(no))
else:
    # The PriorityClass batch-low (-20) reached the pod through admission, not by hand.
    if "priority -20 is below the expendable cutoff" not in str(no["default/batch-0"]):
        bad.append("batch-0: %s" % no["default/batch-0"])
    # highmem has no node: its template from the backend (7.8 cpu) runs the node-exporter
    # DaemonSet's pod (100m) as a new node would, so 7.7 is free.
    want_huge = {"general": "Insufficient cpu: requests 64, free 3.7",
                 "gpu": "max node group size reached (2)",
                 "highmem": "Insufficient cpu: requests 64, free 7.7"}
    if no["default/huge-0"] != want_huge:
        bad.append("huge-0: %s" % no["default/huge-0"])
if d["summary"] != {"nodes": 3, "pods": 17, "pending": 7, "groups": 3}:
    bad.append("summary %s" % d["summary"])
# A scale-up in this loop holds scale-down back; every node is accounted for.
if d["scale_down"]:
    bad.append("scale_down %s" % d["scale_down"])
if sorted(e["node"] for e in d["unremovable"]) != ["general-1", "general-2", "gpu-1"]:
    bad.append("unremovable %s" % d["unremovable"])
if bad:
    print("FAIL: " + "\nFAIL: ".join(bad))
    sys.exit(1)
print("ok: the kubectl v1.20.2 dump replays to highmem 0->1, gpu 1->2")
PY
