#!/usr/bin/env bash
# esxmm-timeout: 300
# (Shadow MMU only, as t_sample.)
# t_sample_swap: the working-set estimate of a guest that is mostly swapped out. kvm_vmm
# --touch fills 16 MiB (4096 pages) on a pool of 1536 pages with swap on, then touches
# the first 20 % of its pages (819) in a loop. Samples must be taken among all of its pages,
# resident or swapped: sampling only resident pages measures f among the ~1536 that
# swapping left in memory, which hold the whole working set, and reads about 819/1536
# (530 permille) instead of 200. Checks, once the guest has touched its working set for
# T_SS_SETTLE periods: active_fast_permille within 80 of 200 for the rest of the run, the
# guest mostly swapped meanwhile (swapped_pages > 2000), and every dword as the guest
# wrote it (KVM_TOUCH OK).
#   T_SS_PERIOD_MS (default 2000), T_SS_PAGES (samples per period, default 1000),
#   T_SS_SECS (the touch phase, default 50), T_SS_SETTLE (default 8).
source "$REPO/tests/lib.sh"
testmode_tmpfs && skip "esxmm only"
[ -c /dev/kvm ] || skip "no /dev/kvm"
S=$ESXMM_SYSFS
PERIOD_MS=${T_SS_PERIOD_MS:-2000}
SAMPLES=${T_SS_PAGES:-1000}
SECS=${T_SS_SECS:-50}
SETTLE=${T_SS_SETTLE:-8}
POOL=1536

work=$(mktemp -d /tmp/esxmm-ss.XXXXXX)
at_exit "rm -rf '$work'"
swap_file_on "$work/swap" 32
sysfs_save pool_pages sample/period_millisecs sample/sample_pages
mount_esxmm
at_exit "rm -f '$MNT/ss'"
echo $POOL >$S/pool_pages
echo "$PERIOD_MS" >$S/sample/period_millisecs
echo "$SAMPLES" >$S/sample/sample_pages

stdbuf -oL "$ESXMM_TESTBIN/kvm_vmm" --touch "$MNT/ss" 16 "20:$SECS" >"$work/vmm.log" 2>&1 &
vmm=$!
at_exit "kill $vmm 2>/dev/null; wait $vmm 2>/dev/null"
find_vm() { vd=$(vm_dir_for /ss); }
wait_for 20 0.1 find_vm || { cat "$work/vmm.log"; fail "no vms/<id> for /ss"; }

# The touch phase starts when kvm_vmm says so; the estimate is read from SETTLE periods on.
phase() { grep -q "^phase W=20 start" "$work/vmm.log"; }
wait_for 120 0.2 phase || { cat "$work/vmm.log"; fail "the guest did not finish filling its memory"; }
t0=$SECONDS
log "t_sample_swap: filled; resident $(cat "$vd/resident_pages"), swapped $(cat "$vd/swapped_pages")"
n=0 bad=0 minsw=999999 sum=0
# Until the touch phase ends (the final verify touches every page).
while kill -0 "$vmm" 2>/dev/null && ! grep -q "^phase W=20 end" "$work/vmm.log"; do
	sleep 1
	((SECONDS - t0 >= SETTLE * PERIOD_MS / 1000)) || continue
	{ read -r fast <"$vd/active_fast_permille" && read -r sw <"$vd/swapped_pages" &&
		read -r res <"$vd/resident_pages"; } 2>/dev/null || break
	# Read after the phase ended: the verify may have touched every page meanwhile.
	grep -q "^phase W=20 end" "$work/vmm.log" && break
	n=$((n + 1)) sum=$((sum + fast))
	((sw < minsw)) && minsw=$sw
	if ((fast < 120 || fast > 280)); then
		bad=$((bad + 1))
		log "t_sample_swap: at $((SECONDS - t0))s fast $fast permille (resident $res, swapped $sw)"
	fi
done
rc=0
wait "$vmm" || rc=$?
sed 's/^/kvm_vmm: /' "$work/vmm.log" | tail -n 5
[ "$rc" -eq 0 ] || fail "kvm_vmm --touch exited $rc"
grep -q "^KVM_TOUCH OK pages=4096 " "$work/vmm.log" || fail "no 'KVM_TOUCH OK pages=4096' line"
((n >= 5)) || fail "only $n readings after the guest settled (T_SS_SECS too short?)"
log "t_sample_swap: $n readings, mean active_fast $((sum / n)) permille (working set 200)," \
	"swapped at least $minsw pages; swap in $(cat $S/swap/pages_swapped_in)"
((minsw > 2000)) || fail "the guest was not mostly swapped (swapped_pages down to $minsw)"
((bad == 0)) || fail "$bad of $n readings of active_fast_permille outside 200 +- 80"
