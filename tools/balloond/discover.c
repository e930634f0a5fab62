// SPDX-License-Identifier: GPL-2.0
/*
 * Which esxmm file is whose memory, from /proc and /sys alone.
 *
 * A domain is found by its UUID: libvirt starts QEMU with "-uuid <uuid>", so the process is
 * the one whose /proc/<pid>/cmdline has that pair (no libvirt-private pid file needed). Its
 * esxmm files are its shared mappings, in /proc/<pid>/maps, of a device that
 * /proc/<pid>/mountinfo says is an esxmm mount (the process's own mount namespace: libvirt may
 * give QEMU one). The mapped path, made relative to the mount and prefixed with the mount's
 * root inside the filesystem, is what esxmm shows in /sys/kernel/esxmm/vms/<id>/path.
 *
 * Every function takes its root (/proc, /sys/kernel/esxmm) as an argument, so the tests run
 * them on fake trees.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "balloond.h"

/* Decimal only, no sign, no spaces, at most @max; a trailing newline is allowed. */
int bd_parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned int d = *p - '0';

		if (x > (max - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	if (*p == '\n')
		p++;
	if (*p)
		return -EINVAL;
	*v = x;
	return 0;
}

int bd_read_u64_fd(int fd, uint64_t *v)
{
	char buf[64];
	ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);

	if (len < 0)
		return -errno;
	buf[len] = '\0';
	return bd_parse_u64(buf, UINT64_MAX, v);
}

int bd_read_u64_file(const char *file, uint64_t *v)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = bd_read_u64_fd(fd, v);
	close(fd);
	return err;
}

/* The kernel writes space, tab, newline and backslash in mountinfo as \ooo. */
char *bd_unescape_octal(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

void bd_free_mounts(struct bd_mount *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].root);
		free(m[i].point);
	}
	free(m);
}

/*
 * "36 35 98:0 /root /mnt/point rw,noatime shared:1 - esxmm none rw": fields 3-5 are the
 * device, the root and the mount point; after the lone "-", the filesystem type.
 */
int bd_parse_mountinfo(const char *file, struct bd_mount **mounts, size_t *n)
{
	FILE *f = fopen(file, "re");
	char *line = NULL;
	size_t cap = 0, cnt = 0, alloc = 0;
	struct bd_mount *m = NULL;

	*mounts = NULL;
	*n = 0;
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok, *root = NULL, *point = NULL, *fstype = NULL;
		unsigned int maj, min;
		int field = 0, dev_ok = 0, after_sep = 0;

		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			field++;
			if (after_sep) {
				fstype = tok;
				break;
			}
			if (field == 3)
				dev_ok = sscanf(tok, "%u:%u", &maj, &min) == 2;
			else if (field == 4)
				root = tok;
			else if (field == 5)
				point = tok;
			else if (field > 6 && !strcmp(tok, "-"))
				after_sep = 1;
		}
		if (!dev_ok || !root || !point || !fstype || strcmp(fstype, "esxmm"))
			continue;
		if (cnt == alloc) {
			struct bd_mount *nm;

			alloc = alloc ? alloc * 2 : 4;
			nm = realloc(m, alloc * sizeof(*m));
			if (!nm)
				goto nomem;
			m = nm;
		}
		m[cnt].major = maj;
		m[cnt].minor = min;
		m[cnt].root = bd_unescape_octal(root);
		m[cnt].point = bd_unescape_octal(point);
		cnt++;
		if (!m[cnt - 1].root || !m[cnt - 1].point)
			goto nomem;
	}
	free(line);
	fclose(f);
	*mounts = m;
	*n = cnt;
	return 0;
nomem:
	free(line);
	fclose(f);
	bd_free_mounts(m, cnt);
	return -ENOMEM;
}

void bd_free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* @path (under mount @m) as the filesystem sees it: m->root + (path - m->point); NULL: ENOMEM. */
static char *fs_path(const struct bd_mount *m, const char *path)
{
	size_t plen = strcmp(m->point, "/") ? strlen(m->point) : 0;
	const char *rest = path + plen;
	char *out;

	if (!strcmp(m->root, "/"))
		return strdup(*rest ? rest : "/");
	if (asprintf(&out, "%s%s", m->root, rest) < 0)
		return NULL;
	return out;
}

