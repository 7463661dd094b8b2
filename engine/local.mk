# engine: the daemon's entry point, its flags, logging, and the --once pass.
engine_libnscengine_la_SOURCES += engine/version.c engine/version.h
engine_libnscengine_la_SOURCES += engine/log.c engine/log.h
engine_libnscengine_la_SOURCES += engine/slow.c engine/slow.h
engine_libnscengine_la_SOURCES += engine/nsc_config.c engine/nsc_config.h
engine_libnscengine_la_SOURCES += engine/once.c engine/once.h

bin_PROGRAMS += nodescaler
nodescaler_SOURCES = engine/main.c
nodescaler_CFLAGS = $(AM_CFLAGS)
nodescaler_LDADD = engine/libnscengine.la
