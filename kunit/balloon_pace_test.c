// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the balloon driver's pacing and target arithmetic (guest-driver/
 * pace.c): 4 KiB units against guest pages, message batches, the rate
 * budget of one step, the rate cut and exponential backoff on allocation
 * failure and their recovery, the OOM hold, and when the worker runs next.
 */
#include <kunit/test.h>
#include <linux/limits.h>

#include "../guest-driver/pace.h"

#define TICK ESXMM_PACE_TICK_MS

static void balloon_pace_test_units(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_pace_units_per_page(12), 1U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_units_per_page(14), 4U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_units_per_page(16), 16U);
	/* Smaller than the device's unit cannot happen; it must not underflow. */
	KUNIT_EXPECT_EQ(test, esxmm_pace_units_per_page(10), 1U);
}

/* The target rounds down: never more than asked, and a fixed point. */
static void balloon_pace_test_target(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_pace_target(0, 1), 0UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_target(65536, 1), 65536UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_target(U32_MAX, 1), (unsigned long)U32_MAX);
	KUNIT_EXPECT_EQ(test, esxmm_pace_target(15, 16), 0UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_target(16, 16), 1UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_target(33, 16), 2UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_target(7, 0), 7UL);
	/* Reporting the target back as actual gives the same target again. */
	KUNIT_EXPECT_EQ(test, esxmm_pace_target(esxmm_pace_actual(2, 16), 16), 2UL);
}

static void balloon_pace_test_actual(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_pace_actual(0, 1), 0U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_actual(65536, 1), 65536U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_actual(3, 16), 48U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_actual(U32_MAX, 16), U32_MAX);
	KUNIT_EXPECT_EQ(test, esxmm_pace_actual(ULONG_MAX, 1), U32_MAX);
}

/* A message carries at most 256 PFNs of 4 KiB, whatever the page size. */
static void balloon_pace_test_batch(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_pace_batch(0, 1), 0U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_batch(1, 1), 1U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_batch(255, 1), 255U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_batch(256, 1), 256U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_batch(100000, 1), 256U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_batch(ULONG_MAX, 1), 256U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_batch(100, 16), 16U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_batch(5, 16), 5U);
	/* A page larger than a whole message still moves, one at a time. */
	KUNIT_EXPECT_EQ(test, esxmm_pace_batch(5, 512), 1U);
}

static void balloon_pace_test_params(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, esxmm_pace_rate_valid(0));
	KUNIT_EXPECT_FALSE(test, esxmm_pace_rate_valid(ESXMM_PACE_RATE_MIN - 1));
	KUNIT_EXPECT_TRUE(test, esxmm_pace_rate_valid(ESXMM_PACE_RATE_MIN));
	KUNIT_EXPECT_TRUE(test, esxmm_pace_rate_valid(ESXMM_PACE_RATE_DEFAULT));
	KUNIT_EXPECT_TRUE(test, esxmm_pace_rate_valid(ESXMM_PACE_RATE_MAX));
	KUNIT_EXPECT_FALSE(test, esxmm_pace_rate_valid(ESXMM_PACE_RATE_MAX + 1));
	KUNIT_EXPECT_FALSE(test, esxmm_pace_rate_valid(UINT_MAX));

	KUNIT_EXPECT_FALSE(test, esxmm_pace_poll_valid(0));
	KUNIT_EXPECT_FALSE(test, esxmm_pace_poll_valid(ESXMM_PACE_POLL_MS_MIN - 1));
	KUNIT_EXPECT_TRUE(test, esxmm_pace_poll_valid(ESXMM_PACE_POLL_MS_DEFAULT));
	KUNIT_EXPECT_TRUE(test, esxmm_pace_poll_valid(ESXMM_PACE_POLL_MS_MAX));
	KUNIT_EXPECT_FALSE(test, esxmm_pace_poll_valid(ESXMM_PACE_POLL_MS_MAX + 1));
}

