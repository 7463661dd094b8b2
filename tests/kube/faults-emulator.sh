#!/bin/sh
# Runs the client's fault-injection cases (tests/kube/test_kube_faults.c) against the
# kube-apiserver emulator, whose /admin endpoint injects the faults.
set -eu
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
NSC_IT_PROGRAM=$top_builddir/tests/kube/test_kube_faults
export NSC_IT_PROGRAM
exec sh "$top_srcdir/tests/kube/integration-emulator.sh"
