// SPDX-License-Identifier: GPL-2.0
/*
 * sharetest: content-based page sharing on esxmm files, checked byte for
 * byte from the host: identical pages merge, writes break shares without
 * touching the other sharers, share groups isolate guests, run=2 restores
 * private pages, and a writer racing the scanner at full rate never sees a
 * wrong byte.
 *
 * Usage: sharetest MOUNTPOINT   (an esxmm mount; the scanner is stopped)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/falloc.h>

#include "esxmm_sysfs.h"

#define SHARE SYS "/share/"

static const char *mnt;
static int failures, checks;

static void check(int ok, const char *what, long a, long b)
{
	checks++;
	printf("%s - %s (%ld, %ld)\n", ok ? "ok" : "not ok", what, a, b);
	fflush(stdout);
	if (!ok)
		failures++;
}

static void die(const char *what)
{
	printf("not ok - %s: %s\n", what, strerror(errno));
	exit(1);
}

static long share(const char *name)
{
	char f[128];

	snprintf(f, sizeof(f), SHARE "%s", name);
	return sys_read_long(f);
}

static void share_set(const char *name, long v)
{
	char f[128];

	snprintf(f, sizeof(f), SHARE "%s", name);
	if (sys_write_long(f, v))
		die(name);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Byte @i of a page whose content is @tag: equal tags, equal pages. */
static inline uint8_t tagbyte(uint32_t tag, long i)
{
	uint32_t x = (tag + 1) * 2654435761u + (uint32_t)(i >> 2) * 40503u;

	x ^= x >> 15;
	x *= 2246822519u;
	x ^= x >> 13;
	return (uint8_t)(x >> (8 * (i & 3)));
}

static void fill_tag(uint8_t *p, uint32_t tag)
{
	long i;

	for (i = 0; i < PG; i++)
		p[i] = tagbyte(tag, i);
}

static int is_tag(const uint8_t *p, uint32_t tag)
{
	long i;

	for (i = 0; i < PG; i++)
		if (p[i] != tagbyte(tag, i))
			return 0;
	return 1;
}

struct gfile {
	const char *rel;
	int fd;
	long pages;
	uint8_t *map;
	uint32_t *tags;		/* the content each page must have */
};

static void gopen(struct gfile *g, const char *rel, long pages)
{
	char p[512];

	snprintf(p, sizeof(p), "%s%s", mnt, rel);
	g->rel = rel;
	g->pages = pages;
	g->fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (g->fd < 0 || ftruncate(g->fd, pages * PG))
		die(rel);
	g->map = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	g->tags = calloc(pages, sizeof(*g->tags));
	if (g->map == MAP_FAILED || !g->tags)
		die("mmap");
}

static void gclose(struct gfile *g)
{
	char p[512];

	munmap(g->map, g->pages * PG);
	close(g->fd);
	snprintf(p, sizeof(p), "%s%s", mnt, g->rel);
	unlink(p);
	free(g->tags);
}

/* Write page @i through pwrite (by_map = 0) or the mapping. */
static void gwrite(struct gfile *g, long i, uint32_t tag, int by_map)
{
	uint8_t buf[PG];

	g->tags[i] = tag;
	if (by_map) {
		fill_tag(g->map + i * PG, tag);
		return;
	}
	fill_tag(buf, tag);
	if (pwrite(g->fd, buf, PG, i * PG) != PG)
		die("pwrite");
}

/* Every page, by pread and through the mapping; returns mismatching pages. */
static long gverify(struct gfile *g)
{
	uint8_t buf[PG];
	long i, bad = 0;

	for (i = 0; i < g->pages; i++) {
		if (pread(g->fd, buf, PG, i * PG) != PG)
			die("pread");
		if (!is_tag(buf, g->tags[i]) || !is_tag(g->map + i * PG, g->tags[i])) {
			if (bad < 5)
				printf("# %s page %ld: not tag %u\n", g->rel, i, g->tags[i]);
			bad++;
		}
	}
	return bad;
}

/* Run the scanner until @cond holds or @secs pass. */
static int scan_until(int (*cond)(void *), void *arg, double secs)
{
	double t0 = now();
	int ok;

	share_set("run", 1);
	while (!(ok = cond(arg)) && now() - t0 < secs)
		usleep(100 * 1000);
	share_set("run", 0);
	printf("# scanned for %.1fs: pages_scanned=%ld pages_shared=%ld pages_sharing=%ld "
	       "pages_hinted=%ld hint_hits=%ld\n", now() - t0, share("pages_scanned"),
	       share("pages_shared"), share("pages_sharing"), share("pages_hinted"),
	       share("hint_hits"));
	return ok;
}