/* One step moves rate * tick / 1 s pages, never zero, and no overflow. */
static void balloon_pace_test_budget(struct kunit *test)
{
	struct esxmm_pace p;

	esxmm_pace_init(&p, ESXMM_PACE_RATE_DEFAULT);
	KUNIT_EXPECT_EQ(test, p.backoff_ms, 0U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, ESXMM_PACE_RATE_DEFAULT, true, TICK),
			(unsigned long)ESXMM_PACE_RATE_DEFAULT * ESXMM_PACE_TICK_MS / 1000);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, ESXMM_PACE_RATE_MAX, true, TICK),
			(unsigned long)ESXMM_PACE_RATE_DEFAULT * ESXMM_PACE_TICK_MS / 1000);
	/* The parameter was lowered since: the lower value wins at once. */
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, 1000, true, TICK), 100UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, 1, true, TICK), 1UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, 0, false, TICK), 1UL);

	esxmm_pace_init(&p, ESXMM_PACE_RATE_MAX);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, ESXMM_PACE_RATE_MAX, true, TICK),
			(unsigned long)ESXMM_PACE_RATE_MAX * ESXMM_PACE_TICK_MS / 1000);
}

/*
 * A step that starts late earns the time it waited, up to two ticks; one
 * that starts early still gets a tick's worth (the delay never makes it
 * early by design, only the host's interrupt does).
 */
static void balloon_pace_test_budget_late(struct kunit *test)
{
	const unsigned int max = 10000;
	struct esxmm_pace p;

	esxmm_pace_init(&p, max);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, max, true, 0), 1000UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, max, true, 150), 1500UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, max, false, 2 * ESXMM_PACE_TICK_MS),
			2000UL);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, max, true, UINT_MAX), 2000UL);
}

/*
 * Each short step halves the rate (floor RATE_MIN) and doubles the backoff
 * from BACKOFF_MIN up to BACKOFF_MAX; deflation keeps the full rate.
 */
static void balloon_pace_test_failure_backoff(struct kunit *test)
{
	const unsigned int max = ESXMM_PACE_RATE_DEFAULT;
	unsigned int expect = ESXMM_PACE_BACKOFF_MIN_MS;
	struct esxmm_pace p;
	int i;

	esxmm_pace_init(&p, max);
	KUNIT_EXPECT_TRUE(test, esxmm_pace_inflated(&p, max, 100, 99));
	KUNIT_EXPECT_EQ(test, p.rate, max / 2);
	KUNIT_EXPECT_EQ(test, p.backoff_ms, ESXMM_PACE_BACKOFF_MIN_MS);
	KUNIT_EXPECT_EQ(test, esxmm_pace_budget(&p, max, false, TICK),
			(unsigned long)max * ESXMM_PACE_TICK_MS / 1000);

	for (i = 0; i < 20; i++) {
		expect = min(expect * 2, ESXMM_PACE_BACKOFF_MAX_MS);
		KUNIT_EXPECT_TRUE(test, esxmm_pace_inflated(&p, max, 10, 0));
		KUNIT_EXPECT_EQ(test, p.backoff_ms, expect);
		KUNIT_EXPECT_GE(test, p.rate, ESXMM_PACE_RATE_MIN);
	}
	KUNIT_EXPECT_EQ(test, p.backoff_ms, ESXMM_PACE_BACKOFF_MAX_MS);
	KUNIT_EXPECT_EQ(test, p.rate, ESXMM_PACE_RATE_MIN);
	KUNIT_EXPECT_GE(test, esxmm_pace_budget(&p, max, true, TICK), 1UL);
}

/* One full step clears the backoff; the rate doubles back to the limit. */
static void balloon_pace_test_recovery(struct kunit *test)
{
	const unsigned int max = ESXMM_PACE_RATE_DEFAULT;
	unsigned int prev;
	struct esxmm_pace p;
	int steps = 0;

	esxmm_pace_init(&p, max);
	esxmm_pace_oom(&p);
	KUNIT_EXPECT_EQ(test, p.rate, ESXMM_PACE_RATE_MIN);
	KUNIT_EXPECT_EQ(test, p.backoff_ms, ESXMM_PACE_BACKOFF_MAX_MS);

	KUNIT_EXPECT_FALSE(test, esxmm_pace_inflated(&p, max, 6, 6));
	KUNIT_EXPECT_EQ(test, p.backoff_ms, 0U);
	KUNIT_EXPECT_EQ(test, p.rate, 2 * ESXMM_PACE_RATE_MIN);
	while (p.rate < max && steps < 64) {
		prev = p.rate;
		KUNIT_EXPECT_FALSE(test, esxmm_pace_inflated(&p, max, 1, 1));
		KUNIT_EXPECT_EQ(test, p.rate, min(2 * prev, max));
		steps++;
	}
	KUNIT_EXPECT_EQ(test, p.rate, max);
	/* log2(16384 / 128) = 7 doublings. */
	KUNIT_EXPECT_EQ(test, steps, 7);
	/* More than asked for is a success too, and stays at the limit. */
	KUNIT_EXPECT_FALSE(test, esxmm_pace_inflated(&p, max, 1, 2));
	KUNIT_EXPECT_EQ(test, p.rate, max);
	/* A limit lowered at run time caps the rate at the next step. */
	KUNIT_EXPECT_FALSE(test, esxmm_pace_inflated(&p, 1000, 1, 1));
	KUNIT_EXPECT_EQ(test, p.rate, 1000U);
	/* The largest limit does not overflow the doubling. */
	esxmm_pace_init(&p, ESXMM_PACE_RATE_MAX);
	KUNIT_EXPECT_FALSE(test, esxmm_pace_inflated(&p, ESXMM_PACE_RATE_MAX, 1, 1));
	KUNIT_EXPECT_EQ(test, p.rate, ESXMM_PACE_RATE_MAX);
	/* Nothing wanted, nothing got: not a failure. */
	KUNIT_EXPECT_FALSE(test, esxmm_pace_inflated(&p, ESXMM_PACE_RATE_MAX, 0, 0));
}

