#!/bin/sh
# The ClusterRole and Role of deploy/manifests against the requests nodescaler actually
# made in the e2e daemon scenarios (and the priority ConfigMap test), from the kube
# emulator's request logs: every request granted, every permission used (or in the
# commented allow-list of tests/deploy/rbac-check.py). `make check` runs those scenarios
# first (tests/deploy/local.mk) with NSC_KUBE_REQUEST_LOG set to
# tests/<dir>/<name>.requests; run alone without their logs, this test is skipped (77).
set -eu
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "python3 with PyYAML is needed: skipped"
    exit 77
fi
logs=""
for t in tests/e2e/daemon-scale-up tests/e2e/daemon-scale-down tests/e2e/daemon-leader \
    tests/e2e/daemon-restart tests/unit/priority-configmap; do
    f=$top_builddir/$t.requests
    if [ -s "$f" ]; then
        logs="$logs $f"
    else
        echo "no request log $f (its scenario did not run or was skipped)"
    fi
done
if [ -z "$logs" ]; then
    echo "no request logs: skipped (make check TESTS=tests/deploy/rbac.sh runs the scenarios first)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-rbac.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
python3 "$top_srcdir/tests/deploy/render.py" "$top_srcdir/deploy/manifests/sks" >"$work/sks.json"
# shellcheck disable=SC2086 # $logs is a list of paths without spaces (the build tree's)
python3 "$top_srcdir/tests/deploy/rbac-check.py" "$work/sks.json" $logs

# The check must be able to fail: without the node update permission it must say so.
python3 - "$work/sks.json" "$work/less.json" <<'PY'
import json, sys
objs = json.load(open(sys.argv[1]))
for o in objs:
    if o["kind"] == "ClusterRole":
        for r in o["rules"]:
            if "nodes" in r["resources"]:
                r["verbs"] = [v for v in r["verbs"] if v != "update"]
json.dump(objs, open(sys.argv[2], "w"))
PY
# shellcheck disable=SC2086
if python3 "$top_srcdir/tests/deploy/rbac-check.py" "$work/less.json" $logs >"$work/less.out"; then
    echo "rbac-check accepted a ClusterRole without nodes update"
    exit 1
fi
grep -q '^MISSING: update core/nodes' "$work/less.out" || { cat "$work/less.out"; exit 1; }
echo "rbac: the manifests grant exactly what nodescaler used"
