// SPDX-License-Identifier: GPL-2.0
/*
 * Hypervisor demand paging with random replacement (ESX section 3.3).
 *
 * The swap area is one preallocated regular file, root's and 0600 or
 * stricter, set through /sys/kernel/esxmm/swap/file; its pages are slots
 * (slots.c). The esxmm_swapd thread takes *random* resident private pages
 * of guests that are over their targets (policy.c: esxmm_swap_plan()) when
 * the free-memory state calls for it, writes them to free slots in batches
 * (one write per run of consecutive slots), records each slot in the pmap,
 * and frees the page. Random replacement needs no access history and is
 * immune to a guest's own LRU working against ours (the double paging the
 * paper describes). A fault on a swapped PPN reads the slot back
 * (shadow/fault.c: swap_in()), then frees the slot.
 *
 * A page to swap out is frozen first, as for a merge: locked (trylock: the
 * swapper never waits for a page lock, so it cannot deadlock with anyone
 * who holds several), unmapped (KVM's MMU notifier drops its entries) and
 * held by nobody else. Its entry changes only after the write succeeded; a
 * page whose write failed stays where it is.
 *
 * The host's own reclaim reaches esxmm through a shrinker, which swaps out
 * pages of the guests with the most swappable pages.
 *
 * Locking:
 *  - area.sem (rw_semaphore): taken for read around every slot I/O and
 *    for write to change the file. Swap-in takes it under a page lock, so
 *    the writer never holds it while waiting for anything but readers.
 *  - area.slots.lock: the slot bitmap, a leaf spinlock.
 *  - esxmm_vms_lock is held only to pick guests (and take inode
 *    references with igrab()), never across I/O.
 *  - All slot I/O runs under memalloc_nofs_save(): an allocation in the
 *    swap file's filesystem must not recurse into our shrinker, whose own
 *    I/O could then wait for a lock that filesystem holds.
 */
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/freezer.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/wait.h>

#include "esxmm.h"
#include "range.h"
#include "reclaim.h"
#include "slots.h"
#include "trace.h"

/* Pages written or read by one I/O at most. */
#define SWAP_BATCH		32
/* Pages one guest gives up per round of the swapper, before it looks again. */
#define SWAP_ROUND		256
/* How long a fault waits for room in the pool, and in the low state. */
#define ROOM_WAIT_MS		30000
#define BLOCK_WAIT_MS		2000

static struct {
	struct rw_semaphore sem;
	struct file *file;	/* NULL: no swap */
	char *path;
	bool direct;		/* opened O_DIRECT: no page cache in between */
	bool draining;		/* READ_ONCE: being switched off, take no pages */
	struct esxmm_slots slots;
} area;

struct esxmm_swap_stats esxmm_swap_stats;

static DEFINE_MUTEX(swap_set_lock);	/* one writer of swap/file at a time */
static struct task_struct *swapd_thread;
static DECLARE_WAIT_QUEUE_HEAD(swapd_wait);
static DECLARE_WAIT_QUEUE_HEAD(room_wait);
static bool swapd_kicked;		/* READ_ONCE/WRITE_ONCE */
static atomic_t room_waiters = ATOMIC_INIT(0);
static bool shrinker_on = true;		/* READ_ONCE/WRITE_ONCE */
/* Pages the shrinker asked for and the swapper has not freed yet; and freed. */
static atomic_long_t pressure_need = ATOMIC_LONG_INIT(0);
static atomic_long_t pressure_done = ATOMIC_LONG_INIT(0);
#define PRESSURE_MAX		(4 * SWAP_ROUND)

/**
 * esxmm_swap_enabled() - Is there a swap area that takes pages?
 *
 * Return: true if so.
 */
bool esxmm_swap_enabled(void)
{
	return esxmm_slots_total(&area.slots) && !READ_ONCE(area.draining);
}

unsigned long esxmm_swap_slots_total(void)
{
	return esxmm_slots_total(&area.slots);
}

unsigned long esxmm_swap_slots_used(void)
{
	return esxmm_slots_used(&area.slots);
}

unsigned long esxmm_swap_slots_free(void)
{
	return esxmm_slots_free_count(&area.slots);
}

bool esxmm_swap_shrinker_on(void)
{
	return READ_ONCE(shrinker_on);
}

