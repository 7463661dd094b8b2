#!/bin/sh
# Scale-down through the nodescaler binary: for every offline fixture under
# tests/data/scaledown/replay, `nodescaler --once --dry-run --cluster-snapshot` with the
# static backend must print the expected scale_down and unremovable arrays.
set -u
data="$top_srcdir/tests/data/scaledown/replay"
bin="$top_builddir/nodescaler"
fail=0
n=0
# Checked by test_scaledown only: the binary plans at the current time, so a node's age
# differs; and the static backend's refresh completes deletions, so a deleting instance
# is gone (its node then belongs to no group) before the planner sees it.
skip=" node-younger-than-delay-after-add nodes-being-deleted-skipped "
while read -r slug; do
    [ -n "$slug" ] || continue
    case "$skip" in *" $slug "*) continue ;; esac
    dir="$data/$slug"
    flags=$(python3 - "$dir/case.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])).get("options", {})
names = {"max_parallelism": "--max-scale-down-parallelism",
         "max_drain_parallelism": "--max-drain-parallelism",
         "enabled": "--scale-down-enabled", "unready_enabled": "--scale-down-unready-enabled"}
out = []
for k, v in o.items():
    if k not in names:
        sys.exit("unknown option " + k)
    out.append("%s=%s" % (names[k], str(v).lower() if isinstance(v, bool) else v))
print(" ".join(out))
PY
) || { echo "$slug: bad case.json"; fail=1; continue; }
    # shellcheck disable=SC2086
    json=$("$bin" --backend=static --backend-opt="groups=$dir/groups.json" --once --dry-run \
        --cluster-snapshot="$dir/snapshot.json" --output=json $flags 2>/dev/null) || {
        echo "$slug: nodescaler failed"; fail=1; continue; }
    printf '%s' "$json" | python3 -c '
import json, sys
got = json.load(sys.stdin)
want = json.load(open(sys.argv[1]))["expected"]
def norm(d):
    # unneeded_since is the time of the pass: the binary plans now, the fixture at its time.
    return {"scale_down": d["scale_down"],
            "unremovable": [{k: v for k, v in e.items() if k != "unneeded_since"}
                            for e in d["unremovable"]]}
if norm(got) != norm(want):
    print(sys.argv[2] + ": differs\ngot:  " + json.dumps(norm(got)) + "\nwant: " + json.dumps(norm(want)))
    sys.exit(1)
' "$dir/case.json" "$slug" || fail=1
    n=$((n + 1))
done < "$data/index.txt"
[ "$n" -ge 25 ] || { echo "only $n fixtures ran"; fail=1; }
echo "scaledown-replay-cli: $n fixtures"
exit $fail
