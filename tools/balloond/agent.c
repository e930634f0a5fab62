// SPDX-License-Identifier: GPL-2.0
/*
 * The agent: one libvirt connection, a table of the running domains it has seen, and for each
 * domain on esxmm memory its vms/<id>/ directories.
 *
 * A rescan (at start, every rescan period, after a lifecycle or metadata event, on SIGHUP)
 * lists the active domains, reads each one's XML, finds its QEMU process and esxmm files
 * (discover.c), writes shares and min_pages where they differ from what esxmm has, and opens
 * balloon_target_pages. Between rescans the agent waits in poll() for esxmm's sysfs_notify()
 * on those files (POLLPRI), libvirt's fds and timers, and the next periodic job. A domain's
 * memory is set to its maximum minus its balloon target (the sum over its files) with
 * virDomainSetMemory, but only when that moves it by at least the hysteresis (min_change_kib
 * and min_change_percent of its memory), at most once per min_interval_ms, and never below
 * floor_kib. A lost connection (close callback, keepalive, a failed call) drops the table; the
 * agent reconnects with exponential backoff (1 s to 60 s) and starts over from a rescan.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libvirt/virterror.h>

#include "balloond.h"

#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	60000
#define TICK_MS		1000	/* longest sleep while something is pending */

struct vmfile {			/* one esxmm file of a domain */
	char id[32];
	char *path;
	int fd;			/* balloon_target_pages, open for poll() */
	uint64_t size_pages;
	uint64_t target;	/* last balloon_target_pages read */
};

enum dom_state { DOM_NEW, DOM_ATTACHED, DOM_IGNORED };

struct dom {
	char uuid[VIR_UUID_STRING_BUFLEN];
	char name[256];
	virDomainPtr dom;
	enum dom_state state;
	char *ignored_why;	/* logged once per reason */
	char *conf_error;	/* the metadata error last logged */
	struct vmfile *files;
	size_t nfiles;
	uint64_t memory_kib;	/* maximum */
	uint64_t min_kib;
	int id;			/* libvirt's id of this run: a new one means a restart */
	uint64_t want_kib;	/* the last memory computed from the targets */
	uint64_t last_set_kib;	/* what we asked for last; 0: not known yet */
	int64_t last_set_ms;
	int64_t retry_ms;	/* after a failed virDomainSetMemory */
	unsigned int failures;
	int pending;		/* a change waits for min_interval */
	int period_set;
	int seen;
	virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
	int nstats;
};

struct bd_agent {
	struct bd_opts o;
	virConnectPtr conn;
	int lifecycle_id, metadata_id, close_registered;
	int lost;		/* set by the close callback */
	int rescan;
	int64_t next_connect_ms, backoff_ms;
	int64_t next_rescan_ms, next_poll_ms, next_stats_ms;
	struct dom **doms;
	size_t ndoms;
	int sysfs_missing_logged;
	struct bd_counters c;
};

