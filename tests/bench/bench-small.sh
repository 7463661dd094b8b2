#!/bin/sh
# Runs the smallest benchmark case so CI proves the benchmark builds and works.
set -e
out=$("${top_builddir}/tests/bench/nsc-bench" --case=small)
echo "$out"
echo "$out" | grep -q '^| small ' || { echo "bench-small: no result line" >&2; exit 1; }
