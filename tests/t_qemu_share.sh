#!/usr/bin/env bash
# esxmm-test: kvm
# esxmm-timeout: 500
#
# Under TDP (npt=1) one run in four once saw one of the two guests stop making
# progress during its first touches (resident_pages froze, QEMU exited with no
# message). ->page_mkwrite now zaps a PTE whose page the pmap no longer holds
# before it makes the access retry (a stale PTE would have looped there).
# t_qemu_share: two real Linux guests (same kernel and initramfs) booted by
# QEMU on esxmm files in one share group, the scanner running; report how
# much they share, and check both guests' memory checkers still pass.
#
#   mount -t esxmm none $MNT
#   qemu #1 -> $MNT/g1 (192 MiB)   qemu #2 -> $MNT/g2 (192 MiB)
#     each: memcheck hold: writes 48 MiB of pattern pages (identical across
#     the guests), re-verifies them in a loop while esxmm merges and KVM
#     write-faults break shares
#   share_group 7 on both, share/run=1 at 10000 pages per batch
#   -> pages_sharing grows past the 12288 pattern pages; MEMCHECK OK x2
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"
[ -c /dev/kvm ] || skip "no /dev/kvm"
S=$ESXMM_SYSFS/share

mb=48 mem=192 hold=${QEMU_SHARE_HOLD:-40}
old_pts=$(cat $S/pages_to_scan) old_sleep=$(cat $S/sleep_millisecs)
at_exit "echo 0 > $S/run; echo $old_pts > $S/pages_to_scan; echo $old_sleep > $S/sleep_millisecs"
mount_esxmm
work=$(mktemp -d)
at_exit "rm -rf '$work'"
at_exit "rm -f '$MNT/g1' '$MNT/g2'"

pids=()
for g in g1 g2; do
	run_guest "$work/$g.log" "$mem" "mc_mb=$mb mc_mode=hold mc_hold=$hold" \
		-object "memory-backend-file,id=mem,size=${mem}M,mem-path=$MNT/$g,share=on" \
		-machine memory-backend=mem &
	pids+=($!)
	at_exit "kill $! 2>/dev/null"
done
wait_for 60 0.5 vm_dir_for /g1 >/dev/null || fail "no vms/<id> for /g1"
wait_for 60 0.5 vm_dir_for /g2 >/dev/null || fail "no vms/<id> for /g2"
d1=$(vm_dir_for /g1) d2=$(vm_dir_for /g2)
echo 7 >"$d1/share_group"
echo 7 >"$d2/share_group"
echo 10000 >$S/pages_to_scan
echo 5 >$S/sleep_millisecs
echo 1 >$S/run

t0=$SECONDS max=0
running() { kill -0 "${pids[0]}" 2>/dev/null || kill -0 "${pids[1]}" 2>/dev/null; }
while running; do
	sh=$(cat $S/pages_sharing)
	[ "$sh" -gt "$max" ] && max=$sh
	log "t=$((SECONDS - t0))s pages_shared=$(cat $S/pages_shared) pages_sharing=$sh" \
		"zero_pages=$(cat $S/zero_pages) cow_breaks=$(cat $S/cow_breaks)" \
		"g1 resident=$(cat "$d1/resident_pages") shared=$(cat "$d1/shared_pages")" \
		"g2 resident=$(cat "$d2/resident_pages") shared=$(cat "$d2/shared_pages")"
	sleep 4
done
echo 0 >$S/run
for g in g1 g2; do
	r=$(tr -d '\r' <"$work/$g.log" | grep -oE 'MEMCHECK (OK|FAIL).*' | tail -n1 || true)
	log "$g: ${r:-no result}"
	case $r in "MEMCHECK OK"*) ;; *) tail -n 20 "$work/$g.log"; fail "$g: memory checker did not pass" ;; esac
done
res=$(( $(cat "$d1/resident_pages") + $(cat "$d2/resident_pages") ))
log "two guests of ${mem} MiB: at most $max pages shared-away of $res resident" \
	"($((max * 100 / (res > 0 ? res : 1)))%), pages_shared=$(cat $S/pages_shared)"
[ "$max" -ge $((mb * 256)) ] || fail "pages_sharing peaked at $max, below the $((mb * 256)) identical pattern pages"
