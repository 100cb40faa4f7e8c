# skipc: Lua network specs -> standalone C forward/backward/optimizer code.
#
#   make                 generator (build/skipc) and runtime (build/libskipcrt.a);
#                        installs nothing
#   make deps            install the Debian packages skipc needs (only missing ones)
#   make demo            deps, then generate, build and train a ResNet-20 on Fashion-MNIST
#   make test            deps, then every test: runtime kernels, generator, whole networks
#   make gen             regenerate generated/ from specs/models.txt
#   make check-generated fail if anything committed in generated/ is stale
#   make build/NAME      a model binary from generated/NAME.c
#   make experiments     the skip-connection experiments (tools/experiments.sh;
#                        hours; QUICK=1 for a run of about a minute)
#   make bench           skipc against PyTorch and ONNX Runtime, side by side
#                        (bench/run.sh; installs the peers for the benchmark only)
#   make proptest        property tests on random topologies (tests/proptest.sh):
#                        COUNT=1000 seeds from SEED=1 (make test runs 30)
#   make example         examples/classify.c, a static Fashion-MNIST classifier from a
#                        deployment build of a trained ResNet-20 (CKPT=...)
#   make portable        the runtime without OpenBLAS or -march=native, for deployment
#                        builds on other machines (build-portable/)
#   make cross ARCH=aarch64  the same for aarch64 with Debian's cross compiler
#   make test SANITIZE=1 the same, everything built by clang with AddressSanitizer
#                        (leaks included) and UndefinedBehaviorSanitizer, in build-san/

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
B   := build-san
CC  := clang
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
B   := build
SAN :=
endif
# The test scripts build and run from the same folder with the same flags.
export SKIPC_BUILD := $(B)
export SKIPC_SAN := $(SAN)

CC      ?= cc
PKGS    := lua5.4 openblas cmocka zlib nettle
CFLAGS  := -std=c11 -O2 -g -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L $(SAN)
# -ffp-contract=off: a*b+c stays two roundings under every compiler (gcc's
# ISO modes already do this; clang would fuse it), so a fused kernel that
# spells the multiply and the add out matches the separate ones bit for bit.
RTFLAGS := -std=c11 -O3 -march=native -ffp-contract=off -g -Wall -Wextra -Werror \
           -D_POSIX_C_SOURCE=200809L $(SAN)
# Generated code is C99 and must stay warning-free under -pedantic.
GENFLAGS := -std=c99 -O3 -march=native -g -Wall -Wextra -Werror -pedantic $(SAN)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LUA_LIBS   = $(shell pkg-config --libs lua5.4 2>/dev/null) -lm
GEN_LIBS   = $(LUA_LIBS) $(shell pkg-config --libs nettle 2>/dev/null)
RT_LIBS    = $(shell pkg-config --libs openblas zlib 2>/dev/null) -lm -lpthread
TEST_LIBS  = $(shell pkg-config --libs cmocka 2>/dev/null)