static void quiet_virt_errors(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

void bd_opts_default(struct bd_opts *o)
{
	*o = (struct bd_opts){
		.uri = "qemu:///system",
		.sysfs_root = "/sys/kernel/esxmm",
		.proc_root = "/proc",
		.rescan_ms = 30000,
		.poll_interval_ms = 0,
		.stats_period_s = 5,
		.min_change_kib = 1024,
		.min_change_percent = 1,
		.min_interval_ms = 2000,
		.floor_kib = 131072,
	};
}

struct bd_agent *bd_agent_new(const struct bd_opts *o)
{
	struct bd_agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->o = *o;
	a->lifecycle_id = a->metadata_id = -1;
	a->backoff_ms = BACKOFF_MIN_MS;
	a->next_connect_ms = bd_now_ms();
	virSetErrorFunc(NULL, quiet_virt_errors);
	return a;
}

const struct bd_counters *bd_agent_counters(struct bd_agent *a)
{
	return &a->c;
}

virConnectPtr bd_agent_conn(struct bd_agent *a)
{
	return a->conn;
}

void bd_agent_request_rescan(struct bd_agent *a)
{
	a->rescan = 1;
}

/* ---- sysfs ---- */

static void vm_file_name(const struct bd_agent *a, const struct vmfile *f, const char *attr,
			 char *buf, size_t len)
{
	snprintf(buf, len, "%s/vms/%s/%s", a->o.sysfs_root, f->id, attr);
}

/* Write @v to vms/<id>/@attr unless it already holds it. Return: 1 written, 0 equal, -errno. */
static int write_attr(struct bd_agent *a, struct dom *d, struct vmfile *f, const char *attr,
		      uint64_t v)
{
	char file[4096], buf[32];
	uint64_t cur;
	int fd, len, err = 0;

	vm_file_name(a, f, attr, file, sizeof(file));
	if (!bd_read_u64_file(file, &cur) && cur == v)
		return 0;
	len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)v);
	if (a->o.dry_run) {
		bd_info("%s: would write %s = %llu (vms/%s)", d->name, attr,
			(unsigned long long)v, f->id);
		return 0;
	}
	fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, len) != len)
		err = -errno;
	if (fd >= 0 && close(fd) && !err)
		err = -errno;
	if (err) {
		a->c.write_failed++;
		bd_err("%s: writing %llu to %s failed: %s%s", d->name, (unsigned long long)v,
		       file, strerror(-err), err == -ENOMEM && !strcmp(attr, "min_pages") ?
		       " (esxmm's admission control: the reservations do not fit the pool)" : "");
		return err;
	}
	a->c.writes++;
	bd_info("%s: vms/%s/%s = %llu", d->name, f->id, attr, (unsigned long long)v);
	return 1;
}

static void close_files(struct dom *d)
{
	size_t i;

	for (i = 0; i < d->nfiles; i++) {
		if (d->files[i].fd >= 0)
			close(d->files[i].fd);
		free(d->files[i].path);
	}
	free(d->files);
	d->files = NULL;
	d->nfiles = 0;
}

/* Re-read every file's balloon_target_pages. Return: 1 if any changed, -1 if one is gone. */
static int read_targets(struct dom *d)
{
	int changed = 0;
	size_t i;

	for (i = 0; i < d->nfiles; i++) {
		struct vmfile *f = &d->files[i];
		uint64_t v;

		if (f->fd < 0 || bd_read_u64_fd(f->fd, &v))
			return -1;
		if (v != f->target) {
			bd_debug("%s: vms/%s/balloon_target_pages %llu -> %llu", d->name, f->id,
				 (unsigned long long)f->target, (unsigned long long)v);
			f->target = v;
			changed = 1;
		}
	}
	return changed;
}

/* ---- the domain table ---- */

static void dom_free(struct dom *d)
{
	close_files(d);
	if (d->dom)
		virDomainFree(d->dom);
	free(d->ignored_why);
	free(d->conf_error);
	free(d);
}

static void drop_all(struct bd_agent *a)
{
	size_t i;

	for (i = 0; i < a->ndoms; i++)
		dom_free(a->doms[i]);
	free(a->doms);
	a->doms = NULL;
	a->ndoms = 0;
}

static struct dom *dom_find(struct bd_agent *a, const char *uuid)
{
	size_t i;

	for (i = 0; i < a->ndoms; i++)
		if (!strcmp(a->doms[i]->uuid, uuid))
			return a->doms[i];
	return NULL;
}

static struct dom *dom_add(struct bd_agent *a, const char *uuid)
{
	struct dom **nd = realloc(a->doms, (a->ndoms + 1) * sizeof(*nd));
	struct dom *d;

	if (!nd)
		return NULL;
	a->doms = nd;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	memcpy(d->uuid, uuid, sizeof(d->uuid));
	a->doms[a->ndoms++] = d;
	return d;
}

static void set_ignored(struct bd_agent *a, struct dom *d, const char *why)
{
	if (d->state == DOM_ATTACHED)
		bd_notice("%s: detached from esxmm: %s", d->name, why);
	if (d->state != DOM_IGNORED || !d->ignored_why || strcmp(d->ignored_why, why)) {
		bd_info("%s: ignored: %s", d->name, why);
		free(d->ignored_why);
		d->ignored_why = strdup(why);
		a->c.ignored++;
	}
	close_files(d);
	d->state = DOM_IGNORED;
}

