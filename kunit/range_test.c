// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: size and offset arithmetic of guest files: page counts, valid
 * sizes, read/write clipping at EOF and the split of a hole punch into
 * pages to free and bytes to zero.
 */
#include <kunit/test.h>
#include <linux/mm.h>

#include "range.h"

#define P PAGE_SIZE

static void range_test_size_to_pages(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_size_to_pages(0), 0UL);
	KUNIT_EXPECT_EQ(test, esxmm_size_to_pages(-1), 0UL);
	KUNIT_EXPECT_EQ(test, esxmm_size_to_pages(1), 1UL);
	KUNIT_EXPECT_EQ(test, esxmm_size_to_pages(P), 1UL);
	KUNIT_EXPECT_EQ(test, esxmm_size_to_pages(P + 1), 2UL);
	KUNIT_EXPECT_EQ(test, esxmm_size_to_pages((loff_t)ESXMM_MAX_PAGES * P),
			(unsigned long)ESXMM_MAX_PAGES);
}

static void range_test_check_size(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_check_size(0), 0);
	KUNIT_EXPECT_EQ(test, esxmm_check_size(P), 0);
	KUNIT_EXPECT_EQ(test, esxmm_check_size(256 << 20), 0);
	KUNIT_EXPECT_EQ(test, esxmm_check_size(P - 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_check_size(P + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_check_size(-(loff_t)P), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_check_size((loff_t)ESXMM_MAX_PAGES * P), 0);
	KUNIT_EXPECT_EQ(test, esxmm_check_size((loff_t)(ESXMM_MAX_PAGES + 1) * P), -EFBIG);
	KUNIT_EXPECT_EQ(test, esxmm_check_size(LLONG_MAX & ~(loff_t)(P - 1)), -EFBIG);
}

static void range_test_rw_clip(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_rw_clip(0, 100, 4 * P), (size_t)100);
	KUNIT_EXPECT_EQ(test, esxmm_rw_clip(4 * P - 10, 100, 4 * P), (size_t)10);
	KUNIT_EXPECT_EQ(test, esxmm_rw_clip(4 * P, 100, 4 * P), (size_t)0);
	KUNIT_EXPECT_EQ(test, esxmm_rw_clip(5 * P, 100, 4 * P), (size_t)0);
	KUNIT_EXPECT_EQ(test, esxmm_rw_clip(-1, 100, 4 * P), (size_t)0);
	KUNIT_EXPECT_EQ(test, esxmm_rw_clip(0, SIZE_MAX, 4 * P), (size_t)(4 * P));
	KUNIT_EXPECT_EQ(test, esxmm_rw_clip(0, 0, 4 * P), (size_t)0);
}

static void expect_punch(struct kunit *test, loff_t off, loff_t len, loff_t isize,
			 pgoff_t first, pgoff_t end, unsigned int nr_zero,
			 loff_t z0s, loff_t z0e, loff_t z1s, loff_t z1e)
{
	struct esxmm_punch p;

	KUNIT_ASSERT_EQ(test, esxmm_punch_range(off, len, isize, &p), 0);
	KUNIT_EXPECT_EQ_MSG(test, p.end - p.first, end - first, "off %lld len %lld", off, len);
	if (end > first)
		KUNIT_EXPECT_EQ(test, p.first, first);
	KUNIT_ASSERT_EQ_MSG(test, p.nr_zero, nr_zero, "off %lld len %lld", off, len);
	if (nr_zero > 0) {
		KUNIT_EXPECT_EQ(test, p.zero_start[0], z0s);
		KUNIT_EXPECT_EQ(test, p.zero_end[0], z0e);
	}
	if (nr_zero > 1) {
		KUNIT_EXPECT_EQ(test, p.zero_start[1], z1s);
		KUNIT_EXPECT_EQ(test, p.zero_end[1], z1e);
	}
}

static void range_test_punch(struct kunit *test)
{
	loff_t sz = 16 * P;
	struct esxmm_punch p;

	/* Whole pages only. */
	expect_punch(test, 2 * P, 3 * P, sz, 2, 5, 0, 0, 0, 0, 0);
	/* Unaligned head and tail around whole pages. */
	expect_punch(test, 2 * P + 100, 3 * P, sz, 3, 5, 2, 2 * P + 100, 3 * P, 5 * P, 5 * P + 100);
	/* Inside one page. */
	expect_punch(test, P + 10, 20, sz, 0, 0, 1, P + 10, P + 30, 0, 0);
	/* Across a page boundary without a whole page. */
	expect_punch(test, P + 10, P, sz, 0, 0, 1, P + 10, 2 * P + 10, 0, 0);
	/* Aligned start, partial end. */
	expect_punch(test, P, P + 1, sz, 1, 2, 1, 2 * P, 2 * P + 1, 0, 0);
	/* Clipped at EOF; past EOF is empty. */
	expect_punch(test, 14 * P, 100 * P, sz, 14, 16, 0, 0, 0, 0, 0);
	expect_punch(test, sz, P, sz, 0, 0, 0, 0, 0, 0, 0);
	expect_punch(test, 0, LLONG_MAX, sz, 0, 16, 0, 0, 0, 0, 0);
	/* Empty file. */
	expect_punch(test, 0, P, 0, 0, 0, 0, 0, 0, 0, 0);

	KUNIT_EXPECT_EQ(test, esxmm_punch_range(0, 0, sz, &p), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_punch_range(0, -1, sz, &p), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_punch_range(-1, P, sz, &p), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_punch_range(LLONG_MAX - 10, 11, sz, &p), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_punch_range(LLONG_MAX - 10, 10, sz, &p), 0);
}

static struct kunit_case range_test_cases[] = {
	KUNIT_CASE(range_test_size_to_pages),
	KUNIT_CASE(range_test_check_size),
	KUNIT_CASE(range_test_rw_clip),
	KUNIT_CASE(range_test_punch),
	{}
};

static struct kunit_suite range_test_suite = {
	.name = "esxmm_range",
	.test_cases = range_test_cases,
};
kunit_test_suite(range_test_suite);
