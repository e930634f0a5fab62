#!/usr/bin/env bash
# esxmm-timeout: 900
# SPDX-License-Identifier: GPL-2.0
#
# t_libvirt: the whole balloon loop, through libvirt. libvirtd runs in this test host with a
# private configuration, two real Linux guests with esxmm_balloon.ko are defined on esxmm
# memory in a pool smaller than their sum, and tools/esxmm-balloond drives their balloons.
#
#   sampling every 2 s, 200 pages; tax 75 %; mount -t esxmm none $MNT
#   bind mounts of $work: /etc/libvirt (qemu.conf: memory_backing_dir = $MNT, root, no
#     security driver, namespaces = [ ]), /run/libvirt, /var/{lib,cache,log}/libvirt, and a
#     passwd with the libvirt-qemu user (libvirt looks it up before it reads qemu.conf)
#     -> libvirtd, socket $work/run/libvirt-sock (qemu+unix:///system?socket=...)
#   esxmm-balloond -c that URI
#   virsh define + start, 256 MiB each, shares 3000 each in <esxmm:memory>, kernel + the
#   balloon initramfs (scripts/guest-initramfs.sh), init_on_alloc=0 (else the guest zeroes
#   each page it balloons: a host fault per page, only for the page to be punched):
#     t-libvirt-idle: memcheck idle, 16 MiB written once, then nothing touched
#     t-libvirt-busy: memcheck hold, 64 MiB re-verified in a loop
#   -> both vms/<id>/shares = 3000 (esxmm's default would be 2560: the agent wrote them)
#   once both have written (balloon targets still 0: they fit): pool_pages 98304 (384 MiB)
#   -> within 60 s the idle guest's balloon inflates: ballooned_pages at least half its
#      balloon_target_pages; its target_pages below 80 % of the busy one's (equal shares,
#      so only the idle tax tells them apart), its active_permille below the busy one's;
#      the busy one's balloon target below half the idle one's, its memory at least 3/4
#      of its size, its 64 MiB resident
#   -> virsh dommemstat: the idle guest's "actual" below its maximum and within 5 % of
#      what the agent last set, "unused" (> 0) and "available" from the guest's driver,
#      for both guests
#   -> host side, while they run: scan_pattern reads both files, every memcheck page
#      byte for byte; told to stop, both memory checkers pass ("MEMCHECK OK": the idle
#      one verifies its pages again after its idle time) and power off
#
# 4 to 7 minutes, 45-80 s of it libvirtd's start (it probes QEMU's capabilities under TCG),
# so it runs once, under the shadow MMU; the balloon path does not depend on the MMU mode
# and t_qemu_guest covers TDP. Measured on the shared 2-core machine (244-407 s in all, with
# one or two other test hosts running): settled 4-19 s after the overcommit; the guests take
# 40-245 s to boot and write, depending on the load.
# The checkers run until the test writes "stop" to each guest's second serial port (a unix
# socket; memcheck mc_stop=/dev/ttyS1), at most T_LIBVIRT_HOLD s (default 600) after their
# first write: a fixed time either cut the checks short under load (the idle guest, done
# writing long before the busy one, powered off first) or made every run wait for it.
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"

testmode_tmpfs && skip "esxmm only: no targets on tmpfs"
[ -c /dev/kvm ] || skip "no /dev/kvm"
for b in /usr/sbin/libvirtd /usr/bin/virsh; do
	[ -x "$b" ] || fail "$b missing (scripts/lib.sh esxmm_need_testhost_pkgs installs it)"
done
agent=$REPO/tools/esxmm-balloond
[ -x "$agent" ] || fail "$agent not built (make tools; scripts/testhost.sh builds it)"
[ -x "$ESXMM_TESTBIN/scan_pattern" ] || fail "$ESXMM_TESTBIN/scan_pattern not built"
initrd=$(guest_balloon_initrd)
[ -f "$initrd" ] || fail "$initrd missing (scripts/guest-initramfs.sh)"
S=$ESXMM_SYSFS
mem=256 pool=98304 shares=3000 hold=${T_LIBVIRT_HOLD:-600}
idle_mb=16 busy_mb=64
kib=$((mem * 1024))

declare -A old
for k in pool_pages tax_percent sample/period_millisecs sample/sample_pages; do
	old[$k]=$(cat "$S/$k")
	at_exit "echo '${old[$k]}' >'$S/$k'"
done
echo 75 >$S/tax_percent
echo 2000 >$S/sample/period_millisecs
echo 200 >$S/sample/sample_pages
mount_esxmm
work=$(mktemp -d /tmp/t_libvirt.XXXXXX)
at_exit "rm -rf '$work'"

# ---- libvirtd, private (tests/libvirt.sh) ------------------------------------------------
# shellcheck source=tests/libvirt.sh
source "$REPO/tests/libvirt.sh"
libvirtd_private "$work" "$MNT"
URI=$LV_URI

"$agent" -c "$URI" -v --stats-period 5 --min-interval 500 --floor 65536 --rescan 10 \
	2>"$work/agent.log" &
