#!/bin/sh
# The nodescaler binary end to end: exit status 2 and one line for a bad command line,
# --help and --version, and --once --dry-run with the static backend in text and JSON.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
bin="$top_builddir/nodescaler"
groups="$top_srcdir/deploy/examples/groups.json"
tmp=$(mktemp -d /tmp/nsc-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
    echo "FAIL: $*"
    failed=1
}

# expect_usage_error "args" "message": exit 2, exactly one line on stderr, nothing on stdout.
expect_usage_error() {
    # shellcheck disable=SC2086
    "$bin" $1 >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "'$1' exited $rc, want 2"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "'$1' wrote $(wc -l <"$tmp/err") lines to stderr"
    [ -s "$tmp/out" ] && fail "'$1' wrote to stdout"
    grep -qF -- "$2" "$tmp/err" || fail "'$1': want '$2' in: $(cat "$tmp/err")"
    echo "ok: '$1' -> 2: $(cat "$tmp/err")"
}

expect_usage_error "--bogus" "nodescaler: unknown flag --bogus (see --help)"
expect_usage_error "--scan-interval=10x" 'invalid value "10x" for flag --scan-interval'
expect_usage_error "--scale-down-enabled=maybe" 'invalid value "maybe" for flag --scale-down-enabled'
expect_usage_error "--nodes=3:1:pool" 'invalid value "3:1:pool" for flag --nodes'
expect_usage_error "--once --dry-run" "no backend: pass --backend=NAME"
expect_usage_error "--backend=static --output" "flag --output needs a value"
# Numbers past the planner's int32 and int64 arithmetic are refused, naming the range.
expect_usage_error "--max-nodes-total=4294967299" 'flag --max-nodes-total: out of range [0, 1000000]'
expect_usage_error "--max-nodes-total=2147483648" 'flag --max-nodes-total: out of range [0, 1000000]'
# The Kubernetes client's deadlines are bounded: exit 2 naming the flag and the range.
expect_usage_error "--kube-api-connect-timeout=11m" 'flag --kube-api-connect-timeout: out of range [100ms, 10m]'
expect_usage_error "--kube-api-stall-timeout=1h" 'flag --kube-api-stall-timeout: out of range [1s, 10m]'
expect_usage_error "--cores-total=0:10000000000000000" 'flag --cores-total: want MIN:MAX with 0 <= MIN <= MAX <= 1000000000'
expect_usage_error "--memory-total=0:10000000000" 'flag --memory-total: want MIN:MAX with 0 <= MIN <= MAX <= 1000000000'

"$bin" --help >"$tmp/out" 2>&1 || fail "--help exited non-zero"
grep -q -- "--scale-down-unneeded-time=DURATION" "$tmp/out" || fail "--help lacks the Go flags"
grep -qF -- "(default 0; range 0..1000000)" "$tmp/out" || fail "--help lacks the ranges"
"$bin" --version >"$tmp/out" 2>&1 || fail "--version exited non-zero"
grep -q "^nodescaler [0-9]" "$tmp/out" || fail "--version printed: $(cat "$tmp/out")"

"$bin" --backend=static --backend-opt=groups="$groups" --once --dry-run >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "--once --dry-run exited $rc: $(cat "$tmp/err")"
grep -q "^  small  *1  *10  *2  2 (2 running" "$tmp/out" || fail "text output: $(cat "$tmp/out")"
grep -q "^decision: no change" "$tmp/out" || fail "no decision line"
echo "ok: --once --dry-run text"

"$bin" --backend static --backend-opt "groups=$groups" --once --dry-run --output=json \
    --logging-format=json >"$tmp/out" 2>"$tmp/err" || fail "JSON run failed: $(cat "$tmp/err")"
python3 - "$tmp/out" "$tmp/err" <<'PY' || fail "JSON output or JSON logs malformed"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["backend"]["name"] == "static", doc
assert [g["id"] for g in doc["groups"]] == ["small", "gpu"], doc
assert doc["groups"][0]["template"]["kind"] == "Node"
assert doc["dry_run"] is True and doc["decision"]["actions"] == []
for line in open(sys.argv[2]):
    rec = json.loads(line)
    assert rec["level"] in ("info", "warning"), rec
PY
echo "ok: --once --dry-run JSON"

# A stored-only flag is accepted, and says it does nothing yet.
"$bin" --backend=static --backend-opt=groups="$groups" --once --dry-run \
    --debugging-snapshot-enabled >/dev/null 2>"$tmp/err" || fail "stored flag run failed"
grep -q "flag --debugging-snapshot-enabled is accepted for compatibility but nothing acts on it" \
    "$tmp/err" || fail "no warning for a stored-only flag"
echo "ok: stored-only flag warns"

# A backend that refuses its file: exit 1, the reason logged.
echo '{"groups": [{"id": "a", "min": 3, "max": 1, "target": 1}]}' >"$tmp/bad.json"
"$bin" --backend=static --backend-opt=groups="$tmp/bad.json" --once --dry-run >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] || fail "bad groups file exited $rc, want 1"
grep -q 'group "a" (groups\[0\]): field min (3) is greater than field max (1)' "$tmp/err" ||
    fail "bad groups file: $(cat "$tmp/err")"
echo "ok: bad groups file -> 1"
# A malformed --address is a bad command line (2) naming the flag, before anything starts.
for bad in localhost:8085 :65536 '[::1]' 8085; do
    rc=0
    "$bin" --backend=static --address="$bad" >/dev/null 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "--address=$bad exited $rc, want 2"
    grep -q -- "--address" "$tmp/err" || fail "--address=$bad: the flag is not named: $(cat "$tmp/err")"
done
echo "ok: malformed --address -> 2"
exit $failed
