# posthorn — plain GNU make with pkg-config.
#
#   make            build/posthorn (optimized, with debug info)
#   make run        install missing dependencies, build, start a server in ./var
#   make check      install missing dependencies, build, run every test
#   make fuzz       run each fuzzer for FUZZ_TIME seconds
#   make bench      compare with Postfix + Dovecot (installs them)

CC      ?= cc
CLANG   ?= clang
PYTHON  ?= /usr/bin/python3
PKGS    := libevent_core libevent_pthreads libevent_openssl openssl sqlite3 \
	   libsodium inih libidn2 libcrypt zlib
# libunistring (NFC of UTF-8 local parts) has no .pc file on Debian 12.
FUZZ_TIME ?= 20
BUILD   ?= build

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wno-unused-parameter
CSTD    := -std=c17 -D_GNU_SOURCE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(WARN) -Isrc $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lunistring -lpthread

ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	      -fno-sanitize-recover=undefined

SRCS := $(shell find src -name '*.c' | sort)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))

OBJS      := $(SRCS:%.c=$(BUILD)/obj/%.o)
ASAN_OBJS := $(SRCS:%.c=$(BUILD)/asan/obj/%.o)
ASAN_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/asan/obj/%.o)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/asan/tests/%)

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)

.PHONY: all asan deps deps-check run check unit integration fuzz fuzz-smoke \
	bench soak clean

all: $(BUILD)/posthorn

$(BUILD)/posthorn: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

asan: $(BUILD)/asan/posthorn

$(BUILD)/asan/posthorn: $(ASAN_OBJS)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -Isrc $(PKG_CFLAGS) $(ASAN_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/asan/libposthorn.a: $(ASAN_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/asan/tests/%: tests/unit/%.c $(BUILD)/asan/libposthorn.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -Isrc $(PKG_CFLAGS) $(ASAN_FLAGS) -MMD -MP \
		-o $@ $< $(BUILD)/asan/libposthorn.a $(LDLIBS) -lcmocka

# Fuzzers: clang + libFuzzer, with ASan and UBSan.  The library is built
# with the same warnings as with gcc, so clang must take it cleanly too.
FUZZ_CFLAGS := $(CSTD) $(WARN) -Isrc $(PKG_CFLAGS) -g -O1 -fno-omit-frame-pointer \
	       -fsanitize=fuzzer-no-link,address,undefined

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/libposthorn.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/libposthorn.a
	@mkdir -p $(dir $@)
	$(CLANG) $(CSTD) -Isrc $(PKG_CFLAGS) -g -O1 -MMD -MP \
		-fsanitize=fuzzer,address,undefined -o $@ $< \
		$(BUILD)/fuzz/libposthorn.a $(LDLIBS)

deps:
	@tools/deps.sh build

deps-check:
	@tools/deps.sh check

run: deps
	@$(MAKE) --no-print-directory all
	@tools/run.sh

check: deps-check
	@$(MAKE) --no-print-directory all asan
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory fuzz-smoke
	@echo "make check: all passed"

unit: $(UNIT_BINS)
	@tools/run-unit.sh $(UNIT_BINS)

PYTEST_ARGS ?= .
integration: $(BUILD)/asan/posthorn $(BUILD)/posthorn
	cd tests/integration && POSTHORN_BIN=$(CURDIR)/$(BUILD)/asan/posthorn \
		POSTHORN_CRASH_BIN=$(CURDIR)/$(BUILD)/posthorn \
		$(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# A short run of every fuzzer over its corpus plus fresh inputs.
fuzz-smoke: $(FUZZ_BINS)
	@BUILD=$(BUILD) tools/run-fuzz.sh 10 $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@BUILD=$(BUILD) tools/run-fuzz.sh $(FUZZ_TIME) $(FUZZ_BINS)

bench: all
	bench/run $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(FUZZ_LIB_OBJS:.o=.d) \
	$(UNIT_BINS:=.d) $(FUZZ_BINS:=.d)
