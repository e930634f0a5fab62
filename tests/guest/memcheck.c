// SPDX-License-Identifier: GPL-2.0
/*
 * memcheck: /init of the nested test guest (also runs as a normal program for debugging).
 *
 * Writes every 4 KiB page of an M MiB buffer with the pattern of pattern.h (first touch, timed
 * with CLOCK_MONOTONIC), re-reads and verifies all of it, prints one result line and powers
 * the guest off:
 *     MEMCHECK OK pages=N ms=T            T = the first-touch write loop, in ms
 *     MEMCHECK FAIL <reason>
 * Parameters (kernel command line words with '=' reach init as environment variables, or
 * argv "name=value" when run by hand):
 *     mc_mb=64        buffer size in MiB
 *     mc_mode=check   check: write, verify, power off
 *                     hold: write, then re-verify in a loop for mc_hold seconds (demo)
 *                     idle: write, verify, touch nothing for mc_hold seconds, verify
 *                     again (an idle guest whose memory must survive what the host does)
 *                     passes: write, then re-verify mc_passes times and print
 *                     "MEMCHECK passes=N ms=T" (the time of those passes)
 *     mc_hold=30
 *     mc_stop=/dev/ttyS1  hold and idle end early once a line ("stop") can be read from
 *                     this file (a serial port the host writes to); "MEMCHECK stop"
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>

#include "pattern.h"

static int is_init;

static void finish(int rc)
{
	fflush(stdout);
	fflush(stderr);
	if (!is_init)
		exit(rc);
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static void open_console(void)
{
	int fd;

	if (fcntl(1, F_GETFD) != -1)
		return;
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static const char *param(int argc, char **argv, const char *name, const char *def)
{
	size_t n = strlen(name);
	const char *v = getenv(name);
	int i;

	for (i = 1; i < argc; i++)
		if (!strncmp(argv[i], name, n) && argv[i][n] == '=')
			v = argv[i] + n + 1;
	return v && *v ? v : def;
}

/* A line on the mc_stop file (opened non-blocking, canonical tty): the host says stop. */
static int stop_fd = -1;

static int stop_asked(void)
{
	char c[64];

	if (stop_fd < 0 || read(stop_fd, c, sizeof(c)) <= 0)
		return 0;
	printf("MEMCHECK stop\n");
	return 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long verify(const unsigned char *buf, size_t pages)
{
	size_t p;
	int w;

	for (p = 0; p < pages; p++) {
		w = esxmm_pattern_check(buf + p * ESXMM_PAGE_SIZE, p);
		if (w >= 0) {
			printf("MEMCHECK FAIL page=%zu word=%d\n", p, w);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char *buf;
	const char *mode;
	size_t mb, pages, p;
	double t0, t1, hold_end;
	long hold, pass = 0;
	const char *stop;

	is_init = getpid() == 1;
	if (is_init)
		open_console();
	setvbuf(stdout, NULL, _IOLBF, 0);

	mb = strtoul(param(argc, argv, "mc_mb", "64"), NULL, 0);
	mode = param(argc, argv, "mc_mode", "check");
	hold = strtol(param(argc, argv, "mc_hold", "30"), NULL, 0);
	stop = param(argc, argv, "mc_stop", NULL);
	if (stop) {
		stop_fd = open(stop, O_RDONLY | O_NONBLOCK | O_NOCTTY);
		if (stop_fd < 0)
			printf("MEMCHECK cannot open mc_stop=%s: %s\n", stop, strerror(errno));
	}
	if (!mb || mb > (1u << 20)) {
		printf("MEMCHECK FAIL bad mc_mb\n");
		finish(2);
	}
	pages = mb * (1024 * 1024 / ESXMM_PAGE_SIZE);

	/* Plain anonymous memory, no MAP_POPULATE/mlock: the write loop is the first touch. */
	buf = mmap(NULL, pages * ESXMM_PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		printf("MEMCHECK FAIL mmap %s\n", strerror(errno));
		finish(1);
	}
	/* 4 KiB faults everywhere, and no khugepaged copies that leave stale pattern behind. */
	madvise(buf, pages * ESXMM_PAGE_SIZE, MADV_NOHUGEPAGE);
	printf("MEMCHECK start mb=%zu mode=%s\n", mb, mode);

	t0 = now_ms();
	for (p = 0; p < pages; p++)
		esxmm_pattern_fill(buf + p * ESXMM_PAGE_SIZE, p);
	t1 = now_ms();

	if (verify(buf, pages))
		finish(1);
	if (!strcmp(mode, "passes")) {
		/* A fixed amount of work, timed: for overhead benchmarks. */
		long n = strtol(param(argc, argv, "mc_passes", "10"), NULL, 0);
		double v0 = now_ms();

		for (pass = 0; pass < n; pass++)
			if (verify(buf, pages))
				finish(1);
		printf("MEMCHECK passes=%ld ms=%.0f\n", n, now_ms() - v0);
	}
	if (!strcmp(mode, "hold")) {
		hold_end = now_ms() + hold * 1e3;
		while (now_ms() < hold_end && !stop_asked()) {
			if (verify(buf, pages))
				finish(1);
			if (++pass % 4 == 0)
				printf("MEMCHECK hold pass=%ld\n", pass);
		}
	}
	if (!strcmp(mode, "idle")) {
		printf("MEMCHECK idle for %ld s\n", hold);
		hold_end = now_ms() + hold * 1e3;
		while (now_ms() < hold_end && !stop_asked())
			sleep(1);
		if (verify(buf, pages))
			finish(1);
	}
	printf("MEMCHECK OK pages=%zu ms=%.0f\n", pages, t1 - t0);
	finish(0);
	return 0;
}
