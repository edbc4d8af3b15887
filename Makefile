# The shipped binaries: Embedded Swift, linked fully static against musl.
# SwiftPM (`swift build`, `swift test`) stays the glibc development build.
#
#   make                 out/dinit and out/dcrond, static and stripped
#   make install         to $(DESTDIR)$(PREFIX)/bin (default /usr/local/bin)
#   make check           the whole test suite (what CI runs), see .ci/test
#
# Needs: the Swift toolchain (with its embedded stdlib) and musl-tools.

SWIFTC   ?= swiftc
MUSLCC   ?= musl-gcc
MUSL_INC ?= /usr/include/x86_64-linux-musl
ARCH     ?= $(shell uname -m)
PREFIX   ?= /usr/local
DESTDIR  ?=
B        := .build-embedded
OUT      := out

# Each object is removed before it is compiled: swiftc was seen to leave an
# out-of-date object in place (module updated, object not) when run again.
#
# A fake sysroot whose usr/include is musl's: clang inside swiftc then reads
# musl's headers instead of glibc's, with no "libc not found" warning.
SWIFTFLAGS := -target $(ARCH)-unknown-linux-gnu \
  -enable-experimental-feature Embedded -wmo -Osize -parse-as-library \
  -Xfrontend -disable-stack-protector -Xfrontend -function-sections \
  -I Sources/CLinuxSys -I $(B) -sdk $(CURDIR)/$(B)/sysroot
LDFLAGS := -static -Wl,--gc-sections -s

LIBS := LinuxSys SupervisorCore Reactor
src = $(wildcard Sources/$(1)/*.swift)

all: $(OUT)/dinit $(OUT)/dcrond

$(B)/sysroot/usr/include:
	@mkdir -p $(B)/sysroot/usr
	ln -sfn $(MUSL_INC) $@

$(B)/LinuxSys.o: $(call src,LinuxSys) Sources/CLinuxSys/clinuxsys.h | $(B)/sysroot/usr/include
	@rm -f $@
	$(SWIFTC) $(SWIFTFLAGS) -module-name LinuxSys -emit-module -emit-module-path $(B)/LinuxSys.swiftmodule \
	  -c $(call src,LinuxSys) -o $@

$(B)/SupervisorCore.o: $(call src,SupervisorCore) | $(B)/sysroot/usr/include
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

$(B)/stubs.o: Embedded/stubs.c | $(B)/sysroot/usr/include
	$(MUSLCC) -Os -ffunction-sections -fdata-sections -c $< -o $@

$(OUT)/%: $(B)/%.main.o $(patsubst %,$(B)/%.o,$(LIBS)) $(B)/stubs.o
	@mkdir -p $(OUT)
	$(MUSLCC) $(LDFLAGS) -o $@ $^

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(OUT)/dinit $(OUT)/dcrond $(DESTDIR)$(PREFIX)/bin/

check:
	bash .ci/test

clean:
	rm -rf $(B) $(OUT)

.PHONY: all install check clean
.SECONDARY:
