// SPDX-License-Identifier: GPL-2.0
/*
 * test_balloond: esxmm-balloond's agent, in process, against libvirt's test driver
 * (test:///<tmp>/node.xml, domains with our metadata and <memtune><min_guarantee>) and a fake
 * /proc and /sys/kernel/esxmm under <tmp>. The agent opens the connection itself; the test
 * reads back through the same connection (virDomainGetInfo), starts and destroys domains on
 * it, and checks what was written in the fake sysfs and what was logged.
 *
 * A fake sysfs file cannot be sysfs_notify()'d, so the agent re-reads the targets every
 * 20 ms (--poll-interval). Last line: "balloond-unit: N passed, N failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libvirt/virterror.h>

#include "../../tools/balloond/balloond.h"

static int passed, failed;
static char tmp[256];
static struct bd_agent *agent;

#define CHECK(cond, ...) check(!!(cond), #cond, __VA_ARGS__)

static void check(int ok, const char *expr, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok)
		printf("  [%s]", expr);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

/* ---- captured log ---- */

static char **logv;
static size_t nlog;

static void hook(int level, const char *msg)
{
	logv = realloc(logv, (nlog + 1) * sizeof(*logv));
	if (asprintf(&logv[nlog], "%d %s", level, msg) < 0)
		abort();
	nlog++;
	if (getenv("BALLOOND_TEST_VERBOSE"))
		fprintf(stderr, "  log: %d %s\n", level, msg);
}

/* A logged line containing all of the given substrings (NULL-terminated). */
static int log_has(const char *first, ...)
{
	size_t i;

	for (i = 0; i < nlog; i++) {
		va_list ap;
		const char *s;
		int all = 1;

		va_start(ap, first);
		for (s = first; s; s = va_arg(ap, const char *))
			if (!strstr(logv[i], s))
				all = 0;
		va_end(ap);
		if (all)
			return 1;
	}
	return 0;
}
#define LOG_HAS(...) log_has(__VA_ARGS__, (const char *)NULL)

static void log_clear(void)
{
	size_t i;

	for (i = 0; i < nlog; i++)
		free(logv[i]);
	nlog = 0;
}

/* ---- the fake trees ---- */

static void mkdirs(const char *fmt, ...)
{
	char path[4096], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	for (p = path + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	mkdir(path, 0755);
}

static void put(const char *rel, const void *data, size_t len)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static void putf(const char *rel, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	put(rel, buf, len);
}

static long long get(const char *fmt, ...)
{
	char rel[1024], path[4096];
	uint64_t v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	return bd_read_u64_file(path, &v) ? -1 : (long long)v;
}

/* vms/<id>/ as esxmm shows it; shares 10 per MiB (esxmm's default) */
static void vmdir(int id, const char *path, unsigned long size_pages)
{
	char rel[64];

	mkdirs("%s/sys/vms/%d", tmp, id);
	snprintf(rel, sizeof(rel), "sys/vms/%d/path", id);
	putf(rel, "%s\n", path);
	snprintf(rel, sizeof(rel), "sys/vms/%d/size_pages", id);
	putf(rel, "%lu\n", size_pages);
	snprintf(rel, sizeof(rel), "sys/vms/%d/shares", id);
	putf(rel, "%lu\n", size_pages / 256 * 10);
	snprintf(rel, sizeof(rel), "sys/vms/%d/min_pages", id);
	putf(rel, "0\n");
	snprintf(rel, sizeof(rel), "sys/vms/%d/balloon_target_pages", id);
	putf(rel, "0\n");
}

static void set_target(int id, unsigned long pages)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "sys/vms/%d/balloon_target_pages", id);
	putf(rel, "%lu\n", pages);
}

