#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build UML from linux-source-6.1 with esxmm's page-table-free code and the
# suites of kunit/, KASAN and lockdep on, and run them with kunit.py.
#
#   repo esxmm/*.c, guest-driver/*.c, kunit/*.c --rsync--> $ESXMM_CACHE/linux-6.1/lib/esxmm/
#   kunit.py run --arch=um --build_dir=$ESXMM_CACHE/kunit-build (kept: incremental)
#
# Last line: "kunit: N passed, N failed". Exit status non-zero on any failure.
set -euo pipefail
ESXMM_LOG_TAG=kunit
. "$(dirname "$0")/lib.sh"

esxmm_need_pkgs bc bison flex python3 xz-utils gcc make rsync libc6-dev

src=$("$(dirname "$0")/linux-src.sh")
build=$ESXMM_CACHE/kunit-build
log=$ESXMM_CACHE/kunit.log

# Hook lib/esxmm/ into the tree once; refresh its sources every run
# (rsync keeps timestamps, so unchanged files are not rebuilt).
grep -q 'lib/esxmm/Kconfig' "$src/lib/Kconfig.debug" ||
	echo 'source "lib/esxmm/Kconfig"' >>"$src/lib/Kconfig.debug"
grep -q 'ESXMM_KUNIT_TEST' "$src/lib/Makefile" ||
	echo 'obj-$(CONFIG_ESXMM_KUNIT_TEST) += esxmm/' >>"$src/lib/Makefile"
mkdir -p "$src/lib/esxmm"
rsync -a --delete --include='*/' --include='*.[ch]' --exclude='*' \
	"$ESXMM_REPO/esxmm/" "$src/lib/esxmm/esxmm/"
rsync -a --delete --include='*.[ch]' --exclude='*' "$ESXMM_REPO/kunit/" "$src/lib/esxmm/kunit/"
rsync -a --delete --exclude='*.mod.c' --include='*.[ch]' --exclude='*' "$ESXMM_REPO/guest-driver/" \
	"$src/lib/esxmm/guest-driver/"
cmp -s "$ESXMM_REPO/kunit/Makefile.uml" "$src/lib/esxmm/Makefile" ||
	cp "$ESXMM_REPO/kunit/Makefile.uml" "$src/lib/esxmm/Makefile"
cmp -s "$ESXMM_REPO/kunit/Kconfig.uml" "$src/lib/esxmm/Kconfig" ||
	cp "$ESXMM_REPO/kunit/Kconfig.uml" "$src/lib/esxmm/Kconfig"

esxmm_log "building and running UML KUnit (log: $log)"
rc=0
(cd "$src" && python3 tools/testing/kunit/kunit.py run --arch=um --jobs="$(nproc)" \
	--kunitconfig="$ESXMM_REPO/kunit/.kunitconfig" --build_dir="$build" \
	--raw_output=kunit) >"$log" 2>&1 || rc=$?

# Count cases from the KTAP output: "ok N name" / "not ok N name" at case
# level (indented), suites excluded.
passed=$(grep -cE '^[[:space:]]+ok [0-9]+ ' "$log" || true)
failed=$(grep -cE '^[[:space:]]+not ok [0-9]+ ' "$log" || true)
grep -E '^[[:space:]]*(not )?ok [0-9]+ |^# |KASAN|WARNING|BUG|lockdep' "$log" | sed 's/^/kunit: /' || true
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	esxmm_log "kunit.py failed (exit $rc) before reporting: see $log"
	tail -n 40 "$log" >&2
	failed=1
fi
if grep -qE 'BUG: KASAN|WARNING: possible|WARNING: CPU|general protection' "$log"; then
	esxmm_log "kernel splat in the UML log"
	failed=$((failed + 1))
fi
echo "kunit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
