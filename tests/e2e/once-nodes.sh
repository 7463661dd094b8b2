#!/bin/sh
# --nodes=MIN:MAX:NAME on the command line: two bounds for one group are refused naming
# both, and a backend that takes no nodes= option says so with the flag's name. (The
# bounds reaching the Exoscale backends, and a NAME that names no group, are checked
# against the emulator in exoscale-scale-from-zero.sh.)
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
bin="$top_builddir/nodescaler"
groups="$top_srcdir/tests/data/replay/groups.json"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nsc-nodes.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0

# expect_error "message" args...: exit 1, the message logged, nothing on stdout.
expect_error() {
    want=$1
    shift
    "$bin" --backend=static --once --dry-run "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne 1 ] || ! grep -qF -- "$want" "$tmp/err" || [ -s "$tmp/out" ]; then
        echo "FAIL: $*: exit $rc, want 1 and '$want' in: $(cat "$tmp/err")"
        failed=1
        return
    fi
    echo "ok: $*"
}

expect_error "--nodes=1:2:web: group web already has --nodes=0:3:web" \
    --backend-opt="groups=$groups" --nodes=0:3:web --nodes=1:2:web
expect_error "--nodes=0:3:web: group web already has --backend-opt nodes=1:5:web" \
    --backend-opt=nodes=1:5:web --nodes=0:3:web
expect_error "(--nodes=MIN:MAX:NAME reaches the backend as the option nodes=MIN:MAX:NAME)" \
    --backend-opt="groups=$groups" --nodes=0:3:web
exit $failed
