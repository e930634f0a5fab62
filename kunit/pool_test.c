// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: machine pool accounting. A charge is all or nothing and never
 * passes the limit; a limit below what is allocated refuses new charges.
 */
#include <kunit/test.h>

#include "pool.h"

static void pool_test_charge(struct kunit *test)
{
	struct esxmm_pool pool;

	esxmm_pool_init(&pool, 10);
	KUNIT_EXPECT_EQ(test, esxmm_pool_free(&pool), 10UL);
	KUNIT_EXPECT_TRUE(test, esxmm_pool_charge(&pool, 4));
	KUNIT_EXPECT_TRUE(test, esxmm_pool_charge(&pool, 6));
	KUNIT_EXPECT_EQ(test, esxmm_pool_allocated(&pool), 10UL);
	KUNIT_EXPECT_EQ(test, esxmm_pool_free(&pool), 0UL);
	KUNIT_EXPECT_FALSE(test, esxmm_pool_charge(&pool, 1));
	KUNIT_EXPECT_EQ(test, esxmm_pool_allocated(&pool), 10UL);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&pool.failed), 1L);

	esxmm_pool_uncharge(&pool, 3);
	KUNIT_EXPECT_FALSE(test, esxmm_pool_charge(&pool, 4));	/* all or nothing */
	KUNIT_EXPECT_EQ(test, esxmm_pool_allocated(&pool), 7UL);
	KUNIT_EXPECT_TRUE(test, esxmm_pool_charge(&pool, 3));
	KUNIT_EXPECT_FALSE(test, esxmm_pool_charge(&pool, ULONG_MAX));
	esxmm_pool_uncharge(&pool, 10);
	KUNIT_EXPECT_EQ(test, esxmm_pool_allocated(&pool), 0UL);
}

static void pool_test_shrink(struct kunit *test)
{
	struct esxmm_pool pool;

	esxmm_pool_init(&pool, 100);
	KUNIT_ASSERT_TRUE(test, esxmm_pool_charge(&pool, 80));
	esxmm_pool_set_limit(&pool, 50);
	KUNIT_EXPECT_EQ(test, esxmm_pool_limit(&pool), 50UL);
	KUNIT_EXPECT_EQ(test, esxmm_pool_free(&pool), 0UL);
	KUNIT_EXPECT_FALSE(test, esxmm_pool_charge(&pool, 1));
	esxmm_pool_uncharge(&pool, 40);
	KUNIT_EXPECT_EQ(test, esxmm_pool_free(&pool), 10UL);
	KUNIT_EXPECT_TRUE(test, esxmm_pool_charge(&pool, 10));
	KUNIT_EXPECT_FALSE(test, esxmm_pool_charge(&pool, 1));
	esxmm_pool_uncharge(&pool, 50);
}

static void pool_test_default(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_pool_default_limit(1000), 900UL);
	KUNIT_EXPECT_EQ(test, esxmm_pool_default_limit(1001), 900UL);
	KUNIT_EXPECT_EQ(test, esxmm_pool_default_limit(6291456), 5662310UL);
	KUNIT_EXPECT_EQ(test, esxmm_pool_default_limit(1), 1UL);
	/* No overflow for a huge machine. */
	KUNIT_EXPECT_EQ(test, esxmm_pool_default_limit(ULONG_MAX / 2), (ULONG_MAX / 2) / 10 * 9 +
			((ULONG_MAX / 2) % 10) * 9 / 10);
}

static struct kunit_case pool_test_cases[] = {
	KUNIT_CASE(pool_test_charge),
	KUNIT_CASE(pool_test_shrink),
	KUNIT_CASE(pool_test_default),
	{}
};

static struct kunit_suite pool_test_suite = {
	.name = "esxmm_pool",
	.test_cases = pool_test_cases,
};
kunit_test_suite(pool_test_suite);
