#!/usr/bin/env bash
# esxmm-timeout: 600
# (Runs once, under the shadow MMU: swap under TDP is covered by t_swap_kvm.)
# t_stress: everything at once, bounded in time. Three KVM guests (kvm_vmm --swap, 16 MiB
# and STRESS_VCPUS vCPUs each, default 2; every pass rewrites all of its memory with a new
# seed and verifies it, each vCPU its own slice) and one real
# Linux guest with 2 vCPUs (QEMU, memcheck) share a pool smaller than their sum, with swap on,
# the scanner at full rate, sampling every 200 ms, and a chaos loop that shrinks and grows the
# pool, moves the guests between share groups and kill -9s one guest VMM now and then (it is
# restarted on a fresh file). Every guest run that is not killed must end with every byte
# right; files of killed VMMs must give back all their pages and slots; no splat (the
# harness scans the console). Prints how many bytes were written and checked.
#   STRESS_SECS (default 60): how long (60 s wrote and checked 1.6-1.9 GiB in the test host).
#   STRESS_SEED: the chaos loop's seed (printed).
#   STRESS_VCPUS (default 2): vCPUs per KVM guest.
# A fault that finds the pool full must wait for the swapper, never give up (swap has room
# here): a "no room in the pool" or "pool exhausted" line fails the test. A VMM still alive
# 60 s after its kill -9, or guest loops that do not end, fail it with every thread's
# kernel stack and sysrq w (blocked tasks) in the log.
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"
[ -c /dev/kvm ] || skip "no /dev/kvm"
[ -f "$(guest_initrd)" ] || fail "$(guest_initrd) missing (scripts/guest-initramfs.sh)"
S=$ESXMM_SYSFS
secs=${STRESS_SECS:-60}
vcpus=${STRESS_VCPUS:-2}
seed=${STRESS_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$seed
log "stress: ${secs}s, seed $seed (STRESS_SEED=$seed to replay the chaos)"

work=$(mktemp -d /tmp/esxmm-stress.XXXXXX)
at_exit "rm -rf '$work'"
swap_file_on "$work/swap" 256
sysfs_save pool_pages share/run share/pages_to_scan share/sleep_millisecs sample/period_millisecs
mount_esxmm
echo 16384 >$S/pool_pages		# 64 MiB for 3 x 16 MiB + a 192 MiB guest
echo 2000 >$S/share/pages_to_scan
echo 0 >$S/share/sleep_millisecs
echo 1 >$S/share/run
echo 200 >$S/sample/period_millisecs
end=$((SECONDS + secs))
klog_mark "start"

# One KVM guest slot: run kvm_vmm --swap again and again until the end; a run killed by
# the chaos loop (137) starts over on a new file. Writes "<passes ok> <killed>" at the end.
guest_loop() {
	local n=$1 gen=0 ok=0 killed=0 rc f
	while ((SECONDS < end)); do
		gen=$((gen + 1))
		f=$MNT/g$n.$gen
		set +e
		stdbuf -oL "$ESXMM_TESTBIN/kvm_vmm" --swap "$f" 16 3 --vcpus "$vcpus" \
			>"$work/g$n.log" 2>&1 &
		echo $! >"$work/g$n.pid"
		wait $!
		rc=$?
		set -e
		rm -f "$work/g$n.pid"
		case $rc in
		0) ok=$((ok + 3)) ;;
		137) killed=$((killed + 1)) ;;
		*) cat "$work/g$n.log"; echo "guest $n generation $gen failed ($rc)" >"$work/fail"
			break ;;
		esac
		rm -f "$f"
	done
	echo "$ok $killed" >"$work/g$n.result"
}
loops=()
for n in 1 2 3; do
	guest_loop $n &
	loops+=($!)
done
at_exit "kill ${loops[*]} 2>/dev/null; pkill -9 -f 'kvm_vmm --swap $MNT' 2>/dev/null"