/* Log a metadata error once (until it changes or goes away). */
static void conf_error(struct dom *d, const char *err)
{
	if (!err) {
		if (d->conf_error)
			bd_info("%s: esxmm metadata accepted again", d->name);
		free(d->conf_error);
		d->conf_error = NULL;
		return;
	}
	if (d->conf_error && !strcmp(d->conf_error, err))
		return;
	bd_err("%s: esxmm metadata refused, nothing applied: %s", d->name, err);
	free(d->conf_error);
	d->conf_error = strdup(err);
}

/* Share @total among the files in proportion to their sizes (the last takes the rest). */
static uint64_t portion(const struct dom *d, size_t i, uint64_t total)
{
	uint64_t all = 0, sum = 0, p;
	size_t j;

	if (d->nfiles == 1)
		return total;
	for (j = 0; j < d->nfiles; j++)
		all += d->files[j].size_pages;
	if (!all)
		return total / d->nfiles;
	for (j = 0; j < i; j++)
		sum += (__uint128_t)total * d->files[j].size_pages / all;
	p = (__uint128_t)total * d->files[i].size_pages / all;
	if (i == d->nfiles - 1)
		p = total - sum;
	return p;
}

static void apply_conf(struct bd_agent *a, struct dom *d, const struct bd_domconf *c)
{
	size_t i;

	conf_error(d, c->error[0] ? c->error : NULL);
	if (c->error[0])
		return;
	for (i = 0; i < d->nfiles; i++) {
		struct vmfile *f = &d->files[i];

		if (c->has_shares) {
			uint64_t s = portion(d, i, c->shares);

			write_attr(a, d, f, "shares", s ? s : 1);
		}
		if (c->has_min) {
			uint64_t pages = (c->min_kib + BD_PAGE_KIB - 1) / BD_PAGE_KIB;
			uint64_t m = portion(d, i, pages);

			write_attr(a, d, f, "min_pages", m < f->size_pages ? m : f->size_pages);
		}
	}
}

/*
 * Make d->files the vms/<id>/ of @paths: keep the ones still there (their fds and targets),
 * open the new ones. Return: 0, or a reason to ignore the domain (static string in @why).
 */
static int map_files(struct bd_agent *a, struct dom *d, char **paths, size_t npaths,
		     const struct bd_vmdir *dirs, size_t ndirs, char *why, size_t whylen)
{
	struct vmfile *nf = calloc(npaths, sizeof(*nf));
	size_t i, j, k;

	if (!nf) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < npaths; i++)
		nf[i].fd = -1;
	for (i = 0; i < npaths; i++) {
		const struct bd_vmdir *match = NULL;
		char file[4096];

		for (j = 0; j < ndirs; j++) {
			if (strcmp(dirs[j].path, paths[i]))
				continue;
			if (match) {
				snprintf(why, whylen, "%s is the path of both vms/%s and vms/%s "
					 "(two esxmm mounts?)", paths[i], match->id, dirs[j].id);
				goto fail;
			}
			match = &dirs[j];
		}
		if (!match) {
			snprintf(why, whylen, "%s is mapped but no %s/vms/*/path names it",
				 paths[i], a->o.sysfs_root);
			goto fail;
		}
		snprintf(nf[i].id, sizeof(nf[i].id), "%s", match->id);
		nf[i].path = strdup(paths[i]);
		for (k = 0; k < d->nfiles; k++) {
			if (!strcmp(d->files[k].id, nf[i].id) && d->files[k].fd >= 0) {
				nf[i].fd = d->files[k].fd;
				nf[i].target = d->files[k].target;
				d->files[k].fd = -1;
				break;
			}
		}
		vm_file_name(a, &nf[i], "size_pages", file, sizeof(file));
		if (bd_read_u64_file(file, &nf[i].size_pages))
			nf[i].size_pages = 0;
		if (nf[i].fd < 0) {
			vm_file_name(a, &nf[i], "balloon_target_pages", file, sizeof(file));
			nf[i].fd = open(file, O_RDONLY | O_CLOEXEC);
			if (nf[i].fd < 0 || bd_read_u64_fd(nf[i].fd, &nf[i].target)) {
				snprintf(why, whylen, "cannot read %s: %s", file, strerror(errno));
				goto fail;
			}
			bd_notice("%s: attached to vms/%s (%s, %llu pages, balloon target %llu)",
				  d->name, nf[i].id, nf[i].path,
				  (unsigned long long)nf[i].size_pages,
				  (unsigned long long)nf[i].target);
		}
	}
	close_files(d);
	d->files = nf;
	d->nfiles = npaths;
	return 0;
