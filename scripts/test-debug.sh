#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make test-debug: the integration suite on the debug test host.
#
#   scripts/debug-kernel.sh               -> $ESXMM_CACHE/debug-kernel (KDIR), when needed
#   repo Kbuild, esxmm/ --rsync--> $ESXMM_CACHE/debug-module/  -> esxmm.ko for that kernel
#   repo esxmm/, guest-driver/, kunit/ --rsync--> $ESXMM_CACHE/debug-kunit/ -> esxmm_kunit.ko
#       (the KUnit suites of kunit/ as one module, linked as kunit/Makefile.uml says: they run
#        at insmod, their KTAP is read from debugfs)
#   scripts/testhost.sh --kernel debug: the whole of tests/ (both MMU modes), the KUnit module,
#       then, after rmmod esxmm, two kmemleak scans: any suspected leak fails (ESXMM_KMEMLEAK)
#
# The repo's own esxmm/esxmm.ko (built for Debian's kernel) is not touched. --short runs only
# the tests that need no nested guest and little time (SHORT_TESTS below: what `make test`
# can afford); other options are passed to scripts/testhost.sh (e.g. --mmu shadow, --timeout
# SECS); ESXMM_TESTS and ESXMM_TEST_ENV work as there. ESXMM_KMEMLEAK=esxmm fails only on leaks that name esxmm (default: all).
# ESXMM_TIMEOUT_SCALE (default 6) multiplies each test's own timeout.
# --ci is what make test runs: t_failinject alone (FI_PROBS=1+10, FI_MIB=8), shadow MMU,
# no KUnit module (scripts/kunit.sh runs the suites under KASAN in UML), then kmemleak.
# Last line: "test-debug: N passed, N failed".
# shellcheck disable=SC2317 # the build_* functions are called through step
set -uo pipefail
ESXMM_LOG_TAG=test-debug
# shellcheck source=scripts/lib.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"
cd "$ESXMM_REPO" || exit 1

SHORT_TESTS=(t_fs.sh t_sysfs.sh t_mount.sh t_lifecycle.sh t_kvm_vmm.sh t_swap_host.sh
	t_balloon_host.sh t_fuzz_sysfs.sh t_failinject.sh)
CI_TESTS=(t_failinject.sh)
kunit=1
case ${1:-} in
--short)
	shift
	ESXMM_TESTS=${ESXMM_TESTS:-${SHORT_TESTS[*]}}
	export ESXMM_TESTS ;;
--ci)
	# What make test runs: fault injection (only this kernel has it) under KASAN and
	# lockdep, then kmemleak; the KUnit suites already run under KASAN in UML.
	shift
	ESXMM_TESTS=${ESXMM_TESTS:-${CI_TESTS[*]}}
	ESXMM_TEST_ENV="FI_PROBS=1+10 FI_MIB=8 ${ESXMM_TEST_ENV:-}"
	export ESXMM_TESTS ESXMM_TEST_ENV
	kunit=0
	set -- --mmu shadow "$@" ;;
esac

passed=0 failed=0
step() { # step NAME CMD...: a build step, counted as one test
	local name=$1 t0=$SECONDS
	shift
	if "$@"; then
		echo "test-debug: $name PASS ($((SECONDS - t0))s)"
		passed=$((passed + 1))
	else
		echo "test-debug: $name FAIL ($((SECONDS - t0))s)"
		failed=$((failed + 1))
		return 1
	fi
}
finish() {
	echo "test-debug: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

esxmm_need_pkgs rsync
kdir=$ESXMM_CACHE/debug-kernel
modsrc=$ESXMM_CACHE/debug-module
kunitsrc=$ESXMM_CACHE/debug-kunit

build_module() {
	mkdir -p "$modsrc"
	rsync -a --delete --include='*/' --include='*.[ch]' --include=Kbuild --exclude='*' \
		"$ESXMM_REPO/esxmm/" "$modsrc/esxmm/"
	cmp -s "$ESXMM_REPO/Kbuild" "$modsrc/Kbuild" || cp "$ESXMM_REPO/Kbuild" "$modsrc/Kbuild"
	nice -n 10 make -s -C "$kdir" M="$modsrc" -j"$(nproc)" modules
}

# The suites and the esxmm objects they test, linked as kunit/Makefile.uml says; in an
# external module $(src) is already the full path.
build_kunit() {
	mkdir -p "$kunitsrc"
	rsync -a --delete --include='*/' --include='*.[ch]' --exclude='*' \
		"$ESXMM_REPO/esxmm/" "$kunitsrc/esxmm/"
	rsync -a --delete --include='*.[ch]' --exclude='*' "$ESXMM_REPO/kunit/" "$kunitsrc/kunit/"
	rsync -a --delete --exclude='*.mod.c' --include='*.[ch]' --exclude='*' \
		"$ESXMM_REPO/guest-driver/" "$kunitsrc/guest-driver/"
	# shellcheck disable=SC2016 # make variables
	sed -e 's/^obj-$(CONFIG_ESXMM_KUNIT_TEST)/obj-m/' -e 's|$(srctree)/$(src)|$(src)|' \
		"$ESXMM_REPO/kunit/Makefile.uml" >"$kunitsrc/Kbuild.new"
	if cmp -s "$kunitsrc/Kbuild.new" "$kunitsrc/Kbuild"; then
		rm "$kunitsrc/Kbuild.new"
	else
		mv "$kunitsrc/Kbuild.new" "$kunitsrc/Kbuild"
	fi
	nice -n 10 make -s -C "$kdir" M="$kunitsrc" -j"$(nproc)" modules
}

build_kernel() { "$ESXMM_REPO/scripts/debug-kernel.sh" >/dev/null; }

step debug-kernel build_kernel || finish
step debug-esxmm.ko build_module || finish
kunit_env=
if [ "$kunit" = 1 ] && step debug-kunit.ko build_kunit; then
	kunit_env=ESXMM_KUNIT_KO=$kunitsrc/esxmm_kunit.ko
fi
test_env="ESXMM_KMEMLEAK=${ESXMM_KMEMLEAK:-all} ESXMM_TIMEOUT_SCALE=${ESXMM_TIMEOUT_SCALE:-6}"
test_env+=" $kunit_env ${ESXMM_TEST_ENV:-}"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
t0=$SECONDS
ESXMM_KO=$modsrc/esxmm/esxmm.ko ESXMM_TESTHOST_KERNEL=debug ESXMM_TEST_ENV=$test_env \
	"$ESXMM_REPO/scripts/testhost.sh" "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
esxmm_log "debug test host: $((SECONDS - t0))s wall; console: $ESXMM_CACHE/testhost-debug/console.log"
line=$(grep -E '^testhost: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
if [ -z "$line" ]; then
	echo "test-debug: no result line from testhost.sh (exit $rc): counted as one failure"
	failed=$((failed + 1))
else
	p=$(sed -E 's/^testhost: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/^testhost: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p)) failed=$((failed + f))
fi
finish
