// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the pmap entry format (every state encodes and decodes to itself
 * and nothing else) and the state machine esxmm_pmap_replace() enforces.
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "shadow/pmap.h"
#include "share/frame.h"

static void pmap_test_encoding(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL);
	struct esxmm_frame *frame = kmalloc(sizeof(*frame), GFP_KERNEL);
	void *e;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, frame);

	KUNIT_EXPECT_EQ(test, esxmm_pmap_state(NULL), ESXMM_P_NONE);

	e = esxmm_pmap_mk_private(page);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_state(e), ESXMM_P_PRIVATE);
	KUNIT_EXPECT_PTR_EQ(test, esxmm_pmap_to_page(e), page);
	KUNIT_EXPECT_NULL(test, esxmm_pmap_to_frame(e));
	KUNIT_EXPECT_FALSE(test, xa_is_value(e) || xa_is_internal(e));

	e = esxmm_pmap_mk_shared(frame);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_state(e), ESXMM_P_SHARED);
	KUNIT_EXPECT_PTR_EQ(test, esxmm_pmap_to_frame(e), frame);
	KUNIT_EXPECT_NULL(test, esxmm_pmap_to_page(e));
	/* Must be a legal XArray pointer entry: bits 0-1 clear. */
	KUNIT_EXPECT_FALSE(test, xa_is_value(e) || xa_is_internal(e));

	e = esxmm_pmap_mk_ballooned();
	KUNIT_EXPECT_EQ(test, esxmm_pmap_state(e), ESXMM_P_BALLOONED);
	KUNIT_EXPECT_NULL(test, esxmm_pmap_to_page(e));
	KUNIT_EXPECT_NULL(test, esxmm_pmap_to_frame(e));

	kfree(frame);
	__free_page(page);
}

static void pmap_test_swap_slots(struct kunit *test)
{
	static const unsigned long slots[] = { 0, 1, 2, 4095, 1UL << 32, ESXMM_PMAP_MAX_SLOT };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(slots); i++) {
		void *e = esxmm_pmap_mk_swapped(slots[i]);

		KUNIT_EXPECT_EQ(test, esxmm_pmap_state(e), ESXMM_P_SWAPPED);
		KUNIT_EXPECT_EQ(test, esxmm_pmap_to_slot(e), slots[i]);
		KUNIT_EXPECT_NULL(test, esxmm_pmap_to_page(e));
		KUNIT_EXPECT_TRUE(test, xa_is_value(e));
	}
}

/* The whole table, so a change to the state machine is a visible decision. */
static void pmap_test_transitions(struct kunit *test)
{
	static const char * const allowed[] = {
		"none>private", "none>ballooned",
		"private>none", "private>private", "private>shared", "private>swapped",
		"private>ballooned",
		"shared>none", "shared>private", "shared>shared", "shared>ballooned",
		"swapped>none", "swapped>private", "swapped>ballooned",
		"ballooned>none", "ballooned>private",
	};
	enum esxmm_pstate from, to;
	char name[32];
	unsigned int i, n = 0;

	for (from = 0; from < ESXMM_P_NR_STATES; from++) {
		for (to = 0; to < ESXMM_P_NR_STATES; to++) {
			bool want = false;

			snprintf(name, sizeof(name), "%s>%s", esxmm_pstate_name(from),
				 esxmm_pstate_name(to));
			for (i = 0; i < ARRAY_SIZE(allowed); i++)
				want |= !strcmp(name, allowed[i]);
			KUNIT_EXPECT_EQ_MSG(test, esxmm_pmap_transition_valid(from, to), want,
					    "edge %s", name);
			n += want;
		}
	}
	KUNIT_EXPECT_EQ(test, n, ARRAY_SIZE(allowed));
	KUNIT_EXPECT_FALSE(test, esxmm_pmap_transition_valid(ESXMM_P_NR_STATES, ESXMM_P_NONE));
	KUNIT_EXPECT_STREQ(test, esxmm_pstate_name(ESXMM_P_NR_STATES), "invalid");
}

