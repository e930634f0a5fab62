// SPDX-License-Identifier: GPL-2.0
/*
 * Working-set sampling, as in ESX: each period, for every guest, a few
 * random PPNs (resident or swapped) are marked and their mappings zapped
 * (KVM drops its shadow or TDP entries with them). The guest's next access
 * to a marked PPN faults into esxmm, which clears the mark and counts a
 * touch. At the end of the period f = touched / sampled feeds the
 * estimator. Sampling changes no entry: a sampled page stays where it is,
 * private, shared or in swap, and costs the guest one fault when it is
 * next touched.
 *
 * The same thread recomputes each guest's target (policy.c) and the
 * free-memory state every balance period, and at once when something that
 * matters changes (esxmm_reclaim_kick()).
 *
 * Locking: the thread takes esxmm_vms_lock for a pass over the guests;
 * marks are set and cleared under xa_lock (the XArray's own); the fault
 * path only test-and-clears a mark. Tunables: config_lock, a leaf mutex.
 */
#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "esxmm.h"
#include "range.h"
#include "reclaim.h"
#include "trace.h"

struct esxmm_reclaim_cfg esxmm_reclaim_cfg = {
	.tax_percent	= 75,
	.balance_ms	= 1000,
	.period_ms	= 30000,
	.sample_pages	= 100,
	.th		= { .high = 6, .soft = 4, .hard = 2, .low = 1 },
};

static DEFINE_MUTEX(config_lock);
static struct task_struct *sample_thread;
static DECLARE_WAIT_QUEUE_HEAD(sample_wait);
static bool kicked;			/* READ_ONCE/WRITE_ONCE */
static bool restart_period;		/* the period length changed */
/*
 * The free-memory state and a copy of the thresholds it is computed with,
 * under state_lock (a leaf spinlock; config_lock -> state_lock); mstate is
 * also read with READ_ONCE().
 */
static DEFINE_SPINLOCK(state_lock);
static enum esxmm_mstate mstate = ESXMM_STATE_HIGH;
static struct esxmm_thresholds state_th = { .high = 6, .soft = 4, .hard = 2, .low = 1 };

/**
 * esxmm_reclaim_vm_init() - Policy state of a new guest.
 * @vm: the guest.
 */
void esxmm_reclaim_vm_init(struct esxmm_vm *vm)
{
	esxmm_est_init(&vm->est);
	atomic_long_set(&vm->sample_touched, 0);
	vm->target = ULONG_MAX;
}

/**
 * esxmm_reclaim_kick() - Recompute targets soon.
 */
void esxmm_reclaim_kick(void)
{
	WRITE_ONCE(kicked, true);
	wake_up(&sample_wait);
}

/**
 * esxmm_reclaim_touch() - A fault on @ppn: count it if it was sampled.
 * @vm: the guest.
 * @ppn: the PPN.
 */
void esxmm_reclaim_touch(struct esxmm_vm *vm, pgoff_t ppn)
{
	if (likely(!xa_get_mark(&vm->pmap.xa, ppn, ESXMM_SAMPLED_MARK)))
		return;
	if (esxmm_pmap_test_clear_mark(&vm->pmap, ppn, ESXMM_SAMPLED_MARK))
		atomic_long_inc(&vm->sample_touched);
}

/**
 * esxmm_reclaim_state() - The free-memory state at the last balance.
 *
 * Return: the state.
 */
enum esxmm_mstate esxmm_reclaim_state(void)
{
	return READ_ONCE(mstate);
}

/**
 * esxmm_vm_shares() - A guest's effective shares.
 * @vm: the guest.
 *
 * Return: the shares set, or the default for its size.
 */
u64 esxmm_vm_shares(struct esxmm_vm *vm)
{
	u64 s = READ_ONCE(vm->shares);

	return s ? s : esxmm_default_shares(esxmm_size_to_pages(i_size_read(vm->inode)));
}

/**
 * esxmm_vm_active() - A guest's active-fraction estimates, in permille.
 * @vm: the guest.
 * @slow: the slow average, or NULL.
 * @fast: the fast average, or NULL.
 * @period: the current period so far, or NULL.
 *
 * Return: the estimate, max of the three.
 */
