// SPDX-License-Identifier: GPL-2.0
/*
 * fsfuzz: random sequences of file operations on an esxmm mount, mirrored on a
 * reference directory (a tmpfs), with every byte compared.
 *
 *   fsfuzz ESXMM_DIR REF_DIR SEED OPS
 *
 * Operations on a few file names: open/create, ftruncate (page multiples and not),
 * pwrite, pread, mmap + stores + munmap, fallocate(PUNCH_HOLE), unlink, rename. Each is
 * done on esxmm first; if esxmm refuses it with one of its documented answers
 * (EINVAL for a size that is not a page multiple, EBUSY for shrinking a mapped file,
 * EFBIG for a write past the end, ENOMEM/ENOSPC when the pool or admission refuses)
 * the reference is left alone, otherwise the same is done on the reference and the
 * results must agree. Every 50 operations, and at the end, every file is compared in
 * full. A mismatch prints the seed, the operation number and the first differing
 * byte, and exits 1. Same seed, same sequence.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define PG		4096L
#define NFILES		4
#define MAX_PAGES	1024	/* 4 MiB per file */

struct side {
	const char *dir;
	int fd[NFILES];
	char *map[NFILES];
	size_t maplen[NFILES];
};

static struct side es, ref;
static unsigned long seed, op_no;
static uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64*: the sequence depends on the seed alone. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static unsigned long below(unsigned long n)
{
	return n ? rnd() % n : 0;
}

static void die(const char *what)
{
	printf("fsfuzz: FAIL seed %lu op %lu: %s (%s)\n", seed, op_no, what, strerror(errno));
	exit(1);
}

