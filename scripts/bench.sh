#!/usr/bin/env bash
# scripts/bench.sh (make bench): first-touch cost of guest RAM on esxmm against anonymous memory.
#
#   machine: scripts/bench.sh -> scripts/testhost.sh --bench --icount
#            (-icount shift=0,sleep=off: the test host's clock counts instructions, so times
#             are repeatable; only the ratio means anything, not the absolute ms)
#   test host (ESXMM_INSIDE=1): scripts/bench.sh
#       3 x { memcheck 64 MiB on memory-backend-file mem-path=/run/esxmm/bench share=on
#             memcheck 64 MiB on memory-backend-ram }          (interleaved)
#       prints each run's first-touch ms, the medians and the ratio esxmm/anon
# Not a pass/fail test (ESXMM-TEST: bench FAIL only when a run gives no result).
# Env: BENCH_MB (64), BENCH_RUNS (3), ESXMM_TESTMODE=tmpfs (a tmpfs in place of esxmm).
set -euo pipefail
if [ "${ESXMM_INSIDE:-}" != 1 ]; then
	exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/testhost.sh" --bench --icount "$@"
fi

REPO=${REPO:?}
MNT=/run/esxmm
MB=${BENCH_MB:-64}
RUNS=${BENCH_RUNS:-3}
INITRD=${ESXMM_CACHE:-/var/cache/esxmm}/guest/memcheck.cpio.gz
KVER=$(uname -r)
work=$(mktemp -d)
loaded=0 mounted=0 ok=0 qpid=
cleanup() {
	local rc=$?
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	rm -f "$MNT/bench"
	[ "$mounted" = 1 ] && umount "$MNT"
	[ "$loaded" = 1 ] && rmmod esxmm
	rm -rf "$work"
	[ "$ok" = 1 ] && echo "ESXMM-TEST: bench PASS" || echo "ESXMM-TEST: bench FAIL"
	echo ESXMM-DONE
	exit "$rc"
}
trap cleanup EXIT

if [ "${ESXMM_MMU:-shadow}" = tdp ] && [ "$(cat /sys/module/kvm_amd/parameters/npt)" != Y ]; then
	rmmod kvm_amd && modprobe kvm_amd npt=1
fi
mkdir -p "$MNT"
what=esxmm
if [ "${ESXMM_TESTMODE:-}" = tmpfs ]; then
	what=tmpfs
	mount -t tmpfs -o size=1G none "$MNT"
else
	insmod "$REPO/esxmm/esxmm.ko"
	loaded=1
	mount -t esxmm none "$MNT"
fi
mounted=1
echo "bench: kvm_amd npt=$(cat /sys/module/kvm_amd/parameters/npt), ${MB} MiB x $RUNS, $what vs anon"

run() { # run esxmm|anon -> prints first-touch ms
	local obj log=$work/guest.log line
	if [ "$1" = anon ]; then
		obj=memory-backend-ram,id=mem,size=256M
	else
		rm -f "$MNT/bench"
		obj=memory-backend-file,id=mem,size=256M,mem-path=$MNT/bench,share=on
	fi
	qemu-system-x86_64 -accel kvm -cpu host -m 256 -smp 1 -nographic -no-reboot -nodefaults \
		-serial stdio -kernel "/boot/vmlinuz-$KVER" -initrd "$INITRD" \
		-append "console=ttyS0 quiet panic=-1 mitigations=off mc_mb=$MB" \
		-object "$obj" -machine memory-backend=mem </dev/null >"$log" 2>&1 &
	qpid=$!
	wait "$qpid" || true
	qpid=
	rm -f "$MNT/bench"
	line=$(tr -d '\r' <"$log" | grep -oE 'MEMCHECK OK pages=[0-9]+ ms=[0-9]+' | tail -n1 || true)
	[ -n "$line" ] || { tail -n 20 "$log" >&2; return 1; }
	echo "${line##*ms=}"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

fs=() anon=()
for i in $(seq 1 "$RUNS"); do
	t=$SECONDS
	fs+=("$(run esxmm)")
	echo "bench: run $i $what first-touch ${fs[-1]} ms ($((SECONDS - t))s wall)"
	t=$SECONDS
	anon+=("$(run anon)")
	echo "bench: run $i anon  first-touch ${anon[-1]} ms ($((SECONDS - t))s wall)"
done
mf=$(median "${fs[@]}") ma=$(median "${anon[@]}")
echo "bench: $what ms: ${fs[*]}  median $mf"
echo "bench: anon  ms: ${anon[*]}  median $ma"
echo "bench: ratio $what/anon (median) $(awk -v a="$mf" -v b="$ma" 'BEGIN {printf "%.2f", a / b}')"
ok=1
