# engine/kube: build rules, included from the top Makefile.am.
engine_libnscengine_la_SOURCES += \
	engine/kube/config.c engine/kube/config.h \
	engine/kube/exec.c engine/kube/exec.h \
	engine/kube/client.c engine/kube/client.h \
	engine/kube/watch.c engine/kube/watch.h \
	engine/kube/jscan.c engine/kube/jscan.h \
	engine/kube/informer.c engine/kube/informer.h \
	engine/kube/writes.c engine/kube/writes.h \
	engine/kube/lease.c engine/kube/lease.h \
	engine/kube/sync.c engine/kube/sync.h

check_PROGRAMS += tests/kube/test_kube
tests_kube_test_kube_SOURCES = tests/kube/test_kube.c tests/kube/test_kube.h \
	tests/kube/test_kube_config.c tests/kube/test_kube_watch.c tests/kube/test_kube_jscan.c \
	tests/kube/test_kube_http.c
tests_kube_test_kube_CFLAGS = $(NSC_TEST_CFLAGS) $(MHD_CFLAGS)
tests_kube_test_kube_LDADD = $(NSC_TEST_LIBS) $(MHD_LIBS)
TESTS += tests/kube/test_kube
EXTRA_DIST += tests/data/kube engine/kube/README.md

# The same integration suite against the emulator and against a real kube-apiserver
# (tests/kube-apiserver/ builds it from Debian's sources and caches it).
check_PROGRAMS += tests/kube/test_kube_integration
tests_kube_test_kube_integration_SOURCES = tests/kube/test_kube_integration.c
tests_kube_test_kube_integration_CFLAGS = $(NSC_TEST_CFLAGS)
tests_kube_test_kube_integration_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/kube/integration-emulator.sh tests/kube/integration-real.sh
dist_noinst_SCRIPTS += tests/kube/integration-emulator.sh tests/kube/integration-real.sh \
	tests/kube-apiserver/build.sh tests/kube-apiserver/start.sh tests/kube-apiserver/stop.sh \
	tests/kube-apiserver/restart-apiserver.sh tests/kube-apiserver/wait-ready.sh

# Faults injected by the emulator's admin endpoint, as the client must take them.
check_PROGRAMS += tests/kube/test_kube_faults
tests_kube_test_kube_faults_SOURCES = tests/kube/test_kube_faults.c
tests_kube_test_kube_faults_CFLAGS = $(NSC_TEST_CFLAGS)
tests_kube_test_kube_faults_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/kube/faults-emulator.sh
dist_noinst_SCRIPTS += tests/kube/faults-emulator.sh

# Scale-down actuation (engine/loop/drain.c) against the emulator.
check_PROGRAMS += tests/kube/test_drain
tests_kube_test_drain_SOURCES = tests/kube/test_drain.c
tests_kube_test_drain_CFLAGS = $(NSC_TEST_CFLAGS)
tests_kube_test_drain_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/kube/drain-emulator.sh
dist_noinst_SCRIPTS += tests/kube/drain-emulator.sh
