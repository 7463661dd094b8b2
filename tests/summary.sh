#!/bin/sh
# Adds up the results of every test log under a build tree: check suites report
# "Checks: N, Failures: F, Errors: E"; any other test counts as one check.
# Prints one line "N passed, M failed".
set -eu
dir=${1:-.}
find "$dir" -name '*.log' ! -name 'test-suite.log' ! -name 'config.log' | while read -r log; do
    trs=${log%.log}.trs
    [ -f "$trs" ] || continue
    if grep -q '^[0-9]*%: Checks: ' "$log"; then
        grep '^[0-9]*%: Checks: ' "$log" | sed 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/'
    else
        res=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
        case $res in
        PASS|XFAIL) echo "1 0 0" ;;
        SKIP) ;;
        *) echo "1 1 0" ;;
        esac
    fi
done | awk '{ n += $1; f += $2 + $3 } END { printf "%d passed, %d failed\n", n - f, f }'
