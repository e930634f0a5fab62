// SPDX-License-Identifier: GPL-2.0
/*
 * Swap slot allocator (see slots.h). Allocation looks for a run of free
 * slots from where the last one ended, so one batch of swap-outs becomes
 * one write, and settles for a shorter run when the file is fragmented.
 */
#include <linux/bitmap.h>
#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "slots.h"

/**
 * esxmm_slots_init() - An empty allocator: no swap area.
 * @s: the allocator.
 */
void esxmm_slots_init(struct esxmm_slots *s)
{
	spin_lock_init(&s->lock);
	s->map = NULL;
	s->nr = 0;
	s->used = 0;
	s->next = 0;
}

/**
 * esxmm_slots_setup() - Give the allocator @nr free slots.
 * @s: the allocator, with no area.
 * @nr: slots, 1 or more.
 *
 * Return: 0, -EINVAL (@nr is 0), -EBUSY (it has an area) or -ENOMEM.
 */
int esxmm_slots_setup(struct esxmm_slots *s, unsigned long nr)
{
	unsigned long *map;

	if (!nr || nr > ULONG_MAX / 2)
		return -EINVAL;
	map = kvcalloc(BITS_TO_LONGS(nr), sizeof(long), GFP_KERNEL);
	if (!map)
		return -ENOMEM;
	spin_lock(&s->lock);
	if (s->nr) {
		spin_unlock(&s->lock);
		kvfree(map);
		return -EBUSY;
	}
	s->map = map;
	s->nr = nr;
	s->used = 0;
	s->next = 0;
	spin_unlock(&s->lock);
	return 0;
}

/**
 * esxmm_slots_teardown() - Take the area away, if no slot is in use.
 * @s: the allocator.
 *
 * Return: 0 (also when it had no area) or -EBUSY (slots in use).
 */
int esxmm_slots_teardown(struct esxmm_slots *s)
{
	unsigned long *map;

	spin_lock(&s->lock);
	if (s->used) {
		spin_unlock(&s->lock);
		return -EBUSY;
	}
	map = s->map;
	s->map = NULL;
	s->nr = 0;
	s->next = 0;
	spin_unlock(&s->lock);
	kvfree(map);
	return 0;
}

/* Longest free run starting at the first free slot at or after @from. */
static unsigned long find_run(struct esxmm_slots *s, unsigned long from, unsigned int want,
			      unsigned int *got)
{
	unsigned long start, end;

	start = find_next_zero_bit(s->map, s->nr, from);
	if (start >= s->nr)
		return s->nr;
	end = find_next_bit(s->map, min(s->nr, start + want), start);
	*got = end - start;
	return start;
}

/**
 * esxmm_slots_alloc() - Take up to @want consecutive free slots.
 * @s: the allocator.
 * @want: slots wanted, 1 or more.
 * @got: out: slots taken (1 to @want) on success.
 *
 * Return: the first slot taken, or -ENOSPC (none free or no area).
 */
long esxmm_slots_alloc(struct esxmm_slots *s, unsigned int want, unsigned int *got)
{
	unsigned long start;

	if (WARN_ON_ONCE(!want))
		return -EINVAL;
	spin_lock(&s->lock);
	if (s->used >= s->nr) {
		spin_unlock(&s->lock);
		return -ENOSPC;
	}
	start = find_run(s, s->next, want, got);
	if (start >= s->nr)
		start = find_run(s, 0, want, got);
	/* used < nr: there is a free slot, so the second search found it. */
	bitmap_set(s->map, start, *got);
	s->used += *got;
	s->next = start + *got >= s->nr ? 0 : start + *got;
	spin_unlock(&s->lock);
	return start;
}

/**
 * esxmm_slots_free() - Give back @nr slots from @slot on.
 * @s: the allocator.
 * @slot: first slot, taken by esxmm_slots_alloc().
 * @nr: how many.
 *
 * Freeing a slot that is not in use is a bug: it warns and is ignored.
 */
void esxmm_slots_free(struct esxmm_slots *s, unsigned long slot, unsigned int nr)
{
	unsigned long i;

	spin_lock(&s->lock);
	for (i = slot; i < slot + nr; i++) {
		if (WARN_ON_ONCE(i >= s->nr || !test_bit(i, s->map)))
			continue;
		__clear_bit(i, s->map);
		s->used--;
	}
	spin_unlock(&s->lock);
}

/**
 * esxmm_slots_test() - Is @slot in use?
 * @s: the allocator.
 * @slot: the slot.
 *
 * Return: true if it is.
 */
bool esxmm_slots_test(struct esxmm_slots *s, unsigned long slot)
{
	bool ret;

	spin_lock(&s->lock);
	ret = slot < s->nr && test_bit(slot, s->map);
	spin_unlock(&s->lock);
	return ret;
}

/**
 * esxmm_slots_used() - Slots in use.
 * @s: the allocator.
 *
 * Return: the count.
 */
unsigned long esxmm_slots_used(struct esxmm_slots *s)
{
	return READ_ONCE(s->used);
}

/**
 * esxmm_slots_total() - Slots in all.
 * @s: the allocator.
 *
 * Return: the count; 0 without an area.
 */
unsigned long esxmm_slots_total(struct esxmm_slots *s)
{
	return READ_ONCE(s->nr);
}

/**
 * esxmm_slots_free_count() - Slots free.
 * @s: the allocator.
 *
 * Return: the count; 0 without an area.
 */
unsigned long esxmm_slots_free_count(struct esxmm_slots *s)
{
	unsigned long nr, used;

	spin_lock(&s->lock);
	nr = s->nr;
	used = s->used;
	spin_unlock(&s->lock);
	return nr - used;
}