static void mismatch(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mismatch(const char *fmt, ...)
{
	va_list ap;

	printf("fsfuzz: FAIL seed %lu op %lu: ", seed, op_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static void path(char *buf, size_t n, const struct side *s, int i)
{
	snprintf(buf, n, "%s/f%d", s->dir, i);
}

static int do_open(struct side *s, int i)
{
	char p[4096];

	if (s->fd[i] >= 0)
		return 0;
	path(p, sizeof(p), s, i);
	s->fd[i] = open(p, O_RDWR | O_CREAT, 0600);
	return s->fd[i] < 0 ? -errno : 0;
}

static void do_unmap(struct side *s, int i)
{
	if (s->map[i]) {
		munmap(s->map[i], s->maplen[i]);
		s->map[i] = NULL;
	}
}

static void do_close(struct side *s, int i)
{
	do_unmap(s, i);
	if (s->fd[i] >= 0)
		close(s->fd[i]);
	s->fd[i] = -1;
}

static off_t fsize(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		die("fstat");
	return st.st_size;
}

static void compare(int i)
{
	static char a[MAX_PAGES * PG], b[MAX_PAGES * PG];
	off_t sa, sb;
	ssize_t na, nb;
	long k;

	if ((es.fd[i] < 0) != (ref.fd[i] < 0))
		mismatch("file %d open on one side only", i);
	if (es.fd[i] < 0)
		return;
	sa = fsize(es.fd[i]);
	sb = fsize(ref.fd[i]);
	if (sa != sb)
		mismatch("file %d: size %lld vs %lld", i, (long long)sa, (long long)sb);
	na = pread(es.fd[i], a, sa, 0);
	nb = pread(ref.fd[i], b, sb, 0);
	if (na != sa || nb != sb)
		die("pread for compare");
	for (k = 0; k < na; k++)
		if (a[k] != b[k])
			mismatch("file %d: byte %ld is %02x, reference %02x", i, k,
				 (unsigned char)a[k], (unsigned char)b[k]);
}

/* A refusal that esxmm documents; the reference is then left alone. */
static int documented(int err)
{
	return err == -EINVAL || err == -EBUSY || err == -EFBIG || err == -ENOMEM ||
	       err == -ENOSPC;
}

static void op_truncate(int i)
{
	off_t size = (off_t)below(MAX_PAGES + 1) * PG;
	int e;

	if (below(8) == 0)
		size += 1 + below(PG - 1);	/* not a page multiple */
	if (size > MAX_PAGES * PG)
		size = MAX_PAGES * PG;
	e = ftruncate(es.fd[i], size) ? -errno : 0;
	if (e) {
		if (!documented(e))
			die("ftruncate on esxmm");
		return;
	}
	if (size % PG)
		mismatch("esxmm took a size of %lld, not a page multiple", (long long)size);
	do_unmap(&ref, i);	/* keep the mappings of both sides alike */
	do_unmap(&es, i);
	if (ftruncate(ref.fd[i], size))
		die("ftruncate on the reference");
}

static void op_pwrite(int i)
{
	static char buf[4 * PG];
	off_t size = fsize(es.fd[i]);
	off_t off = below(size + PG);
	size_t len = 1 + below(sizeof(buf));
	ssize_t na, nb;
	size_t k;

	for (k = 0; k < len; k++)
		buf[k] = rnd();
	na = pwrite(es.fd[i], buf, len, off);
	if (na < 0) {
		if (!documented(-errno))
			die("pwrite on esxmm");
		if (errno == EFBIG && off < size)
			mismatch("pwrite at %lld of a %lld-byte file refused", (long long)off,
				 (long long)size);
		return;
	}
	if (off + (off_t)na > size)
		mismatch("pwrite grew the file past %lld", (long long)size);
	nb = pwrite(ref.fd[i], buf, na, off);
	if (nb != na)
		die("pwrite on the reference");
}

static void op_pread(int i)
{
	static char a[4 * PG], b[4 * PG];
	off_t size = fsize(es.fd[i]);
	off_t off = below(size + 1);
	size_t len = 1 + below(sizeof(a));
	ssize_t na = pread(es.fd[i], a, len, off);
	ssize_t nb = pread(ref.fd[i], b, len, off);

	if (na != nb)
		mismatch("pread of %zu at %lld: %zd vs %zd", len, (long long)off, na, nb);
	if (na > 0 && memcmp(a, b, na))
		mismatch("pread of %zu at %lld: bytes differ", len, (long long)off);
}

static void op_mmap(int i)
{
	off_t size = fsize(es.fd[i]);
	int n, k;

	if (!size)
		return;
	if (!es.map[i]) {
		es.map[i] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, es.fd[i], 0);
		if (es.map[i] == MAP_FAILED) {
			es.map[i] = NULL;
			if (!documented(-errno))
				die("mmap on esxmm");
			return;
		}
		es.maplen[i] = size;
		ref.map[i] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ref.fd[i], 0);
		if (ref.map[i] == MAP_FAILED)
			die("mmap on the reference");
		ref.maplen[i] = size;
	}
	n = 1 + below(64);
	for (k = 0; k < n; k++) {
		size_t off = below(es.maplen[i]);
		char v = rnd();

		if (es.map[i][off] != ref.map[i][off])
			mismatch("file %d: mapped byte %zu differs", i, off);
		es.map[i][off] = v;
		ref.map[i][off] = v;
	}
}

static void op_punch(int i)
{
	off_t size = fsize(es.fd[i]);
	off_t off = below(size + 1), len = 1 + below(64 * PG);
	int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int e = fallocate(es.fd[i], mode, off, len) ? -errno : 0;

	if (e) {
		if (!documented(e))
			die("punch on esxmm");
		return;
	}
	if (fallocate(ref.fd[i], mode, off, len))
		die("punch on the reference");
}

static void op_unlink(int i)
{
	char a[4096], b[4096];

	path(a, sizeof(a), &es, i);
	path(b, sizeof(b), &ref, i);
	do_close(&es, i);
	do_close(&ref, i);
	if (unlink(a) && errno != ENOENT)
		die("unlink on esxmm");
	if (unlink(b) && errno != ENOENT)
		die("unlink on the reference");
}

static void op_rename(int i)
{
	int j = below(NFILES);
	char a[4096], b[4096];

	if (i == j)
		return;
	/* Both ends closed: the names move, the descriptors do not matter. */
	do_close(&es, i);
	do_close(&ref, i);
	do_close(&es, j);
	do_close(&ref, j);
	path(a, sizeof(a), &es, i);
	path(b, sizeof(b), &es, j);
	if (rename(a, b) && errno != ENOENT)
		die("rename on esxmm");
	path(a, sizeof(a), &ref, i);
	path(b, sizeof(b), &ref, j);
	if (rename(a, b) && errno != ENOENT)
		die("rename on the reference");
}

int main(int argc, char **argv)
{
	unsigned long ops, counts[8] = { 0 };
	int i;

	if (argc != 5) {
		fprintf(stderr, "usage: %s ESXMM_DIR REF_DIR SEED OPS\n", argv[0]);
		return 2;
	}
	es.dir = argv[1];
	ref.dir = argv[2];
	seed = strtoul(argv[3], NULL, 0);
	ops = strtoul(argv[4], NULL, 0);
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (i = 0; i < NFILES; i++)
		es.fd[i] = ref.fd[i] = -1;

	for (op_no = 1; op_no <= ops; op_no++) {
		int f = below(NFILES), op = below(8);

		if (es.fd[f] < 0 || ref.fd[f] < 0) {
			if (do_open(&es, f) || do_open(&ref, f))
				die("open");
		}
		counts[op]++;
		switch (op) {
		case 0: op_truncate(f); break;
		case 1: op_pwrite(f); break;
		case 2: op_pread(f); break;
		case 3: op_mmap(f); break;
		case 4: op_punch(f); break;
		case 5: if (below(4) == 0) op_unlink(f); else op_pwrite(f); break;
		case 6: if (below(4) == 0) op_rename(f); else op_mmap(f); break;
		default: do_unmap(&es, f); do_unmap(&ref, f); break;
		}
		if (op_no % 50 == 0)
			for (i = 0; i < NFILES; i++)
				compare(i);
	}
	for (i = 0; i < NFILES; i++)
		compare(i);
	printf("fsfuzz: OK seed %lu ops %lu (truncate %lu pwrite %lu pread %lu mmap %lu punch %lu unlink/pwrite %lu rename/mmap %lu munmap %lu)\n",
	       seed, ops, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5],
	       counts[6], counts[7]);
	return 0;
}
