// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_vmm - a minimal KVM VMM whose guest RAM is a shared file mapping.
 *
 * Usage: kvm_vmm FILE SIZE_MIB
 *
 * FILE (normally a file on an esxmm mount, but any file that supports
 * MAP_SHARED and FALLOC_FL_PUNCH_HOLE, e.g. on tmpfs, will do) is sized to
 * SIZE_MIB MiB, mapped MAP_SHARED and registered as KVM memory slot 1 at
 * guest physical 1 MiB.  A small anonymous slot 0 at guest physical 0 holds
 * the guest code: two 32-bit protected-mode routines (flat segments, no
 * paging) that fill a range of dwords with (gpa ^ seed) or count the dwords
 * that differ from it.  The test then proves that KVM's view of the file and
 * the host's stay coherent in both directions: guest writes are seen by
 * pread() and by the host's mapping, host pwrite()s are seen by the guest,
 * and a hole punched by the host (which zaps the mapping and so fires KVM's
 * MMU notifier) is seen by the guest as zeroed pages instead of its stale
 * shadow/TDP mappings.  It prints one line per step and "KVM_VMM OK pages=N"
 * at the end; it exits 0 only if every step passed.
 *
 * Usage: kvm_vmm --share FILE SIZE_MIB [PATH_IN_MOUNT]
 *
 * Content-based sharing through KVM (FILE must be on esxmm, run as root).
 * The host pwrite()s one and the same 4 KiB page into every page of FILE,
 * the guest reads it all (so KVM maps the private pages), then the esxmm
 * scanner runs (share/run=1, pages_to_scan=10000, sleep_millisecs=0) until
 * /sys/kernel/esxmm/vms/<id>/shared_pages covers 99 % of FILE, and stops.
 * The guest then writes (gpa ^ seed) over the first half: every first write
 * to a page is a KVM write fault on a read-only shared page, i.e. a COW
 * break in esxmm's ->page_mkwrite.  The guest and the host (pread and the
 * host mapping) check that the first half holds the guest's bytes, the
 * second half still the common page, and that cow_breaks and shared_pages
 * moved by exactly the pages that left a share.  share/run=2 then unshares
 * everything: shared_pages must be 0 with every byte intact, and a last
 * guest write over all of FILE must be seen by the host.  The vms/<id>
 * directory is the one whose `path` reads PATH_IN_MOUNT (default: FILE's
 * path below its mount point).  pages_to_scan and sleep_millisecs are
 * restored and run is set to 0 on exit, also on failure.  It prints one
 * line per step and "KVM_SHARE OK pages=N merged=M cow=C" at the end.
 *
 * Usage: kvm_vmm --touch FILE SIZE_MIB SCHEDULE
 *
 * A known working set, for esxmm's sampler (tests/t_sample.sh, t_tax.sh).
 * SCHEDULE is W:SECS[,W:SECS...], e.g. 20:6,80:6,20:6: W percent (0..100)
 * of the pages for SECS seconds (decimals allowed). The guest first writes
 * (gpa ^ seed) over all of FILE, so every page is resident; then, phase by
 * phase, it runs touch() over the first W % of the pages (one read and one
 * write-back of the first dword of each page, which checks that dword too)
 * again and again until the phase's time is up; W=0 leaves the guest idle.
 * Lines "phase W=.. t=.. epoch=.." mark each phase's start and end and,
 * once a second, its progress (passes, longest pass); t is seconds since
 * kvm_vmm started, epoch the wall clock (CLOCK_REALTIME, as bash's
 * $EPOCHREALTIME); start and end lines also give mono, CLOCK_MONOTONIC (ftrace's
 * "mono" clock). SIGUSR1 ends the schedule early. At the end the guest
 * verifies every dword of FILE (sampling must never change contents), the
 * host checks it by pread() and its mapping, and it prints "KVM_TOUCH OK
 * pages=N passes=P".
 *
 * Usage: kvm_vmm --swap FILE SIZE_MIB PASSES [--seed N] [--check LIST]
 *                [--corrupt OFFSET] [--written PAGES] [--wait usr1] [--vcpus N]
 *
 * A guest bigger than esxmm's pool (tests/t_swap_kvm.sh). PASSES times the
 * guest writes (gpa ^ seed(pass)) over all of FILE and then verifies all of
 * it (each pass its own seed, so a page left over from an earlier pass is
 * caught), printing one line per pass with its times and how far esxmm's
 * swap/pages_swapped_out and pages_swapped_in moved. Then the checks of
 * LIST (comma-separated, in order; default guest,pread,mmap; "none" for
 * none) cover every byte once more: "guest" the guest's verify, "pread" the
 * file read by pread(), "mmap" the host's own mapping (a SIGBUS there is
 * reported with its file offset, and the process dies of it). PASSES 0
 * writes nothing and checks what an earlier run left, with pass N's seed
 * (--seed N, default 1). --corrupt flips one bit of the byte at OFFSET
 * through pwrite() before the checks, which must then fail: a negative
 * control. --written PAGES (with PASSES 0) checks that only the first
 * PAGES pages hold the pattern and the rest zeros: what a guest that died
 * writing page PAGES left.
 * --wait usr1 stops after the file is mapped (esxmm admitted the guest)
 * until SIGUSR1, so that the test can change the pool or the swap file
 * before the guest writes anything. --vcpus N (1..8, default 1) runs every
 * write and verify on N vCPUs at once, each on its own slice of the pages
 * and in its own thread, so faults of one guest race each other. Prints
 * "KVM_SWAP OK pages=N passes=P" at the end.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <limits.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SZ		4096UL
#define PAGE_SZ_ASM	4096	/* PAGE_SZ for the guest code */
#define DWORDS_PER_PAGE	(PAGE_SZ / 4)

#define CODE_SLOT	0
#define CODE_GPA	0x0UL
#define CODE_SIZE	0x10000UL	/* 64 KiB: code at 0x1000, stack at top */
#define CODE_OFFSET	0x1000UL

#define RAM_SLOT	1
#define RAM_GPA		0x100000UL	/* 1 MiB */

/* gpa ^ seed must never be 0: all gpas stay below 2 GiB, seeds have bit 31 */
#define MAX_SIZE_MIB	2047UL

#define PORT_WRITE_DONE	0xe0	/* write() finished: outb */
#define PORT_VERIFY	0xe4	/* verify() result: outl %eax = mismatches */

#define SEED1		0x9e3779b9U
#define SEED2		0xc2b2ae35U
#define SEED3		0x85ebca6bU

#define __stringify_1(x)	#x
#define __stringify(x)		__stringify_1(x)

#define GUEST_TIMEOUT_SEC 600	/* per guest call; TCG + nested NPT is slow */
#define IO_CHUNK	(1UL << 20)

/*
 * The guest routines, 32-bit protected mode.  Arguments: %eax = start gpa,
 * %ecx = number of dwords, %edx = seed.  No stack, no interrupts (IF = 0).
 */
