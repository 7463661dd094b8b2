# engine/kube: build rules, included from the top Makefile.am.
engine_libnscengine_la_SOURCES += \
	engine/kube/config.c engine/kube/config.h \
	engine/kube/exec.c engine/kube/exec.h \
	engine/kube/client.c engine/kube/client.h \
	engine/kube/watch.c engine/kube/watch.h \
	engine/kube/informer.c engine/kube/informer.h

check_PROGRAMS += tests/kube/test_kube
tests_kube_test_kube_SOURCES = tests/kube/test_kube.c tests/kube/test_kube.h \
	tests/kube/test_kube_config.c tests/kube/test_kube_watch.c
tests_kube_test_kube_CFLAGS = $(NSC_TEST_CFLAGS)
tests_kube_test_kube_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/kube/test_kube
EXTRA_DIST += tests/data/kube
