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

# Reclaim tunables: range and ordering checks, values kept on refusal.
# knob FILE GOOD BAD...: GOOD is accepted, each BAD refused, the old value restored.
knob() {
	local f=$S/$1 good=$2 old v
	shift 2
	old=$(cat "$f")
	for v in "$@"; do
		if write "$f" "$v"; then fail "$f accepted '$v'"; fi
		[ "$(cat "$f")" = "$old" ] || fail "$f changed by '$v'"
	done
	write "$f" "$good" || fail "$f refused '$good'"
	[ "$(cat "$f")" = "$good" ] || fail "$f did not take '$good'"
	write "$f" "$old"
}
knob tax_percent 50 100 -1 abc 75.5
knob balance_millisecs 500 0 9 600001
knob sample/period_millisecs 1000 99 3600001 x
knob sample/sample_pages 1000 0 100001
knob share/pages_to_scan 10 0 100001
# Thresholds keep 100 >= high >= soft >= hard >= low.
knob state_high_percent 10 3 101
knob state_soft_percent 5 7 1
knob state_hard_percent 3 5 0
knob state_low_percent 0 3
case $(cat $S/state) in high|soft|hard|low) ;; *) fail "state reads '$(cat $S/state)'" ;; esac
log "reclaim tunables: ranges and ordering enforced"

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
for f in shared_pages active_permille active_slow_permille active_fast_permille \
	active_period_permille target_pages reclaim_pages; do
	[ -r "$d/$f" ] || fail "missing $d/$f"
	if write "$d/$f" 1; then fail "read-only $d/$f accepted a write"; fi
done
[ "$(cat "$d/shares")" -eq 10 ] || fail "default shares of a 1 MiB guest: $(cat "$d/shares"), not 10"
for bad in 0 -1 4294967296 abc; do
	if write "$d/shares" "$bad"; then fail "shares accepted '$bad'"; fi
done
write "$d/shares" 500 && [ "$(cat "$d/shares")" -eq 500 ] || fail "shares refused 500"
if write "$d/min_pages" 257; then fail "min_pages above the size accepted"; fi
write "$d/min_pages" 256 || fail "min_pages = size refused"
# Admission: no other guest can reserve more than the pool minus this one's min.
truncate -s $(( (pool - 100) * 4096 )) "$mnt/big"
d2=$(vm_dir_for /big) || fail "no vms/<id> for /big"
if write "$d2/min_pages" $((pool - 200)); then fail "min_pages beyond the unreserved pool accepted"; fi
dmesg | tail -n 5 | grep -q 'refused: min' || fail "no log line for the refused min_pages"
write "$d/min_pages" 0
write "$d2/min_pages" $((pool - 400)) || fail "a min that fits was refused"
write "$d2/min_pages" 0
rm "$mnt/big"
write "$d/min_pages" 0
for bad in 2147483648 99999999999 0x1; do
	if write "$d/share_group" "$bad"; then fail "share_group accepted '$bad'"; fi
done
rm "$mnt/vm"
[ ! -e "$d" ] || fail "$d still there after rm"
log "sysfs: all checks passed"
