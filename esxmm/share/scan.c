// SPDX-License-Identifier: GPL-2.0
/*
 * Content-based page sharing, as in ESX: a kernel thread visits random
 * PPNs of random guests (weighted by resident size), hashes each page and
 * looks the hash up in the frame table.
 *
 *  - A shared frame with that hash and equal contents: the PPN is remapped
 *    to the frame's page (read-only) and its private page freed.
 *  - A hint with that hash: the hinted page is hashed again; if it has not
 *    changed and the contents are equal, both PPNs share it from now on;
 *    if it changed, the hint is moved to the candidate.
 *  - Nothing: a hint is left. Hashing needs no write protection (a page
 *    written meanwhile only makes a stale hint), so only a real merge pays
 *    for a zap and the KVM TLB flush that comes with it.
 *
 * Each guest is visited in a random order that changes every pass (a
 * random start and a random stride coprime to its size), so one pass sees
 * every page once.
 *
 * A page full of zeros needs no hint to be matched: its contents are known,
 * so the first one becomes a shared frame of its own at once.
 *
 * Before a merge, the candidate (and a hinted page) is locked, zapped and
 * must hold no reference beyond the pmap's and ours: a page pinned by GUP
 * (vhost, O_DIRECT, VFIO) is skipped, and nobody can write it while the
 * contents are compared. Merges always compare whole pages, so a page is
 * hashed once per visit: one written since (or two written alike) at
 * worst files a frame under a stale hash, which costs sharing, not bytes.
 *
 * Locking: the thread holds esxmm_vms_lock for a batch (vms cannot die
 * under it, and esxmm_vm_find() can resolve a hint's vm id); page locks
 * nest inside it; the frame table's spinlock is a leaf (frame.h). A second
 * page (a hinted one) is only ever trylocked.
 */
#include <linux/freezer.h>
#include <linux/gcd.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <linux/xxhash.h>

#include "esxmm.h"
#include "range.h"
#include "share.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

struct esxmm_ftable esxmm_frames;
struct esxmm_share_stats esxmm_share_stats;

static struct kmem_cache *frame_cache;
static struct task_struct *share_thread;
static DECLARE_WAIT_QUEUE_HEAD(share_wait);
static DEFINE_MUTEX(share_run_lock);	/* serialises run changes; outside esxmm_vms_lock */
static unsigned int share_run;		/* READ_ONCE; written under share_run_lock */
static unsigned int pages_to_scan = 100;
static unsigned int sleep_ms = 20;
static u64 zero_hash;

/**
 * esxmm_share_hash_page() - The content hash of a page.
 * @page: the page.
 *
 * Return: xxh64 of its bytes, seed 0.
 */
u64 esxmm_share_hash_page(struct page *page)
{
	void *addr = kmap_local_page(page);
	u64 h = xxh64(addr, PAGE_SIZE, 0);

	kunmap_local(addr);
	return h;
}

static bool page_is_zero(struct page *page)
{
	void *addr = kmap_local_page(page);
	bool zero = !memchr_inv(addr, 0, PAGE_SIZE);

	kunmap_local(addr);
	return zero;
}

static bool pages_equal(struct page *a, struct page *b)
{
	void *pa = kmap_local_page(a), *pb = kmap_local_page(b);
	bool eq = !memcmp(pa, pb, PAGE_SIZE);

	kunmap_local(pb);
	kunmap_local(pa);
	return eq;
}

static bool zero_hash_matches(u64 hash)
{
	return hash == zero_hash;
}

static bool frame_matches_page(const struct esxmm_frame *f, void *page)
{
	return !esxmm_frame_is_hint(f) && pages_equal(f->page, page);
}

static bool frame_is_shared(const struct esxmm_frame *f, void *unused)
{
	return !esxmm_frame_is_hint(f);
}

static bool frame_is_hint(const struct esxmm_frame *f, void *unused)
{
	return esxmm_frame_is_hint(f);
}

/**
 * esxmm_share_free_frame() - Free a frame that has left the table.
 * @f: the frame.
 */
void esxmm_share_free_frame(struct esxmm_frame *f)
{
	kmem_cache_free(frame_cache, f);
}

/**
 * esxmm_share_take_if_alone() - The last sharer of a frame takes its page.
 * @f: a shared frame whose page the caller has locked.
 *
 * Return: true if @f had one sharer: it has left the table, its page
 * reference is the caller's, and the caller frees @f.
 */