void esxmm_swap_set_shrinker(bool on)
{
	WRITE_ONCE(shrinker_on, on);
}

/**
 * esxmm_swap_kick() - Wake the swapper: memory is short or someone waits.
 */
void esxmm_swap_kick(void)
{
	WRITE_ONCE(swapd_kicked, true);
	wake_up(&swapd_wait);
}

/* Room in the pool changed: let waiting faults look again. */
static void room_made(void)
{
	if (atomic_read(&room_waiters))
		wake_up_all(&room_wait);
}

/*
 * Read or write @nr pages at consecutive slots from @slot. area.sem is held
 * for read. Return: 0, or a negative errno (a short transfer is -EIO).
 */
static int slot_io(unsigned int dir, struct page **pages, unsigned int nr, unsigned long slot)
{
	struct bio_vec bv[SWAP_BATCH];
	struct iov_iter iter;
	loff_t pos = (loff_t)slot << PAGE_SHIFT;
	size_t len = (size_t)nr << PAGE_SHIFT;
	unsigned int i, nofs;
	ssize_t ret;

	if (WARN_ON_ONCE(nr > SWAP_BATCH || !area.file))
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		bv[i].bv_page = pages[i];
		bv[i].bv_len = PAGE_SIZE;
		bv[i].bv_offset = 0;
	}
	iov_iter_bvec(&iter, dir, bv, nr, len);
	nofs = memalloc_nofs_save();
	if (dir == WRITE) {
		file_start_write(area.file);
		ret = vfs_iter_write(area.file, &iter, &pos, 0);
		file_end_write(area.file);
		/* Through the page cache: make it stable and drop the copy. */
		if (ret == len && !area.direct) {
			loff_t start = (loff_t)slot << PAGE_SHIFT;
			int err = vfs_fsync_range(area.file, start, start + len - 1, 1);

			if (err)
				ret = err;
			else
				invalidate_mapping_pages(area.file->f_mapping, slot, slot + nr - 1);
		}
	} else {
		ret = vfs_iter_read(area.file, &iter, &pos, 0);
	}
	memalloc_nofs_restore(nofs);
	if (ret == len)
		return 0;
	return ret < 0 ? ret : -EIO;
}

/**
 * esxmm_swap_read() - Read a swap slot into a page.
 * @page: the page, locked, not yet visible to anyone but lock waiters.
 * @slot: the slot.
 *
 * Return: 0, or a negative errno (logged).
 */
int esxmm_swap_read(struct page *page, unsigned long slot)
{
	int err;

	down_read(&area.sem);
	err = area.file ? slot_io(READ, &page, 1, slot) : -EIO;
	up_read(&area.sem);
	if (err) {
		atomic_long_inc(&esxmm_swap_stats.read_errors);
		pr_err_ratelimited("swap: reading slot %lu failed (%d)\n", slot, err);
	}
	return err;
}

/**
 * esxmm_swap_free_slot() - A swapped PPN is back in memory, or gone.
 * @slot: its slot.
 */
void esxmm_swap_free_slot(unsigned long slot)
{
	esxmm_slots_free(&area.slots, slot, 1);
}

/*
 * Lock, unmap and check a victim @page found at @vm's @ppn: see the header
 * comment. On success the page is locked and unmapped, the pmap's reference
 * and ours are the only ones, and no writer can get at it.
 */
static bool freeze_victim(struct esxmm_vm *vm, pgoff_t ppn, struct page *page)
{
	if (!trylock_page(page))
		return false;
	if (!PageUptodate(page) || !esxmm_pmap_still(&vm->pmap, ppn, page, page))
		goto unlock;
	esxmm_shadow_invalidate(vm, ppn, 1);
	if (page_mapped(page) || page_count(page) != 2) {
		atomic_long_inc(&esxmm_swap_stats.pinned_skips);
		goto unlock;
	}
	return true;
unlock:
	unlock_page(page);
	return false;
}