/* a QEMU process: its command line, and maps with the given (already formatted) lines */
static void qemu(int pid, const char *name, const char *uuid, const char *maps)
{
	char rel[64], cmd[512];
	int len;

	mkdirs("%s/proc/%d", tmp, pid);
	len = snprintf(cmd, sizeof(cmd), "/usr/bin/qemu-system-x86_64%c-name%c"
		       "guest=%s,debug-threads=on%c-uuid%c%s%c-m%c1024%c",
		       0, 0, name, 0, 0, uuid, 0, 0, 0);
	snprintf(rel, sizeof(rel), "proc/%d/cmdline", pid);
	put(rel, cmd, len);
	snprintf(rel, sizeof(rel), "proc/%d/maps", pid);
	putf(rel, "55d0c0a00000-55d0c0e00000 r-xp 00000000 08:01 131 /usr/bin/qemu-system-x86_64\n"
	     "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n%s"
	     "7fff00000000-7fff00021000 rw-p 00000000 00:00 0                          [stack]\n",
	     maps);
}

#define UUID(n) "8f3c1a52-0000-4000-8000-00000000000" #n

static const char *node_xml =
"<node>\n"
"  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>\n"
"       <active>2</active><mhz>2000</mhz><model>i686</model></cpu>\n"
"  <memory>16777216</memory>\n"
"%s"
"</node>\n";

static const char *dom_fmt =
"  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
"    <name>%s</name><uuid>%s</uuid>\n"
"    <memory unit='KiB'>%lu</memory>\n"
"    <metadata>%s</metadata>\n"
"    %s\n"
"    <memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>\n"
"    <vcpu>1</vcpu><os><type>hvm</type></os>\n"
"    <devices><memballoon model='virtio'><stats period='10'/></memballoon></devices>\n"
"    %s\n"
"  </domain>\n";

static char *domain(const char *name, const char *uuid, unsigned long kib, const char *meta,
		    const char *memtune, int running)
{
	char *s;

	if (asprintf(&s, dom_fmt, name, uuid, kib, meta, memtune,
		     running ? "" : "<test:runstate>5</test:runstate>") < 0)
		abort();
	return s;
}

#define OURS(attrs) "<esxmm:memory xmlns:esxmm='" BD_XMLNS "' " attrs "/>"

/*
 * The setup:
 *   esxmm mounted at /run/esxmm (device 0:45), a tmpfs at /dev/shm (0:46)
 *   vm1  1 GiB, shares 2000, memtune min_guarantee 256 MiB   -> vms/3
 *   vm2  1 GiB in two NUMA files, shares 3000, min_guarantee_kib 262144, own mount namespace
 *        where esxmm's /libvirt is bind-mounted at /mnt/ns  -> vms/4, vms/5
 *   vm3  memory on tmpfs                                      -> ignored
 *   vm4  shares="lots"                                        -> vms/6, refused
 *   vm5  shares="0"                                           -> vms/7, refused
 *   vm6  shut off; started and destroyed by the test          -> vms/8
 *   vm7  no process with its -uuid                            -> ignored
 */
