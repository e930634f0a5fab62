// SPDX-License-Identifier: GPL-2.0
/*
 * swap_sim - page replacement on a recorded page-access trace: random (what
 * esxmm's swapper does, ESX section 3.3) against LRU and FIFO, with Belady's
 * optimum (OPT) as the floor.
 *
 * Usage: swap_sim record WORKLOAD PAGES ACCESSES SEED TRACE
 *        swap_sim replay TRACE PERCENT[,PERCENT...] [RANDOM_RUNS]
 *
 * record runs a synthetic workload over PAGES pages and writes each page it
 * touches, in order, to TRACE (little-endian u32 page numbers):
 *   hotcold  90 % of the accesses to a hot set of 10 % of the pages, the rest
 *            to the others, uniformly within each set;
 *   drift    the same, but the hot set moves by 1 % of the pages every 2 % of
 *            the accesses (a working set that changes);
 *   scan     a sequential pass over all pages, again and again (memcheck's
 *            verify loop, a database scan);
 *   mixed    80 % hot-set accesses (20 % of the pages), 20 % a sequential scan
 *            over all of them in between (LRU's bad case: the scan flushes the
 *            hot set);
 *   zipf     Zipf(0.9) popularity over the pages, ranks scattered.
 * replay simulates each policy with memory for PERCENT % of the pages the
 * trace touches (every miss is a fault, the first touch of a page too) and
 * prints one line per size:
 *   SIM trace=T pages=P accesses=N mem=M opt=F lru=F fifo=F random=F
 *       random/lru=R fifo/lru=R random/opt=R
 * where F are faults per 1000 accesses; random is the mean of RANDOM_RUNS
 * (default 3) runs with different seeds.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE	UINT32_MAX

static void die(const char *msg)
{
	fprintf(stderr, "swap_sim: %s\n", msg);
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		die("out of memory");
	return p;
}

/* xorshift64*: a fast, seeded generator, the same everywhere. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)((rng() >> 32) * n >> 32);
}

static double rng_unit(void)
{
	return (rng() >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- record -------------------------------------------------------------- */

