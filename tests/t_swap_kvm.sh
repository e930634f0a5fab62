#!/usr/bin/env bash
# esxmm-test: kvm
# esxmm-timeout: 900
# SPDX-License-Identifier: GPL-2.0
#
# t_swap_kvm: KVM guests four times bigger than esxmm's pool, through swap.
# Pool 16 MiB (pool_pages=4096); each guest is kvm_vmm --swap (tests/kvm_vmm.c):
# 64 MiB written by the guest with gpa ^ seed(pass) and verified by it, pass
# after pass, then checked byte for byte through the guest, pread and the
# VMM's own mapping.
#
#   ext4 on dm (linear) on a loop device on a tmpfs file: swap through O_DIRECT
#     a  one guest, one pass (the guest writes, then verifies), then pread: runs to
#        the end, every byte right, pages_swapped_out and swapped_pages > 0
#     c  read error: the swap file's blocks switched to dm-error: the guest's touch
#        (KVM_RUN fails: esxmm gave its fault SIGBUS), the mapping's (SIGBUS) and
#        pread (EIO) all fail, "swap read error: EFAULT|SIGBUS to kvm_vmm[...]" is logged,
#        read_errors grows; switched back: every byte right
#     b  negative controls, on an 8 MiB guest (the same checks, cheaper, after g1 is
#        gone): one byte flipped by pwrite() must fail the guest's verify, pread's and
#        the mapping's; flipped back, all pass
#   a tmpfs file: swap through the page cache
#     d  two guests at once, T_SWAP_D_VCPUS vCPUs each (default 2: every vCPU writes and
#        verifies its own half, so faults race within a guest as well as across), one
#        pass each: both right
#     e  a 32 MiB guest, two passes (the second overwrites pages that are in swap)
#        while the working-set sampler marks most resident pages every 200 ms: sampled pages are swapped and come back right (from ftrace:
#        how many pages each period marked, how many swap-outs fell in them)
#     f  kill -9 of the VMM while pages_swapped_out rises, then rm of its file:
#        slots_used and allocated_pages back to their values before it
#     g  swap full: admitted with a 64 MiB swap file, which is then replaced by an
#        8 MiB one before the guest writes (swap/file may change while empty): the
#        guest needs 16384 pages and has 4096 + 2048. What happens, stated: while
#        slots are free, faults that find the pool full wait for the swapper
#        (blocked_faults); once swap is full, the fault gets SIGBUS with "pool
#        exhausted ... EFAULT to kvm_vmm[...]" in the log (KVM_RUN fails with
#        EFAULT): at once since "reclaim: do not wait for room when swap is full",
#        after a 30 s wait without any swap-out ("no room in the pool: nothing
#        swapped out for 30000 ms") before it, which
#        the test reports and accepts; nothing is lost: with a bigger
#        pool, the pages the guest wrote read back right and the rest as zeros.
#
# Every part restores the pool, the sampler and swap/file. In the TCG test host one
# sweep of a 64 MiB guest over a 16 MiB pool (16384 swap-ins and as many swap-outs)
# takes 10-20 s on an idle machine, so the parts use as few as they can; T_SWAP_PARTS
# (default "a c b d e f g" under the shadow MMU, "a d f" under TDP, or "+"-separated)
# picks parts (a always runs: c needs what it leaves).
#
# This test used to stall the whole test host now and then (in part b, once in part g):
# not esxmm but QEMU's TCG, which left both vCPUs looping on a stale int3 at the
# scheduler's preempt-notifier jump label that KVM flips as the first VM starts and the
# last one stops; run-tests.sh now holds one VM for the whole run (tests/kvm_hold.c).
# Part b runs several such short VMMs in a row: T_SWAP_B_ITERS=N repeats it.
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"

testmode_tmpfs && skip "esxmm only: tmpfs does not swap"
[ -c /dev/kvm ] || skip "no /dev/kvm"
S=$ESXMM_SYSFS
SW=$S/swap
VMM=$ESXMM_TESTBIN/kvm_vmm
[ -x "$VMM" ] || fail "$VMM not built"
for t in losetup dmsetup mkfs.ext4 filefrag blockdev; do
	command -v "$t" >/dev/null || fail "$t missing (scripts/lib.sh esxmm_need_testhost_pkgs)"
