#!/usr/bin/env bash
# t_lifecycle: rmmod is refused while an esxmm filesystem is mounted, and
# while a lazily unmounted one still has an open file; after the last user
# the module unloads cleanly with nothing allocated, and loads again. Bad
# module parameters are refused at insmod.
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"
ko=$REPO/esxmm/esxmm.ko
at_exit "grep -q '^esxmm ' /proc/modules || insmod '$ko'"

mnt=$(mktemp -d /run/esxmm-life.XXXXXX)
at_exit "umount '$mnt' 2>/dev/null; rmdir '$mnt'"
mount -t esxmm none "$mnt"
truncate -s 4M "$mnt/vm"
dd if=/dev/urandom of="$mnt/vm" bs=4096 count=100 conv=notrunc status=none
if rmmod esxmm 2>/dev/null; then fail "rmmod succeeded while mounted"; fi
grep -q '^esxmm ' /proc/modules || fail "module gone"
[ "$(cat $ESXMM_SYSFS/allocated_pages)" -ge 100 ] || fail "pages lost by the refused rmmod"

exec 7<"$mnt/vm"
umount -l "$mnt"
if rmmod esxmm 2>/dev/null; then fail "rmmod succeeded with a file still open"; fi
exec 7<&-
wait_for 10 0.2 sh -c 'rmmod esxmm 2>/dev/null' || fail "rmmod refused after the last user left"
[ ! -d $ESXMM_SYSFS ] || fail "$ESXMM_SYSFS still there after rmmod"
dmesg | tail -n 20 | grep -q 'esxmm: unloaded' || fail "no unload line"

if insmod "$ko" pool_pages=999999999999 2>/dev/null; then fail "insmod took a pool larger than RAM"; fi
dmesg | tail -n 5 | grep -q 'exceeds the machine' || fail "no log line for the bad pool_pages"
insmod "$ko" pool_pages=12345 || fail "insmod pool_pages=12345"
[ "$(cat $ESXMM_SYSFS/pool_pages)" -eq 12345 ] || fail "pool_pages param not applied"
rmmod esxmm
insmod "$ko" || fail "insmod after rmmod"
[ "$(cat $ESXMM_SYSFS/allocated_pages)" -eq 0 ] || fail "allocated_pages not 0 after reload"
log "lifecycle: refused while in use, clean unload, reload works"
