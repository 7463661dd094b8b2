#!/bin/sh
# Adds up the results of every test log under a build tree (distcheck's copy excluded):
# a check suite counts its "Checks: N, Failures: F, Errors: E"; any other test counts as
# one check. A suite whose program failed after its checks passed (a sanitizer report at
# exit, a crash) counts one more failure. Extra results may be given as "PASSED FAILED".
# Prints one line "N passed, M failed, K skipped": a skipped test (exit 77: a tool or server it
# needs is absent) is neither passed nor failed, and is counted apart so that it shows.
set -eu
dir=${1:-.}
extra_pass=${2:-0}
extra_fail=${3:-0}
find "$dir" -path '*/_build' -prune -o -path '*/nodescaler-*/*' -prune -o \
    -name '*.log' ! -name 'test-suite.log' ! -name 'config.log' -print | while read -r log; do
    trs=${log%.log}.trs
    [ -f "$trs" ] || continue
    res=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
    if grep -q '^[0-9]*%: Checks: ' "$log"; then
        line=$(grep '^[0-9]*%: Checks: ' "$log" | tail -n 1 |
            sed 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/')
        set -- $line
        if [ "$2" -eq 0 ] && [ "$3" -eq 0 ] && [ "$res" != PASS ]; then
            echo "$(($1 + 1)) 1 0"
        else
            echo "$line"
        fi
    else
        case $res in
        PASS | XFAIL) echo "1 0 0" ;;
        SKIP) echo "0 0 0 1" ;;
        *) echo "1 1 0" ;;
        esac
    fi
done | awk -v ep="$extra_pass" -v ef="$extra_fail" \
    '{ n += $1; f += $2 + $3; s += $4 } END { n += ep + ef; f += ef; printf "%d passed, %d failed, %d skipped\n", n - f, f, s }'
