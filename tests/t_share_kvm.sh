#!/bin/bash
# esxmm-test: kvm
# esxmm-timeout: 400
# SPDX-License-Identifier: GPL-2.0
#
# Content-based sharing under a running KVM guest: guest writes to merged
# pages break the share (COW) and every sharer keeps its own bytes.
#
#   kvm_vmm --share (host process)       KVM guest (1 vCPU, 32-bit, no paging)
#   mmap(MAP_SHARED) $MNT/vm1  ========  slot 1, gpa 1 MiB .. 17 MiB
#   pwrite one common page x 4096        verify_common: reads it all
#   share/run=1 until shared_pages>=99%  (esxmm_share merges, zapping KVM)
#   share/run=0                          write(seed) over pages 0..2047:
#   pread+mmap: half guest, half common    KVM write fault -> ->page_mkwrite COW
#   cow_breaks, shared_pages             verify first half, verify_common second
#   share/run=2: shared_pages 0, intact  write(seed2) everything, host checks
#
# See tests/kvm_vmm.c for the steps. Afterwards the file's vms/<id> must
# show no shared page, every page resident, and vanish with the file.
# share/run, pages_to_scan and sleep_millisecs are restored even if kvm_vmm
# is killed.
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"

SIZE_MIB=16
PAGES=$((SIZE_MIB * 256))
SHARE=$ESXMM_SYSFS/share

testmode_tmpfs && skip "ESXMM_TESTMODE=tmpfs: tmpfs does not share pages"
[ -d "$SHARE" ] || fail "$SHARE missing: is esxmm.ko (with sharing) loaded?"
[ -c /dev/kvm ] || fail "/dev/kvm missing: is kvm loaded?"

if [ -r /sys/module/kvm_amd/parameters/npt ]; then
	tdp=$(cat /sys/module/kvm_amd/parameters/npt)
elif [ -r /sys/module/kvm_intel/parameters/ept ]; then
	tdp=$(cat /sys/module/kvm_intel/parameters/ept)
else
	tdp=unknown
fi
case "$KVM_MMU:$tdp" in
shadow:N | shadow:0 | tdp:Y | tdp:1 | *:unknown) ;;
*) fail "KVM_MMU=$KVM_MMU but the loaded KVM has npt/ept=$tdp" ;;
esac
log "t_share_kvm: KVM_MMU=$KVM_MMU npt/ept=$tdp"

old_scan=$(cat "$SHARE/pages_to_scan")
old_sleep=$(cat "$SHARE/sleep_millisecs")
at_exit "echo 0 > '$SHARE/run'; echo '$old_scan' > '$SHARE/pages_to_scan';" \
	"echo '$old_sleep' > '$SHARE/sleep_millisecs'"
log "t_share_kvm: share/run=$(cat "$SHARE/run") pages_to_scan=$old_scan" \
	"sleep_millisecs=$old_sleep"

mount_esxmm
at_exit "rm -f '$MNT/vm1'"
out=$(mktemp /tmp/t_share_kvm.XXXXXX)
at_exit "rm -f '$out'"

t0=$SECONDS
stdbuf -oL "$ESXMM_TESTBIN/kvm_vmm" --share "$MNT/vm1" "$SIZE_MIB" | tee "$out" ||
	fail "kvm_vmm --share $MNT/vm1 $SIZE_MIB failed (exit ${PIPESTATUS[0]})"
grep -q "^KVM_SHARE OK pages=$PAGES " "$out" || fail "no 'KVM_SHARE OK pages=$PAGES' line"
log "t_share_kvm: kvm_vmm --share took $((SECONDS - t0)) s"

[ "$(cat "$SHARE/run")" = 0 ] || fail "share/run=$(cat "$SHARE/run") after kvm_vmm, want 0"
[ "$(cat "$SHARE/pages_to_scan")" = "$old_scan" ] || fail "pages_to_scan not restored"
[ "$(cat "$SHARE/sleep_millisecs")" = "$old_sleep" ] || fail "sleep_millisecs not restored"

vmdir=$(vm_dir_for /vm1) || fail "no $ESXMM_SYSFS/vms/*/path reads /vm1"
shared=$(cat "$vmdir/shared_pages")
resident=$(cat "$vmdir/resident_pages")
log "t_share_kvm: $vmdir shared_pages=$shared resident_pages=$resident" \
	"cow_breaks=$(cat "$SHARE/cow_breaks") pages_shared=$(cat "$SHARE/pages_shared")" \
	"pages_sharing=$(cat "$SHARE/pages_sharing")"
[ "$shared" -eq 0 ] || fail "shared_pages=$shared after run=2, want 0"
[ "$resident" -eq "$PAGES" ] || fail "resident_pages=$resident, want $PAGES"

rm "$MNT/vm1"
wait_for 5 0.1 test ! -e "$vmdir" || fail "$vmdir still exists 5 s after rm of the file"
log "t_share_kvm: vm object gone after rm"
log "t_share_kvm: PASS"
