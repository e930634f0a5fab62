#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot a TCG guest with a virtio-balloon device and test esxmm_balloon.ko.

    this script                                 guest (Debian kernel, busybox /init)
    -----------                                 ------------------------------------
    qemu-system-x86_64 -accel tcg -m 512        insmod virtio chain (no virtio_balloon)
      -device virtio-balloon-pci,               ttyS1: runs "<id> <command>" lines,
         id=balloon0,deflate-on-oom=on            answers output + "@@END <id> <rc>"
      -qmp unix:qmp.sock      <----- QMP -----  (balloon, query-balloon, qom-get/set)
      -serial file:console.log  <-- ttyS0 ---   kernel log
      -serial unix:ctl.sock   <---- ttyS1 --->  command channel

Called by run.sh with the initramfs already built. Prints one line per
check, "balloon-guest: N passed, N failed" at the end (exit 1 on failure);
with --bench it prints inflate and deflate rates instead.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time

MIB = 1 << 20
RAM_MIB = 512


class Guest:
    """QEMU plus its two channels: QMP and the guest's command shell."""

    def __init__(self, args, ram_mib=RAM_MIB, icount=False):
        self.dir = args.dir
        self.ram_mib = ram_mib
        self.console = os.path.join(self.dir, "console.log")
        qmp_path = os.path.join(self.dir, "qmp.sock")
        ctl_path = os.path.join(self.dir, "ctl.sock")
        for p in (qmp_path, ctl_path):
            if os.path.exists(p):
                os.unlink(p)
        cmd = ["nice", "-n", "10", "qemu-system-x86_64", "-accel", "tcg",
               "-m", str(ram_mib), "-smp", "1", "-nographic", "-nodefaults",
               "-no-reboot", "-kernel", args.kernel, "-initrd", args.initrd,
               "-append", "console=ttyS0 loglevel=6 panic_on_warn=1 oops=panic "
               "panic=-1 mitigations=off",
               "-device", "virtio-balloon-pci,id=balloon0,deflate-on-oom=on",
               "-qmp", "unix:%s,server=on,wait=off" % qmp_path,
               "-chardev", "file,id=con,path=%s" % self.console,
               "-serial", "chardev:con",
               "-chardev", "socket,id=ctl,path=%s,server=on,wait=off" % ctl_path,
               "-serial", "chardev:ctl"]
        if icount:
            cmd += ["-icount", "shift=0,sleep=off"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        self.qmp = self._connect(qmp_path)
        self.qmp_buf = b""
        self._qmp_read()  # greeting
        self.qmp_cmd("qmp_capabilities")
        self.ctl = self._connect(ctl_path)
        self.ctl_buf = b""
        self.seq = 0

    def _connect(self, path):
        deadline = time.time() + 30
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return s
            except OSError:
                s.close()
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("cannot connect to " + path)
                time.sleep(0.2)

    def _qmp_read(self):
        while b"\n" not in self.qmp_buf:
            self.qmp.settimeout(60)
            data = self.qmp.recv(65536)
            if not data:
                raise RuntimeError("QMP closed (QEMU exited?)")
            self.qmp_buf += data
        line, self.qmp_buf = self.qmp_buf.split(b"\n", 1)
        return json.loads(line)

    def qmp_cmd(self, name, **arguments):
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.qmp.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._qmp_read()
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (name, r["error"]))
            return r.get("return")

    def actual_mib(self):
        return self.qmp_cmd("query-balloon")["actual"] / MIB

    def sh(self, command, timeout=120):
        """Run @command in the guest; return (rc, output)."""
        self.seq += 1
        token = "@@END %d " % self.seq
        self.ctl.sendall(("%d %s\n" % (self.seq, command)).encode())
        deadline = time.time() + timeout
        while True:
            text = self.ctl_buf.decode(errors="replace")
            i = text.find(token)
            if i >= 0:
                j = text.find("\n", i)
                if j >= 0:
                    rc = int(text[i + len(token):j].strip() or 255)
                    out = text[:i]
                    self.ctl_buf = text[j + 1:].encode()
                    return rc, out
            left = deadline - time.time()
            if left <= 0:
                raise RuntimeError("guest command timed out: " + command)
            self.ctl.settimeout(min(left, 5))
            try:
                data = self.ctl.recv(65536)
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError("QEMU exited")
                continue
            if not data:
                raise RuntimeError("command channel closed (guest died?)")
            self.ctl_buf += data

    def out(self, command, timeout=120):
        rc, text = self.sh(command, timeout)
        if rc:
            raise RuntimeError("guest: %s: exit %d: %s" % (command, rc, text))
        return text.strip()

    def wait_ready(self, timeout):
        """The guest's shell answers once /init is up; poll it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.seq += 1
            self.ctl.sendall(("%d echo up\n" % self.seq).encode())
            self.ctl.settimeout(2)
            end = time.time() + 2
            while time.time() < end:
                try:
                    data = self.ctl.recv(65536)
                except socket.timeout:
                    break
                if not data:
                    raise RuntimeError("command channel closed")
                self.ctl_buf += data
                if ("@@END %d " % self.seq).encode() in self.ctl_buf:
                    self.ctl_buf = b""
                    return True
            if self.proc.poll() is not None:
                return False
        return False

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.qmp_cmd("quit")
            except (RuntimeError, OSError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("balloon-guest: PASS %s %s" % (name, detail), flush=True)
        else:
            self.failed += 1
            print("balloon-guest: FAIL %s %s" % (name, detail), flush=True)
        return ok


def wait_actual(g, mib, timeout, interval=0.1):
    """Poll query-balloon until actual is @mib MiB; return seconds or None."""
    start = time.time()
    while time.time() - start < timeout:
        if abs(g.actual_mib() - mib) < 0.5:
            return time.time() - start
        time.sleep(interval)
    return None


def dbg(g, name):
    return int(g.out("cat /sys/kernel/debug/esxmm_balloon/" + name))


def qemu_rss_mib(g):
    """QEMU's resident anonymous memory (the guest's RAM here is anonymous)."""
    with open("/proc/%d/status" % g.proc.pid) as f:
        m = re.search(r"^RssAnon:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) / 1024.0 if m else -1


def host_freed_mib(g, mib_to, touch=380):
    """Touch @touch MiB in the guest (so QEMU holds it), balloon down to
    @mib_to and return (MiB QEMU gave back to the host, seconds)."""
    g.out("/bin/hog %d" % touch, timeout=300)
    before = qemu_rss_mib(g)
    g.qmp_cmd("balloon", value=mib_to * MIB)
    t = wait_actual(g, mib_to, 120)
    time.sleep(1)
    return before - qemu_rss_mib(g), t


def meminfo(g, key):
    m = re.search(r"^%s:\s+(\d+) kB" % key, g.out("cat /proc/meminfo"), re.M)
    return int(m.group(1)) if m else -1


def tests(g, r):
    ko = "/lib/modules/esxmm_balloon.ko"

    # Parameters outside their range are refused at load, with a log line.
    rc, _ = g.sh("insmod %s rate_pages_per_sec=0" % ko)
    log = g.out("dmesg | tail -n 5")
    r.check("param_rate_refused", rc != 0 and "rate_pages_per_sec=0 refused" in log)
    rc, _ = g.sh("insmod %s poll_ms=5" % ko)
    log = g.out("dmesg | tail -n 5")
    r.check("param_poll_refused", rc != 0 and "poll_ms=5 refused" in log)

    g.out("insmod %s" % ko)
    drv = g.out("basename $(readlink /sys/bus/virtio/devices/*/driver)")
    feats = g.out("cat /sys/bus/virtio/devices/*/features")
    # Bits 1-2 (STATS_VQ, DEFLATE_ON_OOM), none of 3-5 (free page hints,
    # poison, reporting). Bit 0 (MUST_TELL_HOST) is not offered by QEMU's
    # device, so it is not negotiated; the driver tells the host regardless.
    r.check("bound", drv == "esxmm_balloon", drv)
    r.check("features", feats[1:3] == "11" and feats[3:6] == "000", feats[:8])
    rc, _ = g.sh("grep -q '^virtio_balloon ' /proc/modules")
    r.check("no_virtio_balloon", rc != 0)
    rc, _ = g.sh("echo 7 > /sys/module/esxmm_balloon/parameters/rate_pages_per_sec")
    r.check("param_runtime_refused", rc != 0)
    r.check("initial_size", abs(g.actual_mib() - RAM_MIB) < 0.5, "%.0f MiB" % g.actual_mib())

    # Inflate to 256 MiB: at most 64 MiB/s by default, so no faster than 4 s.
    # The guest's RAM is QEMU's anonymous memory: first make QEMU hold most
    # of it (hog touches 380 MiB and exits), then the host must get back
    # what the balloon takes (QEMU discards inflated pages with DONTNEED).
    g.out("/bin/hog 380", timeout=300)
    free0 = meminfo(g, "MemFree")
    rss0 = qemu_rss_mib(g)
    g.qmp_cmd("balloon", value=256 * MIB)
    t = wait_actual(g, 256, 90)
    time.sleep(1)
    rss1 = qemu_rss_mib(g)
    # Not all 256: the balloon may take some pages hog never touched.
    r.check("host_memory_freed", rss0 - rss1 >= 128,
            "QEMU RssAnon %.0f -> %.0f MiB for 256 MiB ballooned" % (rss0, rss1))
    r.check("inflate_256", t is not None, "%.1f s" % (t or -1))
    r.check("inflate_rate_bounded", t is not None and t >= 3.5,
            "%.1f s for 256 MiB at 16384 pages/s" % (t or -1))
    r.check("debugfs_target", dbg(g, "target_pages") == 65536)
    r.check("debugfs_actual", dbg(g, "actual_pages") == 65536)
    r.check("debugfs_inflated", dbg(g, "inflated_total") >= 65536)
    free1 = meminfo(g, "MemFree")
    r.check("guest_free_drops", free0 - free1 >= 250 * 1024,
            "MemFree %d -> %d kB" % (free0, free1))
    r.check("memtotal_kept", meminfo(g, "MemTotal") > 400 * 1024,
            "deflate-on-oom keeps the pages in MemTotal")

    # Deflate back to the full size.
    g.qmp_cmd("balloon", value=RAM_MIB * MIB)
    t = wait_actual(g, RAM_MIB, 90)
    r.check("deflate_512", t is not None, "%.1f s" % (t or -1))
    r.check("debugfs_deflated", dbg(g, "deflated_total") >= 65536 and
            dbg(g, "actual_pages") == 0)

    # A lower rate is honoured at once: 32 MiB at 2048 pages/s (8 MiB/s).
    g.out("echo 2048 > /sys/module/esxmm_balloon/parameters/rate_pages_per_sec")
    g.qmp_cmd("balloon", value=(RAM_MIB - 32) * MIB)
    t = wait_actual(g, RAM_MIB - 32, 60)
    r.check("slow_rate", t is not None and t >= 3.5, "%.1f s for 32 MiB" % (t or -1))
    g.out("echo 16384 > /sys/module/esxmm_balloon/parameters/rate_pages_per_sec")
    g.qmp_cmd("balloon", value=RAM_MIB * MIB)
    wait_actual(g, RAM_MIB, 60)

    # Guest statistics, as QEMU reports them.
    path = "/machine/peripheral/balloon0"
    g.qmp_cmd("qom-set", path=path, property="guest-stats-polling-interval", value=1)
    stats = {}
    deadline = time.time() + 30
    while time.time() < deadline:
        st = g.qmp_cmd("qom-get", path=path, property="guest-stats")
        stats = st.get("stats", {})
        if st.get("last-update", 0) and stats.get("stat-total-memory", -1) > 0:
            break
        time.sleep(1)
    total_kb = meminfo(g, "MemTotal")
    print("balloon-guest: guest-stats %s" % json.dumps(stats, sort_keys=True))
    r.check("stats_total", stats.get("stat-total-memory", -1) == total_kb * 1024,
            "%s vs MemTotal %d kB" % (stats.get("stat-total-memory"), total_kb))
    r.check("stats_values", all(stats.get(k, -1) > 0 for k in
                                ("stat-free-memory", "stat-available-memory",
                                 "stat-minor-faults", "stat-disk-caches")) and
            all(stats.get(k, -1) >= 0 for k in
                ("stat-swap-in", "stat-swap-out", "stat-major-faults",
                 "stat-htlb-pgalloc", "stat-htlb-pgfail")))
    sent = dbg(g, "stats_sent")
    time.sleep(3)
    r.check("stats_repeat", dbg(g, "stats_sent") > sent, "stats_sent %d" % sent)
    g.qmp_cmd("qom-set", path=path, property="guest-stats-polling-interval", value=0)

    # Deflate on OOM: with 256 MiB ballooned, a program needs 320 MiB.
    g.qmp_cmd("balloon", value=256 * MIB)
    r.check("reinflate_256", wait_actual(g, 256, 90) is not None)
    g.out("dmesg -c > /dev/null")
    rc, text = g.sh("/bin/hog 320", timeout=300)
    log = g.out("dmesg")
    oom = dbg(g, "oom_deflations")
    r.check("oom_hog_survives", rc == 0 and "touched 320 MiB" in text,
            text.strip().splitlines()[-1] if text.strip() else "rc %d" % rc)
    r.check("oom_no_kill", "Killed process" not in log and "oom-kill" not in log)
    r.check("oom_deflated", oom > 0, "oom_deflations=%d pages, oom_events=%d" %
            (oom, dbg(g, "oom_events")))
    r.check("oom_actual_reported", g.actual_mib() > 256.5, "%.0f MiB" % g.actual_mib())
    # After the hold (10 s backoff) the balloon goes back to the target.
    t = wait_actual(g, 256, 120, interval=0.5)
    r.check("oom_reinflates", t is not None, "after %.1f s" % (t or -1))

    # Freeze/restore: PM test mode runs the device callbacks without sleeping.
    deflated = dbg(g, "deflated_total")
    # pm_test holds the suspended state with a busy delay (5 s by default),
    # which a starved TCG vCPU can stretch into a soft lockup: keep it short.
    g.sh("echo 1 > /sys/module/suspend/parameters/pm_test_delay")
    rc, text = g.sh("echo devices > /sys/power/pm_test && echo freeze > /sys/power/state",
                    timeout=120)
    g.sh("echo none > /sys/power/pm_test")
    r.check("pm_cycle", rc == 0, text.strip()[-200:])
    r.check("pm_freeze_deflated", dbg(g, "deflated_total") - deflated >= 65536)
    t = wait_actual(g, 256, 90)
    r.check("pm_restore_reinflates", t is not None and dbg(g, "actual_pages") == 65536)

    # Unbinding through sysfs deflates; binding again refills.
    dev = g.out("basename $(readlink -f /sys/bus/virtio/drivers/esxmm_balloon/virtio*)")
    g.out("echo %s > /sys/bus/virtio/drivers/esxmm_balloon/unbind" % dev)
    r.check("unbind_deflates", wait_actual(g, RAM_MIB, 10) is not None)
    g.out("echo %s > /sys/bus/virtio/drivers/esxmm_balloon/bind" % dev)
    r.check("bind_inflates", wait_actual(g, 256, 90) is not None)

    # Removal gives every page back and tells the host.
    g.out("rmmod esxmm_balloon")
    r.check("rmmod_deflates", wait_actual(g, RAM_MIB, 10) is not None,
            "%.0f MiB" % g.actual_mib())
    free2 = meminfo(g, "MemFree")
    r.check("rmmod_memfree", free2 > 380 * 1024, "MemFree %d kB" % free2)
    # Loaded again, it picks up the standing target.
    g.out("insmod %s" % ko)
    r.check("reload_inflates", wait_actual(g, 256, 90) is not None)
    g.out("rmmod esxmm_balloon")
    r.check("rmmod_again", wait_actual(g, RAM_MIB, 10) is not None)


def rate(g, mib_from, mib_to, timeout=300):
    g.qmp_cmd("balloon", value=mib_to * MIB)
    t = wait_actual(g, mib_to, timeout, interval=0.02)
    return abs(mib_from - mib_to) / t if t else 0.0


def bench_driver(g, name, size=256, rounds=3):
    drv = g.out("basename $(readlink /sys/bus/virtio/devices/*/driver)")
    if drv != name.split()[0]:
        raise RuntimeError("device bound to %s, not %s" % (drv, name))
    freed, _ = host_freed_mib(g, RAM_MIB - size)
    g.qmp_cmd("balloon", value=RAM_MIB * MIB)
    wait_actual(g, RAM_MIB, 120)
    print("balloon-bench: %-27s host memory freed by a %d MiB inflate: %.0f MiB" %
          (name, size, freed), flush=True)
    ins, des = [], []
    for _ in range(rounds):
        ins.append(rate(g, RAM_MIB, RAM_MIB - size))
        des.append(rate(g, RAM_MIB - size, RAM_MIB))
    print("balloon-bench: %-27s inflate %s  deflate %s  (MiB/s)" %
          (name, " ".join("%6.1f" % x for x in ins),
           " ".join("%6.1f" % x for x in des)), flush=True)


def bench(g):
    """Inflate/deflate 256 MiB three times per driver, switching via sysfs."""
    print("balloon-bench: TCG guest, -m %d, 256 MiB each way, 3 rounds" % RAM_MIB)
    g.out("insmod /lib/modules/virtio_balloon.ko")
    bench_driver(g, "virtio_balloon")
    dev = g.out("basename $(readlink -f /sys/bus/virtio/drivers/virtio_balloon/virtio*)")
    g.out("echo %s > /sys/bus/virtio/drivers/virtio_balloon/unbind" % dev)
    # Loading it binds the device nobody drives now.
    g.out("insmod /lib/modules/esxmm_balloon.ko rate_pages_per_sec=4194304")
    bench_driver(g, "esxmm_balloon rate=max")
    g.out("echo %s > /sys/bus/virtio/drivers/esxmm_balloon/unbind" % dev)
    g.out("echo 16384 > /sys/module/esxmm_balloon/parameters/rate_pages_per_sec")
    g.out("echo %s > /sys/bus/virtio/drivers/esxmm_balloon/bind" % dev)
    bench_driver(g, "esxmm_balloon rate=default")
    g.out("echo %s > /sys/bus/virtio/drivers/esxmm_balloon/unbind" % dev)
    g.out("echo %s > /sys/bus/virtio/drivers/virtio_balloon/bind" % dev)
    bench_driver(g, "virtio_balloon", rounds=1)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def paper_run(args, ram, balloon_to, runs, buf_mib, rounds):
    """Boot a guest of @ram MiB (under -icount), balloon it to @balloon_to
    MiB if given, run the workload @runs times; the guest ms of each run."""
    g = Guest(args, ram_mib=ram, icount=True)
    try:
        if not g.wait_ready(args.boot_timeout * 3):
            raise RuntimeError("guest (-m %d) did not come up" % ram)
        if balloon_to:
            g.out("insmod /lib/modules/esxmm_balloon.ko")
            g.qmp_cmd("balloon", value=balloon_to * MIB)
            if wait_actual(g, balloon_to, 600) is None:
                raise RuntimeError("balloon did not reach %d MiB (at %.0f)" %
                                   (balloon_to, g.actual_mib()))
        free = meminfo(g, "MemFree") // 1024
        ms = []
        for _ in range(runs):
            out = g.out("/bin/work %d %d" % (buf_mib, rounds), timeout=1800)
            m = re.search(r"ms=([0-9.]+)", out)
            if not m:
                raise RuntimeError("work printed: " + out)
            ms.append(float(m.group(1)))
        return ms, free
    finally:
        g.stop()


def paper(args):
    """ESX's experiment (paper, section 3.2, figure 2) at small scale: the
    same workload in a guest booted with BIG MiB and ballooned down to SMALL,
    and in a guest booted with SMALL; the ballooned guest's overhead is the
    loss of throughput. Under -icount, so guest time counts instructions."""
    big, small, runs = 512, 256, 3
    buf_mib, rounds = 96, 6
    print("balloon-paper: workload (tests/guest-balloon/work.c): %d MiB resident buffer, "
          "%d rounds; %d runs per guest; QEMU TCG -icount shift=0" % (buf_mib, rounds, runs),
          flush=True)
    rows = []
    for name, ram, to in (("booted %d MiB, ballooned to %d" % (big, small), big, small),
                          ("booted %d MiB" % small, small, 0),
                          ("booted %d MiB (no balloon)" % big, big, 0)):
        ms, free = paper_run(args, ram, to, runs, buf_mib, rounds)
        rate = rounds * 1000.0 / median(ms)
        rows.append((name, rate))
        print("balloon-paper: %-34s MemFree %4d MiB  run ms %s  rounds/s %.4f" %
              (name, free, " ".join("%.2f" % x for x in ms), rate), flush=True)
    overhead = (rows[1][1] - rows[0][1]) / rows[1][1] * 100
    print("balloon-paper: ballooned vs booted small: throughput %.4f / %.4f rounds/s, "
          "overhead %.2f %% (ESX measured 1.4-4.4 %%; under -icount this counts guest "
          "instructions: TCG models no cache or TLB misses)" % (rows[0][1], rows[1][1], overhead),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--paper", action="store_true")
    ap.add_argument("--boot-timeout", type=int, default=180)
    args = ap.parse_args()

    r = Results()
    g = None
    start = time.time()
    if not args.bench and not args.paper and "BALLOON_MODPROBE_OK" in os.environ:
        # Checked by run.sh on this machine: modprobe -n with the documented conf.
        r.check("modprobe_conf", os.environ["BALLOON_MODPROBE_OK"] == "1",
                os.environ.get("BALLOON_MODPROBE_DETAIL", ""))
    if args.paper:
        try:
            paper(args)
        except (RuntimeError, OSError, ValueError) as e:
            print("balloon-paper: FAIL %s" % e)
            return 1
        return 0
    try:
        g = Guest(args)
        if not g.wait_ready(args.boot_timeout):
            raise RuntimeError("guest did not come up in %d s" % args.boot_timeout)
        print("balloon-guest: guest up after %.0f s" % (time.time() - start), flush=True)
        if args.bench:
            bench(g)
        else:
            tests(g, r)
    except (RuntimeError, OSError, ValueError) as e:
        r.check("harness", False, str(e))
    finally:
        if g:
            g.stop()
    if os.path.exists(os.path.join(args.dir, "console.log")):
        with open(os.path.join(args.dir, "console.log"), errors="replace") as f:
            log = f.read()
        bad = re.findall(r".*(?:WARNING:|BUG:|Oops|Call Trace|Kernel panic|"
                         r"invoked oom-killer).*", log)
        r.check("console_clean", not bad, "; ".join(bad[:3]))
    print("balloon-guest: took %.0f s" % (time.time() - start))
    if args.bench:
        return 0 if r.failed == 0 else 1
    print("balloon-guest: %d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
