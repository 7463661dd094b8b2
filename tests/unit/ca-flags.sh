#!/bin/sh
# Every flag of the Go Cluster Autoscaler 1.26 to 1.31 (tests/data/config/ca-flags.tsv, its
# flag list with defaults) is accepted with its default value, and listed by --help and in
# the README flag table, so that existing manifests and the Helm chart's arguments start.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
bin="$top_builddir/nodescaler"
list="$top_srcdir/tests/data/config/ca-flags.tsv"
readme="$top_srcdir/README.md"
tmp=$(mktemp -d /tmp/nsc-caflags-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
tab=$(printf '\t')

fail() {
    echo "FAIL: $*"
    failed=1
}

# Flags newer than 1.31, or only in a release outside 1.26..1.31, are left out.
awk -F'\t' 'NR > 1 && $5 !~ /since 1\.3[2-9]|master only|only in 1\.32\.0|not yet in binary/ \
    { print $1 "\t" $2 "\t" $3 }' "$list" >"$tmp/flags"
n=$(wc -l <"$tmp/flags")
[ "$n" -ge 130 ] || fail "only $n flags read from $list"
"$bin" --help >"$tmp/help" 2>&1 || fail "--help exited $?"

while IFS="$tab" read -r name type def; do
    # klog's names take '_'; Go normalises them to '-', and so does nodescaler.
    dashed=$(echo "$name" | tr _ -)
    if [ "$type" = bool ]; then
        arg="--$name"
    elif [ "$name" = nodes ]; then
        arg="--nodes=1:3:pool"
    elif [ -z "$def" ] || [ "$def" = "[]" ]; then
        arg="--$name=x"
    else
        arg="--$name=$def"
    fi
    # --help stops before the cross-flag checks: only the parse of this one flag counts.
    "$bin" "$arg" --help >/dev/null 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq 0 ] || fail "'$arg' exited $rc: $(cat "$tmp/err")"
    grep -q -- "^  --$dashed[=[]" "$tmp/help" || fail "--$dashed missing from --help"
    grep -q -- "^| \`--$dashed[=[]" "$readme" || fail "--$dashed missing from the README flag table"
done <"$tmp/flags"

[ "$failed" -eq 0 ] && echo "ok: $n flags of the Go autoscaler accepted"
exit "$failed"
