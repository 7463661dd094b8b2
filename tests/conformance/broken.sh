#!/bin/sh
# nsc-backend-conformance against tests/plugins/conformance_broken.c: unbroken it passes
# every check; each break=RULE makes exactly the check that covers that rule fail.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-conf-broken.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
# The loader refuses group- or world-writable files and directories.
chmod 0700 "$work"
cp "$top_builddir/tests/plugins/.libs/conformance_broken.so" "$work/"
chmod 0600 "$work/conformance_broken.so"
tool="$top_builddir/nsc-backend-conformance"
failed=0

# run NAME WANT [ARG...]: WANT is the one check that must fail, or "none".
run() {
    name=$1
    want=$2
    shift 2
    rc=0
    # break=slow sleeps 12 s in one call: 4 s is far above what any other call of this
    # in-memory backend takes, and far below the sleep.
    "$tool" --bad-opt --mutate --timeout-ms 4000 --settle-ms 20000 "$@" \
        "$work/conformance_broken.so" >"$work/out" 2>"$work/err" || rc=$?
    fails=$(sed -n 's/^FAIL \([a-z-]*\): .*/\1/p' "$work/out" | tr '\n' ' ')
    if [ "$want" = none ]; then
        if [ $rc -ne 0 ] || [ -n "$fails" ]; then
            echo "FAIL $name: expected every check to pass, got exit $rc, failing: $fails"
            cat "$work/out" "$work/err"
            failed=1
            return
        fi
    elif [ $rc -ne 1 ] || [ "$fails" != "$want " ]; then
        echo "FAIL $name: expected exit 1 and only check $want failing, got exit $rc," \
            "failing: ${fails:-nothing}"
        cat "$work/out" "$work/err"
        failed=1
        return
    fi
    echo "ok $name: ${fails:-all pass}"
}

run unbroken none
run unknown-option bad-opt --opt break=unknown-option
run bounds groups --opt break=bounds
run duplicate-member members --opt break=duplicate-member
run unknown-group unknown-group --opt break=unknown-group
run noop resize-noop --opt break=noop
run resize-bounds resize-bounds --opt break=resize-bounds
run evict-unknown evict-unknown --opt break=evict-unknown
run silent error-text --opt break=silent
run slow deadline --opt break=slow
run min-moves grow --opt break=min-moves
run evict-other evict --opt break=evict-other
NSC_CONFORMANCE_BREAK=abi run abi load
exit $failed
