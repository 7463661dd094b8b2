# engine: build rules, included from the top Makefile.am.
engine_libnscengine_la_SOURCES += engine/version.c engine/version.h
engine_libnscengine_la_SOURCES += engine/log.c engine/log.h