bool esxmm_share_take_if_alone(struct esxmm_frame *f)
{
	bool alone;

	spin_lock(&esxmm_frames.lock);
	alone = f->count == 1;
	if (alone)
		esxmm_ftable_put(&esxmm_frames, f);
	spin_unlock(&esxmm_frames.lock);
	if (alone && f->hash == zero_hash)
		atomic_long_dec(&esxmm_share_stats.zero_pages);
	return alone;
}

/**
 * esxmm_share_unref() - A PPN no longer maps frame @f.
 * @f: a shared frame whose page the caller has locked.
 * @pagep: set to the frame's page if this was the last sharer.
 *
 * Return: true if the frame is gone: the caller drops the page reference
 * it was given (and the pool charge).
 */
bool esxmm_share_unref(struct esxmm_frame *f, struct page **pagep)
{
	bool last;

	spin_lock(&esxmm_frames.lock);
	last = esxmm_ftable_put(&esxmm_frames, f);
	spin_unlock(&esxmm_frames.lock);
	if (f->hash == zero_hash)
		atomic_long_dec(&esxmm_share_stats.zero_pages);
	if (!last)
		return false;
	*pagep = f->page;
	esxmm_share_free_frame(f);
	return true;
}

static u32 vm_domain(struct esxmm_vm *vm)
{
	return esxmm_share_domain(vm->id, READ_ONCE(vm->share_group));
}

/*
 * Lock @page (held with a reference, found at @entry of @vm's @ppn), zap
 * its mappings and check nobody else holds it. On success the page is
 * locked, unmapped and frozen: every writer has to take its lock first.
 */
static bool freeze_page(struct esxmm_vm *vm, pgoff_t ppn, void *entry, struct page *page,
			bool trylock)
{
	if (trylock) {
		if (!trylock_page(page))
			return false;
	} else {
		lock_page(page);
	}
	if (esxmm_pmap_load(&vm->pmap, ppn) != entry)
		goto unlock;
	esxmm_shadow_invalidate(vm, ppn, 1);
	/* The pmap's reference and ours, nothing else. */
	if (page_mapped(page) || page_count(page) != 2) {
		atomic_long_inc(&esxmm_share_stats.pinned_skips);
		goto unlock;
	}
	return true;
unlock:
	unlock_page(page);
	return false;
}

/* Replace @page (frozen) at @vm's @ppn by frame @f, which already counts it. */
static void remap_to_frame(struct esxmm_vm *vm, pgoff_t ppn, struct page *page,
			   struct esxmm_frame *f, bool drop_page)
{
	int err = esxmm_pmap_replace(&vm->pmap, ppn, esxmm_pmap_mk_private(page),
				     esxmm_pmap_mk_shared(f));

	WARN_ON_ONCE(err);
	trace_share_merge(vm->id, ppn, f->hash, READ_ONCE(f->count));
	atomic_long_inc(&vm->shared);
	if (f->hash == zero_hash)
		atomic_long_inc(&esxmm_share_stats.zero_pages);
	if (drop_page) {
		put_page(page);		/* the pmap's; ours is dropped by the caller */
		esxmm_pool_uncharge(&esxmm_pool, 1);
	}
}

/* Candidate @page of @vm at @ppn, frozen, hashes to @hash: merge into a frame. */
static void merge_into_shared(struct esxmm_vm *vm, pgoff_t ppn, struct page *page, u64 hash,
			      u32 domain)
{
	struct esxmm_frame *f;

	spin_lock(&esxmm_frames.lock);
	f = esxmm_ftable_find(&esxmm_frames, hash, domain, frame_matches_page, page);
	if (f)
		esxmm_ftable_get(&esxmm_frames, f);
	else if (esxmm_ftable_find(&esxmm_frames, hash, domain, frame_is_shared, NULL))
		atomic_long_inc(&esxmm_share_stats.hash_collisions);
	spin_unlock(&esxmm_frames.lock);
	if (!f && !zero_hash_matches(hash))
		trace_share_hint(vm->id, ppn, hash, ESXMM_HINT_COLLISION);
	if (f)
		remap_to_frame(vm, ppn, page, f, true);
}

/* A frozen page becomes a frame of its own (a zero page; a promoted hint). */
static struct esxmm_frame *make_frame(struct esxmm_vm *vm, pgoff_t ppn, struct page *page,
				      u64 hash, u32 domain, struct esxmm_frame *f)
{
	f->hash = hash;
	f->page = page;
	f->count = 1;
	f->domain = domain;
	spin_lock(&esxmm_frames.lock);
	esxmm_ftable_insert(&esxmm_frames, f);
	spin_unlock(&esxmm_frames.lock);
	/* The pmap's reference on the page becomes the frame's. */
	remap_to_frame(vm, ppn, page, f, false);
	return f;
}

