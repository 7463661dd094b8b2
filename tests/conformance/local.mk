# tests/conformance: nsc-backend-conformance, the tool a backend author runs on a .so, and
# the tests that run it on the shipped backends and on a plugin broken on purpose.
bin_PROGRAMS += nsc-backend-conformance
nsc_backend_conformance_SOURCES = tests/conformance/conformance.c
nsc_backend_conformance_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
nsc_backend_conformance_LDADD = engine/libnscengine.la $(JANSSON_LIBS)

# A backend that breaks one rule of the contract per break=RULE option.
check_LTLIBRARIES += tests/plugins/conformance_broken.la
tests_plugins_conformance_broken_la_SOURCES = tests/plugins/conformance_broken.c
tests_plugins_conformance_broken_la_CFLAGS = $(NSC_BACKEND_CFLAGS)
tests_plugins_conformance_broken_la_LDFLAGS = $(NSC_TESTPLUGIN_LINK)

TESTS += tests/conformance/static.sh tests/conformance/broken.sh tests/conformance/exoscale.sh
dist_noinst_SCRIPTS += tests/conformance/static.sh tests/conformance/broken.sh \
	tests/conformance/exoscale.sh

# The manual page: written by the daemon from its flag table, so it cannot drift from it.
nodist_man_MANS = nodescaler.8
CLEANFILES += nodescaler.8
nodescaler.8: nodescaler$(EXEEXT)
	$(AM_V_GEN)./nodescaler$(EXEEXT) --help-man >$@.tmp && mv $@.tmp $@
TESTS += tests/conformance/man.sh
dist_noinst_SCRIPTS += tests/conformance/man.sh
EXTRA_DIST += tests/no-check/check.h

# plugins/skeleton: an out-of-tree backend to copy; `make installcheck` builds it against
# the installed tree and runs the conformance tool on it (tests/conformance/skeleton.sh).
EXTRA_DIST += plugins/skeleton/configure.ac plugins/skeleton/Makefile.am \
	plugins/skeleton/skeleton.c plugins/README.md
dist_noinst_SCRIPTS += tests/conformance/skeleton.sh