static void record(const char *kind, uint32_t pages, uint64_t n, uint32_t *out)
{
	uint32_t hot = pages / 10 ? pages / 10 : 1, base = 0, scan = 0;
	double *cdf = NULL;
	uint32_t *perm = NULL;
	uint64_t i;

	if (!strcmp(kind, "mixed"))
		hot = pages / 5 ? pages / 5 : 1;
	if (!strcmp(kind, "zipf")) {
		double sum = 0;
		uint32_t k;

		cdf = xcalloc(pages, sizeof(*cdf));
		perm = xcalloc(pages, sizeof(*perm));
		for (k = 0; k < pages; k++) {
			sum += 1.0 / pow(k + 1, 0.9);
			cdf[k] = sum;
			perm[k] = k;
		}
		for (k = pages - 1; k > 0; k--) {
			uint32_t j = rng_below(k + 1), t = perm[k];

			perm[k] = perm[j];
			perm[j] = t;
		}
		for (k = 0; k < pages; k++)
			cdf[k] /= sum;
	}
	for (i = 0; i < n; i++) {
		if (!strcmp(kind, "hotcold") || !strcmp(kind, "drift")) {
			if (!strcmp(kind, "drift") && i && i % (n / 50 ? n / 50 : 1) == 0)
				base = (base + pages / 100) % pages;
			if (rng_below(100) < 90)
				out[i] = (base + rng_below(hot)) % pages;
			else
				out[i] = (base + hot + rng_below(pages - hot)) % pages;
		} else if (!strcmp(kind, "scan")) {
			out[i] = i % pages;
		} else if (!strcmp(kind, "mixed")) {
			if (rng_below(100) < 80) {
				out[i] = rng_below(hot);
			} else {
				out[i] = scan;
				scan = (scan + 1) % pages;
			}
		} else if (!strcmp(kind, "zipf")) {
			double u = rng_unit();
			uint32_t lo = 0, hi = pages - 1;

			while (lo < hi) {
				uint32_t mid = lo + (hi - lo) / 2;

				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			out[i] = perm[lo];
		} else {
			die("WORKLOAD must be hotcold, drift, scan, mixed or zipf");
		}
	}
	free(cdf);
	free(perm);
}

/* ---- replay -------------------------------------------------------------- */

struct trace {
	uint32_t *a;		/* page numbers, renumbered 0..pages-1 */
	uint64_t n;
	uint32_t pages;
};

static uint64_t sim_random(const struct trace *t, uint32_t mem)
{
	uint32_t *where = xcalloc(t->pages, sizeof(*where));
	uint32_t *frame = xcalloc(mem, sizeof(*frame));
	uint32_t used = 0, f;
	uint64_t i, faults = 0;

	memset(where, 0xff, t->pages * sizeof(*where));
	for (i = 0; i < t->n; i++) {
		uint32_t p = t->a[i];

		if (where[p] != NONE)
			continue;
		faults++;
		if (used < mem) {
			f = used++;
		} else {
			f = rng_below(mem);	/* a random victim */
			where[frame[f]] = NONE;
		}
		frame[f] = p;
		where[p] = f;
	}
	free(where);
	free(frame);
	return faults;
}

static uint64_t sim_fifo(const struct trace *t, uint32_t mem)
{
	uint32_t *where = xcalloc(t->pages, sizeof(*where));
	uint32_t *frame = xcalloc(mem, sizeof(*frame));
	uint32_t used = 0, hand = 0, f;
	uint64_t i, faults = 0;

	memset(where, 0xff, t->pages * sizeof(*where));
	for (i = 0; i < t->n; i++) {
		uint32_t p = t->a[i];

		if (where[p] != NONE)
			continue;
		faults++;
		if (used < mem) {
			f = used++;
		} else {
			f = hand;		/* the oldest arrival */
			hand = (hand + 1) % mem;
			where[frame[f]] = NONE;
		}
		frame[f] = p;
		where[p] = f;
	}
	free(where);
	free(frame);
	return faults;
}

/* LRU: a doubly linked list of the resident pages, most recent at the head. */
static uint64_t sim_lru(const struct trace *t, uint32_t mem)
{
	uint32_t *prev = xcalloc(t->pages, sizeof(*prev));
	uint32_t *next = xcalloc(t->pages, sizeof(*next));
	char *in = xcalloc(t->pages, 1);
	uint32_t head = NONE, tail = NONE, used = 0;
	uint64_t i, faults = 0;

	for (i = 0; i < t->n; i++) {
		uint32_t p = t->a[i];

		if (in[p]) {
			if (p == head)
				continue;
			/* unlink */
			next[prev[p]] = next[p];
			if (next[p] != NONE)
				prev[next[p]] = prev[p];
			else
				tail = prev[p];
		} else {
			faults++;
			if (used < mem) {
				used++;
			} else {
				uint32_t v = tail;	/* least recently used */

				in[v] = 0;
				tail = prev[v];
				if (tail != NONE)
					next[tail] = NONE;
				else
					head = NONE;
			}
			in[p] = 1;
		}
		prev[p] = NONE;
		next[p] = head;
		if (head != NONE)
			prev[head] = p;
		head = p;
		if (tail == NONE)
			tail = p;
	}
	free(prev);
	free(next);
	free(in);
	return faults;
}

/* OPT: evict the page used again furthest in the future (a max-heap). */
struct hent {
	uint64_t when;		/* next use; UINT64_MAX: never */
	uint32_t page;
};

static void heap_push(struct hent *h, uint64_t *n, struct hent e)
{
	uint64_t i = (*n)++;

	while (i && h[(i - 1) / 2].when < e.when) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = e;
}

static struct hent heap_pop(struct hent *h, uint64_t *n)
{
	struct hent top = h[0], e = h[--*n];
	uint64_t i = 0, c;

	while ((c = 2 * i + 1) < *n) {
		if (c + 1 < *n && h[c + 1].when > h[c].when)
			c++;
		if (h[c].when <= e.when)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = e;
	return top;
}

static uint64_t sim_opt(const struct trace *t, uint32_t mem)
{
	uint64_t *nextuse = xcalloc(t->n, sizeof(*nextuse));
	uint64_t *last = xcalloc(t->pages, sizeof(*last));
	uint64_t *cur = xcalloc(t->pages, sizeof(*cur));	/* its live heap key */
	struct hent *h = xcalloc(t->n + 1, sizeof(*h));
	char *in = xcalloc(t->pages, 1);
	uint64_t i, hn = 0, faults = 0;
	uint32_t used = 0;

	for (i = 0; i < t->pages; i++)
		last[i] = UINT64_MAX;
	for (i = t->n; i-- > 0;) {
		nextuse[i] = last[t->a[i]];
		last[t->a[i]] = i;
	}
	for (i = 0; i < t->n; i++) {
		uint32_t p = t->a[i];

		if (!in[p]) {
			faults++;
			if (used < mem) {
				used++;
			} else {
				struct hent v;

				/* Skip entries that a later use of their page replaced. */
				do {
					v = heap_pop(h, &hn);
				} while (!in[v.page] || cur[v.page] != v.when);
				in[v.page] = 0;
			}
			in[p] = 1;
		}
		cur[p] = nextuse[i];
		heap_push(h, &hn, (struct hent){ .when = nextuse[i], .page = p });
	}
	free(nextuse);
	free(last);
	free(cur);
	free(h);
	free(in);
	return faults;
}

static void load(const char *path, struct trace *t)
{
	uint32_t *map, max = 0;
	FILE *f = fopen(path, "rb");
	long size;
	uint64_t i;

	if (!f || fseek(f, 0, SEEK_END))
		die("cannot open the trace");
	size = ftell(f);
	if (size < 0 || fseek(f, 0, SEEK_SET))
		die("cannot read the trace");
	t->n = size / 4;
	if (!t->n)
		die("empty trace");
	t->a = xcalloc(t->n, sizeof(*t->a));
	if (fread(t->a, 4, t->n, f) != t->n)
		die("short read of the trace");
	fclose(f);
	for (i = 0; i < t->n; i++)
		if (t->a[i] > max)
			max = t->a[i];
	if (max == NONE)
		die("page number too large");
	/* Renumber the pages touched densely, in order of first touch. */
	map = xcalloc((size_t)max + 1, sizeof(*map));
	memset(map, 0xff, ((size_t)max + 1) * sizeof(*map));
	t->pages = 0;
	for (i = 0; i < t->n; i++) {
		if (map[t->a[i]] == NONE)
			map[t->a[i]] = t->pages++;
		t->a[i] = map[t->a[i]];
	}
	free(map);
}

static double per_k(uint64_t faults, uint64_t n)
{
	return 1000.0 * faults / n;
}

static int replay(const char *path, const char *sizes, unsigned int runs)
{
	struct trace t;
	const char *s = sizes;
	char *end;

	load(path, &t);
	while (*s) {
		unsigned long pct = strtoul(s, &end, 10);
		uint64_t opt, lru, fifo, rnd = 0;
		uint32_t mem;
		unsigned int r;

		if (end == s || !pct || pct > 100 || (*end && *end != ','))
			die("PERCENT must be 1..100, comma-separated");
		s = *end ? end + 1 : end;
		mem = (uint32_t)((uint64_t)t.pages * pct / 100);
		if (!mem)
			mem = 1;
		opt = sim_opt(&t, mem);
		lru = sim_lru(&t, mem);
		fifo = sim_fifo(&t, mem);
		for (r = 0; r < runs; r++) {
			rng_state = 0x9e3779b97f4a7c15ULL * (r + 1);
			rnd += sim_random(&t, mem);
		}
		printf("SIM trace=%s pages=%u accesses=%llu mem=%lu%% opt=%.1f lru=%.1f fifo=%.1f random=%.1f random/lru=%.3f fifo/lru=%.3f random/opt=%.3f\n",
		       path, t.pages, (unsigned long long)t.n, pct,
		       per_k(opt, t.n), per_k(lru, t.n), per_k(fifo, t.n),
		       per_k(rnd, t.n) / runs,
		       lru ? (double)rnd / runs / lru : 0,
		       lru ? (double)fifo / lru : 0,
		       opt ? (double)rnd / runs / opt : 0);
	}
	free(t.a);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "record")) {
		uint32_t pages = strtoul(argv[3], NULL, 0);
		uint64_t n = strtoull(argv[4], NULL, 0);
		uint32_t *a;
		FILE *f;

		if (!pages || !n || n > (1ULL << 28))
			die("PAGES and ACCESSES must be > 0 (ACCESSES at most 2^28)");
		rng_state = strtoull(argv[5], NULL, 0) * 0x9e3779b97f4a7c15ULL + 1;
		a = xcalloc(n, sizeof(*a));
		record(argv[2], pages, n, a);
		f = fopen(argv[6], "wb");
		if (!f || fwrite(a, 4, n, f) != n || fclose(f))
			die("cannot write the trace");
		free(a);
		return 0;
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "replay"))
		return replay(argv[2], argv[3], argc == 5 ? strtoul(argv[4], NULL, 0) : 3);
	fprintf(stderr, "usage: swap_sim record WORKLOAD PAGES ACCESSES SEED TRACE\n"
		"       swap_sim replay TRACE PERCENT[,PERCENT...] [RANDOM_RUNS]\n");
	return 2;
}
