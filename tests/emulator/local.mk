# tests/emulator: build rules, included from the top Makefile.am.

# kube-emulator: a kube-apiserver stand-in (libmicrohttpd) for the client tests, e2e and
# the demo. Built with `make check` (and `make tests/emulator/kube-emulator`).
check_PROGRAMS += tests/emulator/kube-emulator
tests_emulator_kube_emulator_SOURCES = tests/emulator/kube_emulator.c \
	tests/emulator/kube_store.c tests/emulator/kube_store.h
tests_emulator_kube_emulator_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(MHD_CFLAGS) -D_GNU_SOURCE
tests_emulator_kube_emulator_LDADD = $(JANSSON_LIBS) $(MHD_LIBS)
