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

/* Pages of @v the swapper may take at most: private ones, not below min. */
static unsigned long swappable(const struct esxmm_swap_vm *v)
{
	if (v->resident <= v->min)
		return 0;
	return min(v->private, v->resident - v->min);
}

/* Pages @v holds above its target (and its min), that could be swapped. */
static unsigned long excess(const struct esxmm_swap_vm *v)
{
	unsigned long keep = max(v->target, v->min);

	if (v->resident <= keep)
		return 0;
	return min(v->resident - keep, swappable(v));
}

/**
 * esxmm_swap_goal() - Pages to free so the state can rise out of hard/low.
 * @state: the free-memory state.
 * @free: free pages of the pool.
 * @pool: the pool's size.
 * @t: the thresholds.
 *
 * In the hard and low states the swapper frees memory until the pool is
 * above the soft threshold, from where the state climbs back to soft (the
 * hysteresis of esxmm_state_next()). In soft and high it frees nothing for
 * the pool's sake.
 *
 * Return: the pages to free.
 */
unsigned long esxmm_swap_goal(enum esxmm_mstate state, unsigned long free, unsigned long pool,
			      const struct esxmm_thresholds *t)
{
	unsigned long want;

	if (state != ESXMM_STATE_HARD && state != ESXMM_STATE_LOW)
		return 0;
	want = mult_frac(pool, (unsigned long)t->soft, 100UL) + 1;
	return want > free ? want - free : 0;
}

/**
 * esxmm_swap_plan() - How many pages to swap out of each guest.
 * @vms: the guests; ->take is set.
 * @n: how many.
 * @state: the free-memory state.
 * @need: pages the pool needs freed (esxmm_swap_goal() plus faults waiting).
 *
 * As ESX: nothing in the high state. In the soft state memory is taken
 * back by ballooning; a guest over its target that has no balloon is
 * swapped down to its target instead. In the hard and low states every
 * guest over its target is swapped down to it; and if that does not free
 * @need pages (targets leave no room: they add up to the pool), the rest
 * comes from the guests least below their targets, never below their min.
 * Shared pages are never counted as swappable.
 *
 * Return: the sum of ->take.
 */
unsigned long esxmm_swap_plan(struct esxmm_swap_vm *vms, size_t n, enum esxmm_mstate state,
			      unsigned long need)
{
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct esxmm_swap_vm *v = &vms[i];

		v->take = 0;
		if (state == ESXMM_STATE_HIGH)
			continue;
		if (state == ESXMM_STATE_SOFT && v->balloon)
			continue;
		v->take = excess(v);
		sum += v->take;
	}
	if (state != ESXMM_STATE_HARD && state != ESXMM_STATE_LOW)
		return sum;

	/*
	 * The rest, from whoever stands highest against its target, levelling
	 * them down together (in steps of at least ESXMM_SWAP_STEP pages, so
	 * this is quick for a large @need).
	 */
	while (sum < need) {
		struct esxmm_swap_vm *best = NULL;
		long best_over = LONG_MIN, second = LONG_MIN;
		unsigned long room;

		for (i = 0; i < n; i++) {
			struct esxmm_swap_vm *v = &vms[i];
			long over = (long)(v->resident - v->take) - (long)v->target;

			if (swappable(v) <= v->take)
				continue;
			if (!best || over > best_over) {
				second = best ? best_over : LONG_MIN;
				best = v;
				best_over = over;
			} else if (over > second) {
				second = over;
			}
		}
		if (!best)
			break;
		room = min(swappable(best) - best->take, need - sum);
		if (second != LONG_MIN && best_over - second < (long)room)
			room = max_t(long, ESXMM_SWAP_STEP, best_over - second);
		room = min3(room, swappable(best) - best->take, need - sum);
		best->take += room;
		sum += room;
	}
	return sum;
}

/**
 * esxmm_swap_plan_pressure() - Pages to swap when the host asks for memory.
 * @vms: the guests; ->take is set.
 * @n: how many.
 * @need: pages the host's reclaim asks for.
 *
 * The host's own reclaim (the shrinker) is served by the guests with the
 * most swappable pages first, evening them out, never below min.
 *
 * Return: the sum of ->take, at most @need.
 */
unsigned long esxmm_swap_plan_pressure(struct esxmm_swap_vm *vms, size_t n, unsigned long need)
{
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		vms[i].take = 0;
	while (sum < need) {
		struct esxmm_swap_vm *best = NULL;
		unsigned long best_left = 0, second = 0, room;

		for (i = 0; i < n; i++) {
			unsigned long left = swappable(&vms[i]) - vms[i].take;

			if (left > best_left) {
				second = best_left;
				best_left = left;
				best = &vms[i];
			} else if (left > second) {
				second = left;
			}
		}
		if (!best)
			break;
		room = min3(need - sum, max(ESXMM_SWAP_STEP, best_left - second), best_left);
		best->take += room;
		sum += room;
	}
	return sum;
}
