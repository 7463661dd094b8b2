#!/bin/sh
# nodescaler --once --cluster-snapshot with the sks and instance-pool backends against the
# Exoscale emulator: pending pods that only an empty nodepool (GPU, tainted, labelled) or
# an empty instance pool can hold make the planner scale that group from zero with the
# backend's template node. A dry run lists every group and plans the scale-up without a
# single :scale or :evict; the real run issues exactly that :scale and no other write.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
data="$top_srcdir/tests/data/exoscale"
bin="$top_builddir/nodescaler"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-exo-zero.XXXXXX")
emu_pid=""
cleanup() {
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL: $*"
    for f in out err; do [ -s "$work/$f" ] && { echo "--- $f"; cat "$work/$f"; }; done
    exit 1
}

# One emulator for both backends: the SKS nodepools' instance pools are not the
# instance-pool backend's, so neither run sees the other's change. Operations complete on
# the next tick (POST /_emu/tick), not on a timer.
. "$top_srcdir/tests/e2e/exoscale-emulator.sh"
exo_emulator_start "$work" "$data/world.json" --op-delay-ms 0

admin() { curl -sf -X "$1" "$base/_emu/$2" || fail "emulator admin $1 /_emu/$2"; }

# check.py MODE BACKEND GROUP FROM TO DECISION CALLS BOUNDS [STATE POOL]: checks the decision
# (JSON output), the call counts and, after a real run, the emulator's state.
cat >"$work/check.py" <<'PY'
import json, sys
mode, backend, gid, frm, to, decision, calls = sys.argv[1:8]
frm, to = int(frm), int(to)
errs = []
d = json.load(open(decision))
groups = {g["id"]: g for g in d.get("groups", [])}
want_groups = json.loads(sys.argv[8])
for g, bounds in want_groups.items():
    if g not in groups:
        errs.append("group %s not listed (listed: %s)" % (g, sorted(groups)))
    elif [groups[g]["min"], groups[g]["max"]] != bounds:
        errs.append("group %s has bounds %d:%d, want %d:%d" %
                    (g, groups[g]["min"], groups[g]["max"], bounds[0], bounds[1]))
if len(groups) != len(want_groups):
    errs.append("groups listed: %s, want %s" % (sorted(groups), sorted(want_groups)))
tmpl = groups.get(gid, {}).get("template")
if not isinstance(tmpl, dict) or tmpl.get("kind") != "Node":
    errs.append("empty group %s has no template node: %r" % (gid, tmpl))
elif groups[gid]["target"] != 0 or groups[gid]["instances"]:
    errs.append("group %s is not empty: %r" % (gid, groups[gid]))
su = d.get("scale_up", [])
if [(e["group"], e["from"], e["to"]) for e in su] != [(gid, frm, to)]:
    errs.append("scale_up is %r, want exactly %s %d -> %d" %
                ([(e["group"], e["from"], e["to"]) for e in su], gid, frm, to))
elif len(su[0]["pods"]) != to - frm:
    errs.append("scale-up for %r, want %d pods" % (su[0]["pods"], to - frm))
if d.get("dry_run") != (mode == "dry"):
    errs.append("dry_run is %r" % d.get("dry_run"))
c = json.load(open(calls))["operations"]
writes = {k: v for k, v in c.items() if k.startswith(("scale-", "evict-"))}
scale_op = "scale-sks-nodepool" if backend == "sks" else "scale-instance-pool"
want_writes = {} if mode == "dry" else {scale_op: 1}
if writes != want_writes:
    errs.append("mutating calls %r, want %r (all calls: %r)" % (writes, want_writes, c))
if mode == "real":
    st = json.load(open(sys.argv[9]))
    ops = [o for o in st["operations"] if o["reference"]["command"] == scale_op]
    if [o["reference"]["id"] for o in ops] != [gid] or ops[0]["state"] != "success":
        errs.append("scale operations %r, want one on %s that succeeded" % (ops, gid))
    pool_id = sys.argv[10]
    sizes = {p["id"]: p["size"] for p in st["instance-pools"]}
    if sizes.get(pool_id) != to:
        errs.append("instance pool %s has size %r after the run, want %d" %
                    (pool_id, sizes.get(pool_id), to))
    if backend == "sks":
        nps = {n["id"]: n for cl in st["sks-clusters"] for n in cl["nodepools"]}
        if gid not in nps or nps[gid].get("size") != to:
            errs.append("nodepool %s has size %r, want %d" % (gid, nps.get(gid), to))
if errs:
    print("\n".join(errs))
    sys.exit(1)
print("%s %s: %s %d -> %d; calls %s" % (backend, mode, gid, frm, to,
                                        json.dumps(c, sort_keys=True)))
PY