unsigned int esxmm_vm_active(struct esxmm_vm *vm, unsigned int *slow, unsigned int *fast,
			     unsigned int *period)
{
	struct esxmm_estimator e = {
		.slow = READ_ONCE(vm->est.slow),
		.fast = READ_ONCE(vm->est.fast),
	};
	unsigned int cur = esxmm_est_fraction(atomic_long_read(&vm->sample_touched),
					      READ_ONCE(vm->sample_n));

	if (slow)
		*slow = e.slow;
	if (fast)
		*fast = e.fast;
	if (period)
		*period = cur;
	return esxmm_est_value(&e, cur);
}

/* End @vm's period and sample the next one; esxmm_vms_lock is held. */
static void sample_vm(struct esxmm_vm *vm, unsigned int want)
{
	unsigned long size = esxmm_size_to_pages(i_size_read(vm->inode));
	unsigned long index, touched, n = 0, tries;
	struct esxmm_estimator *e = &vm->est;
	void *entry;

	/* Marks left are pages not touched; clear them before counting. */
	xa_lock(&vm->pmap.xa);
	xa_for_each_marked(&vm->pmap.xa, index, entry, ESXMM_SAMPLED_MARK)
		__xa_clear_mark(&vm->pmap.xa, index, ESXMM_SAMPLED_MARK);
	xa_unlock(&vm->pmap.xa);
	touched = atomic_long_xchg(&vm->sample_touched, 0);
	esxmm_est_period(e, touched, vm->sample_n);
	trace_sample_period(vm->id, touched, vm->sample_n, e->slow, e->fast,
			    esxmm_est_value(e, 0));
	/* Counted up as pages are marked: the current fraction stays true. */
	WRITE_ONCE(vm->sample_n, 0);

	/*
	 * Swapped pages are sampled too: sampling only resident ones would
	 * measure f among the pages swapping has left in memory, which are
	 * the guest's active ones plus a random rest, and overestimate a
	 * swapped guest's working set by up to size / resident. A swapped
	 * page's next touch is the fault that reads it back (the zap below
	 * is for one read back meanwhile). Ballooned pages are the guest's
	 * to forget and are not sampled.
	 */
	want = min_t(unsigned long, want, max(atomic_long_read(&vm->resident), 0L) +
		     max(atomic_long_read(&vm->swapped), 0L));
	for (tries = 0; size && n < want && tries < 4UL * want; tries++) {
		bool swapped;

		index = get_random_u64() % size;
		xa_lock(&vm->pmap.xa);
		entry = xa_find(&vm->pmap.xa, &index, size - 1, XA_PRESENT);
		if (!entry) {
			index = 0;
			entry = xa_find(&vm->pmap.xa, &index, size - 1, XA_PRESENT);
		}
		/* Resident or swapped pages, each once. */
		swapped = entry && esxmm_pmap_state(entry) == ESXMM_P_SWAPPED;
		if (!entry || (esxmm_pmap_state(entry) != ESXMM_P_PRIVATE &&
			       esxmm_pmap_state(entry) != ESXMM_P_SHARED && !swapped) ||
		    xa_get_mark(&vm->pmap.xa, index, ESXMM_SAMPLED_MARK)) {
			xa_unlock(&vm->pmap.xa);
			continue;
		}
		__xa_set_mark(&vm->pmap.xa, index, ESXMM_SAMPLED_MARK);
		xa_unlock(&vm->pmap.xa);
		/* Marked first: a touch between mark and zap counts as one. */
		WRITE_ONCE(vm->sample_n, ++n);
		esxmm_shadow_invalidate(vm, index, 1);
		cond_resched();
	}
}

static void sample_all(void)
{
	unsigned int want = READ_ONCE(esxmm_reclaim_cfg.sample_pages);
	struct esxmm_vm *vm;

	mutex_lock(&esxmm_vms_lock);
	list_for_each_entry(vm, &esxmm_vms, node)
		sample_vm(vm, want);
	mutex_unlock(&esxmm_vms_lock);
}

/**
 * esxmm_reclaim_update_state() - Recompute the free-memory state now.
 *
 * The sampler does it every balance; the swapper after each round, so the
 * state follows what it freed without waiting for the next balance.
 *
 * Return: the new state.
 */
enum esxmm_mstate esxmm_reclaim_update_state(void)
{
	enum esxmm_mstate state;

	spin_lock(&state_lock);
	state = esxmm_state_next(mstate, esxmm_pool_free(&esxmm_pool),
				 esxmm_pool_limit(&esxmm_pool), &state_th);
	WRITE_ONCE(mstate, state);
	spin_unlock(&state_lock);
	return state;
}

