#!/usr/bin/env bash
# scripts/guest-initramfs.sh: the nested guest's initramfs, /init = static tests/build/guest/memcheck.
#
#   tests/guest/memcheck.c --make -C tests--> tests/build/guest/memcheck (static)
#        --cpio newc + gzip--> $ESXMM_CACHE/guest/memcheck.cpio.gz   (path printed on stdout)
#
# The test host sees it at the same path (the machine's root is shared read-only).
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
echo "$out/memcheck.cpio.gz"
