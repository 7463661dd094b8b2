#!/bin/sh
# The whole test suite from a fresh clone: install dependencies, build with sanitizers,
# run every check suite, and print the totals as "N passed, M failed".
set -eu
cd "$(dirname "$0")/.."
sh deploy/install-deps.sh
./autogen.sh >/dev/null 2>&1 || ./autogen.sh
mkdir -p build-test
cd build-test
../configure --enable-werror --enable-sanitizers >/dev/null
make -j"$(nproc)" >/dev/null
status=0
make -j"$(nproc)" check || status=$?
sh ../tests/summary.sh .
exit $status
