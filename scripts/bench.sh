#!/usr/bin/env bash
# scripts/bench.sh (make bench): first-touch cost of guest RAM on esxmm against anonymous memory,
# and content-based page sharing: esxmm's scanner against KSM.
#
#   machine: scripts/bench.sh -> scripts/testhost.sh --bench --icount
#            (-icount shift=0,sleep=off: the test host's clock counts instructions, so times
#             are repeatable; only the ratio means anything, not the absolute ms)
#   test host (ESXMM_INSIDE=1): scripts/bench.sh
#       3 x { memcheck 64 MiB on memory-backend-file mem-path=/run/esxmm/bench share=on
#             memcheck 64 MiB on memory-backend-ram }          (interleaved)
#       prints each run's first-touch ms, the medians and the ratio esxmm/anon
#       tests/build/share_bench esxmm /run/esxmm/share-bench, then share_bench ksm: the same
#             image (SHARE_MB MiB: 50 % duplicates of 64 contents, 10 % zero, 40 % unique)
#             scanned at the same rate; prints pages saved, scanner CPU ms to 95 % of the
#             final saving and metadata bytes per page side by side, ratios esxmm/KSM and the
#             goal (tests/share_bench.c documents how each figure is taken)
#       swap: tests/build/swap_bench: a process writes then reads BENCH_SWAP_MB MiB that do not
#             fit: on esxmm (pool BENCH_SWAP_LIMIT_MB, swap file on ext4 on a loop device, so
#             O_DIRECT) and as anonymous memory in a memory cgroup of that limit (Linux's swap
#             file, mkswap/swapon, on the same ext4; page-cluster 3, its default, and 0, no
#             swap readahead); prints swap-out and swap-in pages/s and the ratios esxmm/Linux.
#             Then tests/build/swap_sim records page-access traces of synthetic workloads and
#             replays them: random replacement (esxmm's) against LRU, FIFO and OPT, faults per
#             1000 accesses at 10..90 % of the pages, and the ratios random/LRU.
# Not a pass/fail test (ESXMM-TEST: bench FAIL only when a run gives no result, or when
# share_bench finds the image changed by merging or unsharing, or swap_bench a wrong page).
#   balloon (on the machine, after the test host): tests/guest-balloon/run.sh --bench
#             (inflate/deflate MiB/s, esxmm_balloon against virtio_balloon, in a TCG guest)
#             and --paper (a workload's throughput ballooned from 512 to 256 MiB against
#             booted with 256 MiB: the experiment of ESX's paper, section 3.2).
# Env: BENCH_MB (64), BENCH_RUNS (3), BENCH_PASSES (40), BENCH_PARTS ("firsttouch share sample swap balloon";
#      also "+"-separated, e.g. share or firsttouch+share), SHARE_MB (64),
#      SHARE_SCAN (pages_to_scan, 1000), SHARE_SLEEP (sleep_millisecs, 20), SHARE_TIMEOUT
#      (s, 300), SHARE_QUIET (s without growth that ends a run, 10), ESXMM_TESTMODE=tmpfs
#      BENCH_SWAP_MB (64), BENCH_SWAP_LIMIT_MB (16), BENCH_SWAP_RUNS (2), BENCH_SIM_ACCESSES
#      (400000), ESXMM_TESTMODE=tmpfs
#      (a tmpfs in place of esxmm; the sharing part is then skipped). BENCH_* and SHARE_* set
#      on the machine are passed into the test host (ESXMM_TEST_ENV).
set -euo pipefail
if [ "${ESXMM_INSIDE:-}" != 1 ]; then
	for v in $(compgen -v | grep -E '^(BENCH|SHARE)_' || true); do
		case ${!v} in *[[:space:],]*|'') continue ;; esac
		ESXMM_TEST_ENV="${ESXMM_TEST_ENV:+$ESXMM_TEST_ENV }$v=${!v}"
	done
	export ESXMM_TEST_ENV
	rc=0
	"$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/testhost.sh" --bench --icount \
		--timeout 3600 "$@" || rc=$?
	# The console stream above can lose its last lines (the tail is killed at power-off):
	# print the results again from the console log.
	clean=${ESXMM_CACHE:-/var/cache/esxmm}/testhost/console.clean
	if [ -f "$clean" ]; then
		echo "==== bench results (from $clean) ===="
		grep -E '^bench: (ratio|[a-z0-9]+ +ms:|run [0-9]|sharing|sampling|goal:| {20,}esxmm|pages saved|  \(|scanner CPU|metadata|swap|sim)' \
			"$clean" || true
	fi
	# The balloon driver's figures come from a TCG guest on this machine, not the test host.
	parts=" ${BENCH_PARTS:-firsttouch share sample swap balloon} "
	parts=${parts//[+:]/ }
	if [[ $parts = *" balloon "* ]]; then
		echo "==== balloon: inflate/deflate rates, then the paper's ballooned-vs-booted-small run ===="
		repo=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
		"$repo/tests/guest-balloon/run.sh" --bench || rc=1
		"$repo/tests/guest-balloon/run.sh" --paper || rc=1
	fi
	exit "$rc"
fi

REPO=${REPO:?}
MNT=/run/esxmm
MB=${BENCH_MB:-64}
RUNS=${BENCH_RUNS:-3}
PARTS=${BENCH_PARTS:-firsttouch share sample swap}
PARTS=${PARTS//[+:]/ }
INITRD=${ESXMM_CACHE:-/var/cache/esxmm}/guest/memcheck.cpio.gz
KVER=$(uname -r)
work=$(mktemp -d)
loaded=0 mounted=0 ok=0 qpid=
swap_cleanup=()
cleanup() {
	local rc=$? c
	[ -n "${hold_pid:-}" ] && kill "$hold_pid" 2>/dev/null || true
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	for c in "${swap_cleanup[@]}"; do eval "$c" || true; done
	rm -f "$MNT/bench" "$MNT/share-bench"
	[ "$mounted" = 1 ] && umount "$MNT"
	[ "$loaded" = 1 ] && rmmod esxmm
	rm -rf "$work"
	[ "$ok" = 1 ] && echo "ESXMM-TEST: bench PASS" || echo "ESXMM-TEST: bench FAIL"
	echo ESXMM-DONE
	exit "$rc"
}
trap cleanup EXIT

if [ "${ESXMM_MMU:-shadow}" = tdp ] && [ "$(cat /sys/module/kvm_amd/parameters/npt)" != Y ]; then
	rmmod kvm_amd && modprobe kvm_amd npt=1
fi
# One empty VM held throughout: guests coming and going then never flip the scheduler's
# preempt-notifier jump labels (a TCG hazard: tests/kvm_hold.c).
"$REPO/tests/build/kvm_hold" >/dev/null 2>&1 &
hold_pid=$!
mkdir -p "$MNT"
what=esxmm
if [ "${ESXMM_TESTMODE:-}" = tmpfs ]; then
	what=tmpfs
	mount -t tmpfs -o size=1G none "$MNT"
else
	insmod "$REPO/esxmm/esxmm.ko"
	loaded=1
	mount -t esxmm none "$MNT"
fi
mounted=1

THP=/sys/kernel/mm/transparent_hugepage/enabled
run() { # run esxmm|anon|anon4k -> prints first-touch ms (anon4k: anonymous, THP off)
	local obj log=$work/guest.log line thp
	thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$THP" 2>/dev/null || true)
	if [ "$1" = anon4k ] && [ -n "$thp" ]; then
		echo never >"$THP"
	fi
	if [ "$1" = anon ] || [ "$1" = anon4k ]; then
		obj=memory-backend-ram,id=mem,size=256M
	else
		rm -f "$MNT/bench"
		obj=memory-backend-file,id=mem,size=256M,mem-path=$MNT/bench,share=on
	fi
	qemu-system-x86_64 -accel kvm -cpu host -m 256 -smp 1 -nographic -no-reboot -nodefaults \
		-serial stdio -kernel "/boot/vmlinuz-$KVER" -initrd "$INITRD" \
		-append "console=ttyS0 quiet panic=-1 mitigations=off mc_mb=$MB" \
		-object "$obj" -machine memory-backend=mem </dev/null >"$log" 2>&1 &
	qpid=$!
	wait "$qpid" || true
	qpid=
	if [ "$1" = anon4k ] && [ -n "$thp" ]; then
		echo "$thp" >"$THP"
	fi
	rm -f "$MNT/bench"
	line=$(tr -d '\r' <"$log" | grep -oE 'MEMCHECK OK pages=[0-9]+ ms=[0-9]+' | tail -n1 || true)
	[ -n "$line" ] || { tail -n 20 "$log" >&2; return 1; }
	echo "${line##*ms=}"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

firsttouch() {
	local i t fs=() anon=() a4k=() mf ma m4
	echo "bench: kvm_amd npt=$(cat /sys/module/kvm_amd/parameters/npt), ${MB} MiB x $RUNS, $what vs anon"
	for i in $(seq 1 "$RUNS"); do
		t=$SECONDS
		fs+=("$(run esxmm)")
		echo "bench: run $i $what first-touch ${fs[-1]} ms ($((SECONDS - t))s wall)"
		t=$SECONDS
		anon+=("$(run anon)")
		echo "bench: run $i anon  first-touch ${anon[-1]} ms ($((SECONDS - t))s wall)"
		t=$SECONDS
		a4k+=("$(run anon4k)")
		echo "bench: run $i anon4k first-touch ${a4k[-1]} ms ($((SECONDS - t))s wall)"
	done
	mf=$(median "${fs[@]}") ma=$(median "${anon[@]}") m4=$(median "${a4k[@]}")
	echo "bench: $what ms: ${fs[*]}  median $mf"
	echo "bench: anon  ms: ${anon[*]}  median $ma  (anonymous memory, THP as the host has it: $(cat "$THP" 2>/dev/null))"
	echo "bench: anon4k ms: ${a4k[*]}  median $m4  (anonymous memory, THP off: 4 KiB pages like esxmm)"
	echo "bench: ratio $what/anon (median) $(awk -v a="$mf" -v b="$ma" 'BEGIN {printf "%.2f", a / b}')"
	echo "bench: ratio $what/anon4k (median) $(awk -v a="$mf" -v b="$m4" 'BEGIN {printf "%.2f", a / b}')"
}

# field NAME LINE: the value of NAME=... in a SHARE_BENCH line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

share() {
	local bin=$REPO/tests/build/share_bench pages t rc=0 krc=0 e k args
	if [ "$what" != esxmm ]; then
		echo "bench: sharing: skipped ($what has no page sharing)"
		return 0
	fi
	[ -x "$bin" ] || { echo "bench: sharing: $bin not built" >&2; return 1; }
	pages=$(( ${SHARE_MB:-64} * 256 ))
	args=(-p "$pages" -n "${SHARE_SCAN:-1000}" -m "${SHARE_SLEEP:-20}" -t "${SHARE_TIMEOUT:-300}"
		-q "${SHARE_QUIET:-10}")
	echo "bench: sharing: esxmm vs KSM, ${SHARE_MB:-64} MiB image, pages_to_scan=${SHARE_SCAN:-1000}" \
		"sleep_millisecs=${SHARE_SLEEP:-20}, in one test host"
	t=$SECONDS
	"$bin" esxmm "$MNT/share-bench" "${args[@]}" | tee "$work/share-esxmm.log" || rc=$?
	echo "bench: sharing: esxmm run: rc=$rc, $((SECONDS - t))s wall"
	[ "$rc" = 1 ] && echo "bench: sharing: esxmm CHANGED THE IMAGE (see the mismatches above)"
	t=$SECONDS
	"$bin" ksm "${args[@]}" | tee "$work/share-ksm.log" || krc=$?
	echo "bench: sharing: ksm run: rc=$krc, $((SECONDS - t))s wall"
	e=$(grep '^SHARE_BENCH ' "$work/share-esxmm.log" || true)
	k=$(grep '^SHARE_BENCH ' "$work/share-ksm.log" || true)
	if [ -z "$e" ] || [ -z "$k" ]; then
		echo "bench: sharing: no SHARE_BENCH result from $([ -z "$e" ] && echo esxmm) $([ -z "$k" ] && echo ksm)" >&2
		return 1
	fi
	awk -v es="$(field saved "$e")" -v ks="$(field saved "$k")" \
	    -v ee="$(field expected "$e")" -v ke="$(field expected "$k")" \
	    -v ec="$(field cpu95_ms "$e")" -v kc="$(field cpu95_ms "$k")" \
	    -v ea="$(field cpu_ms "$e")" -v ka="$(field cpu_ms "$k")" \
	    -v em="$(field meta_bpp "$e")" -v km="$(field meta_bpp "$k")" \
	    -v eS="$(field sched95_ms "$e")" -v kS="$(field sched95_ms "$k")" '
	function r(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
	BEGIN {
		f = "bench: %-30s %12s %12s %10s   %s\n"
		printf f, "", "esxmm", "KSM", "esxmm/KSM", "goal"
		printf f, "pages saved", es, ks, r(es, ks), ">= 1.00"
		printf f, "  (expected maximum)", ee, ke, "", ""
		printf f, "scanner CPU ms to 95 % saved", ec, kc, r(ec, kc), "<= 0.50"
		printf f, "  (same, from schedstat)", eS, kS, r(eS, kS), ""
		printf f, "  (CPU ms until the run ended)", ea, ka, r(ea, ka), ""
		printf f, "metadata bytes/page", em, km, r(em, km), "<= 0.25"
		ok = ks > 0 && kc > 0 && km > 0 && es >= ks && ec <= 0.5 * kc && em <= 0.25 * km
		printf "bench: goal: equal or greater savings at half of KSM\047s CPU time or less, with a" \
		       " quarter of its metadata or less: %s\n", ok ? "met" : "NOT met"
	}'
	[ "$rc" = 0 ]
}

# sample: the guest's slowdown from working-set sampling. The same fixed work
# (memcheck re-verifying 64 MiB, mc_passes times, a few seconds) with sampling
# off (one period per hour), at the default rate (100 pages per 30 s, run as
# 10 per 3 s so that the run spans several periods) and at 1000 pages per second.
sampling() {
	local S=/sys/kernel/esxmm/sample cfg off=0 line log=$work/sample.log per n name
	local oldp oldn
	if [ "$what" != esxmm ]; then
		echo "bench: sampling: skipped ($what has no sampling)"
		return 0
	fi
	oldp=$(cat $S/period_millisecs) oldn=$(cat $S/sample_pages)
	for cfg in off:3600000:1 default:3000:10 1000pps:1000:1000; do
		IFS=: read -r name per n <<<"$cfg"
		echo "$per" >$S/period_millisecs
		echo "$n" >$S/sample_pages
		rm -f "$MNT/bench"
		qemu-system-x86_64 -accel kvm -cpu host -m 256 -smp 1 -nographic -no-reboot -nodefaults \
			-serial stdio -kernel "/boot/vmlinuz-$KVER" -initrd "$INITRD" \
			-append "console=ttyS0 quiet panic=-1 mitigations=off mc_mb=$MB mc_mode=passes mc_passes=${BENCH_PASSES:-40}" \
			-object "memory-backend-file,id=mem,size=256M,mem-path=$MNT/bench,share=on" \
			-machine memory-backend=mem </dev/null >"$log" 2>&1 || true
		line=$(tr -d '\r' <"$log" | grep -oE 'MEMCHECK passes=[0-9]+ ms=[0-9]+' | tail -n1 || true)
		[ -n "$line" ] || { tail -n 20 "$log" >&2; return 1; }
		tr -d '\r' <"$log" | grep -q 'MEMCHECK OK' || { echo "bench: sampling: memcheck failed" >&2; return 1; }
		line=${line##*ms=}
		[ "$name" = off ] && off=$line
		echo "bench: sampling $name (period ${per} ms, ${n} pages): ${line} ms," \
			"slowdown $(awk -v a="$line" -v b="$off" 'BEGIN {printf "%+.2f %%", (a / b - 1) * 100}')"
	done
	rm -f "$MNT/bench"
	echo "$oldp" >$S/period_millisecs
	echo "$oldn" >$S/sample_pages
	echo "bench: sampling: goal: under 1 % slowdown at the default rate"
}

# swap: esxmm's swap against Linux's, and random replacement against LRU.
SWAP_MB=${BENCH_SWAP_MB:-64}
SWAP_LIMIT=${BENCH_SWAP_LIMIT_MB:-16}
swap_at_exit() { swap_cleanup=("$*" "${swap_cleanup[@]}"); }
swap_median() { # swap_median FIELD LOGFILE: median of FIELD=... over the SWAP_BENCH lines
	local v
	mapfile -t v < <(grep '^SWAP_BENCH ' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p")
	median "${v[@]}"
}
swap_linux_run() { # swap_linux_run CGROUP MB: swap_bench anon inside the memory cgroup
	bash -c 'echo $$ >"$1/cgroup.procs" && exec "$2" anon "$3"' _ "$1" \
		"$REPO/tests/build/swap_bench" "$2"
}
swap() {
	local S=/sys/kernel/esxmm bin=$REPO/tests/build/swap_bench sim=$REPO/tests/build/swap_sim
	local img=/dev/shm/bench-swap.img ext=$work/ext4 cg=/sys/fs/cgroup/esxmm-bench loop i t
	local pool0 pc0 pc log w n f
	if [ "$what" != esxmm ]; then
		echo "bench: swap: skipped ($what has no swap)"
		return 0
	fi
	if [ ! -x "$bin" ] || [ ! -x "$sim" ]; then
		echo "bench: swap: $bin or $sim not built" >&2
		return 1
	fi
	modprobe loop || return 1
	modprobe ext4 || return 1
	truncate -s $((2 * SWAP_MB + 64))M "$img"
	swap_at_exit "rm -f $img"
	loop=$(losetup -f --show "$img") || return 1
	swap_at_exit "losetup -d $loop"
	mkfs.ext4 -q -F -b 4096 -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$loop" || return 1
	mkdir -p "$ext"
	mount -t ext4 "$loop" "$ext" || return 1
	swap_at_exit "umount $ext"
	for f in esxmm-swap linux-swap; do
		dd if=/dev/zero of="$ext/$f" bs=1M count="$SWAP_MB" status=none conv=fsync || return 1
		chmod 0600 "$ext/$f"
	done
	echo "bench: swap: $SWAP_MB MiB written then read back by one process, $SWAP_LIMIT MiB of memory," \
		"swap files on ext4 on $loop (a file in tmpfs), ${BENCH_SWAP_RUNS:-2} runs each"

	# esxmm: pool of SWAP_LIMIT MiB, swap file opened O_DIRECT.
	pool0=$(cat $S/pool_pages)
	swap_at_exit "echo $pool0 >$S/pool_pages"
	swap_at_exit "echo none >$S/swap/file"
	echo $((SWAP_LIMIT * 256)) >$S/pool_pages
	echo "$ext/esxmm-swap" >$S/swap/file || return 1
	log=$work/swap-esxmm.log
	: >"$log"
	for i in $(seq 1 "${BENCH_SWAP_RUNS:-2}"); do
		t=$SECONDS
		"$bin" esxmm "$MNT/swap-bench" "$SWAP_MB" | tee -a "$log" || { rm -f "$MNT/swap-bench"; return 1; }
		rm -f "$MNT/swap-bench"
		echo "bench: swap: esxmm run $i: $((SECONDS - t))s wall"
	done
	echo none >$S/swap/file
	echo "$pool0" >$S/pool_pages

	# Linux: the same in a memory cgroup of SWAP_LIMIT MiB, with and without swap readahead.
	mkswap -q "$ext/linux-swap" >/dev/null || return 1
	swapon "$ext/linux-swap" || return 1
	swap_at_exit "swapoff $ext/linux-swap"
	grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
		echo +memory >/sys/fs/cgroup/cgroup.subtree_control || return 1
	mkdir -p "$cg"
	swap_at_exit "rmdir $cg"
	echo $((SWAP_LIMIT << 20)) >"$cg/memory.max"
	pc0=$(cat /proc/sys/vm/page-cluster)
	swap_at_exit "echo $pc0 >/proc/sys/vm/page-cluster"
	for pc in "$pc0" 0; do
		echo "$pc" >/proc/sys/vm/page-cluster
		log=$work/swap-linux-pc$pc.log
		: >"$log"
		for i in $(seq 1 "${BENCH_SWAP_RUNS:-2}"); do
			t=$SECONDS
			swap_linux_run "$cg" "$SWAP_MB" | tee -a "$log" || return 1
			echo "bench: swap: linux (page-cluster $pc) run $i: $((SECONDS - t))s wall"
		done
	done
	echo "$pc0" >/proc/sys/vm/page-cluster
	awk -v eo="$(swap_median out_per_s "$work/swap-esxmm.log")" \
	    -v ei="$(swap_median in_per_s "$work/swap-esxmm.log")" \
	    -v lo="$(swap_median out_per_s "$work/swap-linux-pc$pc0.log")" \
	    -v li="$(swap_median in_per_s "$work/swap-linux-pc$pc0.log")" \
	    -v zo="$(swap_median out_per_s "$work/swap-linux-pc0.log")" \
	    -v zi="$(swap_median in_per_s "$work/swap-linux-pc0.log")" -v pc="$pc0" '
	function r(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
	BEGIN {
		f = "bench: swap: %-24s %10s %14s %14s %12s %12s\n"
		printf f, "(pages/s, median)", "esxmm", "linux pc=" pc, "linux pc=0", "esxmm/linux", "esxmm/pc=0"
		printf f, "swap-out while writing", eo, lo, zo, r(eo, lo), r(eo, zo)
		printf f, "swap-in while reading", ei, li, zi, r(ei, li), r(ei, zi)
	}'

	# Random replacement against LRU, FIFO and OPT on recorded traces.
	n=${BENCH_SIM_ACCESSES:-400000}
	echo "bench: sim: traces of $n accesses over 16384 pages; faults per 1000 accesses," \
		"memory as % of the pages touched; random = mean of 3 seeds"
	for w in hotcold drift scan mixed zipf; do
		"$sim" record "$w" 16384 "$n" 1 "$work/$w.trace" || return 1
		"$sim" replay "$work/$w.trace" 10,25,50,75,90 | tee "$work/$w.sim" |
			awk -v w="$w" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				printf "bench: sim: %-8s mem=%4s opt=%6s lru=%6s fifo=%6s random=%6s  random/lru=%s fifo/lru=%s random/opt=%s\n",
					w, v["mem"], v["opt"], v["lru"], v["fifo"], v["random"], v["random/lru"], v["fifo/lru"], v["random/opt"] }'
		rm -f "$work/$w.trace"
	done
	cat "$work"/*.sim | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		s += log(v["random/lru"]); n++ }
		END { if (n) printf "bench: sim: geometric mean of random/lru over %d trace x size points: %.3f\n", n, exp(s / n) }'
}

fail=0
for p in $PARTS; do
	case $p in
	firsttouch) firsttouch ;;
	share) share || fail=1 ;;
	sample) sampling || fail=1 ;;
	swap) swap || fail=1 ;;
	balloon) ;;	# on the machine, after the test host
	*) echo "bench: unknown part $p" >&2; fail=1 ;;
	esac
done
[ "$fail" = 0 ] && ok=1
