#!/bin/sh
# Runs the scale-down actuation suite (tests/kube/test_drain.c) against the
# kube-apiserver emulator, with the same environment as the client's integration suite.
set -eu
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
NSC_IT_PROGRAM=$top_builddir/tests/kube/test_drain
export NSC_IT_PROGRAM
exec sh "$top_srcdir/tests/kube/integration-emulator.sh"
