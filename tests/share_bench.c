// SPDX-License-Identifier: GPL-2.0
/*
 * share_bench: content-based page sharing, esxmm's scanner against KSM, on the same image.
 *
 *   share_bench esxmm FILE [options]   the image lives in FILE (an esxmm file: ftruncate,
 *                                      mmap MAP_SHARED, written through the mapping)
 *   share_bench ksm [options]          the image lives in anonymous memory with
 *                                      MADV_NOHUGEPAGE + MADV_MERGEABLE
 * Options: -p PAGES (16384 = 64 MiB)  -s SEED (1)  -n PAGES_TO_SCAN (1000)  -m SLEEP_MS (20)
 *          -t TIMEOUT_S (300)  -q QUIET_S (10)  -v (print every sample)
 *
 * The image (deterministic from SEED; each page's class and contents are a function of
 * SEED and its index, so it can be regenerated to verify): 50 % of the pages are drawn
 * from 64 distinct random contents, 10 % are zero pages (written, so they are resident),
 * 40 % are unique random pages. Expected maximum saving = (duplicate pages - distinct
 * contents present) + (zero pages - 1): one copy of every content is left.
 *
 * The scanner (esxmm: /sys/kernel/esxmm/share, KSM: /sys/kernel/mm/ksm) is started with the
 * same pages_to_scan and sleep_millisecs; every 200 ms the program samples pages saved
 * (pages_sharing of either) and the scanner thread's CPU time (utime + stime from
 * /proc/<pid>/stat of the kernel thread whose comm is esxmm_share or ksmd). It stops when
 * the saving has not grown for QUIET_S seconds (once it is non-zero, or after 60 s) or at
 * TIMEOUT_S, then prints the final saving, the expected maximum, the CPU time the scanner
 * needed to reach 95 % of the final saving (interpolated between the two samples around
 * it; also from /proc/<pid>/schedstat, which counts ns where stat counts ticks) and its
 * metadata bytes per image page:
 *   esxmm: frame_bytes * (pages_shared + pages_hinted) / pages
 *   KSM:   (64 * rmap_items + 64 * (pages_shared + stable_node_chains)) / pages, where
 *          rmap_items = pages_shared + pages_sharing + pages_unshared + pages_volatile
 *          (as mm/ksm.c computes pages_volatile), 64 = sizeof(struct ksm_rmap_item) and of
 *          struct ksm_stable_node on 6.1 x86_64 with CONFIG_NUMA; mm_slots are left out.
 * KSM's use_zero_pages is left as it is (default 0: zero pages are merged like any other
 * content into KSM pages and counted in pages_sharing; max_page_sharing, default 256,
 * splits big contents over several KSM pages).
 * Then the scanner is stopped (esxmm: run=2, then run=0; KSM: run=2) and the image is
 * verified byte for byte: esxmm while merged and again after unsharing (through the
 * mapping and with pread), KSM after unmerging. Exit 1 on any mismatch, 2 on setup errors.
 *
 * Result line (for scripts/bench.sh):
 *   SHARE_BENCH mode=M pages=N saved=N expected=N cpu95_ms=X cpu_ms=X meta_bpp=X wall95_s=X
 *               sched95_ms=X pages_scanned95=X (esxmm) | full_scans95=X (KSM)
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#define PG 4096UL
#define NDUP 64
#define SAMPLE_MS 200
#define KSM_RMAP_ITEM_BYTES 64
#define KSM_STABLE_NODE_BYTES 64

enum kind { K_DUP, K_ZERO, K_UNIQUE };

static const char *mode;
static unsigned long npages = 16384, scan_n = 1000, sleep_ms = 20;
static unsigned long timeout_s = 300, quiet_s = 10;
static uint64_t seed = 1;
static int verbose;
static char sysdir[256];

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "share_bench: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Class of page i and, for duplicates, which content. */
static enum kind page_kind(unsigned long i, unsigned int *dup)
{
	uint64_t r = splitmix(seed * 0x100000001b3ULL ^ splitmix(i));
	unsigned int pct = r % 100;

	*dup = (r >> 32) % NDUP;
	return pct < 50 ? K_DUP : pct < 60 ? K_ZERO : K_UNIQUE;
}

static void fill(uint64_t *w, uint64_t key)
{
	uint64_t s = splitmix(key);
	size_t k;

	for (k = 0; k < PG / 8; k++) {
		s += 0x9e3779b97f4a7c15ULL;
		w[k] = splitmix(s);
	}
}