static void pmap_test_replace(struct kunit *test)
{
	struct esxmm_pmap pmap;
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *other = alloc_page(GFP_KERNEL);
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, other);
	esxmm_pmap_init(&pmap);
	p = esxmm_pmap_mk_private(page);

	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 7, NULL, p), 0);
	KUNIT_EXPECT_PTR_EQ(test, esxmm_pmap_load(&pmap, 7), p);
	/* A second inserter that saw NONE loses. */
	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 7, NULL, other), -EAGAIN);
	KUNIT_EXPECT_PTR_EQ(test, esxmm_pmap_load(&pmap, 7), p);
	/* A forbidden edge leaves the entry as it was. */
	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 7, p, NULL), 0);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 7, NULL, esxmm_pmap_mk_swapped(3)),
			-EINVAL);
	KUNIT_EXPECT_NULL(test, esxmm_pmap_load(&pmap, 7));

	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 7, NULL, p), 0);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 7, p, esxmm_pmap_mk_swapped(42)), 0);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_state(esxmm_pmap_load(&pmap, 7)), ESXMM_P_SWAPPED);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_to_slot(esxmm_pmap_load(&pmap, 7)), 42UL);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 7, esxmm_pmap_mk_swapped(42),
						 esxmm_pmap_mk_ballooned()), 0);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 7, esxmm_pmap_mk_ballooned(),
						 esxmm_pmap_mk_shared(NULL)), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 7, esxmm_pmap_mk_ballooned(), NULL), 0);

	/* Far-apart indices: a guest of 2^40 pages. */
	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, (1UL << 40) - 1, NULL, p), 0);
	KUNIT_EXPECT_PTR_EQ(test, esxmm_pmap_load(&pmap, (1UL << 40) - 1), p);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, (1UL << 40) - 1, p, NULL), 0);

	KUNIT_EXPECT_TRUE(test, xa_empty(&pmap.xa));
	esxmm_pmap_destroy(&pmap);
	__free_page(other);
	__free_page(page);
}

static void pmap_test_get_page(struct kunit *test)
{
	struct esxmm_pmap pmap;
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *got;
	void *entry;
	int refs;

	KUNIT_ASSERT_NOT_NULL(test, page);
	esxmm_pmap_init(&pmap);
	refs = page_count(page);

	got = esxmm_pmap_get_page(&pmap, 3, &entry);
	KUNIT_EXPECT_NULL(test, got);
	KUNIT_EXPECT_NULL(test, entry);

	KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, 3, NULL, page), 0);
	got = esxmm_pmap_get_page(&pmap, 3, &entry);
	KUNIT_EXPECT_PTR_EQ(test, got, page);
	KUNIT_EXPECT_PTR_EQ(test, entry, (void *)page);
	/* The caller owns one more reference. */
	KUNIT_EXPECT_EQ(test, page_count(page), refs + 1);
	put_page(page);

	KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, 3, page, esxmm_pmap_mk_swapped(9)), 0);
	got = esxmm_pmap_get_page(&pmap, 3, &entry);
	KUNIT_EXPECT_NULL(test, got);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_state(entry), ESXMM_P_SWAPPED);
	KUNIT_EXPECT_EQ(test, page_count(page), refs);

	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 3, entry, NULL), 0);
	esxmm_pmap_destroy(&pmap);
	__free_page(page);
}

/* A SHARED entry yields its frame's page, with a reference. */
static void pmap_test_get_shared_page(struct kunit *test)
{
	struct esxmm_frame *frame = kunit_kzalloc(test, sizeof(*frame), GFP_KERNEL);
	struct page *page = alloc_page(GFP_KERNEL);
	struct esxmm_pmap pmap;
	unsigned long index = 0;
	struct page *got;
	void *entry;
	int refs;

	KUNIT_ASSERT_NOT_NULL(test, frame);
	KUNIT_ASSERT_NOT_NULL(test, page);
	frame->page = page;
	frame->count = 2;
	esxmm_pmap_init(&pmap);
	refs = page_count(page);
	KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, 100, NULL, page), 0);
	KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, 100, page, esxmm_pmap_mk_shared(frame)), 0);
	got = esxmm_pmap_get_page(&pmap, 100, &entry);
	KUNIT_EXPECT_PTR_EQ(test, got, page);
	KUNIT_EXPECT_EQ(test, esxmm_pmap_state(entry), ESXMM_P_SHARED);
	KUNIT_EXPECT_EQ(test, page_count(page), refs + 1);
	put_page(page);

	/* The range form finds the next entry at or after the index. */
	got = esxmm_pmap_get_page_from(&pmap, &index, ULONG_MAX, &entry);
	KUNIT_EXPECT_EQ(test, index, 100UL);
	KUNIT_EXPECT_PTR_EQ(test, got, page);
	put_page(page);
	index = 101;
	got = esxmm_pmap_get_page_from(&pmap, &index, ULONG_MAX, &entry);
	KUNIT_EXPECT_NULL(test, got);
	KUNIT_EXPECT_NULL(test, entry);

	KUNIT_EXPECT_EQ(test, esxmm_pmap_replace(&pmap, 100, esxmm_pmap_mk_shared(frame), NULL), 0);
	esxmm_pmap_destroy(&pmap);
	__free_page(page);
}