static void insert_hint(struct esxmm_frame *f, u64 hash, u32 domain, struct esxmm_vm *vm,
			pgoff_t ppn)
{
	f->hash = hash;
	f->hint = esxmm_hint_pack(vm->id, ppn);
	f->count = 0;
	f->domain = domain;
	spin_lock(&esxmm_frames.lock);
	esxmm_ftable_insert(&esxmm_frames, f);
	spin_unlock(&esxmm_frames.lock);
}

/* Put a hint we took out of the table back as it was. */
static void reinsert(struct esxmm_frame *h)
{
	spin_lock(&esxmm_frames.lock);
	esxmm_ftable_insert(&esxmm_frames, h);
	spin_unlock(&esxmm_frames.lock);
}

/*
 * Hint @h (out of the table, ours) matched candidate @page (frozen) of
 * @vm at @ppn. Check the hinted page and promote, or move the hint.
 */
static void try_hint(struct esxmm_vm *vm, pgoff_t ppn, struct page *page, u64 hash,
		     u32 domain, struct esxmm_frame *h)
{
	struct esxmm_vm *hvm = esxmm_vm_find(esxmm_hint_vm(h->hint));
	pgoff_t hppn = esxmm_hint_ppn(h->hint);
	struct page *hpage = NULL;
	void *hentry;

	if (hvm && vm_domain(hvm) == domain)
		hpage = esxmm_pmap_get_page(&hvm->pmap, hppn, &hentry);
	if (!hpage || esxmm_pmap_state(hentry) != ESXMM_P_PRIVATE || hpage == page ||
	    PageHWPoison(hpage) || !PageUptodate(hpage)) {
		if (hpage)
			put_page(hpage);
		goto stale;
	}
	if (!freeze_page(hvm, hppn, hentry, hpage, true)) {
		put_page(hpage);
		/* Busy or pinned: keep the hint for another time. */
		reinsert(h);
		return;
	}
	if (!pages_equal(page, hpage)) {
		/* Only now is the hinted page hashed again: changed, or a collision? */
		bool changed = esxmm_share_hash_page(hpage) != hash;

		unlock_page(hpage);
		put_page(hpage);
		if (changed)
			goto stale;
		atomic_long_inc(&esxmm_share_stats.hash_collisions);
		trace_share_hint(vm->id, ppn, hash, ESXMM_HINT_COLLISION);
		reinsert(h);
		return;
	}
	/* The hinted page becomes the shared frame; the candidate joins it. */
	make_frame(hvm, hppn, hpage, hash, domain, h);
	unlock_page(hpage);
	put_page(hpage);
	merge_into_shared(vm, ppn, page, hash, domain);
	atomic_long_inc(&esxmm_share_stats.hint_hits);
	trace_share_hint(vm->id, ppn, hash, ESXMM_HINT_HIT);
	return;

stale:
	atomic_long_inc(&esxmm_share_stats.hint_stale);
	trace_share_hint(vm->id, ppn, hash, ESXMM_HINT_STALE);
	insert_hint(h, hash, domain, vm, ppn);
}

/*
 * Scan one PPN of @vm; esxmm_vms_lock is held. A shared frame seen under
 * the table lock is not touched once the lock is dropped (its sharers may
 * all leave and free it): merge_into_shared() looks it up again. A hint is
 * taken out of the table, so it is ours until it goes back in.
 */
