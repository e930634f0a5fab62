/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Working-set sampling and the allocation policy at work: the esxmm_sample
 * thread ends each sampling period, picks the next period's samples, and
 * recomputes every guest's target and the free-memory state.
 */
#ifndef ESXMM_RECLAIM_H
#define ESXMM_RECLAIM_H

#include <linux/types.h>

#include "policy.h"

struct esxmm_vm;
struct page;

/* The XArray mark of a PPN sampled in the current period. */
#define ESXMM_SAMPLED_MARK	XA_MARK_1

/**
 * struct esxmm_reclaim_cfg - tunables; written under the config mutex,
 * read with READ_ONCE().
 * @tax_percent: the idle memory tax, 0 to 99.
 * @balance_ms: how often targets are recomputed.
 * @period_ms: sampling period.
 * @sample_pages: pages sampled per guest and period.
 * @th: free-memory thresholds.
 */
struct esxmm_reclaim_cfg {
	unsigned int tax_percent;
	unsigned int balance_ms;
	unsigned int period_ms;
	unsigned int sample_pages;
	struct esxmm_thresholds th;
};

extern struct esxmm_reclaim_cfg esxmm_reclaim_cfg;

int esxmm_reclaim_init(void);
void esxmm_reclaim_exit(void);
void esxmm_reclaim_kick(void);
void esxmm_reclaim_vm_init(struct esxmm_vm *vm);
void esxmm_reclaim_touch(struct esxmm_vm *vm, pgoff_t ppn);
enum esxmm_mstate esxmm_reclaim_state(void);
int esxmm_reclaim_set(unsigned int *field, unsigned long val);
int esxmm_reclaim_set_threshold(unsigned int *field, unsigned long val);
int esxmm_reclaim_set_min(struct esxmm_vm *vm, unsigned long min);
int esxmm_reclaim_set_shares(struct esxmm_vm *vm, u64 shares);
int esxmm_reclaim_admit(struct esxmm_vm *vm);
u64 esxmm_vm_shares(struct esxmm_vm *vm);
unsigned int esxmm_vm_active(struct esxmm_vm *vm, unsigned int *slow, unsigned int *fast,
			     unsigned int *period);
enum esxmm_mstate esxmm_reclaim_update_state(void);
unsigned long esxmm_reclaim_swap_goal(enum esxmm_mstate state);

/**
 * struct esxmm_swap_stats - swap counters, read by sysfs.
 * @pages_out: pages written to swap and freed.
 * @pages_in: pages read back.
 * @write_errors: batches whose write failed (their pages stayed).
 * @read_errors: slot reads that failed (SIGBUS to the VMM).
 * @pinned_skips: victims skipped because someone else held the page.
 * @shrinker_pages: pages swapped out because the host's reclaim asked.
 */
struct esxmm_swap_stats {
	atomic_long_t pages_out;
	atomic_long_t pages_in;
	atomic_long_t write_errors;
	atomic_long_t read_errors;
	atomic_long_t pinned_skips;
	atomic_long_t shrinker_pages;
};

extern struct esxmm_swap_stats esxmm_swap_stats;

/* swap.c */
int esxmm_swap_init(void);
void esxmm_swap_exit(void);
bool esxmm_swap_enabled(void);
unsigned long esxmm_swap_slots_total(void);
unsigned long esxmm_swap_slots_used(void);
unsigned long esxmm_swap_slots_free(void);
bool esxmm_swap_shrinker_on(void);
void esxmm_swap_set_shrinker(bool on);
void esxmm_swap_kick(void);
int esxmm_swap_set_file(const char *buf, size_t count);
ssize_t esxmm_swap_show_file(char *buf);
int esxmm_swap_read(struct page *page, unsigned long slot);
void esxmm_swap_free_slot(unsigned long slot);
int esxmm_reclaim_wait_room(struct esxmm_vm *vm);
void esxmm_reclaim_throttle(struct esxmm_vm *vm);

#endif /* ESXMM_RECLAIM_H */
