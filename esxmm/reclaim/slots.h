/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Swap slots: page-sized pieces of the swap file, numbered from 0, kept in a
 * bitmap. No I/O and no page tables here: KUnit-tested.
 *
 * Locking: @lock (a spinlock, a leaf: taken under page locks and xa_lock is
 * never held with it) protects the bitmap, @used and @next. Readers of @used
 * and @nr without the lock get a value that was true a moment ago.
 */
#ifndef ESXMM_RECLAIM_SLOTS_H
#define ESXMM_RECLAIM_SLOTS_H

#include <linux/spinlock.h>
#include <linux/types.h>

/**
 * struct esxmm_slots - a bitmap of swap slots.
 * @lock: see above.
 * @map: bit n set: slot n holds a page.
 * @nr: slots in all; 0: no swap area.
 * @used: bits set.
 * @next: where the next search starts (spreads allocations over the file).
 */
struct esxmm_slots {
	spinlock_t lock;
	unsigned long *map;
	unsigned long nr;
	unsigned long used;
	unsigned long next;
};

void esxmm_slots_init(struct esxmm_slots *s);
int esxmm_slots_setup(struct esxmm_slots *s, unsigned long nr);
int esxmm_slots_teardown(struct esxmm_slots *s);
long esxmm_slots_alloc(struct esxmm_slots *s, unsigned int want, unsigned int *got);
void esxmm_slots_free(struct esxmm_slots *s, unsigned long slot, unsigned int nr);
bool esxmm_slots_test(struct esxmm_slots *s, unsigned long slot);
unsigned long esxmm_slots_used(struct esxmm_slots *s);
unsigned long esxmm_slots_total(struct esxmm_slots *s);
unsigned long esxmm_slots_free_count(struct esxmm_slots *s);

#endif /* ESXMM_RECLAIM_SLOTS_H */
