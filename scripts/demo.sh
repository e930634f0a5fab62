#!/usr/bin/env bash
# scripts/demo.sh (make demo): two KVM guests on esxmm files, with a live per-VM table.
#
#   machine: scripts/demo.sh  ->  scripts/testhost.sh --demo  (boots the test host)
#   test host (ESXMM_INSIDE=1): scripts/demo.sh
#       insmod esxmm.ko; mount -t esxmm none /run/esxmm
#       guest1 (256 MiB file /run/esxmm/guest1, memcheck hold: 96 MiB written, re-verified ~30 s)
#       guest2 (256 MiB file /run/esxmm/guest2, memcheck hold: 48 MiB)
#       both in share group 7, share/run=1: identical pages merge across the guests
#       every 3 s: tools/esxmm-stat (pool, sharing, id path size resident faults shared ...)
#       both guests done -> ESXMM-TEST: demo PASS|FAIL, umount, rmmod, ESXMM-DONE, power off
#
# Options on the machine are those of testhost.sh (e.g. --mmu tdp, --timeout). Env inside:
# ESXMM_TESTMODE=tmpfs runs on a tmpfs (no table), DEMO_HOLD=30 seconds of re-verification.
set -euo pipefail
if [ "${ESXMM_INSIDE:-}" != 1 ]; then
	exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/testhost.sh" --demo "$@"
fi

REPO=${REPO:?}
MNT=/run/esxmm
HOLD=${DEMO_HOLD:-30}
INITRD=${ESXMM_CACHE:-/var/cache/esxmm}/guest/memcheck.cpio.gz
KVER=$(uname -r)
work=$(mktemp -d)
pids=() loaded=0 mounted=0 ok=0
cleanup() {
	local rc=$? p
	[ -n "${hold_pid:-}" ] && kill "$hold_pid" 2>/dev/null || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -f "$MNT"/guest* 2>/dev/null || true
	[ "$mounted" = 1 ] && umount "$MNT"
	[ "$loaded" = 1 ] && rmmod esxmm
	rm -rf "$work"
	[ "$ok" = 1 ] && echo "ESXMM-TEST: demo PASS" || echo "ESXMM-TEST: demo FAIL"
	echo ESXMM-DONE
	exit "$rc"
}
trap cleanup EXIT

if [ "${ESXMM_MMU:-shadow}" = tdp ] && [ "$(cat /sys/module/kvm_amd/parameters/npt)" != Y ]; then
	rmmod kvm_amd && modprobe kvm_amd npt=1
fi
# One empty VM held throughout: guests coming and going then never flip the scheduler's
# preempt-notifier jump labels (a TCG hazard: tests/kvm_hold.c).
"$REPO/tests/build/kvm_hold" >/dev/null 2>&1 &
hold_pid=$!
mkdir -p "$MNT"
if [ "${ESXMM_TESTMODE:-}" = tmpfs ]; then
	mount -t tmpfs -o size=1G none "$MNT"
else
	insmod "$REPO/esxmm/esxmm.ko"
	loaded=1
	mount -t esxmm none "$MNT"
fi
mounted=1
echo "demo: esxmm mounted at $MNT; starting 2 guests (memcheck hold ${HOLD}s)"

guest() { # guest NAME MB
	qemu-system-x86_64 -accel kvm -cpu host -m 256 -smp 1 -nographic -no-reboot -nodefaults \
		-serial stdio -kernel "/boot/vmlinuz-$KVER" -initrd "$INITRD" \
		-append "console=ttyS0 quiet panic=-1 mitigations=off mc_mb=$2 mc_mode=hold mc_hold=$HOLD" \
		-object "memory-backend-file,id=mem,size=256M,mem-path=$MNT/$1,share=on" \
		-machine memory-backend=mem </dev/null >"$work/$1.log" 2>&1
}
guest guest1 96 &
pids+=($!)
guest guest2 48 &
pids+=($!)

# Both guests in share group 7 (they trust each other), the scanner on.
vmdir() { local d; for d in /sys/kernel/esxmm/vms/*/; do [ "$(cat "$d/path" 2>/dev/null)" = "/$1" ] && echo "$d" && return 0; done; return 1; }
if [ "${ESXMM_TESTMODE:-}" != tmpfs ]; then
	for g in guest1 guest2; do
		for _ in $(seq 100); do vmdir $g >/dev/null && break; sleep 0.2; done
		echo 7 >"$(vmdir $g)share_group"
	done
	echo 5000 >/sys/kernel/esxmm/share/pages_to_scan
	echo 1 >/sys/kernel/esxmm/share/run
	echo "demo: both guests in share group 7; page sharing on"
fi

t0=$SECONDS
running() { local p; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while running; do
	echo "---- demo t=$((SECONDS - t0))s"
	if [ "${ESXMM_TESTMODE:-}" = tmpfs ]; then
		du -k "$MNT"/guest* 2>/dev/null || true
	else
		"$REPO/tools/esxmm-stat" || true
	fi
	sleep 3
done
good=0
for g in guest1 guest2; do
	r=$(tr -d '\r' <"$work/$g.log" | grep -oE 'MEMCHECK (OK|FAIL).*' | tail -n1 || true)
	echo "demo: $g: ${r:-no result}"
	case $r in "MEMCHECK OK"*) good=$((good + 1)) ;; esac
done
echo "---- demo: after both guests exited (files kept, $((SECONDS - t0))s)"
[ "${ESXMM_TESTMODE:-}" = tmpfs ] || "$REPO/tools/esxmm-stat" || true
pids=()
[ "$good" = 2 ] && ok=1
