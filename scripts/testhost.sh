#!/usr/bin/env bash
# scripts/testhost.sh: boot a real KVM host (Debian's kernel) in QEMU TCG and run the tests.
#
#   machine (this script)                     test host (QEMU TCG, -cpu EPYC,+svm)
#   ---------------------                     ------------------------------------
#   make -C tests  -> tests/build/            /init (busybox, from the initramfs):
#   make -C tools  -> tools/esxmm-balloond
#   guest-initramfs.sh -> $ESXMM_CACHE/guest    insmod irqbypass ccp kvm kvm-amd npt=0,
#   initramfs (busybox + .ko) --------------->   virtio/9p chain, overlay
#   qemu-system-x86_64 -kernel vmlinuz          mount 9p "host" (machine's / read-only)
#       -virtfs / (readonly) ---------------->  overlay(lower=9p, upper=tmpfs) = /newroot
#       console ttyS0 -> console.log  <-------  chroot /newroot  $REPO/tests/run-tests.sh
#   parse ESXMM-TEST / ESXMM-DONE lines,          (nested KVM guests, esxmm.ko, ...)
#   scan for WARNING:/BUG:/Oops/..., exit code  poweroff -f
#
# Usage: scripts/testhost.sh [--bench] [--demo] [--mmu shadow|tdp|both] [--timeout SECS]
#                            [--icount] [--smp N] [--verbose] [--kernel debian|debug]
# Env:   ESXMM_CACHE (default /var/cache/esxmm), ESXMM_TESTMODE=tmpfs (tests use tmpfs instead
#        of esxmm: for developing the harness without the module), ESXMM_TESTS="t_a.sh t_b.sh"
#        (run only these), ESXMM_TEST_ENV="VAR=value ..." (extra environment for the tests,
#        e.g. MC_MB=16), ESXMM_TESTHOST_MEM (MiB, default 4096), ESXMM_TESTHOST_SMP (default 2).
# Debugging a test host that hangs: ESXMM_TESTHOST_MONITOR=PATH puts QEMU's human monitor on
# the unix socket PATH (`socat - UNIX-CONNECT:PATH`, then `info registers -a`, `x/...`;
# scripts/testhost-stacks.py reads every CPU's RIP and stack into symbols), and
# ESXMM_TESTHOST_APPEND adds to the kernel command line (e.g. nokaslr, so that addresses
# match /boot/System.map-<ver>).
#
# --kernel debug (or ESXMM_TESTHOST_KERNEL=debug) boots the debug kernel of
# scripts/debug-kernel.sh ($ESXMM_CACHE/debug-kernel, KASAN, lockdep, kmemleak...) instead of
# Debian's: everything but kvm is built in, kvm and kvm_amd come from its staged modules
# (bind-mounted on /lib/modules/<ver> in the chroot, so modprobe works), the esxmm.ko is
# ESXMM_KO (default $ESXMM_CACHE/debug-module/esxmm/esxmm.ko, built by scripts/test-debug.sh;
# bind-mounted over $REPO/esxmm/esxmm.ko in the chroot), and /boot/vmlinuz-<ver> in the chroot
# is Debian's kernel, which the nested guests boot. A WARN does not panic it (all splats are
# seen; any still fails the run); default memory 6144 MiB and timeout 14400 s.
set -euo pipefail

ESXMM_LOG_TAG=testhost
# shellcheck source=scripts/lib.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"
REPO=$ESXMM_REPO

mode=test mmu=both timeout='' icount=0 smp=${ESXMM_TESTHOST_SMP:-2} verbose=0
mem=${ESXMM_TESTHOST_MEM:-} kernel=${ESXMM_TESTHOST_KERNEL:-debian}
while [ $# -gt 0 ]; do
	case $1 in
	--bench) mode=bench ;;
	--demo) mode=demo ;;
	--mmu) mmu=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--icount) icount=1 ;;
	--smp) smp=$2; shift ;;
	--verbose|-v) verbose=1 ;;
	--kernel) kernel=$2; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
	*) esxmm_die "unknown option $1" ;;
	esac
	shift
