// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the share frame table and the choice of the next guest to scan.
 * Frames are inserted with chosen hashes, so equal hashes of different
 * contents (collisions) are forced directly.
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/slab.h>

#include "share/frame.h"

static struct esxmm_frame *mkframe(struct kunit *test, u64 hash, u32 domain, u32 count,
				   u64 payload)
{
	struct esxmm_frame *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->hash = hash;
	f->domain = domain;
	f->count = count;
	f->hint = payload;
	return f;
}

static bool match_payload(const struct esxmm_frame *f, void *arg)
{
	return f->hint == *(u64 *)arg;
}

static bool match_shared(const struct esxmm_frame *f, void *arg)
{
	return !esxmm_frame_is_hint(f);
}

/* kunit_kzalloc() memory goes with the test. */
static void no_free(struct esxmm_frame *f)
{
}

static void frame_test_size(struct kunit *test)
{
	/* The budget: 32 bytes or fewer per frame (KSM: 64 per rmap_item). */
	KUNIT_EXPECT_LE(test, sizeof(struct esxmm_frame), (size_t)32);
}

static void frame_test_insert_lookup(struct kunit *test)
{
	struct esxmm_ftable t;
	struct esxmm_frame *a, *b, *c;

	KUNIT_ASSERT_EQ(test, esxmm_ftable_init(&t, 4), 0);
	a = mkframe(test, 0x1111, 5, 0, 1);
	b = mkframe(test, 0x2222, 5, 2, 2);
	c = mkframe(test, 0x1111, 6, 0, 3);	/* same hash, other domain */

	spin_lock(&t.lock);
	esxmm_ftable_insert(&t, a);
	esxmm_ftable_insert(&t, b);
	esxmm_ftable_insert(&t, c);
	KUNIT_EXPECT_PTR_EQ(test, esxmm_ftable_find(&t, 0x1111, 5, NULL, NULL), a);
	KUNIT_EXPECT_PTR_EQ(test, esxmm_ftable_find(&t, 0x1111, 6, NULL, NULL), c);
	KUNIT_EXPECT_PTR_EQ(test, esxmm_ftable_find(&t, 0x2222, 5, NULL, NULL), b);
	KUNIT_EXPECT_NULL(test, esxmm_ftable_find(&t, 0x2222, 6, NULL, NULL));
	KUNIT_EXPECT_NULL(test, esxmm_ftable_find(&t, 0x3333, 5, NULL, NULL));
	KUNIT_EXPECT_EQ(test, t.nr_hints, 2UL);
	KUNIT_EXPECT_EQ(test, t.nr_shared, 1UL);
	KUNIT_EXPECT_EQ(test, t.nr_sharing, 1UL);

	esxmm_ftable_remove(&t, a);
	KUNIT_EXPECT_NULL(test, esxmm_ftable_find(&t, 0x1111, 5, NULL, NULL));
	KUNIT_EXPECT_PTR_EQ(test, esxmm_ftable_find(&t, 0x1111, 6, NULL, NULL), c);
	esxmm_ftable_remove(&t, b);
	esxmm_ftable_remove(&t, c);
	KUNIT_EXPECT_EQ(test, t.nr_hints + t.nr_shared + t.nr_sharing, 0UL);
	spin_unlock(&t.lock);
	esxmm_ftable_destroy(&t);
}

/* Equal hashes, different contents: both frames live; the match picks. */
static void frame_test_collision(struct kunit *test)
{
	struct esxmm_ftable t;
	struct esxmm_frame *x, *y, *many[50];
	u64 want;
	int i;

	KUNIT_ASSERT_EQ(test, esxmm_ftable_init(&t, 2), 0);
	/* Allocated before the table lock is taken: it is a spinlock. */
	for (i = 0; i < 50; i++)
		many[i] = mkframe(test, 0xabc, 1, 0, 1000 + i);
	x = mkframe(test, 0xabc, 1, 3, 100);
	y = mkframe(test, 0xabc, 1, 2, 200);
	spin_lock(&t.lock);
	esxmm_ftable_insert(&t, x);
	esxmm_ftable_insert(&t, y);
	want = 100;
	KUNIT_EXPECT_PTR_EQ(test, esxmm_ftable_find(&t, 0xabc, 1, match_payload, &want), x);
	want = 200;
	KUNIT_EXPECT_PTR_EQ(test, esxmm_ftable_find(&t, 0xabc, 1, match_payload, &want), y);
	want = 300;
	KUNIT_EXPECT_NULL(test, esxmm_ftable_find(&t, 0xabc, 1, match_payload, &want));
	KUNIT_EXPECT_EQ(test, t.nr_sharing, 3UL);
	/* Many colliding hints in few buckets stay separately findable. */
	for (i = 0; i < 50; i++)
		esxmm_ftable_insert(&t, many[i]);
	want = 1025;
	KUNIT_EXPECT_EQ(test, esxmm_ftable_find(&t, 0xabc, 1, match_payload, &want)->hint, 1025ULL);
	KUNIT_EXPECT_NOT_NULL(test, esxmm_ftable_find(&t, 0xabc, 1, match_shared, NULL));
	KUNIT_EXPECT_EQ(test, t.nr_hints, 50UL);
	want = 1007;
	KUNIT_EXPECT_EQ(test, esxmm_ftable_drain_hints(&t, match_payload, &want, no_free), 1UL);
	KUNIT_EXPECT_NULL(test, esxmm_ftable_find(&t, 0xabc, 1, match_payload, &want));
	KUNIT_EXPECT_EQ(test, t.nr_hints, 49UL);
	KUNIT_EXPECT_EQ(test, esxmm_ftable_drain_hints(&t, NULL, NULL, no_free), 49UL);
	KUNIT_EXPECT_EQ(test, t.nr_hints, 0UL);
	KUNIT_EXPECT_PTR_EQ(test, esxmm_ftable_find(&t, 0xabc, 1, NULL, NULL), y);
	esxmm_ftable_remove(&t, x);
	esxmm_ftable_remove(&t, y);
	spin_unlock(&t.lock);
	esxmm_ftable_destroy(&t);
}