# The real guest: 2 vCPUs, memcheck writes 64 MiB and re-verifies it in a loop (at 128 MiB
# of RAM its kernel ran out of memory itself: 192).
qemu-system-x86_64 -accel kvm -cpu host -m 192 -smp 2 -nographic -no-reboot -nodefaults \
	-serial stdio -kernel "$(guest_kernel)" -initrd "$(guest_initrd)" \
	-append "console=ttyS0 quiet panic=-1 mitigations=off mc_mb=64 mc_mode=hold mc_hold=$((secs > 40 ? secs - 20 : 20))" \
	-object memory-backend-file,id=mem,size=192M,mem-path="$MNT/linux",share=on \
	-machine memory-backend=mem </dev/null >"$work/linux.log" 2>&1 &
qpid=$!
at_exit "kill $qpid 2>/dev/null"

# Chaos until the end.
kills=0 changes=0
while ((SECONDS < end)); do
	sleep 2
	case $((RANDOM % 6)) in
	0) echo $((12288 + RANDOM % 8192)) >$S/pool_pages ;;
	1) for d in "$S"/vms/*/; do echo $((RANDOM % 2 * 7)) >"$d/share_group" 2>/dev/null || true; done ;;
	2) echo $((RANDOM % 2 + 1)) >$S/share/run 2>/dev/null || true ;;	# 2 may find no room: ENOMEM
	3) p=$(cat "$work/g$((RANDOM % 3 + 1)).pid" 2>/dev/null || true)
	   if [ -n "$p" ] && kill -9 "$p" 2>/dev/null; then
		kills=$((kills + 1))
		# A VMM killed with -9 is gone within seconds unless it is stuck in the kernel.
		gone() { ! kill -0 "$p" 2>/dev/null; }
		if ! wait_for 60 0.5 gone; then
			dump_stacks 'kvm_vmm|qemu-system|esxmm_'
			echo "VMM $p still alive 60 s after kill -9" >"$work/fail"
		fi
	   fi ;;
	*) ;;
	esac
	changes=$((changes + 1))
	[ -e "$work/fail" ] && break
done
! grep -qs "still alive" "$work/fail" || fail "$(cat "$work/fail")"
loops_done() { [ "$(ls "$work"/g*.result 2>/dev/null | wc -l)" = 3 ]; }
if ! wait_for 300 1 loops_done; then
	dump_stacks 'kvm_vmm|qemu-system|esxmm_'
	fail "guest loops did not finish"
fi
log "stress: guest loops done $((SECONDS - end))s after the end"
[ ! -e "$work/fail" ] || fail "$(cat "$work/fail")"
wait "$qpid" || true
log "stress: the Linux guest done $((SECONDS - end))s after the end"
grep -q "MEMCHECK OK" "$work/linux.log" || { tail -n 20 "$work/linux.log"; fail "the 2-vCPU guest failed"; }
passes=0 killed=0
for n in 1 2 3; do
	read -r o k <"$work/g$n.result"
	passes=$((passes + o)) killed=$((killed + k))
done
mib=$((passes * 16))
log "stress: $passes guest passes of 16 MiB written and checked ($mib MiB), $killed VMMs" \
	"killed by $kills kill -9s, $changes chaos steps; swapped out $(cat $S/swap/pages_swapped_out)," \
	"in $(cat $S/swap/pages_swapped_in), cow breaks $(cat $S/share/cow_breaks)"
[ "$passes" -gt 0 ] || fail "no guest pass completed"
# Swap never fills here (256 MiB for 240 MiB of guests): a full pool must make faults wait
# for the swapper, never give up. Faults of a VMM being killed may end early (EINTR).
if klog_since "start" | grep -E "no room in the pool|(SIGBUS|EFAULT) to"; then
	fail "a fault gave up while swap had room (see above)"
fi
((secs < 45 || killed > 0)) || fail "no VMM was killed: the chaos loop did not do its job"
rm -f "$MNT"/g* "$MNT/linux"
slots_free() { [ "$(cat $S/swap/slots_used)" = 0 ]; }
wait_for 20 0.5 slots_free || fail "slots left after all guests: $(cat $S/swap/slots_used)"
[ "$(cat $S/allocated_pages)" = 0 ] || fail "pages left allocated: $(cat $S/allocated_pages)"
log "stress: clean"
