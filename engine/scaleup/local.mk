# engine/scaleup: build rules, included from the top Makefile.am.
engine_libnscengine_la_SOURCES += engine/scaleup/scaleup.h engine/scaleup/scaleup.c \
	engine/scaleup/expander.c engine/scaleup/balance.c

check_PROGRAMS += tests/unit/test_scaleup
tests_unit_test_scaleup_SOURCES = tests/unit/test_scaleup.c tests/unit/sim_fixture.h
tests_unit_test_scaleup_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_scaleup_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_scaleup
dist_noinst_DATA += tests/data/scaleup/plans.json tests/data/scaleup/expanders.json
