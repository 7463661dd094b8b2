#!/bin/sh
# The priority expander end to end through the offline replay: the priorities of
# --expander-priority-config pick a group least-waste would not, and a missing or broken
# configuration is refused at start naming the flag, the file, the line and the problem.
set -u
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
data="$top_srcdir/tests/data/replay/priority"
bin="$top_builddir/nodescaler"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nsc-prio-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/unit/priority-common.sh"
run() {
    "$bin" --backend=static --backend-opt="groups=$data/groups.json" \
        --cluster-snapshot="$data/snapshot.json" --once --dry-run --output=json "$@"
}

# least-waste alone grows the general group (2 nodes of 4 cpu waste the least) ...
expect_scale_up "--expander=least-waste" "general:1:3:4"
# ... the priorities put spot first: least-waste then chooses among the spot groups, and
# the pod only general can take (nodeSelector pool=general) is planned in a second round.
expect_scale_up "--expander=priority,least-waste --expander-priority-config=$data/priorities.yaml" \
    "spot-medium:0:1:3,general:1:2:1"
# Flow style; the highest priority wins even against a less wasteful group.
expect_scale_up "--expander=priority,least-waste --expander-priority-config=$data/large-first.yaml" \
    "spot-large:0:1:3,general:1:2:1"
# A configuration matching no group lets every option through (as the Go autoscaler does).
printf '10:\n  - ^nothing-matches$\n' >"$tmp/nomatch.yaml"
expect_scale_up "--expander=priority,least-waste --expander-priority-config=$tmp/nomatch.yaml" \
    "general:1:3:4"

# A dump holds no ConfigMap: without the file the command line is refused (status 2).
expect_error 2 "--expander=priority,least-waste" \
    "flag --expander=priority,least-waste with --cluster-snapshot needs --expander-priority-config=FILE"
expect_error 1 "--expander=priority --expander-priority-config=$tmp/absent.yaml" \
    "--expander-priority-config=$tmp/absent.yaml: cannot open: No such file or directory"
mkdir "$tmp/dir.yaml"
expect_error 1 "--expander=priority --expander-priority-config=$tmp/dir.yaml" \
    "--expander-priority-config=$tmp/dir.yaml: is a directory"
expect_error 1 "--expander=priority --expander-priority-config=$data/bad-regex.yaml" \
    "priority expander configuration in --expander-priority-config=$data/bad-regex.yaml: line 4: bad regex \"^spot-(medium\""
printf '10:\n  - ^general$\nspot: [a]\n' >"$tmp/badkey.yaml"
expect_error 1 "--expander=priority --expander-priority-config=$tmp/badkey.yaml" \
    "badkey.yaml: line 3: expected \"<integer>:\""
: >"$tmp/empty.yaml"
expect_error 1 "--expander=priority --expander-priority-config=$tmp/empty.yaml" \
    "empty.yaml: no priority with a regex"

# The file without priority in the chain does nothing, and says so.
run --expander=least-waste --expander-priority-config="$data/priorities.yaml" \
    >/dev/null 2>"$tmp/err" || { echo "FAIL: least-waste with a priority file"; fail=1; }
grep -qF "flag --expander-priority-config has no effect" "$tmp/err" ||
    { echo "FAIL: no warning for an unused --expander-priority-config"; fail=1; }
exit $fail