static void setup(void)
{
	char *doms, *d[7];
	int i;

	mkdirs("%s/proc/self", tmp);
	putf("proc/self/mountinfo",
	     "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	     "30 22 0:46 / /dev/shm rw,nosuid,nodev shared:5 - tmpfs tmpfs rw\n"
	     "41 22 0:45 / /run/esxmm rw,relatime shared:20 - esxmm none rw\n");

	qemu(101, "vm1", UUID(1),
	     "7f1000000000-7f1040000000 rw-s 00000000 00:2d 1001 "
	     "/run/esxmm/libvirt/qemu/1-vm1/ram-node0\n");
	qemu(102, "vm2", UUID(2),
	     "7f2000000000-7f2020000000 rw-s 00000000 00:2d 1002 /mnt/ns/qemu/2-vm2/ram-node0\n"
	     "7f2020000000-7f2040000000 rw-s 00000000 00:2d 1003 /mnt/ns/qemu/2-vm2/ram-node1\n");
	putf("proc/102/mountinfo",
	     "50 49 8:1 / / rw,relatime master:1 - ext4 /dev/sda1 rw\n"
	     "51 50 0:45 /libvirt /mnt/ns rw,relatime master:20 - esxmm none rw\n");
	qemu(103, "vm3", UUID(3),
	     "7f3000000000-7f3040000000 rw-s 00000000 00:2e 77 /dev/shm/vm3-ram\n");
	qemu(104, "vm4", UUID(4),
	     "7f4000000000-7f4040000000 rw-s 00000000 00:2d 1004 "
	     "/run/esxmm/libvirt/qemu/4-vm4/ram-node0\n");
	qemu(105, "vm5", UUID(5),
	     "7f5000000000-7f5040000000 rw-s 00000000 00:2d 1005 "
	     "/run/esxmm/libvirt/qemu/5-vm5/ram-node0\n");
	qemu(106, "vm6", UUID(6),
	     "7f6000000000-7f6040000000 rw-s 00000000 00:2d 1006 "
	     "/run/esxmm/libvirt/qemu/6-vm6/ram-node0\n");
	mkdirs("%s/proc/200", tmp);
	putf("proc/200/cmdline", "/usr/sbin/sshd");

	vmdir(3, "/libvirt/qemu/1-vm1/ram-node0", 262144);
	vmdir(4, "/libvirt/qemu/2-vm2/ram-node0", 131072);
	vmdir(5, "/libvirt/qemu/2-vm2/ram-node1", 131072);
	vmdir(6, "/libvirt/qemu/4-vm4/ram-node0", 262144);
	vmdir(7, "/libvirt/qemu/5-vm5/ram-node0", 262144);
	vmdir(8, "/libvirt/qemu/6-vm6/ram-node0", 262144);
	vmdir(9, "/other-guest", 1024);

	d[0] = domain("vm1", UUID(1), 1048576, OURS("shares='2000'"),
		      "<memtune><min_guarantee unit='MiB'>256</min_guarantee></memtune>", 1);
	d[1] = domain("vm2", UUID(2), 1048576, OURS("shares='3000' min_guarantee_kib='262144'"),
		      "", 1);
	d[2] = domain("vm3", UUID(3), 1048576, "", "", 1);
	d[3] = domain("vm4", UUID(4), 1048576, OURS("shares='lots'"),
		      "<memtune><min_guarantee unit='KiB'>4096</min_guarantee></memtune>", 1);
	d[4] = domain("vm5", UUID(5), 1048576, OURS("shares='0'"), "", 1);
	d[5] = domain("vm6", UUID(6), 1048576, OURS("shares='500'"), "", 0);
	d[6] = domain("vm7", UUID(7), 524288, "", "", 1);
	if (asprintf(&doms, "%s%s%s%s%s%s%s", d[0], d[1], d[2], d[3], d[4], d[5], d[6]) < 0)
		abort();
	putf("node.xml", node_xml, doms);
	for (i = 0; i < 7; i++)
		free(d[i]);
	free(doms);
}

/* ---- driving the agent ---- */

static int step_until(int (*cond)(void *), void *arg, int timeout_ms)
{
	int64_t end = bd_now_ms() + timeout_ms;

	while (!cond(arg)) {
		if (bd_now_ms() >= end)
			return 0;
		bd_agent_step(agent, NULL, 0, 10);
	}
	return 1;
}

static void run_for(int ms)
{
	int64_t end = bd_now_ms() + ms;

	while (bd_now_ms() < end)
		bd_agent_step(agent, NULL, 0, 10);
}

static long long mem_kib(const char *name)
{
	virConnectPtr conn = bd_agent_conn(agent);
	virDomainPtr d;
	virDomainInfo info;
	long long m = -1;

	if (!conn)
		return -1;
	d = virDomainLookupByName(conn, name);
	if (d && !virDomainGetInfo(d, &info))
		m = (long long)info.memory;
	if (d)
		virDomainFree(d);
	return m;
}

struct memwait { const char *name; long long kib; };

static int mem_is(void *arg)
{
	struct memwait *w = arg;

	return mem_kib(w->name) == w->kib;
}

static int wait_mem(const char *name, long long kib, int ms)
{
	struct memwait w = { name, kib };

	return step_until(mem_is, &w, ms);
}

/* wait up to 5 s for the domain's memory (virDomainGetInfo) to become @kib */
#define CHECK_MEM(name, kib, what)						\
	do {									\
		int ok_ = wait_mem(name, kib, 5000);				\
										\
		CHECK(ok_, what " (want %lld, have %lld)", (long long)(kib),	\
		      mem_kib(name));						\
	} while (0)