apid=$!
at_exit "kill $apid 2>/dev/null; wait $apid 2>/dev/null"

# ---- the guests ---------------------------------------------------------------------------
domxml() { libvirt_domxml "$1" "$kib" "$shares" "$initrd" "$2"; } # domxml NAME CMDLINE
gi=t-libvirt-idle gb=t-libvirt-busy
domxml $gi "mc_mb=$idle_mb mc_mode=idle mc_hold=$hold mc_stop=/dev/ttyS1" >"$work/$gi.xml"
domxml $gb "mc_mb=$busy_mb mc_mode=hold mc_hold=$hold mc_stop=/dev/ttyS1" >"$work/$gb.xml"
# No virsh destroy/undefine at exit (seconds each under TCG): the definitions live in $work,
# and a QEMU still running when libvirtd is gone is killed by its pid file.
for g in $gi $gb; do
	V define "$work/$g.xml" >/dev/null || lv_fail "virsh define $g"
done
for g in $gi $gb; do
	V start "$g" >/dev/null || { cat "$work/log/qemu/$g.log" 2>/dev/null; lv_fail "virsh start $g"; }
done
tstart=$SECONDS
log "guests started ($mem MiB each, pool $pool pages, kvm mmu $KVM_MMU)"

vm_of() { # vm_of DOMAIN: the vms/<id> whose file libvirt made for DOMAIN
	local d
	for d in "$S"/vms/*/; do
		case $(cat "$d/path" 2>/dev/null) in
		/libvirt/qemu/*-"$1"/*) echo "${d%/}"; return 0 ;;
		esac
	done
	return 1
}
wait_for 60 0.5 vm_of $gi >/dev/null || fail "no vms/<id> for $gi (paths: $(cat "$S"/vms/*/path))"
wait_for 60 0.5 vm_of $gb >/dev/null || fail "no vms/<id> for $gb"
di=$(vm_of $gi) db=$(vm_of $gb)
log "$gi: $di ($(cat "$di/path")), $gb: $db ($(cat "$db/path"))"

# the agent writes the metadata's shares (esxmm's default for 256 MiB would be 2560)
shares_set() { [ "$(cat "$di/shares")" = $shares ] && [ "$(cat "$db/shares")" = $shares ]; }
if ! wait_for 30 0.5 shares_set; then
	sed 's/^/agent> /' "$work/agent.log"
	fail "shares $(cat "$di/shares") / $(cat "$db/shares"), want $shares from the metadata"
fi

# ---- overcommit once both have written their memory; wait for the tax and the balloon ----
pidof_dom() { cat "$work/run/qemu/$1.pid" 2>/dev/null; }
running() { local p; p=$(pidof_dom "$1") && kill -0 "$p" 2>/dev/null; }
written() { lv_console $gi | grep -q 'MEMCHECK idle for' && lv_console $gb | grep -q 'MEMCHECK hold pass='; }
r() { cat "$1/$2"; }
row() {
	local d
	for d in "$di" "$db"; do
		printf ' %s: f=%s target=%s balloon_target=%s ballooned=%s resident=%s |' \
			"${d##*/}" "$(r "$d" active_permille)" "$(r "$d" target_pages)" \
			"$(r "$d" balloon_target_pages)" "$(r "$d" ballooned_pages)" "$(r "$d" resident_pages)"
	done
}
show_guests() {
	sed 's/^/agent> /' "$work/agent.log" | tail -n 40
	for g in $gi $gb; do lv_console "$g" | tail -n 10 | sed "s/^/$g> /"; done
}
last=-10
while ! written; do
	if ! running $gi || ! running $gb; then show_guests; fail "a guest stopped before it wrote its memory"; fi
	if (( SECONDS - tstart >= 360 )); then show_guests; fail "the guests' checkers did not start in 360 s"; fi
	if (( SECONDS - last >= 15 )); then
		log "t=$((SECONDS - tstart))s$(row) (writing)"
		last=$SECONDS
	fi
	sleep 2
done
# no balloon before this: the guests' sizes fit the pool
bt0="$(r "$di" balloon_target_pages) $(r "$db" balloon_target_pages)"
[ "$bt0" = "0 0" ] || fail "balloon targets $bt0 before the pool was overcommitted"
echo $pool >$S/pool_pages
tpool=$SECONDS
log "t=$((SECONDS - tstart))s$(row) pool_pages=$pool now"
settled() {
	local ti tb bi bb bli
	ti=$(r "$di" target_pages) tb=$(r "$db" target_pages)
	bi=$(r "$di" balloon_target_pages) bb=$(r "$db" balloon_target_pages)
	bli=$(r "$di" ballooned_pages)
	[ "$bi" -gt 0 ] && [ "$bli" -ge $((bi / 2)) ] && [ $((ti * 5)) -lt $((tb * 4)) ] &&
		[ $((bb * 2)) -lt "$bi" ]
}
last=$SECONDS ok=0
while (( SECONDS - tpool < 60 )); do
	if ! running $gi || ! running $gb; then break; fi
	if settled; then
		ok=1
		break
	fi
	if (( SECONDS - last >= 10 )); then
		log "t=$((SECONDS - tstart))s$(row) state $(r "$S" state)"
		last=$SECONDS
	fi
	sleep 1
