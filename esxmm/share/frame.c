// SPDX-License-Identifier: GPL-2.0
/*
 * The frame table (see frame.h) and the weighted choice of the next guest
 * to scan. A lookup is one bucket walk comparing 64-bit hashes; contents
 * are compared only for a frame whose hash and domain match, through the
 * caller's match function, so equal hashes of different pages (collisions)
 * simply coexist in the chain.
 */
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "frame.h"

static_assert(sizeof(struct esxmm_frame) <= 32);

/**
 * esxmm_ftable_bits_for() - Bucket count for a machine, as log2.
 * @ram_pages: the machine's RAM in pages.
 *
 * One bucket per four pages of RAM, between 2^10 and 2^22 buckets.
 *
 * Return: log2 of the bucket count.
 */
unsigned int esxmm_ftable_bits_for(unsigned long ram_pages)
{
	unsigned long want = ram_pages / 4;

	if (want <= 1UL << 10)
		return 10;
	return min_t(unsigned int, ilog2(want), 22);
}

/**
 * esxmm_ftable_init() - Allocate an empty table.
 * @t: the table.
 * @bits: log2 of the bucket count.
 *
 * Return: 0 or -ENOMEM.
 */
int esxmm_ftable_init(struct esxmm_ftable *t, unsigned int bits)
{
	spin_lock_init(&t->lock);
	t->bits = bits;
	t->buckets = kvcalloc(1UL << bits, sizeof(*t->buckets), GFP_KERNEL);
	t->nr_shared = t->nr_sharing = t->nr_hints = 0;
	return t->buckets ? 0 : -ENOMEM;
}

/**
 * esxmm_ftable_destroy() - Free the table; it must hold no frame.
 * @t: the table.
 */
void esxmm_ftable_destroy(struct esxmm_ftable *t)
{
	WARN_ON_ONCE(t->nr_shared || t->nr_hints);
	kvfree(t->buckets);
	t->buckets = NULL;
}

static struct esxmm_frame **bucket(struct esxmm_ftable *t, u64 hash)
{
	return &t->buckets[hash_64(hash, t->bits)];
}

/**
 * esxmm_ftable_find() - First frame with @hash and @domain that @match accepts.
 * @t: the table; the caller holds @t->lock.
 * @hash: content hash.
 * @domain: share domain.
 * @match: NULL to accept any frame with that hash and domain.
 * @arg: passed to @match.
 *
 * Return: the frame or NULL.
 */
struct esxmm_frame *esxmm_ftable_find(struct esxmm_ftable *t, u64 hash, u32 domain,
				      esxmm_frame_match_t match, void *arg)
{
	struct esxmm_frame *f;

	lockdep_assert_held(&t->lock);
	for (f = *bucket(t, hash); f; f = f->next)
		if (f->hash == hash && f->domain == domain && (!match || match(f, arg)))
			return f;
	return NULL;
}

/**
 * esxmm_ftable_insert() - Add a frame (a hint if its count is 0).
 * @t: the table; the caller holds @t->lock.
 * @f: the frame, in no table.
 */
void esxmm_ftable_insert(struct esxmm_ftable *t, struct esxmm_frame *f)
{
	struct esxmm_frame **head = bucket(t, f->hash);

	lockdep_assert_held(&t->lock);
	f->next = *head;
	*head = f;
	if (esxmm_frame_is_hint(f)) {
		t->nr_hints++;
	} else {
		t->nr_shared++;
		t->nr_sharing += f->count - 1;
	}
}

/**
 * esxmm_ftable_remove() - Take a frame out of the table.
 * @t: the table; the caller holds @t->lock.
 * @f: a frame in the table; its count stays as it is.
 */
void esxmm_ftable_remove(struct esxmm_ftable *t, struct esxmm_frame *f)
{
	struct esxmm_frame **pp;

	lockdep_assert_held(&t->lock);
	for (pp = bucket(t, f->hash); *pp; pp = &(*pp)->next) {
		if (*pp != f)
			continue;
		*pp = f->next;
		f->next = NULL;
		if (esxmm_frame_is_hint(f)) {
			t->nr_hints--;
		} else {
			t->nr_shared--;
			t->nr_sharing -= f->count - 1;
		}
		return;
	}
	WARN_ON_ONCE(1);
}