static int log_cond(void *arg)
{
	return LOG_HAS((const char *)arg);
}

static int connected_twice(void *arg)
{
	(void)arg;
	return bd_agent_counters(agent)->connects >= 2 && bd_agent_counters(agent)->rescans >= 3;
}

static int dom_op(const char *name, int start)
{
	virDomainPtr d = virDomainLookupByName(bd_agent_conn(agent), name);
	int r;

	if (!d)
		return -1;
	r = start ? virDomainCreate(d) : virDomainDestroy(d);
	virDomainFree(d);
	return r;
}

/* ---- pure functions ---- */

static void test_parsers(void)
{
	struct bd_domconf c;
	uint64_t v;
	char *s;
	static const struct { const char *meta, *memtune, *err; } bad[] = {
		{ OURS("shares='lots'"), "", "shares='lots' is not a decimal number" },
		{ OURS("shares='0'"), "", "shares='0' is out of range" },
		{ OURS("shares='4294967296'"), "", "shares='4294967296' is out of range" },
		{ OURS("shares='-5'"), "", "not a decimal number" },
		{ OURS("shares='0x10'"), "", "not a decimal number" },
		{ OURS("shares=' 10'"), "", "not a decimal number" },
		{ OURS("share='10'"), "", "unknown attribute 'share'" },
		{ OURS("min_guarantee_kib='1.5'"), "", "min_guarantee_kib='1.5' is not" },
		{ OURS("min_guarantee_kib='2097152'"), "", "more than the domain's memory" },
		{ OURS("shares='10'") OURS("shares='20'"), "", "2 <memory> elements" },
		{ "", "<memtune><min_guarantee unit='parsecs'>1</min_guarantee></memtune>",
		  "is not a size" },
		{ "", "<memtune><min_guarantee unit='GiB'>2</min_guarantee></memtune>",
		  "more than the domain's memory" },
	};
	size_t i;

	CHECK(bd_parse_u64("4294967295\n", 4294967295ULL, &v) == 0 && v == 4294967295ULL,
	      "parse_u64 takes the maximum with a newline");
	CHECK(bd_parse_u64("4294967296", 4294967295ULL, &v) == -ERANGE,
	      "parse_u64 refuses max + 1");
	CHECK(bd_parse_u64("18446744073709551616", UINT64_MAX, &v) == -ERANGE,
	      "parse_u64 refuses 2^64");
	CHECK(bd_parse_u64("", 10, &v) == -EINVAL && bd_parse_u64("1 ", 10, &v) == -EINVAL,
	      "parse_u64 refuses empty and trailing junk");
	s = bd_unescape_octal("/run/my\\040esxmm\\134x");
	CHECK(s && !strcmp(s, "/run/my esxmm\\x"), "mountinfo octal escapes decoded (%s)", s);
	free(s);

	s = domain("p", UUID(1), 1048576, OURS("shares='2000' min_guarantee_kib='1000'"),
		   "<memtune><min_guarantee unit='MiB'>256</min_guarantee></memtune>", 1);
	CHECK(bd_parse_domxml(s, &c) == 0 && !c.error[0] && c.has_shares && c.shares == 2000 &&
	      c.has_min && c.min_kib == 1000 && c.memory_kib == 1048576 && c.file_backed &&
	      c.shared_access && !strcmp(c.uuid, UUID(1)),
	      "domain XML: shares, min_guarantee_kib wins over memtune, memory, backing");
	free(s);
	s = domain("p", UUID(1), 1048576, "", "<memtune><min_guarantee unit='G'>1</min_guarantee>"
		   "</memtune>", 1);
	CHECK(bd_parse_domxml(s, &c) == 0 && !c.error[0] && !c.has_shares && c.has_min &&
	      c.min_kib == 1048576, "domain XML: memtune min_guarantee in G, no metadata");
	free(s);
	s = domain("p", UUID(1), 1048576, "<other xmlns='urn:x' shares='zzz'/>", "", 1);
	CHECK(bd_parse_domxml(s, &c) == 0 && !c.error[0] && !c.has_shares,
	      "domain XML: another namespace's metadata is not ours");
	free(s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = domain("p", UUID(1), 1048576, bad[i].meta, bad[i].memtune, 1);
		CHECK(bd_parse_domxml(s, &c) == 0 && strstr(c.error, bad[i].err) &&
		      !c.has_shares && !c.has_min, "bad metadata refused: %s -> \"%s\"",
		      bad[i].meta[0] ? bad[i].meta : bad[i].memtune, c.error);
		free(s);
	}
	CHECK(bd_parse_domxml("<domain><name>x</name", &c) == -EINVAL,
	      "malformed XML is an error");
}