/* At target: poll. Short with backoff: wait it. Else: the tick's rest. */
static void balloon_pace_test_delay(struct kunit *test)
{
	struct esxmm_pace p;

	esxmm_pace_init(&p, ESXMM_PACE_RATE_DEFAULT);
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, 0, 0, 1000), 1000U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, 0, 5000, 250), 250U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, 10, 0, 1000), ESXMM_PACE_TICK_MS);
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, 10, 30, 1000),
			ESXMM_PACE_TICK_MS - 30);
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, 10, ESXMM_PACE_TICK_MS, 1000), 0U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, 10, 100000, 1000), 0U);
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, -10, 40, 1000),
			ESXMM_PACE_TICK_MS - 40);

	esxmm_pace_inflated(&p, ESXMM_PACE_RATE_DEFAULT, 10, 0);
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, 10, 0, 1000),
			ESXMM_PACE_BACKOFF_MIN_MS);
	/* The backoff holds inflation only: deflation and the poll go on. */
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, -10, 0, 1000), ESXMM_PACE_TICK_MS);
	KUNIT_EXPECT_EQ(test, esxmm_pace_delay_ms(&p, 0, 0, 1000), 1000U);
}

/*
 * Moving a whole target at the default rate: 256 MiB of 4 KiB pages in
 * steps of 1638 pages is 41 steps, 40 ticks apart (64 MiB/s), then the
 * poll; no step overshoots the target.
 */
static void balloon_pace_test_converge(struct kunit *test)
{
	const unsigned int max = ESXMM_PACE_RATE_DEFAULT;
	unsigned long balloon = 0, target = esxmm_pace_target(65536, 1), n;
	unsigned int ms = 0;
	struct esxmm_pace p;

	esxmm_pace_init(&p, max);
	while (balloon != target && ms < 60000) {
		n = min(target - balloon, esxmm_pace_budget(&p, max, true, TICK));
		esxmm_pace_inflated(&p, max, n, n);
		balloon += n;
		ms += esxmm_pace_delay_ms(&p, (long)(target - balloon), 0, 1000);
	}
	KUNIT_EXPECT_EQ(test, balloon, target);
	KUNIT_EXPECT_EQ(test, ms, 40 * ESXMM_PACE_TICK_MS + 1000);
}

static struct kunit_case balloon_pace_test_cases[] = {
	KUNIT_CASE(balloon_pace_test_units),
	KUNIT_CASE(balloon_pace_test_target),
	KUNIT_CASE(balloon_pace_test_actual),
	KUNIT_CASE(balloon_pace_test_batch),
	KUNIT_CASE(balloon_pace_test_params),
	KUNIT_CASE(balloon_pace_test_budget),
	KUNIT_CASE(balloon_pace_test_budget_late),
	KUNIT_CASE(balloon_pace_test_failure_backoff),
	KUNIT_CASE(balloon_pace_test_recovery),
	KUNIT_CASE(balloon_pace_test_delay),
	KUNIT_CASE(balloon_pace_test_converge),
	{}
};

static struct kunit_suite balloon_pace_test_suite = {
	.name = "esxmm_balloon_pace",
	.test_cases = balloon_pace_test_cases,
};

kunit_test_suite(balloon_pace_test_suite);
