# tests/bench: build rules, included from the top Makefile.am.
# Benchmarks of the engine (`make bench`); CI runs the small case as a test.
check_PROGRAMS += tests/bench/nsc-bench tests/bench/nsc-gencluster
tests_bench_nsc_bench_SOURCES = tests/bench/bench.c tests/bench/gen.c tests/bench/gen.h
tests_bench_nsc_bench_LDADD = engine/libnscengine.la
tests_bench_nsc_bench_CFLAGS = $(NSC_TEST_CFLAGS)
tests_bench_nsc_gencluster_SOURCES = tests/bench/gencluster.c tests/bench/gen.c tests/bench/gen.h
tests_bench_nsc_gencluster_CFLAGS = $(NSC_TEST_CFLAGS)
TESTS += tests/bench/bench-small.sh
EXTRA_DIST += tests/bench/bench-small.sh

# Every case; build without --enable-sanitizers for meaningful figures.
bench: tests/bench/nsc-bench$(EXEEXT)
	./tests/bench/nsc-bench$(EXEEXT)
.PHONY: bench

# Kubernetes client against the kube-apiserver emulator: `make bench-kube`, also run by
# `make bench` (BENCH_KUBE_ARGS="NODES PODS EVENTS CHANGED"; default 5000 150000 100000
# and a tenth of the pods changed while no watch is open, before the relist).
noinst_PROGRAMS += tests/bench/bench_kube
tests_bench_bench_kube_SOURCES = tests/bench/bench_kube.c
tests_bench_bench_kube_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
tests_bench_bench_kube_LDADD = engine/libnscengine.la
bench-kube: tests/bench/bench_kube$(EXEEXT) tests/emulator/kube-emulator$(EXEEXT)
	./tests/bench/bench_kube$(EXEEXT) ./tests/emulator/kube-emulator$(EXEEXT) $(BENCH_KUBE_ARGS)
bench: bench-kube
.PHONY: bench-kube