static void test_discover(void)
{
	char **paths, path[4096];
	size_t n;
	struct bd_pid *pids;
	size_t i, found = 0;

	snprintf(path, sizeof(path), "%s/proc", tmp);
	CHECK(bd_pid_esxmm_files(path, 101, &paths, &n) == 0 && n == 1 &&
	      !strcmp(paths[0], "/libvirt/qemu/1-vm1/ram-node0"),
	      "maps of vm1: one esxmm file, path relative to the mount");
	bd_free_strv(paths, n);
	CHECK(bd_pid_esxmm_files(path, 102, &paths, &n) == 0 && n == 2 &&
	      !strcmp(paths[0], "/libvirt/qemu/2-vm2/ram-node0") &&
	      !strcmp(paths[1], "/libvirt/qemu/2-vm2/ram-node1"),
	      "maps of vm2 through its own mountinfo (mount root /libvirt at /mnt/ns)");
	bd_free_strv(paths, n);
	CHECK(bd_pid_esxmm_files(path, 103, &paths, &n) == 0 && n == 0,
	      "maps of vm3: a tmpfs file is not esxmm");
	bd_free_strv(paths, n);
	CHECK(bd_pid_esxmm_files(path, 999, &paths, &n) == -ENOENT, "no such process");
	CHECK(bd_scan_uuid_pids(path, &pids, &n) == 0, "scan /proc for -uuid");
	for (i = 0; i < n; i++)
		if ((pids[i].pid == 101 && !strcmp(pids[i].uuid, UUID(1))) ||
		    (pids[i].pid == 102 && !strcmp(pids[i].uuid, UUID(2))))
			found++;
	CHECK(n == 6 && found == 2, "six QEMU processes found by -uuid (%zu), sshd not", n);
	free(pids);
}

/* ---- the agent ---- */

