#!/bin/sh
# The sks and instance-pool backends pass nsc-backend-conformance against the Exoscale
# emulator, mutations included: a nodepool grows by one and loses the new instance by
# evict; the empty instance pool (min 0 below the default min 1) grows and returns to 0.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-conf-exo.XXXXXX")
emu_pid=""
cleanup() {
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

. "$top_srcdir/tests/e2e/exoscale-emulator.sh"
exo_emulator_start "$work" "$top_srcdir/tests/data/exoscale/world.json" \
    --op-delay-ms 100 --boot-delay-ms 200

failed=0
# check NAME [ARG...]: the backend passes every check; the secret never shows.
check() {
    name=$1
    shift
    if ! "$top_builddir/nsc-backend-conformance" --bad-opt --mutate --timeout-ms 30000 \
        --settle-ms 60000 --opt operation-poll-interval-ms=100 --opt group-refresh-interval-s=0 \
        "$@" "$name" >"$work/out" 2>"$work/err"; then
        echo "FAIL: $name does not pass"
        cat "$work/out" "$work/err"
        failed=1
        return
    fi
    cat "$work/out"
    for c in bad-opt grow shrink evict deadline; do
        grep -q "^PASS $c: " "$work/out" || { echo "FAIL: $name: check $c did not run"; failed=1; }
    done
    if grep -q "secret-0123" "$work/out" "$work/err"; then
        echo "FAIL: $name: the API secret was printed"
        failed=1
    fi
}

EXOSCALE_API_KEY=EXOsks00000000000000000001 \
EXOSCALE_API_SECRET=sks-secret-0123456789abcdefghijklmnopqrstu \
    check sks
EXOSCALE_API_KEY=EXOpool0000000000000000001 \
EXOSCALE_API_SECRET=pool-secret-0123456789abcdefghijklmnopqrst \
    check instance-pool --group bbbbbbbb-0000-4000-8000-000000000002
exit $failed