/**
 * esxmm_reclaim_swap_goal() - Pages to free for the pool's sake.
 * @state: the free-memory state.
 *
 * Return: see esxmm_swap_goal().
 */
unsigned long esxmm_reclaim_swap_goal(enum esxmm_mstate state)
{
	struct esxmm_thresholds th;

	spin_lock(&state_lock);
	th = state_th;
	spin_unlock(&state_lock);
	return esxmm_swap_goal(state, esxmm_pool_free(&esxmm_pool),
			       esxmm_pool_limit(&esxmm_pool), &th);
}

static void balance(void)
{
	unsigned long pool = esxmm_pool_limit(&esxmm_pool);
	enum esxmm_mstate state;
	struct esxmm_policy_vm *v;
	struct esxmm_vm *vm;
	size_t n = 0, i;

	mutex_lock(&esxmm_vms_lock);
	list_for_each_entry(vm, &esxmm_vms, node)
		n++;
	v = kcalloc(n, sizeof(*v), GFP_KERNEL);
	if (n && v) {
		i = 0;
		list_for_each_entry(vm, &esxmm_vms, node) {
			v[i].shares = esxmm_vm_shares(vm);
			v[i].min = vm->min_pages;
			v[i].max = esxmm_size_to_pages(i_size_read(vm->inode));
			v[i].active = esxmm_vm_active(vm, NULL, NULL, NULL);
			i++;
		}
		esxmm_policy_targets(v, n, pool, READ_ONCE(esxmm_reclaim_cfg.tax_percent));
		i = 0;
		list_for_each_entry(vm, &esxmm_vms, node) {
			unsigned long bt;

			WRITE_ONCE(vm->target, v[i].target);
			/* The balloon takes what the guest holds above its target. */
			bt = v[i].max > v[i].target ? v[i].max - v[i].target : 0;
			if (bt != READ_ONCE(vm->balloon_target)) {
				WRITE_ONCE(vm->balloon_target, bt);
				sysfs_notify(&vm->kobj, NULL, "balloon_target_pages");
			}
			i++;
		}
	}
	mutex_unlock(&esxmm_vms_lock);
	kfree(v);

	state = esxmm_reclaim_update_state();
	trace_balance(pool, esxmm_pool_free(&esxmm_pool), state, n);
	if (state != ESXMM_STATE_HIGH)
		esxmm_swap_kick();
}

static int sample_thread_fn(void *unused)
{
	unsigned long next_period = jiffies, next_balance = jiffies, now, wait;

	set_freezable();
	while (!kthread_should_stop()) {
		now = jiffies;
		if (READ_ONCE(restart_period)) {
			WRITE_ONCE(restart_period, false);
			next_period = now;
		}
		if (time_after_eq(now, next_period)) {
			sample_all();
			/*
			 * The period starts once the samples are marked: marking
			 * many pages (a zap and a KVM flush each) can take a
			 * while, and that time must not come out of the guest's
			 * time to touch them.
			 */
			next_period = jiffies +
				      msecs_to_jiffies(READ_ONCE(esxmm_reclaim_cfg.period_ms));
			WRITE_ONCE(kicked, true);	/* new estimates: new targets */
		}
		if (READ_ONCE(kicked) || time_after_eq(now, next_balance)) {
			WRITE_ONCE(kicked, false);
			balance();
			next_balance = now + msecs_to_jiffies(READ_ONCE(esxmm_reclaim_cfg.balance_ms));
		}
		now = jiffies;
		wait = time_before(next_period, next_balance) ? next_period : next_balance;
		wait = time_after(wait, now) ? wait - now : 1;
		wait_event_freezable_timeout(sample_wait, kthread_should_stop() ||
					     READ_ONCE(kicked) || READ_ONCE(restart_period), wait);
	}
	return 0;
}

/**
 * esxmm_reclaim_set() - Set a tunable of esxmm_reclaim_cfg.
 * @field: &esxmm_reclaim_cfg.tax_percent, .balance_ms, .period_ms or .sample_pages.
 * @val: the value, already range-checked by the caller.
 *
 * Return: 0.
 */
int esxmm_reclaim_set(unsigned int *field, unsigned long val)
{
	mutex_lock(&config_lock);
	WRITE_ONCE(*field, val);
	mutex_unlock(&config_lock);
	if (field == &esxmm_reclaim_cfg.period_ms)
		WRITE_ONCE(restart_period, true);
	esxmm_reclaim_kick();
	return 0;
}