GEN_SRC  := $(wildcard generator/*.c)
# The generator reads checkpoints (--weights) with the driver's loader and
# folds them with the runtime's rt_fold.c, compiled for it like its own files.
GEN_SHARED := driver/io_safetensors.c driver/io_atomic.c driver/io_err.c runtime/rt_fold.c
GEN_OBJ  := $(GEN_SRC:%.c=$(B)/%.o) $(B)/generator/stdlib_lua.o \
            $(patsubst %.c,$(B)/generator/shared/%.o,$(notdir $(GEN_SHARED)))
GEN_LIB  := $(wildcard generator/lib/skipc/*.lua)
RT_SRC   := $(wildcard runtime/*.c)
RT_OBJ   := $(RT_SRC:%.c=$(B)/%.o)
DRV_SRC  := $(filter-out driver/model_main.c,$(wildcard driver/*.c))
DRV_OBJ  := $(DRV_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/tests/%) $(B)/tests/test_rt_dconv_portable \
            $(B)/tests/test_rt_gemm_portable
MODELS   := $(shell awk '!/^[ \t]*(\#|$$)/ {print $$1}' specs/models.txt 2>/dev/null)

.PHONY: all deps gen check-generated test run-tests proptest run-proptest bench run-bench \
        demo run-demo experiments run-experiments clean
.SECONDARY:

all: $(B)/skipc $(B)/libskipcrt.a

deps:
	@tools/install-deps.sh

# ---------------------------------------------------------------- generator
$(B)/skipc: $(GEN_OBJ)
	$(CC) $(SAN) -o $@ $^ $(GEN_LIBS)

# The generator shares runtime/rt_geom.h (sizes both must agree on), the
# batchnorm folding and the checkpoint reader (GEN_SHARED), nothing else.
$(B)/generator/%.o: generator/%.c $(wildcard generator/*.h generator/*.def) runtime/rt_geom.h \
                    runtime/rt.h driver/io_safetensors.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Igenerator -Iruntime -Idriver -c -o $@ $<

$(B)/generator/shared/%.o: driver/%.c $(wildcard driver/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/generator/shared/%.o: runtime/%.c runtime/rt.h runtime/rt_geom.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The block library is compiled into the generator, so build/skipc works
# from any directory.
$(B)/generator/stdlib_lua.c: $(B)/embed $(GEN_LIB)
	$(B)/embed $(GEN_LIB) > $@

$(B)/generator/stdlib_lua.o: $(B)/generator/stdlib_lua.c generator/stdlib_lua.h
	$(CC) $(CFLAGS) -Igenerator -c -o $@ $<

$(B)/embed: tools/embed.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

# ---------------------------------------------------------------- runtime
$(B)/libskipcrt.a: $(RT_OBJ)
	$(AR) rcs $@ $^

RT_HDR := runtime/rt.h runtime/rt_model.h runtime/rt_par.h runtime/rt_store.h runtime/rt_geom.h \
          runtime/rt_gemm.h
$(B)/runtime/%.o: runtime/%.c $(RT_HDR)
	@mkdir -p $(@D)
	$(CC) $(RTFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/driver/%.o: driver/%.c $(wildcard driver/*.h) runtime/rt.h runtime/rt_model.h
	@mkdir -p $(@D)
	$(CC) $(RTFLAGS) $(PKG_CFLAGS) -Iruntime -c -o $@ $<

# ---------------------------------------------------------------- models
$(B)/models/%.o: generated/%.c generated/%.h runtime/rt.h runtime/rt_model.h
	@mkdir -p $(@D)
	$(CC) $(GENFLAGS) $(PKG_CFLAGS) -Iruntime -Igenerated -c -o $@ $<

# A model binary: the generic driver bound to one generated model.
$(B)/%: $(B)/models/%.o $(DRV_OBJ) $(B)/libskipcrt.a driver/model_main.c
	$(CC) $(RTFLAGS) $(PKG_CFLAGS) -Iruntime -Idriver -Igenerated \
	    -DSKIPC_MODEL=$*_model -DSKIPC_MODEL_HEADER='"$*.h"' \
	    -o $@ driver/model_main.c $(B)/models/$*.o $(DRV_OBJ) $(B)/libskipcrt.a $(RT_LIBS)

# ---------------------------------------------------------------- portable and cross
# The runtime for machines other than this one, which deployment builds
# (skipc --infer) link: no OpenBLAS (RT_NO_BLAS: rt_gemm.c's own product)
# and no -march=native (RT_PORTABLE: the direct convolution's plain
# loops, which the compiler vectorizes for its target).
#   make portable             build-portable/libskipcrt.a, for this architecture
#   make cross ARCH=aarch64   build-aarch64/libskipcrt.a, by Debian's cross compiler
PORTFLAGS := -std=c11 -O3 -ffp-contract=off -g -Wall -Wextra -Werror \
             -D_POSIX_C_SOURCE=200809L -DRT_NO_BLAS -DRT_PORTABLE
ARCH ?= aarch64
XB   := build-$(ARCH)
.PHONY: portable cross

portable: build-portable/libskipcrt.a

build-portable/libskipcrt.a: $(RT_SRC:runtime/%.c=build-portable/runtime/%.o)
	$(AR) rcs $@ $^

build-portable/runtime/%.o: runtime/%.c $(RT_HDR)
	@mkdir -p $(@D)
	$(CC) $(PORTFLAGS) -c -o $@ $<

cross: deps
	@$(MAKE) --no-print-directory $(XB)/libskipcrt.a

$(XB)/libskipcrt.a: $(RT_SRC:runtime/%.c=$(XB)/runtime/%.o)
	$(ARCH)-linux-gnu-ar rcs $@ $^

$(XB)/runtime/%.o: runtime/%.c $(RT_HDR)
	@mkdir -p $(@D)
	$(ARCH)-linux-gnu-gcc $(PORTFLAGS) -c -o $@ $<

# ---------------------------------------------------------------- example
# make example: examples/classify.c with a deployment build of ResNet-20
# embedding CKPT (by default the checkpoint make demo trains; trained here
# for one epoch if missing), linked statically with the portable runtime:
# build/example/classify, a binary for any x86-64 Linux.
CKPT ?= build/resnet20.safetensors
EX   := build/example
.PHONY: example run-example

example: deps
	@$(MAKE) --no-print-directory run-example

run-example: $(EX)/classify
	@tools/deploy-size.sh $(EX)/classifier.c
	@echo "example: $(EX)/classify IMAGE.pgm   ($$(stat -c %s $(EX)/classify) bytes, static)"

$(EX)/classify: examples/classify.c $(EX)/classifier.c build-portable/libskipcrt.a
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iruntime -I$(EX) -Wa,-I$(EX) -static -o $@ \
	    examples/classify.c $(EX)/classifier.c $(EX)/classifier_weights.c \
	    build-portable/libskipcrt.a -lm -lpthread

$(EX)/classifier.c: $(CKPT) $(B)/skipc
	@mkdir -p $(@D)
	$(B)/skipc specs/resnet.lua -D depth=20 -o $@ --infer --weights $(CKPT)

build/resnet20.safetensors:
	@$(MAKE) --no-print-directory build/resnet20
	build/resnet20 train --epochs 1 --threads 2 --out $@

gen: $(B)/skipc
	tools/gen-models.sh $(B)/skipc generated

check-generated: $(B)/skipc
	tools/check-generated.sh $(B)/skipc

# ---------------------------------------------------------------- tests
$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/libskipcrt.a $(DRV_OBJ)
	@mkdir -p $(@D)
	$(CC) $(RTFLAGS) $(PKG_CFLAGS) -Iruntime -Idriver -Itests -Igenerated -o $@ $< \
	    $(TEST_MODEL) $(DRV_OBJ) $(B)/libskipcrt.a $(TEST_LIBS) $(RT_LIBS)

# Driver tests that train a real network link one generated model.
$(B)/tests/test_train: $(B)/models/mlp.o
$(B)/tests/test_train: TEST_MODEL := $(B)/models/mlp.o
$(B)/tests/test_analysis: $(B)/models/resnet20.o $(B)/models/plain20.o
$(B)/tests/test_analysis: TEST_MODEL := $(B)/models/resnet20.o $(B)/models/plain20.o

# The direct convolution's portable kernels (what machines without AVX-512
# build) are tested here too: the same test, linked with them instead.
$(B)/runtime/rt_dconv_portable.o: runtime/rt_dconv.c runtime/rt.h runtime/rt_par.h runtime/rt_geom.h
	@mkdir -p $(@D)
	$(CC) $(RTFLAGS) -DRT_PORTABLE -c -o $@ $<

$(B)/tests/test_rt_dconv_portable: tests/test_rt_dconv.c $(wildcard tests/*.h) \
                                   $(B)/runtime/rt_dconv_portable.o $(B)/libskipcrt.a
	@mkdir -p $(@D)
	$(CC) $(RTFLAGS) $(PKG_CFLAGS) -Iruntime -Itests -o $@ $< \
	    $(B)/runtime/rt_dconv_portable.o $(B)/libskipcrt.a $(TEST_LIBS) $(RT_LIBS)

# The matrix product without OpenBLAS (rt_gemm.c's own, what make portable
# builds) is tested the same way.
$(B)/runtime/rt_gemm_portable.o: runtime/rt_gemm.c runtime/rt_gemm.h
	@mkdir -p $(@D)
	$(CC) $(RTFLAGS) -DRT_NO_BLAS -c -o $@ $<

$(B)/tests/test_rt_gemm_portable: tests/test_rt_gemm.c $(wildcard tests/*.h) \
                                  $(B)/runtime/rt_gemm_portable.o $(B)/libskipcrt.a
	@mkdir -p $(@D)
	$(CC) $(RTFLAGS) $(PKG_CFLAGS) -Iruntime -Itests -o $@ $< \
	    $(B)/runtime/rt_gemm_portable.o $(B)/libskipcrt.a $(TEST_LIBS) $(RT_LIBS)

# The memory-plan, shape and pass tests link the generator itself (all but its main).
GEN_TESTS := $(B)/tests/test_plan $(B)/tests/test_shape \
             $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_pass_*.c))
$(GEN_TESTS): $(B)/tests/%: tests/%.c tests/pass_util.h $(filter-out $(B)/generator/main.o,$(GEN_OBJ))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Igenerator -Itests -o $@ $< \
	    $(filter-out $(B)/generator/main.o,$(GEN_OBJ)) $(TEST_LIBS) $(GEN_LIBS)

SCRIPT_TESTS := tests/test_check_generated.sh tests/test_generator.sh tests/test_models.sh \
                tests/test_lesion.sh tests/proptest.sh tests/test_experiments.sh \
                tests/test_faults.sh tests/test_bad_input.sh tests/test_deploy.sh \
                tests/test_example.sh tests/test_torch_checkpoint.sh

# test and demo install what is missing first, then build in a second make,
# whose pkg-config flags see the installed packages.
test: deps
	@$(MAKE) --no-print-directory run-tests

# The aarch64 runtime when the cross compiler is there (the deployment test
# says loudly that it skipped the aarch64 check when it is not).
CROSS_LIB := $(if $(shell command -v aarch64-linux-gnu-gcc),build-aarch64/libskipcrt.a)

run-tests: all $(TESTS) build-portable/libskipcrt.a $(CROSS_LIB)
	tools/run-tests.sh $(TESTS) $(SCRIPT_TESTS)

COUNT ?= 1000
SEED ?= 1
proptest: deps
	@$(MAKE) --no-print-directory run-proptest

run-proptest: all $(B)/tests/test_plan
	tests/proptest.sh $(COUNT) $(SEED)

bench: deps
	@bench/setup.sh
	@$(MAKE) --no-print-directory run-bench

run-bench: all $(B)/resnet20 $(B)/resnet56 $(B)/densenet40 $(B)/resnet18 build-portable/libskipcrt.a
	bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory run-demo

run-demo: all
	tools/demo.sh

experiments: deps
	@$(MAKE) --no-print-directory run-experiments

run-experiments: all
	tools/experiments.sh

clean:
	rm -rf $(B) build-fuzz build-portable build-aarch64

# ---------------------------------------------------------------- fuzzing
# make fuzz: libFuzzer targets (tests/fuzz) for the three file loaders and
# the spec front end, which read files from anyone. Built by clang with
# ASan and UBSan into build-fuzz/, then each runs FUZZ_SECONDS on its seed
# corpus (tools/fuzz.sh). Not part of make test: it takes minutes per target.
FUZZ_SECONDS ?= 600
FZ          := build-fuzz
FUZZ_CC     := clang
FUZZ_SAN    := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -O1 -g -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L $(FUZZ_SAN)
FUZZ_TARGETS := safetensors idx npy spec
FUZZ_BINS   := $(FUZZ_TARGETS:%=$(FZ)/fuzz_%)
FUZZ_IO_OBJ := $(FZ)/driver/io_err.o $(FZ)/driver/io_atomic.o
FUZZ_GEN_OBJ := $(patsubst %.c,$(FZ)/%.o,$(filter-out generator/main.c,$(GEN_SRC)) $(GEN_SHARED)) \
                $(FZ)/generator/stdlib_lua.o

.PHONY: fuzz run-fuzz fuzz-build

fuzz: deps
	@$(MAKE) --no-print-directory run-fuzz

run-fuzz: fuzz-build
	tools/fuzz.sh $(FZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

$(FZ)/driver/%.o: driver/%.c $(wildcard driver/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(FZ)/generator/%.o: generator/%.c $(wildcard generator/*.h generator/*.def) runtime/rt_geom.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -Igenerator -Iruntime -Idriver -c -o $@ $<

$(FZ)/runtime/%.o: runtime/%.c runtime/rt.h runtime/rt_geom.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

# The block library, embedded by the build's own tool into a copy of our own,
# so this build never writes into $(B)/ while another make may be reading it.
$(FZ)/generator/stdlib_lua.c: $(B)/embed $(GEN_LIB)
	@mkdir -p $(@D)
	$(B)/embed $(GEN_LIB) > $@

$(FZ)/generator/stdlib_lua.o: $(FZ)/generator/stdlib_lua.c generator/stdlib_lua.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Igenerator -c -o $@ $<

$(FZ)/fuzz_%.o: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_file.h $(wildcard driver/*.h generator/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -Idriver -Igenerator -Itests/fuzz -c -o $@ $<

# Each target links only the code it fuzzes.
$(FZ)/fuzz_safetensors: $(FZ)/driver/io_safetensors.o $(FUZZ_IO_OBJ)
$(FZ)/fuzz_idx: $(FZ)/driver/io_idx.o $(FZ)/driver/io_err.o
$(FZ)/fuzz_npy: $(FZ)/driver/io_npy.o $(FUZZ_IO_OBJ)
$(FZ)/fuzz_spec: $(FUZZ_GEN_OBJ)
$(FZ)/fuzz_spec: FUZZ_LIBS = $(GEN_LIBS)
FUZZ_LIBS = $(RT_LIBS)
$(FUZZ_BINS): $(FZ)/fuzz_%: $(FZ)/fuzz_%.o
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)
