#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# esxmm-test: kvm
#
# A KVM guest runs on a file of a fresh esxmm mount, then the file's sysfs
# object is checked and must vanish with the file.
#
#   kvm_vmm (host process)          KVM guest (1 vCPU, 32-bit, no paging)
#   mmap(MAP_SHARED) $MNT/vm1  ==== slot 1, gpa 1 MiB .. 17 MiB
#   pread/pwrite/PUNCH_HOLE         write/verify (gpa ^ seed) over all of it
#
# kvm_vmm proves coherence in both directions and that a punched hole
# reaches the guest through KVM's MMU notifier (see tests/kvm_vmm.c).  After
# its last step the guest has written every page, so esxmm must count all
# 4096 pages resident and some faults.  Environment from the runner: REPO,
# ESXMM_TESTBIN (built test programs), KVM_MMU (shadow|tdp), and
# ESXMM_TESTMODE=tmpfs to run kvm_vmm on a tmpfs without the module (the
# esxmm sysfs checks are then skipped).
set -euo pipefail

: "${ESXMM_TESTBIN:?ESXMM_TESTBIN must name the built test programs}"
KVM_MMU=${KVM_MMU:-}
TESTMODE=${ESXMM_TESTMODE:-}
SYSFS=/sys/kernel/esxmm
SIZE_MIB=16
PAGES=$((SIZE_MIB * 256))

fail()
{
	echo "t_kvm_vmm: FAIL: $*"
	exit 1
}

MNT=$(mktemp -d)
mounted=0
cleanup()
{
	if [ "$mounted" = 1 ]; then
		rm -f "$MNT/vm1"
		umount "$MNT" || echo "t_kvm_vmm: warning: umount $MNT failed"
	fi
	rmdir "$MNT" 2>/dev/null || true
}
trap cleanup EXIT

# Poll until the command succeeds, for up to $1 tenths of a second.
wait_for()
{
	local tries=$1 i

	shift
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

if [ "$TESTMODE" != tmpfs ]; then
	[ -d "$SYSFS/vms" ] || fail "$SYSFS/vms missing: is esxmm.ko loaded?"
fi
[ -c /dev/kvm ] || fail "/dev/kvm missing: is kvm loaded?"

# The runner says which KVM MMU it loaded; make sure that is what runs.
if [ -r /sys/module/kvm_amd/parameters/npt ]; then
	tdp=$(cat /sys/module/kvm_amd/parameters/npt)
elif [ -r /sys/module/kvm_intel/parameters/ept ]; then
	tdp=$(cat /sys/module/kvm_intel/parameters/ept)
else
	tdp=unknown
fi
case "$KVM_MMU:$tdp" in
shadow:N | shadow:0 | tdp:Y | tdp:1 | :* | *:unknown) ;;
*) fail "KVM_MMU=$KVM_MMU but the loaded KVM has npt/ept=$tdp" ;;
esac
echo "t_kvm_vmm: KVM_MMU=${KVM_MMU:-unset} npt/ept=$tdp"

if [ "$TESTMODE" = tmpfs ]; then
	mount -t tmpfs -o size=$((SIZE_MIB * 2))m none "$MNT"
else
	mount -t esxmm none "$MNT"
fi
mounted=1

"$ESXMM_TESTBIN/kvm_vmm" "$MNT/vm1" "$SIZE_MIB" ||
	fail "kvm_vmm $MNT/vm1 $SIZE_MIB failed (exit $?)"

if [ "$TESTMODE" = tmpfs ]; then
	echo "t_kvm_vmm: ESXMM_TESTMODE=tmpfs: esxmm sysfs checks skipped"
	echo "t_kvm_vmm: PASS"
	exit 0
fi

# Find the VM object of this file; exactly one may claim the path.
vmdir=
for d in "$SYSFS"/vms/*; do
	[ -r "$d/path" ] || continue
	[ "$(cat "$d/path")" = /vm1 ] || continue
	[ -z "$vmdir" ] || fail "both $vmdir and $d have path /vm1 (a leftover VM?)"
	vmdir=$d
done
[ -n "$vmdir" ] || fail "no $SYSFS/vms/*/path reads /vm1"
echo "t_kvm_vmm: vm object $vmdir"
for f in size_pages resident_pages faults; do
	[ -r "$vmdir/$f" ] || fail "$vmdir/$f missing"
done

size=$(cat "$vmdir/size_pages")
resident=$(cat "$vmdir/resident_pages")
faults=$(cat "$vmdir/faults")
echo "t_kvm_vmm: size_pages=$size resident_pages=$resident faults=$faults"
[ "$size" -eq "$PAGES" ] || fail "size_pages=$size, want $PAGES"
[ "$resident" -eq "$PAGES" ] ||
	fail "resident_pages=$resident, want $PAGES (the guest wrote every page)"
[ "$faults" -gt 0 ] || fail "faults=$faults, want > 0"

rm "$MNT/vm1"
wait_for 50 test ! -e "$vmdir" ||
	fail "$vmdir still exists 5 s after rm of the file"
echo "t_kvm_vmm: vm object gone after rm"
echo "t_kvm_vmm: PASS"
