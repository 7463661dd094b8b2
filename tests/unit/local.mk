# tests/unit: the check suites of the foundation (loader, host, sinks, flags, static
# backend) and the tiny plugins the loader tests refuse.

# One small backend per way a load can fail, all from tests/plugins/testplugin.c.
# -rpath makes libtool build a real shared object although it is never installed.
NSC_TESTPLUGIN_LINK = $(AM_LDFLAGS) -module -avoid-version -shared -rpath /nowhere
check_LTLIBRARIES += tests/plugins/tp_good.la tests/plugins/tp_noentry.la \
	tests/plugins/tp_abi2.la tests/plugins/tp_major.la tests/plugins/tp_minor.la \
	tests/plugins/tp_small.la tests/plugins/tp_nullop.la
tests_plugins_tp_good_la_SOURCES = tests/plugins/testplugin.c
tests_plugins_tp_good_la_CFLAGS = $(NSC_BACKEND_CFLAGS) -DTP_GOOD
tests_plugins_tp_good_la_LDFLAGS = $(NSC_TESTPLUGIN_LINK)
tests_plugins_tp_noentry_la_SOURCES = tests/plugins/testplugin.c
tests_plugins_tp_noentry_la_CFLAGS = $(NSC_BACKEND_CFLAGS) -DTP_NOENTRY
tests_plugins_tp_noentry_la_LDFLAGS = $(NSC_TESTPLUGIN_LINK)
tests_plugins_tp_abi2_la_SOURCES = tests/plugins/testplugin.c
tests_plugins_tp_abi2_la_CFLAGS = $(NSC_BACKEND_CFLAGS) -DTP_ABI2
tests_plugins_tp_abi2_la_LDFLAGS = $(NSC_TESTPLUGIN_LINK)
tests_plugins_tp_major_la_SOURCES = tests/plugins/testplugin.c
tests_plugins_tp_major_la_CFLAGS = $(NSC_BACKEND_CFLAGS) -DTP_MAJOR
tests_plugins_tp_major_la_LDFLAGS = $(NSC_TESTPLUGIN_LINK)
tests_plugins_tp_minor_la_SOURCES = tests/plugins/testplugin.c
tests_plugins_tp_minor_la_CFLAGS = $(NSC_BACKEND_CFLAGS) -DTP_MINOR
tests_plugins_tp_minor_la_LDFLAGS = $(NSC_TESTPLUGIN_LINK)
tests_plugins_tp_small_la_SOURCES = tests/plugins/testplugin.c
tests_plugins_tp_small_la_CFLAGS = $(NSC_BACKEND_CFLAGS) -DTP_SMALL
tests_plugins_tp_small_la_LDFLAGS = $(NSC_TESTPLUGIN_LINK)
tests_plugins_tp_nullop_la_SOURCES = tests/plugins/testplugin.c
tests_plugins_tp_nullop_la_CFLAGS = $(NSC_BACKEND_CFLAGS) -DTP_NULLOP
tests_plugins_tp_nullop_la_LDFLAGS = $(NSC_TESTPLUGIN_LINK)

check_PROGRAMS += tests/unit/test_plugin
tests_unit_test_plugin_SOURCES = tests/unit/test_plugin.c
tests_unit_test_plugin_CFLAGS = $(NSC_TEST_CFLAGS) $(MHD_CFLAGS)
tests_unit_test_plugin_LDADD = $(NSC_TEST_LIBS) $(MHD_LIBS)
TESTS += tests/unit/test_plugin

check_PROGRAMS += tests/unit/test_static
tests_unit_test_static_SOURCES = tests/unit/test_static.c
tests_unit_test_static_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_static_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_static

# Shell tests: exported symbols of every backend; the public header alone in C and C++.
TESTS += tests/unit/exports.sh tests/unit/header.sh
dist_noinst_SCRIPTS += tests/unit/exports.sh tests/unit/header.sh
AM_TESTS_ENVIRONMENT += CC='$(CC)'; export CC; CXX='$(CXX)'; export CXX; \
	NM='$(NM)'; export NM;
# Whole fixture folders: every file in them is data.
EXTRA_DIST += tests/data/static

check_PROGRAMS += tests/unit/test_config
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_config_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_config

# The binary end to end: exit codes, --help, --once --dry-run with the static backend.
TESTS += tests/unit/cli.sh
dist_noinst_SCRIPTS += tests/unit/cli.sh

# Every flag of the Go Cluster Autoscaler 1.26 to 1.31 is accepted and documented.
TESTS += tests/unit/ca-flags.sh
dist_noinst_SCRIPTS += tests/unit/ca-flags.sh
EXTRA_DIST += tests/data/config/ca-flags.tsv

# The priority expander end to end: the offline replay with --expander-priority-config,
# and a live run (the kube emulator) reading the ConfigMap.
TESTS += tests/unit/priority-replay-cli.sh tests/unit/priority-configmap.sh
dist_noinst_SCRIPTS += tests/unit/priority-replay-cli.sh tests/unit/priority-configmap.sh \
	tests/unit/priority-common.sh
EXTRA_DIST += tests/data/replay/priority

# The replay of a dump real kubectl v1.20.2 wrote of a real kube-apiserver, and the script
# that regenerates it (by hand: it builds kubectl, so CI never runs it).
TESTS += tests/unit/replay-kubectl-dump.sh
dist_noinst_SCRIPTS += tests/unit/replay-kubectl-dump.sh tests/kube-apiserver/make-replay-dump.sh
dist_noinst_DATA += tests/data/replay/kubectl-1.20-dump.json \
	tests/data/replay/kubectl-1.20-groups.json

# The README's test command and its helpers ship in the tarball too.
dist_noinst_SCRIPTS += tests/run.sh tests/summary.sh .ci/run