done
case $mmu in shadow|tdp|both) ;; *) esxmm_die "--mmu must be shadow, tdp or both" ;; esac
case $kernel in
debian) timeout=${timeout:-3000} mem=${mem:-4096} ;;
debug) timeout=${timeout:-14400} mem=${mem:-6144} ;;
*) esxmm_die "--kernel must be debian or debug" ;;
esac
[ "$mode" != test ] && [ "$mmu" = both ] && mmu=shadow # demo and bench run in one mode
case $REPO in *[[:space:]]*) esxmm_die "repo path must not contain white space: $REPO" ;; esac
case $ESXMM_CACHE in *[[:space:]]*) esxmm_die "ESXMM_CACHE must not contain white space" ;; esac

esxmm_need_testhost_pkgs
KVER=$(esxmm_kver) || esxmm_die "no /boot/vmlinuz-*-amd64 with matching linux-headers"
GUEST_KVER=$KVER vmlinuz=/boot/vmlinuz-$KVER ko=$REPO/esxmm/esxmm.ko modinfo_base=()
if [ "$kernel" = debug ]; then
	dk=$ESXMM_CACHE/debug-kernel
	vmlinuz=$dk/arch/x86/boot/bzImage
	[ -f "$vmlinuz" ] || esxmm_die "no debug kernel in $dk: run scripts/debug-kernel.sh"
	KVER=$(cat "$dk/include/config/kernel.release")
	kmods=$ESXMM_CACHE/debug-kernel-modules
	[ -d "$kmods/lib/modules/$KVER" ] || esxmm_die "no $kmods/lib/modules/$KVER"
	modinfo_base=(-b "$kmods")
	ko=${ESXMM_KO:-$ESXMM_CACHE/debug-module/esxmm/esxmm.ko}
	[ -f "$ko" ] || esxmm_die "no $ko: build esxmm.ko against $dk (scripts/test-debug.sh)"
	case $ko in *[[:space:]]*) esxmm_die "ESXMM_KO must not contain white space" ;; esac
fi
OUT=$ESXMM_CACHE/testhost
[ "$kernel" = debug ] && OUT=$ESXMM_CACHE/testhost-debug	# keeps the Debian host's console
mkdir -p "$OUT"
LOG=$OUT/console.log
QPID="" TAILPID=""
cleanup() {
	local rc=$?
	if [ -n "$TAILPID" ]; then kill "$TAILPID" 2>/dev/null || true; fi
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null || true
		wait "$QPID" 2>/dev/null || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build what the test host runs (it sees the machine's / read-only) -------------------
t0=$SECONDS
make -s -C "$REPO/tests" >&2
make -s -C "$REPO/tools" >&2 # esxmm-balloond, for t_libvirt
"$REPO/scripts/guest-initramfs.sh" >/dev/null
if [ -f "$ko" ]; then
	vm=$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1 || true)
	[ "$vm" = "$KVER" ] || esxmm_log "warning: esxmm.ko vermagic '$vm' != booted kernel $KVER"
fi

# ---- initramfs for the test host ----------------------------------------------------------
MODS=(irqbypass ccp kvm kvm-amd virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
	virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay)
[ "$kernel" = debug ] && MODS=(irqbypass kvm kvm-amd) # the rest is built in
stage=$OUT/initramfs.d
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,proc,sys,dev,host,rw,newroot,lib/modules}
cp /bin/busybox "$stage/bin/busybox"
for m in "${MODS[@]}"; do
	f=$(modinfo "${modinfo_base[@]}" -k "$KVER" -n "$m") || esxmm_die "module $m not found for $KVER"
	case $f in
	*.ko) cp "$f" "$stage/lib/modules/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$stage/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$stage/lib/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$stage/lib/modules/$m.ko" ;;
	*) esxmm_die "unknown module format $f" ;;
	esac
done
echo "${MODS[*]}" >"$stage/lib/modules/load-order"
cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
# /init of the test host: see scripts/testhost.sh.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -n1; }
fatal() { echo "ESXMM-TEST: testhost-init FAIL ($*)"; echo ESXMM-DONE; sync; poweroff -f; sleep 60; }
echo "testhost: init up after $(cut -d' ' -f1 /proc/uptime)s"
for m in $(cat /lib/modules/load-order); do
	a=
	[ "$m" = kvm-amd ] && a=npt=0
	insmod /lib/modules/$m.ko $a || fatal "insmod $m"
