# SPDX-License-Identifier: GPL-2.0
#
# esxmm out-of-tree build. `make` builds esxmm/esxmm.ko against KDIR:
# the running kernel's build tree, else the newest Debian linux-headers-*.
#
#   make            build the module          make check   W=1 + sparse + checkpatch
#   make test       check + KUnit + test host make demo    a guest on esxmm in a test host
#   make kunit      KUnit suites in UML       make bench   first-touch benchmark
#   make deps       install build/test deps   make clean
#   make tools      tools/esxmm-balloond (libvirt balloon agent)
#   make test-debug the test host suite on a debug kernel (KASAN, lockdep, kmemleak)
#   make guest-driver  guest-driver/esxmm_balloon.ko (the guest's balloon driver)

KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; \
	if [ -d $$d ]; then echo $$d; \
	else ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1; fi)

.PHONY: all modules clean check kunit testhost test test-debug demo bench deps tests tools install \
	guest-driver

all: modules

modules:
	@if [ -z "$(KDIR)" ]; then \
		echo "esxmm: no kernel headers found: run 'make deps' or set KDIR=" >&2; exit 1; fi
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install

clean:
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	rm -rf tests/build
	$(MAKE) -C tools clean
	$(MAKE) -C tests/balloond clean
	$(MAKE) -C guest-driver clean KDIR=$(KDIR)

deps:
	scripts/deps.sh

tests:
	$(MAKE) -C tests

tools:
	$(MAKE) -C tools

guest-driver:
	$(MAKE) -C guest-driver KDIR=$(KDIR)

check:
	scripts/check.sh

kunit:
	scripts/kunit.sh

testhost: modules tests
	scripts/testhost.sh

test:
	scripts/test.sh

test-debug:
	scripts/test-debug.sh

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh
