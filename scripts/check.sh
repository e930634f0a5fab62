#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: the module and the guest's balloon driver build with no warning
# at W=1, sparse (C=2) finds nothing, and checkpatch.pl --no-tree -f is clean
# on every kernel source.
# Last line: "check: N passed, N failed". Exit status non-zero on a finding.
set -uo pipefail
ESXMM_LOG_TAG=check
. "$(dirname "$0")/lib.sh"

esxmm_need_pkgs sparse gcc make linux-headers-amd64 libelf-dev
src=$("$(dirname "$0")/linux-src.sh") || esxmm_die "no linux source for checkpatch"
cd "$ESXMM_REPO" || exit 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
passed=0 failed=0

result() {	# name ok?
	if [ "$2" -eq 0 ]; then
		echo "check: $1 PASS"
		passed=$((passed + 1))
	else
		echo "check: $1 FAIL"
		sed 's/^/    /' "$out"
		failed=$((failed + 1))
	fi
}

make -s clean >/dev/null 2>&1
make W=1 >"$out" 2>&1
rc=$?
grep -qE 'warning:|error:' "$out" && rc=1
result "build W=1" "$rc"

make C=2 >"$out" 2>&1
rc=$?
grep -qE 'warning:|error:' "$out" && rc=1
result "sparse C=2" "$rc"

# The guest's balloon driver, against the same headers (guest-driver/Makefile).
make -s -C guest-driver clean >/dev/null 2>&1
make -C guest-driver W=1 >"$out" 2>&1
rc=$?
grep -qE 'warning:|error:' "$out" && rc=1
result "guest-driver build W=1" "$rc"

make -C guest-driver C=2 >"$out" 2>&1
rc=$?
grep -qE 'warning:|error:' "$out" && rc=1
result "guest-driver sparse C=2" "$rc"

: >"$out"
rc=0
for f in $(git ls-files 'esxmm/*.[ch]' 'kunit/*.[ch]' 'guest-driver/*.[ch]'); do
	"$src/scripts/checkpatch.pl" --no-tree --quiet --show-types -f "$f" >>"$out" 2>&1 || rc=1
done
result "checkpatch" "$rc"

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