/**
 * esxmm_ftable_get() - One more PPN maps a shared frame.
 * @t: the table; the caller holds @t->lock.
 * @f: a shared frame in the table.
 */
void esxmm_ftable_get(struct esxmm_ftable *t, struct esxmm_frame *f)
{
	lockdep_assert_held(&t->lock);
	f->count++;
	t->nr_sharing++;
}

/**
 * esxmm_ftable_put() - One PPN less maps a shared frame.
 * @t: the table; the caller holds @t->lock.
 * @f: a shared frame in the table.
 *
 * Return: true if that was the last one: the frame has left the table and
 * the caller frees it and drops its page.
 */
bool esxmm_ftable_put(struct esxmm_ftable *t, struct esxmm_frame *f)
{
	lockdep_assert_held(&t->lock);
	if (f->count == 1) {
		esxmm_ftable_remove(t, f);
		f->count = 0;
		return true;
	}
	f->count--;
	t->nr_sharing--;
	return false;
}

/**
 * esxmm_ftable_drain_hints() - Remove and free hints.
 * @t: the table; the caller holds @t->lock.
 * @match: NULL for every hint, else only hints it accepts.
 * @arg: passed to @match.
 * @free_fn: frees one hint.
 *
 * Return: how many were removed.
 */
unsigned long esxmm_ftable_drain_hints(struct esxmm_ftable *t, esxmm_frame_match_t match,
				       void *arg, void (*free_fn)(struct esxmm_frame *))
{
	return esxmm_ftable_drain_hints_range(t, 0, 1UL << t->bits, match, arg, free_fn);
}

/**
 * esxmm_ftable_drain_hints_range() - esxmm_ftable_drain_hints() over some buckets.
 * @t: the table; the caller holds @t->lock.
 * @from: first bucket.
 * @to: one past the last bucket (at most 1 << @t->bits).
 * @match: NULL for every hint, else only hints it accepts.
 * @arg: passed to @match.
 * @free_fn: frees one hint.
 *
 * Lets a caller walk a big table in slices, dropping the lock in between.
 *
 * Return: how many were removed.
 */
unsigned long esxmm_ftable_drain_hints_range(struct esxmm_ftable *t, unsigned long from,
					     unsigned long to, esxmm_frame_match_t match,
					     void *arg, void (*free_fn)(struct esxmm_frame *))
{
	unsigned long i, n = 0;
	struct esxmm_frame **pp, *f;

	lockdep_assert_held(&t->lock);
	to = min(to, 1UL << t->bits);
	for (i = from; i < to; i++) {
		pp = &t->buckets[i];
		while ((f = *pp)) {
			if (!esxmm_frame_is_hint(f) || (match && !match(f, arg))) {
				pp = &f->next;
				continue;
			}
			*pp = f->next;
			free_fn(f);
			n++;
		}
	}
	t->nr_hints -= n;
	return n;
}

/**
 * esxmm_share_pick() - Choose an index with probability proportional to its weight.
 * @weights: e.g. each guest's resident pages.
 * @n: number of weights.
 * @r: a uniformly random 64-bit number.
 *
 * A guest of weight w among a total W is chosen with probability w / W
 * (up to the bias of r mod W, below 2^-32 for W < 2^32): a small guest next
 * to a big one is visited in proportion to its size, never starved.
 *
 * Return: the chosen index, or @n if every weight is 0.
 */
size_t esxmm_share_pick(const unsigned long *weights, size_t n, u64 r)
{
	unsigned long total = 0, x;
	size_t i;

	for (i = 0; i < n; i++)
		total += weights[i];
	if (!total)
		return n;
	x = r % total;
	for (i = 0; i < n; i++) {
		if (x < weights[i])
			return i;
		x -= weights[i];
	}
	return n - 1;
}