asm(
	".pushsection .rodata\n"
	".balign 16\n"
	"guest_code_start:\n"
	".code32\n"
	/* write(): *(u32 *)gpa = gpa ^ seed for every dword */
	"guest_write:\n"
	"	test	%ecx, %ecx\n"
	"	jz	2f\n"
	"1:	mov	%eax, %ebx\n"
	"	xor	%edx, %ebx\n"
	"	mov	%ebx, (%eax)\n"
	"	add	$4, %eax\n"
	"	dec	%ecx\n"
	"	jnz	1b\n"
	"2:	mov	$" __stringify(PORT_WRITE_DONE) ", %dx\n"
	"	out	%al, %dx\n"
	"	hlt\n"
	"	jmp	2b\n"
	/* verify(): %eax = number of dwords != gpa ^ seed, reported by outl */
	"guest_verify:\n"
	"	xor	%edi, %edi\n"
	"	test	%ecx, %ecx\n"
	"	jz	5f\n"
	"3:	mov	%eax, %ebx\n"
	"	xor	%edx, %ebx\n"
	"	cmp	%ebx, (%eax)\n"
	"	je	4f\n"
	"	inc	%edi\n"
	"4:	add	$4, %eax\n"
	"	dec	%ecx\n"
	"	jnz	3b\n"
	"5:	mov	%edi, %eax\n"
	"	mov	$" __stringify(PORT_VERIFY) ", %dx\n"
	"	out	%eax, %dx\n"
	"	hlt\n"
	"	jmp	5b\n"
	"guest_code_end:\n"
	/*
	 * --share only (copied after guest_code_end, so the default mode's
	 * code stays as it was). verify_common(): %eax = number of dwords
	 * != seed ^ (gpa & 0xffc), i.e. the common page of share_fill().
	 */
	"guest_verify_common:\n"
	"	xor	%edi, %edi\n"
	"	test	%ecx, %ecx\n"
	"	jz	8f\n"
	"6:	mov	%eax, %ebx\n"
	"	and	$0xffc, %ebx\n"
	"	xor	%edx, %ebx\n"
	"	cmp	%ebx, (%eax)\n"
	"	je	7f\n"
	"	inc	%edi\n"
	"7:	add	$4, %eax\n"
	"	dec	%ecx\n"
	"	jnz	6b\n"
	"8:	mov	%edi, %eax\n"
	"	mov	$" __stringify(PORT_VERIFY) ", %dx\n"
	"	out	%eax, %dx\n"
	"	hlt\n"
	"	jmp	8b\n"
	"guest_share_code_end:\n"
	/*
	 * --touch only (after the --share code, so neither other mode's code
	 * changes). touch(): %eax = start gpa, %ecx = number of pages, %edx =
	 * seed. Reads the first dword of every page, counts those != gpa ^
	 * seed and writes back what it read: a read and a write access per
	 * page, contents unchanged. %eax = mismatches, reported by outl.
	 */
	"guest_touch:\n"
	"	xor	%edi, %edi\n"
	"	test	%ecx, %ecx\n"
	"	jz	11f\n"
	"9:	mov	(%eax), %ebx\n"
	"	mov	%eax, %esi\n"
	"	xor	%edx, %esi\n"
	"	cmp	%esi, %ebx\n"
	"	je	10f\n"
	"	inc	%edi\n"
	"10:	mov	%ebx, (%eax)\n"
	"	add	$" __stringify(PAGE_SZ_ASM) ", %eax\n"
	"	dec	%ecx\n"
	"	jnz	9b\n"
	"11:	mov	%edi, %eax\n"
	"	mov	$" __stringify(PORT_VERIFY) ", %dx\n"
	"	out	%eax, %dx\n"
	"	hlt\n"
	"	jmp	11b\n"
	"guest_touch_code_end:\n"
	".code64\n"
	".popsection\n");

extern const unsigned char guest_code_start[], guest_code_end[];
extern const unsigned char guest_write[], guest_verify[];
extern const unsigned char guest_verify_common[], guest_share_code_end[];
extern const unsigned char guest_touch[], guest_touch_code_end[];

struct vmm {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	unsigned char *code;	/* slot 0, anonymous */
	int file_fd;
	unsigned char *ram;	/* slot 1, the file mapping */
	size_t ram_size;
	unsigned long exits;	/* KVM_RUN returns to userspace */
	double guest_ms;	/* wall time inside run_guest(), this step */
	int nr_vcpus;		/* --swap --vcpus: vcpu_fds[0] is vcpu_fd */
	int vcpu_fds[8];
	struct kvm_run *runs[8];
};
#define MAX_VCPUS 8

static const char *progname = "kvm_vmm";
static const char *verdict = "KVM_VMM";	/* "KVM_SHARE" in --share mode */
static volatile sig_atomic_t timed_out;

static void die(const char *fmt, ...)
{
	va_list ap;

	/* stdout only, so that the verdict and its reason stay in order */
	va_start(ap, fmt);
	printf("%s: FAIL: ", progname);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n%s FAIL\n", verdict);
	exit(1);
}

#define die_errno(what) die("%s: %s", what, strerror(errno))

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* The value every dword at guest physical @gpa holds for @seed. */
static inline uint32_t pattern(uint64_t gpa, uint32_t seed)
{
	return (uint32_t)gpa ^ seed;
}

static void fill_pattern(uint32_t *buf, size_t len, uint64_t file_off,
			 uint32_t seed)
{
	size_t i;

	for (i = 0; i < len / 4; i++)
		buf[i] = pattern(RAM_GPA + file_off + i * 4, seed);
}

static const char *exit_reason_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN:		return "UNKNOWN";
	case KVM_EXIT_EXCEPTION:	return "EXCEPTION";
	case KVM_EXIT_IO:		return "IO";
	case KVM_EXIT_HYPERCALL:	return "HYPERCALL";
	case KVM_EXIT_DEBUG:		return "DEBUG";
	case KVM_EXIT_HLT:		return "HLT";
	case KVM_EXIT_MMIO:		return "MMIO";
	case KVM_EXIT_IRQ_WINDOW_OPEN:	return "IRQ_WINDOW_OPEN";
	case KVM_EXIT_SHUTDOWN:		return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY:	return "FAIL_ENTRY";
	case KVM_EXIT_INTR:		return "INTR";
	case KVM_EXIT_INTERNAL_ERROR:	return "INTERNAL_ERROR";
	default:			return "?";
	}
}

