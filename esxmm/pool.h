/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The machine memory pool: how many pages esxmm may hand to guests in all.
 * Every page a pmap holds is charged here when it is allocated and
 * uncharged when the pmap lets go of it. Lock-free: the counters are atomic.
 */
#ifndef ESXMM_POOL_H
#define ESXMM_POOL_H

#include <linux/atomic.h>
#include <linux/types.h>

struct esxmm_pool {
	unsigned long limit;		/* pages; READ_ONCE/WRITE_ONCE */
	atomic_long_t allocated;	/* pages charged */
	atomic_long_t failed;		/* charges refused because the pool was full */
};

void esxmm_pool_init(struct esxmm_pool *pool, unsigned long limit);
bool esxmm_pool_charge(struct esxmm_pool *pool, unsigned long nr);
void esxmm_pool_uncharge(struct esxmm_pool *pool, unsigned long nr);
void esxmm_pool_set_limit(struct esxmm_pool *pool, unsigned long limit);
unsigned long esxmm_pool_limit(const struct esxmm_pool *pool);
unsigned long esxmm_pool_allocated(const struct esxmm_pool *pool);
unsigned long esxmm_pool_free(const struct esxmm_pool *pool);
unsigned long esxmm_pool_default_limit(unsigned long ram_pages);

#endif /* ESXMM_POOL_H */