static int mostly_shared(void *arg)
{
	struct gfile *g = arg;

	return vm_long(g->rel, "shared_pages") >= g->pages * 98 / 100;
}

static long scanned_target;

static int scanned_enough(void *arg)
{
	(void)arg;
	return share("pages_scanned") >= scanned_target;
}

static void test_identical(void)
{
	struct gfile g;
	long i, res, sharing, cow0, writes = 0;

	gopen(&g, "/same", 2048);
	for (i = 0; i < g.pages; i++)
		gwrite(&g, i, 7, 0);
	res = vm_long("/same", "resident_pages");
	check(scan_until(mostly_shared, &g, 120), "identical pages: 98 % shared",
	      vm_long("/same", "shared_pages"), g.pages);
	sharing = share("pages_sharing");
	check(sharing >= res * 98 / 100, "pages_sharing within 2 % of resident", sharing, res);
	check(sys_read_long(SYS "/allocated_pages") <= res - sharing + 1,
	      "the pool got the saved pages back", sys_read_long(SYS "/allocated_pages"), res);
	check(gverify(&g) == 0, "contents intact after merging", 0, 0);

	/* Writes: through the mapping, by pwrite, and a hole punch. */
	cow0 = share("cow_breaks");
	for (i = 0; i < g.pages; i += 3, writes++)
		gwrite(&g, i, 1000 + i, i % 2);
	check(share("cow_breaks") - cow0 >= writes * 98 / 100, "writes broke shares",
	      share("cow_breaks") - cow0, writes);
	if (fallocate(g.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10 * PG, 2 * PG))
		die("punch");
	{
		uint8_t z[PG] = {0}, buf[PG];

		for (i = 10; i < 12; i++) {
			check(pread(g.fd, buf, PG, i * PG) == PG && !memcmp(buf, z, PG) &&
			      !memcmp(g.map + i * PG, z, PG), "punched shared page reads zeros", i, 0);
			gwrite(&g, i, 5, 1);
		}
	}
	check(gverify(&g) == 0, "every sharer keeps its bytes after writes", 0, 0);
	check(vm_long("/same", "shared_pages") <= g.pages - writes, "shared_pages went down",
	      vm_long("/same", "shared_pages"), g.pages - writes);
	gclose(&g);
	check(share("pages_shared") == 0 && share("pages_sharing") == 0,
	      "unlinking the file released its frames", share("pages_shared"),
	      share("pages_sharing"));
}

static void test_groups(void)
{
	struct gfile b, c;
	long i;

	gopen(&b, "/b", 1024);
	gopen(&c, "/c", 1024);
	for (i = 0; i < b.pages; i++) {
		gwrite(&b, i, 50000 + i, 1);	/* no duplicates inside a file */
		gwrite(&c, i, 50000 + i, 0);
	}
	scanned_target = share("pages_scanned") + 8 * 2048;
	scan_until(scanned_enough, NULL, 120);
	check(share("pages_sharing") == 0 && vm_long("/b", "shared_pages") == 0 &&
	      vm_long("/c", "shared_pages") == 0, "group 0: no sharing across guests",
	      share("pages_sharing"), share("pages_scanned"));

	check(vm_write_long("/b", "share_group", 7) == 0 && vm_write_long("/c", "share_group", 7) == 0,
	      "both guests join group 7", 0, 0);
	check(vm_write_long("/b", "share_group", -1) == -EINVAL &&
	      vm_write_long("/b", "share_group", 1L << 31) == -EINVAL &&
	      vm_long("/b", "share_group") == 7, "bad share_group refused", 0, 0);
	check(scan_until(mostly_shared, &b, 120) && mostly_shared(&c), "group 7: shared across",
	      vm_long("/b", "shared_pages"), vm_long("/c", "shared_pages"));
	check(share("pages_sharing") >= 1024 * 98 / 100, "one page saved per pair",
	      share("pages_sharing"), 1024);
	check(gverify(&b) == 0 && gverify(&c) == 0, "both intact", 0, 0);

	/* Writes to one side leave the other side's bytes alone. */
	for (i = 0; i < 100; i++)
		gwrite(&b, i * 7, 90000 + i, i % 2);
	check(gverify(&b) == 0 && gverify(&c) == 0, "writes in b leave c intact", 0, 0);

	/* Leaving the group unshares at once. */
	check(vm_write_long("/b", "share_group", 0) == 0 && vm_long("/b", "shared_pages") == 0,
	      "leaving group 7 unshares b", vm_long("/b", "shared_pages"), 0);
	check(gverify(&b) == 0 && gverify(&c) == 0, "intact after leaving", 0, 0);
	vm_write_long("/c", "share_group", 0);
	gclose(&b);
	gclose(&c);
}

