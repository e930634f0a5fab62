#!/usr/bin/env bash
# esxmm-test: kvm
# esxmm-timeout: 600
# t_qemu_guest: a real Linux guest on KVM with all of its RAM in one esxmm file.
#
#   mount -t esxmm none $MNT
#   qemu-system-x86_64 -accel kvm -m 256 ---- memory-backend-file mem-path=$MNT/guest1 share=on
#      guest /init = memcheck: writes M MiB of pattern pages, verifies, "MEMCHECK OK pages=N"
#   (while QEMU runs: sample /sys/kernel/esxmm/vms/<id>/resident_pages of path /guest1)
#   after QEMU exits, the file keeps the guest's RAM:
#      scan_pattern $MNT/guest1 N   -> every page with the magic matches in all 4096 bytes
#      resident_pages >= N, size_pages = 256 MiB / 4 KiB
#
# Env: KVM_MMU (shadow|tdp), MC_MB (default 64; npt=1 measured no slower than npt=0 here),
# ESXMM_TESTMODE=tmpfs (a tmpfs instead of esxmm, no sysfs checks).
source "$REPO/tests/lib.sh"

mb=${MC_MB:-64}
mem=256
pages=$((mb * 256))
[ -c /dev/kvm ] || skip "no /dev/kvm"
[ -x "$ESXMM_TESTBIN/scan_pattern" ] || fail "$ESXMM_TESTBIN/scan_pattern not built"
[ -f "$(guest_initrd)" ] || fail "$(guest_initrd) missing (scripts/guest-initramfs.sh)"

mount_esxmm || fail "cannot mount esxmm"
file=$MNT/guest1
work=$(mktemp -d)
at_exit "rm -rf '$work'"
at_exit "rm -f '$file'"
glog=$work/guest.log

resident() { # resident pages of the VM whose path is /guest1 (empty if none)
	local d
	d=$(vm_dir_for /guest1) || return 0
	cat "$d/resident_pages" 2>/dev/null || true
}

log "guest: ${mem} MiB RAM in $file, memcheck ${mb} MiB, kvm mmu $KVM_MMU"
t0=$SECONDS
run_guest "$glog" "$mem" "mc_mb=$mb mc_mode=check" \
	-object "memory-backend-file,id=mem,size=${mem}M,mem-path=$file,share=on" \
	-machine memory-backend=mem &
qpid=$!
at_exit "kill $qpid 2>/dev/null"
max_res=0
while kill -0 "$qpid" 2>/dev/null; do
	if ! testmode_tmpfs; then
		r=$(resident)
		[ -n "$r" ] && [ "$r" -gt "$max_res" ] && max_res=$r
	fi
	sleep 1
done
qrc=0
wait "$qpid" || qrc=$?
log "guest: QEMU exited rc=$qrc after $((SECONDS - t0))s wall"
tr -d '\r' <"$glog" | grep -E 'MEMCHECK|error|qemu' | sed 's/^/guest> /' || true
line=$(tr -d '\r' <"$glog" | grep -oE 'MEMCHECK (OK|FAIL).*' | tail -n1 || true)
if [ -z "$line" ]; then
	tail -n 30 "$glog" | sed 's/^/guest> /'
	fail "no MEMCHECK result from the guest"
fi
[ "$qrc" -eq 0 ] || fail "QEMU exit status $qrc"
got=$(sed -n 's/^MEMCHECK OK pages=\([0-9]*\).*/\1/p' <<<"$line")
if [ -z "$got" ] || [ "$got" -lt "$pages" ]; then fail "guest said: $line"; fi
ms=$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$line")
log "guest: first touch of $got pages took ${ms} ms (guest clock), kvm mmu $KVM_MMU"

[ -f "$file" ] || fail "$file is gone after QEMU exited"
if ! testmode_tmpfs; then
	d=$(vm_dir_for /guest1) || fail "no /sys/kernel/esxmm/vms/<id> with path /guest1"
	r=$(cat "$d/resident_pages")
	[ "$r" -gt "$max_res" ] && max_res=$r
	log "sysfs: $d size_pages=$(cat "$d/size_pages") resident_pages=$r (max seen $max_res)" \
		"faults=$(cat "$d/faults" 2>/dev/null || echo ?)"
	[ "$(cat "$d/size_pages")" -eq $((mem * 256)) ] || fail "size_pages != $((mem * 256))"
	[ "$max_res" -ge "$pages" ] || fail "resident_pages $max_res < $pages"
fi

scan=$("$ESXMM_TESTBIN/scan_pattern" "$file" "$pages") || { log "$scan"; fail "pattern scan"; }
log "$scan"
