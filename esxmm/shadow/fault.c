// SPDX-License-Identifier: GPL-2.0
/*
 * The fault path and invalidation: the only esxmm code that touches page
 * tables, and only the VMM's. KVM resolves a guest frame to a host virtual
 * address in the VMM and then to a page through the VMM's page tables; its
 * MMU notifier follows every change there. So esxmm maps its pages into the
 * VMM from ->fault, and changes what backs a PPN by erasing or replacing the
 * pmap entry under the page lock and then zapping the VMM's PTEs with
 * unmap_mapping_range(): KVM drops its shadow (or TDP) entry and flushes the
 * guest TLB, and the guest's next access comes back through ->fault.
 *
 * Locking: see shadow/pmap.h. In short, a page found by lookup is locked
 * and re-checked against the pmap; ->fault returns it locked, and the core
 * mm installs the PTE before unlocking it, so a remover that takes the page
 * lock after ->fault and zaps after erasing the entry never leaves a PTE to
 * a page the pmap no longer holds.
 */
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/sched.h>

#include "esxmm.h"
#include "range.h"
#include "reclaim/reclaim.h"
#include "share/share.h"
#include "trace.h"

/*
 * Guest pages: zeroed (a page never carries another guest's bytes), not
 * movable (they are on no LRU and esxmm has no movable_operations yet, so in
 * movable pageblocks they would defeat compaction, CMA and hot-unplug), and
 * no OOM killer: a failure becomes SIGBUS for the VMM, never a kill.
 */
#define ESXMM_GFP	(GFP_HIGHUSER | __GFP_ZERO | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* get_page_locked() flags */
#define GP_WRITE	0x1	/* the caller will write: break a share */
#define GP_COW		0x2	/* ... and a broken share counts as a COW break */
#define GP_NOWAIT	0x4	/* never wait for reclaim to make room */

/*
 * Charge one page to the pool. When it is full and there is swap, wait for
 * the swapper to make room (no page lock may be held: it needs them). Room
 * that another fault took first means waiting again: the wait itself gives
 * up when the swapper stops making room.
 */
static int charge_page(struct esxmm_vm *vm, unsigned int flags)
{
	int err;

	for (;;) {
		if (esxmm_pool_charge(&esxmm_pool, 1))
			return 0;
		if (flags & GP_NOWAIT)
			return -ENOSPC;
		err = esxmm_reclaim_wait_room(vm);
		if (err)
			return err;
		cond_resched();
	}
}

/**
 * esxmm_shadow_invalidate() - Zap the VMM mappings of a range of PPNs.
 * @vm: the guest.
 * @ppn: first guest page.
 * @nr: number of pages.
 *
 * Fires the MMU notifier of every mm that maps the range, so KVM drops its
 * shadow PTEs and flushes the guest TLB before this returns.
 */
void esxmm_shadow_invalidate(struct esxmm_vm *vm, pgoff_t ppn, pgoff_t nr)
{
	unmap_mapping_range(vm->inode->i_mapping, (loff_t)ppn << PAGE_SHIFT,
			    (loff_t)nr << PAGE_SHIFT, 1);
}

/*
 * Charge and allocate a page and install it locked where @old was. A zeroed
 * page (@zero) is up to date at once; one to be filled is not until it is.
 * Returns it with the pmap's reference and one for the caller.
 */
static struct page *install_page(struct esxmm_vm *vm, pgoff_t ppn, void *old, bool zero,
				 unsigned int flags, int *errp)
{
	struct page *page;
	int err;

	err = charge_page(vm, flags);
	if (err) {
		*errp = err;
		return NULL;
	}
	page = alloc_page(zero ? ESXMM_GFP : ESXMM_GFP & ~__GFP_ZERO);
	if (!page) {
		esxmm_pool_uncharge(&esxmm_pool, 1);
		*errp = -ENOMEM;
		return NULL;
	}
	__SetPageLocked(page);
	if (zero)
		__SetPageUptodate(page);
	err = esxmm_pmap_replace(&vm->pmap, ppn, old, esxmm_pmap_mk_private(page));
	if (err) {
		__ClearPageLocked(page);
		put_page(page);
		esxmm_pool_uncharge(&esxmm_pool, 1);
		*errp = err;
		return NULL;
	}
	atomic_long_inc(&vm->resident);
	get_page(page);		/* the caller's reference */
	return page;
}

