/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esxmm_sysfs.h: reading and writing /sys/kernel/esxmm from the test
 * programs that run inside the test host. Header-only: each program
 * includes it once.
 */
#ifndef ESXMM_TESTS_SYSFS_H
#define ESXMM_TESTS_SYSFS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PG 4096L
#define SYS "/sys/kernel/esxmm"

static inline long sys_read_long(const char *file)
{
	char buf[64] = "";
	long v = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static inline int sys_write(const char *file, const char *val)
{
	int fd = open(file, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

/* The vms/<id> directory whose path reads @rel, or NULL. */
static inline const char *vm_dir(const char *rel)
{
	static char dir[256];
	char file[300], buf[512];
	int id;

	for (id = 0; id < 4096; id++) {
		FILE *f;

		snprintf(dir, sizeof(dir), SYS "/vms/%d", id);
		snprintf(file, sizeof(file), "%s/path", dir);
		f = fopen(file, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = 0;
			if (!strcmp(buf, rel)) {
				fclose(f);
				return dir;
			}
		}
		fclose(f);
	}
	return NULL;
}

static inline long vm_long(const char *rel, const char *attr)
{
	const char *d = vm_dir(rel);
	char file[300];

	if (!d)
		return -1;
	snprintf(file, sizeof(file), "%s/%s", d, attr);
	return sys_read_long(file);
}


static inline int sys_write_long(const char *file, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", v);
	return sys_write(file, buf);
}

static inline int vm_write_long(const char *rel, const char *attr, long v)
{
	const char *d = vm_dir(rel);
	char file[300];

	if (!d)
		return -ENOENT;
	snprintf(file, sizeof(file), "%s/%s", d, attr);
	return sys_write_long(file, v);
}

#endif /* ESXMM_TESTS_SYSFS_H */
