// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: ESX's allocation policy on fixed inputs with exact expected
 * results: targets by min-funding revocation with the idle tax, the
 * estimator, the free-memory states with hysteresis, admission control.
 */
#include <kunit/test.h>

#include "reclaim/policy.h"

static void set_vm(struct esxmm_policy_vm *v, u64 shares, unsigned long min,
		   unsigned long max, unsigned int active)
{
	v->shares = shares;
	v->min = min;
	v->max = max;
	v->active = active;
	v->target = 0;
}

/*
 * Equal shares, one idle (f = 0) and one busy (f = 1): at tau = 0 the pool
 * splits evenly; at tau = 75 % k = 4, an idle page costs four active ones,
 * and rho = S / (P (f + k (1 - f))) is equal only at 200 / 800:
 * 1000 / (200 * 4) = 1000 / (800 * 1) = 1.25.
 */
static void policy_test_idle_tax(struct kunit *test)
{
	struct esxmm_policy_vm v[2];
	unsigned int tax;
	unsigned long prev = 0;

	set_vm(&v[0], 1000, 0, 1000, 0);
	set_vm(&v[1], 1000, 0, 1000, 1000);
	esxmm_policy_targets(v, 2, 1000, 0);
	KUNIT_EXPECT_EQ(test, v[0].target, 500UL);
	KUNIT_EXPECT_EQ(test, v[1].target, 500UL);

	esxmm_policy_targets(v, 2, 1000, 75);
	KUNIT_EXPECT_EQ(test, v[0].target, 200UL);
	KUNIT_EXPECT_EQ(test, v[1].target, 800UL);

	/* The busy guest's target grows with the tax, never shrinks. */
	for (tax = 0; tax <= 99; tax += 11) {
		esxmm_policy_targets(v, 2, 1000, tax);
		KUNIT_EXPECT_GE(test, v[1].target, prev);
		KUNIT_EXPECT_LE(test, v[0].target + v[1].target, 1000UL);
		prev = v[1].target;
	}
}

/* Half active guests: tau * f = 0.375, still equal between equals. */
static void policy_test_partial_activity(struct kunit *test)
{
	struct esxmm_policy_vm v[2];

	set_vm(&v[0], 1000, 0, 4000, 500);
	set_vm(&v[1], 1000, 0, 4000, 0);
	esxmm_policy_targets(v, 2, 2625, 75);
	/* w0 / w1 = 1 / (1 - 0.375) = 1.6: 1615 and 1009 of 2625 (floors). */
	KUNIT_EXPECT_EQ(test, v[0].target, 1615UL);
	KUNIT_EXPECT_EQ(test, v[1].target, 1009UL);
}

static void policy_test_min_respected(struct kunit *test)
{
	struct esxmm_policy_vm v[2];

	set_vm(&v[0], 1000, 400, 1000, 0);
	set_vm(&v[1], 1000, 0, 1000, 1000);
	esxmm_policy_targets(v, 2, 1000, 75);
	KUNIT_EXPECT_EQ(test, v[0].target, 400UL);
	KUNIT_EXPECT_EQ(test, v[1].target, 600UL);
}

static void policy_test_shares_ratio(struct kunit *test)
{
	struct esxmm_policy_vm v[3];

	set_vm(&v[0], 2000, 0, 10000, 500);
	set_vm(&v[1], 1000, 0, 10000, 500);
	esxmm_policy_targets(v, 2, 900, 75);
	KUNIT_EXPECT_EQ(test, v[0].target, 600UL);
	KUNIT_EXPECT_EQ(test, v[1].target, 300UL);

	/* A capped guest hands the rest to the others, still 2:1 among them. */
	set_vm(&v[0], 2000, 0, 10000, 500);
	set_vm(&v[1], 1000, 0, 10000, 500);
	set_vm(&v[2], 10000, 0, 300, 500);
	esxmm_policy_targets(v, 3, 1200, 75);
	KUNIT_EXPECT_EQ(test, v[2].target, 300UL);
	KUNIT_EXPECT_EQ(test, v[0].target, 600UL);
	KUNIT_EXPECT_EQ(test, v[1].target, 300UL);
}

