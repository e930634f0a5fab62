#!/usr/bin/env bash
# t_fs: the filesystem's answer to every VMM and admin operation, checked by
# tests/fsops.c on a fresh esxmm mount (create, sizes, pread/pwrite, mmap,
# MAP_PRIVATE, truncate of a mapped file, fallocate modes and punches,
# rename/unlink/rmdir, unlinked-but-mapped memory, statfs, pool exhaustion).
# Then a check that the mount leaves nothing allocated.
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm semantics only"

alloc0=$(cat $ESXMM_SYSFS/allocated_pages)
vms0=$(cat $ESXMM_SYSFS/vms_count)
mnt=$(mktemp -d /run/esxmm-fs.XXXXXX)
mount -t esxmm none "$mnt"
at_exit "umount '$mnt' 2>/dev/null; rmdir '$mnt'"

"$ESXMM_TESTBIN/fsops" "$mnt"

umount "$mnt"
[ "$(cat $ESXMM_SYSFS/allocated_pages)" -eq "$alloc0" ] || fail "pages left allocated after umount"
[ "$(cat $ESXMM_SYSFS/vms_count)" -eq "$vms0" ] || fail "vms left after umount"
dmesg | grep -q 'MAP_PRIVATE refused' || fail "no log line for the refused MAP_PRIVATE"
dmesg | grep -q 'pool exhausted' || fail "no log line for the SIGBUS on pool exhaustion"
dmesg | grep -q 'refusing to shrink a mapped guest' || fail "no log line for the refused shrink"
log "fs: all checks passed, nothing left allocated"