fail:
	for (i = 0; i < npaths; i++) {
		if (nf[i].fd >= 0)
			close(nf[i].fd);
		free(nf[i].path);
	}
	free(nf);
	return -EINVAL;
}

static void enable_stats(struct bd_agent *a, struct dom *d)
{
	if (d->period_set || a->o.stats_period_s <= 0 || a->o.dry_run)
		return;
	d->period_set = 1;
	if (virDomainSetMemoryStatsPeriod(d->dom, a->o.stats_period_s, VIR_DOMAIN_AFFECT_LIVE))
		bd_warn("%s: cannot set the balloon stats period: %s", d->name, bd_virt_error());
	else
		bd_debug("%s: balloon stats every %d s", d->name, a->o.stats_period_s);
}

static void balloon(struct bd_agent *a, struct dom *d, int64_t now);

/* Look at one running domain; @pids from the /proc scan, @dirs from vms/. */
static void refresh(struct bd_agent *a, virDomainPtr vd, const struct bd_pid *pids,
		    size_t npids, const struct bd_vmdir *dirs, size_t ndirs, int have_sysfs)
{
	char uuid[VIR_UUID_STRING_BUFLEN], why[4608];
	struct bd_domconf conf;
	struct dom *d;
	char *xml, **paths = NULL;
	size_t i, npaths = 0;
	int found_pid = 0;

	if (virDomainGetUUIDString(vd, uuid))
		return;
	d = dom_find(a, uuid);
	if (!d) {
		d = dom_add(a, uuid);
		if (!d)
			return;
		snprintf(d->name, sizeof(d->name), "%s", virDomainGetName(vd));
		virDomainRef(vd);
		d->dom = vd;
		d->id = (int)virDomainGetID(vd);
		bd_debug("%s: running (uuid %s)", d->name, uuid);
	} else if ((int)virDomainGetID(vd) != d->id) {
		/* stopped and started again between two looks: start over */
		bd_info("%s: restarted (id %d -> %d)", d->name, d->id, (int)virDomainGetID(vd));
		close_files(d);
		virDomainFree(d->dom);
		virDomainRef(vd);
		d->dom = vd;
		d->id = (int)virDomainGetID(vd);
		d->state = DOM_NEW;
	}
	d->seen = 1;
	xml = virDomainGetXMLDesc(vd, 0);
	if (!xml || bd_parse_domxml(xml, &conf)) {
		bd_warn("%s: cannot read its XML: %s", d->name,
			xml ? "not a domain" : bd_virt_error());
		free(xml);
		return;
	}
	free(xml);
	d->memory_kib = virDomainGetMaxMemory(vd);
	if (!d->memory_kib)
		d->memory_kib = conf.memory_kib;
	d->min_kib = conf.has_min ? conf.min_kib : 0;

	if (!have_sysfs) {
		set_ignored(a, d, "esxmm is not loaded");
		return;
	}
	for (i = 0; i < npids && !npaths; i++) {
		int err;

		if (strcasecmp(pids[i].uuid, uuid))
			continue;
		found_pid = 1;
		err = bd_pid_esxmm_files(a->o.proc_root, pids[i].pid, &paths, &npaths);
		if (err)
			bd_debug("%s: pid %d: %s", d->name, (int)pids[i].pid, strerror(-err));
		else
			bd_debug("%s: pid %d maps %zu esxmm file(s)", d->name, (int)pids[i].pid,
				 npaths);
	}
	if (!found_pid) {
		snprintf(why, sizeof(why), "no process in %s has \"-uuid %s\" on its command line",
			 a->o.proc_root, uuid);
		set_ignored(a, d, why);
		return;
	}
	if (!npaths) {
		snprintf(why, sizeof(why), "its memory is not on an esxmm mount (no shared "
			 "mapping of an esxmm file%s)", conf.file_backed ? "" :
			 "; the XML has no <memoryBacking><source type='file'/>");
		set_ignored(a, d, why);
		return;
	}
	if (map_files(a, d, paths, npaths, dirs, ndirs, why, sizeof(why))) {
		bd_free_strv(paths, npaths);
		set_ignored(a, d, why);
		return;
	}
	bd_free_strv(paths, npaths);
	if (d->state != DOM_ATTACHED) {
		d->state = DOM_ATTACHED;
		d->last_set_kib = d->want_kib = 0;
		d->last_set_ms = d->retry_ms = 0;
		d->failures = 0;
		d->period_set = 0;
		a->c.attached++;
	}
	apply_conf(a, d, &conf);
	enable_stats(a, d);
	read_targets(d);
	balloon(a, d, bd_now_ms());
}

