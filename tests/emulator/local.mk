# tests/emulator: build rules, included from the top Makefile.am.

# kube-emulator: a kube-apiserver stand-in (libmicrohttpd) for the client tests, e2e and
# the demo. Built with `make check` (and `make tests/emulator/kube-emulator`).
check_PROGRAMS += tests/emulator/kube-emulator
tests_emulator_kube_emulator_SOURCES = tests/emulator/kube_emulator.c \
	tests/emulator/kube_store.c tests/emulator/kube_store.h
tests_emulator_kube_emulator_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(MHD_CFLAGS) -D_GNU_SOURCE
tests_emulator_kube_emulator_LDADD = $(JANSSON_LIBS) $(MHD_LIBS)

# --- Exoscale API emulator (library for the tests and benchmarks, and a program) ---
check_LTLIBRARIES += tests/emulator/libexoemu.la
tests_emulator_libexoemu_la_SOURCES = tests/emulator/exoscale_emu.c \
	tests/emulator/exoscale_emu_kube.c tests/emulator/exoscale_emu.h \
	tests/emulator/exoscale_emu_int.h
tests_emulator_libexoemu_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(MHD_CFLAGS) \
	$(CURL_CFLAGS) $(OPENSSL_CFLAGS)
tests_emulator_libexoemu_la_LIBADD = $(JANSSON_LIBS) $(MHD_LIBS) $(CURL_LIBS) $(OPENSSL_LIBS)
noinst_PROGRAMS += tests/emulator/exoscale-emulator
tests_emulator_exoscale_emulator_SOURCES = tests/emulator/exoscale_emu_main.c \
	tests/emulator/exoscale_emu.c tests/emulator/exoscale_emu_kube.c \
	tests/emulator/exoscale_emu.h tests/emulator/exoscale_emu_int.h
tests_emulator_exoscale_emulator_CFLAGS = $(tests_emulator_libexoemu_la_CFLAGS)
tests_emulator_exoscale_emulator_LDADD = $(tests_emulator_libexoemu_la_LIBADD)
