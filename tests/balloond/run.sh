#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/balloond/run.sh: esxmm-balloond without a VM. Builds the agent and its test program,
# runs the in-process test (test_balloond.c: libvirt's test driver + fake /proc and sysfs),
# then the real binary: --help, bad options, --once --dry-run, as a daemon (shares written,
# a target change applied, SIGUSR1 status, SIGHUP rescan, SIGTERM exit), and through a real
# libvirtd (session mode, as nobody, in a temp dir) that is killed and restarted under it.
# About 15-30 s.
# Last line: "balloond: N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
bin=$repo/tools/esxmm-balloond
unset JOURNAL_STREAM
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
finish() { echo "balloond: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

if ! nice make -s -C "$here" >/tmp/balloond-build.$$ 2>&1; then
	cat /tmp/balloond-build.$$
	rm -f /tmp/balloond-build.$$
	fail "build (make -C tests/balloond)"
	finish
fi
rm -f /tmp/balloond-build.$$
ok "build, -Wall -Wextra -Werror"

# the in-process test: its own ok/FAIL lines, its counts added to ours
out=$("$here/build/test_balloond")
rc=$?
echo "$out"
line=$(grep -E '^balloond-unit: [0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
if [ -z "$line" ]; then
	fail "test_balloond gave no result line (exit $rc)"
else
	p=$(sed -E 's/^[^:]+: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	passed=$((passed + p)) failed=$((failed + f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && fail "test_balloond exit $rc with no failure"
fi

# ---- the binary ----
t=$(mktemp -d)
pid='' dpid=''
cleanup() {	# the agent and libvirtd we started, by pid
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT

help=$("$bin" --help); rc=$?
check "--help exits 0" [ "$rc" -eq 0 ]
check "--help shows usage, the namespace and the options" \
	grep -q -e 'Usage: esxmm-balloond' <<<"$help"
check "--help names the XML namespace" grep -q 'https://esxmm.dev/xmlns/1' <<<"$help"
for o in --connect --poll-interval --sysfs-root --proc-root --dry-run --once; do
	grep -q -- "$o" <<<"$help" || fail "--help lacks $o"
done
"$bin" --bogus >/dev/null 2>&1; rc=$?
check "an unknown option exits 2" [ "$rc" -eq 2 ]
msg=$("$bin" --rescan=soon 2>&1); rc=$?
check "--rescan=soon refused (exit 2, says why)" \
	eval '[ "$rc" -eq 2 ] && grep -q "is not a number" <<<"$msg"'
msg=$("$bin" --once -c "test://$t/nonexistent.xml" 2>&1); rc=$?
check "--once against an unreachable URI fails (exit 1, says why)" \
	eval '[ "$rc" -eq 1 ] && grep -q "cannot connect" <<<"$msg"'

uuid=0b9d6e2c-1111-4222-8333-444455556666
mkdir -p "$t/proc/self" "$t/proc/300" "$t/sys/vms/12"
echo '41 22 0:45 / /run/esxmm rw - esxmm none rw' >"$t/proc/self/mountinfo"
printf 'qemu-system-x86_64\0-uuid\0%s\0' "$uuid" >"$t/proc/300/cmdline"
echo '7f00000000-7f40000000 rw-s 00000000 00:2d 9 /run/esxmm/vm1' >"$t/proc/300/maps"
echo /vm1 >"$t/sys/vms/12/path"
echo 262144 >"$t/sys/vms/12/size_pages"
echo 10240 >"$t/sys/vms/12/shares"
echo 0 >"$t/sys/vms/12/min_pages"
echo 0 >"$t/sys/vms/12/balloon_target_pages"
cat >"$t/node.xml" <<XML
<node>
  <domain type='test'>
    <name>vm1</name><uuid>$uuid</uuid>
    <memory unit='KiB'>1048576</memory>
    <metadata><esxmm:memory xmlns:esxmm='https://esxmm.dev/xmlns/1' shares='1234'/></metadata>
    <memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>
    <vcpu>1</vcpu><os><type>hvm</type></os>
  </domain>
</node>
XML
opts=(-c "test://$t/node.xml" --sysfs-root "$t/sys" --proc-root "$t/proc")

msg=$("$bin" "${opts[@]}" --once --dry-run 2>&1); rc=$?
check "--once --dry-run exits 0" [ "$rc" -eq 0 ]
check "--once --dry-run says what it would write" \
	grep -q 'vm1: would write shares = 1234 (vms/12)' <<<"$msg"
check "--once --dry-run writes nothing" [ "$(cat "$t/sys/vms/12/shares")" = 10240 ]

wait_log() {	# wait_log PATTERN: up to 5 s for the daemon's log to show it
	local _
	for _ in $(seq 50); do
		grep -q -- "$1" "$t/log" && return 0
		sleep 0.1
	done
	return 1
}
"$bin" "${opts[@]}" -v --poll-interval 50 --min-interval 0 2>"$t/log" &
pid=$!
check "daemon: connects" wait_log 'connected to test://'
check "daemon: attaches vm1 to vms/12" wait_log 'vm1: attached to vms/12 (/vm1'
check "daemon: writes shares" wait_log 'vm1: vms/12/shares = 1234'
check "daemon: vms/12/shares is 1234" [ "$(cat "$t/sys/vms/12/shares")" = 1234 ]
echo 131072 >"$t/sys/vms/12/balloon_target_pages"
check "daemon: a target of 131072 pages sets 524288 KiB" \
	wait_log 'vm1: memory 1048576 -> 524288 KiB (balloon target 131072 pages'
kill -USR1 "$pid"
check "daemon: SIGUSR1 logs a status line" \
	wait_log 'status: vm1: 1 file(s), vms/12, target 131072 pages, memory 524288 of 1048576'
kill -HUP "$pid"
check "daemon: SIGHUP rescans" wait_log 'SIGHUP: rescanning'
kill -TERM "$pid"
wait "$pid"; rc=$?
pid=
check "daemon: SIGTERM exits 0" [ "$rc" -eq 0 ]
check "daemon: and says so" grep -q 'Terminated: exiting' "$t/log"

# ---- a real libvirtd, restarted under the agent ----
# libvirtd in session mode as nobody, everything under $t; the test driver behind its socket
# (test+unix://<file>?socket=...). Killing it must fire the close callback; the agent must
# reconnect (backoff) and rebuild its state: the fresh daemon's vm1 is at full memory again.
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }
wait_count() {	# wait_count PATTERN N FILE: up to 10 s for N matching lines
	local _
	for _ in $(seq 100); do
		[ "$(count "$1" "$3")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
libvirtd_start() {
	setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME="$t/lv/home" \
		XDG_RUNTIME_DIR="$t/lv/run" XDG_CONFIG_HOME="$t/lv/home/.config" \
		XDG_CACHE_HOME="$t/lv/home/.cache" PATH=/usr/sbin:/usr/bin \
		/usr/sbin/libvirtd --timeout 0 >>"$t/libvirtd.log" 2>&1 &
	dpid=$!
	local _
	for _ in $(seq 100); do
		[ -S "$t/lv/run/libvirt/libvirt-sock" ] && return 0
		sleep 0.1
	done
	return 1
}
if [ ! -x /usr/sbin/libvirtd ]; then
	fail "libvirtd: not installed (scripts/deps.sh installs libvirt-daemon)"
else
	mkdir -p "$t/lv/home" "$t/lv/run"
	chown -R 65534:65534 "$t/lv"
	chmod 0755 "$t"
	chmod 0644 "$t/node.xml"
	echo 131072 >"$t/sys/vms/12/balloon_target_pages"
	sock=$t/lv/run/libvirt/libvirt-sock
	check "libvirtd: starts (session mode, as nobody)" libvirtd_start
	"$bin" -c "test+unix://$t/node.xml?socket=$sock" --sysfs-root "$t/sys" \
		--proc-root "$t/proc" --poll-interval 50 2>"$t/log2" &
	pid=$!
	check "libvirtd: the agent connects through its socket" \
		wait_count 'connected to test+unix' 1 "$t/log2"
	check "libvirtd: and sets vm1's memory" \
		wait_count 'vm1: memory 1048576 -> 524288 KiB' 1 "$t/log2"
	kill "$dpid"
	wait "$dpid" 2>/dev/null
	dpid=
	check "libvirtd killed: the close callback fires" \
		wait_count 'connection closed by libvirt' 1 "$t/log2"
	check "libvirtd down: the agent retries with backoff" \
		wait_count 'cannot connect to test+unix.*again in' 1 "$t/log2"
	check "libvirtd: restarts" libvirtd_start
	check "libvirtd back: the agent reconnects" \
		wait_count 'connected to test+unix' 2 "$t/log2"
	check "libvirtd back: vm1 attached and ballooned again" \
		wait_count 'vm1: memory 1048576 -> 524288 KiB' 2 "$t/log2"
	kill -TERM "$pid"
	wait "$pid"; rc=$?
	pid=
	check "libvirtd: the agent exits 0 on SIGTERM" [ "$rc" -eq 0 ]
fi

if [ "$failed" -ne 0 ]; then
	for f in "$t/log" "$t/log2" "$t/libvirtd.log"; do
		[ -f "$f" ] || continue
		echo "$f:"
		sed 's/^/    /' "$f"
	done
fi
finish