/* A hint taken out, turned into a shared frame of two, put back. */
static void frame_test_hint_promotion(struct kunit *test)
{
	struct esxmm_ftable t;
	struct esxmm_frame *h;

	KUNIT_ASSERT_EQ(test, esxmm_ftable_init(&t, 4), 0);
	h = mkframe(test, 0x77, 9, 0, esxmm_hint_pack(3, 12345));
	spin_lock(&t.lock);
	esxmm_ftable_insert(&t, h);
	KUNIT_EXPECT_TRUE(test, esxmm_frame_is_hint(esxmm_ftable_find(&t, 0x77, 9, NULL, NULL)));
	esxmm_ftable_remove(&t, h);
	h->page = NULL;
	h->count = 1;
	esxmm_ftable_insert(&t, h);
	esxmm_ftable_get(&t, h);
	KUNIT_EXPECT_FALSE(test, esxmm_frame_is_hint(h));
	KUNIT_EXPECT_EQ(test, t.nr_hints, 0UL);
	KUNIT_EXPECT_EQ(test, t.nr_shared, 1UL);
	KUNIT_EXPECT_EQ(test, t.nr_sharing, 1UL);
	esxmm_ftable_remove(&t, h);
	spin_unlock(&t.lock);
	esxmm_ftable_destroy(&t);
}

/* A stale hint is moved to the new candidate: one hint, new target. */
static void frame_test_stale_hint(struct kunit *test)
{
	struct esxmm_ftable t;
	struct esxmm_frame *h;

	KUNIT_ASSERT_EQ(test, esxmm_ftable_init(&t, 4), 0);
	h = mkframe(test, 0x99, 9, 0, esxmm_hint_pack(1, 10));
	spin_lock(&t.lock);
	esxmm_ftable_insert(&t, h);
	esxmm_ftable_remove(&t, h);
	h->hint = esxmm_hint_pack(2, 20);
	esxmm_ftable_insert(&t, h);
	KUNIT_EXPECT_EQ(test, t.nr_hints, 1UL);
	h = esxmm_ftable_find(&t, 0x99, 9, NULL, NULL);
	KUNIT_EXPECT_EQ(test, esxmm_hint_vm(h->hint), 2U);
	KUNIT_EXPECT_EQ(test, esxmm_hint_ppn(h->hint), 20UL);
	esxmm_ftable_remove(&t, h);
	spin_unlock(&t.lock);
	esxmm_ftable_destroy(&t);
}

/* Sharers come and go; the last put takes the frame out of the table. */
static void frame_test_refcount(struct kunit *test)
{
	struct esxmm_ftable t;
	struct esxmm_frame *f;

	KUNIT_ASSERT_EQ(test, esxmm_ftable_init(&t, 4), 0);
	f = mkframe(test, 0x5, 1, 1, 0);
	spin_lock(&t.lock);
	esxmm_ftable_insert(&t, f);
	KUNIT_EXPECT_EQ(test, t.nr_sharing, 0UL);	/* one sharer saves nothing */
	esxmm_ftable_get(&t, f);
	esxmm_ftable_get(&t, f);
	KUNIT_EXPECT_EQ(test, f->count, 3U);
	KUNIT_EXPECT_EQ(test, t.nr_sharing, 2UL);
	KUNIT_EXPECT_FALSE(test, esxmm_ftable_put(&t, f));
	KUNIT_EXPECT_FALSE(test, esxmm_ftable_put(&t, f));
	KUNIT_EXPECT_EQ(test, t.nr_sharing, 0UL);
	KUNIT_EXPECT_EQ(test, t.nr_shared, 1UL);
	KUNIT_EXPECT_TRUE(test, esxmm_ftable_put(&t, f));
	KUNIT_EXPECT_EQ(test, t.nr_shared, 0UL);
	KUNIT_EXPECT_NULL(test, esxmm_ftable_find(&t, 0x5, 1, NULL, NULL));
	spin_unlock(&t.lock);
	esxmm_ftable_destroy(&t);
}

