# tests/schedcheck: the simulation against a real kube-scheduler v1.20.2 (built from
# Debian's sources by tests/kube-apiserver/build.sh), scenario by scenario.
check_PROGRAMS += tests/schedcheck/schedcheck
tests_schedcheck_schedcheck_SOURCES = tests/schedcheck/schedcheck.c
tests_schedcheck_schedcheck_CFLAGS = $(NSC_TEST_CFLAGS)
tests_schedcheck_schedcheck_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/schedcheck/schedcheck.sh
dist_noinst_SCRIPTS += tests/schedcheck/schedcheck.sh
EXTRA_DIST += tests/data/schedcheck
