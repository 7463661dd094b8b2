# engine/loop: build rules, included from the top Makefile.am.
engine_libnscengine_la_SOURCES += engine/loop/groups.h engine/loop/decision.h \
	engine/loop/decision.c engine/loop/options.h engine/loop/options.c engine/loop/pass.h \
	engine/loop/pass.c engine/loop/replay.h engine/loop/replay.c

check_PROGRAMS += tests/unit/test_replay
tests_unit_test_replay_SOURCES = tests/unit/test_replay.c
tests_unit_test_replay_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_replay_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_replay
dist_noinst_DATA += tests/data/replay/snapshot.json tests/data/replay/groups.json \
	tests/data/replay/expected.json tests/data/replay/expected.txt
TESTS += tests/unit/replay-cli.sh
EXTRA_DIST += tests/unit/replay-cli.sh

engine_libnscengine_la_SOURCES += engine/loop/gstate.h engine/loop/gstate.c
check_PROGRAMS += tests/unit/test_gstate
tests_unit_test_gstate_SOURCES = tests/unit/test_gstate.c
tests_unit_test_gstate_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_gstate_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_gstate
engine_libnscengine_la_SOURCES += engine/loop/drain.h engine/loop/drain.c
engine_libnscengine_la_SOURCES += engine/loop/daemon.h engine/loop/daemon.c

engine_libnscengine_la_SOURCES += engine/loop/events.h engine/loop/events.c
check_PROGRAMS += tests/unit/test_events
tests_unit_test_events_SOURCES = tests/unit/test_events.c
tests_unit_test_events_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_events_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_events

engine_libnscengine_la_SOURCES += engine/loop/status.h engine/loop/status.c
check_PROGRAMS += tests/unit/test_status
tests_unit_test_status_SOURCES = tests/unit/test_status.c
tests_unit_test_status_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_status_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_status
dist_noinst_DATA += tests/data/status/status.yaml tests/data/status/status.key

# deploy/manifests/base's RBAC against the real API server's.
TESTS += tests/kube/rbac-real.sh
EXTRA_DIST += tests/kube/rbac-real.sh