/* @page (frozen) is now in @slot: point @ppn there and free the page. */
static void commit_out(struct esxmm_vm *vm, pgoff_t ppn, struct page *page, unsigned long slot)
{
	int err = esxmm_pmap_replace(&vm->pmap, ppn, esxmm_pmap_mk_private(page),
				     esxmm_pmap_mk_swapped(slot));

	/* Entries pointing at a page change only under its lock, which we hold. */
	if (WARN_ON_ONCE(err)) {
		esxmm_slots_free(&area.slots, slot, 1);
		unlock_page(page);
		put_page(page);
		return;
	}
	atomic_long_dec(&vm->resident);
	atomic_long_inc(&vm->swapped);
	atomic_long_inc(&esxmm_swap_stats.pages_out);
	trace_swap_out(vm->id, ppn, slot);
	unlock_page(page);
	put_page(page);		/* ours */
	put_page(page);		/* the pmap's: the page is free */
	esxmm_pool_uncharge(&esxmm_pool, 1);
}

/*
 * Write @n frozen pages of @vm out. Pages that found no slot, or whose
 * write failed, are unlocked and stay. Return: pages swapped out.
 */
static unsigned int write_batch(struct esxmm_vm *vm, struct page **pages, pgoff_t *ppns,
				unsigned int n)
{
	unsigned int i = 0, j, got = 0;
	long start;
	int err;

	down_read(&area.sem);
	while (i < n && area.file && !READ_ONCE(area.draining)) {
		start = esxmm_slots_alloc(&area.slots, n - i, &got);
		if (start < 0)
			break;		/* swap is full */
		err = slot_io(WRITE, &pages[i], got, start);
		if (err) {
			esxmm_slots_free(&area.slots, start, got);
			atomic_long_inc(&esxmm_swap_stats.write_errors);
			pr_err_ratelimited("swap: writing %u pages at slot %ld failed (%d); they stay in memory\n",
					   got, start, err);
			break;
		}
		for (j = 0; j < got; j++)
			commit_out(vm, ppns[i + j], pages[i + j], start + j);
		i += got;
	}
	up_read(&area.sem);
	for (j = i; j < n; j++) {
		unlock_page(pages[j]);
		put_page(pages[j]);
	}
	return i;
}

/*
 * Swap out up to @take random private pages of @vm, whose inode reference
 * the caller holds. Return: pages swapped out.
 */
static unsigned long swap_out_vm(struct esxmm_vm *vm, unsigned long take)
{
	struct page *pages[SWAP_BATCH];
	pgoff_t ppns[SWAP_BATCH];
	unsigned long size = esxmm_size_to_pages(i_size_read(vm->inode));
	unsigned long done = 0, index, tries;
	unsigned int n, want, wrote;
	struct page *page;

	while (size && done < take && esxmm_swap_enabled()) {
		want = min_t(unsigned long, take - done, SWAP_BATCH);
		for (n = 0, tries = 0; n < want && tries < 4 * want; tries++) {
			/* A random PPN, then the first private page from there. */
			index = get_random_u64() % size;
			page = esxmm_pmap_get_private(&vm->pmap, &index, size - 1, 64);
			if (!page) {
				index = 0;
				page = esxmm_pmap_get_private(&vm->pmap, &index, size - 1, 64);
			}
			if (!page)
				continue;
			if (!freeze_victim(vm, index, page)) {
				put_page(page);
				continue;
			}
			pages[n] = page;
			ppns[n++] = index;
		}
		if (!n)
			break;
		wrote = write_batch(vm, pages, ppns, n);
		done += wrote;
		if (wrote)
			room_made();
		if (wrote < n)
			break;		/* full, failing or switched off: look again later */
		cond_resched();
	}
	return done;
}

struct swap_pick {
	struct esxmm_vm *vm;
	struct inode *inode;
};

/*
 * Take a reference on every live guest's inode and describe each for the
 * planner: *@picksp and *@svp are arrays of the returned length (guests
 * being evicted are left out), to be given back with put_picks().
 */
