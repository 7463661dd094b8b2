# tests/fuzz/fuzz.mk: the libFuzzer targets, built with clang in a tree of their own
# (GNU make; called by the fuzz-build rule of tests/fuzz/local.mk with SRC, BLD, OUT,
# FUZZ_CC, DEP_CFLAGS and DEP_LIBS). The engine and backend sources are compiled again
# here with coverage instrumentation and ASan + UBSan; the daemon's build is untouched.

TARGETS := quantity model_text model_json model_diff jscan watch kubeconfig exec \
	exo_sks exo_pool static flags priority template

SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CPPFLAGS := -I$(BLD) -I$(SRC)/include -I$(SRC)/engine -I$(SRC)/plugins/exoscale \
	-I$(SRC)/tests/unit -DNSC_BACKEND_DIR='"/nonexistent"'
# The engine's own code: the warnings of the normal build, but not as errors (clang
# warns about things gcc does not, and this tree only exists to find bugs in it).
ENGINE_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra $(SAN) -fsanitize=fuzzer-no-link
# The harnesses: warnings are errors.
HARNESS_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Werror $(SAN) -fsanitize=fuzzer-no-link

ENGINE_SRCS := $(filter-out $(SRC)/engine/main.c, \
	$(wildcard $(SRC)/engine/*.c $(SRC)/engine/*/*.c))
EXO_SRCS := $(wildcard $(SRC)/plugins/exoscale/*.c)
ENGINE_OBJS := $(patsubst $(SRC)/%.c,$(OUT)/obj/%.o,$(ENGINE_SRCS))
EXO_OBJS := $(patsubst $(SRC)/%.c,$(OUT)/obj/%.o,$(EXO_SRCS))
COMMON_OBJ := $(OUT)/obj/tests/fuzz/fuzz_common.o
FAKE_OBJ := $(OUT)/obj/tests/unit/exo_fake_host.o

all: $(addprefix $(OUT)/fuzz_,$(TARGETS))

$(OUT)/libengine.a: $(ENGINE_OBJS)
	@rm -f $@
	@ar rcs $@ $^
$(OUT)/libexo.a: $(EXO_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(OUT)/obj/engine/%.o: $(SRC)/engine/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC   $*.c"
	@$(FUZZ_CC) $(CPPFLAGS) $(DEP_CFLAGS) $(ENGINE_CFLAGS) -MMD -MP -c $< -o $@
$(OUT)/obj/plugins/%.o: $(SRC)/plugins/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC   plugins/$*.c"
	@$(FUZZ_CC) $(CPPFLAGS) $(DEP_CFLAGS) $(ENGINE_CFLAGS) -MMD -MP -c $< -o $@
$(OUT)/obj/tests/fuzz/%.o: $(SRC)/tests/fuzz/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC   tests/fuzz/$*.c"
	@$(FUZZ_CC) $(CPPFLAGS) $(DEP_CFLAGS) $(HARNESS_CFLAGS) -MMD -MP -c $< -o $@
# The scripted host of the unit tests, reused as it is.
$(OUT)/obj/tests/unit/%.o: $(SRC)/tests/unit/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC   tests/unit/$*.c"
	@$(FUZZ_CC) $(CPPFLAGS) $(DEP_CFLAGS) $(ENGINE_CFLAGS) -MMD -MP -c $< -o $@

# What each target links besides its own harness, the shared helpers and the engine.
DRIVER := $(OUT)/obj/tests/fuzz/fuzz_backend.o $(FAKE_OBJ)
EXO := $(OUT)/obj/tests/fuzz/fuzz_exo.o $(DRIVER) $(OUT)/libexo.a
EXTRA_exo_sks := $(OUT)/obj/plugins/sks/sks.o $(EXO)
EXTRA_exo_pool := $(OUT)/obj/plugins/instance-pool/instance_pool.o $(EXO)
EXTRA_static := $(OUT)/obj/plugins/static/static.o $(DRIVER)

.SECONDEXPANSION:
$(OUT)/fuzz_%: $(OUT)/obj/tests/fuzz/fuzz_%.o $(COMMON_OBJ) $$(EXTRA_$$*) $(OUT)/libengine.a
	@echo "  FUZZLD   fuzz_$*"
	@$(FUZZ_CC) $(SAN) -fsanitize=fuzzer -o $@ $(filter %.o %.a,$^) $(DEP_LIBS)

.PHONY: all
# Objects are kept between builds, not deleted as intermediates of the links.
.SECONDARY:
-include $(ENGINE_OBJS:.o=.d) $(EXO_OBJS:.o=.d) $(wildcard $(OUT)/obj/tests/*/*.d) \
	$(wildcard $(OUT)/obj/plugins/*/*.d)
