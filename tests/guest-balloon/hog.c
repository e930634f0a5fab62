// SPDX-License-Identifier: GPL-2.0
/*
 * hog MIB [HOLD_SECS]: allocate MIB MiB of anonymous memory one MiB at a
 * time, write every page, hold it HOLD_SECS seconds, exit 0. Run in the
 * balloon test's guest to make it need the balloon's pages back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 0;
	int hold = argc > 2 ? atoi(argv[2]) : 0;
	long page = sysconf(_SC_PAGESIZE), i, off;
	char *p;

	if (mib <= 0) {
		fprintf(stderr, "usage: hog MIB [HOLD_SECS]\n");
		return 2;
	}
	for (i = 0; i < mib; i++) {
		p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			printf("hog: mmap failed after %ld MiB\n", i);
			return 1;
		}
		for (off = 0; off < (1 << 20); off += page)
			p[off] = (char)(i + off / page + 1);
	}
	printf("hog: touched %ld MiB\n", mib);
	fflush(stdout);
	if (hold > 0)
		sleep(hold);
	return 0;
}