static size_t get_picks(struct swap_pick **picksp, struct esxmm_swap_vm **svp)
{
	struct esxmm_swap_vm *sv = NULL;
	struct swap_pick *picks = NULL;
	struct esxmm_vm *vm;
	size_t n = 0, max = 0;

	mutex_lock(&esxmm_vms_lock);
	list_for_each_entry(vm, &esxmm_vms, node)
		max++;
	if (max) {
		picks = kcalloc(max, sizeof(*picks), GFP_KERNEL);
		sv = kcalloc(max, sizeof(*sv), GFP_KERNEL);
	}
	if (picks && sv) {
		list_for_each_entry(vm, &esxmm_vms, node) {
			struct inode *inode = igrab(vm->inode);
			long resident = atomic_long_read(&vm->resident);
			long shared = atomic_long_read(&vm->shared);

			if (!inode)
				continue;	/* being evicted */
			picks[n].vm = vm;
			picks[n].inode = inode;
			sv[n].resident = max(resident, 0L);
			sv[n].private = max(resident - shared, 0L);
			sv[n].target = READ_ONCE(vm->target);
			sv[n].min = vm->min_pages;
			/* It has a balloon if it ever gave pages back and holds some. */
			sv[n].balloon = atomic_long_read(&vm->ballooned) > 0;
			n++;
		}
	}
	mutex_unlock(&esxmm_vms_lock);
	*picksp = picks;
	*svp = sv;
	return n;
}

static void put_picks(struct swap_pick *picks, struct esxmm_swap_vm *sv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		iput(picks[i].inode);
	kfree(picks);
	kfree(sv);
}

/* Carry out a plan; at most SWAP_ROUND pages per guest. */
static unsigned long swap_out_plan(struct swap_pick *picks, struct esxmm_swap_vm *sv, size_t n)
{
	unsigned long done = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (sv[i].take)
			done += swap_out_vm(picks[i].vm, min_t(unsigned long, sv[i].take,
							       SWAP_ROUND));
	return done;
}

/* One round of the swapper. Return: pages swapped out. */
static unsigned long swap_round(void)
{
	struct esxmm_swap_vm *sv;
	struct swap_pick *picks;
	enum esxmm_mstate state;
	unsigned long need, done = 0;
	long pressure;
	size_t n;

	if (!esxmm_swap_enabled())
		return 0;
	state = esxmm_reclaim_update_state();
	need = esxmm_reclaim_swap_goal(state);
	if (atomic_read(&room_waiters))
		need += atomic_read(&room_waiters) + SWAP_BATCH;
	pressure = atomic_long_read(&pressure_need);
	if (state == ESXMM_STATE_HIGH && !need && !pressure)
		return 0;
	n = get_picks(&picks, &sv);
	if (n && esxmm_swap_plan(sv, n, state, need))
		done = swap_out_plan(picks, sv, n);
	if (n && pressure && esxmm_swap_plan_pressure(sv, n, pressure)) {
		unsigned long freed = swap_out_plan(picks, sv, n);

		atomic_long_add(freed, &esxmm_swap_stats.shrinker_pages);
		atomic_long_add(freed, &pressure_done);
		done += freed;
	}
	/* Served, or nothing could be: either way the request is over. */
	atomic_long_sub(min_t(long, pressure, atomic_long_read(&pressure_need)), &pressure_need);
	put_picks(picks, sv, n);
	if (done)
		esxmm_reclaim_update_state();
	room_made();
	return done;
}

static int swapd_fn(void *unused)
{
	unsigned long timeout;

	set_freezable();
	while (!kthread_should_stop()) {
		WRITE_ONCE(swapd_kicked, false);
		if (swap_round()) {
			cond_resched();
			continue;
		}
		/* Look again soon while memory is short, else when kicked. */
		timeout = esxmm_reclaim_state() == ESXMM_STATE_HIGH ? 10 * HZ : HZ / 10;
		wait_event_freezable_timeout(swapd_wait, kthread_should_stop() ||
					     READ_ONCE(swapd_kicked), timeout);
	}
	return 0;
}

/**
 * esxmm_reclaim_wait_room() - The pool is full: wait for the swapper.
 * @vm: the guest that wants a page.
 *
 * Called with no page lock held. Waits (killable) until the pool has a
 * free page; the caller then tries to charge it again. It waits as long as
 * the swapper keeps swapping pages out, since the room it makes may go to
 * other faults first (a busy guest beside this one): a guest past the pool
 * blocks, as on ESX, rather than fail while reclaim is working. It gives up
 * only when swap fills, or when no page at all was swapped out for
 * ROOM_WAIT_MS.
 *
 * Return: 0 (try again), -ENOSPC (no swap, swap full, or no room came in
 * time) or -EINTR (a fatal signal).
 */