/* Undo install_page() for a page found past EOF; @page is locked. */
static void uninstall_page(struct esxmm_vm *vm, pgoff_t ppn, struct page *page)
{
	if (!esxmm_pmap_replace(&vm->pmap, ppn, page, NULL)) {
		atomic_long_dec(&vm->resident);
		put_page(page);		/* the pmap's reference */
		esxmm_pool_uncharge(&esxmm_pool, 1);
	}
}

/*
 * Bring back a PPN whose page is in swap slot @entry. The new page goes into
 * the pmap locked *before* it is read, as the page cache does: whoever finds
 * it waits for the lock, and the slot stays the PPN's until the read is
 * done, so no one can free it (a hole punch waits for the lock too) and
 * reuse it under the read. A read error puts the entry back: the data is
 * still in the slot, nothing is lost, and the caller gets -EIO.
 */
static struct page *swap_in(struct esxmm_vm *vm, pgoff_t ppn, void *entry, unsigned int flags,
			    int *errp)
{
	unsigned long slot = esxmm_pmap_to_slot(entry);
	struct page *page;
	int err;

	page = install_page(vm, ppn, entry, false, flags, errp);
	if (!page)
		return NULL;
	err = esxmm_swap_read(page, slot);
	if (err) {
		/* Lock holders only change an entry that points at a page. */
		WARN_ON_ONCE(esxmm_pmap_replace(&vm->pmap, ppn, esxmm_pmap_mk_private(page),
						entry));
		atomic_long_dec(&vm->resident);
		unlock_page(page);	/* waiters find the entry changed and retry */
		put_page(page);		/* ours */
		put_page(page);		/* the pmap's */
		esxmm_pool_uncharge(&esxmm_pool, 1);
		*errp = -EIO;
		return NULL;
	}
	SetPageUptodate(page);
	esxmm_swap_free_slot(slot);
	atomic_long_dec(&vm->swapped);
	atomic_long_inc(&esxmm_swap_stats.pages_in);
	trace_swap_in(vm->id, ppn, slot);
	return page;
}

/*
 * Break the share of a PPN that maps frame @f, whose page @fpage the caller
 * has locked (the entry re-checked). The last sharer takes the frame's page
 * over; any other gets a copy and its read-only PTE to the frame is zapped.
 * Returns the PPN's private page, locked: @fpage itself, or a new page that
 * carries a reference for the caller.
 */
static struct page *break_cow(struct esxmm_vm *vm, pgoff_t ppn, struct esxmm_frame *f,
			      struct page *fpage, bool by_write, int *errp)
{
	void *shared = esxmm_pmap_mk_shared(f);
	struct page *copy, *last;
	int err;

	/*
	 * The last sharer keeps the page, unless someone else holds it (a
	 * GUP pin from an earlier sharer's I/O would see the new writes):
	 * the frame's reference, the caller's, and this PPN's mappings.
	 */
	if (page_count(fpage) == 2 + page_mapcount(fpage) && esxmm_share_take_if_alone(f)) {
		/* The frame's reference on the page becomes the pmap's. */
		err = esxmm_pmap_replace(&vm->pmap, ppn, shared, esxmm_pmap_mk_private(fpage));
		WARN_ON_ONCE(err);
		esxmm_share_free_frame(f);
		atomic_long_dec(&vm->shared);
		if (by_write)
			atomic_long_inc(&esxmm_share_stats.cow_breaks);
		trace_share_cow(vm->id, ppn, false);
		return fpage;
	}

	/* @fpage is locked: no waiting for the swapper here (see callers). */
	if (!esxmm_pool_charge(&esxmm_pool, 1)) {
		*errp = -ENOSPC;
		return NULL;
	}
	copy = alloc_page(ESXMM_GFP & ~__GFP_ZERO);
	if (!copy) {
		esxmm_pool_uncharge(&esxmm_pool, 1);
		*errp = -ENOMEM;
		return NULL;
	}
	copy_highpage(copy, fpage);
	__SetPageLocked(copy);
	__SetPageUptodate(copy);
	err = esxmm_pmap_replace(&vm->pmap, ppn, shared, esxmm_pmap_mk_private(copy));
	if (WARN_ON_ONCE(err)) {
		__ClearPageLocked(copy);
		put_page(copy);
		esxmm_pool_uncharge(&esxmm_pool, 1);
		*errp = -EIO;
		return NULL;
	}
	/* Others may have left meanwhile: then the frame is ours to free. */
	if (esxmm_share_unref(f, &last)) {
		put_page(last);
		esxmm_pool_uncharge(&esxmm_pool, 1);
	}
	atomic_long_dec(&vm->shared);
	if (by_write)
		atomic_long_inc(&esxmm_share_stats.cow_breaks);
	trace_share_cow(vm->id, ppn, true);
	esxmm_shadow_invalidate(vm, ppn, 1);
	get_page(copy);		/* the caller's reference */
	return copy;
}