/* Expected contents of page i. */
static void page_contents(unsigned long i, uint64_t *w)
{
	unsigned int d;

	switch (page_kind(i, &d)) {
	case K_DUP:
		fill(w, splitmix(seed) ^ (0xd00d000000000000ULL | d));
		break;
	case K_ZERO:
		memset(w, 0, PG);
		break;
	default:
		fill(w, splitmix(seed + 0x5eed) ^ ((uint64_t)i << 20 | 0xabc));
		break;
	}
}

static int wfile(const char *path, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int fd, n, ret = 0;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

static int rstr(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	return 0;
}

/* A counter of the scanner's sysfs directory; -1 when absent. */
static long knob(const char *name)
{
	char path[512], buf[64];

	snprintf(path, sizeof(path), "%s/%s", sysdir, name);
	if (rstr(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

static void set_knob(const char *name, unsigned long v)
{
	char path[512];
	int err;

	snprintf(path, sizeof(path), "%s/%s", sysdir, name);
	err = wfile(path, "%lu", v);
	if (err)
		die("write %lu to %s: %s", v, path, strerror(-err));
}

static pid_t find_thread(const char *comm)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], buf[64];
	pid_t pid = 0;

	if (!d)
		die("opendir /proc: %s", strerror(errno));
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if (!rstr(path, buf, sizeof(buf)) && !strcmp(buf, comm)) {
			pid = atoi(e->d_name);
			break;
		}
	}
	closedir(d);
	return pid;
}

/* utime + stime of pid in ms. */
static double cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		die("read %s", path);
	buf[n] = 0;
	p = strrchr(buf, ')');
	/* after "pid (comm)": state(3) ... utime(14) stime(15) */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		die("parse %s", path);
	return (ut + st) * 1000.0 / sysconf(_SC_CLK_TCK);
}