static void test_unshare(void)
{
	struct gfile g;
	long i, alloc;

	gopen(&g, "/u", 1024);
	for (i = 0; i < g.pages; i++)
		gwrite(&g, i, i % 16, i % 2);	/* 16 distinct pages */
	scan_until(mostly_shared, &g, 120);
	check(share("pages_sharing") >= 1024 * 90 / 100, "16 distinct pages shared",
	      share("pages_sharing"), share("pages_shared"));
	check(sys_write(SHARE "run", "2") == 0, "run=2 accepted", 0, 0);
	check(share("run") == 2 && vm_long("/u", "shared_pages") == 0 &&
	      share("pages_sharing") == 0 && share("pages_shared") == 0 &&
	      share("pages_hinted") == 0, "run=2: everything private again",
	      vm_long("/u", "shared_pages"), share("pages_shared"));
	alloc = sys_read_long(SYS "/allocated_pages");
	check(alloc >= g.pages, "private pages allocated again", alloc, g.pages);
	check(gverify(&g) == 0, "contents intact after unsharing", 0, 0);
	check(sys_write(SHARE "run", "3") == -EINVAL && sys_write(SHARE "run", "x") == -EINVAL &&
	      sys_write(SHARE "pages_to_scan", "0") == -EINVAL &&
	      sys_write(SHARE "sleep_millisecs", "60001") == -EINVAL, "bad share knobs refused",
	      0, 0);
	share_set("run", 0);
	gclose(&g);
}

/* The scanner at full rate against a writer: never a wrong byte. */
static void test_stress(double secs)
{
	struct gfile g;
	long i, rounds = 0, bad = 0, cow0 = share("cow_breaks"), merged0 = share("hint_hits");
	unsigned int seed = 12345;
	double t0;

	gopen(&g, "/stress", 1024);
	for (i = 0; i < g.pages; i++)
		gwrite(&g, i, i % 8, 1);
	share_set("run", 1);
	t0 = now();
	while (now() - t0 < secs) {
		for (i = 0; i < 64; i++) {
			long p = rand_r(&seed) % g.pages;

			gwrite(&g, p, rand_r(&seed) % 8, rand_r(&seed) % 4 != 0);
		}
		if (++rounds % 50 == 0)
			bad += gverify(&g);
		usleep(2000);
	}
	share_set("run", 0);
	bad += gverify(&g);
	printf("# stress: %ld rounds, cow_breaks +%ld, hint_hits +%ld, shared now %ld\n", rounds,
	       share("cow_breaks") - cow0, share("hint_hits") - merged0,
	       vm_long("/stress", "shared_pages"));
	check(bad == 0, "stress: zero mismatches", bad, rounds);
	check(share("cow_breaks") > cow0, "stress: the writer did break shares",
	      share("cow_breaks") - cow0, 0);
	gclose(&g);
}

int main(int argc, char **argv)
{
	long pts, slp;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MOUNTPOINT [STRESS_SECONDS]\n", argv[0]);
		return 2;
	}
	mnt = argv[1];
	pts = share("pages_to_scan");
	slp = share("sleep_millisecs");
	share_set("pages_to_scan", 5000);
	share_set("sleep_millisecs", 0);
	check(share("frame_bytes") > 0 && share("frame_bytes") <= 32, "frame_bytes <= 32",
	      share("frame_bytes"), 32);
	test_identical();
	test_groups();
	test_unshare();
	test_stress(argc > 2 ? atof(argv[2]) : 20);
	share_set("pages_to_scan", pts);
	share_set("sleep_millisecs", slp);
	printf("sharetest: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
