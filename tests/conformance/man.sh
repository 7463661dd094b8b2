#!/bin/sh
# The manual page nodescaler.8 (nodescaler --help-man) lists every flag --help lists, is
# what the build installs, and formats without a roff warning when groff is present.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-man.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
bin="$top_builddir/nodescaler"

"$bin" --help >"$work/help" || { echo "FAIL: --help exited $?"; exit 1; }
"$bin" --help-man >"$work/man" || { echo "FAIL: --help-man exited $?"; exit 1; }
grep -q '^\.TH NODESCALER 8 ' "$work/man" || { echo "FAIL: no .TH NODESCALER 8 line"; exit 1; }
sed -n 's/^  --\([a-z0-9_-]*\).*/\1/p' "$work/help" >"$work/flags"
n=$(wc -l <"$work/flags")
[ "$n" -gt 50 ] || { echo "FAIL: only $n flags read from --help"; exit 1; }
missing=0
while read -r flag; do
    # roff spells a minus sign \-.
    roff=$(printf '%s' "$flag" | sed 's/-/\\\\-/g')
    grep -q "^\\\\fB\\\\-\\\\-$roff\\\\fR" "$work/man" || {
        echo "FAIL: --$flag is in --help but not in the man page"
        missing=1
    }
done <"$work/flags"
[ $missing -eq 0 ] || exit 1
if [ -f "$top_builddir/nodescaler.8" ]; then
    cmp -s "$top_builddir/nodescaler.8" "$work/man" ||
        { echo "FAIL: the built nodescaler.8 differs from --help-man"; exit 1; }
fi
if command -v groff >/dev/null 2>&1; then
    # Long unbreakable lines ("cannot adjust") are layout, not errors; anything else is.
    groff -man -Tutf8 -ww -z "$work/man" 2>"$work/groff" || true
    if grep -v 'cannot adjust line' "$work/groff" | grep -q .; then
        echo "FAIL: groff warns:"
        cat "$work/groff"
        exit 1
    fi
fi
echo "ok: $n flags in the man page"
