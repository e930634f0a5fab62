#!/usr/bin/env bash
# scripts/guest-initramfs.sh: the nested guests' initramfs images.
#
#   tests/guest/memcheck.c --make -C tests--> tests/build/guest/memcheck (static)
#        --cpio newc + gzip--> $ESXMM_CACHE/guest/memcheck.cpio.gz   (/init = memcheck;
#                                                                      path printed on stdout)
#   guest-driver/ --make--> esxmm_balloon.ko, + busybox, the virtio chain, memcheck
#        --> $ESXMM_CACHE/guest/balloon.cpio.gz  (/init: insmod virtio_ring ... virtio_pci
#            esxmm_balloon, then exec memcheck; esxmm_balloon=0 on the command line leaves
#            the driver out: a guest with no balloon driver)
#
# The test host sees both at the same paths (the machine's root is shared read-only).
set -euo pipefail
ESXMM_LOG_TAG=guest-initramfs
# shellcheck source=scripts/lib.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

out=$ESXMM_CACHE/guest
stage=
cleanup() { [ -n "$stage" ] && rm -rf "$stage"; }
trap cleanup EXIT

make -s -C "$ESXMM_REPO/tests" build/guest/memcheck >&2
mkdir -p "$out"
stage=$(mktemp -d "$out/stage.XXXXXX")
mkdir -p "$stage"/{dev,proc,sys}
cp "$ESXMM_REPO/tests/build/guest/memcheck" "$stage/init"
# The kernel opens /dev/console for init before anything is mounted (memcheck falls back to
# devtmpfs when this node cannot be made, e.g. without root).
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
( cd "$stage" && find . | cpio -o -H newc --quiet ) | gzip -1 >"$out/memcheck.cpio.gz.new"
mv "$out/memcheck.cpio.gz.new" "$out/memcheck.cpio.gz"

# ---- the same guest with the balloon driver (tests/t_libvirt.sh) ------------------------
KVER=$(esxmm_kver) || esxmm_die "no /boot/vmlinuz-*-amd64 with matching linux-headers"
nice make -s -C "$ESXMM_REPO/guest-driver" KDIR="/usr/src/linux-headers-$KVER" modules >&2
ko=$ESXMM_REPO/guest-driver/esxmm_balloon.ko
vm=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
[ "$vm" = "$KVER" ] || esxmm_die "esxmm_balloon.ko is built for '$vm', the guest runs $KVER"
rm -rf "$stage"
stage=$(mktemp -d "$out/stage.XXXXXX")
mkdir -p "$stage"/{bin,dev,proc,sys,lib/modules}
cp /bin/busybox "$stage/bin/busybox"
cp "$ESXMM_REPO/tests/build/guest/memcheck" "$stage/bin/memcheck"
cp "$ko" "$stage/lib/modules/esxmm_balloon.ko"
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci; do
	f=$(modinfo -k "$KVER" -n "$m") || esxmm_die "module $m not found for $KVER"
	case $f in
	*.ko) cp "$f" "$stage/lib/modules/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$stage/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$stage/lib/modules/$m.ko" ;;
	*) esxmm_die "unknown module format $f" ;;
	esac
	echo "$m" >>"$stage/lib/modules/load-order"
done
cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
# /init of the balloon guest: see scripts/guest-initramfs.sh. Kernel command line words
# with '=' (mc_mb=..., esxmm_balloon=0) arrive here as environment variables.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in $(cat /lib/modules/load-order); do
	insmod /lib/modules/$m.ko || echo "BALLOON-INIT: insmod $m failed"
done
if [ "${esxmm_balloon:-1}" != 0 ]; then
	insmod /lib/modules/esxmm_balloon.ko || echo "BALLOON-INIT: insmod esxmm_balloon failed"
fi
b=none
for d in /sys/bus/virtio/drivers/esxmm_balloon/virtio*; do
	[ -e "$d" ] && b="esxmm_balloon bound to ${d##*/}"
done
echo "BALLOON-INIT: balloon driver: $b"
exec /bin/memcheck
INIT
chmod +x "$stage/init"
( cd "$stage" && find . | cpio -o -H newc --quiet ) | gzip -1 >"$out/balloon.cpio.gz.new"
mv "$out/balloon.cpio.gz.new" "$out/balloon.cpio.gz"
echo "$out/memcheck.cpio.gz"
