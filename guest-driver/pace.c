// SPDX-License-Identifier: GPL-2.0
/*
 * Pacing and target arithmetic of the esxmm balloon driver (see pace.h).
 * Like the balloon driver of VMware ESX, the worker moves toward the
 * host's target at a bounded rate, slows down and waits longer after each
 * allocation failure, and speeds up again once allocations succeed.
 */
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/minmax.h>

#include "pace.h"

unsigned int esxmm_pace_units_per_page(unsigned int page_shift)
{
	if (page_shift <= ESXMM_PACE_UNIT_SHIFT)
		return 1;
	return 1U << (page_shift - ESXMM_PACE_UNIT_SHIFT);
}

unsigned long esxmm_pace_target(u32 num_pages, unsigned int units)
{
	return num_pages / max(units, 1U);
}

u32 esxmm_pace_actual(unsigned long pages, unsigned int units)
{
	u64 v = (u64)pages * max(units, 1U);

	return v > U32_MAX ? U32_MAX : (u32)v;
}

unsigned int esxmm_pace_batch(unsigned long remaining, unsigned int units)
{
	unsigned int fit = ESXMM_PACE_BATCH_UNITS / max(units, 1U);

	return (unsigned int)min_t(unsigned long, remaining, max(fit, 1U));
}

bool esxmm_pace_rate_valid(unsigned int rate)
{
	return rate >= ESXMM_PACE_RATE_MIN && rate <= ESXMM_PACE_RATE_MAX;
}

bool esxmm_pace_poll_valid(unsigned int poll_ms)
{
	return poll_ms >= ESXMM_PACE_POLL_MS_MIN &&
	       poll_ms <= ESXMM_PACE_POLL_MS_MAX;
}

void esxmm_pace_init(struct esxmm_pace *p, unsigned int rate_max)
{
	p->rate = rate_max;
	p->backoff_ms = 0;
}

unsigned long esxmm_pace_budget(const struct esxmm_pace *p,
				unsigned int rate_max, bool inflate,
				unsigned int since_ms)
{
	unsigned int rate = inflate ? min(p->rate, rate_max) : rate_max;
	unsigned int ms = clamp(since_ms, ESXMM_PACE_TICK_MS, 2 * ESXMM_PACE_TICK_MS);
	u64 pages = (u64)rate * ms / 1000;

	return max_t(u64, pages, 1);
}

bool esxmm_pace_inflated(struct esxmm_pace *p, unsigned int rate_max,
			 unsigned long wanted, unsigned long got)
{
	if (got >= wanted) {
		p->backoff_ms = 0;
		/* Multiplicative increase: full speed a few steps after a failure. */
		p->rate = min_t(u64, (u64)max(p->rate, ESXMM_PACE_RATE_MIN) * 2,
				rate_max);
		return false;
	}

	p->rate = max(min(p->rate, rate_max) / 2, ESXMM_PACE_RATE_MIN);
	if (!p->backoff_ms)
		p->backoff_ms = ESXMM_PACE_BACKOFF_MIN_MS;
	else
		p->backoff_ms = min(p->backoff_ms * 2, ESXMM_PACE_BACKOFF_MAX_MS);
	return true;
}

void esxmm_pace_oom(struct esxmm_pace *p)
{
	p->rate = ESXMM_PACE_RATE_MIN;
	p->backoff_ms = ESXMM_PACE_BACKOFF_MAX_MS;
}

unsigned int esxmm_pace_delay_ms(const struct esxmm_pace *p, long delta,
				 unsigned int elapsed_ms, unsigned int poll_ms)
{
	if (!delta)
		return poll_ms;
	if (delta > 0 && p->backoff_ms)
		return p->backoff_ms;
	return elapsed_ms < ESXMM_PACE_TICK_MS ? ESXMM_PACE_TICK_MS - elapsed_ms : 0;
}