/* esxmm_shadow_get_page() with GP_* @flags. */
static struct page *get_page_locked(struct esxmm_vm *vm, pgoff_t ppn, unsigned int flags,
				    int *errp)
{
	struct esxmm_frame *frame;
	struct page *page, *priv;
	void *entry;
	int err;

	for (;;) {
		page = esxmm_pmap_get_page(&vm->pmap, ppn, &entry);
		if (page) {
			lock_page(page);
			if (!esxmm_pmap_still(&vm->pmap, ppn, entry, page)) {
				unlock_page(page);
				put_page(page);
				continue;
			}
			frame = esxmm_pmap_to_frame(entry);
			if (!frame || !(flags & GP_WRITE))
				return page;
			err = 0;
			priv = break_cow(vm, ppn, frame, page, flags & GP_COW, &err);
			if (priv == page)
				return page;
			unlock_page(page);
			put_page(page);
			if (priv)
				return priv;
			/* Pool full: wait for room without the lock, then again. */
			if (err == -ENOSPC && !(flags & GP_NOWAIT)) {
				err = esxmm_reclaim_wait_room(vm);
				if (!err)
					continue;
			}
			*errp = err;
			return NULL;
		}
		switch (esxmm_pmap_state(entry)) {
		case ESXMM_P_NONE:
		case ESXMM_P_BALLOONED:
		case ESXMM_P_SWAPPED:
			break;
		default:
			pr_err_ratelimited("vm %u page %lu: unexpected %s entry\n", vm->id, ppn,
					   esxmm_pstate_name(esxmm_pmap_state(entry)));
			*errp = -EIO;
			return NULL;
		}
		/* A new page: in the low state a guest over target waits first. */
		if (!(flags & GP_NOWAIT))
			esxmm_reclaim_throttle(vm);
		err = 0;
		if (esxmm_pmap_state(entry) == ESXMM_P_SWAPPED)
			page = swap_in(vm, ppn, entry, flags, &err);
		else
			page = install_page(vm, ppn, entry, true, flags, &err);
		if (!page) {
			if (err == -EAGAIN)
				continue;
			*errp = err;
			return NULL;
		}
		if (esxmm_pmap_state(entry) == ESXMM_P_BALLOONED) {
			/* The guest gave it back and touches it anyway. */
			atomic_long_dec(&vm->ballooned);
			atomic_long_inc(&vm->balloon_violations);
		}
		/*
		 * A truncate may have shrunk the file after our caller looked:
		 * it sets i_size before it scans the pmap under xa_lock, and our
		 * insert took that lock too, so i_size read now is current.
		 */
		if (ppn >= esxmm_size_to_pages(i_size_read(vm->inode))) {
			uninstall_page(vm, ppn, page);
			unlock_page(page);
			put_page(page);
			*errp = -ENXIO;
			return NULL;
		}
		return page;
	}
}

/**
 * esxmm_shadow_get_page() - The page backing a PPN, made if need be.
 * @vm: the guest.
 * @ppn: guest page number, below the file's size when the caller checked.
 * @write: the caller will write: a shared PPN gets a private copy first.
 * @errp: error code when NULL is returned.
 *
 * A NONE or BALLOONED entry gets a fresh zeroed page charged to the pool, a
 * SWAPPED one its page read back from swap. A SHARED entry yields the
 * frame's page when !@write (the caller must not write it: ->fault maps it
 * read-only and ->page_mkwrite breaks the share). When the pool is full and
 * there is swap, this waits (bounded, killable) for the swapper to make
 * room; so the caller must hold no page lock.
 *
 * Return: the page, locked and with a reference for the caller; or NULL with
 * *@errp = -ENOSPC (pool exhausted), -ENOMEM (no host memory), -ENXIO (the
 * file shrank below @ppn meanwhile), -EINTR (fatal signal while waiting) or
 * -EIO (the swap read failed; logged).
 */
struct page *esxmm_shadow_get_page(struct esxmm_vm *vm, pgoff_t ppn, bool write, int *errp)
{
	return get_page_locked(vm, ppn, write ? GP_WRITE | GP_COW : 0, errp);
}

