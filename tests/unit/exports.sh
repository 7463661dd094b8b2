#!/bin/sh
# Every backend built in this tree must export exactly one dynamic symbol,
# nsc_backend_entry_v1: anything else could clash with the core or another backend.
set -u
top_builddir=${top_builddir:-.}
NM=${NM:-nm}
found=0
failed=0
for so in $(find "$top_builddir/plugins" -path '*/.libs/*.so' -type f 2>/dev/null | sort); do
    found=$((found + 1))
    syms=$($NM -D --defined-only "$so" | awk 'NF == 3 { print $3 }' | sort | tr '\n' ' ')
    if [ "$syms" != "nsc_backend_entry_v1 " ]; then
        echo "FAIL: $so exports: ${syms:-nothing}(want exactly nsc_backend_entry_v1)"
        failed=1
    else
        echo "ok: $so exports only nsc_backend_entry_v1"
    fi
done
if [ "$found" -eq 0 ]; then
    echo "FAIL: no backend found under $top_builddir/plugins"
    exit 1
fi
exit $failed
