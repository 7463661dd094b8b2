# engine/serve: build rules, included from the top Makefile.am.
