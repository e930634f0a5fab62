#!/usr/bin/env bash
# tests/run-tests.sh: the test runner inside the test host (chroot into the machine's root).
#
#   insmod $REPO/esxmm/esxmm.ko                     -> ESXMM-TEST: insmod PASS|FAIL
#   for t in tests/t_*.sh (sorted), KVM_MMU=shadow   -> ESXMM-TEST: <name>[shadow] ...
#   rmmod kvm_amd; modprobe kvm_amd npt=1
#   for t with "# esxmm-test: kvm", KVM_MMU=tdp      -> ESXMM-TEST: <name>[tdp] ...
#   rmmod esxmm                                     -> ESXMM-TEST: rmmod PASS|FAIL
#   ESXMM-DONE
# On the debug test host (scripts/test-debug.sh) also, when their variables are set:
#   insmod $ESXMM_KUNIT_KO after insmod: KTAP from debugfs -> ESXMM-TEST: kunit-<suite> ...
#   kmemleak scan, clear before the tests; two scans after rmmod -> ESXMM-TEST: kmemleak ...
#
# A test exits 0 (pass), 77 (skip) or anything else (fail); a test's lines are printed with a
# "  | <name>: " prefix. Per-test timeout: 600 s, or "# esxmm-timeout: SECS" in the test file.
# Env: REPO, ESXMM_MMU (shadow|tdp|both), ESXMM_TESTMODE, ESXMM_TESTS (space-separated file
# names to run; default all), ESXMM_KO (default $REPO/esxmm/esxmm.ko), ESXMM_TIMEOUT_SCALE
# (multiplies each test's timeout; default 1), ESXMM_KUNIT_KO, ESXMM_KMEMLEAK (esxmm: fail on
# a leak report that names esxmm or an unloaded module's address; all: on any report).
set -euo pipefail

REPO=${REPO:-$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd -P)}
export REPO ESXMM_TESTBIN=$REPO/tests/build
export ESXMM_CACHE=${ESXMM_CACHE:-/var/cache/esxmm} ESXMM_TESTMODE=${ESXMM_TESTMODE:-}
MMU=${ESXMM_MMU:-both}
NPT=/sys/module/kvm_amd/parameters/npt

result() { echo "ESXMM-TEST: $1 $2"; }
now() { cut -d' ' -f1 /proc/uptime; }

cleanup() {
	local rc=$?
	[ "$rc" -eq 0 ] || result run-tests FAIL
	kvm_hold_stop
	echo "ESXMM-DONE"
	exit "$rc"
}
trap cleanup EXIT

# kvm_hold_start / kvm_hold_stop: one empty VM held while tests run, so that KVM does not
# flip the scheduler's preempt-notifier jump labels each time a test's guests come and go
# (under QEMU 7.2's TCG that patching can leave a vCPU looping on a stale int3 with
# interrupts off: tests/kvm_hold.c says what was seen).
HOLD_PID=
kvm_hold_start() {
	local i
	[ -c /dev/kvm ] && [ -x "$REPO/tests/build/kvm_hold" ] || return 0
	"$REPO/tests/build/kvm_hold" >/tmp/kvm_hold.log 2>&1 &
	HOLD_PID=$!
	for i in $(seq 50); do
		grep -q holding /tmp/kvm_hold.log && return 0
		kill -0 "$HOLD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "run-tests: kvm_hold did not start: $(cat /tmp/kvm_hold.log)"
	HOLD_PID=
}
kvm_hold_stop() {
	[ -n "$HOLD_PID" ] || return 0
	kill "$HOLD_PID" 2>/dev/null || true
	wait "$HOLD_PID" 2>/dev/null || true
	HOLD_PID=
}

# kvm_mode shadow|tdp: (re)load kvm_amd with npt=0|1 and check it took.
kvm_mode() {
	local want=N npt=0
	[ "$1" = tdp ] && want=Y npt=1
	if [ "$(cat "$NPT" 2>/dev/null)" != "$want" ]; then
		kvm_hold_stop
		rmmod kvm_amd 2>/dev/null || true
		modprobe kvm_amd npt=$npt || return 1
	fi
	[ "$(cat "$NPT")" = "$want" ] && [ -c /dev/kvm ] || return 1
	[ -n "$HOLD_PID" ] || kvm_hold_start
}

# mod_text: where the modules' code is, for reading a hung test host's stacks
# (scripts/testhost-stacks.py takes the last such line of the console).
mod_text() {
	local m line="ESXMM-MODS:"

	for m in esxmm kvm kvm_amd; do
		[ -r "/sys/module/$m/sections/.text" ] &&
			line+=" $m=$(cat "/sys/module/$m/sections/.text")"
	done
	echo "$line"
}

run_one() { # run_one FILE NAME MMU
	local f=$1 name=$2 t0 rc=0 tmo
	tmo=$(sed -n 's/^# esxmm-timeout: *\([0-9]\+\).*/\1/p' "$f" | head -n1)
	tmo=$(( ${tmo:-600} * ${ESXMM_TIMEOUT_SCALE:-1} ))
	t0=$SECONDS
	echo "==== $name (uptime $(now)s)"
	mod_text
	set +e
	(cd /tmp && KVM_MMU=$3 timeout -k 10 "${tmo:-600}" bash "$f" 2>&1) |
		sed -u "s/^/  | $name: /"
	rc=${PIPESTATUS[0]}
	set -e
	case $rc in
	0) result "$name" PASS ;;
	77) result "$name" SKIP ;;
	124|137) echo "  | $name: timed out after ${tmo:-600}s"; result "$name" FAIL ;;
	*) echo "  | $name: exit status $rc"; result "$name" FAIL ;;
	esac
	echo "==== $name: rc=$rc, $((SECONDS - t0))s"
}

