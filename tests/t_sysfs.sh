#!/usr/bin/env bash
# t_sysfs: every writable /sys/kernel/esxmm file rejects garbage with EINVAL
# and keeps its value; read-only files refuse writes; the documented names
# exist.
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"
S=$ESXMM_SYSFS

for f in pool_pages free_pages allocated_pages pool_failures vms_count; do
	[ -r "$S/$f" ] || fail "missing $S/$f"
done
ram=$(awk '/MemTotal/ { print $2 / 4 }' /proc/meminfo)
pool=$(cat $S/pool_pages)
log "pool_pages=$pool (RAM about $ram pages)"

# write FILE VALUE: succeeds only if the kernel accepted it.
write() { printf '%s' "$2" >"$1" 2>/dev/null; }

# (An empty printf never calls write(2): a lone newline is the empty write.)
for bad in $'\n' "abc" "-1" "0" "12abc" "0x100" " 5" "1.5" "18446744073709551616" \
	"99999999999999999999999" "$(printf '1%.0s' {1..200})" "$((ram * 4))"; do
	if write $S/pool_pages "$bad"; then
		fail "pool_pages accepted '$bad'"
	fi
	[ "$(cat $S/pool_pages)" = "$pool" ] || fail "pool_pages changed by '$bad'"
done
log "pool_pages: 12 kinds of garbage refused, value kept"

write $S/pool_pages "$((pool / 2))" || fail "pool_pages refused a valid value"
[ "$(cat $S/pool_pages)" -eq $((pool / 2)) ] || fail "pool_pages not updated"
write $S/pool_pages "$pool
" || fail "pool_pages refused a value with a newline"
[ "$(cat $S/pool_pages)" -eq "$pool" ] || fail "pool_pages not restored"

for f in free_pages allocated_pages pool_failures vms_count; do
	if write $S/$f 1; then fail "read-only $f accepted a write"; fi
done

# Concurrent writers: the value is always one of the written ones.
for i in 1 2 3 4; do
	(for j in $(seq 50); do write $S/pool_pages $((pool - i * 100 - j)) || true; done) &
done
wait
v=$(cat $S/pool_pages)
[ "$v" -lt "$pool" ] && [ "$v" -ge $((pool - 450)) ] || fail "pool_pages=$v after concurrent writes"
write $S/pool_pages "$pool"

mnt=$(mktemp -d /run/esxmm-sysfs.XXXXXX)
mount -t esxmm none "$mnt"
at_exit "umount '$mnt' 2>/dev/null; rmdir '$mnt'"
truncate -s 1M "$mnt/vm"
d=$(vm_dir_for /vm) || fail "no vms/<id> for /vm"
for f in path size_pages resident_pages faults; do
	[ -r "$d/$f" ] || fail "missing $d/$f"
	if write "$d/$f" 1; then fail "read-only $d/$f accepted a write"; fi
done
[ "$(cat "$d/size_pages")" -eq 256 ] || fail "size_pages of a 1 MiB file != 256"
rm "$mnt/vm"
[ ! -e "$d" ] || fail "$d still there after rm"
log "sysfs: all checks passed"
