# plugins/exoscale: build rules, included from the top Makefile.am.
# The Exoscale API v2 client is a convenience library linked into both Exoscale backends;
# built with -fvisibility=hidden so that nothing of it is exported from them.
noinst_LTLIBRARIES += plugins/exoscale/libexoscale.la
plugins_exoscale_libexoscale_la_SOURCES = plugins/exoscale/exo.h \
	plugins/exoscale/config.c plugins/exoscale/sign.c plugins/exoscale/client.c \
	plugins/exoscale/model.c plugins/exoscale/backend.h plugins/exoscale/backend.c \
	plugins/exoscale/template.c
plugins_exoscale_libexoscale_la_CFLAGS = $(NSC_BACKEND_CFLAGS) $(JANSSON_CFLAGS) \
	$(OPENSSL_CFLAGS)
plugins_exoscale_libexoscale_la_LIBADD = $(JANSSON_LIBS) $(OPENSSL_LIBS)

# Unit tests of the client: signing vectors, configuration, parsing, errors, retries.
check_PROGRAMS += tests/unit/test_exoscale
tests_unit_test_exoscale_SOURCES = tests/unit/test_exoscale.c \
	tests/unit/exo_fake_host.c tests/unit/exo_fake_host.h
tests_unit_test_exoscale_CFLAGS = $(NSC_TEST_CFLAGS) $(OPENSSL_CFLAGS) \
	-I$(top_srcdir)/plugins/exoscale -DEXO_TEST_DATA='"$(abs_top_srcdir)/tests/data/exoscale"'
tests_unit_test_exoscale_LDADD = plugins/exoscale/libexoscale.la $(NSC_TEST_LIBS) \
	$(JANSSON_LIBS) $(OPENSSL_LIBS)
TESTS += tests/unit/test_exoscale
EXTRA_DIST += tests/data/exoscale/sign-vectors.json tests/data/exoscale/objects.json \
	tests/data/exoscale/errors.json

# The two backends: one .so each, exporting only nsc_backend_entry_v1.
backend_LTLIBRARIES += plugins/sks/sks.la plugins/instance-pool/instance-pool.la
plugins_sks_sks_la_SOURCES = plugins/sks/sks.c
plugins_sks_sks_la_CFLAGS = $(NSC_BACKEND_CFLAGS) $(JANSSON_CFLAGS) \
	-I$(top_srcdir)/plugins/exoscale
plugins_sks_sks_la_LDFLAGS = $(NSC_BACKEND_LINK)
plugins_sks_sks_la_LIBADD = plugins/exoscale/libexoscale.la
plugins_instance_pool_instance_pool_la_SOURCES = plugins/instance-pool/instance_pool.c
plugins_instance_pool_instance_pool_la_CFLAGS = $(NSC_BACKEND_CFLAGS) $(JANSSON_CFLAGS) \
	-I$(top_srcdir)/plugins/exoscale
plugins_instance_pool_instance_pool_la_LDFLAGS = $(NSC_BACKEND_LINK)
plugins_instance_pool_instance_pool_la_LIBADD = plugins/exoscale/libexoscale.la

# Both backends through the real loader against the Exoscale emulator.
check_PROGRAMS += tests/unit/test_exoscale_backends
tests_unit_test_exoscale_backends_SOURCES = tests/unit/test_exoscale_backends.c
tests_unit_test_exoscale_backends_CFLAGS = $(NSC_TEST_CFLAGS) $(MHD_CFLAGS) \
	-I$(top_srcdir)/tests/emulator -I$(top_srcdir)/plugins/exoscale \
	-DEXO_TEST_DATA='"$(abs_top_srcdir)/tests/data/exoscale"'
tests_unit_test_exoscale_backends_LDADD = tests/emulator/libexoemu.la \
	plugins/exoscale/libexoscale.la $(NSC_TEST_LIBS) \
	$(JANSSON_LIBS) $(MHD_LIBS) $(CURL_LIBS) $(OPENSSL_LIBS)
TESTS += tests/unit/test_exoscale_backends
EXTRA_DIST += tests/data/exoscale/world.json
TESTS += tests/unit/exoscale-symbols.sh
EXTRA_DIST += tests/unit/exoscale-symbols.sh

# Calls per control loop at 10, 100 and 1,000 nodes: `make bench-exoscale` (also part
# of `make bench`).
check_PROGRAMS += tests/bench/bench_exoscale
tests_bench_bench_exoscale_SOURCES = tests/bench/bench_exoscale.c
tests_bench_bench_exoscale_CFLAGS = $(NSC_TEST_CFLAGS) $(MHD_CFLAGS) -I$(top_srcdir)/tests/emulator
tests_bench_bench_exoscale_LDADD = tests/emulator/libexoemu.la $(NSC_TEST_LIBS) \
	$(JANSSON_LIBS) $(MHD_LIBS) $(CURL_LIBS) $(OPENSSL_LIBS)
bench-exoscale: tests/bench/bench_exoscale$(EXEEXT) $(backend_LTLIBRARIES)
	NSC_BACKEND_PATH='$(abs_top_builddir)/plugins' ./tests/bench/bench_exoscale$(EXEEXT)
bench: bench-exoscale
.PHONY: bench bench-exoscale
# IAM role policies of the two backends (the backend tests run with exactly these).
dist_noinst_DATA += deploy/iam/sks-role-policy.json deploy/iam/instance-pool-role-policy.json

# nodescaler --once --dry-run with both backends against the emulator.
TESTS += tests/e2e/exoscale-once.sh
EXTRA_DIST += tests/e2e/exoscale-once.sh tests/e2e/exoscale-emulator.sh
# Scale from zero through --once --cluster-snapshot, dry and real, with both backends.
TESTS += tests/e2e/exoscale-scale-from-zero.sh
EXTRA_DIST += tests/e2e/exoscale-scale-from-zero.sh tests/data/exoscale/once-sks.json \
	tests/data/exoscale/once-pool.json
