#!/bin/sh
# Builds both manifest variants (deploy/manifests/sks, .../instance-pool) with the test's
# kustomize subset and checks what an operator relies on: the security settings, the
# probe, the credentials, the backend, and that every flag is one nodescaler accepts.
# Also checks that the renderer refuses a kustomization naming a missing file.
set -eu
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "python3 with PyYAML is needed: skipped"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-manifests.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
"$top_builddir/nodescaler" --help >"$work/help.txt"
for v in sks instance-pool; do
    python3 "$top_srcdir/tests/deploy/render.py" "$top_srcdir/deploy/manifests/$v" >"$work/$v.json"
    python3 "$top_srcdir/tests/deploy/check-manifests.py" "$v" "$work/$v.json" "$work/help.txt"
done

# The renderer must fail closed: a listed file that is missing is an error naming it.
mkdir "$work/broken"
printf 'resources:\n  - nowhere.yaml\n' >"$work/broken/kustomization.yaml"
if python3 "$top_srcdir/tests/deploy/render.py" "$work/broken" >/dev/null 2>"$work/err"; then
    echo "render.py accepted a kustomization naming a missing file"
    exit 1
fi
grep -q 'nowhere.yaml: listed but missing' "$work/err" || { cat "$work/err"; exit 1; }
echo "manifests: both variants render and pass their checks"
