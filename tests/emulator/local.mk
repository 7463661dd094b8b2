# tests/emulator: build rules, included from the top Makefile.am.
