#!/usr/bin/env bash
# esxmm-timeout: 420
# t_fsfuzz: random file operations (tests/fsfuzz.c) on an esxmm mount, mirrored on a tmpfs
# and compared byte for byte, while everything else runs at once: a KVM guest (kvm_vmm)
# writing and checking its own file on the same mount, the share scanner at full rate,
# sampling every 200 ms, and swap on a pool too small for it all. Seeds are printed;
# replay with FUZZ_SEED=N (and FUZZ_OPS=N).
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"
[ -c /dev/kvm ] || skip "no /dev/kvm"
S=$ESXMM_SYSFS
seed=${FUZZ_SEED:-$(( $(date +%s) % 100000 ))}
ops=${FUZZ_OPS:-4000}
log "seed $seed, $ops operations (FUZZ_SEED=$seed FUZZ_OPS=$ops to replay)"

work=$(mktemp -d /tmp/esxmm-fsfuzz.XXXXXX)
at_exit "rm -rf '$work'"
mkdir "$work/ref"
old_pool=$(cat $S/pool_pages) old_run=$(cat $S/share/run) old_n=$(cat $S/share/pages_to_scan)
old_ms=$(cat $S/share/sleep_millisecs) old_period=$(cat $S/sample/period_millisecs)
at_exit "echo $old_pool >$S/pool_pages; echo $old_n >$S/share/pages_to_scan;" \
	"echo $old_ms >$S/share/sleep_millisecs; echo $old_run >$S/share/run;" \
	"echo $old_period >$S/sample/period_millisecs; echo none >$S/swap/file"

dd if=/dev/zero of="$work/swap" bs=1M count=64 status=none
chmod 0600 "$work/swap"
echo "$work/swap" >$S/swap/file || fail "swap on"
mount_esxmm
mkdir "$MNT/fuzz"
echo 3072 >$S/pool_pages		# 12 MiB for a 16 MiB guest and 16 MiB of fuzz files
echo 2000 >$S/share/pages_to_scan
echo 0 >$S/share/sleep_millisecs
echo 1 >$S/share/run
echo 200 >$S/sample/period_millisecs

stdbuf -oL "$ESXMM_TESTBIN/kvm_vmm" "$MNT/vm1" 16 >"$work/vmm.log" 2>&1 &
vmm=$!
at_exit "kill $vmm 2>/dev/null; rm -f '$MNT/vm1'"

"$ESXMM_TESTBIN/fsfuzz" "$MNT/fuzz" "$work/ref" "$seed" "$ops" || fail "fsfuzz seed $seed"
if ! wait "$vmm"; then
	cat "$work/vmm.log"
	fail "the KVM guest beside the fuzzer failed"
fi
tail -n 2 "$work/vmm.log"
log "swapped out $(cat $S/swap/pages_swapped_out), in $(cat $S/swap/pages_swapped_in)," \
	"sharing $(cat $S/share/pages_sharing), cow breaks $(cat $S/share/cow_breaks)"
rm -rf "$MNT/fuzz" "$MNT/vm1"
slots_free() { [ "$(cat $S/swap/slots_used)" = 0 ]; }	# read again at each try
wait_for 10 0.2 slots_free || fail "slots left: $(cat $S/swap/slots_used)"
log "fsfuzz: seed $seed clean beside a KVM guest, scanner, sampler and swap"
