/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esxmm-balloond: applies esxmm's balloon targets to libvirt domains.
 *
 * The agent is split so that everything but main() can be linked into a test program:
 * log.c (levels, stderr/journal), evloop.c (libvirt's event loop interface on our own poll()),
 * discover.c (which QEMU process maps which esxmm file, from /proc and /sys, under roots a
 * test can fake), domxml.c (the domain XML, parsed with libxml2) and agent.c (the connection,
 * the domain table, shares/min_pages, the balloon, stats).
 */
#ifndef ESXMM_BALLOOND_H
#define ESXMM_BALLOOND_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <libvirt/libvirt.h>

#define BD_NAME		"esxmm-balloond"
#define BD_VERSION	"0.1"

/* The namespace of our <metadata> element, and the element's name. */
#define BD_XMLNS	"https://esxmm.dev/xmlns/1"
#define BD_XMLNS_PREFIX	"esxmm"
#define BD_XML_ELEMENT	"memory"

#define BD_PAGE_KIB	4ULL

/* log.c: syslog priorities; messages above bd_log_level are dropped. */
enum { BD_ERR = 3, BD_WARNING = 4, BD_NOTICE = 5, BD_INFO = 6, BD_DEBUG = 7 };
extern int bd_log_level;
/* When set, every message that passes the level goes here instead of stderr (tests). */
extern void (*bd_log_hook)(int level, const char *msg);
void bd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define bd_err(...)	bd_log(BD_ERR, __VA_ARGS__)
#define bd_warn(...)	bd_log(BD_WARNING, __VA_ARGS__)
#define bd_notice(...)	bd_log(BD_NOTICE, __VA_ARGS__)
#define bd_info(...)	bd_log(BD_INFO, __VA_ARGS__)
#define bd_debug(...)	bd_log(BD_DEBUG, __VA_ARGS__)
/* libvirt's last error as text, never NULL. */
const char *bd_virt_error(void);
/* Milliseconds on CLOCK_MONOTONIC. */
int64_t bd_now_ms(void);

/* evloop.c */
int bd_evloop_register(void);
/*
 * bd_evloop_run_once() - one poll() over libvirt's handles and @nextra fds of the caller,
 * then libvirt's handle and timer callbacks. Sleeps at most @timeout_ms (-1: no limit).
 * Return: poll()'s result (the caller's revents are filled in), -1 on error (errno).
 */
int bd_evloop_run_once(struct pollfd *extra, size_t nextra, int timeout_ms);

/* discover.c */
struct bd_mount {		/* one mount of an esxmm filesystem */
	unsigned int major, minor;
	char *root;		/* the mount's root inside the filesystem ("/" mostly) */
	char *point;		/* where it is mounted */
};

struct bd_vmdir {		/* one /sys/kernel/esxmm/vms/<id>/ */
	char id[32];
	char *path;		/* contents of its path file, without the newline */
};

struct bd_pid {			/* a process whose command line carries "-uuid <uuid>" */
	pid_t pid;
	char uuid[VIR_UUID_STRING_BUFLEN];
};

char *bd_unescape_octal(const char *s);
int bd_parse_mountinfo(const char *file, struct bd_mount **mounts, size_t *n);
void bd_free_mounts(struct bd_mount *mounts, size_t n);
int bd_pid_esxmm_files(const char *proc_root, pid_t pid, char ***paths, size_t *n);
void bd_free_strv(char **v, size_t n);
int bd_scan_uuid_pids(const char *proc_root, struct bd_pid **pids, size_t *n);
int bd_read_vmdirs(const char *sysfs_root, struct bd_vmdir **dirs, size_t *n);
void bd_free_vmdirs(struct bd_vmdir *dirs, size_t n);
int bd_parse_u64(const char *s, uint64_t max, uint64_t *v);
int bd_read_u64_file(const char *file, uint64_t *v);
int bd_read_u64_fd(int fd, uint64_t *v);

/* domxml.c */
struct bd_domconf {
	char name[256];
	char uuid[VIR_UUID_STRING_BUFLEN];
	uint64_t memory_kib;	/* <memory>: the domain's maximum */
	int file_backed;	/* <memoryBacking><source type='file'/> */
	int shared_access;	/* <memoryBacking><access mode='shared'/> */
	int has_shares;
	uint64_t shares;
	int has_min;
	uint64_t min_kib;	/* reservation, from our metadata or <memtune><min_guarantee> */
	const char *min_from;	/* which of the two */
	char error[512];	/* bad metadata: why; then has_shares = has_min = 0 */
};

int bd_parse_domxml(const char *xml, struct bd_domconf *conf);

/* agent.c */
struct bd_opts {
	const char *uri;		/* NULL: qemu:///system */
	const char *sysfs_root;		/* /sys/kernel/esxmm */
	const char *proc_root;		/* /proc */
	int rescan_ms;			/* full rescan period */
	int poll_interval_ms;		/* re-read targets this often; 0: rely on poll() */
	int stats_period_s;		/* virDomainSetMemoryStatsPeriod; 0: leave it */
	uint64_t min_change_kib;	/* hysteresis: smallest change applied ... */
	unsigned int min_change_percent;/* ... and as a share of the domain's memory */
	int min_interval_ms;		/* at most one virDomainSetMemory per domain this often */
	uint64_t floor_kib;		/* never balloon a domain below this */
	int dry_run;			/* log, write and set nothing */
};

struct bd_agent;

void bd_opts_default(struct bd_opts *o);
struct bd_agent *bd_agent_new(const struct bd_opts *o);
void bd_agent_free(struct bd_agent *a);
/*
 * One pass of the main loop: connect, rescan, balloon, stats, then wait up to @max_wait_ms
 * (-1: until the next job) for libvirt, sysfs or @extra fds. Return: as bd_evloop_run_once().
 */
int bd_agent_step(struct bd_agent *a, struct pollfd *extra, size_t nextra, int max_wait_ms);
void bd_agent_request_rescan(struct bd_agent *a);
void bd_agent_status(struct bd_agent *a);
/* The agent's connection (NULL while disconnected); tests drive the test driver with it. */
virConnectPtr bd_agent_conn(struct bd_agent *a);
/* What the close callback does: drop the connection and reconnect with backoff. */
void bd_agent_conn_lost(struct bd_agent *a, const char *why);
/* Counters, for tests and the status line. */
struct bd_counters {
	unsigned long rescans, connects, set_memory, set_memory_failed, writes, write_failed;
	unsigned long attached, ignored, events;
};
const struct bd_counters *bd_agent_counters(struct bd_agent *a);

#endif
