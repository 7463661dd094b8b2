#!/bin/sh
# The static backend passes nsc-backend-conformance, mutations and the unknown-key check
# included, on a copy of a fixture (the backend changes only its memory, not the file).
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-conf-static.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp "$top_srcdir/tests/data/static/valid/mixed.json" "$work/groups.json"

if ! "$top_builddir/nsc-backend-conformance" --bad-opt --mutate --timeout-ms 10000 \
    --settle-ms 60000 --opt "groups=$work/groups.json" static >"$work/out" 2>"$work/err"; then
    echo "FAIL: the static backend does not pass"
    cat "$work/out" "$work/err"
    exit 1
fi
cat "$work/out"
# Every check ran: a check that silently stopped running would make this pass otherwise.
for check in load bad-opt create refresh groups members unknown-group resize-noop \
    resize-bounds evict-unknown grow shrink evict error-text deadline; do
    grep -q "^PASS $check: " "$work/out" || { echo "FAIL: check $check did not run"; exit 1; }
done
