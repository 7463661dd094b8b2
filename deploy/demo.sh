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
# NSC_BACKEND_PATH finds the backend in this build tree instead of the install directory.
export NSC_BACKEND_PATH="$PWD/plugins"

echo "+ nodescaler --backend=static --backend-opt=groups=deploy/examples/groups.json --once --dry-run"
./nodescaler --backend=static --backend-opt=groups=../deploy/examples/groups.json --once --dry-run

# The offline replay: a recorded cluster (kubectl get nodes,pods,pdb -A -o json) and its
# node groups, through the same planners the daemon runs.
echo
echo "+ nodescaler --backend=static --backend-opt=groups=deploy/examples/cluster-groups.json \\"
echo "      --cluster-snapshot=deploy/examples/cluster.json --once --dry-run"
./nodescaler --backend=static --backend-opt=groups=../deploy/examples/cluster-groups.json \
    --cluster-snapshot=../deploy/examples/cluster.json --once --dry-run
