#!/usr/bin/env bash
# t_swap_host: swap through the file interface alone (no KVM): a 64 MiB guest file written
# with pwrite on a 16 MiB pool must swap, read back byte for byte (pread and mmap), give
# every slot back when punched and when deleted; swap/file refuses unfit files with a
# clear error and keeps the old setting.
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm semantics only"
S=$ESXMM_SYSFS

pool0=$(cat $S/pool_pages)
at_exit "echo none >$S/swap/file 2>/dev/null; echo $pool0 >$S/pool_pages"
work=$(mktemp -d /tmp/esxmm-swap.XXXXXX)
at_exit "rm -rf '$work'"

# Unfit swap files: each refused with its own error, swap stays off.
write() { echo "$2" >"$1" 2>/dev/null; }
[ "$(cat $S/swap/file)" = none ] || fail "swap/file is not none at start"
write $S/swap/file /nonexistent/swap && fail "took a missing file"
write $S/swap/file relative/path && fail "took a relative path"
write $S/swap/file "" && fail "took an empty path"
dd if=/dev/zero of="$work/s644" bs=1M count=4 status=none
chmod 0644 "$work/s644"
write $S/swap/file "$work/s644" && fail "took a mode 0644 file"
dmesg | tail -n 3 | grep -q 'mode 0600 or stricter' || fail "no log line for the 0644 file"
truncate -s 4M "$work/sparse"
chmod 0600 "$work/sparse"
write $S/swap/file "$work/sparse" && fail "took a sparse file"
dmesg | tail -n 3 | grep -q 'has holes' || fail "no log line for the sparse file"
write $S/swap/file "$work" && fail "took a directory"
[ "$(cat $S/swap/file)" = none ] || fail "a refused file changed swap/file"
[ "$(cat $S/swap/slots_total)" = 0 ] || fail "slots_total not 0 without swap"

# A good one: 96 MiB, root's, 0600.
dd if=/dev/zero of="$work/swap" bs=1M count=96 status=none
chmod 0600 "$work/swap"
echo "$work/swap" >$S/swap/file || fail "refused a good swap file"
[ "$(cat $S/swap/file)" = "$work/swap" ] || fail "swap/file reads $(cat $S/swap/file)"
[ "$(cat $S/swap/slots_total)" = $((96 * 256)) ] || fail "slots_total $(cat $S/swap/slots_total)"

mount_esxmm
echo 4096 >$S/pool_pages
out0=$(cat $S/swap/pages_swapped_out)
in0=$(cat $S/swap/pages_swapped_in)
head -c $((64 << 20)) /dev/urandom >"$work/pattern"
truncate -s 64M "$MNT/vm"
dd if="$work/pattern" of="$MNT/vm" bs=1M conv=notrunc status=none || fail "writing 64 MiB into a 16 MiB pool with swap failed"
vd=$(vm_dir_for /vm) || fail "no sysfs dir for /vm"
out=$(( $(cat $S/swap/pages_swapped_out) - out0 ))
log "after the write: resident $(cat "$vd/resident_pages"), swapped $(cat "$vd/swapped_pages")," \
	"out $out, slots used $(cat $S/swap/slots_used), blocked $(cat "$vd/blocked_faults")"
[ "$out" -gt 0 ] || fail "nothing was swapped out"
[ "$(cat $S/allocated_pages)" -le 4096 ] || fail "pool over its limit"
[ "$(cat "$vd/swapped_pages")" -gt 0 ] || fail "swapped_pages is 0"
cmp "$work/pattern" "$MNT/vm" || fail "pread gave different bytes"
in=$(( $(cat $S/swap/pages_swapped_in) - in0 ))
[ "$in" -gt 0 ] || fail "nothing was swapped in by pread"
# Through a mapping too (python reads the file through mmap).
python3 - "$MNT/vm" "$work/pattern" <<'PY' || fail "mmap read gave different bytes"
import mmap, sys
with open(sys.argv[1], "r+b") as f, open(sys.argv[2], "rb") as p:
    m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED)
    ref = p.read()
    step = 1 << 20
    for off in range(0, len(ref), step):
        if m[off:off + step] != ref[off:off + step]:
            sys.exit("mismatch in MiB %d" % (off >> 20))
    m.close()
PY
# Swap cannot be switched to another file while pages are in it.
dd if=/dev/zero of="$work/swap2" bs=1M count=8 status=none
chmod 0600 "$work/swap2"
used=$(cat $S/swap/slots_used)
if [ "$used" -gt 0 ]; then
	write $S/swap/file "$work/swap2" && fail "replaced a swap file with $used pages in it"
fi
# Punch the second half: its slots come back.
fallocate -p -o $((32 << 20)) -l $((32 << 20)) "$MNT/vm"
cmp -n $((32 << 20)) "$work/pattern" "$MNT/vm" || fail "first half changed by the punch"
rm -f "$MNT/vm"
slots_free() { [ "$(cat $S/swap/slots_used)" = 0 ]; }	# read again at each try
wait_for 10 0.2 slots_free || fail "slots left after rm: $(cat $S/swap/slots_used)"
echo none >$S/swap/file || fail "swap off failed with no page in it"
[ "$(cat $S/swap/slots_total)" = 0 ] || fail "slots_total after swap off"
log "swap host: out $out, in $in pages; all bytes equal; slots all given back"