static void scan_one(struct esxmm_vm *vm, pgoff_t ppn)
{
	u32 domain = vm_domain(vm);
	struct esxmm_frame *hint = NULL, *spare;
	bool shared_exists;
	struct page *page;
	void *entry;
	bool zero;
	u64 hash;

	page = esxmm_pmap_get_page(&vm->pmap, ppn, &entry);
	if (!page)
		return;
	/*
	 * Reading a poisoned page would raise a machine check; a page not
	 * up to date is still being read back from swap.
	 */
	if (esxmm_pmap_state(entry) != ESXMM_P_PRIVATE || PageHWPoison(page) ||
	    !PageUptodate(page))
		goto out;
	atomic_long_inc(&esxmm_share_stats.pages_scanned);

	zero = page_is_zero(page);
	hash = zero ? zero_hash : esxmm_share_hash_page(page);

	spin_lock(&esxmm_frames.lock);
	shared_exists = esxmm_ftable_find(&esxmm_frames, hash, domain, frame_is_shared, NULL);
	if (!shared_exists && !zero) {
		hint = esxmm_ftable_find(&esxmm_frames, hash, domain, frame_is_hint, NULL);
		if (hint && hint->hint == esxmm_hint_pack(vm->id, ppn)) {
			spin_unlock(&esxmm_frames.lock);
			goto out;	/* our own hint: nothing new */
		}
		if (hint)
			esxmm_ftable_remove(&esxmm_frames, hint);
	}
	spin_unlock(&esxmm_frames.lock);

	if (!shared_exists && !hint && !zero) {
		spare = kmem_cache_alloc(frame_cache, GFP_KERNEL | __GFP_NOWARN);
		if (spare) {
			insert_hint(spare, hash, domain, vm, ppn);
			trace_share_hint(vm->id, ppn, hash, ESXMM_HINT_INSERTED);
		}
		goto out;
	}

	/* A merge is possible: freeze the candidate, then check again. */
	if (!freeze_page(vm, ppn, entry, page, false)) {
		if (hint)
			reinsert(hint);
		goto out;
	}
	/*
	 * No second hash: merges compare whole pages, so a page written
	 * since it was hashed simply does not match. A zero page about to
	 * become a frame on its own is checked again below.
	 */
	if (hint) {
		try_hint(vm, ppn, page, hash, domain, hint);
		goto unlock;
	}
	merge_into_shared(vm, ppn, page, hash, domain);
	if (esxmm_pmap_load(&vm->pmap, ppn) == entry && zero && page_is_zero(page)) {
		/* No zero frame in this domain yet: this page becomes it. */
		spare = kmem_cache_alloc(frame_cache, GFP_KERNEL | __GFP_NOWARN);
		if (spare)
			make_frame(vm, ppn, page, hash, domain, spare);
	}
unlock:
	unlock_page(page);
out:
	put_page(page);
}

/* Start a pass over @vm in a fresh random order: a random start, a random stride coprime to the size. */
static void new_pass(struct esxmm_vm *vm, unsigned long size)
{
	unsigned long stride = 1;

	if (size > 2) {
		do {
			stride = 1 + get_random_u64() % (size - 1);
		} while (gcd(stride, size) != 1);
	}
	vm->scan_pos = get_random_u64() % size;
	vm->scan_stride = stride;
	vm->scan_left = size;
	vm->scan_size = size;
}

/*
 * The next private resident PPN of @vm in its current pass. Random order
 * without replacement: each PPN is visited once per pass, so a pass
 * finds every duplicate (random picks with replacement would need about
 * three times as many visits to see 95 % of the pages). Holes and shared
 * PPNs cost one lookup each; at most 64 per call.
 */
static bool pick_ppn(struct esxmm_vm *vm, pgoff_t *ppn, unsigned long private_pages)
{
	unsigned long size = esxmm_size_to_pages(i_size_read(vm->inode));
	int tries;

	if (!size)
		return false;
	for (tries = 0; tries < 64; tries++) {
		if (!vm->scan_left || vm->scan_size != size) {
			/*
			 * A page rewritten between passes leaves its old hint
			 * behind: when hints outnumber twice the private pages,
			 * the guest's go and its new pass files them afresh.
			 */
			if (READ_ONCE(esxmm_frames.nr_hints) > 2 * private_pages)
				esxmm_share_forget_vm(vm);
			new_pass(vm, size);
		}
		*ppn = vm->scan_pos;
		vm->scan_pos = (vm->scan_pos + vm->scan_stride) % size;
		vm->scan_left--;
		if (esxmm_pmap_state(esxmm_pmap_load(&vm->pmap, *ppn)) == ESXMM_P_PRIVATE)
			return true;
	}
	return false;
}

