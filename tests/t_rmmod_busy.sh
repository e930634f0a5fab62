#!/usr/bin/env bash
# esxmm-timeout: 400
# t_rmmod_busy: rmmod at every stage of the mechanisms is refused and harmless, or clean:
# a KVM guest running (files mapped) with the scanner merging at full rate, the sampler
# marking, and swap I/O in flight on a pool too small for the guest; rmmod attempts all the
# while are refused ("in use") and the guest's check still passes; then, with swap still
# configured but nothing mounted, rmmod works (the swap file is let go) and insmod gives a
# fresh module with swap off. Two rounds.
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"
[ -c /dev/kvm ] || skip "no /dev/kvm"
S=$ESXMM_SYSFS
ko=$REPO/esxmm/esxmm.ko
at_exit "grep -q '^esxmm ' /proc/modules || insmod '$ko'"
work=$(mktemp -d /tmp/esxmm-rmmod.XXXXXX)
at_exit "rm -rf '$work'"
dd if=/dev/zero of="$work/swap" bs=1M count=32 status=none
chmod 0600 "$work/swap"

for round in 1 2; do
	grep -q '^esxmm ' /proc/modules || insmod "$ko" || fail "insmod (round $round)"
	[ "$(cat $S/swap/file)" = none ] || fail "a fresh module has swap set"
	echo "$work/swap" >$S/swap/file || fail "swap on"
	echo 2048 >$S/pool_pages
	echo 2000 >$S/share/pages_to_scan
	echo 0 >$S/share/sleep_millisecs
	echo 1 >$S/share/run
	echo 200 >$S/sample/period_millisecs
	mnt=$(mktemp -d /run/esxmm-rmmod.XXXXXX)
	mount -t esxmm none "$mnt"
	# 4 MiB of one repeated page: the scanner merges it while rmmod is tried.
	truncate -s 4M "$mnt/dup"
	head -c 4M /dev/zero | tr '\0' e |
		dd of="$mnt/dup" bs=1M conv=notrunc iflag=fullblock status=none
	log "round $round: merging $(cat $S/share/pages_sharing) pages; starting the guest"
	stdbuf -oL "$ESXMM_TESTBIN/kvm_vmm" "$mnt/vm" 16 >"$work/vmm.log" 2>&1 &
	vmm=$!
	at_exit "kill $vmm 2>/dev/null; tail -n 5 '$work/vmm.log'"
	tries=0 refused=0
	while kill -0 "$vmm" 2>/dev/null; do
		tries=$((tries + 1))
		if rmmod esxmm 2>/dev/null; then fail "rmmod succeeded with a guest running"; fi
		refused=$((refused + 1))
		sleep 0.3
	done
	wait "$vmm" || { cat "$work/vmm.log"; fail "the guest failed beside rmmod attempts"; }
	out=$(cat $S/swap/pages_swapped_out)
	log "round $round: $refused rmmod attempts refused; swapped out $out," \
		"sharing $(cat $S/share/pages_sharing)"
	[ "$out" -gt 0 ] || fail "no swap I/O happened during the attempts"
	[ "$(cat $S/share/pages_sharing)" -gt 0 ] || fail "no merges happened during the attempts"
	rm -f "$mnt/vm" "$mnt/dup"
	umount "$mnt"
	rmdir "$mnt"
	# Swap is still configured: unload must let the file go, with nothing left in it.
	[ "$(cat $S/swap/slots_used)" = 0 ] || fail "slots used after the guest left"
	wait_for 10 0.2 sh -c 'rmmod esxmm 2>/dev/null' || fail "rmmod refused with nothing mounted"
	dmesg | tail -n 5 | grep -q 'esxmm: unloaded' || fail "no unload line (round $round)"
done
insmod "$ko" || fail "insmod after the last round"
log "rmmod: refused while anything runs, clean with swap configured, reload works"
