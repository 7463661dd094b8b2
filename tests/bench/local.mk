# tests/bench: build rules, included from the top Makefile.am.

# Kubernetes client against the kube-apiserver emulator: `make bench-kube`
# (BENCH_KUBE_ARGS="NODES PODS EVENTS" to change the size; default 5000 150000 100000).
noinst_PROGRAMS += tests/bench/bench_kube
tests_bench_bench_kube_SOURCES = tests/bench/bench_kube.c
tests_bench_bench_kube_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
tests_bench_bench_kube_LDADD = engine/libnscengine.la
bench-kube: tests/bench/bench_kube tests/emulator/kube-emulator
	./tests/bench/bench_kube ./tests/emulator/kube-emulator $(BENCH_KUBE_ARGS)
bench: bench-kube
.PHONY: bench bench-kube
