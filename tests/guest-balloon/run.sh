#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/guest-balloon/run.sh: esxmm_balloon.ko in a real guest, on this machine.
#
#   make -C guest-driver -> esxmm_balloon.ko      guest: Debian's vmlinuz, QEMU TCG, -m 512,
#   gcc -static hog.c    -> hog                   virtio-balloon-pci,deflate-on-oom=on
#   busybox + virtio,virtio_ring,virtio_pci* +    /init: insmod the virtio chain, then a
#     esxmm_balloon.ko + hog -> initramfs          shell on ttyS1 for balloon_test.py
#   balloon_test.py: QEMU, QMP (balloon, query-balloon, guest-stats) + guest commands
#
# Usage: tests/guest-balloon/run.sh [--bench|--paper]
#   --bench  inflate/deflate MiB/s of esxmm_balloon against the in-tree virtio_balloon
#            (its initramfs also holds virtio_balloon.ko, which the test's never does)
#   --paper  ESX's experiment: tests/guest-balloon/work.c's throughput in a guest booted
#            with 512 MiB and ballooned to 256, against one booted with 256 (and 512
#            unballooned); under -icount, so guest time counts instructions (~15 min)
# Env: ESXMM_CACHE (default /var/cache/esxmm): work files in $ESXMM_CACHE/guest-balloon.
# Last line: "balloon-guest: N passed, N failed"; exit status non-zero on a failure.
set -euo pipefail
ESXMM_LOG_TAG=balloon-guest
# shellcheck source=scripts/lib.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../scripts/lib.sh"

mode='test'
case ${1:-} in
--bench) mode=bench ;;
--paper) mode=paper ;;
"") ;;
*) esxmm_die "usage: $0 [--bench|--paper]" ;;
esac

esxmm_need_pkgs qemu-system-x86 busybox-static kmod cpio gcc make libc6-dev python3 \
	linux-image-amd64 linux-headers-amd64
KVER=$(esxmm_kver) || esxmm_die "no /boot/vmlinuz-*-amd64 with matching linux-headers"
out=$ESXMM_CACHE/guest-balloon
mkdir -p "$out"
t0=$SECONDS

nice make -s -C "$ESXMM_REPO/guest-driver" KDIR="/usr/src/linux-headers-$KVER" modules >&2
ko=$ESXMM_REPO/guest-driver/esxmm_balloon.ko
vm=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
[ "$vm" = "$KVER" ] || esxmm_die "esxmm_balloon.ko is built for '$vm', the guest runs $KVER"
gcc -static -O2 -Wall -o "$out/hog" "$ESXMM_REPO/tests/guest-balloon/hog.c"
gcc -static -O2 -Wall -o "$out/work" "$ESXMM_REPO/tests/guest-balloon/work.c"

# The documented modprobe.d lines keep the in-tree driver out, by alias and by name.
conf=$out/modprobe.d
mkdir -p "$conf"
sed -n '/^\.\. esxmm-modprobe-begin/,/^\.\. esxmm-modprobe-end/p' \
	"$ESXMM_REPO/Documentation/guest-driver.rst" | sed -n 's/^    \(blacklist\|install\)/\1/p' \
	>"$conf/esxmm-balloon.conf"
mp_name=$(modprobe -n -v -S "$KVER" -C "$conf" virtio_balloon 2>&1 || true)
mp_alias=$(modprobe -n -v -S "$KVER" -C "$conf" virtio:d00000005v00001AF4 2>&1 || true)
# Control: without the file the alias does load virtio_balloon.
mkdir -p "$out/modprobe.empty"
mp_ctrl=$(modprobe -n -v -S "$KVER" -C "$out/modprobe.empty" virtio:d00000005v00001AF4 2>&1 || true)
mp_ok=0
if grep -q 'install /bin/false' <<<"$mp_name" && ! grep -q 'virtio_balloon.ko' <<<"$mp_alias" &&
	grep -q 'virtio_balloon.ko' <<<"$mp_ctrl"; then
	mp_ok=1
fi

# ---- initramfs ----------------------------------------------------------------------------
stage=$out/initramfs.d
rm -rf "$stage"
mkdir -p "$stage"/{bin,proc,sys,dev,lib/modules,tmp}
cp /bin/busybox "$stage/bin/busybox"
cp "$out/hog" "$stage/bin/hog"
cp "$out/work" "$stage/bin/work"
cp "$ko" "$stage/lib/modules/esxmm_balloon.ko"
MODS=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci)
extra=()
[ "$mode" = bench ] && extra=(virtio_balloon)
for m in "${MODS[@]}" "${extra[@]}"; do
	f=$(modinfo -k "$KVER" -n "$m") || esxmm_die "module $m not found for $KVER"
	case $f in
	*.ko) cp "$f" "$stage/lib/modules/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$stage/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$stage/lib/modules/$m.ko" ;;
	*) esxmm_die "unknown module format $f" ;;
	esac
done
echo "${MODS[*]}" >"$stage/lib/modules/load-order"
cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
# /init of the balloon test guest: see tests/guest-balloon/run.sh.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
for m in $(cat /lib/modules/load-order); do
	insmod /lib/modules/$m.ko || echo "balloon-init: insmod $m failed"
done
echo "balloon-init: up after $(cut -d' ' -f1 /proc/uptime)s"
stty -F /dev/ttyS1 raw -echo
exec </dev/ttyS1 >/dev/ttyS1 2>&1
while read -r id cmd; do
	sh -c "$cmd" </dev/null
	echo "@@END $id $?"
done
poweroff -f
INIT
chmod +x "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out/initramfs.cpio.gz"
esxmm_log "built in $((SECONDS - t0)) s; booting /boot/vmlinuz-$KVER under TCG"

# ---- run ----------------------------------------------------------------------------------
args=(--kernel "/boot/vmlinuz-$KVER" --initrd "$out/initramfs.cpio.gz" --dir "$out")
[ "$mode" = bench ] && args+=(--bench)
[ "$mode" = paper ] && args+=(--paper)
export BALLOON_MODPROBE_OK=$mp_ok
BALLOON_MODPROBE_DETAIL="by name: $(tr '\n' ' ' <<<"$mp_name"); by alias: $(tr '\n' ' ' <<<"$mp_alias")"
export BALLOON_MODPROBE_DETAIL
rc=0
python3 "$ESXMM_REPO/tests/guest-balloon/balloon_test.py" "${args[@]}" || rc=$?
esxmm_log "console log: $out/console.log; total $((SECONDS - t0)) s"
exit "$rc"