static void test_agent(void)
{
	struct bd_opts o;
	char sys[300], proc[300], uri[300];
	unsigned long sets;

	snprintf(sys, sizeof(sys), "%s/sys", tmp);
	snprintf(proc, sizeof(proc), "%s/proc", tmp);
	snprintf(uri, sizeof(uri), "test://%s/node.xml", tmp);
	bd_opts_default(&o);
	o.uri = uri;
	o.sysfs_root = sys;
	o.proc_root = proc;
	o.poll_interval_ms = 20;
	o.min_interval_ms = 800;
	o.stats_period_s = 1;
	agent = bd_agent_new(&o);

	run_for(200);
	CHECK(bd_agent_conn(agent) && bd_agent_counters(agent)->rescans >= 1,
	      "connected to %s and rescanned", uri);

	/* shares and min_pages */
	CHECK(get("sys/vms/3/shares") == 2000, "vm1: vms/3/shares = 2000 (%lld)",
	      get("sys/vms/3/shares"));
	CHECK(get("sys/vms/3/min_pages") == 65536, "vm1: vms/3/min_pages = 256 MiB / 4 KiB (%lld)",
	      get("sys/vms/3/min_pages"));
	CHECK(get("sys/vms/4/shares") == 1500 && get("sys/vms/5/shares") == 1500,
	      "vm2: shares 3000 split over its two files (%lld, %lld)", get("sys/vms/4/shares"),
	      get("sys/vms/5/shares"));
	CHECK(get("sys/vms/4/min_pages") == 32768 && get("sys/vms/5/min_pages") == 32768,
	      "vm2: min_guarantee_kib 262144 split over its two files (%lld, %lld)",
	      get("sys/vms/4/min_pages"), get("sys/vms/5/min_pages"));
	CHECK(LOG_HAS("vm2: attached to vms/4") && LOG_HAS("vm2: attached to vms/5"),
	      "vm2: attached to both of its vms");
	CHECK(get("sys/vms/9/shares") == 40 && get("sys/vms/9/min_pages") == 0,
	      "vms/9 (no domain) untouched");

	/* not on esxmm, no process */
	CHECK(LOG_HAS("vm3: ignored: its memory is not on an esxmm mount"),
	      "vm3 (tmpfs memory) ignored with a log line");
	CHECK(LOG_HAS("vm7: ignored: no process", UUID(7)),
	      "vm7 (no QEMU process with its uuid) ignored with a log line");

	/* bad metadata */
	CHECK(LOG_HAS("3 vm4: esxmm metadata refused, nothing applied: shares='lots' is not a "
		      "decimal number"), "vm4: non-numeric shares refused at error level");
	CHECK(get("sys/vms/6/shares") == 10240 && get("sys/vms/6/min_pages") == 0,
	      "vm4: nothing written (shares %lld, min_pages %lld: not even memtune's)",
	      get("sys/vms/6/shares"), get("sys/vms/6/min_pages"));
	CHECK(LOG_HAS("vm5: esxmm metadata refused", "shares='0' is out of range"),
	      "vm5: shares 0 refused as out of range");
	CHECK(get("sys/vms/7/shares") == 10240, "vm5: nothing written");
	CHECK(LOG_HAS("vm4: attached to vms/6"), "vm4: still ballooned (only its metadata is bad)");

	/* the balloon */
	CHECK(mem_kib("vm1") == 1048576 && bd_agent_counters(agent)->set_memory == 0,
	      "no balloon target: memory left at the maximum, no SetMemory");
	set_target(3, 65536);
	CHECK_MEM("vm1", 1048576 - 65536 * 4, "vm1: target 65536 pages -> memory 786432 KiB");
	CHECK(LOG_HAS("vm1: memory 1048576 -> 786432 KiB"), "vm1: the change is logged");
	sets = bd_agent_counters(agent)->set_memory;
	set_target(3, 65536 + 2000);	/* 8000 KiB: under 1 % of 1 GiB */
	run_for(700);
	CHECK(mem_kib("vm1") == 786432 && bd_agent_counters(agent)->set_memory == sets,
	      "vm1: a change under the threshold (1 %% = 10485 KiB) is not applied (%lld)",
	      mem_kib("vm1"));
	set_target(3, 65536 + 5000);
	CHECK_MEM("vm1", 1048576 - 70536 * 4, "vm1: a change over it is");
	/* rate limit: two changes at once: the second waits out min_interval (800 ms) */
	set_target(3, 100000);
	CHECK_MEM("vm1", 1048576 - 400000, "vm1: target 100000 pages");
	set_target(3, 120000);
	run_for(100);
	CHECK(mem_kib("vm1") == 1048576 - 400000, "vm1: the next change waits (%lld)",
	      mem_kib("vm1"));
	CHECK_MEM("vm1", 1048576 - 480000, "... and comes after min_interval");
	set_target(3, 262000);
	CHECK_MEM("vm1", 262144,
		  "vm1: a target of all its memory stops at its min_guarantee (256 MiB)");
	set_target(3, 0);
	CHECK_MEM("vm1", 1048576, "vm1: target 0 deflates to the maximum");
	set_target(4, 10000);
	set_target(5, 20000);
	CHECK_MEM("vm2", 1048576 - 120000, "vm2: the targets of its two files add up");
	CHECK(mem_kib("vm3") == 1048576, "vm3 (ignored) untouched");

	/* stats */
	CHECK(LOG_HAS("vm2: balloon stats every 1 s"),
	      "stats period set (the domain has a balloon)");
	CHECK(LOG_HAS("vm2: stats (KiB): actual"), "memory stats read and logged at debug level");

	/* domains coming and going */
	log_clear();
	CHECK(dom_op("vm6", 1) == 0, "start vm6");
	CHECK(step_until(log_cond, "vm6: attached to vms/8", 2000),
	      "vm6 attached after its start event");
	CHECK(get("sys/vms/8/shares") == 500, "vm6: shares written (%lld)",
	      get("sys/vms/8/shares"));
	set_target(8, 10000);
	CHECK_MEM("vm6", 1048576 - 40000, "vm6: ballooned");
	CHECK(bd_agent_counters(agent)->events > 0, "lifecycle events delivered");
	/* stopped and started before the agent looks: a new run, ballooned again from full */
	CHECK(dom_op("vm6", 0) == 0 && dom_op("vm6", 1) == 0 && mem_kib("vm6") == 1048576,
	      "restart vm6 (back at its full memory)");
	CHECK(step_until(log_cond, "vm6: restarted", 2000), "vm6: the restart is seen");
	CHECK_MEM("vm6", 1048576 - 40000, "vm6: its target applied to the new run");
	CHECK(dom_op("vm6", 0) == 0, "destroy vm6");
	CHECK(step_until(log_cond, "vm6: no longer running: detached", 2000),
	      "vm6 detached after its stop event");
	CHECK(dom_op("vm1", 0) == 0, "destroy vm1");
	CHECK(step_until(log_cond, "vm1: no longer running: detached", 2000),
	      "vm1 detached after its stop event");
	set_target(3, 50000);
	run_for(300);
	CHECK(!LOG_HAS("vm1: memory"), "a stopped domain is not ballooned");

	/* stats */
	CHECK(bd_agent_counters(agent)->set_memory_failed == 0, "no SetMemory failed");

	/* losing the connection: state rebuilt from a fresh connection */
	log_clear();
	bd_agent_conn_lost(agent, "test");
	CHECK(!bd_agent_conn(agent), "disconnected");
	CHECK(step_until(connected_twice, NULL, 4000), "reconnected after the backoff");
	CHECK(LOG_HAS("vm1: attached to vms/3"),
	      "vm1 (running again in the fresh driver) attached");
	CHECK_MEM("vm1", 1048576 - 200000,
		  "vm1: its current target (50000 pages) applied after the reconnect");

	bd_agent_free(agent);
	agent = NULL;
}