/**
 * esxmm_shadow_swap_in() - Bring a swapped PPN back, if it is swapped.
 * @vm: the guest.
 * @ppn: guest page number.
 *
 * For switching swap off: never waits for room in the pool.
 *
 * Return: 0 (also if the PPN is not swapped any more), -ENOSPC, -ENOMEM
 * or -EIO.
 */
int esxmm_shadow_swap_in(struct esxmm_vm *vm, pgoff_t ppn)
{
	struct page *page;
	int err = 0;

	if (esxmm_pmap_state(esxmm_pmap_load(&vm->pmap, ppn)) != ESXMM_P_SWAPPED)
		return 0;
	page = get_page_locked(vm, ppn, GP_NOWAIT, &err);
	if (!page)
		return err == -ENXIO ? 0 : err;
	unlock_page(page);
	put_page(page);
	return 0;
}

/**
 * esxmm_shadow_unshare() - Give a shared PPN a private copy.
 * @vm: the guest.
 * @ppn: guest page number.
 *
 * Return: 0 (also when the PPN is not shared), -ENOSPC or -ENOMEM.
 */
int esxmm_shadow_unshare(struct esxmm_vm *vm, pgoff_t ppn)
{
	struct page *page;
	void *entry;
	int err = 0;

	page = esxmm_pmap_get_page(&vm->pmap, ppn, &entry);
	if (!page)
		return 0;
	put_page(page);
	if (esxmm_pmap_state(entry) != ESXMM_P_SHARED)
		return 0;
	page = get_page_locked(vm, ppn, GP_WRITE, &err);
	if (!page)
		return err == -ENXIO ? 0 : err;
	unlock_page(page);
	put_page(page);
	return 0;
}

/*
 * What a failed fault means for whoever made the access, for the log: a
 * VMM's own access gets SIGBUS; a kernel access for it (KVM's GUP, or KVM
 * reading guest page tables through the mapping) gets -EFAULT, which for a
 * KVM guest means KVM_RUN fails with EFAULT (or, under the shadow MMU, a
 * page fault injected into the guest).
 */
static const char *fault_answer(const struct vm_fault *vmf)
{
	return vmf->flags & FAULT_FLAG_USER ? "SIGBUS" : "EFAULT";
}

static vm_fault_t esxmm_fault(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct inode *inode = file_inode(file);
	struct esxmm_vm *vm = esxmm_vm_of(inode);
	struct page *page;
	int err = 0;

	atomic_long_inc(&vm->faults);
	if (vmf->pgoff >= esxmm_size_to_pages(i_size_read(inode)))
		return VM_FAULT_SIGBUS;
	page = esxmm_shadow_get_page(vm, vmf->pgoff, false, &err);
	if (page && unlikely(PageHWPoison(page))) {
		/* The core mm's own poison path needs page->mapping. */
		unlock_page(page);
		put_page(page);
		return VM_FAULT_HWPOISON;
	}
	if (page) {
		esxmm_reclaim_touch(vm, vmf->pgoff);
		vmf->page = page;
		return VM_FAULT_LOCKED;
	}
	switch (err) {
	case -ENXIO:
	case -EINTR:
		break;
	case -EIO:
		pr_warn_ratelimited("swap read error: %s to %s[%d] at page %lu of %pD\n",
				    fault_answer(vmf), current->comm, task_pid_nr(current),
				    vmf->pgoff, file);
		break;
	case -ENOSPC:
		pr_warn_ratelimited("pool exhausted (%lu pages): %s to %s[%d] at page %lu of %pD\n",
				    esxmm_pool_limit(&esxmm_pool), fault_answer(vmf),
				    current->comm, task_pid_nr(current), vmf->pgoff, file);
		break;
	default:
		pr_warn_ratelimited("no memory (%d): %s to %s[%d] at page %lu of %pD\n",
				    err, fault_answer(vmf), current->comm, task_pid_nr(current),
				    vmf->pgoff, file);
		break;
	}
	return VM_FAULT_SIGBUS;
}

/*
 * A write to a page mapped read-only. For a private page there is nothing
 * to do but say yes with the page locked (the core mm's own retry would look
 * at page->mapping, which esxmm pages do not have). For a shared one, break
 * the share: the last sharer keeps the page and the write proceeds; any
 * other gets a copy, its PTE is zapped and the access retries into ->fault.
 * If the pmap no longer points at the page, a remover is about to zap its
 * PTE: zap it and let the access retry. When the pool is full, wait for the
 * swapper to make room for the copy and retry.
 */