static void rescan(struct bd_agent *a)
{
	struct bd_vmdir *dirs = NULL;
	struct bd_pid *pids = NULL;
	size_t ndirs = 0, npids = 0, i, j;
	virDomainPtr *list = NULL;
	int n, err, have_sysfs;

	a->rescan = 0;
	a->c.rescans++;
	err = bd_read_vmdirs(a->o.sysfs_root, &dirs, &ndirs);
	have_sysfs = !err;
	if (err && !a->sysfs_missing_logged) {
		bd_warn("%s/vms: %s (is esxmm.ko loaded?); will look again", a->o.sysfs_root,
			strerror(-err));
		a->sysfs_missing_logged = 1;
	} else if (!err && a->sysfs_missing_logged) {
		bd_notice("%s/vms is there now", a->o.sysfs_root);
		a->sysfs_missing_logged = 0;
	}
	err = bd_scan_uuid_pids(a->o.proc_root, &pids, &npids);
	if (err)
		bd_warn("cannot read %s: %s", a->o.proc_root, strerror(-err));

	n = virConnectListAllDomains(a->conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		bd_warn("listing domains failed: %s", bd_virt_error());
		if (virConnectIsAlive(a->conn) != 1)
			bd_agent_conn_lost(a, "listing domains failed");
		goto out;
	}
	bd_debug("rescan: %d running domain(s), %zu vms, %zu qemu process(es)", n, ndirs, npids);
	for (i = 0; i < a->ndoms; i++)
		a->doms[i]->seen = 0;
	for (j = 0; j < (size_t)n; j++) {
		refresh(a, list[j], pids, npids, dirs, ndirs, have_sysfs);
		virDomainFree(list[j]);
	}
	free(list);
	for (i = 0; i < a->ndoms;) {
		struct dom *d = a->doms[i];

		if (d->seen) {
			i++;
			continue;
		}
		if (d->state == DOM_ATTACHED)
			bd_notice("%s: no longer running: detached", d->name);
		else
			bd_debug("%s: no longer running", d->name);
		dom_free(d);
		a->doms[i] = a->doms[--a->ndoms];
	}
out:
	bd_free_vmdirs(dirs, ndirs);
	free(pids);
	a->next_rescan_ms = bd_now_ms() + a->o.rescan_ms;
}

/* ---- the balloon ---- */