done
# Under TDP the default is a, d and f (the MMU-dependent paths), to keep make test short.
if [ "${KVM_MMU:-shadow}" = tdp ]; then PARTS=${T_SWAP_PARTS:-a d f}; else PARTS=${T_SWAP_PARTS:-a c b d e f g}; fi
PARTS=${PARTS//+/ }
POOL=4096
MIB=64
D_VCPUS=${T_SWAP_D_VCPUS:-2}
log "t_swap_kvm: KVM_MMU=$KVM_MMU npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null || echo ?)"

pool0=$(cat $S/pool_pages)
period0=$(cat $S/sample/period_millisecs) spages0=$(cat $S/sample/sample_pages)
[ "$(cat $SW/file)" = none ] || fail "swap/file is $(cat $SW/file) at start"
at_exit "echo $pool0 >$S/pool_pages; echo $period0 >$S/sample/period_millisecs;" \
	"echo $spages0 >$S/sample/sample_pages"
at_exit "echo none >$SW/file"
work=$(mktemp -d /tmp/t_swap_kvm.XXXXXX)
at_exit "rm -rf '$work'"
mount_esxmm
at_exit "rm -f '$MNT'/g*"
echo $POOL >$S/pool_pages

sw() { cat "$SW/$1"; }
# For wait_for, which runs its command again each time: compare a counter now.
sw_is() { [ "$(sw "$1")" = "$2" ]; }
sw_above() { [ "$(sw "$1")" -gt "$2" ]; }
alloc_is() { [ "$(cat $S/allocated_pages)" = "$1" ]; }
part() { [[ " $PARTS " = *" $1 "* ]]; }
tpart=$SECONDS
done_part() { log "part $1: $((SECONDS - tpart))s"; tpart=$SECONDS; }
# mkswapfile PATH MIB: a preallocated, root-only swap file.
mkswapfile() {
	dd if=/dev/zero of="$1" bs=1M count="$2" status=none conv=fsync || return 1
	chmod 0600 "$1"
}
swap_on() { echo "$1" >$SW/file || fail "swap/file refused $1"; }
# stuck PID: what PID's threads, esxmm's threads and the counters are doing.
stuck() {
	local t d
	for t in /proc/"$1"/task/* $(pgrep esxmm_ | sed 's|^|/proc/|'); do
		log "  $(cat "$t/comm" 2>/dev/null) ${t#/proc/}: $(grep State: "$t/status" 2>/dev/null)" \
			"wchan $(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/      /' "$t/stack" 2>/dev/null || true
	done
	# Every CPU's backtrace and the blocked tasks, on the console.
	echo 1 >/proc/sys/kernel/sysrq
	echo l >/proc/sysrq-trigger
	echo w >/proc/sysrq-trigger
	log "  pool $(cat $S/pool_pages) allocated $(cat $S/allocated_pages) state $(cat $S/state)" \
		"slots $(sw slots_used)/$(sw slots_total) out $(sw pages_swapped_out) in $(sw pages_swapped_in)"
	for d in "$S"/vms/*/; do
		log "  vm $(cat "$d/path"): resident $(cat "$d/resident_pages") swapped" \
			"$(cat "$d/swapped_pages") blocked_faults $(cat "$d/blocked_faults")"
	done
}
# vmm LOG ARGS...: kvm_vmm --swap ARGS, its output in LOG and, prefixed, here. A run that
# takes more than VMM_TIMEOUT s is reported (stuck) and killed.
VMM_TIMEOUT=${T_SWAP_VMM_TIMEOUT:-300}
vmm() {
	local out=$1 rc=0 pid t0=$SECONDS
	shift
	"$VMM" --swap "$@" >"$out" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if (( SECONDS - t0 > VMM_TIMEOUT )); then
			log "kvm_vmm --swap $* still running after ${VMM_TIMEOUT}s:"
			sed 's/^/    /' "$out"
			stuck "$pid"
			kill -9 "$pid"
			wait "$pid" 2>/dev/null
			fail "kvm_vmm --swap $* stuck"
		fi
		sleep 0.2
	done
	wait "$pid" || rc=$?
	sed 's/^/    /' "$out"
	return "$rc"
}

# ---- ext4 on dm-linear on loop ---------------------------------------------------------
for m in loop dm-mod ext4; do modprobe "$m" || fail "modprobe $m"; done
export DM_DISABLE_UDEV=1
dmname=esxmm-swap-$$
truncate -s 160M /dev/shm/t_swap_kvm.img
at_exit "rm -f /dev/shm/t_swap_kvm.img"
loop=$(losetup -f --show /dev/shm/t_swap_kvm.img) || fail "losetup"
at_exit "losetup -d $loop"
sectors=$(blockdev --getsz "$loop")
dmsetup create "$dmname" --noudevsync --table "0 $sectors linear $loop 0" || fail "dmsetup create"
at_exit "dmsetup remove --noudevsync $dmname"
dev=/dev/mapper/$dmname
[ -b "$dev" ] || dmsetup mknodes "$dmname"
[ -b "$dev" ] || fail "no $dev"
mkfs.ext4 -q -F -b 4096 -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$dev" || fail "mkfs.ext4"
mkdir "$work/ext4"
mount -t ext4 "$dev" "$work/ext4" || fail "mount ext4"
at_exit "umount '$work/ext4'"
# On the way out: guests' files first (their slots), then swap off, then umount.
at_exit "echo none >$SW/file"
at_exit "rm -f '$MNT'/g*"
eswap=$work/ext4/swap
mkswapfile "$eswap" 96 || fail "cannot write $eswap"
sync

# error_table: the live table with the swap file's extents on dm-error instead.
error_table() {
	filefrag -v "$eswap" |
		sed -n 's/^ *[0-9]\+: *[0-9]\+\.\. *[0-9]\+: *\([0-9]\+\)\.\. *\([0-9]\+\):.*/\1 \2/p' |
		sort -n | awk -v total="$sectors" -v loop="$loop" '
		{ s = $1 * 8; e = ($2 + 1) * 8
		  if (s > pos) printf "%d %d linear %s %d\n", pos, s - pos, loop, pos
		  printf "%d %d error\n", s, e - s; pos = e; n++ }
		END { if (pos < total) printf "%d %d linear %s %d\n", pos, total - pos, loop, pos
		      if (!n) exit 1 }'
}
dm_table() { # dm_table FILE: make FILE's table live
	dmsetup reload --noudevsync "$dmname" "$1" && dmsetup resume --noudevsync "$dmname"
}

swap_on "$eswap"
dmesg | tail -n 5 | grep -q "swap: $eswap on, $((96 * 256)) slots\$" ||
	fail "no 'swap: $eswap on, $((96 * 256)) slots' (without '(buffered)': O_DIRECT) in the log"
log "swap on $eswap (ext4 on $dev, O_DIRECT): $(sw slots_total) slots"

# ---- a: one guest ------------------------------------------------------------------------
out0=$(sw pages_swapped_out) in0=$(sw pages_swapped_in)
we0=$(sw write_errors) re0=$(sw read_errors)
vmm "$work/a.log" "$MNT/g1" $MIB 1 --check pread || fail "a: kvm_vmm --swap $MNT/g1 $MIB 1 failed"
grep -q '^KVM_SWAP OK' "$work/a.log" || fail "a: no KVM_SWAP OK"
vd=$(vm_dir_for /g1) || fail "a: no vms/<id> for /g1"
out=$(( $(sw pages_swapped_out) - out0 )) in=$(( $(sw pages_swapped_in) - in0 ))
log "a: out $out in $in; g1 resident $(cat "$vd/resident_pages") swapped $(cat "$vd/swapped_pages")" \
	"blocked_faults $(cat "$vd/blocked_faults"); slots_used $(sw slots_used); allocated $(cat $S/allocated_pages)"
[ "$out" -gt 0 ] || fail "a: pages_swapped_out did not grow"
[ "$in" -gt 0 ] || fail "a: pages_swapped_in did not grow"
[ "$(cat "$vd/swapped_pages")" -gt 0 ] || fail "a: g1 has no page in swap"
[ "$(cat "$vd/swapped_pages")" -eq "$(sw slots_used)" ] ||
	fail "a: swapped_pages $(cat "$vd/swapped_pages") != slots_used $(sw slots_used)"
[ "$(cat $S/allocated_pages)" -le $POOL ] || fail "a: allocated $(cat $S/allocated_pages) > pool $POOL"
[ "$(sw write_errors)/$(sw read_errors)" = "$we0/$re0" ] || fail "a: I/O errors"
done_part a

# ---- c: read errors -------------------------------------------------------------------------
if part c; then
	[ "$(cat "$vd/swapped_pages")" -gt 0 ] || fail "c: g1 has nothing in swap"
	dmsetup table "$dmname" >"$work/linear.table"
	error_table >"$work/error.table" || fail "c: no extents for $eswap"
	# Room in the pool, so that a touch reads its slot at once and nothing is written.
	echo 32768 >$S/pool_pages
	re0=$(sw read_errors)
	klog_mark "c start"
	dm_table "$work/error.table" || fail "c: cannot load the error table"
	at_exit "dmsetup reload --noudevsync $dmname '$work/linear.table'; dmsetup resume --noudevsync $dmname"
	log "c: swap file blocks on dm-error: $(grep -c error "$work/error.table") extent(s)"
	vmm "$work/c1.log" "$MNT/g1" $MIB 0 --seed 1 --check guest && fail "c: the guest read swapped pages through dm-error"
	grep -q 'KVM_RUN: Bad address' "$work/c1.log" || fail "c: KVM_RUN did not fail with EFAULT"
	pid=$(sed -n 's/.* pid=\([0-9]*\)$/\1/p' "$work/c1.log")
	klog_since "c start" | grep -q "swap read error: \(SIGBUS\|EFAULT\) to kvm_vmm\[$pid\] at page [0-9]* of g1\$" ||
		fail "c: no 'swap read error: SIGBUS|EFAULT to kvm_vmm[$pid]' log line"
	rc=0
	vmm "$work/c2.log" "$MNT/g1" $MIB 0 --seed 1 --check mmap || rc=$?
	[ "$rc" -eq $((128 + 7)) ] || fail "c: the VMM's own touch: exit $rc, want death by SIGBUS (135)"
	grep -q 'SIGBUS on the host mapping at file offset' "$work/c2.log" || fail "c: no SIGBUS report"
	vmm "$work/c3.log" "$MNT/g1" $MIB 0 --seed 1 --check pread && fail "c: pread read through dm-error"
	grep -q 'Input/output error' "$work/c3.log" || fail "c: pread did not fail with EIO"
	re=$(( $(sw read_errors) - re0 ))
	log "c: read_errors +$re, swapped_pages $(cat "$vd/swapped_pages")"
	[ "$re" -ge 3 ] || fail "c: read_errors grew by $re, want >= 3"
	dm_table "$work/linear.table" || fail "c: cannot load the linear table back"
	vmm "$work/c4.log" "$MNT/g1" $MIB 0 --seed 1 || fail "c: g1 not right after the errors"
	done_part c
fi
rm -f "$MNT/g1"
echo $POOL >$S/pool_pages
wait_for 10 0.2 sw_is slots_used 0 || fail "slots_used $(sw slots_used) after rm of g1"

# ---- b: negative controls: the checks can fail --------------------------------------------
for iter in $(seq "${T_SWAP_B_ITERS:-1}"); do
if part b; then
	[ "$iter" = 1 ] || log "part b, round $iter"
	x=$((6 << 20 | 0x1235)) y=$((3 << 20 | 0x2b6))
	vmm "$work/b0.log" "$MNT/g0" 8 1 --check pread || fail "b: kvm_vmm on g0 failed"
	vmm "$work/b1.log" "$MNT/g0" 8 0 --corrupt $x --check guest &&
		fail "b: the guest's verify missed a flipped byte"
	grep -q 'final guest verify: 1 of' "$work/b1.log" || fail "b: the guest did not find exactly 1 dword"
	vmm "$work/b2.log" "$MNT/g0" 8 0 --corrupt $y --check pread &&
		fail "b: pread's check missed a flipped byte"
	grep -q "pread: file offset $(printf '0x%x' $((y & ~3))) " "$work/b2.log" ||
		fail "b: pread's check did not name offset $(printf '0x%x' $((y & ~3)))"
	vmm "$work/b3.log" "$MNT/g0" 8 0 --corrupt $y --check mmap &&
		fail "b: the mapping's check missed a flipped byte"
	grep -q "host mapping: file offset $(printf '0x%x' $((x & ~3))) " "$work/b3.log" ||
		fail "b: the mapping's check did not name offset $(printf '0x%x' $((x & ~3)))"
	vmm "$work/b4.log" "$MNT/g0" 8 0 --corrupt $x --check guest,pread,mmap ||
		fail "b: g0 not right after flipping both bytes back"
	rm -f "$MNT/g0"
	done_part b
fi
done
echo none >$SW/file || fail "swap off with no page in it"

# ---- on a tmpfs file: through the page cache ------------------------------------------------
tswap=$work/tswap
mkswapfile "$tswap" 160 || fail "cannot write $tswap"
swap_on "$tswap"
dmesg | tail -n 5 | grep -q "swap: $tswap on, $((160 * 256)) slots (buffered)" ||
	fail "no 'swap: $tswap on ... (buffered)' in the log"
log "swap on $tswap (tmpfs, buffered): $(sw slots_total) slots"

# ---- d: two guests at once ---------------------------------------------------------------
if part d; then
	out0=$(sw pages_swapped_out)
	vmm "$work/d2.log" "$MNT/g2" $MIB 1 --check none --vcpus "$D_VCPUS" >/dev/null & p2=$!
	vmm "$work/d3.log" "$MNT/g3" $MIB 1 --check none --vcpus "$D_VCPUS" >/dev/null & p3=$!
	r2=0 r3=0
	wait $p2 || r2=$?
	wait $p3 || r3=$?
	grep -E '^(pass|check|KVM_SWAP|.*FAIL)' "$work/d2.log" | sed 's/^/    g2: /'
	grep -E '^(pass|check|KVM_SWAP|.*FAIL)' "$work/d3.log" | sed 's/^/    g3: /'
	[ "$r2/$r3" = 0/0 ] || fail "d: kvm_vmm exit $r2 (g2), $r3 (g3)"
	s2=$(cat "$(vm_dir_for /g2)/swapped_pages") s3=$(cat "$(vm_dir_for /g3)/swapped_pages")
	log "d: out +$(( $(sw pages_swapped_out) - out0 )); swapped g2 $s2 g3 $s3; slots_used $(sw slots_used)"
	{ [ "$s2" -gt 0 ] && [ "$s3" -gt 0 ]; } || fail "d: a guest with nothing in swap"
	[ $((s2 + s3)) -eq "$(sw slots_used)" ] || fail "d: swapped_pages $s2 + $s3 != slots_used"
	rm -f "$MNT/g2" "$MNT/g3"
	wait_for 10 0.2 sw_is slots_used 0 || fail "d: slots_used $(sw slots_used) after rm"
	done_part d
fi

# ---- e: sampled pages swapped ---------------------------------------------------------------
if part e; then
	TR=/sys/kernel/tracing
	[ -d "$TR/events" ] || mount -t tracefs nodev "$TR" 2>/dev/null || true
	tr_ok=0
	if [ -d "$TR/events/esxmm/swap_out" ]; then
		echo 0 >"$TR/tracing_on"
		echo >"$TR/trace"
		echo 1 >"$TR/events/esxmm/swap_out/enable"
		echo 1 >"$TR/events/esxmm/sample_period/enable"
		at_exit "echo 0 >$TR/events/esxmm/swap_out/enable; echo 0 >$TR/events/esxmm/sample_period/enable"
		echo 1 >"$TR/tracing_on"
		tr_ok=1
	fi
	echo 200 >$S/sample/period_millisecs
	echo 3000 >$S/sample/sample_pages
	vmm "$work/e.log" "$MNT/g4" 32 2 --check none || fail "e: kvm_vmm under sampling failed"
	echo "$period0" >$S/sample/period_millisecs
	echo "$spages0" >$S/sample/sample_pages
	id=$(basename "$(vm_dir_for /g4)")
	if [ "$tr_ok" = 1 ]; then
		echo 0 >"$TR/tracing_on"
		echo 0 >"$TR/events/esxmm/swap_out/enable"
		echo 0 >"$TR/events/esxmm/sample_period/enable"
		# Periods of g4 with their sample counts, and the swap-outs of g4 inside them.
		# A period's event comes at its end: the swap-outs before it count for it.
		read -r periods mean_n outs < <(awk -v id="$id" '
			/ swap_out: / && $0 ~ (" vm=" id " ") { cur++ }
			/ sample_period: / && $0 ~ (" vm=" id " ") {
				for (i = 1; i <= NF; i++) if ($i ~ /^n=/) n = substr($i, 3) + 0
				if (n > 0) { p++; sum += n; o += cur }
				cur = 0 }
			END { printf "%d %d %d\n", p, p ? sum / p : 0, o }' "$TR/trace")
		echo >"$TR/trace"
		log "e: $periods sampling periods of g4, ${mean_n} of its ~$POOL resident pages marked" \
			"in each; $outs swap-outs while they were marked"
		[ "$periods" -ge 2 ] || fail "e: fewer than 2 sampling periods during the run"
		[ "$mean_n" -ge $((POOL / 4)) ] || fail "e: only $mean_n pages sampled per period"
		[ "$outs" -gt 0 ] || fail "e: no swap-out during a sampling period"
	fi
	rm -f "$MNT/g4"
	done_part e
fi

# ---- f: kill -9 mid-swap --------------------------------------------------------------------
if part f; then
	wait_for 10 0.2 sw_is slots_used 0 || fail "f: slots in use before"
	slots_base=$(sw slots_used) alloc_base=$(cat $S/allocated_pages)
	"$VMM" --swap "$MNT/g5" $MIB 1000 >"$work/f.log" 2>&1 & pf=$!
	at_exit "kill -9 $pf 2>/dev/null; wait $pf 2>/dev/null"
	o0=$(sw pages_swapped_out)
	wait_for 120 0.2 sw_above pages_swapped_out $((o0 + 2000)) ||
		fail "f: pages_swapped_out did not rise by 2000 in 120 s"
	o1=$(sw pages_swapped_out)
	wait_for 30 0.1 sw_above pages_swapped_out "$o1" || fail "f: swapping stopped"
	kill -9 $pf
	wait $pf 2>/dev/null || true
	log "f: killed kvm_vmm after $(( $(sw pages_swapped_out) - o0 )) swap-outs (passes:" \
		"$(grep -c '^pass' "$work/f.log")); slots_used $(sw slots_used), allocated $(cat $S/allocated_pages)"
	rm -f "$MNT/g5"
	wait_for 20 0.2 sw_is slots_used "$slots_base" ||
		fail "f: slots_used $(sw slots_used) after rm, was $slots_base"
	wait_for 20 0.2 alloc_is "$alloc_base" ||
		fail "f: allocated_pages $(cat $S/allocated_pages) after rm, was $alloc_base"
	done_part f
fi

# ---- g: swap full -----------------------------------------------------------------------------
if part g; then
	wait_for 10 0.2 sw_is slots_used 0 || fail "g: slots in use before"
	"$VMM" --swap "$MNT/g6" $MIB 1 --wait usr1 >"$work/g.log" 2>&1 & pg=$!
	at_exit "kill -9 $pg 2>/dev/null; wait $pg 2>/dev/null"
	wait_for 30 0.1 grep -q 'ready, waiting' "$work/g.log" || { cat "$work/g.log"; fail "g: kvm_vmm not ready"; }
	small=$work/tswap-small
	mkswapfile "$small" 8 || fail "cannot write $small"
	swap_on "$small"
	vd=$(vm_dir_for /g6) || fail "g: no vms/<id> for /g6"
	klog_mark "g start"
	t=$SECONDS
	kill -USR1 $pg
	rc=0
	wait $pg || rc=$?
	sed 's/^/    /' "$work/g.log"
	log "g: kvm_vmm exit $rc after $((SECONDS - t))s; resident $(cat "$vd/resident_pages")" \
		"swapped $(cat "$vd/swapped_pages") blocked_faults $(cat "$vd/blocked_faults");" \
		"slots $(sw slots_used)/$(sw slots_total)"
	[ "$rc" -ne 0 ] || fail "g: the guest ran to the end in 6144 pages of pool and swap"
	grep -q 'KVM_RUN: Bad address' "$work/g.log" || fail "g: not the fault's SIGBUS (KVM_RUN EFAULT)"
	line=$(klog_since "g start" | grep -o "pool exhausted ($POOL pages): EFAULT to kvm_vmm\[$pg\] at page [0-9]* of g6\$" | head -n1)
	[ -n "$line" ] || fail "g: no 'pool exhausted ($POOL pages): EFAULT to kvm_vmm[$pg]' log line"
	log "g: log: $line"
	if klog_since "g start" | grep -q "no room in the pool: nothing swapped out"; then
		log "g: the full-swap fault waited 30 s without a swap-out, then failed"
	else
		log "g: the full-swap fault failed without waiting (no free slot)"
	fi
	[ "$(cat "$vd/blocked_faults")" -gt 0 ] || fail "g: blocked_faults 0: no fault waited for the swapper"
	[ "$(sw slots_used)" -eq "$(sw slots_total)" ] || fail "g: swap not full"
	page=${line##*at page }
	page=${page%% *}
	# Nothing lost: what the guest wrote before page $page, zeros from there.
	echo 32768 >$S/pool_pages
	vmm "$work/g2.log" "$MNT/g6" $MIB 0 --seed 1 --written "$page" ||
		fail "g: pages 0..$((page - 1)) not as written, or the rest not zero"
	echo $POOL >$S/pool_pages
	rm -f "$MNT/g6"
	wait_for 10 0.2 sw_is slots_used 0 || fail "g: slots_used $(sw slots_used) after rm"
	done_part g
fi
echo none >$SW/file || fail "swap off at the end"
log "t_swap_kvm: all parts passed ($PARTS), $(sw pages_swapped_out) out, $(sw pages_swapped_in) in"