/* The swapper's victim search returns private pages only, within its budget. */
static void pmap_test_get_private(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL), *fpage = alloc_page(GFP_KERNEL), *got;
	struct esxmm_frame *frame = kzalloc(sizeof(*frame), GFP_KERNEL);
	struct esxmm_pmap pmap;
	unsigned long index, i;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, fpage);
	KUNIT_ASSERT_NOT_NULL(test, frame);
	frame->page = fpage;
	esxmm_pmap_init(&pmap);
	/* 0..9 shared, 10 swapped, 11 ballooned, 20 private. */
	for (i = 0; i < 10; i++)
		KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, i, NULL,
							 esxmm_pmap_mk_private(page)), 0);
	for (i = 0; i < 10; i++)
		KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, i, esxmm_pmap_mk_private(page),
							 esxmm_pmap_mk_shared(frame)), 0);
	KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, 10, NULL, esxmm_pmap_mk_private(page)), 0);
	KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, 10, esxmm_pmap_mk_private(page),
						 esxmm_pmap_mk_swapped(3)), 0);
	KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, 11, NULL, esxmm_pmap_mk_ballooned()), 0);
	KUNIT_ASSERT_EQ(test, esxmm_pmap_replace(&pmap, 20, NULL, esxmm_pmap_mk_private(page)), 0);

	index = 0;
	got = esxmm_pmap_get_private(&pmap, &index, 100, 64);
	KUNIT_EXPECT_PTR_EQ(test, got, page);
	KUNIT_EXPECT_EQ(test, index, 20UL);
	if (got)
		put_page(got);
	/* A budget of 5 entries stops among the shared ones, index untouched. */
	index = 0;
	KUNIT_EXPECT_NULL(test, esxmm_pmap_get_private(&pmap, &index, 100, 5));
	KUNIT_EXPECT_EQ(test, index, 0UL);
	/* Past the last private page: nothing. */
	index = 21;
	KUNIT_EXPECT_NULL(test, esxmm_pmap_get_private(&pmap, &index, 100, 64));
	/* A range that ends before it: nothing. */
	index = 0;
	KUNIT_EXPECT_NULL(test, esxmm_pmap_get_private(&pmap, &index, 19, 64));

	for (i = 0; i < 10; i++)
		esxmm_pmap_replace(&pmap, i, esxmm_pmap_mk_shared(frame), NULL);
	esxmm_pmap_replace(&pmap, 10, esxmm_pmap_mk_swapped(3), NULL);
	esxmm_pmap_replace(&pmap, 11, esxmm_pmap_mk_ballooned(), NULL);
	esxmm_pmap_replace(&pmap, 20, esxmm_pmap_mk_private(page), NULL);
	esxmm_pmap_destroy(&pmap);
	kfree(frame);
	__free_page(fpage);
	__free_page(page);
}

static struct kunit_case pmap_test_cases[] = {
	KUNIT_CASE(pmap_test_encoding),
	KUNIT_CASE(pmap_test_swap_slots),
	KUNIT_CASE(pmap_test_transitions),
	KUNIT_CASE(pmap_test_replace),
	KUNIT_CASE(pmap_test_get_page),
	KUNIT_CASE(pmap_test_get_shared_page),
	KUNIT_CASE(pmap_test_get_private),
	{}
};

static struct kunit_suite pmap_test_suite = {
	.name = "esxmm_pmap",
	.test_cases = pmap_test_cases,
};
kunit_test_suite(pmap_test_suite);

MODULE_LICENSE("GPL");
