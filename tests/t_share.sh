#!/usr/bin/env bash
# esxmm-timeout: 500
# t_share: content-based page sharing checked from the host by
# tests/sharetest.c (identical pages merge to within 2 %, COW by mmap and
# pwrite keeps every sharer's bytes, share groups isolate guests, run=2
# restores private pages, a writer racing the scanner at full rate sees no
# wrong byte), then: nothing left allocated, no frame left, clean dmesg.
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"

alloc0=$(cat $ESXMM_SYSFS/allocated_pages)
at_exit "echo 0 > $ESXMM_SYSFS/share/run"
mount_esxmm
"$ESXMM_TESTBIN/sharetest" "$MNT" "${SHARE_STRESS_SECS:-20}"

[ "$(cat $ESXMM_SYSFS/share/pages_shared)" -eq 0 ] || fail "frames left after the test"
[ "$(cat $ESXMM_SYSFS/share/pages_hinted)" -eq 0 ] || fail "hints of dead guests left behind"
[ "$(cat $ESXMM_SYSFS/allocated_pages)" -eq "$alloc0" ] || fail "pages left allocated"
log "share: all checks passed"
