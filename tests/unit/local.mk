# tests/unit: build rules, included from the top Makefile.am.
