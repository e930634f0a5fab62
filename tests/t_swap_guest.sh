#!/usr/bin/env bash
# esxmm-timeout: 900
# (Runs once, under the shadow MMU, to keep make test short: t_swap_kvm covers swap under
# TDP. Put "# esxmm-test: kvm" back on line 2 to run it under both.)
# SPDX-License-Identifier: GPL-2.0
#
# t_swap_guest: a real Linux guest with twice the pool's memory, through esxmm's swap.
#
#   pool_pages=32768 (128 MiB), swap on a 192 MiB tmpfs file (49152 slots)
#   qemu-system-x86_64 -accel kvm -m 256 ---- memory-backend-file mem-path=$MNT/guest1 share=on
#      guest /init = memcheck: writes MC_MB (160) MiB of pattern pages, re-reads all of them
#      ("MEMCHECK OK pages=N")
#   while QEMU runs: vms/<id>/swapped_pages is sampled: it must go above 0
#   afterwards: scan_pattern reads the file back through pread (swapping in again): every page
#   that carries memcheck's magic matches in all 4096 bytes, and at least N of them
#
# The guest's kernel and memcheck's 160 MiB do not fit in 128 MiB: the guest runs only
# because esxmm swaps its pages out and back in as it touches them. Why 160 and not 200: the
# guest has no swap of its own and memcheck is its init, and with mc_mb=200 the guest
# kernel itself ran out of memory at page 45767 of 51200 ("System is deadlocked on memory"
# in the guest: about 180 MiB of its 256 are free for init), whatever esxmm does.
# Env: MC_MB (default 160), T_SWAP_GUEST_POOL (pages, default 32768).
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"

testmode_tmpfs && skip "esxmm only: tmpfs does not swap"
[ -c /dev/kvm ] || skip "no /dev/kvm"
[ -x "$ESXMM_TESTBIN/scan_pattern" ] || fail "$ESXMM_TESTBIN/scan_pattern not built"
[ -f "$(guest_initrd)" ] || fail "$(guest_initrd) missing (scripts/guest-initramfs.sh)"
S=$ESXMM_SYSFS
SW=$S/swap
mb=${MC_MB:-160}
mem=256
pool=${T_SWAP_GUEST_POOL:-32768}
pages=$((mb * 256))

pool0=$(cat $S/pool_pages)
[ "$(cat $SW/file)" = none ] || fail "swap/file is $(cat $SW/file) at start"
at_exit "echo $pool0 >$S/pool_pages"
work=$(mktemp -d /tmp/t_swap_guest.XXXXXX)
at_exit "rm -rf '$work'"
dd if=/dev/zero of="$work/swap" bs=1M count=192 status=none
chmod 0600 "$work/swap"
at_exit "echo none >$SW/file"
echo "$work/swap" >$SW/file || fail "swap/file refused $work/swap"
echo "$pool" >$S/pool_pages
mount_esxmm
file=$MNT/guest1
at_exit "rm -f '$file'"
glog=$work/guest.log
out0=$(cat $SW/pages_swapped_out) in0=$(cat $SW/pages_swapped_in)

log "guest: ${mem} MiB RAM in $file, pool $pool pages, swap $(cat $SW/slots_total) slots," \
	"memcheck ${mb} MiB, kvm mmu $KVM_MMU"
t0=$SECONDS
run_guest "$glog" "$mem" "mc_mb=$mb mc_mode=check" \
	-object "memory-backend-file,id=mem,size=${mem}M,mem-path=$file,share=on" \
	-machine memory-backend=mem &
qpid=$!
at_exit "kill $qpid 2>/dev/null; wait $qpid 2>/dev/null"
max_sw=0 max_res=0 last=$SECONDS d=
while kill -0 "$qpid" 2>/dev/null; do
	[ -n "$d" ] || d=$(vm_dir_for /guest1) || d=
	if [ -n "$d" ]; then
		s=$(cat "$d/swapped_pages" 2>/dev/null || echo 0)
		r=$(cat "$d/resident_pages" 2>/dev/null || echo 0)
		[ "$s" -gt "$max_sw" ] && max_sw=$s
		[ "$r" -gt "$max_res" ] && max_res=$r
		if (( SECONDS - last >= 20 )); then
			log "  t=$((SECONDS - t0))s resident $r swapped $s blocked_faults" \
				"$(cat "$d/blocked_faults") state $(cat $S/state)"
			last=$SECONDS
		fi
	fi
	sleep 1
done
qrc=0
wait "$qpid" || qrc=$?
log "guest: QEMU exited rc=$qrc after $((SECONDS - t0))s wall"
tr -d '\r' <"$glog" | grep -E 'MEMCHECK|error|qemu|Out of memory|Killed' | sed 's/^/guest> /' || true
line=$(tr -d '\r' <"$glog" | grep -oE 'MEMCHECK (OK|FAIL).*' | tail -n1 || true)
if [ -z "$line" ]; then
	tail -n 30 "$glog" | sed 's/^/guest> /'
	fail "no MEMCHECK result from the guest"
fi
[ "$qrc" -eq 0 ] || fail "QEMU exit status $qrc"
got=$(sed -n 's/^MEMCHECK OK pages=\([0-9]*\).*/\1/p' <<<"$line")
if [ -z "$got" ] || [ "$got" -lt "$pages" ]; then fail "guest said: $line"; fi

d=$(vm_dir_for /guest1) || fail "no vms/<id> for /guest1"
out=$(( $(cat $SW/pages_swapped_out) - out0 )) in=$(( $(cat $SW/pages_swapped_in) - in0 ))
log "guest: MEMCHECK OK pages=$got; swapped_pages max $max_sw (now $(cat "$d/swapped_pages")), resident" \
	"max $max_res, blocked_faults $(cat "$d/blocked_faults"); pages_swapped_out +$out in +$in;" \
	"write_errors $(cat $SW/write_errors) read_errors $(cat $SW/read_errors)"
[ "$max_sw" -gt 0 ] || fail "swapped_pages never above 0 during the run"
[ "$max_res" -le "$pool" ] || fail "resident_pages $max_res above the pool ($pool)"
{ [ "$out" -gt 0 ] && [ "$in" -gt 0 ]; } || fail "pages_swapped_out +$out, in +$in: want both > 0"

t=$SECONDS
scan=$("$ESXMM_TESTBIN/scan_pattern" "$file" "$pages") || { log "$scan"; fail "pattern scan"; }
log "$scan ($((SECONDS - t))s)"