/* --dry-run: reads all, changes nothing */
static void test_dry_run(void)
{
	struct bd_opts o;
	char sys[300], proc[300], uri[300];

	snprintf(sys, sizeof(sys), "%s/sys", tmp);
	snprintf(proc, sizeof(proc), "%s/proc", tmp);
	snprintf(uri, sizeof(uri), "test://%s/node.xml", tmp);
	putf("sys/vms/3/shares", "7\n");
	set_target(3, 10000);
	log_clear();
	bd_opts_default(&o);
	o.uri = uri;
	o.sysfs_root = sys;
	o.proc_root = proc;
	o.dry_run = 1;
	agent = bd_agent_new(&o);
	run_for(200);
	CHECK(LOG_HAS("vm1: would write shares = 2000"), "dry run: says what it would write");
	CHECK(LOG_HAS("vm1: would set memory 1048576 -> 1008576 KiB"),
	      "dry run: says what memory it would set");
	CHECK(get("sys/vms/3/shares") == 7 && mem_kib("vm1") == 1048576,
	      "dry run: nothing written, nothing set");
	bd_agent_free(agent);
	agent = NULL;
}

int main(void)
{
	char cmd[400];

	snprintf(tmp, sizeof(tmp), "%s/balloond.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") :
		 "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 2;
	}
	bd_log_level = BD_DEBUG;
	bd_log_hook = hook;
	if (virInitialize() < 0 || bd_evloop_register())
		return 2;
	setup();
	test_parsers();
	test_discover();
	test_agent();
	test_dry_run();
	if (!failed || !getenv("BALLOOND_TEST_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", tmp);
	} else {
		fprintf(stderr, "fake trees kept in %s\n", tmp);
	}
	printf("balloond-unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
