// SPDX-License-Identifier: GPL-2.0
/*
 * scan_pattern FILE [MIN_PAGES]: read a VM's RAM file back on the host and verify the pages
 * that the nested guest's memcheck wrote (pattern.h). Every 4 KiB page that starts with the
 * magic must match the pattern for its sequence number in all 4096 bytes.
 * Prints:  SCAN pages=<file pages> magic=<n> verified=<n> mismatches=<n> distinct=<n>
 * Exit 0 when there are no mismatches and at least MIN_PAGES distinct sequence numbers
 * (default 1) were verified. Reads with pread; falls back to a read-only shared mapping when
 * the filesystem has no read_iter.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "guest/pattern.h"

#define CHUNK (1u << 20)
#define MAX_SEQ (1u << 26) /* 256 GiB of pattern */

struct scan {
	uint64_t magic, verified, mismatches, distinct;
	unsigned char *seen;
};

static void scan_page(struct scan *s, const unsigned char *pg, uint64_t off)
{
	uint64_t seq;
	int w;

	if (!esxmm_has_magic(pg))
		return;
	s->magic++;
	seq = esxmm_page_seq(pg);
	w = seq < MAX_SEQ ? esxmm_pattern_check(pg, seq) : 1;
	if (w >= 0) {
		if (s->mismatches++ < 10)
			fprintf(stderr, "mismatch at file offset %#llx seq %llu word %d\n",
				(unsigned long long)off, (unsigned long long)seq, w);
		return;
	}
	s->verified++;
	if (!(s->seen[seq / 8] & (1u << (seq % 8)))) {
		s->seen[seq / 8] |= 1u << (seq % 8);
		s->distinct++;
	}
}

int main(int argc, char **argv)
{
	struct scan s = { 0 };
	unsigned char *buf, *map;
	uint64_t off, min = 1, i;
	struct stat st;
	ssize_t n;
	int fd, use_mmap = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s FILE [MIN_PAGES]\n", argv[0]);
		return 2;
	}
	if (argc == 3)
		min = strtoull(argv[2], NULL, 0);
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		perror(argv[1]);
		return 2;
	}
	s.seen = calloc(MAX_SEQ / 8, 1);
	buf = aligned_alloc(ESXMM_PAGE_SIZE, CHUNK);
	if (!s.seen || !buf)
		return 2;

	for (off = 0; off < (uint64_t)st.st_size; off += CHUNK) {
		n = use_mmap ? -1 : pread(fd, buf, CHUNK, off);
		if (n < 0 && !use_mmap && off == 0 && (errno == EINVAL || errno == ENOSYS)) {
			fprintf(stderr, "pread: %s, using mmap\n", strerror(errno));
			use_mmap = 1;
		}
		if (use_mmap) {
			n = (uint64_t)st.st_size - off < CHUNK ? (ssize_t)(st.st_size - off) : CHUNK;
			map = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, off);
			if (map == MAP_FAILED) {
				perror("mmap");
				return 2;
			}
			memcpy(buf, map, n);
			munmap(map, n);
		}
		if (n < 0) {
			perror("pread");
			return 2;
		}
		if (n == 0)
			break;
		for (i = 0; i + ESXMM_PAGE_SIZE <= (uint64_t)n; i += ESXMM_PAGE_SIZE)
			scan_page(&s, buf + i, off + i);
	}
	printf("SCAN pages=%llu magic=%llu verified=%llu mismatches=%llu distinct=%llu%s\n",
	       (unsigned long long)(st.st_size / ESXMM_PAGE_SIZE), (unsigned long long)s.magic,
	       (unsigned long long)s.verified, (unsigned long long)s.mismatches,
	       (unsigned long long)s.distinct, use_mmap ? " (mmap)" : "");
	return s.mismatches == 0 && s.distinct >= min ? 0 : 1;
}
