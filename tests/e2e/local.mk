# tests/e2e: build rules, included from the top Makefile.am.