static vm_fault_t esxmm_page_mkwrite(struct vm_fault *vmf)
{
	struct esxmm_vm *vm = esxmm_vm_of(file_inode(vmf->vma->vm_file));
	struct page *page = vmf->page, *found, *priv;
	struct esxmm_frame *frame;
	void *entry;
	int err = 0;

	found = esxmm_pmap_get_page(&vm->pmap, vmf->pgoff, &entry);
	if (found)
		put_page(found);	/* vmf->page holds the page */
	if (found != page)
		goto stale;
	lock_page(page);
	if (!esxmm_pmap_still(&vm->pmap, vmf->pgoff, entry, page)) {
		unlock_page(page);
		goto stale;
	}
	frame = esxmm_pmap_to_frame(entry);
	if (!frame)
		return VM_FAULT_LOCKED;

	priv = break_cow(vm, vmf->pgoff, frame, page, true, &err);
	if (priv == page)
		return VM_FAULT_LOCKED;
	unlock_page(page);
	/* Pool full: wait for room without the page lock; the access retries. */
	if (!priv && err == -ENOSPC) {
		err = esxmm_reclaim_wait_room(vm);
		if (!err)
			return VM_FAULT_NOPAGE;
		if (err == -EINTR)
			return VM_FAULT_SIGBUS;		/* dying anyway */
	}
	if (!priv) {
		pr_warn_ratelimited("cannot break a share (%d): %s to %s[%d] at page %lu of %pD\n",
				    err, fault_answer(vmf), current->comm, task_pid_nr(current),
				    vmf->pgoff, vmf->vma->vm_file);
		return VM_FAULT_SIGBUS;
	}
	unlock_page(priv);
	put_page(priv);
	return VM_FAULT_NOPAGE;

stale:
	/*
	 * Whoever changed the entry zaps this PTE, maybe not yet; zap it
	 * here too, so that a PTE left behind cannot make the access retry
	 * into this function for ever.
	 */
	esxmm_shadow_invalidate(vm, vmf->pgoff, 1);
	return VM_FAULT_NOPAGE;
}

const struct vm_operations_struct esxmm_vm_ops = {
	.fault		= esxmm_fault,
	.page_mkwrite	= esxmm_page_mkwrite,
};

/* Drop the page references the batch carries (their PTEs are gone). */
static void release_batch(struct folio_batch *fbatch)
{
	unsigned int i, nr = folio_batch_count(fbatch);

	for (i = 0; i < nr; i++)
		folio_put(fbatch->folios[i]);
	if (nr)
		esxmm_pool_uncharge(&esxmm_pool, nr);
	folio_batch_init(fbatch);
}

/* Erase a resident entry under its page lock; returns the page to release. */
static struct page *erase_resident(struct esxmm_vm *vm, pgoff_t index, void *entry,
				   struct page *page, bool *erased)
{
	struct esxmm_frame *frame = esxmm_pmap_to_frame(entry);
	struct page *last = NULL;

	*erased = false;
	if (!esxmm_pmap_still(&vm->pmap, index, entry, page) ||
	    esxmm_pmap_replace(&vm->pmap, index, entry, NULL))
		return NULL;
	*erased = true;
	/*
	 * Zap under the page lock, as truncate does for a mapped folio: a
	 * PTE left behind would keep showing this page (a frame's, maybe
	 * another guest's private page soon) after the PPN got a new one.
	 */
	if (page_mapped(page))
		esxmm_shadow_invalidate(vm, index, 1);
	atomic_long_dec(&vm->resident);
	if (!frame)
		return page;	/* the pmap's reference */
	atomic_long_dec(&vm->shared);
	if (esxmm_share_unref(frame, &last))
		return last;	/* the frame's reference */
	return NULL;
}

/**
 * esxmm_shadow_free_range() - Free the pages of PPNs [@start, @end).
 * @vm: the guest.
 * @start: first PPN.
 * @end: one past the last PPN (ULONG_MAX: to the end).
 *
 * Used by truncate, hole punch and eviction, with the inode lock held or
 * the inode unreachable. Swapped PPNs give their slots back. The range's mappings are zapped first; then each
 * entry is erased under its page lock (a shared PPN drops its frame
 * reference; the last one frees the frame), and a page that a racing fault
 * mapped meanwhile is zapped there and then, so no PTE outlives its entry.
 * An entry that changed before we got its lock is looked at again.
 */
