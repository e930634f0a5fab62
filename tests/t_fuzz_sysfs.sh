#!/usr/bin/env bash
# esxmm-timeout: 300
# t_fuzz_sysfs: every writable file under /sys/kernel/esxmm (found at run time, so new ones
# are covered) gets edge-case and random input: empty, lone newline, huge, negative,
# non-numeric, 64-bit overflow, hex, floats, binary with NUL bytes, very long. A write
# either fails and leaves the value as it was, or succeeds and, for a decimal number, reads
# back as that number. Then several writers at once on every file. The module must stay
# alive and splat-free (the harness scans the console). The seed is printed: replay with
# FUZZ_SEED=N (ESXMM_TEST_ENV="FUZZ_SEED=N" for scripts/testhost.sh).
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"
S=$ESXMM_SYSFS
seed=${FUZZ_SEED:-$(( $(date +%s) % 100000 ))}
log "seed $seed (FUZZ_SEED=$seed to replay)"

mount_esxmm
truncate -s 4M "$MNT/vm"
at_exit "rm -f '$MNT/vm'"
vd=$(vm_dir_for /vm) || fail "no vms/<id> for /vm"

python3 - "$S" "$vd" "$seed" "$MNT" <<'PY' || fail "sysfs fuzz (above), seed $seed"
import errno, os, random, sys, threading

S, vd, seed, mnt = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rnd = random.Random(seed)
files = []
for root in (S, vd):
    for dirpath, dirs, names in os.walk(root):
        if dirpath.startswith(os.path.join(S, "vms")) and root == S:
            continue
        for n in names:
            p = os.path.join(dirpath, n)
            if os.stat(p).st_mode & 0o200:
                files.append(p)
files = sorted(set(files))
print("writable files: %d" % len(files))

def read(p):
    with open(p, "rb") as f:
        return f.read()

saved = {p: read(p).strip() for p in files}

def write(p, data):
    fd = os.open(p, os.O_WRONLY)
    try:
        os.write(fd, data)
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)

edge = [b"", b"\n", b" ", b"0", b"1", b"-1", b"-0", b"+1", b"00000000000000000001",
        b"4294967295", b"4294967296", b"9223372036854775807", b"9223372036854775808",
        b"18446744073709551615", b"18446744073709551616", b"99999999999999999999999",
        b"0x10", b"010", b"1e3", b"1.5", b"abc", b"1 2", b"1\n2", b"\x00", b"1\x00",
        b"\xff\xfe", b"none", b"/", b"/nonexistent", b"../etc/passwd", b"1" * 4096,
        b"/" + b"a" * 5000, b"\n\n", b"12abc", b" 7", b"7 ", b"7\n"]

def randinput():
    k = rnd.randrange(6)
    if k == 0:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 64)))
    if k == 1:
        return str(rnd.randrange(-10**6, 10**6)).encode()
    if k == 2:
        return str(rnd.randrange(0, 2**70)).encode() + rnd.choice([b"", b"\n"])
    if k == 3:
        return str(rnd.randrange(0, 2000)).encode() + rnd.choice([b"", b"\n"])
    if k == 4:
        return rnd.choice(edge) + rnd.choice(edge)
    return ("/" + "".join(rnd.choice("abc/._-") for _ in range(rnd.randrange(1, 40)))).encode()

def is_decimal(b):
    t = b[:-1] if b.endswith(b"\n") else b
    return t.isdigit() and len(t) < 20

bad = 0
writes = 0
for p in files:
    inputs = edge + [randinput() for _ in range(60)]
    for data in inputs:
        before = read(p)
        err = write(p, data)
        writes += 1
        after = read(p)
        if err:
            # Refused: unchanged (a threshold write may fail against the others).
            if after != before:
                print("FAIL: %s refused %r (errno %d) but changed %r -> %r" %
                      (p, data, err, before, after))
                bad += 1
        elif is_decimal(data) and not p.endswith("/file"):
            if int(after) != int(data):
                print("FAIL: %s took %r but reads %r" % (p, data, after))
                bad += 1
print("sequential: %d writes to %d files, %d problems" % (writes, len(files), bad))

# Concurrent writers on every file at once, random input; then everything must read.
def hammer(i):
    r = random.Random(seed * 100 + i)
    for _ in range(300):
        p = r.choice(files)
        v = str(r.randrange(0, 3000)).encode() if r.randrange(2) else randinput()
        write(p, v)
threads = [threading.Thread(target=hammer, args=(i,)) for i in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for dirpath, dirs, names in os.walk(S):
    for n in names:
        read(os.path.join(dirpath, n))
print("concurrent: 6 writers x 300 writes, all files still readable")

# Put everything back; thresholds from the bottom up so the order always holds.
thr = [os.path.join(S, "state_%s_percent" % n) for n in ("low", "hard", "soft", "high")]
for p in thr:
    write(p, b"0")
for p in reversed(thr):
    write(p, saved[p])
write(os.path.join(S, "swap/file"), b"none")
for p in files:
    if p in thr or p.endswith("/file"):
        continue
    write(p, saved[p])
for p in files:
    if not p.endswith("/file") and read(p).strip() != saved[p]:
        print("FAIL: could not restore %s: %r != %r" % (p, read(p).strip(), saved[p]))
        bad += 1
sys.exit(1 if bad else 0)
PY
# Still alive: a guest file can be written and read.
dd if=/dev/urandom of=/tmp/fuzz.$$ bs=1M count=4 status=none
dd if=/tmp/fuzz.$$ of="$MNT/vm" bs=1M conv=notrunc status=none
cmp /tmp/fuzz.$$ "$MNT/vm" || fail "guest file wrong after the fuzzing"
rm -f /tmp/fuzz.$$
log "sysfs fuzz: seed $seed, all refusals kept values, module alive"
