// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the swap slot allocator: runs of consecutive slots, wrap-around,
 * full and empty areas, frees and the rules for switching swap on and off.
 */
#include <kunit/test.h>

#include "reclaim/slots.h"

static void slots_test_runs(struct kunit *test)
{
	struct esxmm_slots s;
	unsigned int got;
	long a, b;

	esxmm_slots_init(&s);
	KUNIT_EXPECT_EQ(test, esxmm_slots_alloc(&s, 1, &got), -ENOSPC);
	KUNIT_ASSERT_EQ(test, esxmm_slots_setup(&s, 100), 0);
	KUNIT_EXPECT_EQ(test, esxmm_slots_total(&s), 100UL);
	KUNIT_EXPECT_EQ(test, esxmm_slots_free_count(&s), 100UL);

	a = esxmm_slots_alloc(&s, 32, &got);
	KUNIT_EXPECT_EQ(test, a, 0L);
	KUNIT_EXPECT_EQ(test, got, 32U);
	b = esxmm_slots_alloc(&s, 32, &got);
	KUNIT_EXPECT_EQ(test, b, 32L);
	KUNIT_EXPECT_EQ(test, got, 32U);
	KUNIT_EXPECT_EQ(test, esxmm_slots_used(&s), 64UL);

	/* A hole of 4 in the middle: a 32-slot request takes the tail first. */
	esxmm_slots_free(&s, 10, 4);
	KUNIT_EXPECT_FALSE(test, esxmm_slots_test(&s, 10));
	KUNIT_EXPECT_TRUE(test, esxmm_slots_test(&s, 14));
	a = esxmm_slots_alloc(&s, 32, &got);
	KUNIT_EXPECT_EQ(test, a, 64L);
	KUNIT_EXPECT_EQ(test, got, 32U);
	/* 4 left at the tail, then it wraps to the hole. */
	a = esxmm_slots_alloc(&s, 32, &got);
	KUNIT_EXPECT_EQ(test, a, 96L);
	KUNIT_EXPECT_EQ(test, got, 4U);
	a = esxmm_slots_alloc(&s, 32, &got);
	KUNIT_EXPECT_EQ(test, a, 10L);
	KUNIT_EXPECT_EQ(test, got, 4U);
	KUNIT_EXPECT_EQ(test, esxmm_slots_used(&s), 100UL);
	KUNIT_EXPECT_EQ(test, esxmm_slots_alloc(&s, 1, &got), -ENOSPC);

	esxmm_slots_free(&s, 0, 100);
	KUNIT_EXPECT_EQ(test, esxmm_slots_used(&s), 0UL);
	KUNIT_EXPECT_EQ(test, esxmm_slots_teardown(&s), 0);
	KUNIT_EXPECT_EQ(test, esxmm_slots_total(&s), 0UL);
}

/* Every slot handed out once until all are used, whatever the request sizes. */
static void slots_test_exhaust(struct kunit *test)
{
	static const unsigned int sizes[] = { 1, 7, 32, 3, 16, 5 };
	unsigned long seen = 0, i;
	struct esxmm_slots s;
	unsigned int got, k = 0;
	long a;

	esxmm_slots_init(&s);
	KUNIT_ASSERT_EQ(test, esxmm_slots_setup(&s, 1000), 0);
	for (;;) {
		a = esxmm_slots_alloc(&s, sizes[k++ % ARRAY_SIZE(sizes)], &got);
		if (a < 0)
			break;
		KUNIT_ASSERT_LE(test, (unsigned long)a + got, 1000UL);
		seen += got;
	}
	KUNIT_EXPECT_EQ(test, a, (long)-ENOSPC);
	KUNIT_EXPECT_EQ(test, seen, 1000UL);
	for (i = 0; i < 1000; i++)
		KUNIT_EXPECT_TRUE(test, esxmm_slots_test(&s, i));
	esxmm_slots_free(&s, 0, 1000);
	KUNIT_EXPECT_EQ(test, esxmm_slots_teardown(&s), 0);
}

/* Swap on and off: on only when off; off only when nothing is in it. */
static void slots_test_on_off(struct kunit *test)
{
	struct esxmm_slots s;
	unsigned int got;
	long a;

	esxmm_slots_init(&s);
	KUNIT_EXPECT_EQ(test, esxmm_slots_setup(&s, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_slots_teardown(&s), 0);	/* off when off: fine */
	KUNIT_ASSERT_EQ(test, esxmm_slots_setup(&s, 8), 0);
	KUNIT_EXPECT_EQ(test, esxmm_slots_setup(&s, 8), -EBUSY);
	a = esxmm_slots_alloc(&s, 1, &got);
	KUNIT_EXPECT_EQ(test, a, 0L);
	KUNIT_EXPECT_EQ(test, esxmm_slots_teardown(&s), -EBUSY);
	KUNIT_EXPECT_EQ(test, esxmm_slots_total(&s), 8UL);	/* still on */
	esxmm_slots_free(&s, a, 1);
	KUNIT_EXPECT_EQ(test, esxmm_slots_teardown(&s), 0);
	KUNIT_EXPECT_EQ(test, esxmm_slots_alloc(&s, 1, &got), -ENOSPC);
}

static struct kunit_case slots_test_cases[] = {
	KUNIT_CASE(slots_test_runs),
	KUNIT_CASE(slots_test_exhaust),
	KUNIT_CASE(slots_test_on_off),
	{}
};

static struct kunit_suite slots_test_suite = {
	.name = "esxmm_slots",
	.test_cases = slots_test_cases,
};
kunit_test_suite(slots_test_suite);