static void policy_test_no_pressure(struct kunit *test)
{
	struct esxmm_policy_vm v[2];

	set_vm(&v[0], 1, 0, 300, 0);
	set_vm(&v[1], 1000, 0, 700, 1000);
	esxmm_policy_targets(v, 2, 1000, 75);
	KUNIT_EXPECT_EQ(test, v[0].target, 300UL);
	KUNIT_EXPECT_EQ(test, v[1].target, 700UL);
	/* Over-admitted: the mins, nothing more. */
	set_vm(&v[0], 1, 600, 1000, 0);
	set_vm(&v[1], 1, 600, 1000, 0);
	esxmm_policy_targets(v, 2, 1000, 75);
	KUNIT_EXPECT_EQ(test, v[0].target, 600UL);
	KUNIT_EXPECT_EQ(test, v[1].target, 600UL);
	KUNIT_EXPECT_EQ(test, esxmm_default_shares(256 << (20 - PAGE_SHIFT)), 2560ULL);
	KUNIT_EXPECT_EQ(test, esxmm_default_shares(1), 1ULL);
}

/* Fast to rise (the current period counts at once), slow to fall (1/8). */
static void policy_test_estimator(struct kunit *test)
{
	struct esxmm_estimator e;

	esxmm_est_init(&e);
	KUNIT_EXPECT_EQ(test, esxmm_est_value(&e, 0), 1000U);
	KUNIT_EXPECT_EQ(test, esxmm_est_fraction(20, 100), 200U);
	KUNIT_EXPECT_EQ(test, esxmm_est_fraction(1, 3), 333U);
	KUNIT_EXPECT_EQ(test, esxmm_est_fraction(5, 0), 0U);
	KUNIT_EXPECT_EQ(test, esxmm_est_fraction(7, 5), 1000U);

	e.slow = e.fast = 200;
	esxmm_est_period(&e, 80, 100);			/* one period at 80 % */
	KUNIT_EXPECT_EQ(test, e.fast, 500U);
	KUNIT_EXPECT_EQ(test, e.slow, 275U);
	KUNIT_EXPECT_EQ(test, esxmm_est_value(&e, 800), 800U);	/* rises within the period */
	KUNIT_EXPECT_EQ(test, esxmm_est_value(&e, 100), 500U);

	e.slow = e.fast = 800;
	esxmm_est_period(&e, 20, 100);			/* then 20 % */
	KUNIT_EXPECT_EQ(test, e.fast, 500U);
	KUNIT_EXPECT_EQ(test, e.slow, 725U);
	KUNIT_EXPECT_EQ(test, esxmm_est_value(&e, 200), 725U);	/* falls at the slow rate */
	esxmm_est_period(&e, 20, 100);
	KUNIT_EXPECT_EQ(test, e.slow, 659U);
	esxmm_est_period(&e, 0, 0);			/* nothing sampled: unchanged */
	KUNIT_EXPECT_EQ(test, e.slow, 659U);
}

static void policy_test_states(struct kunit *test)
{
	struct esxmm_thresholds t = { .high = 6, .soft = 4, .hard = 2, .low = 1 };
	enum esxmm_mstate s = ESXMM_STATE_HIGH;

	KUNIT_EXPECT_TRUE(test, esxmm_thresholds_valid(&t));
	s = esxmm_state_next(s, 10000, 10000, &t);
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_HIGH);
	s = esxmm_state_next(s, 500, 10000, &t);	/* 5 %: still high */
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_HIGH);
	s = esxmm_state_next(s, 390, 10000, &t);	/* 3.9 % */
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_SOFT);
	s = esxmm_state_next(s, 500, 10000, &t);	/* 5 %: soft is left above 6 % */
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_SOFT);
	s = esxmm_state_next(s, 600, 10000, &t);
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_HIGH);
	s = esxmm_state_next(s, 150, 10000, &t);	/* 1.5 % */
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_HARD);
	s = esxmm_state_next(s, 350, 10000, &t);
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_HARD);
	s = esxmm_state_next(s, 450, 10000, &t);	/* above 4 %: soft, not high */
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_SOFT);
	s = esxmm_state_next(s, 50, 10000, &t);
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_LOW);
	s = esxmm_state_next(s, 150, 10000, &t);	/* low is left above 2 % */
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_LOW);
	s = esxmm_state_next(s, 250, 10000, &t);
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_HARD);
	s = esxmm_state_next(ESXMM_STATE_LOW, 10000, 10000, &t);
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_HIGH);
	s = esxmm_state_next(ESXMM_STATE_HIGH, 0, 0, &t);	/* empty pool: nothing below */
	KUNIT_EXPECT_EQ(test, s, ESXMM_STATE_HIGH);
	KUNIT_EXPECT_STREQ(test, esxmm_state_name(ESXMM_STATE_HARD), "hard");

	t.soft = 7;
	KUNIT_EXPECT_FALSE(test, esxmm_thresholds_valid(&t));
	t.soft = 4;
	t.high = 101;
	KUNIT_EXPECT_FALSE(test, esxmm_thresholds_valid(&t));
}