# kmemleak_scan: two scans, as Documentation/dev-tools/kmemleak.rst advises (an object is
# reported once it has been unreferenced for two scans in a row and 5 s old).
KMEMLEAK=/sys/kernel/debug/kmemleak
kmemleak_scan() { echo scan >"$KMEMLEAK"; sleep 6; echo scan >"$KMEMLEAK"; }

# run_kunit KO: load a module of KUnit suites (they run at load), one result per suite.
run_kunit() {
	local d r
	if ! insmod "$1"; then result kunit-insmod FAIL; return; fi
	for d in /sys/kernel/debug/kunit/*/; do
		[ -r "$d/results" ] || continue
		sed 's/^/  | kunit: /' "$d/results"
		r=$(grep -E '^(not )?ok [0-9]+ ' "$d/results" | tail -n1)
		case $r in
		ok*) result "kunit-$(basename "$d")" PASS ;;
		*) result "kunit-$(basename "$d")" FAIL ;;
		esac
	done
	rmmod "$(basename "$1" .ko)" || result kunit-rmmod FAIL
}

echo "run-tests: kernel $(uname -r), repo $REPO, mmu=$MMU, testmode=${ESXMM_TESTMODE:-esxmm}"
if [ -n "${ESXMM_KMEMLEAK:-}" ]; then
	if [ -w "$KMEMLEAK" ]; then
		t0=$SECONDS
		kmemleak_scan && echo clear >"$KMEMLEAK"
		echo "run-tests: kmemleak: boot-time suspects cleared ($((SECONDS - t0))s)"
	else
		echo "run-tests: no $KMEMLEAK"
		result kmemleak FAIL
		ESXMM_KMEMLEAK=
	fi
fi
ko=${ESXMM_KO:-$REPO/esxmm/esxmm.ko}
loaded=0
if [ ! -f "$ko" ]; then
	echo "run-tests: $ko not built"
	if [ "$ESXMM_TESTMODE" = tmpfs ]; then result insmod SKIP; else result insmod FAIL; fi
elif insmod "$ko"; then
	loaded=1
	result insmod PASS
else
	result insmod FAIL
fi
[ -n "${ESXMM_KUNIT_KO:-}" ] && run_kunit "$ESXMM_KUNIT_KO"

tests=()
for f in "$REPO"/tests/t_*.sh; do
	[ -e "$f" ] || continue
	if [ -n "${ESXMM_TESTS:-}" ] && ! grep -qw -- "$(basename "$f")" <<<"$ESXMM_TESTS"; then
		continue
	fi
	tests+=("$f")
done
mapfile -t tests < <(printf '%s\n' "${tests[@]}" | LC_ALL=C sort)

case $MMU in both) modes=(shadow tdp) ;; *) modes=("$MMU") ;; esac
first=1
for mode in "${modes[@]}"; do
	if ! kvm_mode "$mode"; then
		echo "run-tests: cannot switch kvm_amd to $mode (npt=$(cat "$NPT" 2>/dev/null))"
		result "kvm_amd[$mode]" FAIL
		continue
	fi
	echo "run-tests: kvm_amd npt=$(cat "$NPT") for $mode"
	for f in "${tests[@]}"; do
		name=$(basename "$f" .sh)
		name=${name#t_}
		if grep -q '^# esxmm-test: kvm' "$f"; then
			run_one "$f" "${name}[$mode]" "$mode"
		elif [ "$first" = 1 ]; then
			run_one "$f" "$name" "$mode"
		fi
	done
	first=0
done
kvm_mode shadow >/dev/null 2>&1 || true
kvm_hold_stop

if [ "$loaded" = 1 ]; then
	if grep -E '^[^ ]+ [^ ]+ esxmm ' /proc/mounts; then
		echo "run-tests: esxmm mounts left behind (above)"
	fi
	if rmmod esxmm; then result rmmod PASS; else result rmmod FAIL; fi
fi
if [ -n "${ESXMM_KMEMLEAK:-}" ]; then
	t0=$SECONDS
	kmemleak_scan
	leaks=$(cat "$KMEMLEAK")
	n=$(grep -c '^unreferenced object' <<<"$leaks" || true)
	# after rmmod an esxmm frame prints as a bare address in the module area
	blocks=$(awk '/^unreferenced object/ { if (b != "") print b; b = "" } { b = b $0 " " }
		END { if (b != "") print b }' <<<"$leaks")
	nx=$(grep -cE 'esxmm|\] 0xffffffffc' <<<"$blocks" || true)
	echo "run-tests: kmemleak: $n suspected leaks, $nx of them esxmm's ($((SECONDS - t0))s)"
	[ "$n" -gt 0 ] && sed 's/^/  | kmemleak: /' "$KMEMLEAK"
	if [ "$nx" -gt 0 ] || { [ "$ESXMM_KMEMLEAK" = all ] && [ "$n" -gt 0 ]; }; then
		result kmemleak FAIL
	else
		result kmemleak PASS
	fi
fi
