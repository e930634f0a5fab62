// SPDX-License-Identifier: GPL-2.0
/*
 * swap_bench - swap-out and swap-in throughput of one process's memory.
 *
 * Usage: swap_bench esxmm FILE SIZE_MIB
 *        swap_bench anon SIZE_MIB
 *
 * esxmm: FILE (on an esxmm mount whose pool is smaller than SIZE_MIB, with
 * swap on) is sized and mapped MAP_SHARED. anon: SIZE_MIB of anonymous
 * memory, 4 KiB pages (MADV_NOHUGEPAGE), for a process whose memory cgroup
 * holds less than that, with a Linux swap file on. Then:
 *   write  every byte of every page, in order (first touch: the pages past
 *          the pool or the limit push older ones out to swap);
 *   read   every page, in order, each checked (all swapped-out pages come
 *          back in, pushing others out).
 * Each phase is timed (CLOCK_MONOTONIC) and the swap counters are read
 * around it: esxmm's swap/pages_swapped_out and pages_swapped_in, or
 * /proc/vmstat pswpout and pswpin. One result line:
 *   SWAP_BENCH mode=M pages=N write_ms=T out_w=O in_w=I read_ms=T out_r=O in_r=I
 *       out_per_s=R in_per_s=R
 * where out_per_s = out_w / write time (pages written to swap per second
 * while the process writes) and in_per_s = in_r / read time (pages read
 * back per second while it reads). Exit 1 if a page read back is wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SZ		4096UL
#define SEED		0x9e3779b97f4a7c15ULL

static int esxmm_mode;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long read_long(const char *path, const char *key)
{
	char line[256];
	long val = -1;
	size_t n = key ? strlen(key) : 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!key) {
			val = strtol(line, NULL, 10);
			break;
		}
		if (!strncmp(line, key, n) && line[n] == ' ') {
			val = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

static void counters(long *out, long *in)
{
	if (esxmm_mode) {
		*out = read_long("/sys/kernel/esxmm/swap/pages_swapped_out", NULL);
		*in = read_long("/sys/kernel/esxmm/swap/pages_swapped_in", NULL);
	} else {
		*out = read_long("/proc/vmstat", "pswpout");
		*in = read_long("/proc/vmstat", "pswpin");
	}
}

static uint64_t word(size_t page, size_t i)
{
	return (page * 512 + i) * SEED;
}

int main(int argc, char **argv)
{
	long o0, i0, o1, i1, o2, i2;
	size_t size, pages, p, i;
	double t0, t1, t2;
	unsigned long mib;
	uint64_t *mem;
	int fd = -1;

	if (argc == 4 && !strcmp(argv[1], "esxmm")) {
		esxmm_mode = 1;
		mib = strtoul(argv[3], NULL, 0);
	} else if (argc == 3 && !strcmp(argv[1], "anon")) {
		mib = strtoul(argv[2], NULL, 0);
	} else {
		fprintf(stderr, "usage: swap_bench esxmm FILE SIZE_MIB | swap_bench anon SIZE_MIB\n");
		return 2;
	}
	if (!mib || mib > 65536) {
		fprintf(stderr, "swap_bench: SIZE_MIB must be 1..65536\n");
		return 2;
	}
	size = mib << 20;
	pages = size / PAGE_SZ;
	if (esxmm_mode) {
		fd = open(argv[2], O_RDWR | O_CREAT, 0600);
		if (fd < 0 || ftruncate(fd, size) < 0) {
			perror(argv[2]);
			return 1;
		}
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	} else {
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem != MAP_FAILED)
			madvise(mem, size, MADV_NOHUGEPAGE);
	}
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	counters(&o0, &i0);
	t0 = now_ms();
	for (p = 0; p < pages; p++)
		for (i = 0; i < 512; i++)
			mem[p * 512 + i] = word(p, i);
	t1 = now_ms();
	counters(&o1, &i1);
	for (p = 0; p < pages; p++)
		for (i = 0; i < 512; i++)
			if (mem[p * 512 + i] != word(p, i)) {
				printf("swap_bench: page %zu word %zu wrong\nSWAP_BENCH FAIL\n",
				       p, i);
				return 1;
			}
	t2 = now_ms();
	counters(&o2, &i2);
	printf("SWAP_BENCH mode=%s pages=%zu write_ms=%.0f out_w=%ld in_w=%ld read_ms=%.0f out_r=%ld in_r=%ld out_per_s=%.0f in_per_s=%.0f\n",
	       argv[1], pages, t1 - t0, o1 - o0, i1 - i0, t2 - t1, o2 - o1,
	       i2 - i1, (o1 - o0) / ((t1 - t0) / 1e3),
	       (i2 - i1) / ((t2 - t1) / 1e3));
	return 0;
}