static void balloon(struct bd_agent *a, struct dom *d, int64_t now)
{
	uint64_t target = 0, want, floor, diff, thr;
	size_t i;

	if (d->state != DOM_ATTACHED || !d->memory_kib)
		return;
	for (i = 0; i < d->nfiles; i++)
		target += d->files[i].target;
	want = target * BD_PAGE_KIB < d->memory_kib ? d->memory_kib - target * BD_PAGE_KIB : 0;
	floor = a->o.floor_kib > d->min_kib ? a->o.floor_kib : d->min_kib;
	if (floor > d->memory_kib)
		floor = d->memory_kib;
	if (want < floor) {
		if (floor != d->want_kib)
			bd_debug("%s: balloon target %llu pages would leave %llu KiB: kept at "
				 "%llu KiB", d->name, (unsigned long long)target,
				 (unsigned long long)want, (unsigned long long)floor);
		want = floor;
	}
	/* nothing new since the last look (called on every wake-up) */
	if (want == d->want_kib && !d->pending)
		return;
	d->want_kib = want;
	if (!d->last_set_kib) {
		virDomainInfo info;

		if (virDomainGetInfo(d->dom, &info)) {
			bd_warn("%s: virDomainGetInfo: %s", d->name, bd_virt_error());
			return;
		}
		d->last_set_kib = info.memory;
		bd_debug("%s: memory now %lu of %llu KiB", d->name, info.memory,
			 (unsigned long long)d->memory_kib);
	}
	d->pending = 0;
	diff = want > d->last_set_kib ? want - d->last_set_kib : d->last_set_kib - want;
	thr = d->memory_kib / 100 * a->o.min_change_percent;
	if (thr < a->o.min_change_kib)
		thr = a->o.min_change_kib;
	if (!diff)
		return;
	if (diff < thr && want != d->memory_kib) {
		bd_debug("%s: %llu KiB wanted, %llu KiB set: below the threshold of %llu KiB",
			 d->name, (unsigned long long)want, (unsigned long long)d->last_set_kib,
			 (unsigned long long)thr);
		return;
	}
	if (d->last_set_ms && now < d->last_set_ms + a->o.min_interval_ms) {
		d->pending = 1;
		return;
	}
	if (now < d->retry_ms) {
		d->pending = 1;
		return;
	}
	if (a->o.dry_run) {
		bd_info("%s: would set memory %llu -> %llu KiB (balloon target %llu pages)",
			d->name, (unsigned long long)d->last_set_kib, (unsigned long long)want,
			(unsigned long long)target);
		d->last_set_kib = want;
		return;
	}
	d->last_set_ms = now;
	if (virDomainSetMemory(d->dom, want)) {
		unsigned int shift = d->failures < 6 ? d->failures : 6;
		int64_t delay = (int64_t)a->o.min_interval_ms << shift;

		a->c.set_memory_failed++;
		d->failures++;
		if (delay < BACKOFF_MIN_MS)
			delay = BACKOFF_MIN_MS;
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
		d->retry_ms = now + delay;
		d->pending = 1;
		/* said once at warning level; the retries at debug */
		bd_log(d->failures == 1 ? BD_WARNING : BD_DEBUG,
		       "%s: virDomainSetMemory(%llu KiB) failed: %s; again in %lld ms", d->name,
		       (unsigned long long)want, bd_virt_error(), (long long)delay);
		return;
	}
	a->c.set_memory++;
	d->failures = 0;
	d->retry_ms = 0;
	bd_info("%s: memory %llu -> %llu KiB (balloon target %llu pages of %llu KiB)", d->name,
		(unsigned long long)d->last_set_kib, (unsigned long long)want,
		(unsigned long long)target, (unsigned long long)d->memory_kib);
	d->last_set_kib = want;
}

/* ---- stats ---- */

static const char *stat_name(int tag)
{
	switch (tag) {
	case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON: return "actual";
	case VIR_DOMAIN_MEMORY_STAT_UNUSED: return "unused";
	case VIR_DOMAIN_MEMORY_STAT_AVAILABLE: return "available";
	case VIR_DOMAIN_MEMORY_STAT_USABLE: return "usable";
	case VIR_DOMAIN_MEMORY_STAT_RSS: return "rss";
	case VIR_DOMAIN_MEMORY_STAT_SWAP_IN: return "swap_in";
	case VIR_DOMAIN_MEMORY_STAT_SWAP_OUT: return "swap_out";
	case VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT: return "major_fault";
	default: return NULL;
	}
}

static void format_stats(const struct dom *d, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < d->nstats && off < len; i++) {
		const char *n = stat_name(d->stats[i].tag);

		if (n)
			off += snprintf(buf + off, len - off, " %s %llu", n, d->stats[i].val);
	}
}

static void read_stats(struct bd_agent *a)
{
	char buf[512];
	size_t i;

	for (i = 0; i < a->ndoms; i++) {
		struct dom *d = a->doms[i];
		int n;

		if (d->state != DOM_ATTACHED)
			continue;
		n = virDomainMemoryStats(d->dom, d->stats, VIR_DOMAIN_MEMORY_STAT_NR, 0);
		if (n < 0) {
			bd_debug("%s: virDomainMemoryStats: %s", d->name, bd_virt_error());
			d->nstats = 0;
			continue;
		}
		d->nstats = n;
		format_stats(d, buf, sizeof(buf));
		bd_debug("%s: stats (KiB):%s", d->name, buf);
	}
}

