# tests/fuzz: libFuzzer targets for every parser of outside input, built with clang in
# tests/fuzz/ of the build tree by fuzz.mk (only when configure found libFuzzer).
#   make fuzz-smoke                 each target for a fixed number of runs (CI)
#   make fuzz FUZZ_SECONDS=N        each target for N seconds: execs/s and coverage
FUZZ_SECONDS = 60
FUZZ_RUNS = 2000
FUZZ_OUT = $(abs_top_builddir)/tests/fuzz
FUZZ_BUILD = $(MAKE) -f $(abs_top_srcdir)/tests/fuzz/fuzz.mk SRC='$(abs_top_srcdir)' \
	BLD='$(abs_top_builddir)' OUT='$(FUZZ_OUT)' FUZZ_CC='$(FUZZ_CC)' \
	DEP_CFLAGS='$(CURL_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS) $(YAML_CFLAGS) $(MHD_CFLAGS) $(PCRE2_CFLAGS)' \
	DEP_LIBS='$(CURL_LIBS) $(JANSSON_LIBS) $(OPENSSL_LIBS) $(YAML_LIBS) $(MHD_LIBS) $(PCRE2_LIBS) $(LIBS)'
FUZZ_RUN = $(SHELL) $(abs_top_srcdir)/tests/fuzz/run.sh '$(abs_top_srcdir)' '$(FUZZ_OUT)'

if FUZZ
fuzz-build: config.h
	+@$(FUZZ_BUILD)
fuzz-smoke: fuzz-build
	@$(FUZZ_RUN) runs $(FUZZ_RUNS)
fuzz: fuzz-build
	@$(FUZZ_RUN) seconds $(FUZZ_SECONDS)
fuzz-findings: fuzz-build
	@$(FUZZ_RUN) findings 0
else
fuzz-build fuzz-smoke fuzz fuzz-findings:
	@echo "$@: configure found no clang that links -fsanitize=fuzzer; install the Debian packages clang and libclang-rt-14-dev (deploy/install-deps.sh), then rerun configure" >&2; exit 1
endif
fuzz-clean:
	rm -rf tests/fuzz/obj tests/fuzz/fuzz_* tests/fuzz/lib*.a tests/fuzz/seeds \
		tests/fuzz/smoke tests/fuzz/corpus tests/fuzz/artifacts tests/fuzz/logs
.PHONY: fuzz-build fuzz-smoke fuzz fuzz-findings fuzz-clean

EXTRA_DIST += tests/fuzz/fuzz.mk tests/fuzz/json.dict tests/fuzz/yaml.dict \
	tests/fuzz/fuzz_common.h tests/fuzz/fuzz_common.c tests/fuzz/fuzz_backend.h \
	tests/fuzz/fuzz_backend.c tests/fuzz/fuzz_exo.h tests/fuzz/fuzz_exo.c \
	tests/fuzz/fuzz_quantity.c tests/fuzz/fuzz_model_text.c tests/fuzz/fuzz_model_json.c \
	tests/fuzz/fuzz_model_diff.c tests/fuzz/fuzz_jscan.c tests/fuzz/fuzz_watch.c tests/fuzz/fuzz_kubeconfig.c \
	tests/fuzz/fuzz_exec.c tests/fuzz/fuzz_exo_sks.c tests/fuzz/fuzz_exo_pool.c \
	tests/fuzz/fuzz_static.c tests/fuzz/fuzz_flags.c tests/fuzz/fuzz_priority.c \
	tests/fuzz/fuzz_template.c tests/data/fuzz
dist_noinst_SCRIPTS += tests/fuzz/run.sh tests/fuzz/seeds.sh tests/fuzz/campaign.sh
