#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the path of an unpacked linux-source-6.1 tree in $ESXMM_CACHE,
# unpacking Debian's tarball the first time. Used for UML/KUnit and for
# scripts/checkpatch.pl.
set -euo pipefail
ESXMM_LOG_TAG=linux-src
. "$(dirname "$0")/lib.sh"

esxmm_need_pkgs linux-source-6.1 xz-utils
src=$ESXMM_CACHE/linux-6.1
if [ ! -e "$src/.esxmm-unpacked" ]; then
	esxmm_log "unpacking linux-source-6.1 into $src (once)"
	mkdir -p "$ESXMM_CACHE"
	rm -rf "$src" "$ESXMM_CACHE/linux-source-6.1"
	tar -C "$ESXMM_CACHE" -xf /usr/src/linux-source-6.1.tar.xz
	mv "$ESXMM_CACHE/linux-source-6.1" "$src"
	touch "$src/.esxmm-unpacked"
fi
echo "$src"
