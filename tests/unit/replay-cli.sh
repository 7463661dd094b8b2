#!/bin/sh
# The offline replay end to end: nodescaler with the static backend on a kubectl snapshot
# prints the decision as text and as JSON, and refuses a missing or broken snapshot.
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
