#!/bin/sh
# The demo from a fresh clone, as root on Debian bookworm: install what is needed, build
# (no sanitizers, in build-demo/), and run one dry pass of the daemon with the static
# backend on the shipped example groups, printing its decision.
set -eu
cd "$(dirname "$0")/.."
# Backends are refused when group- or world-writable; keep the built ones safe.
umask 022
sh deploy/install-deps.sh
./autogen.sh >/dev/null 2>&1 || ./autogen.sh
mkdir -p build-demo
cd build-demo
../configure >configure.out 2>&1 || {
    cat configure.out
    exit 1
}
make -j"$(nproc 2>/dev/null || echo 2)" >make.out 2>&1 || {
    cat make.out
    exit 1
}
echo "+ nodescaler --backend=static --backend-opt=groups=deploy/examples/groups.json --once --dry-run"
# NSC_BACKEND_PATH finds the backend in this build tree instead of the install directory.
NSC_BACKEND_PATH="$PWD/plugins" ./nodescaler --backend=static \
    --backend-opt=groups=../deploy/examples/groups.json --once --dry-run
