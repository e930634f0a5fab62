// SPDX-License-Identifier: GPL-2.0
/*
 * fsops: the esxmm filesystem's answers to what a VMM or an administrator
 * does, checked syscall by syscall inside the test host. Every case says
 * what it expects (an errno, bytes, a sysfs count) and fails loudly
 * otherwise; contents are compared byte for byte.
 *
 * Usage: fsops MOUNTPOINT    (an empty esxmm mount; /sys/kernel/esxmm present)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "esxmm_sysfs.h"

static const char *mnt;
static int failures, checks;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void die(const char *what)
{
	printf("not ok - %s: %s\n", what, strerror(errno));
	exit(1);
}

static char *path(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", mnt, name);
	return buf[i];
}

static uint8_t pat(long off, unsigned int seed)
{
	uint32_t x = (uint32_t)off * 2654435761u ^ seed;

	return (uint8_t)(x >> 13 ^ x);
}

static void fill(uint8_t *b, long off, long n, unsigned int seed)
{
	long i;

	for (i = 0; i < n; i++)
		b[i] = pat(off + i, seed);
}

/* First offset in [off, off+n) whose byte differs, or -1. */
static long cmp_pat(const uint8_t *b, long off, long n, unsigned int seed)
{
	long i;

	for (i = 0; i < n; i++)
		if (b[i] != pat(off + i, seed))
			return off + i;
	return -1;
}

