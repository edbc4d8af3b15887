# The shipped binaries: Embedded Swift, linked fully static against musl.
# SwiftPM (`swift build`, `swift test`) stays the glibc development build.
#
#   make                 out/dinit and out/dcrond for this machine, static and stripped
#   make ARCH=aarch64    cross-build into out/aarch64/ (ARCH=x86_64 on arm64:
#                        out/x86_64/); Docker's amd64 and arm64 spellings work too
#   make dist            both architectures into dist/, with dist/SHA256SUMS
#   make install         to $(DESTDIR)$(PREFIX)/bin (default /usr/local/bin)
#   make check           the whole test suite (what CI runs), see .ci/test
#
# Needs: the Swift toolchain (swiftc with its embedded stdlib, and the clang
# and ld.lld that come with it) and musl's headers, crt files and libc.a for
# each target: musl-dev (from musl-tools) natively, musl-dev:arm64 or
# musl-dev:amd64 to cross-build (`dpkg --add-architecture arm64`). No cross
# gcc and no libgcc: clang compiles the one C file, ld.lld links.
#
# Reproducible: the same commit gives byte-identical binaries wherever the
# checkout is (no source path reaches the binary, no build id, no timestamp),
# with the same toolchain and musl. .ci/test checks it.

SWIFTC  ?= swiftc
# clang and ld.lld from the Swift toolchain (they sit next to swiftc).
TOOLBIN ?= $(dir $(shell command -v $(SWIFTC)))
CLANG   ?= $(TOOLBIN)clang
LLD     ?= $(TOOLBIN)ld.lld
PREFIX  ?= /usr/local
DESTDIR ?=

NATIVE := $(shell uname -m)
ARCH   ?= $(NATIVE)
# Docker's TARGETARCH names, so that a Dockerfile can say make ARCH=$TARGETARCH.
override ARCH := $(patsubst amd64,x86_64,$(patsubst arm64,aarch64,$(ARCH)))

# One row per architecture:
#   Swift target | musl triple (clang target, include and lib dir) | lld emulation | max page size
# aarch64 has no embedded stdlib for a Linux triple, but the bare-metal one
# compiles these sources unchanged: they have no #if os(...), and musl's
# aarch64 headers do not depend on __linux__. 64 KiB-aligned LOAD segments
# load on 4K, 16K and 64K page kernels alike.
arch.x86_64  := x86_64-unknown-linux-gnu x86_64-linux-musl  elf_x86_64   4096
arch.aarch64 := aarch64-none-none-elf    aarch64-linux-musl aarch64linux 65536

row := $(arch.$(ARCH))
ifeq ($(row),)
$(error ARCH=$(ARCH): unknown architecture (known: x86_64 aarch64, or amd64 arm64))
endif
SWIFT_TARGET  := $(word 1,$(row))
MUSL_TRIPLE   := $(word 2,$(row))
LLD_EMULATION := $(word 3,$(row))
MAX_PAGE_SIZE := $(word 4,$(row))
MUSL_INC ?= /usr/include/$(MUSL_TRIPLE)
MUSL_LIB ?= /usr/lib/$(MUSL_TRIPLE)

# Objects per architecture; the native binaries stay in out/ (scripts and
# tests use out/dinit), a cross build goes to out/<arch>/.
B   := .build-embedded/$(ARCH)
OUT := $(if $(filter $(ARCH),$(NATIVE)),out,out/$(ARCH))

# Reproducibility: every absolute path of this checkout is rewritten to "."
# (swiftc's own, and clang's inside swiftc for the C module); the module
# cache lives in the build directory, not in $HOME; ld.lld writes no build
# id. Source lists are sorted: the link order is the object order.
REPRO := -file-prefix-map $(CURDIR)=. -debug-prefix-map $(CURDIR)=. \
  -Xcc -ffile-prefix-map=$(CURDIR)=. -module-cache-path $(B)/module-cache

# Each object is removed before it is compiled: swiftc was seen to leave an
# out-of-date object in place (module updated, object not) when run again.
#
# A fake sysroot whose include directories are musl's: clang inside swiftc
# then reads musl's headers instead of glibc's, with no "libc not found"
# warning. The Linux triple looks in <sysroot>/usr/include, the bare-metal
# one in <sysroot>/include: both links are made.
SWIFTFLAGS := -target $(SWIFT_TARGET) \
  -enable-experimental-feature Embedded -wmo -Osize -parse-as-library \
  -Xfrontend -disable-stack-protector -Xfrontend -function-sections \
  -I Sources/CLinuxSys -I $(B) -sdk $(CURDIR)/$(B)/sysroot $(REPRO)
