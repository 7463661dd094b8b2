# engine/model: build rules, included from the top Makefile.am.
engine_libnscengine_la_SOURCES += engine/model/intern.c engine/model/intern.h \
	engine/model/quantity.c engine/model/quantity.h \
	engine/model/model.c engine/model/model.h \
	engine/model/parse.c engine/model/parse_util.h \
	engine/model/podspec.c engine/model/stream.c \
	engine/model/scan.c engine/model/scan.h engine/model/ingest.c \
	engine/model/podtext.c engine/model/unreadable.c

check_PROGRAMS += tests/unit/test_model
tests_unit_test_model_SOURCES = tests/unit/test_model.c
tests_unit_test_model_CFLAGS = $(NSC_TEST_CFLAGS)
tests_unit_test_model_LDADD = $(NSC_TEST_LIBS)
TESTS += tests/unit/test_model
dist_noinst_DATA += tests/data/model/quantities.txt tests/data/model/requests.json \
	tests/data/model/list.json \
	tests/data/model/scan-list.json
