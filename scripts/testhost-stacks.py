#!/usr/bin/env python3
"""Every vCPU's RIP and a raw stack scan of a running (or hung) test host, in symbols.

Usage: scripts/testhost-stacks.py MONITOR_SOCKET [CONSOLE_LOG] [--words N]

The test host must have been started with ESXMM_TESTHOST_MONITOR=MONITOR_SOCKET and
ESXMM_TESTHOST_APPEND=nokaslr (so the kernel sits where /boot/System.map-<ver> says).
Module addresses come from the last "ESXMM-MODS:" line of CONSOLE_LOG (default
$ESXMM_CACHE/testhost/console.log), which tests/run-tests.sh prints before each test;
their symbols from the .ko files (esxmm from the repository, kvm and kvm_amd from
/lib/modules). The stack scan is raw: every word that points into code is printed, so
stale return addresses show up too; read it like a "?" line of a kernel backtrace.
"""
import bisect
import os
import re
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def monitor(path, cmds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(2)
    out = []

    def read_until_prompt():
        buf = b""
        end = time.time() + 20
        while time.time() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            if buf.rstrip().endswith(b"(qemu)"):
                break
        return buf.decode(errors="replace")

    read_until_prompt()
    for c in cmds:
        s.sendall(c.encode() + b"\n")
        text = read_until_prompt()
        # drop the echoed command (with its terminal escapes) and the prompt
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
        lines = [ln for ln in text.replace("\r", "").split("\n")
                 if ln.strip() and not ln.startswith("(qemu)")]
        out.append(lines)
    s.close()
    return out


class Symbols:
    def __init__(self):
        self.addrs, self.names = [], []

    def add(self, addr, name):
        self.addrs.append(addr)
        self.names.append(name)

    def done(self):
        order = sorted(range(len(self.addrs)), key=lambda i: self.addrs[i])
        self.addrs = [self.addrs[i] for i in order]
        self.names = [self.names[i] for i in order]

    def lookup(self, a):
        i = bisect.bisect_right(self.addrs, a) - 1
        if i < 0 or a - self.addrs[i] > 0x10000:
            return None
        return "%s+0x%x" % (self.names[i], a - self.addrs[i])


def load_symbols(console):
    syms = Symbols()
    kver = subprocess.run(["bash", "-c", "ls /boot/System.map-*-amd64 | tail -n1"],
                          capture_output=True, text=True).stdout.strip()
    release = os.path.basename(kver)[len("System.map-"):]
    # Debian's /boot/System.map is a one-line placeholder; the real one is in
    # linux-image-<release>-dbg (dpkg-deb -x it anywhere and set ESXMM_SYSTEM_MAP).
    maps = [os.environ.get("ESXMM_SYSTEM_MAP", ""),
            "/usr/lib/debug/boot/System.map-%s" % release, kver]
    n = 0
    for m in maps:
        if not m or not os.path.exists(m):
            continue
        with open(m) as f:
            for ln in f:
                p = ln.split()
                if len(p) >= 3 and p[1] in "tTwW":
                    syms.add(int(p[0], 16), p[2])
                    n += 1
        if n:
            break
    if not n:
        print("no kernel symbols: install linux-image-%s-dbg or set ESXMM_SYSTEM_MAP" % release)
    mods = {}
    try:
        with open(console, errors="replace") as f:
            for ln in f:
                if "ESXMM-MODS:" in ln:
                    mods = dict(kv.split("=") for kv in ln.split("ESXMM-MODS:")[1].split())
    except OSError:
        pass
    ko = {"esxmm": os.path.join(REPO, "esxmm/esxmm.ko"),
          "kvm": "/lib/modules/%s/kernel/arch/x86/kvm/kvm.ko" % release,
          "kvm_amd": "/lib/modules/%s/kernel/arch/x86/kvm/kvm-amd.ko" % release}
    for m, base in mods.items():
        if m not in ko or not os.path.exists(ko[m]):
            continue
        # symbol values are offsets within their section: only .text lines up with base
        sec = subprocess.run(["objdump", "-t", ko[m]], capture_output=True, text=True).stdout
        for ln in sec.splitlines():
            p = ln.split()
            if len(p) >= 6 and p[-3] == ".text" and "F" in p[1:-3]:
                syms.add(int(base, 16) + int(p[0], 16), "%s [%s]" % (p[-1], m))
    syms.done()
    return syms, mods


def main():
    args = sys.argv[1:]
    words = 96
    if "--words" in args:
        i = args.index("--words")
        words = int(args[i + 1])
        del args[i:i + 2]
    if not args:
        print(__doc__)
        sys.exit(2)
    sock = args[0]
    console = args[1] if len(args) > 1 else os.path.join(
        os.environ.get("ESXMM_CACHE", "/var/cache/esxmm"), "testhost/console.log")
    syms, mods = load_symbols(console)
    print("modules:", " ".join("%s=%s" % kv for kv in mods.items()) or "(none seen)")
    cpus = monitor(sock, ["info cpus"])[0]
    ncpu = len([ln for ln in cpus if "CPU #" in ln])
    for cpu in range(ncpu):
        regs = monitor(sock, ["cpu %d" % cpu, "info registers"])[1]
        text = " ".join(regs)
        rip = int(re.search(r"RIP=([0-9a-f]+)", text).group(1), 16)
        rsp = int(re.search(r"RSP=([0-9a-f]+)", text).group(1), 16)
        print("CPU %d: RIP %x %s  RSP %x" % (cpu, rip, syms.lookup(rip) or "?", rsp))
        dump = monitor(sock, ["cpu %d" % cpu, "x/%dgx 0x%x" % (words, rsp)])[1]
        for ln in dump:
            for w in ln.split(":", 1)[-1].split():
                try:
                    a = int(w, 16)
                except ValueError:
                    continue
                s = syms.lookup(a)
                if s and a >= 0xffffffff80000000:
                    print("   ? %s" % s)


if __name__ == "__main__":
    main()
