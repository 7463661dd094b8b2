# tests/bench: build rules, included from the top Makefile.am.
# Benchmarks of the engine (`make bench`); CI runs the small case as a test.
check_PROGRAMS += tests/bench/nsc-bench tests/bench/nsc-gencluster
tests_bench_nsc_bench_SOURCES = tests/bench/bench.c tests/bench/gen.c tests/bench/gen.h
tests_bench_nsc_bench_LDADD = engine/libnscengine.la
tests_bench_nsc_bench_CFLAGS = $(NSC_TEST_CFLAGS)
tests_bench_nsc_gencluster_SOURCES = tests/bench/gencluster.c tests/bench/gen.c tests/bench/gen.h
tests_bench_nsc_gencluster_CFLAGS = $(NSC_TEST_CFLAGS)
TESTS += tests/bench/bench-small.sh tests/bench/gencluster-exoscale.sh
EXTRA_DIST += tests/bench/bench-small.sh tests/bench/gencluster-exoscale.sh

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

# The running daemon against both emulators (`make bench-daemon`, never part of `make
# check`: it takes minutes). Builds an optimised tree without sanitizers in build-bench/
# under the build folder, then runs tests/bench/bench-daemon.py on it
# (BENCH_DAEMON_ARGS, e.g. "--sizes=1000x30 --repeats=5 --json=bench.json").
BENCH_DAEMON_DIR = $(abs_top_builddir)/build-bench
EXTRA_DIST += tests/bench/bench-daemon.py
bench-daemon:
	$(MKDIR_P) $(BENCH_DAEMON_DIR)
	cd $(BENCH_DAEMON_DIR) && { test -f Makefile || \
	  $(abs_top_srcdir)/configure CFLAGS='-O2 -g' --disable-sanitizers >/dev/null; }
	cd $(BENCH_DAEMON_DIR) && $(MAKE) $(AM_MAKEFLAGS) nodescaler$(EXEEXT) \
	  plugins/sks/sks.la tests/bench/nsc-gencluster$(EXEEXT) \
	  tests/emulator/kube-emulator$(EXEEXT) tests/emulator/exoscale-emulator$(EXEEXT)
	python3 $(abs_top_srcdir)/tests/bench/bench-daemon.py --builddir=$(BENCH_DAEMON_DIR) \
	  $(BENCH_DAEMON_ARGS)
.PHONY: bench-daemon