int esxmm_reclaim_wait_room(struct esxmm_vm *vm)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(ROOM_WAIT_MS);
	long out = atomic_long_read(&esxmm_swap_stats.pages_out), now, ret;
	int err;

	/*
	 * No room can come without a free slot (or a page coming back in,
	 * which needs room itself). While swap is being switched off, room
	 * may come when that ends.
	 */
	if (!esxmm_slots_total(&area.slots) || !esxmm_swap_slots_free() ||
	    current == swapd_thread)
		return -ENOSPC;
	atomic_long_inc(&vm->blocked_faults);
	atomic_inc(&room_waiters);
	for (;;) {
		esxmm_swap_kick();
		ret = wait_event_killable_timeout(room_wait, esxmm_pool_free(&esxmm_pool) > 0 ||
						  !esxmm_slots_total(&area.slots), HZ);
		if (ret) {
			err = ret < 0 ? -EINTR : 0;	/* a fatal signal, or room */
			break;
		}
		if (!esxmm_swap_slots_free()) {
			err = -ENOSPC;
			break;
		}
		now = atomic_long_read(&esxmm_swap_stats.pages_out);
		if (now != out) {
			out = now;
			deadline = jiffies + msecs_to_jiffies(ROOM_WAIT_MS);
		} else if (time_after(jiffies, deadline)) {
			pr_warn_ratelimited("vm %u: no room in the pool: nothing swapped out for %u ms\n",
					    vm->id, ROOM_WAIT_MS);
			err = -ENOSPC;
			break;
		}
	}
	atomic_dec(&room_waiters);
	return err;
}

/**
 * esxmm_reclaim_throttle() - Hold a guest above its target in the low state.
 * @vm: the guest about to get a new page.
 *
 * ESX blocks guests above their targets while free memory is low, until
 * reclaim catches up. Bounded (BLOCK_WAIT_MS) and killable; only when
 * there is swap with free slots to catch up with. Called with no page
 * lock held.
 */
void esxmm_reclaim_throttle(struct esxmm_vm *vm)
{
	if (likely(esxmm_reclaim_state() != ESXMM_STATE_LOW) || !esxmm_swap_enabled() ||
	    !esxmm_swap_slots_free() || current == swapd_thread)
		return;
	if (atomic_long_read(&vm->resident) < READ_ONCE(vm->target))
		return;
	atomic_long_inc(&vm->blocked_faults);
	atomic_inc(&room_waiters);
	esxmm_swap_kick();
	wait_event_killable_timeout(room_wait, esxmm_reclaim_state() != ESXMM_STATE_LOW ||
				    atomic_long_read(&vm->resident) < READ_ONCE(vm->target) ||
				    !esxmm_swap_enabled(),
				    msecs_to_jiffies(BLOCK_WAIT_MS));
	atomic_dec(&room_waiters);
}

/* ---- the shrinker ---------------------------------------------------------------------- */

static unsigned long esxmm_shrink_count(struct shrinker *s, struct shrink_control *sc)
{
	unsigned long sum = 0;
	struct esxmm_vm *vm;

	if (!READ_ONCE(shrinker_on) || !esxmm_swap_enabled())
		return 0;
	if (!mutex_trylock(&esxmm_vms_lock))
		return 0;
	list_for_each_entry(vm, &esxmm_vms, node) {
		long resident = atomic_long_read(&vm->resident);
		long priv = resident - atomic_long_read(&vm->shared);
		long above_min = resident - (long)vm->min_pages;

		sum += max(0L, min(priv, above_min));
	}
	mutex_unlock(&esxmm_vms_lock);
	return min(sum, esxmm_swap_slots_free());
}

/*
 * The host's reclaim asks for @sc->nr_to_scan pages. The swapper does the
 * work (it may sleep on I/O, take esxmm_vms_lock and drop inode references,
 * none of which is safe in every reclaim context); this hands it the request
 * and reports what it freed for earlier ones.
 */
static unsigned long esxmm_shrink_scan(struct shrinker *s, struct shrink_control *sc)
{
	long want;

	if (!READ_ONCE(shrinker_on) || !esxmm_swap_enabled())
		return SHRINK_STOP;
	want = atomic_long_read(&pressure_need) + sc->nr_to_scan;
	atomic_long_set(&pressure_need, min_t(long, want, PRESSURE_MAX));
	esxmm_swap_kick();
	return atomic_long_xchg(&pressure_done, 0);
}