/* sum_exec_runtime of pid in ms (from schedstat), -1 when absent. */
static double sched_ms(pid_t pid)
{
	char path[64], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	if (rstr(path, buf, sizeof(buf)))
		return -1;
	return strtoull(buf, NULL, 10) / 1e6;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long verify(const unsigned char *img, int fd, const char *what)
{
	uint64_t *want = malloc(PG);
	unsigned char *got = malloc(PG);
	unsigned long i, bad = 0, bad_pread = 0;
	int use_pread = fd >= 0;

	if (!want || !got)
		die("out of memory");
	for (i = 0; i < npages; i++) {
		page_contents(i, want);
		if (memcmp(img + i * PG, want, PG)) {
			if (bad++ < 10)
				fprintf(stderr, "share_bench: %s: page %lu differs through the mapping\n",
					what, i);
		}
		if (use_pread) {
			ssize_t n = pread(fd, got, PG, i * PG);

			if (n < 0 && (errno == EINVAL || errno == EOPNOTSUPP)) {
				use_pread = 0;
				continue;
			}
			if (n != (ssize_t)PG || memcmp(got, want, PG)) {
				if (bad_pread++ < 10)
					fprintf(stderr, "share_bench: %s: page %lu differs by pread\n",
						what, i);
			}
		}
	}
	printf("share_bench: verify %s: %lu pages, %lu mismatches through the mapping%s",
	       what, npages, bad, fd >= 0 ? "" : "\n");
	if (fd >= 0) {
		if (use_pread)
			printf(", %lu by pread\n", bad_pread);
		else
			printf(", pread not supported\n");
	}
	free(want);
	free(got);
	return bad + bad_pread;
}

/* esxmm: the vms/<id> directory of FILE (its path is relative to the mount). */
static int find_vm(const char *file, char *out, size_t len)
{
	DIR *d = opendir("/sys/kernel/esxmm/vms");
	struct dirent *e;
	char path[600], buf[512];
	size_t fl = strlen(file), bl;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/esxmm/vms/%s/path", e->d_name);
		if (rstr(path, buf, sizeof(buf)))
			continue;
		bl = strlen(buf);
		if (bl && bl <= fl && !strcmp(file + fl - bl, buf)) {
			snprintf(out, len, "/sys/kernel/esxmm/vms/%s", e->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

static long vm_attr(const char *vmdir, const char *name)
{
	char path[600], buf[64];

	snprintf(path, sizeof(path), "%s/%s", vmdir, name);
	if (rstr(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

struct sample {
	double t, cpu, sched;
	long saved, scans;	/* scans: esxmm pages_scanned, KSM full_scans */
};

static void usage(void)
{
	fprintf(stderr, "usage: share_bench esxmm FILE | ksm  [-p pages] [-s seed] [-n pages_to_scan]"
			" [-m sleep_ms] [-t timeout_s] [-q quiet_s] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *file = NULL;
	int esxmm, fd = -1, opt;
	unsigned char *img;
	unsigned long i, ndup = 0, nzero = 0, nuniq = 0, expected, mism = 0;
	unsigned int d, present[NDUP] = { 0 }, ndistinct = 0;
	uint64_t *buf;
	char vmdir[600] = "";
	pid_t pid;
	struct sample *s;
	size_t ns = 0, cap;
	double t0, cpu0, sched0, t_last_growth, cpu95, wall95, sched95, scans95, meta, sched_end;
	long scans0;
	const char *scans_name;
	long saved0, best = 0, final, old_scan, old_sleep;
	long shared, hinted, sharing, unshared = 0, volatile_ = 0, chains = 0, fb = 0;

	if (argc < 2)
		usage();
	mode = argv[1];
	esxmm = !strcmp(mode, "esxmm");
	if (!esxmm && strcmp(mode, "ksm"))
		usage();
	optind = 2;
	if (esxmm) {
		if (argc < 3)
			usage();
		file = argv[2];
		optind = 3;
	}
	while ((opt = getopt(argc, argv, "p:s:n:m:t:q:v")) != -1) {
		switch (opt) {
		case 'p': npages = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': scan_n = strtoul(optarg, NULL, 0); break;
		case 'm': sleep_ms = strtoul(optarg, NULL, 0); break;
		case 't': timeout_s = strtoul(optarg, NULL, 0); break;
		case 'q': quiet_s = strtoul(optarg, NULL, 0); break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (!npages)
		usage();
	snprintf(sysdir, sizeof(sysdir), "%s",
		 esxmm ? "/sys/kernel/esxmm/share" : "/sys/kernel/mm/ksm");
	pid = find_thread(esxmm ? "esxmm_share" : "ksmd");
	if (!pid)
		die("no %s kernel thread", esxmm ? "esxmm_share" : "ksmd");
	if (knob("run") < 0)
		die("no %s/run", sysdir);
	if (knob("run") != 0)
		die("%s/run is %ld, expected 0 (scanner already running)", sysdir, knob("run"));

	/* ---- the image ---- */
	if (esxmm) {
		fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			die("open %s: %s", file, strerror(errno));
		if (ftruncate(fd, npages * PG))
			die("ftruncate %s: %s", file, strerror(errno));
		img = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (img == MAP_FAILED)
			die("mmap %s: %s", file, strerror(errno));
	} else {
		img = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (img == MAP_FAILED)
			die("mmap anonymous: %s", strerror(errno));
		if (madvise(img, npages * PG, MADV_NOHUGEPAGE))
			die("madvise NOHUGEPAGE: %s", strerror(errno));
		if (madvise(img, npages * PG, MADV_MERGEABLE))
			die("madvise MERGEABLE: %s", strerror(errno));
	}
	buf = malloc(PG);
	if (!buf)
		die("out of memory");
	for (i = 0; i < npages; i++) {
		switch (page_kind(i, &d)) {
		case K_DUP:
			ndup++;
			if (!present[d]++)
				ndistinct++;
			break;
		case K_ZERO:
			nzero++;
			break;
		default:
			nuniq++;
		}
		page_contents(i, buf);
		memcpy(img + i * PG, buf, PG); /* zero pages too: they must be resident */
	}
	expected = (ndup - ndistinct) + (nzero ? nzero - 1 : 0);
	if (esxmm && !find_vm(file, vmdir, sizeof(vmdir)))
		die("no /sys/kernel/esxmm/vms/<id> with the path of %s", file);
	printf("share_bench: %s: %lu pages (%lu MiB, seed %llu): %lu duplicates of %u contents,"
	       " %lu zero, %lu unique; expected maximum saving %lu pages\n",
	       mode, npages, npages * PG >> 20, (unsigned long long)seed, ndup, ndistinct, nzero,
	       nuniq, expected);
	if (esxmm)
		printf("share_bench: esxmm: %s resident_pages=%ld share_group=%ld\n", vmdir,
		       vm_attr(vmdir, "resident_pages"), vm_attr(vmdir, "share_group"));
	else
		printf("share_bench: ksm: use_zero_pages=%ld (left at default) max_page_sharing=%ld"
		       " merge_across_nodes=%ld\n", knob("use_zero_pages"), knob("max_page_sharing"),
		       knob("merge_across_nodes"));

	/* ---- scan ---- */
	old_scan = knob("pages_to_scan");
	old_sleep = knob("sleep_millisecs");
	set_knob("pages_to_scan", scan_n);
	set_knob("sleep_millisecs", sleep_ms);
	saved0 = esxmm ? 0 : knob("pages_sharing");
	scans_name = esxmm ? "pages_scanned" : "full_scans";
	scans0 = knob(scans_name);
	cpu0 = cpu_ms(pid);
	sched0 = sched_ms(pid);
	printf("share_bench: %s: thread pid %d, pages_to_scan=%lu sleep_millisecs=%lu, sampling every"
	       " %d ms, stop after %lu s without growth or at %lu s\n", mode, pid, scan_n,
	       sleep_ms, SAMPLE_MS, quiet_s, timeout_s);
	fflush(stdout);
	cap = 16;
	s = malloc(cap * sizeof(*s));
	if (!s)
		die("out of memory");
	t0 = now_s();
	s[ns++] = (struct sample){ 0, 0, 0, 0, 0 };
	set_knob("run", 1);
	t_last_growth = 0;
	for (;;) {
		struct timespec ts = { 0, SAMPLE_MS * 1000000L };
		struct sample x;

		nanosleep(&ts, NULL);
		x.t = now_s() - t0;
		x.cpu = cpu_ms(pid) - cpu0;
		x.sched = sched0 >= 0 ? sched_ms(pid) - sched0 : 0;
		x.saved = knob("pages_sharing") - saved0;
		x.scans = knob(scans_name) - scans0;
		if (ns == cap) {
			cap *= 2;
			s = realloc(s, cap * sizeof(*s));
			if (!s)
				die("out of memory");
		}
		s[ns++] = x;
		if (verbose)
			printf("share_bench: t=%.1fs cpu=%.0fms sched=%.1fms saved=%ld %s=%ld\n", x.t,
			       x.cpu, x.sched, x.saved, scans_name, x.scans);
		if (x.saved > best) {
			best = x.saved;
			t_last_growth = x.t;
		}
		if (x.t >= timeout_s)
			break;
		if (x.t - t_last_growth >= quiet_s && (best > 0 || x.t >= 60))
			break;
	}
	final = s[ns - 1].saved;
	sched_end = sched_ms(pid);
	/* CPU and wall time at 95 % of the final saving, interpolated between samples. */
	cpu95 = wall95 = sched95 = scans95 = 0;
	for (i = 1; i < ns && final > 0; i++) {
		double target = 0.95 * final;

		if (s[i].saved >= target) {
			double f = s[i].saved == s[i - 1].saved ? 1 :
				(target - s[i - 1].saved) / (double)(s[i].saved - s[i - 1].saved);

			if (f < 0)
				f = 0;
			cpu95 = s[i - 1].cpu + f * (s[i].cpu - s[i - 1].cpu);
			wall95 = s[i - 1].t + f * (s[i].t - s[i - 1].t);
			sched95 = s[i - 1].sched + f * (s[i].sched - s[i - 1].sched);
			scans95 = s[i - 1].scans + f * (s[i].scans - s[i - 1].scans);
			break;
		}
	}
	shared = knob("pages_shared");
	sharing = knob("pages_sharing");
	if (esxmm) {
		hinted = knob("pages_hinted");
		fb = knob("frame_bytes");
		meta = (double)fb * (shared + hinted) / npages;
		printf("share_bench: esxmm counters: pages_shared=%ld pages_sharing=%ld pages_hinted=%ld"
		       " zero_pages=%ld hint_hits=%ld hint_stale=%ld hash_collisions=%ld cow_breaks=%ld"
		       " pinned_skips=%ld pages_scanned=%ld frame_bytes=%ld; vm resident_pages=%ld"
		       " shared_pages=%ld\n", shared, sharing, hinted, knob("zero_pages"),
		       knob("hint_hits"), knob("hint_stale"), knob("hash_collisions"),
		       knob("cow_breaks"), knob("pinned_skips"), knob("pages_scanned"), fb,
		       vm_attr(vmdir, "resident_pages"), vm_attr(vmdir, "shared_pages"));
		printf("share_bench: esxmm metadata = frame_bytes * (pages_shared + pages_hinted) /"
		       " pages = %ld * (%ld + %ld) / %lu = %.2f bytes/page\n", fb, shared, hinted,
		       npages, meta);
	} else {
		long items;

		unshared = knob("pages_unshared");
		volatile_ = knob("pages_volatile");
		chains = knob("stable_node_chains");
		if (chains < 0)
			chains = 0;
		items = shared + sharing + unshared + volatile_;
		meta = (KSM_RMAP_ITEM_BYTES * (double)items +
			KSM_STABLE_NODE_BYTES * (double)(shared + chains)) / npages;
		printf("share_bench: ksm counters: pages_shared=%ld pages_sharing=%ld pages_unshared=%ld"
		       " pages_volatile=%ld full_scans=%ld stable_node_chains=%ld stable_node_dups=%ld\n",
		       shared, sharing, unshared, volatile_, knob("full_scans"), chains,
		       knob("stable_node_dups"));
		printf("share_bench: ksm metadata = (%d * rmap_items + %d * (pages_shared +"
		       " stable_node_chains)) / pages, rmap_items = pages_shared + pages_sharing +"
		       " pages_unshared + pages_volatile = %ld: (%d * %ld + %d * %ld) / %lu ="
		       " %.2f bytes/page\n", KSM_RMAP_ITEM_BYTES, KSM_STABLE_NODE_BYTES, items,
		       KSM_RMAP_ITEM_BYTES, items, KSM_STABLE_NODE_BYTES, shared + chains, npages,
		       meta);
	}
	printf("share_bench: %s: saved %ld of %lu expected (%.1f %%); 95 %% of it after %.0f ms CPU"
	       " (schedstat %.1f ms, %.1f s, %s %.1f); %.0f ms CPU in all (schedstat %.0f ms) over"
	       " %.1f s, %s %ld\n", mode, final, expected, 100.0 * final / expected, cpu95, sched95,
	       wall95, scans_name, scans95, s[ns - 1].cpu, sched0 >= 0 ? sched_end - sched0 : -1,
	       s[ns - 1].t, scans_name, s[ns - 1].scans);
	printf("SHARE_BENCH mode=%s pages=%lu saved=%ld expected=%lu cpu95_ms=%.0f cpu_ms=%.0f"
	       " meta_bpp=%.2f wall95_s=%.1f sched95_ms=%.1f %s95=%.1f\n", mode, npages, final,
	       expected, cpu95, s[ns - 1].cpu, meta, wall95, sched95, scans_name, scans95);
	fflush(stdout);

	/* ---- stop, unshare, verify ---- */
	if (esxmm) {
		mism += verify(img, fd, "while merged");
		set_knob("run", 2);
		for (i = 0; i < 300 && knob("pages_sharing") > 0; i++)
			usleep(100000);
		printf("share_bench: esxmm run=2: pages_sharing=%ld pages_shared=%ld pages_hinted=%ld"
		       " vm shared_pages=%ld\n", knob("pages_sharing"), knob("pages_shared"),
		       knob("pages_hinted"), vm_attr(vmdir, "shared_pages"));
		set_knob("run", 0);
		mism += verify(img, fd, "after unsharing");
	} else {
		set_knob("run", 2);
		for (i = 0; i < 300 && knob("pages_sharing") > 0; i++)
			usleep(100000);
		printf("share_bench: ksm run=2: pages_sharing=%ld pages_shared=%ld\n",
		       knob("pages_sharing"), knob("pages_shared"));
		mism += verify(img, -1, "after unmerging");
		set_knob("run", 0);
	}
	if (old_scan > 0)
		set_knob("pages_to_scan", old_scan);
	if (old_sleep > 0)
		set_knob("sleep_millisecs", old_sleep);
	munmap(img, npages * PG);
	if (fd >= 0) {
		close(fd);
		unlink(file);
	}
	if (mism) {
		printf("share_bench: %s: FAIL: %lu mismatched pages\n", mode, mism);
		return 1;
	}
	return 0;
}
