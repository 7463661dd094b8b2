# Shell functions shared by the priority expander's tests (sourced, not run). The caller
# defines run() (nodescaler with its flags, --output=json) and $tmp (a scratch directory),
# and reads $fail at the end.
fail=0

# expect_scale_up "flags" "group:from:to:n_pods,...": the scale-ups in decision order.
expect_scale_up() {
    # shellcheck disable=SC2086
    if ! run $1 >"$tmp/out" 2>"$tmp/err"; then
        echo "FAIL: '$1' exited non-zero: $(cat "$tmp/err")"
        fail=1
        return
    fi
    got=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(",".join("%s:%d:%d:%d" % (e["group"], e["from"], e["to"], len(e["pods"]))
               for e in d["scale_up"]))' "$tmp/out")
    if [ "$got" = "$2" ]; then
        echo "ok: '$1' -> $got"
    else
        echo "FAIL: '$1': scale-up $got, want $2"
        fail=1
    fi
}

# expect_error STATUS "flags" "message": that exit status, the message on stderr, and no
# decision on stdout.
expect_error() {
    # shellcheck disable=SC2086
    run $2 >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne "$1" ]; then
        echo "FAIL: '$2' exited $rc, want $1: $(cat "$tmp/err")"
        fail=1
    elif ! grep -qF -- "$3" "$tmp/err"; then
        echo "FAIL: '$2': want '$3' in: $(cat "$tmp/err")"
        fail=1
    elif [ -s "$tmp/out" ]; then
        echo "FAIL: '$2' printed a decision"
        fail=1
    else
        echo "ok: '$2' -> $rc: $3"
    fi
}