done
[ -c /dev/kvm ] || fatal "no /dev/kvm"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 host /host || fatal "mount 9p"
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
	fatal "mount overlay"
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -o bind /dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 shm $R/dev/shm
mount -t tmpfs -o mode=0755 run $R/run
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
REPO=$(arg esxmm_repo) MODE=$(arg esxmm_mode) MMU=$(arg esxmm_mmu)
# debug kernel: its modules for modprobe, its esxmm.ko, Debian's kernel for the nested guests
KMODS=$(arg esxmm_kmods) KO=$(arg esxmm_ko) GKVER=$(arg esxmm_guest_kver) V=$(uname -r)
if [ -n "$KMODS" ]; then
	mkdir -p $R/lib/modules/$V && mount -o bind $R$KMODS/lib/modules/$V $R/lib/modules/$V ||
		fatal "bind $KMODS"
fi
if [ -n "$KO" ]; then
	[ -e $R$REPO/esxmm/esxmm.ko ] || { mkdir -p $R$REPO/esxmm && : >$R$REPO/esxmm/esxmm.ko; }
	mount -o bind $R$KO $R$REPO/esxmm/esxmm.ko || fatal "bind $KO"
fi
if [ -n "$GKVER" ] && [ ! -e $R/boot/vmlinuz-$V ]; then
	ln -s vmlinuz-$GKVER $R/boot/vmlinuz-$V || fatal "guest kernel link"
fi
CACHE=$(arg esxmm_cache) TESTMODE=$(arg esxmm_testmode) TESTS=$(arg esxmm_tests | tr , ' ')
XENV=$(arg esxmm_env | tr , ' ')
case $MODE in
test) cmd=$REPO/tests/run-tests.sh ;;
demo) cmd=$REPO/scripts/demo.sh ;;
bench) cmd=$REPO/scripts/bench.sh ;;
*) fatal "bad esxmm_mode=$MODE" ;;
esac
[ -x "$R$cmd" ] || fatal "$cmd not found in the test host"
echo "testhost: chroot ready after $(cut -d' ' -f1 /proc/uptime)s, running $cmd"
chroot $R /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root TERM=dumb LANG=C.UTF-8 REPO="$REPO" ESXMM_REPO="$REPO" ESXMM_CACHE="$CACHE" \
	ESXMM_MMU="$MMU" ESXMM_TESTMODE="$TESTMODE" ESXMM_TESTS="$TESTS" ESXMM_INSIDE=1 ESXMM_KO="$KO" \
	$XENV /bin/bash "$cmd" </dev/null
echo "testhost: $MODE exited rc=$? after $(cut -d' ' -f1 /proc/uptime)s"
sync
poweroff -f
sleep 60
INIT
chmod +x "$stage/init"
( cd "$stage" && find . | cpio -o -H newc --quiet ) >"$OUT/initramfs.cpio"

# ---- boot ---------------------------------------------------------------------------------
tests_csv=$(echo "${ESXMM_TESTS:-}" | tr ' ' ',')
env_csv=$(echo "${ESXMM_TEST_ENV:-}" | tr ' ' ',')
append="console=ttyS0 loglevel=5 panic_on_warn=1 oops=panic softlockup_panic=1 panic=-1"
append+=" mitigations=off esxmm_mode=$mode esxmm_repo=$REPO esxmm_cache=$ESXMM_CACHE"
append+=" esxmm_mmu=$mmu esxmm_testmode=${ESXMM_TESTMODE:-} esxmm_tests=$tests_csv esxmm_env=$env_csv"
# later values win: the debug kernel goes on after a WARN or a soft lockup, KASAN reports all
if [ "$kernel" = debug ]; then
	append+=" panic_on_warn=0 softlockup_panic=0 kasan_multi_shot"
	append+=" esxmm_kmods=$kmods esxmm_ko=$ko esxmm_guest_kver=$GUEST_KVER"
