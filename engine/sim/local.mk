# engine/sim: build rules, included from the top Makefile.am.
engine_libnscengine_la_SOURCES += engine/sim/sim.h engine/sim/snapshot.c engine/sim/filters.c \
	engine/sim/volumes.h engine/sim/volumes.c

check_PROGRAMS += tests/unit/test_sim
tests_unit_test_sim_SOURCES = tests/unit/test_sim.c tests/unit/sim_fixture.h
tests_unit_test_sim_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_sim_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_sim
dist_noinst_DATA += tests/data/sim/filters.json tests/data/sim/incremental.json
