// SPDX-License-Identifier: GPL-2.0
/*
 * fi_ops: random file, mapping, sysfs and mount operations on an esxmm mount
 * for tests/t_failinject.sh, with allocation failures injected into this
 * task only.
 *
 * Usage: fi_ops DIR POOL_PAGES N SEED
 *
 * Marks itself make-it-fail (/proc/self/make-it-fail) once started, so only
 * the operations fail, not its own exec; it is built static and run from a
 * tmpfs, so that a failure cannot land in the 9p client that serves the test
 * host's root filesystem (whose error paths are not what is tested here).
 * Then N operations, picked with SEED: mkdir/rmdir, create, ftruncate,
 * pwrite, pread, fallocate(PUNCH_HOLE), unlink, mmap + write + munmap (the
 * fault path in this task), writes of pool_pages (around POOL_PAGES) and of
 * every guest's shares, and mount/create/unlink/umount of a second esxmm
 * mount. Any operation may fail (ENOMEM above all); none may crash, hang or
 * give wrong data: a page written through a mapping must read back the same
 * by pread, or fi_ops exits 1. A umount that fails is retried unmarked, so
 * that no mount is left behind. Prints one line of counts.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYSFS	"/sys/kernel/esxmm"
#define NOPS	12

static const char *const names[NOPS] = {
	"mkdir", "rmdir", "create", "truncate", "pwrite", "pread", "punch",
	"unlink", "mmap", "pool", "shares", "mount",
};
static unsigned long ok[NOPS], failed[NOPS];
static unsigned long long rng;

static unsigned int rnd(unsigned int n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned int)(rng % n);
}

/* Mark or unmark this task; the write itself may fail while marked: retry. */
static int set_fail(int on)
{
	int i, fd;

	for (i = 0; i < 10000; i++) {
		fd = open("/proc/self/make-it-fail", O_WRONLY);
		if (fd < 0)
			continue;
		if (write(fd, on ? "1" : "0", 1) == 1) {
			close(fd);
			return 0;
		}
		close(fd);
	}
	return -1;
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -1;
	if (write(fd, val, strlen(val)) < 0)
		ret = -1;
	close(fd);
	return ret;
}

static int write_shares(void)
{
	struct dirent *de;
	char path[512], val[16];
	DIR *d = opendir(SYSFS "/vms");
	int ret = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SYSFS "/vms/%s/shares", de->d_name);
		snprintf(val, sizeof(val), "%u", rnd(2000) + 1);
		if (sysfs_write(path, val) < 0)
			ret = -1;
	}
	closedir(d);
	return ret;
}

/* Write a page through a mapping, read it back by pread: must match. */
static int map_write(const char *file)
{
	char want[4096], got[4096];
	int fd = open(file, O_RDWR | O_CREAT, 0600), ret = -1, st;
	pid_t pid;
	char *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, 4 * 4096) < 0)
		goto out;
	p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto out;
	memset(want, 'a' + rnd(26), sizeof(want));
	/*
	 * A fault that fails gets SIGBUS (esxmm logs it): this write is
	 * done by a child, so that a SIGBUS counts as a failure, not a crash.
	 */
	pid = fork();
	if (pid == 0) {
		memcpy(p + 4096, want, sizeof(want));
		_exit(0);
	}
	if (pid > 0) {
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st) &&
		    pread(fd, got, sizeof(got), 4096) == (ssize_t)sizeof(got)) {
			if (memcmp(want, got, sizeof(got))) {
				fprintf(stderr, "fi_ops: %s: the page written by mmap reads back different\n",
					file);
				exit(1);
			}
			ret = 0;
		}
	}
	munmap(p, 4 * 4096);
out:
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	char f[512], d[512], m[512], buf[4096], val[32];
	unsigned long pool, n, i;
	int op, fd, r;

	if (argc != 5) {
		fprintf(stderr, "usage: fi_ops DIR POOL_PAGES N SEED\n");
		return 2;
	}
	pool = strtoul(argv[2], NULL, 0);
	n = strtoul(argv[3], NULL, 0);
	rng = strtoull(argv[4], NULL, 0) * 2654435761ULL + 1;
	signal(SIGPIPE, SIG_IGN);
	if (set_fail(1)) {
		fprintf(stderr, "fi_ops: cannot mark myself make-it-fail: %s\n", strerror(errno));
		return 2;
	}
	for (i = 0; i < n; i++) {
		snprintf(f, sizeof(f), "%s/s%u", argv[1], rnd(4));
		snprintf(d, sizeof(d), "%s/d%u", argv[1], rnd(2));
		snprintf(m, sizeof(m), "%s/m", argv[1]);
		op = rnd(NOPS);
		r = -1;
		switch (op) {
		case 0:
			r = mkdir(d, 0700);
			break;
		case 1:
			r = rmdir(d);
			break;
		case 2:
			fd = open(f, O_RDWR | O_CREAT, 0600);
			r = fd < 0 ? -1 : close(fd);
			break;
		case 3:
			r = truncate(f, (off_t)(rnd(64) + 1) * 4096);
			break;
		case 4:
			fd = open(f, O_RDWR);
			if (fd >= 0) {
				memset(buf, 'x', sizeof(buf));
				r = pwrite(fd, buf, sizeof(buf), 0) < 0 ? -1 : 0;
				close(fd);
			}
			break;
		case 5:
			fd = open(f, O_RDONLY);
			if (fd >= 0) {
				r = pread(fd, buf, sizeof(buf), 0) < 0 ? -1 : 0;
				close(fd);
			}
			break;
		case 6:
			fd = open(f, O_RDWR);
			if (fd >= 0) {
				r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					      0, 8192);
				close(fd);
			}
			break;
		case 7:
			r = unlink(f);
			break;
		case 8:
			r = map_write(f);
			break;
		case 9:
			snprintf(val, sizeof(val), "%lu", pool + rnd(64));
			r = sysfs_write(SYSFS "/pool_pages", val);
			break;
		case 10:
			r = write_shares();
			break;
		case 11:
			mkdir(m, 0700);
			r = mount("none", m, "esxmm", 0, NULL);
			if (!r) {
				char x[600];

				snprintf(x, sizeof(x), "%s/x", m);
				fd = open(x, O_RDWR | O_CREAT, 0600);
				if (fd >= 0)
					close(fd);
				unlink(x);
				/*
				 * umount may fail for want of memory too; a mount
				 * left behind would keep esxmm loaded, so retry it
				 * unmarked: only a failure then is an error.
				 */
				if (umount(m) < 0) {
					r = -1;
					if (set_fail(0) || umount(m) < 0 || set_fail(1)) {
						fprintf(stderr, "fi_ops: umount %s: %s\n", m,
							strerror(errno));
						return 1;
					}
				}
			}
			break;
		}
		if (r < 0)
			failed[op]++;
		else
			ok[op]++;
	}
	printf("fi_ops:");
	for (op = 0; op < NOPS; op++)
		printf(" %s %lu/%lu", names[op], ok[op], ok[op] + failed[op]);
	printf(" (succeeded/tried)\n");
	return 0;
}