static struct shrinker esxmm_shrinker = {
	.count_objects	= esxmm_shrink_count,
	.scan_objects	= esxmm_shrink_scan,
	/* A guest page costs a write now and a read later: dearer than a cache. */
	.seeks		= 4 * DEFAULT_SEEKS,
};

/* ---- swap/file ------------------------------------------------------------------------- */

/* Open and check a swap file. Return: the file or an ERR_PTR, with a log line. */
static struct file *open_swap_file(const char *path, bool *direct, loff_t *sizep)
{
	const char *why = NULL;
	struct inode *inode;
	struct file *file;
	struct kstat st;
	int err;

	*direct = true;
	file = filp_open(path, O_RDWR | O_LARGEFILE | O_DIRECT | O_NOATIME, 0);
	if (IS_ERR(file) && PTR_ERR(file) == -EINVAL) {
		/* The filesystem has no direct I/O (tmpfs): go through its cache. */
		*direct = false;
		file = filp_open(path, O_RDWR | O_LARGEFILE | O_NOATIME, 0);
	}
	if (IS_ERR(file)) {
		pr_warn("swap: cannot open %s (%ld)\n", path, PTR_ERR(file));
		return file;
	}
	inode = file_inode(file);
	/* Through getattr: a stacked filesystem (overlayfs) keeps these below. */
	err = vfs_getattr(&file->f_path, &st, STATX_BASIC_STATS, AT_STATX_SYNC_AS_STAT);
	if (err) {
		pr_warn("swap: cannot stat %s (%d)\n", path, err);
		fput(file);
		return ERR_PTR(err);
	}
	err = -EINVAL;
	if (!S_ISREG(st.mode)) {
		why = "not a regular file";
	} else if (!uid_eq(st.uid, GLOBAL_ROOT_UID) || (st.mode & 0077)) {
		/* Guests' memory: nobody but root may read it. */
		why = "must be owned by root with mode 0600 or stricter";
		err = -EPERM;
	} else if (IS_SWAPFILE(inode)) {
		why = "is a Linux swap file in use";
		err = -EBUSY;
	} else if (inode->i_sb->s_magic == ESXMM_MAGIC) {
		why = "is on an esxmm filesystem";
	} else if (st.size < PAGE_SIZE) {
		why = "is smaller than a page";
	} else if ((u64)st.blocks << 9 < (u64)st.size) {
		/* Holes would be filled while memory is short: preallocate. */
		why = "has holes: preallocate it (fallocate -l SIZE, or dd from /dev/zero)";
	}
	if (why) {
		pr_warn("swap: refusing %s: %s\n", path, why);
		fput(file);
		return ERR_PTR(err);
	}
	*sizep = st.size;
	if (!*direct)
		pr_info("swap: %s has no direct I/O: pages go through its page cache\n", path);
	return file;
}

/* Bring every swapped page back in; area.draining is set. */
static int drain_swap(void)
{
	struct esxmm_swap_vm *sv;
	struct swap_pick *picks;
	size_t n, i;
	int err = 0;

	/* Swap-outs in flight hold area.sem: wait for them to finish. */
	down_write(&area.sem);
	up_write(&area.sem);
	n = get_picks(&picks, &sv);
	for (i = 0; i < n && !err; i++) {
		struct esxmm_vm *vm = picks[i].vm;
		unsigned long index = 0;
		void *entry;

		xa_for_each(&vm->pmap.xa, index, entry) {
			if (esxmm_pmap_state(entry) != ESXMM_P_SWAPPED)
				continue;
			err = esxmm_shadow_swap_in(vm, index);
			if (err)
				break;
			if (fatal_signal_pending(current)) {
				err = -EINTR;
				break;
			}
			cond_resched();
		}
	}
	put_picks(picks, sv, n);
	return err;
}

/* Switch swap off. swap_set_lock is held. */
static int swap_off(void)
{
	struct file *old;
	int err;

	if (!area.file)
		return 0;
	WRITE_ONCE(area.draining, true);
	err = drain_swap();
	down_write(&area.sem);
	if (!err)
		err = esxmm_slots_teardown(&area.slots);
	if (err) {
		up_write(&area.sem);
		WRITE_ONCE(area.draining, false);
		esxmm_swap_kick();
		pr_warn("swap: cannot switch %s off (%d): %lu pages still in it\n", area.path,
			err, esxmm_swap_slots_used());
		return err == -ENOSPC ? -ENOSPC : -EBUSY;
	}
	old = area.file;
	area.file = NULL;
	pr_info("swap: %s off\n", area.path);
	kfree(area.path);
	area.path = NULL;
	WRITE_ONCE(area.draining, false);
	up_write(&area.sem);
	fput(old);
	wake_up_all(&room_wait);	/* waiters learn there is no swap */
	return 0;
}

