# engine/scaledown: build rules, included from the top Makefile.am.
engine_libnscengine_la_SOURCES += engine/scaledown/scaledown.h \
	engine/scaledown/rules.c engine/scaledown/pdb.c engine/scaledown/util.c \
	engine/scaledown/planner.c engine/scaledown/journal.c

check_PROGRAMS += tests/unit/test_scaledown
tests_unit_test_scaledown_SOURCES = tests/unit/test_scaledown.c
tests_unit_test_scaledown_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_scaledown_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_scaledown
dist_noinst_DATA += tests/data/scaledown/rules.json tests/data/scaledown/utilization.json \
	tests/data/scaledown/plan.json
EXTRA_DIST += tests/data/scaledown/replay