void bd_agent_status(struct bd_agent *a)
{
	char buf[512];
	size_t i, j;

	bd_notice("status: %s, %zu domain(s), %lu rescans, %lu SetMemory (%lu failed), "
		  "%lu sysfs writes (%lu failed)", a->conn ? "connected" : "disconnected",
		  a->ndoms, a->c.rescans, a->c.set_memory, a->c.set_memory_failed, a->c.writes,
		  a->c.write_failed);
	for (i = 0; i < a->ndoms; i++) {
		struct dom *d = a->doms[i];
		uint64_t t = 0;

		if (d->state != DOM_ATTACHED) {
			bd_notice("status: %s: ignored: %s", d->name,
				  d->ignored_why ? d->ignored_why : "-");
			continue;
		}
		for (j = 0; j < d->nfiles; j++)
			t += d->files[j].target;
		format_stats(d, buf, sizeof(buf));
		bd_notice("status: %s: %zu file(s), vms/%s, target %llu pages, memory %llu of "
			  "%llu KiB%s%s", d->name, d->nfiles, d->files[0].id, (unsigned long long)t,
			  (unsigned long long)d->last_set_kib, (unsigned long long)d->memory_kib,
			  buf[0] ? ", stats:" : "", buf);
	}
}

/* ---- the connection ---- */

static int lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail,
			void *opaque)
{
	struct bd_agent *a = opaque;

	(void)conn;
	bd_debug("%s: lifecycle event %d (detail %d)", virDomainGetName(dom), event, detail);
	a->c.events++;
	a->rescan = 1;
	return 0;
}

static void metadata_cb(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
			void *opaque)
{
	struct bd_agent *a = opaque;

	(void)conn;
	bd_debug("%s: metadata event %d %s", virDomainGetName(dom), type, nsuri ? nsuri : "");
	a->c.events++;
	a->rescan = 1;
}

static void close_cb(virConnectPtr conn, int reason, void *opaque)
{
	struct bd_agent *a = opaque;

	(void)conn;
	bd_warn("connection closed by libvirt (reason %d)", reason);
	a->lost = 1;
}

static void disconnect(struct bd_agent *a)
{
	if (!a->conn)
		return;
	if (a->lifecycle_id >= 0)
		virConnectDomainEventDeregisterAny(a->conn, a->lifecycle_id);
	if (a->metadata_id >= 0)
		virConnectDomainEventDeregisterAny(a->conn, a->metadata_id);
	if (a->close_registered)
		virConnectUnregisterCloseCallback(a->conn, close_cb);
	a->lifecycle_id = a->metadata_id = -1;
	a->close_registered = 0;
	drop_all(a);
	virConnectClose(a->conn);
	a->conn = NULL;
}

void bd_agent_conn_lost(struct bd_agent *a, const char *why)
{
	bd_warn("lost the connection to %s (%s): reconnecting in %lld s", a->o.uri, why,
		(long long)a->backoff_ms / 1000);
	disconnect(a);
	a->lost = 0;
	a->next_connect_ms = bd_now_ms() + a->backoff_ms;
}

static void try_connect(struct bd_agent *a)
{
	a->conn = virConnectOpen(a->o.uri);
	if (!a->conn) {
		bd_warn("cannot connect to %s: %s; again in %lld s", a->o.uri, bd_virt_error(),
			(long long)a->backoff_ms / 1000);
		a->next_connect_ms = bd_now_ms() + a->backoff_ms;
		a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
				a->backoff_ms * 2;
		return;
	}
	a->c.connects++;
	a->backoff_ms = BACKOFF_MIN_MS;
	a->lost = 0;
	bd_notice("connected to %s", a->o.uri);
	if (virConnectRegisterCloseCallback(a->conn, close_cb, a, NULL) == 0)
		a->close_registered = 1;
	else
		bd_debug("no close callback: %s", bd_virt_error());
	if (virConnectSetKeepAlive(a->conn, 5, 3) < 0)
		bd_debug("no keepalive: %s", bd_virt_error());
	a->lifecycle_id = virConnectDomainEventRegisterAny(a->conn, NULL,
			VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), a,
			NULL);
	if (a->lifecycle_id < 0)
		bd_warn("no lifecycle events (%s): relying on the rescan every %d s",
			bd_virt_error(), a->o.rescan_ms / 1000);
	a->metadata_id = virConnectDomainEventRegisterAny(a->conn, NULL,
			VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(metadata_cb),
			a, NULL);
	if (a->metadata_id < 0)
		bd_debug("no metadata events: %s", bd_virt_error());
	a->rescan = 1;
}

