# engine/serve: build rules, included from the top Makefile.am.
# /metrics, /health-check and /explain of the running daemon, on libmicrohttpd.
engine_libnscengine_la_SOURCES += engine/serve/serve.h engine/serve/serve_int.h \
	engine/serve/serve.c engine/serve/metrics.c engine/serve/http.c

check_PROGRAMS += tests/unit/test_serve
tests_unit_test_serve_SOURCES = tests/unit/test_serve.c
tests_unit_test_serve_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_serve_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_serve