static int is_zero(const uint8_t *b, long n)
{
	long i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static int mkfile(const char *name, long size)
{
	int fd = open(path(name), O_RDWR | O_CREAT | O_EXCL, 0600);

	if (fd < 0)
		die(name);
	if (ftruncate(fd, size))
		die("ftruncate");
	return fd;
}

static void test_create_and_size(void)
{
	int fd = mkfile("a", 16 * PG), fd2;
	struct stat st;

	check(vm_dir("/a") != NULL, "create: vms/<id> appears with path /a");
	check(vm_long("/a", "size_pages") == 16, "ftruncate: size_pages = 16");
	check(vm_long("/a", "resident_pages") == 0, "nothing resident before a touch");
	fd2 = open(path("a"), O_RDWR | O_CREAT | O_EXCL, 0600);
	check(fd2 < 0 && errno == EEXIST, "O_CREAT|O_EXCL on an existing file: EEXIST");
	check(ftruncate(fd, 16 * PG + 100) < 0 && errno == EINVAL,
	      "unaligned size: EINVAL");
	check(ftruncate(fd, 32 * PG) == 0 && vm_long("/a", "size_pages") == 32, "grow to 32 pages");
	check(fstat(fd, &st) == 0 && st.st_size == 32 * PG, "st_size follows");
	check(ftruncate(fd, 16 * PG) == 0, "shrink an unmapped file");
	close(fd);
}

static void test_rw(void)
{
	int fd = open(path("a"), O_RDWR);
	uint8_t *w = malloc(16 * PG), *r = malloc(16 * PG);
	long before = sys_read_long(SYS "/allocated_pages");
	void *bad;
	ssize_t n;

	if (fd < 0 || !w || !r)
		die("rw setup");
	memset(r, 0xff, 16 * PG);
	n = pread(fd, r, 16 * PG, 0);
	check(n == 16 * PG && is_zero(r, 16 * PG), "pread of a hole: zeros, no allocation");
	check(vm_long("/a", "resident_pages") == 0, "reading holes allocates nothing");

	/* Unaligned write across pages 2..5. */
	fill(w, 2 * PG + 123, 3 * PG + 7, 1);
	n = pwrite(fd, w, 3 * PG + 7, 2 * PG + 123);
	check(n == 3 * PG + 7, "pwrite across pages: %zd bytes", n);
	check(vm_long("/a", "resident_pages") == 4, "pwrite made 4 pages resident (got %ld)",
	      vm_long("/a", "resident_pages"));
	check(sys_read_long(SYS "/allocated_pages") == before + 4, "allocated_pages +4");
	n = pread(fd, r, 16 * PG, 0);
	check(n == 16 * PG && is_zero(r, 2 * PG + 123) &&
	      cmp_pat(r + 2 * PG + 123, 2 * PG + 123, 3 * PG + 7, 1) < 0 &&
	      is_zero(r + 5 * PG + 130, 11 * PG - 130), "pread returns exactly what was written");

	n = pread(fd, r, PG, 16 * PG);
	check(n == 0, "pread at EOF: 0");
	n = pread(fd, r, 2 * PG, 15 * PG);
	check(n == PG, "pread across EOF: short read of %zd", n);
	n = pwrite(fd, w, 10, 16 * PG);
	check(n < 0 && errno == EFBIG, "pwrite at EOF: EFBIG (the size is set by ftruncate)");
	n = pwrite(fd, w, 2 * PG, 15 * PG);
	check(n == PG, "pwrite across EOF: short write of %zd", n);
	bad = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	n = pwrite(fd, bad, PG, 0);
	check(n < 0 && errno == EFAULT, "pwrite from an unreadable buffer: EFAULT");
	n = pread(fd, bad, PG, 0);
	check(n < 0 && errno == EFAULT, "pread into an unwritable buffer: EFAULT");
	munmap(bad, PG);
	close(fd);
	free(w);
	free(r);
}

static void test_mmap(void)
{
	int fd = open(path("a"), O_RDWR), rofd;
	uint8_t *m, *ro, *r = malloc(16 * PG);
	long faults0 = vm_long("/a", "faults");
	void *p;

	if (fd < 0 || !r)
		die("mmap setup");
	p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	check(p == MAP_FAILED && errno == EINVAL, "MAP_PRIVATE: EINVAL");

	m = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap shared");
	check(cmp_pat(m + 2 * PG + 123, 2 * PG + 123, 3 * PG + 7, 1) < 0,
	      "the mapping sees what pwrite wrote");
	fill(m + 8 * PG, 8 * PG, 4 * PG, 2);
	check(pread(fd, r, 4 * PG, 8 * PG) == 4 * PG && cmp_pat(r, 8 * PG, 4 * PG, 2) < 0,
	      "pread sees what the mapping wrote");
	check(vm_long("/a", "faults") > faults0, "faults counted (%ld -> %ld)", faults0,
	      vm_long("/a", "faults"));
	fill(r, 9 * PG, PG, 3);
	check(pwrite(fd, r, PG, 9 * PG) == PG && cmp_pat(m + 9 * PG, 9 * PG, PG, 3) < 0,
	      "a pwrite into a mapped page shows in the mapping at once");

	rofd = open(path("a"), O_RDONLY);
	ro = mmap(NULL, 16 * PG, PROT_READ, MAP_SHARED, rofd, 0);
	check(ro != MAP_FAILED && !memcmp(ro, m, 16 * PG),
	      "read-only MAP_SHARED of an O_RDONLY fd is allowed and coherent");
	if (ro != MAP_FAILED)
		munmap(ro, 16 * PG);
	close(rofd);

	check(ftruncate(fd, 8 * PG) < 0 && errno == EBUSY, "shrinking a mapped file: EBUSY");
	check(ftruncate(fd, 24 * PG) == 0, "growing a mapped file is allowed");
	check(cmp_pat(m + 8 * PG, 8 * PG, PG, 2) < 0, "contents intact after the refusals");
	munmap(m, 16 * PG);
	check(ftruncate(fd, 16 * PG) == 0, "shrink after munmap");
	close(fd);
	free(r);
}

static void test_punch(void)
{
	int fd = open(path("a"), O_RDWR);
	uint8_t *m, *r = malloc(16 * PG);
	long res, alloc;

	if (fd < 0 || !r)
		die("punch setup");
	m = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	fill(m, 0, 16 * PG, 4);
	res = vm_long("/a", "resident_pages");
	alloc = sys_read_long(SYS "/allocated_pages");
	check(res == 16, "all 16 pages resident after writing through the mapping (%ld)", res);

	check(fallocate(fd, 0, 0, PG) < 0 && errno == EOPNOTSUPP, "fallocate mode 0: EOPNOTSUPP");
	check(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, PG) < 0 && errno == EOPNOTSUPP,
	      "fallocate KEEP_SIZE: EOPNOTSUPP");
	check(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, PG) < 0 && errno == EOPNOTSUPP,
	      "fallocate ZERO_RANGE: EOPNOTSUPP");
	check(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, PG) < 0 && errno == EOPNOTSUPP,
	      "fallocate COLLAPSE_RANGE: EOPNOTSUPP");
	check(fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, PG) < 0 && errno == EOPNOTSUPP,
	      "fallocate INSERT_RANGE: EOPNOTSUPP");
	check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 0) < 0 &&
	      errno == EINVAL, "punch of length 0: EINVAL");
	check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, -PG, PG) < 0 &&
	      errno == EINVAL, "punch at a negative offset: EINVAL");
	check(cmp_pat(m, 0, 16 * PG, 4) < 0, "refused fallocates changed nothing");

	/* Whole pages 4..7 plus 100 bytes on each side. */
	check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4 * PG - 100,
			4 * PG + 200) == 0, "punch pages 4-7 and partial edges");
	check(vm_long("/a", "resident_pages") == 12, "4 pages freed (resident %ld)",
	      vm_long("/a", "resident_pages"));
	check(sys_read_long(SYS "/allocated_pages") == alloc - 4, "allocated_pages -4");
	check(pread(fd, r, 16 * PG, 0) == 16 * PG && is_zero(r + 4 * PG - 100, 4 * PG + 200),
	      "pread reads zeros in the hole");
	check(vm_long("/a", "resident_pages") == 12, "pread of the hole allocated nothing");
	check(is_zero(m + 4 * PG - 100, 4 * PG + 200), "the mapping reads zeros in the hole");
	check(cmp_pat(m, 0, 4 * PG - 100, 4) < 0 &&
	      cmp_pat(m + 8 * PG + 100, 8 * PG + 100, 8 * PG - 100, 4) < 0,
	      "bytes outside the hole intact");
	/* A fault allocates a zeroed page, reads included. */
	check(vm_long("/a", "resident_pages") == 16, "faulting the hole back in: 16 resident (%ld)",
	      vm_long("/a", "resident_pages"));
	check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 15 * PG, 100 * PG) == 0 &&
	      vm_long("/a", "size_pages") == 16 && vm_long("/a", "resident_pages") == 15,
	      "punch past EOF: clipped, size kept (resident %ld)", vm_long("/a", "resident_pages"));
	m[15 * PG] = 0x5a;
	check(vm_long("/a", "resident_pages") == 16 && m[15 * PG] == 0x5a &&
	      is_zero(m + 15 * PG + 1, PG - 1), "writing a punched page gives a fresh zeroed page");
	munmap(m, 16 * PG);
	close(fd);
	free(r);
}