/**
 * esxmm_swap_set_file() - Set the swap file, or "none".
 * @buf: a sysfs write: an absolute path, or "none"; one trailing newline.
 * @count: its length.
 *
 * A new file replaces the old one only if the old one holds no page;
 * "none" first reads every swapped page back (-ENOSPC if the pool cannot
 * hold them; nothing is lost either way).
 *
 * Return: 0 or a negative errno: -EINVAL (not an absolute path, or a file
 * unfit for swap), -EPERM (not root's, or readable by others), -EBUSY
 * (pages in the old one), -ENOSPC, or what opening it gave.
 */
int esxmm_swap_set_file(const char *buf, size_t count)
{
	struct file *file, *old;
	unsigned long nr;
	loff_t size;
	bool direct;
	char *path;
	int err;

	if (count && buf[count - 1] == '\n')
		count--;
	if (!count || count >= PATH_MAX || memchr(buf, '\n', count) || memchr(buf, '\0', count))
		return -EINVAL;
	path = kstrndup(buf, count, GFP_KERNEL);
	if (!path)
		return -ENOMEM;
	mutex_lock(&swap_set_lock);
	if (!strcmp(path, "none")) {
		err = swap_off();
		goto out;
	}
	err = -EINVAL;
	if (path[0] != '/')
		goto out;
	if (area.file && esxmm_swap_slots_used()) {
		pr_warn("swap: cannot replace %s: %lu pages in it (write none first)\n",
			area.path, esxmm_swap_slots_used());
		err = -EBUSY;
		goto out;
	}
	file = open_swap_file(path, &direct, &size);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto out;
	}
	nr = min_t(u64, size >> PAGE_SHIFT, ESXMM_PMAP_MAX_SLOT);
	down_write(&area.sem);
	err = esxmm_slots_teardown(&area.slots);
	if (!err)
		err = esxmm_slots_setup(&area.slots, nr);
	if (err) {
		up_write(&area.sem);
		fput(file);
		goto out;
	}
	old = area.file;
	area.file = file;
	area.direct = direct;
	swap(area.path, path);	/* the old one (NULL) is freed below */
	up_write(&area.sem);
	if (old)
		fput(old);
	pr_info("swap: %s on, %lu slots%s\n", area.path, nr, direct ? "" : " (buffered)");
	esxmm_reclaim_kick();
	esxmm_swap_kick();
	err = 0;
out:
	mutex_unlock(&swap_set_lock);
	kfree(path);
	return err;
}

/**
 * esxmm_swap_show_file() - The swap file's path, or "none".
 * @buf: a sysfs buffer.
 *
 * Return: bytes written.
 */
ssize_t esxmm_swap_show_file(char *buf)
{
	ssize_t n;

	down_read(&area.sem);
	n = sysfs_emit(buf, "%s\n", area.path ? area.path : "none");
	up_read(&area.sem);
	return n;
}

/**
 * esxmm_swap_init() - Start the swapper and register the shrinker.
 *
 * Return: 0 or a negative errno.
 */
int esxmm_swap_init(void)
{
	int err;

	init_rwsem(&area.sem);
	esxmm_slots_init(&area.slots);
	swapd_thread = kthread_run(swapd_fn, NULL, "esxmm_swapd");
	if (IS_ERR(swapd_thread))
		return PTR_ERR(swapd_thread);
	err = register_shrinker(&esxmm_shrinker, "esxmm");
	if (err) {
		kthread_stop(swapd_thread);
		return err;
	}
	return 0;
}

/**
 * esxmm_swap_exit() - Stop them; no guest is left, so no slot is in use.
 */
void esxmm_swap_exit(void)
{
	unregister_shrinker(&esxmm_shrinker);
	kthread_stop(swapd_thread);
	WARN_ON_ONCE(esxmm_slots_teardown(&area.slots));
	if (area.file)
		fput(area.file);
	kfree(area.path);
}
