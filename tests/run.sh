#!/bin/sh
# The whole test suite from a fresh clone, as root on Debian bookworm: install what is
# needed, build with warnings as errors and ASan + UBSan, run every check suite, check the
# formatting, prove the release tarball with `make distcheck`, and end with one line
# "N passed, M failed". Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
# Backends are refused when group- or world-writable; keep the built ones safe.
umask 022
sh deploy/install-deps.sh
./autogen.sh >/dev/null 2>&1 || ./autogen.sh
jobs=$(nproc 2>/dev/null || echo 2)
rm -rf build-test
mkdir build-test
cd build-test
../configure --enable-werror --enable-sanitizers >configure.out 2>&1 || {
    cat configure.out
    exit 1
}
make -j"$jobs" >make.out 2>&1 || {
    cat make.out
    exit 1
}
status=0
# The real-apiserver tests need kube-apiserver and kube-scheduler v1.20.2, built once per
# machine from Debian's source package (about 25 minutes on 2 cores, cached in
# ${NSC_KUBE_CACHE:-/var/cache/nodescaler}). Build them here, with progress on the console,
# rather than inside `make check`, where the suites would wait on its lock in silence.
if [ -z "${NSC_SKIP_REAL_APISERVER:-}" ] && [ "$(id -u)" = 0 ]; then
    for c in kube-apiserver kube-scheduler; do
        sh ../tests/kube-apiserver/build.sh "$c" >/dev/null ||
            echo "run: building $c failed: the tests that need it will fail"
    done
fi
make -j"$jobs" check || status=1
# Counted before distcheck, whose own build tree would be counted twice.
line=$(sh ../tests/summary.sh .)
extra_pass=0
extra_fail=0
if make check-format; then
    extra_pass=$((extra_pass + 1))
else
    extra_fail=$((extra_fail + 1))
    status=1
fi
# Every libFuzzer target for a fixed number of runs from its seeds.
if make -j"$jobs" fuzz-smoke; then
    extra_pass=$((extra_pass + 1))
else
    extra_fail=$((extra_fail + 1))
    status=1
fi
# The tarball must hold everything a build and its tests need. To keep CI well under 30
# minutes on 2 cores, its build skips the sanitizers and -Werror (both just proven above;
# without the sanitizers gcc's -O2 flow analysis warns differently) and its check skips
# the slowest tests (benchmarks, the real kube-apiserver run), which just passed above.
fast=$(printf 'nsc-print-tests:\n\t@echo $(TESTS)\n' | make -s -f Makefile -f - nsc-print-tests |
    tr ' ' '\n' | grep -v -e '^tests/bench/' -e 'integration-real' | tr '\n' ' ')
if make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS= TESTS="$fast" >distcheck.out 2>&1; then
    echo "distcheck: passed"
    extra_pass=$((extra_pass + 1))
else
    tail -n 60 distcheck.out
    echo "distcheck: FAILED (full log in build-test/distcheck.out)"
    extra_fail=$((extra_fail + 1))
    status=1
fi
set -- $(echo "$line" | sed 's/\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped/\1 \2 \3/')
echo "$(($1 + extra_pass)) passed, $(($2 + extra_fail)) failed, $3 skipped"
exit $status
