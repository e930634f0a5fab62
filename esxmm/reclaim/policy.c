// SPDX-License-Identifier: GPL-2.0
/*
 * ESX's allocation policy (see policy.h).
 *
 * Targets: min-funding revocation reclaims from the guest with the lowest
 * shares-per-page ratio rho = S / (P * (f + k * (1 - f))), k = 1 / (1 - tau),
 * until the sum fits the pool. Reclaiming from the lowest rho until no rho
 * is lower than another's ends with every guest between its min and max at
 * the same rho, i.e. P proportional to S / (f + k * (1 - f)); multiplying by
 * (1 - tau), P is proportional to S / (1 - tau * f). So the targets are a
 * water-filling: split the pool in proportion to w = S / (1 - tau * f),
 * clamp to [min, max], hand what the clamped ones free (or need) to the
 * rest, and repeat. At tau = 0 that is plain proportional share; at tau =
 * 75 % an idle page costs four times an active one.
 */
#include <linux/kernel.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "policy.h"

/**
 * esxmm_est_init() - A new guest counts as fully active until measured.
 * @e: the estimator.
 *
 * Starting at idle would tax a new guest before anything is known of it.
 */
void esxmm_est_init(struct esxmm_estimator *e)
{
	e->slow = ESXMM_PERMILLE;
	e->fast = ESXMM_PERMILLE;
}

/**
 * esxmm_est_fraction() - Touched over sampled, in permille.
 * @touched: sampled pages touched.
 * @sampled: pages sampled.
 *
 * Return: the fraction, 0 when nothing was sampled.
 */
unsigned int esxmm_est_fraction(unsigned long touched, unsigned long sampled)
{
	if (!sampled)
		return 0;
	touched = min(touched, sampled);
	return div64_ul((u64)touched * ESXMM_PERMILLE + sampled / 2, sampled);
}

/* x + (sample - x) * num / den, rounded to nearest. */
static unsigned int ewma(unsigned int x, unsigned int sample, unsigned int num, unsigned int den)
{
	int delta = (int)sample - (int)x;
	int step = (delta * (int)num + (delta >= 0 ? (int)den / 2 : -(int)den / 2)) / (int)den;

	return x + step;
}

/**
 * esxmm_est_period() - Feed one finished sampling period.
 * @e: the estimator.
 * @touched: sampled pages the guest touched during the period.
 * @sampled: pages sampled; a period with none changes nothing.
 */
void esxmm_est_period(struct esxmm_estimator *e, unsigned long touched, unsigned long sampled)
{
	unsigned int f;

	if (!sampled)
		return;
	f = esxmm_est_fraction(touched, sampled);
	e->fast = ewma(e->fast, f, 1, 2);
	e->slow = ewma(e->slow, f, 1, 8);
}

/**
 * esxmm_est_value() - The guest's estimate.
 * @e: the estimator.
 * @current_permille: the fraction of the current period so far.
 *
 * Return: max(slow, fast, current), in permille.
 */
unsigned int esxmm_est_value(const struct esxmm_estimator *e, unsigned int current_permille)
{
	return max3(e->slow, e->fast, min(current_permille, ESXMM_PERMILLE));
}

/**
 * esxmm_default_shares() - ESX's default: 10 shares per MiB, at least 1.
 * @size_pages: the guest's size.
 *
 * Return: the shares.
 */
u64 esxmm_default_shares(unsigned long size_pages)
{
	return max_t(u64, 1, div_u64((u64)size_pages * 10 * PAGE_SIZE, 1 << 20));
}

/**
 * esxmm_policy_weight() - A guest's claim per page: S / (1 - tau * f), scaled.
 * @shares: S, > 0.
 * @active: f in permille.
 * @tax_percent: tau in percent, at most ESXMM_MAX_TAX_PERCENT.
 *
 * Return: S * 2^10 / (1 - tau * f), with S capped at 2^32 (< 2^59 in all).
 */
u64 esxmm_policy_weight(u64 shares, unsigned int active, unsigned int tax_percent)
{
	u64 denom;

	active = min(active, ESXMM_PERMILLE);
	tax_percent = min(tax_percent, ESXMM_MAX_TAX_PERCENT);
	denom = 100000 - (u64)tax_percent * active;	/* >= 1000 */
	return div64_u64((min_t(u64, shares, U32_MAX) * 100000) << 10, denom);
}

/**
 * esxmm_policy_targets() - Divide the pool among guests.
 * @vms: the guests; ->target is set.
 * @n: how many.
 * @pool: pages to divide.
 * @tax_percent: the idle memory tax.
 *
 * Every guest gets at least its min and at most its max. If even the mins
 * do not fit (admission control prevents that), every guest gets its min.
 */