static void test_namespace(void)
{
	int fd;
	uint8_t *m;
	long alloc0, alloc1;
	struct stat st;

	check(mkdir(path("d"), 0755) == 0 && mkdir(path("d/e"), 0700) == 0, "mkdir nested");
	fd = mkfile("d/e/g", 8 * PG);
	check(vm_dir("/d/e/g") != NULL, "path is relative to the mount: /d/e/g");
	check(rename(path("d/e/g"), path("d/h")) == 0 && vm_dir("/d/h") && !vm_dir("/d/e/g"),
	      "rename: path follows");
	check(rmdir(path("d")) < 0 && errno == ENOTEMPTY, "rmdir of a non-empty dir: ENOTEMPTY");
	check(link(path("d/h"), path("d/l")) < 0 && errno == EPERM, "hard link: EPERM");
	check(symlink("h", path("d/s")) < 0 && errno == EPERM, "symlink: EPERM");
	check(mknod(path("d/f"), S_IFIFO | 0600, 0) < 0 && errno == EPERM, "mknod fifo: EPERM");

	/* Unlinked while open and mapped: the memory lives until the last user. */
	m = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	fill(m, 0, 8 * PG, 5);
	alloc0 = sys_read_long(SYS "/allocated_pages");
	check(unlink(path("d/h")) == 0 && !vm_dir("/d/h") && vm_dir("(deleted)"),
	      "unlink: the vm stays, its path reads (deleted)");
	close(fd);
	check(cmp_pat(m, 0, 8 * PG, 5) < 0, "an unlinked file's memory is intact while mapped");
	check(sys_read_long(SYS "/allocated_pages") == alloc0, "and still allocated");
	munmap(m, 8 * PG);
	alloc1 = sys_read_long(SYS "/allocated_pages");
	check(alloc1 == alloc0 - 8 && !vm_dir("(deleted)"),
	      "after the last munmap: vm gone, 8 pages freed (%ld -> %ld)", alloc0, alloc1);
	check(rmdir(path("d/e")) == 0 && rmdir(path("d")) == 0, "rmdir of empty dirs");
	check(stat(path("d"), &st) < 0 && errno == ENOENT, "gone");
}