static void frame_test_hint_pack(struct kunit *test)
{
	u64 h = esxmm_hint_pack(ESXMM_HINT_MAX_VM, (1UL << ESXMM_HINT_PPN_BITS) - 1);

	KUNIT_EXPECT_EQ(test, esxmm_hint_vm(h), ESXMM_HINT_MAX_VM);
	KUNIT_EXPECT_EQ(test, esxmm_hint_ppn(h), (1UL << ESXMM_HINT_PPN_BITS) - 1);
	h = esxmm_hint_pack(0, 0);
	KUNIT_EXPECT_EQ(test, esxmm_hint_vm(h), 0U);
	KUNIT_EXPECT_EQ(test, esxmm_hint_ppn(h), 0UL);
	/* Group 0 keeps each guest in a domain of its own; groups are shared. */
	KUNIT_EXPECT_NE(test, esxmm_share_domain(1, 0), esxmm_share_domain(2, 0));
	KUNIT_EXPECT_EQ(test, esxmm_share_domain(1, 7), esxmm_share_domain(2, 7));
	KUNIT_EXPECT_NE(test, esxmm_share_domain(7, 0), esxmm_share_domain(1, 7));
	KUNIT_EXPECT_NE(test, esxmm_share_domain(3, 0), esxmm_share_domain(3, ESXMM_MAX_SHARE_GROUP));
}

static void frame_test_pick_exact(struct kunit *test)
{
	unsigned long w[] = { 3, 0, 5, 2 };
	unsigned long zero[] = { 0, 0 };

	KUNIT_EXPECT_EQ(test, esxmm_share_pick(w, 4, 0), (size_t)0);
	KUNIT_EXPECT_EQ(test, esxmm_share_pick(w, 4, 2), (size_t)0);
	KUNIT_EXPECT_EQ(test, esxmm_share_pick(w, 4, 3), (size_t)2);	/* weight 0 skipped */
	KUNIT_EXPECT_EQ(test, esxmm_share_pick(w, 4, 7), (size_t)2);
	KUNIT_EXPECT_EQ(test, esxmm_share_pick(w, 4, 8), (size_t)3);
	KUNIT_EXPECT_EQ(test, esxmm_share_pick(w, 4, 9), (size_t)3);
	KUNIT_EXPECT_EQ(test, esxmm_share_pick(w, 4, 10), (size_t)0);	/* wraps */
	KUNIT_EXPECT_EQ(test, esxmm_share_pick(zero, 2, 5), (size_t)2);
	KUNIT_EXPECT_EQ(test, esxmm_share_pick(w, 0, 5), (size_t)0);
}

/* A small guest next to a big one gets its proportional share of visits. */
static void frame_test_pick_no_starvation(struct kunit *test)
{
	unsigned long w[] = { 100000, 100, 0, 900 };
	unsigned long hits[4] = {};
	struct rnd_state rnd;
	int i;

	prandom_seed_state(&rnd, 42);
	for (i = 0; i < 202000; i++) {
		u64 r = (u64)prandom_u32_state(&rnd) << 32 | prandom_u32_state(&rnd);

		hits[esxmm_share_pick(w, 4, r)]++;
	}
	/* Expected 200 and 1800 visits: allow about 4 standard deviations. */
	KUNIT_EXPECT_GE(test, hits[1], 140UL);
	KUNIT_EXPECT_LE(test, hits[1], 260UL);
	KUNIT_EXPECT_GE(test, hits[3], 1620UL);
	KUNIT_EXPECT_LE(test, hits[3], 1980UL);
	KUNIT_EXPECT_EQ(test, hits[2], 0UL);
}

static void frame_test_bits(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_ftable_bits_for(0), 10U);
	KUNIT_EXPECT_EQ(test, esxmm_ftable_bits_for(1 << 20), 18U);
	KUNIT_EXPECT_EQ(test, esxmm_ftable_bits_for(1UL << 40), 22U);
}

static struct kunit_case frame_test_cases[] = {
	KUNIT_CASE(frame_test_size),
	KUNIT_CASE(frame_test_insert_lookup),
	KUNIT_CASE(frame_test_collision),
	KUNIT_CASE(frame_test_hint_promotion),
	KUNIT_CASE(frame_test_stale_hint),
	KUNIT_CASE(frame_test_refcount),
	KUNIT_CASE(frame_test_hint_pack),
	KUNIT_CASE(frame_test_pick_exact),
	KUNIT_CASE(frame_test_pick_no_starvation),
	KUNIT_CASE(frame_test_bits),
	{}
};

static struct kunit_suite frame_test_suite = {
	.name = "esxmm_share",
	.test_cases = frame_test_cases,
};
kunit_test_suite(frame_test_suite);
