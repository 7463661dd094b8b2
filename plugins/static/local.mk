# plugins/static: the backend whose node groups come from a JSON file.
backend_LTLIBRARIES += plugins/static/static.la
plugins_static_static_la_SOURCES = plugins/static/static.c
plugins_static_static_la_CFLAGS = $(NSC_BACKEND_CFLAGS) $(JANSSON_CFLAGS)
plugins_static_static_la_LDFLAGS = $(NSC_BACKEND_LINK)
plugins_static_static_la_LIBADD = $(JANSSON_LIBS)