fi
append+=" ${ESXMM_TESTHOST_APPEND:-}"
# -icount runs all vCPUs in one thread: measured, -smp 2 with -icount did not get past early boot
# in 4 minutes, -smp 1 boots as fast as without it.
[ "$icount" = 1 ] && smp=1
# shellcheck disable=SC2054 # commas are part of QEMU option values
qargs=(-accel tcg -cpu EPYC,+svm -m "$mem" -smp "$smp" -nographic -no-reboot
	-kernel "$vmlinuz" -initrd "$OUT/initramfs.cpio" -append "$append"
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap)
[ "$icount" = 1 ] && qargs+=(-icount "shift=0,sleep=off")
if [ -n "${ESXMM_TESTHOST_MONITOR:-}" ]; then
	qargs+=(-monitor "unix:$ESXMM_TESTHOST_MONITOR,server=on,wait=off")
fi
esxmm_log "prepared in $((SECONDS - t0))s; booting $KVER ($mode, mmu=$mmu, smp=$smp, ${mem}M," \
	"timeout ${timeout}s); console: $LOG"
: >"$LOG"
tboot=$SECONDS
qemu-system-x86_64 "${qargs[@]}" </dev/null >"$LOG" 2>&1 &
QPID=$!
if [ "$verbose" = 1 ] || [ "$mode" != test ]; then
	tail -n +1 -f --pid="$QPID" "$LOG" | sed -u 's/\r//g' &
else
	tail -n +1 -f --pid="$QPID" "$LOG" | sed -u 's/\r//g' |
		grep --line-buffered -E 'ESXMM-TEST:|^testhost:' &
fi
TAILPID=$!
timed_out=0
while kill -0 "$QPID" 2>/dev/null; do
	if (( SECONDS - tboot >= timeout )); then
		timed_out=1
		esxmm_log "timeout after ${timeout}s: killing QEMU"
		kill "$QPID" 2>/dev/null || true
		break
	fi
	sleep 1
done
wait "$QPID" 2>/dev/null || true
QPID=
# tail --pid ends by itself within a second of QEMU; let the pipe drain.
for _ in $(seq 50); do kill -0 "$TAILPID" 2>/dev/null || break; sleep 0.1; done
kill "$TAILPID" 2>/dev/null || true
wait "$TAILPID" 2>/dev/null || true
TAILPID=
wall=$((SECONDS - tboot))

# ---- verdict --------------------------------------------------------------------------------
clean=$OUT/console.clean
tr -d '\r' <"$LOG" >"$clean"
splat_re='WARNING:|BUG:|Oops|Kernel panic|general protection|possible circular locking|KASAN|INFO: task .* blocked|soft lockup'
splat_re+='|kernel BUG at|hard LOCKUP'
results=$(grep -oE 'ESXMM-TEST: [^ ]+ (PASS|FAIL|SKIP)' "$clean" || true)
npass=$(grep -c ' PASS$' <<<"$results" || true)
nfail=$(grep -c ' FAIL$' <<<"$results" || true)
nskip=$(grep -c ' SKIP$' <<<"$results" || true)
problems=()
grep -q 'ESXMM-DONE' "$clean" || problems+=("no ESXMM-DONE on the console")
[ "$timed_out" = 1 ] && problems+=("timeout after ${timeout}s")
if grep -qE "$splat_re" "$clean"; then
	problems+=("kernel splat on the console")
fi
[ "$mode" = test ] && [ -z "$results" ] && problems+=("no test results")

echo "==== testhost summary ($mode, mmu=$mmu, ${wall}s wall) ===="
[ -n "$results" ] && echo "${results//ESXMM-TEST: /  }"
if grep -qE "$splat_re" "$clean"; then
	echo "---- splat lines:"
	grep -nE "$splat_re" "$clean" | head -n 20
fi
if [ ${#problems[@]} -gt 0 ] || [ "$nfail" -gt 0 ]; then
	if [ "$verbose" = 0 ] && [ "$mode" = test ]; then
		echo "---- last 60 console lines ($LOG):"
		tail -n 60 "$clean"
	fi
	for p in "${problems[@]}"; do echo "testhost: problem: $p"; done
	nfail=$((nfail + ${#problems[@]}))
fi
skipped=
[ "$nskip" -gt 0 ] && skipped=", $nskip skipped"
echo "testhost: $npass passed, $nfail failed$skipped"
[ "$nfail" -eq 0 ]