done
log "t=$((SECONDS - tstart))s$(row) state $(r "$S" state)"
if [ "$ok" != 1 ]; then
	show_guests
	if ! running $gi || ! running $gb; then fail "a guest stopped before the balloon settled"; fi
	fail "no idle tax or no inflated balloon $((SECONDS - tpool)) s after the overcommit"
fi
log "settled $((SECONDS - tpool)) s after the overcommit"

# ---- the checks, while both run -----------------------------------------------------------
ti=$(r "$di" target_pages) tb=$(r "$db" target_pages)
bi=$(r "$di" balloon_target_pages) bb=$(r "$db" balloon_target_pages)
bli=$(r "$di" ballooned_pages) resb=$(r "$db" resident_pages)
fi_=$(r "$di" active_permille) fb=$(r "$db" active_permille)
log "idle: target $ti, balloon target $bi, ballooned $bli, f $fi_;" \
	"busy: target $tb, balloon target $bb, f $fb, resident $resb"
[ "$fi_" -lt "$fb" ] || fail "active_permille: idle $fi_ not below busy $fb"
[ "$resb" -ge $((busy_mb * 256)) ] || fail "busy resident_pages $resb < its $((busy_mb * 256)) checked pages"

# one virsh call per guest (each takes seconds under TCG)
declare -A ms
for g in $gi $gb; do
	ms[$g]=$(V dommemstat "$g") || fail "virsh dommemstat $g"
	log "dommemstat $g: $(tr '\n' ' ' <<<"${ms[$g]}")"
done
stat_of() { awk -v k="$2" '$1 == k { print $2 }' <<<"${ms[$1]}"; }
for g in $gi $gb; do
	for k in actual unused available; do
		[ -n "$(stat_of "$g" $k)" ] || fail "virsh dommemstat $g has no '$k'"
	done
	[ "$(stat_of "$g" unused)" -gt 0 ] || fail "virsh dommemstat $g: unused is 0"
done
ai=$(stat_of $gi actual) ab=$(stat_of $gb actual)
[ "$ai" -lt "$kib" ] || fail "$gi: actual $ai KiB, not ballooned"
# where the agent last put it (the targets move with the estimates; the driver follows at
# its rate): actual within 5 % of that
set_kib=$(sed -n "s/.*$gi: memory [0-9]* -> \([0-9]*\) KiB.*/\1/p" "$work/agent.log" | tail -n1)
[ -n "$set_kib" ] || fail "the agent's log shows no setmem of $gi"
d=$((ai - set_kib))
[ "${d#-}" -le $((kib / 20)) ] || fail "$gi: actual $ai KiB, the agent set $set_kib KiB"
[ "$ab" -ge $((kib * 3 / 4)) ] || fail "$gb: actual $ab KiB, below 3/4 of $kib"

for g in $gi $gb; do
	mb=$busy_mb
	[ "$g" = $gi ] && mb=$idle_mb
	f=$MNT$(cat "$(vm_of "$g")/path")
	t=$SECONDS
	scan=$("$ESXMM_TESTBIN/scan_pattern" "$f" $((mb * 256))) || { log "$scan"; fail "$g: pattern scan"; }
	log "$g: $scan ($((SECONDS - t)) s)"
done
log "balloon_violations: idle $(r "$di" balloon_violations), busy $(r "$db" balloon_violations)"

# ---- both memory checkers finish: told to stop on their second serial port ---------------
for g in $gi $gb; do
	lv_stop "$g" || fail "$g: cannot write to $work/$g.stop"
done
done_() { [ -n "$(lv_result $gi)" ] && [ -n "$(lv_result $gb)" ]; }
wait_for 120 2 done_ || true
for g in $gi $gb; do
	lv_console "$g" | grep -E 'BALLOON-INIT|MEMCHECK (start|idle|stop|cannot|OK|FAIL)|Out of memory|Kernel panic' |
		sed "s/^/$g> /" || true
	line=$(lv_result "$g")
	lv_console "$g" | grep -q 'MEMCHECK stop' || fail "$g: the checker did not see the stop line"
	case $line in
	"MEMCHECK OK"*) ;;
	*) lv_console "$g" | tail -n 20 | sed "s/^/$g> /"
	   fail "$g: memory checker did not pass (${line:-no result})" ;;
	esac
	grep -q 'BALLOON-INIT: balloon driver: esxmm_balloon bound' "$work/$g.console" ||
		fail "$g: esxmm_balloon was not bound to the balloon device"
done
log "done in $((SECONDS - tstart)) s after the start; agent: $(grep -c 'memory .* -> ' "$work/agent.log") setmem(s)"
