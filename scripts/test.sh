#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make test: every suite, in order of cost:
#   check     W=1 build, sparse, checkpatch          (scripts/check.sh)
#   balloond  the libvirt balloon agent, no VM       (tests/balloond/run.sh)
#   kunit     KUnit suites in UML, KASAN + lockdep    (scripts/kunit.sh)
#   balloon-guest  esxmm_balloon.ko in a TCG guest, ~2 min (tests/guest-balloon/run.sh)
#   testhost  integration tests on a real KVM host   (scripts/testhost.sh)
#   test-debug  fault injection on the debug kernel (KASAN, lockdep), then kmemleak
#             (scripts/test-debug.sh --ci; the kernel build is cached: 11 min cold)
# Each suite ends with "<suite>: N passed, N failed"; this script adds them
# up and ends with the line "N passed, N failed". Exit status 0 only if
# nothing failed.
set -uo pipefail
ESXMM_LOG_TAG=test
. "$(dirname "$0")/lib.sh"
cd "$ESXMM_REPO" || exit 1

"$ESXMM_REPO/scripts/deps.sh" || esxmm_die "installing dependencies failed"

total_passed=0 total_failed=0
suite() {	# suite NAME CMD...
	local name=$1 out rc line p f
	shift
	out=$(mktemp)
	echo "==== $name: $*"
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed" "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		p=0 f=1
		echo "$name: no result line (exit $rc): counted as one failure"
	else
		p=$(sed -E 's/^[^:]+: ([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/^[^:]+: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
			echo "$name: exit status $rc with no failure counted: counted as one"
		fi
	fi
	total_passed=$((total_passed + p))
	total_failed=$((total_failed + f))
}

build() {
	if make modules && make tests; then
		echo "build: 1 passed, 0 failed"
	else
		echo "build: 0 passed, 1 failed"
		return 1
	fi
}

suite check scripts/check.sh
suite build build
suite balloond tests/balloond/run.sh
suite kunit scripts/kunit.sh
suite balloon-guest tests/guest-balloon/run.sh
suite testhost scripts/testhost.sh
suite test-debug scripts/test-debug.sh --ci

echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
