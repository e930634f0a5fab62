/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The allocation policy of ESX (Waldspurger, OSDI 2002, sections 5 and 6),
 * as plain arithmetic: the working-set estimator, share-based targets by
 * min-funding revocation with an idle memory tax, the free-memory states
 * with hysteresis, and admission control. No page tables and no locks
 * here: KUnit-tested.
 */
#ifndef ESXMM_RECLAIM_POLICY_H
#define ESXMM_RECLAIM_POLICY_H

#include <linux/types.h>

#define ESXMM_PERMILLE		1000U
#define ESXMM_MAX_TAX_PERCENT	99U	/* 100 % would make idle pages infinitely dear */

/**
 * struct esxmm_estimator - a guest's active fraction, in permille.
 * @slow: exponentially weighted average, gain 1/8: falls slowly.
 * @fast: exponentially weighted average, gain 1/2: rises quickly.
 *
 * The estimate is max(slow, fast, the current period so far): fast to
 * rise, slow to fall, as in ESX.
 */
struct esxmm_estimator {
	unsigned int slow;
	unsigned int fast;
};

void esxmm_est_init(struct esxmm_estimator *e);
unsigned int esxmm_est_fraction(unsigned long touched, unsigned long sampled);
void esxmm_est_period(struct esxmm_estimator *e, unsigned long touched, unsigned long sampled);
unsigned int esxmm_est_value(const struct esxmm_estimator *e, unsigned int current_permille);

/**
 * struct esxmm_policy_vm - one guest's inputs and its result.
 * @shares: its shares, > 0.
 * @min: pages it is guaranteed.
 * @max: its size in pages.
 * @active: its active fraction in permille.
 * @target: out: pages it may keep.
 */
struct esxmm_policy_vm {
	u64 shares;
	unsigned long min;
	unsigned long max;
	unsigned int active;
	unsigned long target;
};

void esxmm_policy_targets(struct esxmm_policy_vm *vms, size_t n, unsigned long pool,
			  unsigned int tax_percent);
u64 esxmm_policy_weight(u64 shares, unsigned int active, unsigned int tax_percent);
u64 esxmm_default_shares(unsigned long size_pages);

enum esxmm_mstate {
	ESXMM_STATE_LOW,
	ESXMM_STATE_HARD,
	ESXMM_STATE_SOFT,
	ESXMM_STATE_HIGH,
};

/**
 * struct esxmm_thresholds - free-memory thresholds, percent of the pool.
 * @high: leave the soft state upward only above this.
 * @soft: below it: soft (balloon).
 * @hard: below it: hard (swap).
 * @low: below it: low (block guests above target).
 */
struct esxmm_thresholds {
	unsigned int high, soft, hard, low;
};

const char *esxmm_state_name(enum esxmm_mstate state);
enum esxmm_mstate esxmm_state_next(enum esxmm_mstate cur, unsigned long free,
				   unsigned long pool, const struct esxmm_thresholds *t);
bool esxmm_thresholds_valid(const struct esxmm_thresholds *t);
int esxmm_admit(unsigned long min, unsigned long size, unsigned long reserved_others,
		unsigned long pool, unsigned long swap_free);

/* Pages the swap planner moves at a time when it levels guests down. */
#define ESXMM_SWAP_STEP		32UL

/**
 * struct esxmm_swap_vm - one guest as the swapper sees it.
 * @resident: pages resident (private and shared).
 * @private: of those, private (only these can be swapped).
 * @target: pages the policy lets it keep.
 * @min: pages it is guaranteed: never swapped below.
 * @balloon: it has a balloon that can take pages back instead.
 * @take: out: pages to swap out of it.
 */
struct esxmm_swap_vm {
	unsigned long resident;
	unsigned long private;
	unsigned long target;
	unsigned long min;
	bool balloon;
	unsigned long take;
};

unsigned long esxmm_swap_goal(enum esxmm_mstate state, unsigned long free, unsigned long pool,
			      const struct esxmm_thresholds *t);
unsigned long esxmm_swap_plan(struct esxmm_swap_vm *vms, size_t n, enum esxmm_mstate state,
			      unsigned long need);
unsigned long esxmm_swap_plan_pressure(struct esxmm_swap_vm *vms, size_t n, unsigned long need);

#endif /* ESXMM_RECLAIM_POLICY_H */
