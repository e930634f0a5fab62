#!/usr/bin/env bash
# esxmm-timeout: 1500
# SPDX-License-Identifier: GPL-2.0
#
# t_failinject: allocation failures injected into esxmm's paths, guest memory checked after.
# Needs a kernel with FAILSLAB and FAIL_PAGE_ALLOC (the debug test host: make test-debug);
# skips on Debian's kernel, which has neither.
#
# Two KVM guests (kvm_vmm --swap, MIB each, the same contents, in one share group) on a pool
# smaller than their sum, with swap on a tmpfs file, the scanner merging at full rate and the
# sampler running. First, without failures, both guests write their pattern. Then for each
# probability of FI_PROBS (percent): failslab and fail_page_alloc are armed for the tasks
# marked make-it-fail (task-filter; GFP_KERNEL and order-0 allocations included), which are
# esxmm's three threads (esxmm_share: merges and COW copies; esxmm_swapd: swap writes into
# tmpfs, freezes; esxmm_sample), the two VMMs once their files are mapped (faults, COW breaks,
# swap-ins, KVM's own allocations), and tests/fi_ops.c doing mkdir, create, ftruncate,
# pwrite, pread, fallocate, unlink, mmap writes, sysfs writes and mounts. guest a rewrites the same pattern and verifies it,
# guest b verifies; either may die of an allocation failure (KVM_RUN ENOMEM, SIGBUS with
# "no memory" or "cannot break a share" in the log): that is a clean failure. Then failures
# are disarmed and both files must hold every byte of the pattern, through a guest's verify,
# pread and the VMM's mapping. At the end, every file removed: allocated_pages, slots_used
# and vms_count back to their values before the test. The sweep must have injected failures
# (failslab's and fail_page_alloc's `times` count down) and at least one must have reached
# esxmm (one of its failure log lines). kmemleak and the console's splat scan (make
# test-debug) judge the rest.
#   FI_PROBS (default "1 5 25", or "+"-separated), FI_MIB (default 8), FI_SEED (fi_ops' op sequences).
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"
[ -c /dev/kvm ] || skip "no /dev/kvm"
DBG=/sys/kernel/debug
mountpoint -q $DBG || mount -t debugfs none $DBG 2>/dev/null || true
FS=$DBG/failslab FP=$DBG/fail_page_alloc
if [ ! -d $FS ] || [ ! -d $FP ]; then
	skip "no failslab/fail_page_alloc in this kernel (the debug test host has them: make test-debug)"
