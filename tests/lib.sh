# shellcheck shell=bash
# tests/lib.sh: helpers for tests/t_*.sh, which run inside the test host (chroot, as root).
# Env from run-tests.sh: REPO, ESXMM_TESTBIN, KVM_MMU (shadow|tdp), ESXMM_TESTMODE (tmpfs: use a
# tmpfs instead of esxmm, for developing tests without the module), ESXMM_CACHE.
set -euo pipefail

REPO=${REPO:?}
ESXMM_TESTBIN=${ESXMM_TESTBIN:-$REPO/tests/build}
ESXMM_CACHE=${ESXMM_CACHE:-/var/cache/esxmm}
KVM_MMU=${KVM_MMU:-shadow}
ESXMM_SYSFS=/sys/kernel/esxmm
KVER=$(uname -r)

log() { echo "$*"; }
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

# Cleanup actions run in reverse order at exit (each test's single EXIT trap).
_cleanups=()
at_exit() { _cleanups=("$*" "${_cleanups[@]}"); }
_run_cleanups() {
	local rc=$? c
	for c in "${_cleanups[@]}"; do eval "$c" || true; done
	exit "$rc"
}
trap _run_cleanups EXIT
trap 'exit 143' TERM INT

# wait_for TIMEOUT INTERVAL CMD...: poll CMD until it succeeds.
wait_for() {
	local timeout=$1 interval=$2 start=$SECONDS
	shift 2
	until "$@"; do
		(( SECONDS - start >= timeout )) && return 1
		sleep "$interval"
	done
}

# dump_stacks PATTERN: for a test that found something stuck, print the state, wait channel
# and kernel stack of every thread of each process whose command line matches PATTERN
# (pgrep -f), then ask the kernel for all blocked tasks (sysrq w, on the console).
dump_stacks() {
	local p t
	for p in $(pgrep -f "$1"); do
		for t in /proc/$p/task/*; do
			echo "== $(tr '\0' ' ' <"$t/cmdline" 2>/dev/null | cut -c1-60) pid $p" \
				"tid ${t##*/}: $(awk '{print $3}' "$t/stat" 2>/dev/null)" \
				"wchan $(cat "$t/wchan" 2>/dev/null)"
			cat "$t/stack" 2>/dev/null || true
		done
	done
	echo w >/proc/sysrq-trigger 2>/dev/null || true
}

# klog_mark TEXT / klog_since TEXT: a mark in the kernel log, and the log from it on.
klog_mark() { echo "${0##*/}[$$]: $1" >/dev/kmsg; }
klog_since() { dmesg | sed -n "/${0##*/}\[$$\]: $1\$/,\$p"; }

# sysfs_save FILE...: put these files under $ESXMM_SYSFS back at exit to what they read now.
sysfs_save() {
	local f saved=""
	for f in "$@"; do
		saved+="echo $(cat "$ESXMM_SYSFS/$f") >$ESXMM_SYSFS/$f; "
	done
	at_exit "$saved"
}

# swap_file_on FILE MIB: a root-only file of MIB MiB of zeros becomes esxmm's swap; switched
# off at exit (after what sysfs_save restores, if that is called next).
swap_file_on() {
	at_exit "echo none >$ESXMM_SYSFS/swap/file"
	dd if=/dev/zero of="$1" bs=1M count="$2" status=none
	chmod 0600 "$1"
	echo "$1" >"$ESXMM_SYSFS/swap/file" || fail "swap on $1"
}

testmode_tmpfs() { [ "${ESXMM_TESTMODE:-}" = tmpfs ]; }

# mount_esxmm: mount a private esxmm fs (a tmpfs in ESXMM_TESTMODE=tmpfs) at a new temp dir
# and set MNT to it; umounted at exit. Call it directly, not in $(...): the cleanup is
# registered in the calling shell.
mount_esxmm() {
	MNT=$(mktemp -d /run/esxmm-test.XXXXXX)
	if testmode_tmpfs; then
		mount -t tmpfs -o size=1G none "$MNT" || { rmdir "$MNT"; return 1; }
	else
		mount -t esxmm none "$MNT" || { rmdir "$MNT"; return 1; }
	fi
	at_exit "umount '$MNT' && rmdir '$MNT'"
}

# vm_dir_for PATH_IN_MOUNT: the /sys/kernel/esxmm/vms/<id> whose `path` reads PATH_IN_MOUNT.
vm_dir_for() {
	local d
	for d in "$ESXMM_SYSFS"/vms/*/; do
		[ -r "$d/path" ] || continue
		if [ "$(cat "$d/path")" = "$1" ]; then
			echo "${d%/}"
			return 0
		fi
	done
	return 1
}

# Nested QEMU guest on the test host's KVM. run_guest LOG MEM_MB APPEND MEMORY_OBJECT_ARGS...
guest_kernel() { echo "/boot/vmlinuz-$KVER"; }
guest_initrd() { echo "$ESXMM_CACHE/guest/memcheck.cpio.gz"; }
# the same memcheck behind busybox, the virtio chain and esxmm_balloon.ko
guest_balloon_initrd() { echo "$ESXMM_CACHE/guest/balloon.cpio.gz"; }
run_guest() {
	local log=$1 mem=$2 append=$3
	shift 3
	qemu-system-x86_64 -accel kvm -cpu host -m "$mem" -smp 1 -nographic -no-reboot \
		-nodefaults -serial stdio -kernel "$(guest_kernel)" -initrd "$(guest_initrd)" \
		-append "console=ttyS0 quiet panic=-1 mitigations=off $append" "$@" \
		</dev/null >"$log" 2>&1
}
