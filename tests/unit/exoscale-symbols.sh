#!/bin/sh
# The Exoscale backends export exactly one dynamic symbol, nsc_backend_entry_v1: the
# shared client is linked in with hidden visibility and must not leak.
set -eu
status=0
for so in plugins/sks/.libs/sks.so plugins/instance-pool/.libs/instance-pool.so; do
    path="$top_builddir/$so"
    if [ ! -f "$path" ]; then
        echo "missing $path" >&2
        exit 1
    fi
    syms=$(nm -D --defined-only "$path" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sort)
    if [ "$syms" != "nsc_backend_entry_v1" ]; then
        echo "$so exports more than nsc_backend_entry_v1:" >&2
        echo "$syms" >&2
        status=1
    fi
done
exit $status