fi
S=$ESXMM_SYSFS
PROBS=${FI_PROBS:-1 5 25}
PROBS=${PROBS//+/ }
MIB=${FI_MIB:-8}
PAGES=$((MIB * 256))
seed=${FI_SEED:-$(( $(date +%s) % 100000 ))}
log "failinject: probabilities '$PROBS' %, guests ${MIB} MiB x 2, pool $((PAGES * 3 / 2)) pages," \
	"fi_ops seed $seed (FI_SEED=$seed to replay)"

# Everything the marked tasks touch lives on a tmpfs of its own: their binaries (static, so
# exec needs no library), their logs and the swap file. A failure injected into the 9p client
# that serves the test host's root (a marked task faulting in a page of a binary read over
# 9p) broke every later exec in the whole test host in an early version of this test.
work=$(mktemp -d /tmp/t_failinject.XXXXXX)
at_exit "rm -rf '$work'"
mount -t tmpfs -o size=$((MIB * 16 + 64))m none "$work" || fail "tmpfs on $work"
at_exit "umount '$work'"
cp "$ESXMM_TESTBIN/static/kvm_vmm" "$ESXMM_TESTBIN/static/fi_ops" "$work/" ||
	fail "no static kvm_vmm/fi_ops in $ESXMM_TESTBIN/static (make tests)"
VMM=$work/kvm_vmm
saved=""
for f in pool_pages share/run share/pages_to_scan share/sleep_millisecs sample/period_millisecs; do
	saved+="echo $(cat $S/$f) >$S/$f; "
done
at_exit "$saved echo none >$S/swap/file"
alloc0=$(cat $S/allocated_pages) vms0=$(cat $S/vms_count)

# ---- fault injection knobs: armed only for tasks with make-it-fail ---------------------
TIMES=1000000
for d in $FS $FP; do
	echo 0 >"$d/probability"
	echo 1 >"$d/interval"
	echo $TIMES >"$d/times"
	echo 0 >"$d/space"
	echo 0 >"$d/verbose"
	echo Y >"$d/task-filter"
	echo N >"$d/ignore-gfp-wait"
done
echo N >$FP/ignore-gfp-highmem
echo 0 >$FP/min-order
at_exit "echo 0 >$FS/probability; echo 0 >$FP/probability; echo -1 >$FS/times; echo -1 >$FP/times"
kthreads() { pgrep -x 'esxmm_share|esxmm_swapd|esxmm_sample'; }
mark_kthreads() { local p; for p in $(kthreads); do echo "$1" >"/proc/$p/make-it-fail"; done; }
at_exit "for p in \$(pgrep -x 'esxmm_share|esxmm_swapd|esxmm_sample'); do echo 0 >/proc/\$p/make-it-fail; done"
[ "$(kthreads | wc -l)" = 3 ] || fail "want 3 esxmm threads, found: $(kthreads | tr '\n' ' ')"
injected() { echo $(( 2 * TIMES - $(cat $FS/times) - $(cat $FP/times) )); }
arm() { echo "$1" >$FS/probability; echo "$1" >$FP/probability; }

# ---- guests -------------------------------------------------------------------------------
dd if=/dev/zero of="$work/swap" bs=1M count=$((MIB * 8)) status=none
chmod 0600 "$work/swap"
echo "$work/swap" >$S/swap/file || fail "swap on"
mount_esxmm
at_exit "rm -rf '$MNT'/*"
at_exit "pkill -9 -f '^$work/kvm_vmm' 2>/dev/null; sleep 0.5"
POOL=$((PAGES * 3 / 2))
echo $POOL >$S/pool_pages
echo 2000 >$S/share/pages_to_scan
echo 0 >$S/share/sleep_millisecs
echo 1 >$S/share/run
echo 200 >$S/sample/period_millisecs

# vmm LOG ARGS...: kvm_vmm --swap ARGS without failures; its status.
vmm() {
	local out=$1
	shift
	"$VMM" --swap "$@" >"$out" 2>&1
}
# vmm_failing LOG ARGS...: kvm_vmm --swap ARGS --wait usr1 in the background, marked
# make-it-fail once its file is mapped; sets VPID.
vmm_failing() {
	local out=$1 i
	shift
	"$VMM" --swap "$@" --wait usr1 >"$out" 2>&1 &
	VPID=$!
	for i in $(seq 600); do
		grep -q 'waiting for SIGUSR1' "$out" && break
		kill -0 $VPID 2>/dev/null || fail "kvm_vmm $* died before it was ready: $(tail -n 3 "$out")"
		sleep 0.1
	done
	grep -q 'waiting for SIGUSR1' "$out" || fail "kvm_vmm $* not ready in 60 s"
	echo 1 >/proc/$VPID/make-it-fail
	kill -USR1 $VPID
}
for g in a b; do
	vmm "$work/$g.0.log" "$MNT/$g" $MIB 1 || fail "$g: first write: $(tail -n 3 "$work/$g.0.log")"
	d=$(vm_dir_for /$g) || fail "no vms/<id> for /$g"
	echo 5 >"$d/share_group"
done
log "written: allocated $(cat $S/allocated_pages), slots_used $(cat $S/swap/slots_used)," \
	"shared $(cat $S/share/pages_sharing), swapped out $(cat $S/swap/pages_swapped_out)"

# The tasks marked make-it-fail, as "pid comm" lines (none but ours may be).
marked() {
	local f p
	for f in /proc/[0-9]*/make-it-fail; do
		[ "$(cat "$f" 2>/dev/null)" = 1 ] || continue
		p=${f#/proc/}
		p=${p%%/*}
		echo "$p $(cat "/proc/$p/comm" 2>/dev/null)"
	done
}
mkdir "$MNT/ops"

# outcome LOG RC: how a marked VMM ended
outcome() {
	if [ "$2" = 0 ]; then tail -n 1 "$1"; else echo "rc $2, $(grep -m1 -o 'FAIL: .*' "$1" || tail -n 1 "$1")"; fi
}
any_esxmm=0
for p in $PROBS; do
	klog_mark "p=$p"
	inj0=$(injected) we0=$(cat $S/swap/write_errors)
	arm "$p"
	mark_kthreads 1
	vmm_failing "$work/a.$p.log" "$MNT/a" $MIB 1
	apid=$VPID
	vmm_failing "$work/b.$p.log" "$MNT/b" $MIB 0 --seed 1 --check guest,mmap
	bpid=$VPID
	"$work/fi_ops" "$MNT/ops" $POOL 300 $((seed + p)) >"$work/ops.$p.log" 2>&1 ||
		fail "p=$p: fi_ops: $(cat "$work/ops.$p.log")"
	rca=0 rcb=0
	t0=$SECONDS
	while kill -0 $apid 2>/dev/null || kill -0 $bpid 2>/dev/null; do
		(( SECONDS - t0 < 600 )) || fail "p=$p: a VMM still running 600 s after the shell's ops (hung?)"
		sleep 0.5
	done
	wait $apid || rca=$?
	wait $bpid || rcb=$?
	arm 0
	mark_kthreads 0
	left=$(marked)
	[ -z "$left" ] || fail "p=$p: tasks still marked make-it-fail: $left"
	inj=$(( $(injected) - inj0 ))
	echo $POOL >$S/pool_pages
	# What reached esxmm, from its own log lines.
	hits=$(klog_since "p=$p" | grep -cE 'esxmm: .*(no memory \(-12\)|cannot break a share \(-12\)|failed \(-12\)|refused)' || true)
	# or a swap write of esxmm_swapd that failed (counted; logged at most ratelimited)
	we=$(( $(cat $S/swap/write_errors) - we0 ))
	if [ "$hits" -gt 0 ] || [ "$we" -gt 0 ]; then any_esxmm=1; fi
	log "p=$p%: $inj failures injected, $hits esxmm log lines, $we swap write errors; guest a: $(outcome "$work/a.$p.log" $rca);" \
		"guest b: $(outcome "$work/b.$p.log" $rcb)"
	log "p=$p%: $(cat "$work/ops.$p.log")"
	# Disarmed: both guests hold every byte.
	for g in a b; do
		vmm "$work/$g.$p.check.log" "$MNT/$g" $MIB 0 --seed 1 --check guest,pread,mmap ||
			fail "p=$p: guest $g lost data after the failures: $(grep -m1 FAIL "$work/$g.$p.check.log")"
	done
	log "p=$p%: both guests right byte for byte (guest, pread, mapping)"
done
[ "$(injected)" -gt 0 ] || fail "no failure was injected in the whole sweep"
[ "$any_esxmm" = 1 ] ||
	fail "no injected failure reached esxmm (none of its failure log lines, no swap write error)"

rm -rf "${MNT:?}"/*
is_vms0() { [ "$(cat $S/vms_count)" = "$vms0" ]; }
is_alloc0() { [ "$(cat $S/allocated_pages)" = "$alloc0" ]; }
wait_for 20 0.2 is_vms0 || fail "vms_count $(cat $S/vms_count), was $vms0"
wait_for 20 0.2 is_alloc0 || fail "allocated_pages $(cat $S/allocated_pages) after rm, was $alloc0"
[ "$(cat $S/swap/slots_used)" = 0 ] || fail "slots_used $(cat $S/swap/slots_used) after rm"
log "failinject: $(injected) failures injected in all; everything given back"
