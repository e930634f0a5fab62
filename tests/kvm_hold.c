// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_hold: keep one empty KVM VM alive until SIGTERM, so that the test host's
 * kernel never patches the scheduler's preempt-notifier jump labels while
 * tests start and stop guests.
 *
 * Why: KVM enables the kernel's preempt_notifier_key when the first VM is
 * created and disables it when the last one is destroyed; each flip rewrites
 * the jump-label sites in __schedule() and finish_task_switch() with
 * text_poke_bp() (int3 first, then the new instruction). Under QEMU 7.2's
 * multi-threaded TCG, a vCPU can keep executing a stale translation of the
 * int3 after the site holds its final NOP: kprobe_int3_handler() sees no int3
 * in memory and backs the IP up, the stale block traps again, for ever, with
 * interrupts off in __schedule(). Seen in the test host (both vCPUs looping
 * in exc_int3 at fire_sched_out_preempt_notifiers, memory at the site
 * 0f 1f 44 00 00; an RCU stall and a soft lockup in finish_task_switch in
 * another run) whenever short-lived guests followed one another, as in
 * t_swap_kvm. A real CPU does not do this; with one VM held for the whole
 * run the key never flips after the first guest.
 *
 * Usage: kvm_hold  (prints "kvm_hold: holding" once the VM exists)
 * tests/run-tests.sh starts it after loading kvm_amd and stops it before
 * reloading kvm_amd (the VM holds a reference on the module).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t block, old;
	int kvm, vm;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	if (sigprocmask(SIG_BLOCK, &block, &old) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) {
		perror("kvm_hold: signals");
		return 1;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvm_hold: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "kvm_hold: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	printf("kvm_hold: holding\n");
	fflush(stdout);
	while (!stop)
		sigsuspend(&old);
	close(vm);
	close(kvm);
	return 0;
}