/* One batch; returns false when there was nothing to scan. */
static bool scan_batch(unsigned int n)
{
	struct esxmm_vm **vms, *vm;
	unsigned long *weights, private_pages = 0;
	size_t nr = 0, i;
	pgoff_t ppn;

	mutex_lock(&esxmm_vms_lock);
	list_for_each_entry(vm, &esxmm_vms, node)
		nr++;
	vms = kmalloc_array(nr, sizeof(*vms), GFP_KERNEL);
	weights = kmalloc_array(nr, sizeof(*weights), GFP_KERNEL);
	if (!nr || !vms || !weights)
		goto out;
	i = 0;
	list_for_each_entry(vm, &esxmm_vms, node) {
		vms[i] = vm;
		/* Clamped: the two counters are not updated together. */
		weights[i] = max(0L, atomic_long_read(&vm->resident) -
				     atomic_long_read(&vm->shared));
		private_pages += weights[i++];
	}
	while (n-- && READ_ONCE(share_run) == ESXMM_SHARE_RUN && !kthread_should_stop()) {
		i = esxmm_share_pick(weights, nr, get_random_u64());
		if (i >= nr)
			break;
		if (pick_ppn(vms[i], &ppn, private_pages))
			scan_one(vms[i], ppn);
		cond_resched();
	}
out:
	mutex_unlock(&esxmm_vms_lock);
	kfree(weights);
	kfree(vms);
	return private_pages > 0;
}

static int share_thread_fn(void *unused)
{
	set_freezable();
	while (!kthread_should_stop()) {
		if (READ_ONCE(share_run) == ESXMM_SHARE_RUN) {
			unsigned int ms = READ_ONCE(sleep_ms);

			/* Nothing private anywhere: no busy loop at sleep_millisecs=0. */
			if (!scan_batch(READ_ONCE(pages_to_scan)))
				ms = max(ms, 200U);
			wait_event_freezable_timeout(share_wait, kthread_should_stop(),
						     msecs_to_jiffies(ms));
		} else {
			wait_event_freezable(share_wait, kthread_should_stop() ||
					     READ_ONCE(share_run) == ESXMM_SHARE_RUN);
		}
	}
	return 0;
}

/* Unshare every shared PPN of @vm (all vms if NULL); esxmm_vms_lock held. */
static int unshare_vms(struct esxmm_vm *only)
{
	struct esxmm_vm *vm;
	unsigned long index;
	void *entry;
	int err;

	lockdep_assert_held(&esxmm_vms_lock);
	list_for_each_entry(vm, &esxmm_vms, node) {
		if (only && vm != only)
			continue;
		index = 0;
		xa_for_each(&vm->pmap.xa, index, entry) {
			if (esxmm_pmap_state(entry) != ESXMM_P_SHARED)
				continue;
			err = esxmm_shadow_unshare(vm, index);
			if (err)
				return err;
			cond_resched();
		}
	}
	return 0;
}

static void free_hint(struct esxmm_frame *f)
{
	esxmm_share_free_frame(f);
}

static bool hint_of_vm(const struct esxmm_frame *f, void *vm)
{
	return esxmm_hint_vm(f->hint) == ((struct esxmm_vm *)vm)->id;
}

/**
 * esxmm_share_forget_vm() - Drop every hint that points into a guest.
 * @vm: a guest that dies or changes share domain.
 *
 * Hints are checked lazily when found, but a dead guest's would otherwise
 * stay in the table until a page with the same contents came along.
 */
void esxmm_share_forget_vm(struct esxmm_vm *vm)
{
	unsigned long from, nr = 1UL << esxmm_frames.bits;

	/* In slices: COW breaks and frees take the same lock. */
	for (from = 0; from < nr; from += 1024) {
		spin_lock(&esxmm_frames.lock);
		esxmm_ftable_drain_hints_range(&esxmm_frames, from, from + 1024, hint_of_vm, vm,
					       free_hint);
		spin_unlock(&esxmm_frames.lock);
		cond_resched();
	}
}

/**
 * esxmm_share_set_run() - Start, stop, or stop and unshare everything.
 * @run: an enum esxmm_share_run value.
 *
 * Return: 0; -EINVAL for an unknown mode; -ENOMEM if the pool cannot hold
 * a private copy of every shared PPN (nothing is unshared then).
 */
int esxmm_share_set_run(unsigned int run)
{
	unsigned long need;
	int err = 0;

	if (run > ESXMM_SHARE_UNSHARE)
		return -EINVAL;
	mutex_lock(&share_run_lock);
	if (run != ESXMM_SHARE_UNSHARE) {
		WRITE_ONCE(share_run, run);
		wake_up(&share_wait);
		goto out;
	}
	WRITE_ONCE(share_run, ESXMM_SHARE_STOP);
	mutex_lock(&esxmm_vms_lock);	/* waits for the scanner's batch */
	spin_lock(&esxmm_frames.lock);
	need = esxmm_frames.nr_sharing;
	spin_unlock(&esxmm_frames.lock);
	if (need > esxmm_pool_free(&esxmm_pool)) {
		pr_warn("unshare refused: %lu copies needed, %lu pages free in the pool\n",
			need, esxmm_pool_free(&esxmm_pool));
		err = -ENOMEM;
	} else {
		err = unshare_vms(NULL);
		spin_lock(&esxmm_frames.lock);
		esxmm_ftable_drain_hints(&esxmm_frames, NULL, NULL, free_hint);
		spin_unlock(&esxmm_frames.lock);
		if (!err)
			WRITE_ONCE(share_run, ESXMM_SHARE_UNSHARE);
	}
	mutex_unlock(&esxmm_vms_lock);
out:
	mutex_unlock(&share_run_lock);
	return err;
}