CFLAGS := --target=$(MUSL_TRIPLE) -nostdlibinc -isystem $(MUSL_INC) \
  -Os -ffunction-sections -fdata-sections -ffile-prefix-map=$(CURDIR)=.
# -z norelro: a static musl binary has no dynamic loader to make the RELRO
# pages read-only (they stay writable anyway), and the separate RW segment
# it needs costs three resident pages.
LDFLAGS := -m $(LLD_EMULATION) -static --gc-sections -s --build-id=none \
  -z max-page-size=$(MAX_PAGE_SIZE) -z noexecstack -z norelro

LIBS := LinuxSys SupervisorCore Reactor
src = $(sort $(wildcard Sources/$(1)/*.swift))
SYSROOT := $(B)/sysroot/usr/include $(B)/sysroot/include

all: $(OUT)/dinit $(OUT)/dcrond

$(SYSROOT):
	@test -d $(MUSL_INC) || { echo "make: $(MUSL_INC) missing: install musl-dev for $(ARCH) (see README, Building)"; exit 1; }
	@mkdir -p $(dir $@)
	ln -sfn $(MUSL_INC) $@

$(B)/LinuxSys.o: $(call src,LinuxSys) Sources/CLinuxSys/clinuxsys.h Makefile | $(SYSROOT)
	@rm -f $@
	$(SWIFTC) $(SWIFTFLAGS) -module-name LinuxSys -emit-module -emit-module-path $(B)/LinuxSys.swiftmodule \
	  -c $(call src,LinuxSys) -o $@

$(B)/SupervisorCore.o: $(call src,SupervisorCore) Makefile | $(SYSROOT)
	@rm -f $@
	$(SWIFTC) $(SWIFTFLAGS) -module-name SupervisorCore -emit-module -emit-module-path $(B)/SupervisorCore.swiftmodule \
	  -c $(call src,SupervisorCore) -o $@

$(B)/Reactor.o: $(call src,Reactor) $(B)/LinuxSys.o $(B)/SupervisorCore.o
	@rm -f $@
	$(SWIFTC) $(SWIFTFLAGS) -module-name Reactor -emit-module -emit-module-path $(B)/Reactor.swiftmodule \
	  -c $(call src,Reactor) -o $@

$(B)/%.main.o: $(B)/Reactor.o Sources/%/*.swift
	@rm -f $@
	$(SWIFTC) $(SWIFTFLAGS) -module-name $* -c $(call src,$*) -o $@

$(B)/stubs.o: Embedded/stubs.c Makefile | $(SYSROOT)
	$(CLANG) $(CFLAGS) -c $< -o $@

# musl's static start files around the objects, then its libc. (Everything
# depends on the Makefile: a changed flag rebuilds.)
$(OUT)/%: $(B)/%.main.o $(patsubst %,$(B)/%.o,$(LIBS)) $(B)/stubs.o Makefile
	@mkdir -p $(OUT)
	$(LLD) $(LDFLAGS) -o $@ $(MUSL_LIB)/crt1.o $(MUSL_LIB)/crti.o $(filter %.o,$^) $(MUSL_LIB)/libc.a $(MUSL_LIB)/crtn.o

# Release files: both architectures under both spellings (uname -m's and
# Docker's TARGETARCH), as plain copies so that every file downloads and
# checks on its own: cd dist && LC_ALL=C sha256sum -c SHA256SUMS.
DIST_ARCHS := x86_64:amd64 aarch64:arm64

dist:
	@rm -rf dist && mkdir -p dist
	@set -e; for pair in $(DIST_ARCHS); do \
	  a=$${pair%%:*}; d=$${pair##*:}; \
	  $(MAKE) --no-print-directory ARCH=$$a; \
	  o=$$( [ "$$a" = "$(NATIVE)" ] && echo out || echo out/$$a ); \
	  for p in dinit dcrond; do \
	    cp $$o/$$p dist/$$p-$$a; cp $$o/$$p dist/$$p-$$d; \
	  done; \
	done
	cd dist && LC_ALL=C sha256sum dinit-* dcrond-* > SHA256SUMS
	@cat dist/SHA256SUMS

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(OUT)/dinit $(OUT)/dcrond $(DESTDIR)$(PREFIX)/bin/

check:
	bash .ci/test

clean:
	rm -rf .build-embedded out dist

.PHONY: all dist install check clean
.SECONDARY:
