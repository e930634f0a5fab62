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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
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
	".code64\n"
	".popsection\n");

extern const unsigned char guest_code_start[], guest_code_end[];
extern const unsigned char guest_write[], guest_verify[];

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
};

static const char *progname = "kvm_vmm";
static volatile sig_atomic_t timed_out;

static void die(const char *fmt, ...)
{
	va_list ap;

	/* stdout only, so that the verdict and its reason stay in order */
	va_start(ap, fmt);
	printf("%s: FAIL: ", progname);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\nKVM_VMM FAIL\n");
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

static void setup_vm(struct vmm *v)
{
	struct kvm_sregs sregs;
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

	v->vcpu_fd = ioctl(v->vm_fd, KVM_CREATE_VCPU, 0);
	if (v->vcpu_fd < 0)
		die_errno("KVM_CREATE_VCPU");
	mmap_size = ioctl(v->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE returned %d", mmap_size);
	v->run_size = mmap_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->vcpu_fd, 0);
	if (v->run == MAP_FAILED)
		die_errno("mmap of kvm_run");

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
}

/*
 * Compare @len bytes at file offset @off with @seed's pattern (or with zeros
 * when @zero), through pread() and through the host mapping.
 */
static void host_check(struct vmm *v, size_t off, size_t len, uint32_t seed,
		       bool zero, const char *step)
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

		r = pread(v->file_fd, got, n, pos);
		if (r < 0)
			die("%s: pread at %zu: %s", step, pos, strerror(errno));
		if ((size_t)r != n)
			die("%s: short pread at %zu: %zd of %zu", step, pos,
			    r, n);
		if (memcmp(want, got, n)) {
			for (i = 0; i < n / 4 && want[i] == got[i]; i++)
				;
			die("%s: pread: file offset 0x%zx holds 0x%08x, want 0x%08x",
			    step, pos + i * 4, got[i], want[i]);
		}
		if (memcmp(want, v->ram + pos, n)) {
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
