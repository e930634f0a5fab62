#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/debug-kernel.sh: the debug test host's kernel (KASAN, lockdep, DEBUG_VM, kmemleak,
# fault injection, KUnit), built from linux-source-6.1 (scripts/linux-src.sh) out of tree.
#
#   allnoconfig + scripts/kconfig/testhost.config + scripts/kconfig/debug.config
#       (merge_config.sh -m, make allnoconfig KCONFIG_ALLCONFIG=, olddefconfig; then every
#        option the fragments ask for is checked in .config)
#   nice make -j$(nproc) bzImage modules    -> $ESXMM_CACHE/debug-kernel     (O=, the KDIR)
#   make modules_install                    -> $ESXMM_CACHE/debug-kernel-modules/lib/modules/<ver>
#
# Nothing is rebuilt while the fragments, this script and the kernel source are unchanged
# (their hash is kept in the build dir); --force runs make anyway (incremental). The build log
# is $ESXMM_CACHE/debug-kernel.log. Prints the build dir (KDIR=) on stdout.
# Usage: scripts/debug-kernel.sh [--force]
set -euo pipefail
ESXMM_LOG_TAG=debug-kernel
# shellcheck source=scripts/lib.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

force=0
while [ $# -gt 0 ]; do
	case $1 in
	--force) force=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
	*) esxmm_die "unknown option $1" ;;
	esac
	shift
done

esxmm_need_pkgs bc bison flex gcc make libc6-dev libelf-dev kmod xz-utils
src=$("$ESXMM_REPO/scripts/linux-src.sh")
out=$ESXMM_CACHE/debug-kernel
mods=$ESXMM_CACHE/debug-kernel-modules
log=$ESXMM_CACHE/debug-kernel.log
frags=("$ESXMM_REPO/scripts/kconfig/testhost.config" "$ESXMM_REPO/scripts/kconfig/debug.config")
mkdir -p "$out"

# One build per cache at a time.
exec 9>"$ESXMM_CACHE/debug-kernel.lock"
flock -n 9 || { esxmm_log "waiting for another debug kernel build in $ESXMM_CACHE"; flock 9; }

cfg_hash=$(cat "${frags[@]}" | sha256sum | cut -d' ' -f1)
src_id=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
src_id+=" $(sed -n '1,5p' "$src/Makefile" | tr '\n' ' ')"
stamp="$cfg_hash $(sha256sum <"$0" | cut -d' ' -f1) $src_id"
if [ "$force" = 0 ] && [ -f "$out/arch/x86/boot/bzImage" ] && [ -f "$out/.esxmm-stamp" ] &&
	[ "$(cat "$out/.esxmm-stamp")" = "$stamp" ]; then
	esxmm_log "up to date: $out ($(cat "$out/include/config/kernel.release"))"
	echo "$out"
	exit 0
fi
rm -f "$out/.esxmm-stamp"

kmake() { nice -n 10 make -C "$src" O="$out" "$@" </dev/null >>"$log" 2>&1; }
t0=$SECONDS
: >"$log"
old_hash=$(cat "$out/.esxmm-config-hash" 2>/dev/null || true)
if [ ! -f "$out/.config" ] || [ "$old_hash" != "$cfg_hash" ]; then
	esxmm_log "configuring: allnoconfig + ${frags[*]##*/}"
	merged=$out/esxmm-fragments.config
	rm -f "$out/.esxmm-config-hash"
	# merge_config.sh keeps its temporary files in the current directory: not the source tree.
	(cd "$out" && KCONFIG_CONFIG=$merged "$src/scripts/kconfig/merge_config.sh" -m "${frags[@]}") \
		>>"$log" 2>&1 || esxmm_die "merge_config.sh failed (see $log)"
	kmake KCONFIG_ALLCONFIG="$merged" allnoconfig || esxmm_die "allnoconfig failed (see $log)"
	kmake olddefconfig || esxmm_die "olddefconfig failed (see $log)"
	nmiss=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF -- "$line" "$out/.config" && continue ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			grep -q "^$sym=" "$out/.config" || continue ;;
		*) continue ;;
		esac
		sym=${line#\# }
		sym=${sym%%[= ]*}
		esxmm_log "missing from .config: '$line' (have: '$(grep -E "^(# )?${sym}[= ]" \
			"$out/.config" || echo "not there: a dependency is off")')"
		nmiss=$((nmiss + 1))
	done <"$merged"
	[ "$nmiss" -eq 0 ] || esxmm_die "$nmiss requested options are not in $out/.config"
	esxmm_log "all $(grep -c '^CONFIG_\|^# CONFIG_' "$merged") requested options are in .config"
	echo "$cfg_hash" >"$out/.esxmm-config-hash"
fi

esxmm_log "building bzImage and modules (nice -n 10, -j$(nproc); log: $log)"
kmake -j"$(nproc)" bzImage modules || { tail -n 30 "$log" >&2; esxmm_die "kernel build failed"; }
rel=$(cat "$out/include/config/kernel.release")
rm -rf "$mods"
kmake INSTALL_MOD_PATH="$mods" INSTALL_MOD_STRIP=1 modules_install ||
	esxmm_die "modules_install failed (see $log)"
rm -f "$mods/lib/modules/$rel/build" "$mods/lib/modules/$rel/source"
echo "$stamp" >"$out/.esxmm-stamp"
esxmm_log "built $rel in $((SECONDS - t0))s: $out/arch/x86/boot/bzImage," \
	"modules in $mods/lib/modules/$rel"
echo "$out"