static void test_statfs(void)
{
	struct statfs sf;

	check(statfs(mnt, &sf) == 0 && sf.f_type == 0x45584d4d && sf.f_bsize == PG,
	      "statfs: esxmm magic, page-sized blocks");
	check(sf.f_blocks == (unsigned long)sys_read_long(SYS "/pool_pages") &&
	      sf.f_bfree == (unsigned long)sys_read_long(SYS "/free_pages"),
	      "statfs reports the pool (%lu blocks, %lu free)", (unsigned long)sf.f_blocks,
	      (unsigned long)sf.f_bfree);
}

/* Pool exhaustion: the faulting process gets SIGBUS, nobody is OOM-killed. */
static void test_pool_exhaustion(void)
{
	long pool = sys_read_long(SYS "/pool_pages");
	long alloc = sys_read_long(SYS "/allocated_pages");
	char val[32];
	int fd = mkfile("big", 64 * PG), status = 0;
	uint8_t *m, buf[PG];
	pid_t pid;
	ssize_t n;

	/* Mapped first: admission control checks the pool at mmap time. */
	m = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	snprintf(val, sizeof(val), "%ld", alloc + 10);
	check(sys_write(SYS "/pool_pages", val) == 0, "pool_pages = allocated + 10");
	check(mmap(NULL, 64 * PG, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENOMEM,
	      "admission: a 64-page guest cannot be mapped in a pool of 10 free pages");
	pid = fork();
	if (pid == 0) {
		long i;

		for (i = 0; i < 64; i++)
			m[i * PG] = 1;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
	      "touching past the pool: SIGBUS (status %#x)", status);
	check(vm_long("/big", "resident_pages") == 10, "exactly the 10 pool pages were handed out");
	check(sys_read_long(SYS "/free_pages") == 0, "free_pages 0");
	memset(buf, 1, sizeof(buf));
	n = pwrite(fd, buf, PG, 40 * PG);
	check(n < 0 && errno == ENOSPC, "pwrite with the pool full: ENOSPC");
	check(m[0] == 1 && m[9 * PG] == 1, "pages already given stay intact");

	snprintf(val, sizeof(val), "%ld", pool);
	check(sys_write(SYS "/pool_pages", val) == 0, "pool_pages restored");
	check(pwrite(fd, buf, PG, 40 * PG) == PG, "pwrite works again");
	munmap(m, 64 * PG);
	close(fd);
	check(unlink(path("big")) == 0 && sys_read_long(SYS "/allocated_pages") == alloc,
	      "unlink of an unused file frees its pages");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s MOUNTPOINT\n", argv[0]);
		return 2;
	}
	mnt = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_create_and_size();
	test_rw();
	test_mmap();
	test_punch();
	test_namespace();
	test_statfs();
	test_pool_exhaustion();
	unlink(path("a"));
	printf("fsops: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