# run BACKEND KEY SECRET SNAPSHOT [FLAGS...]: one --once pass; stdout in $work/out.
run() {
    backend=$1 key=$2 secret=$3 snap=$4
    shift 4
    EXOSCALE_API_KEY=$key EXOSCALE_API_SECRET=$secret \
        "$bin" --backend="$backend" --cluster-snapshot="$data/$snap" --once "$@" \
        >"$work/out" 2>"$work/err"
}

# pair BACKEND KEY SECRET SNAPSHOT GROUP POOL FROM TO BOUNDS NAME [FLAGS...]: GROUP (named
# NAME, its machines in instance pool POOL) must go FROM -> TO; BOUNDS maps every group id
# the backend must list to its [min, max].
pair() {
    backend=$1 key=$2 secret=$3 snap=$4 gid=$5 pool=$6 from=$7 to=$8 groups=$9
    shift 9
    name=$1
    shift
    admin POST calls/reset >/dev/null

    # Dry run, as text: every group with its template, and the scale-up from zero.
    run "$backend" "$key" "$secret" "$snap" --dry-run "$@" ||
        fail "$backend: dry run (text) exited $?"
    grep -E "^ +$gid +0 +[0-9]+ +0 +0 +yes" "$work/out" >/dev/null ||
        fail "$backend: empty group $gid with a template not listed"
    grep -q "^    $gid: name $name\$" "$work/out" || fail "$backend: group $gid not named $name"
    grep -q "^  group $gid: $from -> $to nodes" "$work/out" ||
        fail "$backend: text does not plan $gid $from -> $to"
    if grep -q "s3cr3t\|-secret-" "$work/out" "$work/err"; then fail "the secret was printed"; fi

    # Dry run, as JSON.
    run "$backend" "$key" "$secret" "$snap" --dry-run --output=json "$@" ||
        fail "$backend: dry run (JSON) exited $?"
    cp "$work/out" "$work/dry.json"
    admin GET calls >"$work/calls.json"
    python3 "$work/check.py" dry "$backend" "$gid" "$from" "$to" "$work/dry.json" \
        "$work/calls.json" "$groups" || fail "$backend: dry run"

    # The real run: exactly the one :scale, counted from a clean counter.
    admin POST calls/reset >/dev/null
    run "$backend" "$key" "$secret" "$snap" --output=json "$@" ||
        fail "$backend: real run exited $?"
    cp "$work/out" "$work/real.json"
    admin GET calls >"$work/calls.json"
    admin POST tick >/dev/null
    admin GET state >"$work/state.json"
    python3 "$work/check.py" real "$backend" "$gid" "$from" "$to" "$work/real.json" \
        "$work/calls.json" "$groups" "$work/state.json" "$pool" || fail "$backend: real run"
}

# sks: three GPU training pods (nvidia.com/gpu, the nodepool's taint tolerated, its label
# selected) need the empty nodepool gpu: 0 -> 3. The bounds come from --nodes.
pair sks EXOsks00000000000000000001 sks-secret-0123456789abcdefghijklmnopqrstu \
    once-sks.json 66666666-7777-8888-9999-000000000002 aaaaaaaa-bbbb-cccc-dddd-000000000002 \
    0 3 '{"66666666-7777-8888-9999-000000000001": [1, 50],
          "66666666-7777-8888-9999-000000000002": [0, 4]}' \
    gpu --nodes=0:4:gpu

# instance-pool: three report pods of 1.5 CPU each, on 2-CPU machines, with the running pool
# pinned at its size by --nodes: the empty pool batch goes 0 -> 3.
pair instance-pool EXOpool0000000000000000001 pool-secret-0123456789abcdefghijklmnopqrst \
    once-pool.json bbbbbbbb-0000-4000-8000-000000000002 bbbbbbbb-0000-4000-8000-000000000002 \
    0 3 '{"bbbbbbbb-0000-4000-8000-000000000001": [1, 1],
          "bbbbbbbb-0000-4000-8000-000000000002": [0, 4]}' \
    batch --nodes=1:1:workers --nodes=0:4:batch

# A --nodes NAME that names no group is an error naming the flag, and nothing is changed.
admin POST calls/reset >/dev/null
if run instance-pool EXOpool0000000000000000001 pool-secret-0123456789abcdefghijklmnopqrst \
    once-pool.json --nodes=0:4:bacth; then
    fail "--nodes naming no group was accepted"
fi
grep -q -- '--nodes=0:4:bacth: the backend has no node group named "bacth"' "$work/err" ||
    fail "unclear error for an unknown --nodes group"
grep -q 'batch = bbbbbbbb-0000-4000-8000-000000000002' "$work/err" ||
    fail "the error does not list the groups"
admin GET calls >"$work/calls.json"
if grep -q 'scale-\|evict-' "$work/calls.json"; then fail "a rejected run changed something"; fi
echo "ok"