void esxmm_policy_targets(struct esxmm_policy_vm *vms, size_t n, unsigned long pool,
			  unsigned int tax_percent)
{
	unsigned long sum_max = 0, sum_min = 0, avail;
	bool *fixed;
	size_t i;
	u64 w, total;
	bool changed;

	for (i = 0; i < n; i++) {
		vms[i].min = min(vms[i].min, vms[i].max);
		sum_max += vms[i].max;
		sum_min += vms[i].min;
	}
	if (sum_max <= pool || sum_min >= pool) {
		for (i = 0; i < n; i++)
			vms[i].target = sum_max <= pool ? vms[i].max : vms[i].min;
		return;
	}

	fixed = kcalloc(n, sizeof(*fixed), GFP_KERNEL);
	if (!fixed) {
		/* No room to think: the guarantees at least. */
		for (i = 0; i < n; i++)
			vms[i].target = vms[i].min;
		return;
	}
	do {
		avail = pool;
		total = 0;
		for (i = 0; i < n; i++) {
			if (fixed[i])
				avail -= min(avail, vms[i].target);
			else
				total += esxmm_policy_weight(vms[i].shares, vms[i].active, tax_percent);
		}
		if (!total)
			break;
		for (i = 0; i < n; i++) {
			if (fixed[i])
				continue;
			w = esxmm_policy_weight(vms[i].shares, vms[i].active, tax_percent);
			vms[i].target = mul_u64_u64_div_u64(avail, w, total);
		}
		/* Those over their max give the surplus back first ... */
		changed = false;
		for (i = 0; i < n; i++) {
			if (!fixed[i] && vms[i].target >= vms[i].max) {
				vms[i].target = vms[i].max;
				fixed[i] = changed = true;
			}
		}
		if (changed)
			continue;
		/* ... then those under their min take what they are owed. */
		for (i = 0; i < n; i++) {
			if (!fixed[i] && vms[i].target <= vms[i].min) {
				vms[i].target = vms[i].min;
				fixed[i] = changed = true;
			}
		}
	} while (changed);
	kfree(fixed);
}

static const char * const state_names[] = {
	[ESXMM_STATE_LOW]	= "low",
	[ESXMM_STATE_HARD]	= "hard",
	[ESXMM_STATE_SOFT]	= "soft",
	[ESXMM_STATE_HIGH]	= "high",
};

/**
 * esxmm_state_name() - The sysfs name of a state.
 * @state: the state.
 *
 * Return: "high", "soft", "hard" or "low".
 */
const char *esxmm_state_name(enum esxmm_mstate state)
{
	return state <= ESXMM_STATE_HIGH ? state_names[state] : "invalid";
}

/* free / pool < percent / 100, without division. */
static bool below(unsigned long free, unsigned long pool, unsigned int percent)
{
	return (u64)free * 100 < (u64)pool * percent;
}

/**
 * esxmm_state_next() - The free-memory state after a change of free memory.
 * @cur: the state now.
 * @free: free pages of the pool.
 * @pool: the pool's size.
 * @t: the thresholds.
 *
 * Falling below a threshold enters its state at once; a state is left
 * upward only once free memory passes the next threshold up (from low
 * above hard, from hard above soft, from soft above high).
 *
 * Return: the new state.
 */
enum esxmm_mstate esxmm_state_next(enum esxmm_mstate cur, unsigned long free,
				   unsigned long pool, const struct esxmm_thresholds *t)
{
	enum esxmm_mstate level;

	if (below(free, pool, t->low))
		level = ESXMM_STATE_LOW;
	else if (below(free, pool, t->hard))
		level = ESXMM_STATE_HARD;
	else if (below(free, pool, t->soft))
		level = ESXMM_STATE_SOFT;
	else
		level = ESXMM_STATE_HIGH;
	if (level <= cur)
		return level;
	/* Rising: one threshold up at a time, each one passed. */
	while (cur < level) {
		unsigned int up = cur == ESXMM_STATE_LOW ? t->hard :
				  cur == ESXMM_STATE_HARD ? t->soft : t->high;

		if (below(free, pool, up))
			break;
		cur++;
	}
	return cur;
}

/**
 * esxmm_thresholds_valid() - Are the thresholds ordered and in range?
 * @t: the thresholds.
 *
 * Return: true if 100 >= high >= soft >= hard >= low.
 */
bool esxmm_thresholds_valid(const struct esxmm_thresholds *t)
{
	return t->high <= 100 && t->high >= t->soft && t->soft >= t->hard && t->hard >= t->low;
}

/**
 * esxmm_admit() - May a guest with these guarantees run?
 * @min: pages to reserve for it.
 * @size: its size.
 * @reserved_others: pages reserved for the other guests.
 * @pool: the pool's size.
 * @swap_free: free swap slots.
 *
 * Its min must fit in the unreserved pool, and the rest of it (size - min)
 * in what is left of the pool plus free swap.
 *
 * Return: 0; -EINVAL if @min > @size; -ENOMEM if it does not fit.
 */
int esxmm_admit(unsigned long min, unsigned long size, unsigned long reserved_others,
		unsigned long pool, unsigned long swap_free)
{
	unsigned long left;

	if (min > size)
		return -EINVAL;
	if (reserved_others > pool || min > pool - reserved_others)
		return -ENOMEM;
	left = pool - reserved_others - min;
	if (size - min > left && size - min - left > swap_free)
		return -ENOMEM;
	return 0;
}