/**
 * esxmm_reclaim_set_threshold() - Set one free-memory threshold.
 * @field: one of esxmm_reclaim_cfg.th's members.
 * @val: percent of the pool.
 *
 * Return: 0, or -EINVAL unless 100 >= high >= soft >= hard >= low would hold.
 */
int esxmm_reclaim_set_threshold(unsigned int *field, unsigned long val)
{
	unsigned int old;
	int err = 0;

	if (val > 100)
		return -EINVAL;
	mutex_lock(&config_lock);
	old = *field;
	*field = val;
	if (!esxmm_thresholds_valid(&esxmm_reclaim_cfg.th)) {
		*field = old;
		err = -EINVAL;
	} else {
		spin_lock(&state_lock);
		state_th = esxmm_reclaim_cfg.th;
		spin_unlock(&state_lock);
	}
	mutex_unlock(&config_lock);
	if (!err)
		esxmm_reclaim_kick();
	return err;
}

static unsigned long reserved_except(struct esxmm_vm *skip)
{
	unsigned long sum = 0;
	struct esxmm_vm *vm;

	lockdep_assert_held(&esxmm_vms_lock);
	list_for_each_entry(vm, &esxmm_vms, node)
		if (vm != skip)
			sum += vm->min_pages;
	return sum;
}

static int admit(struct esxmm_vm *vm, unsigned long min)
{
	unsigned long size = esxmm_size_to_pages(i_size_read(vm->inode));
	unsigned long others = reserved_except(vm);
	unsigned long pool = esxmm_pool_limit(&esxmm_pool);
	/* Its own swapped pages already have their slots. */
	unsigned long swap_free = esxmm_swap_slots_free() +
				  max(0L, atomic_long_read(&vm->swapped));
	int err = esxmm_admit(min, size, others, pool, swap_free);

	if (err == -ENOMEM)
		pr_warn_ratelimited("vm %u refused: min %lu + %lu reserved by others in a pool of %lu; the other %lu pages of it must fit in what is left plus %lu free swap slots\n",
				    vm->id, min, others, pool, size - min, swap_free);
	return err;
}

/**
 * esxmm_reclaim_set_min() - Reserve @min pages for a guest.
 * @vm: the guest.
 * @min: pages, at most its size.
 *
 * Return: 0, -EINVAL (above its size) or -ENOMEM (admission refused).
 */
int esxmm_reclaim_set_min(struct esxmm_vm *vm, unsigned long min)
{
	int err;

	mutex_lock(&esxmm_vms_lock);
	err = admit(vm, min);
	if (!err)
		vm->min_pages = min;
	mutex_unlock(&esxmm_vms_lock);
	if (!err)
		esxmm_reclaim_kick();
	return err;
}

/**
 * esxmm_reclaim_set_shares() - Give a guest @shares shares.
 * @vm: the guest.
 * @shares: 1 to U32_MAX.
 *
 * Return: 0.
 */
int esxmm_reclaim_set_shares(struct esxmm_vm *vm, u64 shares)
{
	mutex_lock(&esxmm_vms_lock);
	WRITE_ONCE(vm->shares, shares);
	mutex_unlock(&esxmm_vms_lock);
	esxmm_reclaim_kick();
	return 0;
}

/**
 * esxmm_reclaim_admit() - May this guest start (be mapped)?
 * @vm: the guest.
 *
 * Return: 0 or -ENOMEM, with a log line saying why.
 */
int esxmm_reclaim_admit(struct esxmm_vm *vm)
{
	int err;

	mutex_lock(&esxmm_vms_lock);
	err = admit(vm, vm->min_pages);
	mutex_unlock(&esxmm_vms_lock);
	esxmm_reclaim_kick();
	return err;
}

/**
 * esxmm_reclaim_init() - Start the sampler thread.
 *
 * Return: 0 or a negative errno.
 */
int esxmm_reclaim_init(void)
{
	sample_thread = kthread_run(sample_thread_fn, NULL, "esxmm_sample");
	return PTR_ERR_OR_ZERO(sample_thread);
}

/**
 * esxmm_reclaim_exit() - Stop it.
 */
void esxmm_reclaim_exit(void)
{
	kthread_stop(sample_thread);
}
