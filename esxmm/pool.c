// SPDX-License-Identifier: GPL-2.0
/*
 * Machine memory pool accounting. A charge that would take the allocated
 * count past the limit is refused, never partially granted, so a guest
 * fault either gets its page or a clean SIGBUS (until reclaim exists); the
 * host's OOM killer is never asked. Lowering the limit below what is
 * allocated is allowed: it refuses new charges until enough is given back.
 */
#include <linux/atomic.h>
#include <linux/compiler.h>
#include <linux/math64.h>

#include "pool.h"

/**
 * esxmm_pool_init() - Set up an empty pool.
 * @pool: the pool.
 * @limit: its size in pages.
 */
void esxmm_pool_init(struct esxmm_pool *pool, unsigned long limit)
{
	WRITE_ONCE(pool->limit, limit);
	atomic_long_set(&pool->allocated, 0);
	atomic_long_set(&pool->failed, 0);
}

/**
 * esxmm_pool_default_limit() - The pool size used when none is given.
 * @ram_pages: the machine's RAM in pages.
 *
 * Return: 90 % of @ram_pages, rounded down, at least 1.
 */
unsigned long esxmm_pool_default_limit(unsigned long ram_pages)
{
	unsigned long pages = mult_frac(ram_pages, 9, 10);

	return pages ? pages : 1;
}

/**
 * esxmm_pool_charge() - Reserve pages, all or nothing.
 * @pool: the pool.
 * @nr: pages wanted.
 *
 * Return: true if the pages were charged; false, with nothing charged, if
 * they would exceed the limit.
 */
bool esxmm_pool_charge(struct esxmm_pool *pool, unsigned long nr)
{
	long cur = atomic_long_read(&pool->allocated);

	do {
		if ((unsigned long)cur > READ_ONCE(pool->limit) ||
		    nr > READ_ONCE(pool->limit) - (unsigned long)cur) {
			atomic_long_inc(&pool->failed);
			return false;
		}
	} while (!atomic_long_try_cmpxchg(&pool->allocated, &cur, cur + nr));
	return true;
}

/**
 * esxmm_pool_uncharge() - Give pages back.
 * @pool: the pool.
 * @nr: pages, each charged before.
 */
void esxmm_pool_uncharge(struct esxmm_pool *pool, unsigned long nr)
{
	long left = atomic_long_sub_return(nr, &pool->allocated);

	WARN_ON_ONCE(left < 0);
}

/**
 * esxmm_pool_set_limit() - Resize the pool.
 * @pool: the pool.
 * @limit: new size in pages; may be below what is allocated.
 */
void esxmm_pool_set_limit(struct esxmm_pool *pool, unsigned long limit)
{
	WRITE_ONCE(pool->limit, limit);
}

/**
 * esxmm_pool_limit() - The pool's size.
 * @pool: the pool.
 *
 * Return: the limit in pages.
 */
unsigned long esxmm_pool_limit(const struct esxmm_pool *pool)
{
	return READ_ONCE(pool->limit);
}

/**
 * esxmm_pool_allocated() - Pages charged now.
 * @pool: the pool.
 *
 * Return: the allocated count.
 */
unsigned long esxmm_pool_allocated(const struct esxmm_pool *pool)
{
	long cur = atomic_long_read(&pool->allocated);

	return cur > 0 ? cur : 0;
}

/**
 * esxmm_pool_free() - Pages that can still be charged.
 * @pool: the pool.
 *
 * Return: limit - allocated, or 0 when the pool is over its limit.
 */
unsigned long esxmm_pool_free(const struct esxmm_pool *pool)
{
	unsigned long limit = esxmm_pool_limit(pool);
	unsigned long allocated = esxmm_pool_allocated(pool);

	return allocated < limit ? limit - allocated : 0;
}
