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
EXTRA_DIST += tests/data/scaledown/replay engine/scaledown/README.md

# Benchmark (tests/bench/bench_scaledown.c): `make bench-scaledown`, part of `make bench`;
# make check runs the small cases. Build without --enable-sanitizers for figures.
check_PROGRAMS += tests/bench/nsc-bench-scaledown
tests_bench_nsc_bench_scaledown_SOURCES = tests/bench/bench_scaledown.c tests/bench/bench_util.h
tests_bench_nsc_bench_scaledown_CFLAGS = $(NSC_TEST_CFLAGS)
tests_bench_nsc_bench_scaledown_LDADD = engine/libnscengine.la
TESTS += tests/bench/bench-scaledown-small.sh
EXTRA_DIST += tests/bench/bench-scaledown-small.sh
bench-scaledown: tests/bench/nsc-bench-scaledown
	./tests/bench/nsc-bench-scaledown
bench: bench-scaledown
.PHONY: bench bench-scaledown

# The offline fixtures through the nodescaler binary (needs python3, as deploy/install-deps.sh has).
TESTS += tests/unit/scaledown-replay-cli.sh
EXTRA_DIST += tests/unit/scaledown-replay-cli.sh
