#!/bin/sh
# The offline replay end to end: nodescaler with the static backend on a kubectl snapshot
# prints the decision as text and as JSON, says without --dry-run which actions were carried
# out, and refuses a missing or broken snapshot.
set -u
data="$top_srcdir/tests/data/replay"
bin="$top_builddir/nodescaler"
fail=0
run() {
    "$bin" --backend=static --backend-opt="groups=$data/groups.json" --once --dry-run "$@"
}

# Text: the scale-up part is what tests/data/replay/expected.txt says.
out=$(run --cluster-snapshot="$data/snapshot.json" --output=text 2>/dev/null) || {
    echo "replay-cli: text run failed"; fail=1; }
got=$(printf '%s\n' "$out" | sed -n '/^Cluster:/,/^Scale-down:/p')
want=$(sed -n '/^Cluster:/,/^Scale-down:/p' "$data/expected.txt")
if [ "$got" != "$want" ]; then
    echo "replay-cli: text differs"; printf 'got:\n%s\nwant:\n%s\n' "$got" "$want"; fail=1
fi

# JSON: one object with every key of the decision.
json=$(run --cluster-snapshot="$data/snapshot.json" --output=json 2>/dev/null) || {
    echo "replay-cli: json run failed"; fail=1; }
for key in '"scale_up"' '"fits_existing"' '"no_scale_up"' '"scale_down"' '"unremovable"' \
           '"group": "web"' '"to": 3' '"default/api-2"' '"node": "web-1"' \
           '"gpu": "node(s) had untolerated taint {nvidia.com/gpu: present}"'; do
    printf '%s' "$json" | grep -qF "$key" || { echo "replay-cli: JSON lacks $key"; fail=1; }
done
case "$json" in
    "{"*"}") ;;
    *) echo "replay-cli: stdout is not one JSON object"; fail=1 ;;
esac

# Without --dry-run the output says what was carried out: the resizes the backend accepted
# (the static backend resizes in memory), and that no node was removed.
json=$("$bin" --backend=static --backend-opt="groups=$data/groups.json" --once \
    --cluster-snapshot="$data/snapshot.json" --output=json 2>/dev/null) || {
    echo "replay-cli: applied run failed"; fail=1; }
printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["dry_run"] is False, d["dry_run"]
assert [(e["group"], e["to"], e["applied"]) for e in d["scale_up"]] == \
    [("gpu", 1, True), ("web", 3, True)], d["scale_up"]
' || { echo "replay-cli: applied scale-up not reported"; fail=1; }
out=$("$bin" --backend=static --backend-opt="groups=$data/groups.json" --once \
    --cluster-snapshot="$data/snapshot.json" 2>/dev/null)
printf '%s\n' "$out" | grep -qx '  group web: 2 -> 3 nodes, for 2 pod(s): resized' || {
    echo "replay-cli: text does not say the resize was made: $out"; fail=1; }
sd="$top_srcdir/tests/data/scaledown/replay/empty-node-goes-busy-node-stays"
json=$("$bin" --backend=static --backend-opt="groups=$sd/groups.json" --once \
    --cluster-snapshot="$sd/snapshot.json" --output=json 2>/dev/null) || {
    echo "replay-cli: scale-down run failed"; fail=1; }
printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
sd = d["scale_down"]
assert [e["node"] for e in sd] == ["n1"], sd
assert sd[0]["applied"] is False and "not carried out" in sd[0]["note"], sd
' || { echo "replay-cli: a removal that was not made is not marked so"; fail=1; }
out=$("$bin" --backend=static --backend-opt="groups=$sd/groups.json" --once \
    --cluster-snapshot="$sd/snapshot.json" 2>/dev/null)
want='  node n1 (group g): planned, not carried out: scale-down actuation is not available in --once'
printf '%s\n' "$out" | grep -qxF "$want" || {
    echo "replay-cli: text claims a removal: $out"; fail=1; }

# The README's form of the decision matches the output: an expendable pod, never
# considered, carries one "reason" (default/batch-low in expected.json).
grep -q '"pod": "default/batch-low"' "$data/expected.json" &&
grep -qF '{"pod": "ns/name", "reason": "why none is tried"}' "$top_srcdir/README.md" || {
    echo "replay-cli: README does not document the single reason of no_scale_up"; fail=1; }

# A snapshot that is not there, or not JSON, is refused with its name.
err=$(run --cluster-snapshot=/nonexistent/dump.json --output=json 2>&1 >/dev/null) && {
    echo "replay-cli: missing snapshot accepted"; fail=1; }
printf '%s' "$err" | grep -q '/nonexistent/dump.json' || {
    echo "replay-cli: error does not name the file: $err"; fail=1; }
bad="${TMPDIR:-/tmp}/nsc-replay-bad.$$"
printf '{"kind":"List","items":[{"kind":"Pod",' > "$bad"
err=$(run --cluster-snapshot="$bad" 2>&1 >/dev/null) && {
    echo "replay-cli: truncated snapshot accepted"; fail=1; }
printf '%s' "$err" | grep -q 'truncated' || { echo "replay-cli: unclear error: $err"; fail=1; }
rm -f "$bad"
exit $fail