/* Print what the vCPU was doing when it stopped unexpectedly, then die. */
static void die_exit(struct vmm *v, const char *why)
{
	struct kvm_run *run = v->run;
	struct kvm_regs regs;
	uint32_t i;

	printf("%s: unexpected exit %u (%s): %s\n", progname,
	       run->exit_reason, exit_reason_name(run->exit_reason), why);
	switch (run->exit_reason) {
	case KVM_EXIT_FAIL_ENTRY:
		printf("  hardware_entry_failure_reason=0x%llx cpu=%u\n",
		       (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
		       run->fail_entry.cpu);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		printf("  suberror=%u ndata=%u", run->internal.suberror,
		       run->internal.ndata);
		for (i = 0; i < run->internal.ndata && i < 16; i++)
			printf(" data[%u]=0x%llx", i,
			       (unsigned long long)run->internal.data[i]);
		putchar('\n');
		break;
	case KVM_EXIT_IO:
		printf("  io %s port=0x%x size=%u count=%u\n",
		       run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
		       run->io.port, run->io.size, run->io.count);
		break;
	case KVM_EXIT_MMIO:
		printf("  mmio %s gpa=0x%llx len=%u\n",
		       run->mmio.is_write ? "write" : "read",
		       (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		break;
	}
	if (ioctl(v->vcpu_fd, KVM_GET_REGS, &regs) == 0)
		printf("  rip=0x%llx rax=0x%llx rbx=0x%llx rcx=0x%llx rdx=0x%llx rdi=0x%llx rflags=0x%llx\n",
		       regs.rip, regs.rax, regs.rbx, regs.rcx, regs.rdx,
		       regs.rdi, regs.rflags);
	die("vCPU stopped with exit reason %u (%s)", run->exit_reason,
	    exit_reason_name(run->exit_reason));
}

/*
 * Run one guest routine to its HLT.  Return: the 32-bit value the routine
 * reported with outl on PORT_VERIFY, or 0 for write().
 */
static uint32_t run_guest(struct vmm *v, const unsigned char *entry,
			  uint32_t gpa, uint32_t dwords, uint32_t seed,
			  uint16_t done_port, unsigned long *exits)
{
	struct kvm_run *run = v->run;
	struct kvm_regs regs;
	bool reported = false;
	uint32_t result = 0;
	double t0;

	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA + CODE_OFFSET + (entry - guest_code_start);
	regs.rax = gpa;
	regs.rcx = dwords;
	regs.rdx = seed;
	regs.rsp = CODE_GPA + CODE_SIZE;
	regs.rflags = 0x2;	/* reserved bit 1; IF = 0 */
	if (ioctl(v->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		die_errno("KVM_SET_REGS");

	*exits = 0;
	t0 = now_ms();
	timed_out = 0;
	alarm(GUEST_TIMEOUT_SEC);
	for (;;) {
		if (ioctl(v->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR && !timed_out)
				continue;
			if (errno == EINTR)
				die("guest did not reach HLT within %d s",
				    GUEST_TIMEOUT_SEC);
			die_errno("KVM_RUN");
		}
		(*exits)++;
		v->exits++;

		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.direction != KVM_EXIT_IO_OUT ||
			    run->io.port != done_port || run->io.count != 1)
				die_exit(v, "port I/O the routine should not do");
			if (done_port == PORT_VERIFY) {
				if (run->io.size != 4)
					die_exit(v, "verify result is not a dword");
				memcpy(&result,
				       (unsigned char *)run + run->io.data_offset,
				       4);
			}
			reported = true;
			continue;
		case KVM_EXIT_HLT:
			if (!reported)
				die_exit(v, "HLT before the routine reported");
			alarm(0);
			v->guest_ms += now_ms() - t0;
			return result;
		case KVM_EXIT_INTR:
			continue;
		default:
			die_exit(v, "neither port I/O nor HLT");
		}
	}
}

/* One vCPU's share of run_guest_all(): a copy of the vmm with its vcpu. */
struct vcpu_job {
	struct vmm v;
	const unsigned char *entry;
	uint32_t gpa, dwords, seed;
	uint16_t port;
	unsigned long exits;
	uint32_t result;
	pthread_t thread;
};

static void *vcpu_thread(void *arg)
{
	struct vcpu_job *j = arg;

	j->result = run_guest(&j->v, j->entry, j->gpa, j->dwords, j->seed,
			      j->port, &j->exits);
	return NULL;
}

/*
 * run_guest() on all of @v's vCPUs at once, each over its own slice of
 * whole pages (the last one takes the rest), each in a thread with every
 * signal blocked (so KVM_RUN is not interrupted; the timeout is the join's).
 * Return: the sum of what the routines reported.
 */
static uint32_t run_guest_all(struct vmm *v, const unsigned char *entry,
			      uint32_t gpa, uint32_t dwords, uint32_t seed,
			      uint16_t done_port, unsigned long *exits)
{
	struct vcpu_job jobs[MAX_VCPUS];
	uint32_t pages = dwords / DWORDS_PER_PAGE, per, first = 0, sum = 0;
	sigset_t all, old;
	struct timespec deadline;
	double t0;
	int i, n = v->nr_vcpus, err;

	if (n <= 1)
		return run_guest(v, entry, gpa, dwords, seed, done_port, exits);
	per = pages / n;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		struct vcpu_job *j = &jobs[i];

		j->v = *v;
		j->v.vcpu_fd = v->vcpu_fds[i];
		j->v.run = v->runs[i];
		j->entry = entry;
		j->gpa = gpa + first * DWORDS_PER_PAGE * 4;
		j->dwords = i == n - 1 ? dwords - first * DWORDS_PER_PAGE :
					 per * DWORDS_PER_PAGE;
		j->seed = seed;
		j->port = done_port;
		first += per;
		err = pthread_create(&j->thread, NULL, vcpu_thread, j);
		if (err)
			die("pthread_create: %s", strerror(err));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += GUEST_TIMEOUT_SEC;
	*exits = 0;
	for (i = 0; i < n; i++) {
		err = pthread_timedjoin_np(jobs[i].thread, NULL, &deadline);
		if (err == ETIMEDOUT)
			die("vCPU %d did not reach HLT within %d s", i, GUEST_TIMEOUT_SEC);
		if (err)
			die("pthread_join: %s", strerror(err));
		sum += jobs[i].result;
		*exits += jobs[i].exits;
	}
	v->exits += *exits;
	v->guest_ms += now_ms() - t0;
	return sum;
}

static void setup_file(struct vmm *v, const char *path, size_t size)
{
	v->file_fd = open(path, O_RDWR | O_CREAT, 0600);
	if (v->file_fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (ftruncate(v->file_fd, size) < 0)
		die_errno("ftruncate");
	v->ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->file_fd, 0);
	if (v->ram == MAP_FAILED)
		die_errno("mmap of FILE (MAP_SHARED)");
	v->ram_size = size;
}

static void set_region(struct vmm *v, uint32_t slot, uint64_t gpa,
		       uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(v->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		die("KVM_SET_USER_MEMORY_REGION slot %u: %s", slot,
		    strerror(errno));
}

/* Flat 4 GiB segment: base 0, limit 0xffffffff, 32-bit, 4 KiB granular. */
static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->db = 1;
	s->s = 1;
	s->l = 0;
	s->g = 1;
}

static void add_vcpu(struct vmm *v, int id);

static void setup_vm(struct vmm *v)
{
	size_t code_len = guest_code_end - guest_code_start;
	int ret, mmap_size;

	v->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm_fd < 0)
		die_errno("open /dev/kvm");
	ret = ioctl(v->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION)
		die("KVM_GET_API_VERSION returned %d, want %d", ret,
		    KVM_API_VERSION);
	if (ioctl(v->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0)
		die("KVM_CAP_USER_MEMORY missing");

	v->vm_fd = ioctl(v->kvm_fd, KVM_CREATE_VM, 0);
	if (v->vm_fd < 0)
		die_errno("KVM_CREATE_VM");
	/* VMX needs a TSS region below 4 GiB; SVM ignores it. */
	if (ioctl(v->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(v->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0)
		die_errno("KVM_SET_TSS_ADDR");

	v->code = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->code == MAP_FAILED)
		die_errno("mmap of code slot");
	if (CODE_OFFSET + code_len > CODE_SIZE)
		die("guest code does not fit in slot 0");
	memcpy(v->code + CODE_OFFSET, guest_code_start, code_len);

	set_region(v, CODE_SLOT, CODE_GPA, CODE_SIZE, v->code);
	set_region(v, RAM_SLOT, RAM_GPA, v->ram_size, v->ram);

	mmap_size = ioctl(v->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE returned %d", mmap_size);
	v->run_size = mmap_size;
	add_vcpu(v, 0);
	v->nr_vcpus = 1;
}

/* vCPU @id: 32-bit protected mode, flat segments, no paging. */
static void add_vcpu(struct vmm *v, int id)
{
	struct kvm_sregs sregs;

	v->vcpu_fd = ioctl(v->vm_fd, KVM_CREATE_VCPU, id);
	if (v->vcpu_fd < 0)
		die_errno("KVM_CREATE_VCPU");
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->vcpu_fd, 0);
	if (v->run == MAP_FAILED)
		die_errno("mmap of kvm_run");
	v->vcpu_fds[id] = v->vcpu_fd;
	v->runs[id] = v->run;

	if (ioctl(v->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		die_errno("KVM_GET_SREGS");
	flat_seg(&sregs.cs, 0x08, 0xb);	/* code, execute/read, accessed */
	flat_seg(&sregs.ds, 0x10, 0x3);	/* data, read/write, accessed */
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	/* A busy 32-bit TSS keeps VMX's guest-state checks happy. */
	sregs.tr.type = 0xb;
	sregs.tr.present = 1;
	sregs.tr.s = 0;
	sregs.cr0 = (sregs.cr0 | 0x1) & ~0x80000000ULL;	/* PE, no PG */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(v->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		die_errno("KVM_SET_SREGS");
	v->vcpu_fd = v->vcpu_fds[0];
	v->run = v->runs[0];
}

/*
 * Compare @len bytes at file offset @off with @seed's pattern (or with zeros
 * when @zero), through pread() and through the host mapping.
 */
#define HC_PREAD	0x1
#define HC_MMAP		0x2

static void host_check_how(struct vmm *v, size_t off, size_t len, uint32_t seed,
			   bool zero, const char *step, unsigned int how)
{
	uint32_t *want = malloc(IO_CHUNK), *got = malloc(IO_CHUNK);
	size_t pos, n, i;
	ssize_t r;

	if (!want || !got)
		die("out of memory");
	for (pos = off; pos < off + len; pos += n) {
		n = off + len - pos < IO_CHUNK ? off + len - pos : IO_CHUNK;
		if (zero)
			memset(want, 0, n);
		else
			fill_pattern(want, n, pos, seed);

		if (how & HC_PREAD) {
			r = pread(v->file_fd, got, n, pos);
			if (r < 0)
				die("%s: pread at %zu: %s", step, pos,
				    strerror(errno));
			if ((size_t)r != n)
				die("%s: short pread at %zu: %zd of %zu", step,
				    pos, r, n);
			if (memcmp(want, got, n)) {
				for (i = 0; i < n / 4 && want[i] == got[i]; i++)
					;
				die("%s: pread: file offset 0x%zx holds 0x%08x, want 0x%08x",
				    step, pos + i * 4, got[i], want[i]);
			}
		}
		if ((how & HC_MMAP) && memcmp(want, v->ram + pos, n)) {
			const uint32_t *m = (const uint32_t *)(v->ram + pos);

			for (i = 0; i < n / 4 && want[i] == m[i]; i++)
				;
			die("%s: host mapping: file offset 0x%zx holds 0x%08x, want 0x%08x",
			    step, pos + i * 4, m[i], want[i]);
		}
	}
	free(want);
	free(got);
}

static void host_check(struct vmm *v, size_t off, size_t len, uint32_t seed,
		       bool zero, const char *step)
{
	host_check_how(v, off, len, seed, zero, step, HC_PREAD | HC_MMAP);
}

static void host_pwrite(struct vmm *v, uint32_t seed)
{
	uint32_t *buf = malloc(IO_CHUNK);
	size_t pos, n;
	ssize_t r;

	if (!buf)
		die("out of memory");
	for (pos = 0; pos < v->ram_size; pos += n) {
		n = v->ram_size - pos < IO_CHUNK ? v->ram_size - pos : IO_CHUNK;
		fill_pattern(buf, n, pos, seed);
		r = pwrite(v->file_fd, buf, n, pos);
		if (r < 0)
			die("pwrite at %zu: %s", pos, strerror(errno));
		if ((size_t)r != n)
			die("short pwrite at %zu: %zd of %zu", pos, r, n);
	}
	free(buf);
}

static void step_done(struct vmm *v, const char *name, unsigned long exits,
		      double t0)
{
	printf("step %s: OK (kvm_run exits=%lu, %.1f ms, guest %.1f ms)\n",
	       name, exits, now_ms() - t0, v->guest_ms);
	v->guest_ms = 0;
}

/* ---- --share: content-based sharing through KVM --------------------------- */

#define SHARE_SYSFS		"/sys/kernel/esxmm"
#define SHARE_DIR		SHARE_SYSFS "/share"
/* Bit 31 clear: no dword of the common page equals a gpa ^ SEEDn. */
#define SHARE_VALUE		0x2545f491U
#define SHARE_PAGES_TO_SCAN	"10000"
#define SHARE_SLEEP_MS		"0"
#define SHARE_MERGE_TIMEOUT_SEC	120
#define SHARE_SETTLE_SEC	10	/* after 99 %: wait this long for 100 % */
#define SHARE_PROGRESS_MS	2000

/* Dword at byte @off (of any page) of the common page. */
static inline uint32_t common_dword(uint64_t off)
{
	return SHARE_VALUE ^ ((uint32_t)off & 0xffc);
}

static const char *const share_counters[] = {
	"pages_shared", "pages_sharing", "pages_hinted", "hint_hits",
	"hint_stale", "zero_pages", "cow_breaks", "hash_collisions",
	"pages_scanned", "pinned_skips", "frame_bytes",
};
#define NR_SHARE_COUNTERS (sizeof(share_counters) / sizeof(share_counters[0]))
enum { C_SHARED, C_SHARING, C_HINTED, C_HINT_HITS, C_HINT_STALE, C_ZERO,
       C_COW, C_COLL, C_SCANNED, C_PINNED, C_FRAME_BYTES };

struct share_snap {
	unsigned long c[NR_SHARE_COUNTERS];
};

static char share_vmdir[PATH_MAX];
static bool share_saved;
static char saved_pages_to_scan[32], saved_sleep_ms[32];

static int sysfs_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int sysfs_write_str(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return -1;
	n = write(fd, val, len);
	if (n < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static unsigned long sysfs_ulong(const char *dir, const char *name)
{
	char path[PATH_MAX], buf[64], *end;
	unsigned long val;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (sysfs_read_str(path, buf, sizeof(buf)) < 0)
		die("read %s: %s", path, strerror(errno));
	errno = 0;
	val = strtoul(buf, &end, 10);
	if (errno || end == buf || *end)
		die("%s reads '%s', not a count", path, buf);
	return val;
}

static void sysfs_set(const char *dir, const char *name, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (sysfs_write_str(path, val) < 0)
		die("echo %s > %s: %s", val, path, strerror(errno));
}

static void share_snap(struct share_snap *s)
{
	size_t i;

	for (i = 0; i < NR_SHARE_COUNTERS; i++)
		s->c[i] = sysfs_ulong(SHARE_DIR, share_counters[i]);
}

static void share_print_snap(const char *when, const struct share_snap *s)
{
	size_t i;

	printf("share: %s:", when);
	for (i = 0; i < NR_SHARE_COUNTERS; i++)
		printf(" %s=%lu", share_counters[i], s->c[i]);
	putchar('\n');
}

/* atexit: put the scanner back as it was (run=0), also after die(). */
static void share_restore(void)
{
	int bad = 0;

	if (!share_saved)
		return;
	share_saved = false;
	bad |= sysfs_write_str(SHARE_DIR "/run", "0");
	bad |= sysfs_write_str(SHARE_DIR "/pages_to_scan", saved_pages_to_scan);
	bad |= sysfs_write_str(SHARE_DIR "/sleep_millisecs", saved_sleep_ms);
	printf("share: restored run=0 pages_to_scan=%s sleep_millisecs=%s%s\n",
	       saved_pages_to_scan, saved_sleep_ms,
	       bad ? " (a write FAILED)" : "");
}

/* FILE's path below its mount point, as vms/<id>/path shows it. */
static void path_in_mount(const char *file, char *out, size_t outlen)
{
	char real[PATH_MAX], cur[PATH_MAX], parent[PATH_MAX], *slash;
	struct stat st, pst;
	size_t root_len;

	if (!realpath(file, real))
		die("realpath %s: %s", file, strerror(errno));
	if (stat(real, &st) < 0)
		die("stat %s: %s", real, strerror(errno));
	snprintf(cur, sizeof(cur), "%s", real);
	for (;;) {
		snprintf(parent, sizeof(parent), "%s", cur);
		slash = strrchr(parent, '/');
		if (slash == parent)
			parent[1] = '\0';
		else
			*slash = '\0';
		if (stat(parent, &pst) < 0)
			die("stat %s: %s", parent, strerror(errno));
		if (pst.st_dev != st.st_dev)
			break;			/* cur is the mount's root */
		if (!strcmp(parent, "/")) {
			snprintf(cur, sizeof(cur), "/");
			break;
		}
		snprintf(cur, sizeof(cur), "%s", parent);
	}
	root_len = strcmp(cur, "/") ? strlen(cur) : 0;
	if (!real[root_len])
		die("%s is the root of its mount, not a file in it", file);
	snprintf(out, outlen, "%s", real + root_len);
}

/* The vms/<id> whose path reads @rel; exactly one may. */
static void find_vm_dir(const char *rel)
{
	char path[PATH_MAX], buf[PATH_MAX];
	struct dirent *de;
	int found = 0;
	DIR *d = opendir(SHARE_SYSFS "/vms");

	if (!d)
		die("opendir %s/vms: %s (is esxmm.ko loaded?)", SHARE_SYSFS,
		    strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/vms/%s/path", SHARE_SYSFS,
			 de->d_name);
		if (sysfs_read_str(path, buf, sizeof(buf)) < 0 || strcmp(buf, rel))
			continue;
		if (found++)
			die("both %s and %s/vms/%s have path %s (a leftover VM?)",
			    share_vmdir, SHARE_SYSFS, de->d_name, rel);
		snprintf(share_vmdir, sizeof(share_vmdir), "%s/vms/%s",
			 SHARE_SYSFS, de->d_name);
	}
	closedir(d);
	if (!found)
		die("no %s/vms/*/path reads %s (FILE not on esxmm?)", SHARE_SYSFS,
		    rel);
}

static void fill_common(uint32_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len / 4; i++)
		buf[i] = common_dword(i * 4);
}

/*
 * Compare pages [@first, @first + @n) with the guest's @seed pattern (or the
 * common page when @common), through pread() and through the host mapping.
 */
static void share_check(struct vmm *v, size_t first, size_t n, bool common,
			uint32_t seed, const char *step)
{
	uint32_t *want = malloc(IO_CHUNK), *got = malloc(IO_CHUNK);
	size_t off = first * PAGE_SZ, end = (first + n) * PAGE_SZ, pos, len, i;
	const uint32_t *m;
	ssize_t r;

	if (!want || !got)
		die("out of memory");
	for (pos = off; pos < end; pos += len) {
		len = end - pos < IO_CHUNK ? end - pos : IO_CHUNK;
		if (common)
			fill_common(want, len);
		else
			fill_pattern(want, len, pos, seed);
		r = pread(v->file_fd, got, len, pos);
		if (r < 0)
			die("%s: pread at %zu: %s", step, pos, strerror(errno));
		if ((size_t)r != len)
			die("%s: short pread at %zu: %zd of %zu", step, pos, r,
			    len);
		if (memcmp(want, got, len)) {
			for (i = 0; i < len / 4 && want[i] == got[i]; i++)
				;
			die("%s: pread: page %zu offset 0x%zx holds 0x%08x, want 0x%08x (%s)",
			    step, (pos + i * 4) / PAGE_SZ, (pos + i * 4) % PAGE_SZ,
			    got[i], want[i], common ? "common page" : "guest pattern");
		}
		m = (const uint32_t *)(v->ram + pos);
		if (memcmp(want, m, len)) {
			for (i = 0; i < len / 4 && want[i] == m[i]; i++)
				;
			die("%s: host mapping: page %zu offset 0x%zx holds 0x%08x, want 0x%08x (%s)",
			    step, (pos + i * 4) / PAGE_SZ, (pos + i * 4) % PAGE_SZ,
			    m[i], want[i], common ? "common page" : "guest pattern");
		}
	}
	free(want);
	free(got);
}

static void share_pwrite_common(struct vmm *v)
{
	uint32_t *buf = malloc(IO_CHUNK);
	size_t pos, n;
	ssize_t r;

	if (!buf)
		die("out of memory");
	fill_common(buf, IO_CHUNK);	/* IO_CHUNK is a multiple of the page */
	for (pos = 0; pos < v->ram_size; pos += n) {
		n = v->ram_size - pos < IO_CHUNK ? v->ram_size - pos : IO_CHUNK;
		r = pwrite(v->file_fd, buf, n, pos);
		if (r < 0)
			die("pwrite at %zu: %s", pos, strerror(errno));
		if ((size_t)r != n)
			die("short pwrite at %zu: %zd of %zu", pos, r, n);
	}
	free(buf);
}

static unsigned long vm_ulong(const char *name)
{
	return sysfs_ulong(share_vmdir, name);
}

static void share_guest_verify(struct vmm *v, bool common, size_t first,
			       size_t n, uint32_t seed, const char *step,
			       unsigned long *exits)
{
	unsigned long e;
	uint32_t mism;

	mism = run_guest(v, common ? guest_verify_common : guest_verify,
			 RAM_GPA + first * PAGE_SZ, n * DWORDS_PER_PAGE,
			 common ? SHARE_VALUE : seed, PORT_VERIFY, &e);
	*exits += e;
	if (mism)
		die("%s: guest verify of pages %zu..%zu against the %s: %u mismatched dwords, want 0",
		    step, first, first + n - 1,
		    common ? "common page" : "guest pattern", mism);
}

/* Wait until vms/<id>/shared_pages stops changing (a batch may finish a merge). */
static unsigned long share_settled(void)
{
	unsigned long a = vm_ulong("shared_pages"), b;
	int i;

	for (i = 0; i < 50; i++) {
		usleep(200000);
		b = vm_ulong("shared_pages");
		if (a == b)
			return b;
		a = b;
	}
	die("shared_pages still changing 10 s after run=0 (now %lu)", a);
	return a;
}

static int share_main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct vmm v = { 0 };
	struct share_snap s0, s1, s2, s3;
	unsigned long size_mib, pages, half, need, shared, merged, shared_after;
	unsigned long cow, exits, lower;
	size_t base_len = guest_code_end - guest_code_start;
	size_t ext_len = guest_share_code_end - guest_code_end;
	char rel[PATH_MAX], buf[64];
	double t0, t_all, tm, last, t_settle;
	char *end;

	verdict = "KVM_SHARE";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s --share FILE SIZE_MIB [PATH_IN_MOUNT]\n",
			progname);
		return 2;
	}
	errno = 0;
	size_mib = strtoul(argv[3], &end, 0);
	if (errno || *end || !size_mib || size_mib > MAX_SIZE_MIB) {
		fprintf(stderr, "%s: SIZE_MIB must be 1..%lu\n", progname,
			MAX_SIZE_MIB);
		return 2;
	}
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die_errno("sigaction");

	t_all = now_ms();
	setup_file(&v, argv[2], size_mib << 20);
	if (argc == 5)
		snprintf(rel, sizeof(rel), "%s", argv[4]);
	else
		path_in_mount(argv[2], rel, sizeof(rel));
	find_vm_dir(rel);
	setup_vm(&v);
	if (CODE_OFFSET + base_len + ext_len > CODE_SIZE)
		die("guest code does not fit in slot 0");
	memcpy(v.code + CODE_OFFSET + base_len, guest_code_end, ext_len);
	pages = v.ram_size / PAGE_SZ;
	half = pages / 2;
	if (!half)
		die("SIZE_MIB gives %lu pages, need at least 2", pages);
	need = (pages * 99 + 99) / 100;
	printf("kvm_share: file=%s (%s) vm=%s size=%lu MiB pages=%lu share_group=%lu ram_gpa=0x%lx common page=0x%08x^offset\n",
	       argv[2], rel, share_vmdir, size_mib, pages,
	       vm_ulong("share_group"), RAM_GPA, SHARE_VALUE);

	/* a: the same page everywhere, written through the file */
	t0 = now_ms();
	share_pwrite_common(&v);
	share_check(&v, 0, pages, true, 0, "a");
	if (vm_ulong("size_pages") != pages || vm_ulong("resident_pages") != pages)
		die("a: size_pages=%lu resident_pages=%lu, want %lu and %lu",
		    vm_ulong("size_pages"), vm_ulong("resident_pages"), pages,
		    pages);
	if (vm_ulong("shared_pages"))
		die("a: shared_pages=%lu before the scanner ran, want 0",
		    vm_ulong("shared_pages"));
	step_done(&v, "a host pwrite common page, pread+mmap check", 0, t0);

	/* b: the guest reads it all: KVM now maps the private pages */
	t0 = now_ms();
	exits = 0;
	share_guest_verify(&v, true, 0, pages, 0, "b", &exits);
	step_done(&v, "b guest verify_common all pages, 0 mismatches", exits, t0);

	/* c: merge; every merge zaps the host's and KVM's mappings first */
	t0 = now_ms();
	if (sysfs_read_str(SHARE_DIR "/pages_to_scan", saved_pages_to_scan,
			   sizeof(saved_pages_to_scan)) < 0 ||
	    sysfs_read_str(SHARE_DIR "/sleep_millisecs", saved_sleep_ms,
			   sizeof(saved_sleep_ms)) < 0 ||
	    sysfs_read_str(SHARE_DIR "/run", buf, sizeof(buf)) < 0)
		die("read %s tunables: %s", SHARE_DIR, strerror(errno));
	share_saved = true;
	if (atexit(share_restore))
		die("atexit failed");
	printf("share: saved run=%s pages_to_scan=%s sleep_millisecs=%s\n", buf,
	       saved_pages_to_scan, saved_sleep_ms);
	share_snap(&s0);
	share_print_snap("before", &s0);
	sysfs_set(SHARE_DIR, "pages_to_scan", SHARE_PAGES_TO_SCAN);
	sysfs_set(SHARE_DIR, "sleep_millisecs", SHARE_SLEEP_MS);
	sysfs_set(SHARE_DIR, "run", "1");
	tm = now_ms();
	last = -SHARE_PROGRESS_MS;
	for (;;) {
		double el = now_ms() - tm;

		shared = vm_ulong("shared_pages");
		if (shared >= need || el - last >= SHARE_PROGRESS_MS ||
		    el >= SHARE_MERGE_TIMEOUT_SEC * 1e3) {
			printf("share: t=%.1fs shared_pages=%lu/%lu (need %lu) pages_scanned=+%lu pages_shared=%lu pages_sharing=%lu pinned_skips=+%lu\n",
			       el / 1e3, shared, pages, need,
			       sysfs_ulong(SHARE_DIR, "pages_scanned") - s0.c[C_SCANNED],
			       sysfs_ulong(SHARE_DIR, "pages_shared"),
			       sysfs_ulong(SHARE_DIR, "pages_sharing"),
			       sysfs_ulong(SHARE_DIR, "pinned_skips") - s0.c[C_PINNED]);
			last = el;
		}
		if (shared >= need)
			break;
		if (el >= SHARE_MERGE_TIMEOUT_SEC * 1e3)
			die("c: shared_pages=%lu of %lu after %d s, want >= %lu (99 %%)",
			    shared, pages, SHARE_MERGE_TIMEOUT_SEC, need);
		usleep(100000);
	}
	printf("share: 99 %% merged after %.1f s\n", (now_ms() - tm) / 1e3);
	/* The last 1 %: a batch or two more; not required. */
	t_settle = now_ms();
	while (shared < pages && now_ms() - t_settle < SHARE_SETTLE_SEC * 1e3) {
		usleep(100000);
		shared = vm_ulong("shared_pages");
	}
	sysfs_set(SHARE_DIR, "run", "0");
	merged = share_settled();
	share_snap(&s1);
	share_print_snap("merged, run=0", &s1);
	printf("share: merged=%lu of %lu pages after %.1f s%s\n", merged, pages,
	       (now_ms() - tm) / 1e3,
	       merged == pages ? "" : " (not all: the rest stays private)");
	if (merged < need)
		die("c: shared_pages=%lu after run=0, want >= %lu", merged, need);
	if (merged > pages)
		die("c: shared_pages=%lu > size %lu", merged, pages);
	if (s1.c[C_SHARED] <= s0.c[C_SHARED])
		die("c: pages_shared=%lu did not grow (was %lu) though %lu pages are shared",
		    s1.c[C_SHARED], s0.c[C_SHARED], merged);
	if (s1.c[C_SHARED] - s0.c[C_SHARED] != 1)
		printf("share: note: %lu new shared frames for one page content, expected 1\n",
		       s1.c[C_SHARED] - s0.c[C_SHARED]);
	if (s1.c[C_COW] != s0.c[C_COW])
		die("c: cow_breaks moved %lu -> %lu while nobody wrote",
		    s0.c[C_COW], s1.c[C_COW]);
	if (vm_ulong("resident_pages") != pages)
		die("c: resident_pages=%lu, want %lu", vm_ulong("resident_pages"),
		    pages);
	share_check(&v, 0, pages, true, 0, "c");
	step_done(&v, "c scanner merged, run=0, pread+mmap check", 0, t0);

	/* d: guest writes the first half: a KVM write fault on each shared page */
	t0 = now_ms();
	exits = 0;
	run_guest(&v, guest_write, RAM_GPA, half * DWORDS_PER_PAGE, SEED1,
		  PORT_WRITE_DONE, &exits);
	share_guest_verify(&v, false, 0, half, SEED1, "d", &exits);
	share_check(&v, 0, half, false, SEED1, "d first half");
	share_check(&v, half, pages - half, true, 0, "d second half");
	share_snap(&s2);
	share_print_snap("after guest write of the first half", &s2);
	shared_after = vm_ulong("shared_pages");
	cow = s2.c[C_COW] - s1.c[C_COW];
	/* pages of the first half that were shared: all but the unmerged ones */
	lower = half > pages - merged ? half - (pages - merged) : 0;
	printf("share: d: wrote %lu pages, cow_breaks +%lu, shared_pages %lu -> %lu\n",
	       half, cow, merged, shared_after);
	if (cow < lower)
		die("d: cow_breaks rose by %lu, want >= %lu (the guest wrote %lu pages, %lu of them unmerged at most)",
		    cow, lower, half, pages - merged);
	if (merged - shared_after != cow)
		die("d: shared_pages fell by %lu (%lu -> %lu), cow_breaks rose by %lu: each COW break must unshare one PPN",
		    merged - shared_after, merged, shared_after, cow);
	if (shared_after > pages - half)
		die("d: shared_pages=%lu, but only the %lu pages of the second half can still be shared",
		    shared_after, pages - half);
	if (vm_ulong("resident_pages") != pages)
		die("d: resident_pages=%lu, want %lu", vm_ulong("resident_pages"),
		    pages);
	step_done(&v, "d guest write first half, guest+pread+mmap check, COW counted", exits, t0);

	/* e: the guest reads the second half, still shared */
	t0 = now_ms();
	exits = 0;
	share_guest_verify(&v, true, half, pages - half, 0, "e", &exits);
	if (vm_ulong("shared_pages") != shared_after)
		die("e: shared_pages %lu -> %lu from guest reads",
		    shared_after, vm_ulong("shared_pages"));
	step_done(&v, "e guest verify_common second half, 0 mismatches", exits, t0);

	/* f: unshare everything */
	t0 = now_ms();
	sysfs_set(SHARE_DIR, "run", "2");
	if (vm_ulong("shared_pages"))
		die("f: shared_pages=%lu after run=2, want 0",
		    vm_ulong("shared_pages"));
	share_snap(&s3);
	share_print_snap("after run=2", &s3);
	if (s3.c[C_SHARED] > s0.c[C_SHARED] || s3.c[C_SHARING] > s0.c[C_SHARING])
		die("f: pages_shared=%lu pages_sharing=%lu after run=2, were %lu and %lu before the merge",
		    s3.c[C_SHARED], s3.c[C_SHARING], s0.c[C_SHARED],
		    s0.c[C_SHARING]);
	if (vm_ulong("resident_pages") != pages)
		die("f: resident_pages=%lu, want %lu", vm_ulong("resident_pages"),
		    pages);
	share_check(&v, 0, half, false, SEED1, "f first half");
	share_check(&v, half, pages - half, true, 0, "f second half");
	exits = 0;
	share_guest_verify(&v, false, 0, half, SEED1, "f", &exits);
	share_guest_verify(&v, true, half, pages - half, 0, "f", &exits);
	step_done(&v, "f run=2 unshare all, shared_pages 0, guest+pread+mmap check", exits, t0);

	/* g: every page is private again: guest writes all of it, host sees it */
	t0 = now_ms();
	run_guest(&v, guest_write, RAM_GPA, pages * DWORDS_PER_PAGE, SEED2,
		  PORT_WRITE_DONE, &exits);
	share_check(&v, 0, pages, false, SEED2, "g");
	if (vm_ulong("shared_pages"))
		die("g: shared_pages=%lu, want 0", vm_ulong("shared_pages"));
	step_done(&v, "g guest write seed2 all pages, pread+mmap check", exits, t0);

	share_restore();
	printf("kvm_share: total kvm_run exits=%lu, %.1f ms\n", v.exits,
	       now_ms() - t_all);
	printf("KVM_SHARE OK pages=%lu merged=%lu cow=%lu\n", pages, merged, cow);
	return 0;
}

/* ---- --touch: a known working set, for the sampler ----------------------- */

#define TOUCH_MAX_PHASES	64
#define TOUCH_PROGRESS_MS	1000.0

struct touch_phase {
	unsigned int percent;
	double secs;
};

static volatile sig_atomic_t touch_stop;

static void on_usr1(int sig)
{
	(void)sig;
	touch_stop = 1;
}

static double epoch_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "W:SECS,W:SECS,...": return the number of phases, or -1. */
static int touch_parse(const char *sched, struct touch_phase *ph, int max)
{
	const char *p = sched;
	char *end;
	int n = 0;

	while (*p) {
		unsigned long w;
		double secs;

		if (n == max)
			return -1;
		errno = 0;
		w = strtoul(p, &end, 10);
		if (errno || end == p || *end != ':' || w > 100)
			return -1;
		p = end + 1;
		secs = strtod(p, &end);
		if (end == p || !(secs > 0) || secs > 86400)
			return -1;
		ph[n].percent = w;
		ph[n].secs = secs;
		n++;
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	return n;
}

static int touch_main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct sigaction su = { .sa_handler = on_usr1 };
	struct touch_phase ph[TOUCH_MAX_PHASES];
	struct vmm v = { 0 };
	size_t base_len = guest_code_end - guest_code_start;
	size_t ext_len = guest_touch_code_end - guest_code_end;
	unsigned long size_mib, pages, exits, total_passes = 0;
	uint32_t mism;
	double t_all, t0;
	char *end;
	int nph, i;

	verdict = "KVM_TOUCH";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 5) {
		fprintf(stderr, "usage: %s --touch FILE SIZE_MIB W:SECS[,W:SECS...]\n",
			progname);
		return 2;
	}
	errno = 0;
	size_mib = strtoul(argv[3], &end, 0);
	if (errno || *end || !size_mib || size_mib > MAX_SIZE_MIB) {
		fprintf(stderr, "%s: SIZE_MIB must be 1..%lu\n", progname,
			MAX_SIZE_MIB);
		return 2;
	}
	nph = touch_parse(argv[4], ph, TOUCH_MAX_PHASES);
	if (nph <= 0) {
		fprintf(stderr, "%s: SCHEDULE must be W:SECS[,W:SECS...] (W 0..100, SECS > 0, at most %d phases)\n",
			progname, TOUCH_MAX_PHASES);
		return 2;
	}
	if (sigaction(SIGALRM, &sa, NULL) < 0 || sigaction(SIGUSR1, &su, NULL) < 0)
		die_errno("sigaction");

	t_all = now_ms();
	setup_file(&v, argv[2], size_mib << 20);
	setup_vm(&v);
	if (CODE_OFFSET + base_len + ext_len > CODE_SIZE)
		die("guest code does not fit in slot 0");
	memcpy(v.code + CODE_OFFSET + base_len, guest_code_end, ext_len);
	pages = v.ram_size / PAGE_SZ;
	printf("kvm_touch: file=%s size=%lu MiB pages=%lu ram_gpa=0x%lx schedule=%s pid=%d\n",
	       argv[2], size_mib, pages, RAM_GPA, argv[4], (int)getpid());

	/* Fill: every page resident, holding gpa ^ SEED1 */
	t0 = now_ms();
	printf("fill start t=%.3f epoch=%.3f mono=%.3f\n", (t0 - t_all) / 1e3,
	       epoch_s(), t0 / 1e3);
	run_guest(&v, guest_write, RAM_GPA, v.ram_size / 4, SEED1,
		  PORT_WRITE_DONE, &exits);
	printf("fill end t=%.3f epoch=%.3f pages=%lu exits=%lu ms=%.1f\n",
	       (now_ms() - t_all) / 1e3, epoch_s(), pages, exits,
	       now_ms() - t0);

	for (i = 0; i < nph && !touch_stop; i++) {
		unsigned long n = (pages * ph[i].percent + 50) / 100;
		unsigned long passes = 0, passes_sec = 0;
		double start = now_ms(), stop = start + ph[i].secs * 1e3;
		double last = start, max_ms = 0, max_sec = 0, p0, d;

		printf("phase W=%u start t=%.3f epoch=%.3f pages=%lu secs=%.3f mono=%.3f\n",
		       ph[i].percent, (start - t_all) / 1e3, epoch_s(), n,
		       ph[i].secs, start / 1e3);
		while (!touch_stop && now_ms() < stop) {
			if (n) {
				p0 = now_ms();
				mism = run_guest(&v, guest_touch, RAM_GPA, n,
						 SEED1, PORT_VERIFY, &exits);
				if (mism)
					die("phase %d (W=%u): touch pass %lu found %u pages whose first dword is not gpa ^ seed",
					    i, ph[i].percent, passes, mism);
				d = now_ms() - p0;
				passes++;
				passes_sec++;
				if (d > max_ms)
					max_ms = d;
				if (d > max_sec)
					max_sec = d;
			} else {
				d = stop - now_ms();
				usleep(d > 50 ? 50000 : (d > 0 ? d * 1e3 : 0));
			}
			if (now_ms() - last >= TOUCH_PROGRESS_MS) {
				printf("phase W=%u t=%.3f epoch=%.3f passes=%lu max_pass_ms=%.1f\n",
				       ph[i].percent, (now_ms() - t_all) / 1e3,
				       epoch_s(), passes_sec, max_sec);
				last = now_ms();
				passes_sec = 0;
				max_sec = 0;
			}
		}
		total_passes += passes;
		printf("phase W=%u end t=%.3f epoch=%.3f passes=%lu max_pass_ms=%.1f mono=%.3f%s\n",
		       ph[i].percent, (now_ms() - t_all) / 1e3, epoch_s(), passes,
		       max_ms, now_ms() / 1e3, touch_stop ? " (SIGUSR1)" : "");
	}

	/* Sampling must not have changed a byte */
	t0 = now_ms();
	mism = run_guest(&v, guest_verify, RAM_GPA, v.ram_size / 4, SEED1,
			 PORT_VERIFY, &exits);
	if (mism)
		die("final guest verify: %u of %lu dwords differ from gpa ^ seed",
		    mism, v.ram_size / 4);
	host_check(&v, 0, v.ram_size, SEED1, false, "final");
	printf("verify end t=%.3f epoch=%.3f ms=%.1f: guest and host see every dword intact\n",
	       (now_ms() - t_all) / 1e3, epoch_s(), now_ms() - t0);
	printf("kvm_touch: total kvm_run exits=%lu, %.1f ms\n", v.exits,
	       now_ms() - t_all);
	printf("KVM_TOUCH OK pages=%lu passes=%lu\n", pages, total_passes);
	return 0;
}

/* ---- --swap: a guest bigger than the pool, through esxmm's swap ---------- */

#define SWAP_SYSFS		"/sys/kernel/esxmm/swap"

static const unsigned char *swap_ram;	/* for the SIGBUS handler */
static size_t swap_ram_size;

/* Pass @pass's seed; bit 31 set, so that gpa ^ seed is never 0. */
static uint32_t swap_seed(unsigned long pass)
{
	return (SEED1 ^ (uint32_t)(pass * 0x2545f491UL)) | 0x80000000U;
}

/* A swap counter, or -1 where there is none (no esxmm, tmpfs mode). */
static long swap_counter(const char *name)
{
	char path[PATH_MAX], buf[64], *end;
	long val;

	snprintf(path, sizeof(path), "%s/%s", SWAP_SYSFS, name);
	if (sysfs_read_str(path, buf, sizeof(buf)) < 0)
		return -1;
	val = strtol(buf, &end, 10);
	return end == buf ? -1 : val;
}

/* A host access through the mapping got SIGBUS: say where, then die of it. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	const unsigned char *a = si->si_addr;
	char msg[160];
	int n;

	(void)uc;
	if (a >= swap_ram && a < swap_ram + swap_ram_size)
		n = snprintf(msg, sizeof(msg),
			     "%s: SIGBUS on the host mapping at file offset 0x%zx (page %zu)\nKVM_SWAP FAIL\n",
			     progname, (size_t)(a - swap_ram),
			     (size_t)(a - swap_ram) / PAGE_SZ);
	else
		n = snprintf(msg, sizeof(msg), "%s: SIGBUS at %p\nKVM_SWAP FAIL\n",
			     progname, si->si_addr);
	if (n > 0 && write(1, msg, n) < 0)
		n = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

static void swap_usage(void)
{
	fprintf(stderr,
		"usage: %s --swap FILE SIZE_MIB PASSES [--seed N] [--check guest,pread,mmap] [--corrupt OFFSET] [--written PAGES] [--wait usr1] [--vcpus N]\n",
		progname);
	exit(2);
}

static int swap_main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct sigaction sb = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	const char *check = "guest,pread,mmap", *c;
	unsigned long size_mib, passes, pass, seed_pass = 0, exits;
	unsigned long written = 0, nr_vcpus = 1;
	long out0, in0, out1, in1, corrupt = -1;
	bool wait_sig = false;
	sigset_t usr1, old;
	struct vmm v = { 0 };
	uint32_t seed, mism, dwords;
	double t_all, t0, tw, tv;
	char *end;
	int i;

	verdict = "KVM_SWAP";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 5)
		swap_usage();
	errno = 0;
	size_mib = strtoul(argv[3], &end, 0);
	if (errno || *end || !size_mib || size_mib > MAX_SIZE_MIB)
		swap_usage();
	passes = strtoul(argv[4], &end, 0);
	if (errno || *end || passes > 1000000)
		swap_usage();
	for (i = 5; i < argc; i++) {
		if (i + 1 == argc)
			swap_usage();
		end = "";
		if (!strcmp(argv[i], "--seed"))
			seed_pass = strtoul(argv[++i], &end, 0);
		else if (!strcmp(argv[i], "--check"))
			check = argv[++i];
		else if (!strcmp(argv[i], "--corrupt"))
			corrupt = strtol(argv[++i], &end, 0);
		else if (!strcmp(argv[i], "--written"))
			written = strtoul(argv[++i], &end, 0);
		else if (!strcmp(argv[i], "--wait"))
			wait_sig = !strcmp(argv[++i], "usr1");
		else if (!strcmp(argv[i], "--vcpus"))
			nr_vcpus = strtoul(argv[++i], &end, 0);
		else
			swap_usage();
		if (*end)
			swap_usage();
	}
	if (corrupt >= (long)(size_mib << 20) || written > size_mib << 8 ||
	    (written && passes) || !nr_vcpus || nr_vcpus > MAX_VCPUS ||
	    nr_vcpus > size_mib << 8)
		swap_usage();
	if (!written)
		written = size_mib << 8;
	if (!seed_pass)
		seed_pass = passes ? passes : 1;
	if (passes && seed_pass != passes)
		swap_usage();
	if (sigaction(SIGALRM, &sa, NULL) < 0 || sigaction(SIGBUS, &sb, NULL) < 0)
		die_errno("sigaction");

	t_all = now_ms();
	setup_file(&v, argv[2], size_mib << 20);
	setup_vm(&v);
	for (i = 1; i < (int)nr_vcpus; i++)
		add_vcpu(&v, i);
	v.nr_vcpus = nr_vcpus;
	swap_ram = v.ram;
	swap_ram_size = v.ram_size;
	dwords = v.ram_size / 4;
	printf("kvm_swap: file=%s size=%lu MiB pages=%lu passes=%lu check=%s vcpus=%lu pid=%d\n",
	       argv[2], size_mib, v.ram_size / PAGE_SZ, passes, check,
	       nr_vcpus, (int)getpid());
	if (wait_sig) {
		/* Mapped (admitted) and ready: go on at SIGUSR1. */
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		if (sigprocmask(SIG_BLOCK, &usr1, &old) < 0)
			die_errno("sigprocmask");
		printf("kvm_swap: ready, waiting for SIGUSR1\n");
		if (sigwaitinfo(&usr1, NULL) < 0)
			die_errno("sigwaitinfo");
		sigprocmask(SIG_SETMASK, &old, NULL);
		printf("kvm_swap: SIGUSR1, starting\n");
	}

	/* Each pass: the guest writes all of it, then verifies all of it. */
	for (pass = 1; pass <= passes; pass++) {
		seed = swap_seed(pass);
		out0 = swap_counter("pages_swapped_out");
		in0 = swap_counter("pages_swapped_in");
		t0 = now_ms();
		run_guest_all(&v, guest_write, RAM_GPA, dwords, seed,
			  PORT_WRITE_DONE, &exits);
		tw = now_ms();
		mism = run_guest_all(&v, guest_verify, RAM_GPA, dwords, seed,
				 PORT_VERIFY, &exits);
		tv = now_ms();
		out1 = swap_counter("pages_swapped_out");
		in1 = swap_counter("pages_swapped_in");
		printf("pass %lu: seed=0x%08x write %.0f ms, verify %.0f ms, swapped out +%ld in +%ld, mismatches %u\n",
		       pass, seed, tw - t0, tv - tw, out1 - out0, in1 - in0,
		       mism);
		if (mism)
			die("pass %lu: guest verify: %u of %u dwords differ from gpa ^ seed",
			    pass, mism, dwords);
	}

	/* A negative control: one byte changed behind the guest's back. */
	seed = swap_seed(seed_pass);
	if (corrupt >= 0) {
		unsigned char b;

		if (pread(v.file_fd, &b, 1, corrupt) != 1)
			die("corrupt: pread at %ld: %s", corrupt, strerror(errno));
		b ^= 0x40;
		if (pwrite(v.file_fd, &b, 1, corrupt) != 1)
			die("corrupt: pwrite at %ld: %s", corrupt, strerror(errno));
		printf("kvm_swap: corrupted the byte at file offset 0x%lx (page %ld)\n",
		       corrupt, corrupt / (long)PAGE_SZ);
	}

	/* The final checks, in the order asked for. */
	if (!strcmp(check, "none"))
		check = "";
	for (c = check; *c; c += *c == ',') {
		size_t len = strcspn(c, ",");

		t0 = now_ms();
		out0 = swap_counter("pages_swapped_out");
		in0 = swap_counter("pages_swapped_in");
		if (len == 5 && !strncmp(c, "guest", 5)) {
			mism = run_guest_all(&v, guest_verify, RAM_GPA,
					 written * DWORDS_PER_PAGE, seed,
					 PORT_VERIFY, &exits);
			if (mism)
				die("final guest verify: %u of %lu dwords differ from gpa ^ seed",
				    mism, written * DWORDS_PER_PAGE);
		} else if (len == 5 && !strncmp(c, "pread", 5)) {
			host_check_how(&v, 0, written * PAGE_SZ, seed, false,
				       "final", HC_PREAD);
			host_check_how(&v, written * PAGE_SZ,
				       v.ram_size - written * PAGE_SZ, 0, true,
				       "final (zeros)", HC_PREAD);
		} else if (len == 4 && !strncmp(c, "mmap", 4)) {
			host_check_how(&v, 0, written * PAGE_SZ, seed, false,
				       "final", HC_MMAP);
			host_check_how(&v, written * PAGE_SZ,
				       v.ram_size - written * PAGE_SZ, 0, true,
				       "final (zeros)", HC_MMAP);
		} else {
			die("--check: unknown check '%.*s'", (int)len, c);
		}
		printf("check %.*s: every byte right (%.0f ms, swapped out +%ld in +%ld)\n",
		       (int)len, c, now_ms() - t0,
		       swap_counter("pages_swapped_out") - out0,
		       swap_counter("pages_swapped_in") - in0);
		c += len;
	}
	printf("kvm_swap: total kvm_run exits=%lu, %.1f ms\n", v.exits,
	       now_ms() - t_all);
	printf("KVM_SWAP OK pages=%lu passes=%lu\n", v.ram_size / PAGE_SZ,
	       passes);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct vmm v = { 0 };
	unsigned long size_mib, pages, hole_pages, hole_first, exits, exits2;
	uint32_t dwords, mism, hole_dwords;
	size_t hole_off, hole_len;
	double t0, t_all;
	char *end;

	if (argc > 0 && argv[0])
		progname = argv[0];
	if (argc >= 2 && !strcmp(argv[1], "--share"))
		return share_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "--touch"))
		return touch_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "--swap"))
		return swap_main(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3) {
		fprintf(stderr, "usage: %s FILE SIZE_MIB\n", progname);
		return 2;
	}
	errno = 0;
	size_mib = strtoul(argv[2], &end, 0);
	if (errno || *end || !size_mib || size_mib > MAX_SIZE_MIB) {
		fprintf(stderr, "%s: SIZE_MIB must be 1..%lu\n", progname,
			MAX_SIZE_MIB);
		return 2;
	}
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die_errno("sigaction");

	t_all = now_ms();
	setup_file(&v, argv[1], size_mib << 20);
	setup_vm(&v);
	pages = v.ram_size / PAGE_SZ;
	dwords = v.ram_size / 4;
	/* K pages in the middle, K = pages / 4 capped to 64, at least 1 */
	hole_pages = pages / 4 < 64 ? pages / 4 : 64;
	if (!hole_pages)
		hole_pages = 1;
	hole_first = pages / 2 - hole_pages / 2;
	hole_off = hole_first * PAGE_SZ;
	hole_len = hole_pages * PAGE_SZ;
	hole_dwords = hole_pages * DWORDS_PER_PAGE;
	printf("kvm_vmm: file=%s size=%lu MiB pages=%lu ram_gpa=0x%lx code=%zu bytes\n",
	       argv[1], size_mib, pages, RAM_GPA,
	       (size_t)(guest_code_end - guest_code_start));

	/* a: guest writes, host sees it through pread and its mapping */
	t0 = now_ms();
	run_guest(&v, guest_write, RAM_GPA, dwords, SEED1, PORT_WRITE_DONE,
		  &exits);
	host_check(&v, 0, v.ram_size, SEED1, false, "a");
	step_done(&v, "a guest write seed1, host pread+mmap check", exits, t0);

	/* b: host writes through the file, guest sees it */
	t0 = now_ms();
	host_pwrite(&v, SEED2);
	mism = run_guest(&v, guest_verify, RAM_GPA, dwords, SEED2,
			 PORT_VERIFY, &exits);
	if (mism)
		die("b: guest verify(seed2) after host pwrite: %u mismatched dwords, want 0",
		    mism);
	step_done(&v, "b host pwrite seed2, guest verify 0 mismatches", exits, t0);

	/* c: punch a hole; the zap must reach KVM through its MMU notifier */
	t0 = now_ms();
	if (fallocate(v.file_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      hole_off, hole_len) < 0)
		die("c: fallocate(PUNCH_HOLE) of pages %lu..%lu: %s",
		    hole_first, hole_first + hole_pages - 1, strerror(errno));
	mism = run_guest(&v, guest_verify, RAM_GPA, dwords, SEED2,
			 PORT_VERIFY, &exits);
	if (mism != hole_dwords)
		die("c: guest verify(seed2) after punching %lu pages: %u mismatched dwords, want %u (%s)",
		    hole_pages, mism, hole_dwords,
		    mism < hole_dwords ? "guest still sees freed pages: stale KVM mapping" :
		    "pages outside the hole changed");
	/* ... and all of them inside the hole */
	mism = run_guest(&v, guest_verify, RAM_GPA + hole_off, hole_dwords,
			 SEED2, PORT_VERIFY, &exits2);
	exits += exits2;
	if (mism != hole_dwords)
		die("c: guest verify(seed2) of the hole alone: %u mismatched dwords, want %u",
		    mism, hole_dwords);
	host_check(&v, hole_off, hole_len, 0, true, "c");
	printf("step c: punched %lu pages at page %lu, guest saw %u mismatched dwords\n",
	       hole_pages, hole_first, hole_dwords);
	step_done(&v, "c punch hole, guest sees zeroed pages", exits, t0);

	/* d: guest rewrites everything (refaulting the hole), host checks */
	t0 = now_ms();
	run_guest(&v, guest_write, RAM_GPA, dwords, SEED3, PORT_WRITE_DONE,
		  &exits);
	host_check(&v, 0, v.ram_size, SEED3, false, "d");
	step_done(&v, "d guest write seed3, host pread+mmap check", exits, t0);

	printf("kvm_vmm: total kvm_run exits=%lu, %.1f ms\n", v.exits,
	       now_ms() - t_all);
	printf("KVM_VMM OK pages=%lu\n", pages);
	return 0;
}
