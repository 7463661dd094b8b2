# engine/plugin: backend loading, the host table and the record sinks.
engine_libnscengine_la_SOURCES += engine/plugin/plugin.h engine/plugin/loader.c \
	engine/plugin/host.c engine/plugin/backend.c
