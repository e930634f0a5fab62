#!/usr/bin/env bash
# t_mount: mount options uid=, gid=, mode= (like hugetlbfs), refused bad
# options, remount rules, and an esxmm file used through its mount by a
# non-root owner.
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"

mnt=$(mktemp -d /run/esxmm-mount.XXXXXX)
at_exit "umount '$mnt' 2>/dev/null; rmdir '$mnt'"

mount -t esxmm -o uid=1234,gid=4321,mode=0770 none "$mnt"
[ "$(stat -c '%u %g %a' "$mnt")" = "1234 4321 770" ] || fail "root: $(stat -c '%u %g %a' "$mnt")"
grep -E " $mnt esxmm " /proc/mounts | grep -q 'uid=1234,gid=4321,mode=770' ||
	fail "options not shown in /proc/mounts: $(grep " $mnt " /proc/mounts)"
if mount -o remount,mode=0700 "$mnt" 2>/dev/null; then fail "remount changed mode"; fi
mount -o remount,mode=0770 "$mnt" || fail "remount with the same options refused"
[ "$(stat -c '%a' "$mnt")" = 770 ] || fail "mode changed"
umount "$mnt"

for bad in "mode=999" "mode=77777" "uid=abc" "gid=-1" "uid=4294967295" "size=1G" "nosuchopt"; do
	if mount -t esxmm -o "$bad" none "$mnt" 2>/dev/null; then
		umount "$mnt"
		fail "mount accepted -o $bad"
	fi
done
dmesg | tail -n 50 | grep -qi 'esxmm' || log "(no esxmm lines in dmesg for bad options)"

mount -t esxmm none "$mnt"
[ "$(stat -c '%u %a' "$mnt")" = "0 755" ] || fail "default root owner/mode: $(stat -c '%u %a' "$mnt")"
log "mount: options and refusals as documented"
