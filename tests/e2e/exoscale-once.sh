#!/bin/sh
# nodescaler --once --dry-run with the sks and instance-pool backends against the Exoscale
# emulator: every nodepool / standalone pool is listed as a group (the empty ones too,
# with a template node), and a dry run sends no :scale or :evict.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-exo-once.XXXXXX")
emu_pid=""
cleanup() {
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The credentials come from the environment, as in a Deployment; limits as backend options.
. "$top_srcdir/tests/e2e/exoscale-emulator.sh"
exo_emulator_start "$work" "$top_srcdir/tests/data/exoscale/world.json"

fail() {
    echo "FAIL: $*"
    cat "$work/out" "$work/err" 2>/dev/null
    exit 1
}

EXOSCALE_API_KEY=EXOsks00000000000000000001 \
EXOSCALE_API_SECRET=sks-secret-0123456789abcdefghijklmnopqrstu \
    "$top_builddir/nodescaler" --backend=sks --backend-opt=nodes=0:4:gpu --once --dry-run \
    >"$work/out" 2>"$work/err" || fail "nodescaler --backend=sks exited $?"
grep -q "node groups (2)" "$work/out" || fail "sks: expected 2 node groups"
grep -E "^ +66666666-7777-8888-9999-000000000001 +1 +50 +2 " "$work/out" >/dev/null ||
    fail "sks: nodepool general (min 1, max 50 from the quota, target 2) missing"
grep -E "^ +66666666-7777-8888-9999-000000000002 +0 +4 +0 +0 +yes" "$work/out" >/dev/null ||
    fail "sks: empty nodepool gpu (0:4, target 0, with a template) missing"
if grep -q "s3cr3t\|sks-secret" "$work/out" "$work/err"; then fail "the secret was printed"; fi

EXOSCALE_API_KEY=EXOpool0000000000000000001 \
EXOSCALE_API_SECRET=pool-secret-0123456789abcdefghijklmnopqrst \
    "$top_builddir/nodescaler" --backend=instance-pool --once --dry-run \
    >"$work/out" 2>"$work/err" || fail "nodescaler --backend=instance-pool exited $?"
grep -q "node groups (2)" "$work/out" || fail "instance-pool: expected 2 node groups"
grep -E "^ +bbbbbbbb-0000-4000-8000-000000000002 +0 +50 +0 +0 +yes" "$work/out" >/dev/null ||
    fail "instance-pool: empty pool batch with a template missing"

calls=$(curl -sf "$base/_emu/calls") || fail "admin endpoint"
case $calls in
*scale-*|*evict-*) fail "a dry run changed something: $calls" ;;
esac
echo "ok: $calls"