static int strv_add_unique(char ***v, size_t *n, char *s)
{
	char **nv;
	size_t i;

	for (i = 0; i < *n; i++) {
		if (!strcmp((*v)[i], s)) {
			free(s);
			return 0;
		}
	}
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

/*
 * bd_pid_esxmm_files() - the esxmm files process @pid maps shared, as paths inside their
 * filesystem (what vms/<id>/path says), each once.
 * Return: 0 (possibly with none), -errno when the process's files cannot be read.
 */
int bd_pid_esxmm_files(const char *proc_root, pid_t pid, char ***paths, size_t *n)
{
	struct bd_mount *mounts;
	size_t nmounts, i;
	char file[4096], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int err;

	*paths = NULL;
	*n = 0;
	snprintf(file, sizeof(file), "%s/%d/mountinfo", proc_root, (int)pid);
	err = bd_parse_mountinfo(file, &mounts, &nmounts);
	if (err == -ENOENT || err == -EACCES) {
		/* no per-process view (an old kernel, or a fake tree): use our own */
		snprintf(file, sizeof(file), "%s/self/mountinfo", proc_root);
		err = bd_parse_mountinfo(file, &mounts, &nmounts);
	}
	if (err)
		return err;
	if (!nmounts) {
		bd_free_mounts(mounts, nmounts);
		return 0;
	}
	snprintf(file, sizeof(file), "%s/%d/maps", proc_root, (int)pid);
	f = fopen(file, "re");
	if (!f) {
		err = -errno;
		bd_free_mounts(mounts, nmounts);
		return err;
	}
	while (!err && getline(&line, &cap, f) > 0) {
		char perms[8], *path;
		unsigned int maj, min;
		unsigned long long ino;
		size_t len, best = 0;
		const struct bd_mount *bm = NULL;
		int pos = 0;

		if (sscanf(line, "%*s %7s %*s %x:%x %llu %n", perms, &maj, &min, &ino, &pos) < 4 ||
		    !pos)
			continue;
		path = line + pos;
		len = strlen(path);
		if (len && path[len - 1] == '\n')
			path[--len] = '\0';
		if (path[0] != '/' || strlen(perms) < 4 || perms[3] != 's')
			continue;
		if (len > 10 && !strcmp(path + len - 10, " (deleted)"))
			continue;	/* unlinked: esxmm's path says "(deleted)" too */
		for (i = 0; i < nmounts; i++) {
			size_t pl = strlen(mounts[i].point);

			if (mounts[i].major != maj || mounts[i].minor != min)
				continue;
			if (!strcmp(mounts[i].point, "/"))
				pl = 0;
			if (strncmp(path, mounts[i].point, pl) ||
			    (path[pl] != '/' && path[pl] != '\0'))
				continue;
			if (!bm || pl > best) {
				best = pl;
				bm = &mounts[i];
			}
		}
		if (bm) {
			char *rel = fs_path(bm, path);

			err = rel ? strv_add_unique(paths, n, rel) : -ENOMEM;
		}
	}
	free(line);
	fclose(f);
	bd_free_mounts(mounts, nmounts);
	if (err) {
		bd_free_strv(*paths, *n);
		*paths = NULL;
		*n = 0;
	}
	return err;
}

/* The value after "-uuid" in a NUL-separated command line, if any. */
static const char *cmdline_uuid(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		size_t l = strnlen(p, end - p);

		if (!strcmp(p, "-uuid") && p + l + 1 < end)
			return p + l + 1;
		p += l + 1;
	}
	return NULL;
}

/*
 * bd_scan_uuid_pids() - every process under @proc_root whose command line has "-uuid U".
 * Return: 0, or -errno when @proc_root cannot be read.
 */
int bd_scan_uuid_pids(const char *proc_root, struct bd_pid **pids, size_t *n)
{
	DIR *d = opendir(proc_root);
	struct dirent *de;
	size_t cnt = 0, alloc = 0;
	struct bd_pid *p = NULL;
	static char buf[256 * 1024];

	*pids = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char file[4096];
		const char *u;
		ssize_t len;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int fd;

		if (*end || pid <= 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s/cmdline", proc_root, de->d_name);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		u = cmdline_uuid(buf, len);
		if (!u || strlen(u) != VIR_UUID_STRING_BUFLEN - 1)
			continue;
		if (cnt == alloc) {
			struct bd_pid *np;

			alloc = alloc ? alloc * 2 : 16;
			np = realloc(p, alloc * sizeof(*p));
			if (!np) {
				free(p);
				closedir(d);
				return -ENOMEM;
			}
			p = np;
		}
		p[cnt].pid = (pid_t)pid;
		memcpy(p[cnt].uuid, u, VIR_UUID_STRING_BUFLEN);
		cnt++;
	}
	closedir(d);
	*pids = p;
	*n = cnt;
	return 0;
}

void bd_free_vmdirs(struct bd_vmdir *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(d[i].path);
	free(d);
}

/*
 * bd_read_vmdirs() - every @sysfs_root/vms/<id>/ with its path.
 * Return: 0, or -errno when vms/ cannot be read (esxmm not loaded).
 */
int bd_read_vmdirs(const char *sysfs_root, struct bd_vmdir **dirs, size_t *n)
{
	char file[4096];
	struct dirent *de;
	struct bd_vmdir *v = NULL;
	size_t cnt = 0, alloc = 0;
	DIR *d;

	*dirs = NULL;
	*n = 0;
	snprintf(file, sizeof(file), "%s/vms", sysfs_root);
	d = opendir(file);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char buf[4096];
		ssize_t len;
		int fd;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(v->id))
			continue;
		snprintf(file, sizeof(file), "%s/vms/%s/path", sysfs_root, de->d_name);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;	/* gone meanwhile */
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (buf[len - 1] == '\n')
			buf[len - 1] = '\0';
		if (cnt == alloc) {
			struct bd_vmdir *nv;

			alloc = alloc ? alloc * 2 : 16;
			nv = realloc(v, alloc * sizeof(*v));
			if (!nv)
				goto nomem;
			v = nv;
		}
		memcpy(v[cnt].id, de->d_name, strlen(de->d_name) + 1);	/* length checked */
		v[cnt].path = strdup(buf);
		if (!v[cnt++].path)
			goto nomem;
	}
	closedir(d);
	*dirs = v;
	*n = cnt;
	return 0;
nomem:
	closedir(d);
	bd_free_vmdirs(v, cnt);
	return -ENOMEM;
}
