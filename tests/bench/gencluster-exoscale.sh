#!/bin/sh
# nsc-gencluster --provider=exoscale: every node's providerID names an instance of the
# world's nodepools and every instance is a node, each nodepool's size is its instance
# count, tainted nodes sit in tainted nodepools, and a bad --provider is refused by name.
set -eu
: "${top_builddir:=.}"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-gen-exo.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
gen="$top_builddir/tests/bench/nsc-gencluster"

"$gen" --provider=exoscale --nodes=50 --groups=10 --pods-per-node=3 --pending=5 \
    --snapshot="$work/c.json" --world-file="$work/w.json"
python3 - "$work/c.json" "$work/w.json" <<'PY'
import json, sys
c, w = (json.load(open(p)) for p in sys.argv[1:3])
nodes = [i for i in c["items"] if i["kind"] == "Node"]
pids = {n["spec"]["providerID"] for n in nodes}
assert len(nodes) == 50 and len(pids) == 50, "want 50 nodes of distinct providerIDs"
assert all(p.startswith("exoscale://") for p in pids), sorted(pids)[:3]
(cl,) = w["sks-clusters"]
pools = cl["nodepools"]
assert len(pools) == 10, "want 10 nodepools, got %d" % len(pools)
inst = {}
for np in pools:
    ids = [i["id"] for i in np["instances"]]
    assert np["size"] == len(ids), "nodepool %s: size %d, %d instances" % (
        np["name"], np["size"], len(ids))
    for i in ids:
        assert i not in inst, "instance %s in two nodepools" % i
        inst[i] = np
assert {"exoscale://" + i for i in inst} == pids, "nodes and instances differ"
types = {t["id"] for t in w["instance-types"]}
for n in nodes:
    np = inst[n["spec"]["providerID"][len("exoscale://"):]]
    assert np["instance-type"]["id"] in types
    assert n["metadata"]["labels"]["pool"] == np["labels"]["pool"], n["metadata"]["name"]
    tainted = any(t["key"] == "dedicated" for t in n["spec"].get("taints", []))
    assert tainted == ("dedicated" in np["taints"]), n["metadata"]["name"]
assert any("dedicated" in np["taints"] for np in pools), "no tainted nodepool to check"
assert w["credentials"][0]["operations"], "the key may call nothing"
PY

if "$gen" --provider=gce --snapshot="$work/c.json" --world-file="$work/w.json" \
    2>"$work/err"; then
    echo "FAIL: --provider=gce was accepted"
    exit 1
fi
grep -q "provider: 'gce'" "$work/err" || { echo "FAIL: the refusal does not name it:"; cat "$work/err"; exit 1; }
echo "ok"
