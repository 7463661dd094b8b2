#!/bin/sh
# Proof on a real API server: both manifest variants, rendered, are sent to the real
# kube-apiserver v1.20.2 with server-side dry run and every object must be accepted
# (schema, defaulting, admission: each Deployment's pod template is also sent as a Pod,
# whose priority class must exist). A pod template naming a priority class that does not
# exist must be refused, which shows the server checks.
# Skipped (77) with NSC_SKIP_REAL_APISERVER=1, without PyYAML, or when neither root
# (to build it) nor a cached kube-apiserver is available.
set -eu
: "${top_srcdir:=.}"
here=$top_srcdir/tests/kube-apiserver
if [ -n "${NSC_SKIP_REAL_APISERVER:-}" ]; then
    echo "NSC_SKIP_REAL_APISERVER set: skipped"
    exit 77
fi
if [ "$(id -u)" != 0 ] && ! [ -x "${NSC_KUBE_CACHE:-/var/cache/nodescaler}/kube-apiserver-v1.20.2" ]; then
    echo "not root and no cached kube-apiserver: skipped (run tests/kube-apiserver/build.sh as root)"
    exit 77
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "python3 with PyYAML is needed: skipped"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-dryrun.XXXXXX")
cleanup() {
    sh "$here/stop.sh" "$work/api"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
for v in sks instance-pool; do
    python3 "$top_srcdir/tests/deploy/render.py" "$top_srcdir/deploy/manifests/$v" >"$work/$v.json"
done
# the negative control: the sks Deployment with a priority class nobody created
python3 - "$work/sks.json" "$work/bad.json" <<'PY'
import json, sys
objs = [o for o in json.load(open(sys.argv[1])) if o["kind"] == "Deployment"]
objs[0]["spec"]["template"]["spec"]["priorityClassName"] = "no-such-priority-class"
json.dump(objs, open(sys.argv[2], "w"))
PY
sh "$here/start.sh" "$work/api"
python3 "$top_srcdir/tests/deploy/apply-dry-run.py" "$work/api" "$work/sks.json" "$work/instance-pool.json"
if python3 "$top_srcdir/tests/deploy/apply-dry-run.py" "$work/api" "$work/bad.json" >"$work/bad.out"; then
    echo "the API server accepted a pod with an unknown priority class:"
    cat "$work/bad.out"
    exit 1
fi
grep -q 'no-such-priority-class' "$work/bad.out" || { cat "$work/bad.out"; exit 1; }
echo "dry-run: every object of both variants accepted; an unknown priority class refused"