static void policy_test_admission(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, esxmm_admit(800, 800, 300, 1000, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, esxmm_admit(700, 700, 300, 1000, 0), 0);
	KUNIT_EXPECT_EQ(test, esxmm_admit(100, 700, 300, 1000, 0), 0);
	KUNIT_EXPECT_EQ(test, esxmm_admit(100, 701, 300, 1000, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, esxmm_admit(100, 701, 300, 1000, 1), 0);
	KUNIT_EXPECT_EQ(test, esxmm_admit(0, 5000, 0, 1000, 4000), 0);
	KUNIT_EXPECT_EQ(test, esxmm_admit(0, 5001, 0, 1000, 4000), -ENOMEM);
	KUNIT_EXPECT_EQ(test, esxmm_admit(10, 5, 0, 1000, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_admit(0, 0, 2000, 1000, 0), -ENOMEM);
}

static void set_sv(struct esxmm_swap_vm *v, unsigned long resident, unsigned long private,
		   unsigned long target, unsigned long min, bool balloon)
{
	v->resident = resident;
	v->private = private;
	v->target = target;
	v->min = min;
	v->balloon = balloon;
	v->take = 12345;
}

/* The free-memory goal: up to just above the soft threshold, only in hard and low. */
static void policy_test_swap_goal(struct kunit *test)
{
	struct esxmm_thresholds t = { .high = 6, .soft = 4, .hard = 2, .low = 1 };

	KUNIT_EXPECT_EQ(test, esxmm_swap_goal(ESXMM_STATE_HIGH, 0, 10000, &t), 0UL);
	KUNIT_EXPECT_EQ(test, esxmm_swap_goal(ESXMM_STATE_SOFT, 0, 10000, &t), 0UL);
	KUNIT_EXPECT_EQ(test, esxmm_swap_goal(ESXMM_STATE_HARD, 150, 10000, &t), 251UL);
	KUNIT_EXPECT_EQ(test, esxmm_swap_goal(ESXMM_STATE_LOW, 0, 10000, &t), 401UL);
	KUNIT_EXPECT_EQ(test, esxmm_swap_goal(ESXMM_STATE_LOW, 401, 10000, &t), 0UL);
}

/*
 * Victims: only guests over target, down to their targets, never below min,
 * never shared pages; balloon guests are left to the balloon in soft.
 */
static void policy_test_swap_plan(struct kunit *test)
{
	struct esxmm_swap_vm v[3];

	set_sv(&v[0], 1000, 1000, 600, 0, false);	/* 400 over */
	set_sv(&v[1], 500, 500, 800, 0, false);		/* under target */
	set_sv(&v[2], 900, 100, 500, 0, false);		/* over, but mostly shared */
	KUNIT_EXPECT_EQ(test, esxmm_swap_plan(v, 3, ESXMM_STATE_HIGH, 0), 0UL);
	KUNIT_EXPECT_EQ(test, v[0].take, 0UL);
	KUNIT_EXPECT_EQ(test, esxmm_swap_plan(v, 3, ESXMM_STATE_HARD, 0), 500UL);
	KUNIT_EXPECT_EQ(test, v[0].take, 400UL);
	KUNIT_EXPECT_EQ(test, v[1].take, 0UL);
	KUNIT_EXPECT_EQ(test, v[2].take, 100UL);	/* its private pages only */

	/* min above target: kept. */
	set_sv(&v[0], 1000, 1000, 600, 900, false);
	KUNIT_EXPECT_EQ(test, esxmm_swap_plan(v, 1, ESXMM_STATE_LOW, 0), 100UL);
	KUNIT_EXPECT_EQ(test, v[0].take, 100UL);

	/* Soft: the balloon guest is left alone, the other swapped to target. */
	set_sv(&v[0], 1000, 1000, 600, 0, true);
	set_sv(&v[1], 1000, 1000, 700, 0, false);
	KUNIT_EXPECT_EQ(test, esxmm_swap_plan(v, 2, ESXMM_STATE_SOFT, 0), 300UL);
	KUNIT_EXPECT_EQ(test, v[0].take, 0UL);
	KUNIT_EXPECT_EQ(test, v[1].take, 300UL);
	/* Hard: both, balloon or not. */
	KUNIT_EXPECT_EQ(test, esxmm_swap_plan(v, 2, ESXMM_STATE_HARD, 0), 700UL);
	KUNIT_EXPECT_EQ(test, v[0].take, 400UL);
}

/*
 * Targets that add up to the pool leave no guest over target in the low
 * state: the need comes from those standing highest against their targets,
 * levelled together, never below min, at most their private pages.
 */
static void policy_test_swap_shortfall(struct kunit *test)
{
	struct esxmm_swap_vm v[3];
	unsigned long sum;

	set_sv(&v[0], 500, 500, 500, 0, false);		/* at target */
	set_sv(&v[1], 300, 300, 400, 0, false);		/* 100 below */
	set_sv(&v[2], 100, 100, 100, 100, false);	/* at min */
	sum = esxmm_swap_plan(v, 3, ESXMM_STATE_LOW, 64);
	KUNIT_EXPECT_EQ(test, sum, 64UL);
	KUNIT_EXPECT_EQ(test, v[0].take, 64UL);
	KUNIT_EXPECT_EQ(test, v[1].take, 0UL);
	KUNIT_EXPECT_EQ(test, v[2].take, 0UL);

	sum = esxmm_swap_plan(v, 3, ESXMM_STATE_LOW, 300);
	KUNIT_EXPECT_EQ(test, sum, 300UL);
	/* 100 from v0 alone brings it level with v1; the 200 left split about evenly. */
	KUNIT_EXPECT_GE(test, v[0].take, 190UL);
	KUNIT_EXPECT_LE(test, v[0].take, 232UL);
	KUNIT_EXPECT_EQ(test, v[0].take + v[1].take, 300UL);
	KUNIT_EXPECT_EQ(test, v[2].take, 0UL);

	/* More than there is: everything above min, nothing more. */
	sum = esxmm_swap_plan(v, 3, ESXMM_STATE_LOW, 100000);
	KUNIT_EXPECT_EQ(test, sum, 800UL);
	KUNIT_EXPECT_EQ(test, v[2].take, 0UL);
	/* No shortfall logic outside hard and low. */
	KUNIT_EXPECT_EQ(test, esxmm_swap_plan(v, 3, ESXMM_STATE_SOFT, 100000), 0UL);
}

/* The host's reclaim: the guests with the most swappable pages first. */
static void policy_test_swap_pressure(struct kunit *test)
{
	struct esxmm_swap_vm v[3];

	set_sv(&v[0], 1000, 1000, 1000, 0, false);	/* 1000 swappable */
	set_sv(&v[1], 1000, 300, 1000, 0, false);	/* 300 (the rest shared) */
	set_sv(&v[2], 1000, 1000, 1000, 800, false);	/* 200 above min */
	KUNIT_EXPECT_EQ(test, esxmm_swap_plan_pressure(v, 3, 500), 500UL);
	KUNIT_EXPECT_EQ(test, v[0].take, 500UL);
	KUNIT_EXPECT_EQ(test, v[1].take, 0UL);
	KUNIT_EXPECT_EQ(test, esxmm_swap_plan_pressure(v, 3, 1000), 1000UL);
	/*
	 * v0 down to v1's 300 left (700), both down to v2's 200 (100 each),
	 * then the last 100 about evenly over the three.
	 */
	KUNIT_EXPECT_GE(test, v[0].take, 820UL);
	KUNIT_EXPECT_LE(test, v[0].take, 850UL);
	KUNIT_EXPECT_GE(test, v[1].take, 100UL);
	KUNIT_EXPECT_LE(test, v[2].take, 40UL);
	KUNIT_EXPECT_EQ(test, v[0].take + v[1].take + v[2].take, 1000UL);
	KUNIT_EXPECT_EQ(test, esxmm_swap_plan_pressure(v, 3, 5000), 1500UL);
	KUNIT_EXPECT_EQ(test, v[0].take, 1000UL);
	KUNIT_EXPECT_EQ(test, v[1].take, 300UL);
	KUNIT_EXPECT_EQ(test, v[2].take, 200UL);
}

static struct kunit_case policy_test_cases[] = {
	KUNIT_CASE(policy_test_idle_tax),
	KUNIT_CASE(policy_test_partial_activity),
	KUNIT_CASE(policy_test_min_respected),
	KUNIT_CASE(policy_test_shares_ratio),
	KUNIT_CASE(policy_test_no_pressure),
	KUNIT_CASE(policy_test_estimator),
	KUNIT_CASE(policy_test_states),
	KUNIT_CASE(policy_test_admission),
	KUNIT_CASE(policy_test_swap_goal),
	KUNIT_CASE(policy_test_swap_plan),
	KUNIT_CASE(policy_test_swap_shortfall),
	KUNIT_CASE(policy_test_swap_pressure),
	{}
};

static struct kunit_suite policy_test_suite = {
	.name = "esxmm_policy",
	.test_cases = policy_test_cases,
};
kunit_test_suite(policy_test_suite);