void bd_agent_free(struct bd_agent *a)
{
	if (!a)
		return;
	disconnect(a);
	free(a);
}

/* ---- the loop ---- */

static int64_t earliest(int64_t t, int64_t u)
{
	return u && (!t || u < t) ? u : t;
}

int bd_agent_step(struct bd_agent *a, struct pollfd *extra, size_t nextra, int max_wait_ms)
{
	struct pollfd *fds;
	struct dom **owner;
	size_t *fileidx, nfds = 0, i, j;
	int64_t now = bd_now_ms(), deadline = 0, wait;
	int ret;

	if (a->conn && (a->lost || virConnectIsAlive(a->conn) != 1))
		bd_agent_conn_lost(a, a->lost ? "closed" : "not alive");
	if (!a->conn && now >= a->next_connect_ms)
		try_connect(a);
	if (a->conn && (a->rescan || now >= a->next_rescan_ms))
		rescan(a);
	now = bd_now_ms();
	if (a->conn && a->o.poll_interval_ms > 0 && now >= a->next_poll_ms) {
		for (i = 0; i < a->ndoms; i++)
			if (a->doms[i]->state == DOM_ATTACHED && read_targets(a->doms[i]) < 0)
				a->rescan = 1;
		a->next_poll_ms = now + a->o.poll_interval_ms;
	}
	if (a->conn && a->o.stats_period_s > 0 && now >= a->next_stats_ms) {
		read_stats(a);
		a->next_stats_ms = now + a->o.stats_period_s * 1000LL;
	}
	for (i = 0; a->conn && i < a->ndoms; i++)
		balloon(a, a->doms[i], now);

	/* how long to sleep */
	if (!a->conn) {
		deadline = a->next_connect_ms;
	} else {
		deadline = a->next_rescan_ms;
		if (a->o.poll_interval_ms > 0)
			deadline = earliest(deadline, a->next_poll_ms);
		if (a->o.stats_period_s > 0)
			deadline = earliest(deadline, a->next_stats_ms);
		for (i = 0; i < a->ndoms; i++)
			if (a->doms[i]->pending)
				deadline = earliest(deadline, now + TICK_MS);
		if (a->rescan)
			deadline = now;
	}
	wait = deadline > now ? deadline - now : 0;
	if (max_wait_ms >= 0 && wait > max_wait_ms)
		wait = max_wait_ms;

	for (i = 0; i < a->ndoms; i++)
		nfds += a->doms[i]->nfiles;
	fds = calloc(nfds + nextra + 1, sizeof(*fds));
	owner = calloc(nfds + 1, sizeof(*owner));
	fileidx = calloc(nfds + 1, sizeof(*fileidx));
	if (!fds || !owner || !fileidx) {
		free(fds);
		free(owner);
		free(fileidx);
		return -1;
	}
	nfds = 0;
	for (i = 0; i < a->ndoms; i++) {
		for (j = 0; j < a->doms[i]->nfiles; j++) {
			fds[nextra + nfds].fd = a->doms[i]->files[j].fd;
			fds[nextra + nfds].events = POLLPRI;
			owner[nfds] = a->doms[i];
			fileidx[nfds++] = j;
		}
	}
	for (i = 0; i < nextra; i++)
		fds[i] = extra[i];

	ret = bd_evloop_run_once(fds, nextra + nfds, (int)wait);

	for (i = 0; i < nextra; i++)
		extra[i].revents = fds[i].revents;
	/* callbacks may have dropped the table (connection lost): owners are stale then */
	if (ret > 0 && a->conn) {
		for (i = 0; i < nfds; i++) {
			struct dom *d = owner[i];
			int r;

			if (!(fds[nextra + i].revents & (POLLPRI | POLLERR)))
				continue;
			for (j = 0; j < a->ndoms && a->doms[j] != d; j++)
				;
			if (j == a->ndoms || fileidx[i] >= d->nfiles)
				continue;
			r = read_targets(d);
			if (r < 0)
				a->rescan = 1;
			else if (r > 0)
				balloon(a, d, bd_now_ms());
		}
	}
	free(fds);
	free(owner);
	free(fileidx);
	return ret;
}