void esxmm_shadow_free_range(struct esxmm_vm *vm, pgoff_t start, pgoff_t end)
{
	struct folio_batch fbatch;
	unsigned long index = start;
	struct page *page, *release;
	bool erased;
	void *entry;

	/* Most PTEs go in one sweep; a fault racing it is zapped per page. */
	if (end != ULONG_MAX && end > start)
		esxmm_shadow_invalidate(vm, start, end - start);
	folio_batch_init(&fbatch);
	while (index < end) {
		page = esxmm_pmap_get_page_from(&vm->pmap, &index, end - 1, &entry);
		if (!entry)
			break;

		if (page) {
			lock_page(page);
			release = erase_resident(vm, index, entry, page, &erased);
			unlock_page(page);
			put_page(page);
			if (release && !folio_batch_add(&fbatch, page_folio(release)))
				release_batch(&fbatch);
			/*
			 * The entry changed while we waited for the lock (the
			 * scanner merged it, a write broke its share): look at
			 * this PPN again rather than leave it behind.
			 */
			if (!erased)
				continue;
		} else if (esxmm_pmap_state(entry) == ESXMM_P_BALLOONED) {
			if (esxmm_pmap_replace(&vm->pmap, index, entry, NULL))
				continue;
			atomic_long_dec(&vm->ballooned);
		} else if (esxmm_pmap_state(entry) == ESXMM_P_SWAPPED) {
			/* Only the winner of the exchange frees the slot. */
			if (esxmm_pmap_replace(&vm->pmap, index, entry, NULL))
				continue;
			esxmm_swap_free_slot(esxmm_pmap_to_slot(entry));
			atomic_long_dec(&vm->swapped);
		} else {
			pr_err_ratelimited("vm %u page %lu: cannot free %s entry\n", vm->id, index,
					   esxmm_pstate_name(esxmm_pmap_state(entry)));
		}
		if (index == ULONG_MAX)
			break;
		index++;
		cond_resched();
	}
	release_batch(&fbatch);
}

/**
 * esxmm_shadow_mark_ballooned() - Mark freed PPNs [@start, @end) as ballooned.
 * @vm: the guest.
 * @start: first PPN.
 * @end: one past the last PPN.
 *
 * After a hole punch on a mapped guest (QEMU's balloon inflate): each PPN
 * still empty is recorded as given back, so it is counted, and a touch of
 * it later is counted as a balloon violation (it gets a zeroed page, as any
 * hole does). A PPN a fault filled meanwhile is left alone.
 */
void esxmm_shadow_mark_ballooned(struct esxmm_vm *vm, pgoff_t start, pgoff_t end)
{
	pgoff_t ppn;

	for (ppn = start; ppn < end; ppn++) {
		if (!esxmm_pmap_replace(&vm->pmap, ppn, NULL, esxmm_pmap_mk_ballooned()))
			atomic_long_inc(&vm->ballooned);
		if (!(ppn & 1023))
			cond_resched();
	}
}

/**
 * esxmm_shadow_zero_range() - Zero bytes [@start, @end) of resident pages.
 * @vm: the guest.
 * @start: first byte.
 * @end: one past the last byte; the range spans at most a few pages.
 *
 * Pages that are not resident already read as zeros and stay as they are;
 * a swapped page is read back first.
 *
 * Return: 0; -ENOSPC or -ENOMEM if a shared page could not get its own
 * copy (or a swapped one no page); -EIO if it could not be read back.
 */
int esxmm_shadow_zero_range(struct esxmm_vm *vm, loff_t start, loff_t end)
{
	while (start < end) {
		pgoff_t ppn = start >> PAGE_SHIFT;
		unsigned int from = offset_in_page(start);
		unsigned int to = min_t(loff_t, PAGE_SIZE, end - ((loff_t)ppn << PAGE_SHIFT));
		struct page *page;
		void *entry;
		int err = 0;

		page = esxmm_pmap_get_page(&vm->pmap, ppn, &entry);
		if (page || esxmm_pmap_state(entry) == ESXMM_P_SWAPPED) {
			if (page)
				put_page(page);
			/* A shared page gets its own copy, a swapped one comes back. */
			page = esxmm_shadow_get_page(vm, ppn, true, &err);
			if (!page && err != -ENXIO)
				return err;
			if (page) {
				zero_user_segment(page, from, to);
				unlock_page(page);
				put_page(page);
			}
		} else if (esxmm_pmap_state(entry) != ESXMM_P_NONE &&
			   esxmm_pmap_state(entry) != ESXMM_P_BALLOONED) {
			return -EIO;
		}
		start = ((loff_t)ppn + 1) << PAGE_SHIFT;
	}
	return 0;
}
