#!/usr/bin/env bash
# t_balloon_host: the host side of ballooning without a guest. A hole punched in a mapped
# guest file (what QEMU does when the balloon inflates) frees the pages and counts them in
# ballooned_pages; touching one anyway gives zeros and counts a balloon violation; a punch
# of an unmapped file is no balloon. balloon_target_pages follows the policy's target and
# wakes poll() when it changes.
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm semantics only"
S=$ESXMM_SYSFS

pool0=$(cat $S/pool_pages)
at_exit "echo $pool0 >$S/pool_pages"
mount_esxmm
truncate -s 16M "$MNT/vm"
at_exit "rm -f '$MNT/vm'"
vd=$(vm_dir_for /vm) || fail "no sysfs dir for /vm"
for f in ballooned_pages balloon_violations balloon_target_pages; do
	[ -r "$vd/$f" ] || fail "$vd/$f missing"
done

python3 - "$MNT/vm" "$vd" <<'PY' || fail "balloon bookkeeping (above)"
import mmap, os, select, sys, time

path, vd = sys.argv[1], sys.argv[2]
def rd(name):
    with open(os.path.join(vd, name)) as f:
        return int(f.read())
def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)

fd = os.open(path, os.O_RDWR)
m = mmap.mmap(fd, 16 << 20, mmap.MAP_SHARED)
for p in range(4096):
    m[p * 4096:p * 4096 + 8] = (p + 1).to_bytes(8, "little")
res0 = rd("resident_pages")
check(res0 == 4096, "resident %d after writing all pages" % res0)
# Balloon inflate: QEMU punches whole pages of the mapped file.
r = os.system("fallocate -p -o %d -l %d %s" % (1 << 20, 1 << 20, path))
check(r == 0, "punch failed")
check(rd("ballooned_pages") == 256, "ballooned_pages %d, want 256" % rd("ballooned_pages"))
check(rd("resident_pages") == 4096 - 256, "resident %d after the punch" % rd("resident_pages"))
check(rd("balloon_violations") == 0, "violations before any touch")
# Ten ballooned pages touched anyway: zeros, counted.
for p in range(256, 266):
    check(m[p * 4096:p * 4096 + 8] == bytes(8), "ballooned page %d not zero" % p)
check(rd("balloon_violations") == 10, "violations %d, want 10" % rd("balloon_violations"))
check(rd("ballooned_pages") == 246, "ballooned_pages %d, want 246" % rd("ballooned_pages"))
# Pages outside the punch kept their contents.
for p in (0, 255, 512, 4095):
    check(m[p * 4096:p * 4096 + 8] == (p + 1).to_bytes(8, "little"), "page %d changed" % p)
# A punch over ballooned pages again: still counted once.
os.system("fallocate -p -o %d -l %d %s" % (1 << 20, 1 << 20, path))
check(rd("ballooned_pages") == 256, "re-punch: ballooned_pages %d" % rd("ballooned_pages"))

# balloon_target_pages: 0 without pressure; size - target when the pool is short.
check(rd("balloon_target_pages") == 0, "balloon target %d without pressure" % rd("balloon_target_pages"))
tf = open(os.path.join(vd, "balloon_target_pages"))
tf.read()
poller = select.poll()
poller.register(tf, select.POLLPRI | select.POLLERR)
with open("/sys/kernel/esxmm/pool_pages", "w") as f:
    f.write("2048\n")
t0 = time.time()
ev = poller.poll(10000)
check(ev, "no poll() wake-up within 10 s of a pool change")
tf.seek(0)
bt = int(tf.read())
check(bt == 4096 - rd("target_pages") and bt >= 2048, "balloon target %d, target %d" % (bt, rd("target_pages")))
print("balloon target %d pages, poll woke after %.2f s" % (bt, time.time() - t0))
m.close()
os.close(fd)
PY
echo "$pool0" >$S/pool_pages
# Unmapped: a punch is only a hole.
fallocate -p -o 0 -l 1M "$MNT/vm"
b=$(cat "$vd/ballooned_pages")
[ "$b" = 256 ] || fail "a punch of the unmapped file changed ballooned_pages to $b"
rm -f "$MNT/vm"
log "balloon host: punch, violations, target and poll all as documented"
