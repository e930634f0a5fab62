// SPDX-License-Identifier: GPL-2.0
/*
 * work BUF_MIB ROUNDS: a fixed amount of guest work for the balloon benchmark
 * (the experiment of ESX's paper, section 3.2: a guest ballooned down against
 * the same guest booted that much smaller). Each round
 *   - maps 16 MiB of anonymous memory, writes every page and unmaps it (page
 *     allocator, zeroing, page tables: what a bigger mem_map or a fragmented
 *     free list would slow down);
 *   - makes 2^20 random read-modify-writes over a BUF_MIB MiB buffer that
 *     stays resident (TLB and cache footprint);
 *   - writes 8 MiB to a file in /tmp and reads it back (page cache).
 * Prints "work: rounds=N ms=T" with T the guest's CLOCK_MONOTONIC time for all
 * rounds: under QEMU's -icount it counts guest instructions, so runs repeat.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1L << 20)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	long buf_mib = argc > 1 ? atol(argv[1]) : 0;
	long rounds = argc > 2 ? atol(argv[2]) : 0;
	long page = sysconf(_SC_PAGESIZE), r, i, off;
	uint64_t seed = 0x9e3779b97f4a7c15ull, sum = 0, *buf;
	size_t words;
	char *chunk, io[65536];
	double t0;
	int fd;

	if (buf_mib <= 0 || rounds <= 0) {
		fprintf(stderr, "usage: work BUF_MIB ROUNDS\n");
		return 2;
	}
	words = buf_mib * MIB / sizeof(*buf);
	buf = malloc(words * sizeof(*buf));
	if (!buf) {
		fprintf(stderr, "work: no memory for %ld MiB\n", buf_mib);
		return 1;
	}
	for (i = 0; i < (long)words; i++)
		buf[i] = i;
	t0 = now_ms();
	for (r = 0; r < rounds; r++) {
		chunk = mmap(NULL, 16 * MIB, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (chunk == MAP_FAILED) {
			fprintf(stderr, "work: mmap failed\n");
			return 1;
		}
		for (off = 0; off < 16 * MIB; off += page)
			chunk[off] = (char)(off / page + r);
		munmap(chunk, 16 * MIB);

		for (i = 0; i < (1L << 20); i++) {
			uint64_t *w = &buf[xorshift(&seed) % words];

			*w = *w * 31 + i;
			sum += *w;
		}

		fd = open("/tmp/work.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			fprintf(stderr, "work: open /tmp/work.dat failed\n");
			return 1;
		}
		memset(io, (int)r, sizeof(io));
		for (off = 0; off < 8 * MIB; off += sizeof(io))
			if (write(fd, io, sizeof(io)) != (ssize_t)sizeof(io))
				return 1;
		lseek(fd, 0, SEEK_SET);
		while (read(fd, io, sizeof(io)) > 0)
			sum += (unsigned char)io[0];
		close(fd);
		unlink("/tmp/work.dat");
	}
	printf("work: rounds=%ld ms=%.1f sum=%llx\n", rounds, now_ms() - t0,
	       (unsigned long long)sum);
	return 0;
}