/**
 * esxmm_share_get_run() - The current mode.
 *
 * Return: an enum esxmm_share_run value.
 */
unsigned int esxmm_share_get_run(void)
{
	return READ_ONCE(share_run);
}

/**
 * esxmm_share_set_rate() - Set the scanner's batch size and pause.
 * @n: pages per batch, > 0.
 * @ms: pause between batches in milliseconds.
 */
void esxmm_share_set_rate(unsigned int n, unsigned int ms)
{
	WRITE_ONCE(pages_to_scan, n);
	WRITE_ONCE(sleep_ms, ms);
	wake_up(&share_wait);
}

/**
 * esxmm_share_pages_to_scan() - Pages per batch.
 *
 * Return: the value.
 */
unsigned int esxmm_share_pages_to_scan(void)
{
	return READ_ONCE(pages_to_scan);
}

/**
 * esxmm_share_sleep_ms() - Pause between batches.
 *
 * Return: milliseconds.
 */
unsigned int esxmm_share_sleep_ms(void)
{
	return READ_ONCE(sleep_ms);
}

/**
 * esxmm_share_set_group() - Move a guest to another share group.
 * @vm: the guest.
 * @group: 0 (share only within itself) to ESXMM_MAX_SHARE_GROUP.
 *
 * The guest's shared pages are unshared first: what it shared in its old
 * group must not stay visible to it.
 *
 * Return: 0, -EINVAL, or -ENOMEM if the pool cannot hold the copies.
 */
int esxmm_share_set_group(struct esxmm_vm *vm, u32 group)
{
	int err = 0;

	if (group > ESXMM_MAX_SHARE_GROUP)
		return -EINVAL;
	mutex_lock(&esxmm_vms_lock);
	if (vm->share_group == group)
		goto out;
	if (atomic_long_read(&vm->shared) > esxmm_pool_free(&esxmm_pool)) {
		err = -ENOMEM;
		goto out;
	}
	err = unshare_vms(vm);
	if (!err) {
		WRITE_ONCE(vm->share_group, group);
		esxmm_share_forget_vm(vm);
	}
out:
	mutex_unlock(&esxmm_vms_lock);
	return err;
}

/**
 * esxmm_share_init() - Set up the frame table and start the scanner (stopped).
 *
 * Return: 0 or a negative errno.
 */
int esxmm_share_init(void)
{
	void *zero;
	int err;

	frame_cache = KMEM_CACHE(esxmm_frame, 0);
	if (!frame_cache)
		return -ENOMEM;
	err = esxmm_ftable_init(&esxmm_frames, esxmm_ftable_bits_for(totalram_pages()));
	if (err)
		goto free_cache;
	zero = kzalloc(PAGE_SIZE, GFP_KERNEL);
	if (!zero) {
		err = -ENOMEM;
		goto free_table;
	}
	zero_hash = xxh64(zero, PAGE_SIZE, 0);
	kfree(zero);
	share_thread = kthread_run(share_thread_fn, NULL, "esxmm_share");
	if (IS_ERR(share_thread)) {
		err = PTR_ERR(share_thread);
		goto free_table;
	}
	return 0;

free_table:
	esxmm_ftable_destroy(&esxmm_frames);
free_cache:
	kmem_cache_destroy(frame_cache);
	return err;
}

/**
 * esxmm_share_exit() - Stop the scanner and free the table; no vm is left.
 */
void esxmm_share_exit(void)
{
	kthread_stop(share_thread);
	spin_lock(&esxmm_frames.lock);
	esxmm_ftable_drain_hints(&esxmm_frames, NULL, NULL, free_hint);
	spin_unlock(&esxmm_frames.lock);
	esxmm_ftable_destroy(&esxmm_frames);
	kmem_cache_destroy(frame_cache);
}
