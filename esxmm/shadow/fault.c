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

/*
 * Guest pages: zeroed (a page never carries another guest's bytes), not
 * movable (they are on no LRU and esxmm has no movable_operations yet, so in
 * movable pageblocks they would defeat compaction, CMA and hot-unplug), and
 * no OOM killer: a failure becomes SIGBUS for the VMM, never a kill.
 */
#define ESXMM_GFP	(GFP_HIGHUSER | __GFP_ZERO | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

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

/* Allocate a zeroed page and install it locked where @old was. */
static struct page *install_page(struct esxmm_vm *vm, pgoff_t ppn, void *old, int *errp)
{
	struct page *page;
	int err;

	if (!esxmm_pool_charge(&esxmm_pool, 1)) {
		*errp = -ENOSPC;
		return NULL;
	}
	page = alloc_page(ESXMM_GFP);
	if (!page) {
		esxmm_pool_uncharge(&esxmm_pool, 1);
		*errp = -ENOMEM;
		return NULL;
	}
	__SetPageLocked(page);
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

/**
 * esxmm_shadow_get_page() - The private page backing a PPN, made if need be.
 * @vm: the guest.
 * @ppn: guest page number, below the file's size when the caller checked.
 * @errp: error code when NULL is returned.
 *
 * A NONE or BALLOONED entry gets a fresh zeroed page charged to the pool.
 *
 * Return: the page, locked and with a reference for the caller; or NULL with
 * *@errp = -ENOSPC (pool exhausted), -ENOMEM (no host memory), -ENXIO (the
 * file shrank below @ppn meanwhile) or -EIO (an entry state this build does
 * not handle).
 */
struct page *esxmm_shadow_get_page(struct esxmm_vm *vm, pgoff_t ppn, int *errp)
{
	struct page *page;
	void *entry;
	int err;

	for (;;) {
		page = esxmm_pmap_get_page(&vm->pmap, ppn, &entry);
		if (page) {
			lock_page(page);
			if (esxmm_pmap_load(&vm->pmap, ppn) == entry)
				return page;
			unlock_page(page);
			put_page(page);
			continue;
		}
		switch (esxmm_pmap_state(entry)) {
		case ESXMM_P_NONE:
		case ESXMM_P_BALLOONED:
			break;
		default:
			pr_err_ratelimited("vm %u page %lu: unexpected %s entry\n", vm->id, ppn,
					   esxmm_pstate_name(esxmm_pmap_state(entry)));
			*errp = -EIO;
			return NULL;
		}
		page = install_page(vm, ppn, entry, &err);
		if (!page) {
			if (err == -EAGAIN)
				continue;
			*errp = err;
			return NULL;
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
	page = esxmm_shadow_get_page(vm, vmf->pgoff, &err);
	if (page) {
		vmf->page = page;
		return VM_FAULT_LOCKED;
	}
	switch (err) {
	case -ENXIO:
		break;
	case -ENOSPC:
		pr_warn_ratelimited("pool exhausted (%lu pages): SIGBUS to %s[%d] at page %lu of %pD\n",
				    esxmm_pool_limit(&esxmm_pool), current->comm,
				    task_pid_nr(current), vmf->pgoff, file);
		break;
	default:
		pr_warn_ratelimited("no memory (%d): SIGBUS to %s[%d] at page %lu of %pD\n",
				    err, current->comm, task_pid_nr(current), vmf->pgoff, file);
		break;
	}
	return VM_FAULT_SIGBUS;
}

/*
 * A write to a page mapped read-only. For a private page there is nothing
 * to do but say yes with the page locked (the core mm's own retry would look
 * at page->mapping, which esxmm pages do not have). If the pmap no longer
 * points at the page, a remover is about to zap its PTE: let the access
 * retry.
 */
static vm_fault_t esxmm_page_mkwrite(struct vm_fault *vmf)
{
	struct esxmm_vm *vm = esxmm_vm_of(file_inode(vmf->vma->vm_file));
	struct page *page = vmf->page;

	lock_page(page);
	if (esxmm_pmap_load(&vm->pmap, vmf->pgoff) != esxmm_pmap_mk_private(page)) {
		unlock_page(page);
		return VM_FAULT_NOPAGE;
	}
	return VM_FAULT_LOCKED;
}

const struct vm_operations_struct esxmm_vm_ops = {
	.fault		= esxmm_fault,
	.page_mkwrite	= esxmm_page_mkwrite,
};

/* Zap the batch's range, then drop the pmap references it carries. */
static void release_batch(struct esxmm_vm *vm, struct folio_batch *fbatch,
			  pgoff_t start, pgoff_t end)
{
	unsigned int i, nr = folio_batch_count(fbatch);

	if (!nr)
		return;
	esxmm_shadow_invalidate(vm, start, end - start);
	for (i = 0; i < nr; i++)
		folio_put(fbatch->folios[i]);
	esxmm_pool_uncharge(&esxmm_pool, nr);
	folio_batch_init(fbatch);
}

/**
 * esxmm_shadow_free_range() - Free the pages of PPNs [@start, @end).
 * @vm: the guest.
 * @start: first PPN.
 * @end: one past the last PPN (ULONG_MAX: to the end).
 *
 * Used by truncate, hole punch and eviction, with the inode lock held or
 * the inode unreachable. Each entry is erased under its page lock, then the
 * range's mappings are zapped in batches, then the pages are released, so a
 * racing fault either installed its PTE before the erase (and the zap
 * removes it) or sees the erased entry.
 */
void esxmm_shadow_free_range(struct esxmm_vm *vm, pgoff_t start, pgoff_t end)
{
	struct folio_batch fbatch;
	pgoff_t bstart = 0, bend = 0;
	unsigned long index = start;
	struct page *page;
	void *entry;

	folio_batch_init(&fbatch);
	while (index < end) {
		page = NULL;
		xa_lock(&vm->pmap.xa);
		entry = xa_find(&vm->pmap.xa, &index, end - 1, XA_PRESENT);
		page = esxmm_pmap_to_page(entry);
		if (page)
			get_page(page);
		xa_unlock(&vm->pmap.xa);
		if (!entry)
			break;

		if (page) {
			lock_page(page);
			if (!esxmm_pmap_replace(&vm->pmap, index, entry, NULL)) {
				atomic_long_dec(&vm->resident);
				if (!folio_batch_count(&fbatch))
					bstart = index;
				bend = index + 1;
				/* The pmap's reference moves into the batch. */
				if (!folio_batch_add(&fbatch, page_folio(page))) {
					unlock_page(page);
					put_page(page);
					release_batch(vm, &fbatch, bstart, bend);
					goto next;
				}
			}
			unlock_page(page);
			put_page(page);
		} else if (esxmm_pmap_state(entry) == ESXMM_P_BALLOONED) {
			esxmm_pmap_replace(&vm->pmap, index, entry, NULL);
		} else {
			pr_err_ratelimited("vm %u page %lu: cannot free %s entry\n", vm->id, index,
					   esxmm_pstate_name(esxmm_pmap_state(entry)));
		}
next:
		if (index == ULONG_MAX)
			break;
		index++;
		cond_resched();
	}
	release_batch(vm, &fbatch, bstart, bend);
}

/**
 * esxmm_shadow_zero_range() - Zero bytes [@start, @end) of resident pages.
 * @vm: the guest.
 * @start: first byte.
 * @end: one past the last byte; the range spans at most a few pages.
 *
 * Pages that are not resident already read as zeros and stay as they are.
 *
 * Return: 0, or -EIO for an entry state this build does not handle.
 */
int esxmm_shadow_zero_range(struct esxmm_vm *vm, loff_t start, loff_t end)
{
	while (start < end) {
		pgoff_t ppn = start >> PAGE_SHIFT;
		unsigned int from = offset_in_page(start);
		unsigned int to = min_t(loff_t, PAGE_SIZE, end - ((loff_t)ppn << PAGE_SHIFT));
		struct page *page;
		void *entry;

		page = esxmm_pmap_get_page(&vm->pmap, ppn, &entry);
		if (page) {
			lock_page(page);
			if (esxmm_pmap_load(&vm->pmap, ppn) == entry)
				zero_user_segment(page, from, to);
			unlock_page(page);
			put_page(page);
		} else if (esxmm_pmap_state(entry) != ESXMM_P_NONE &&
			   esxmm_pmap_state(entry) != ESXMM_P_BALLOONED) {
			return -EIO;
		}
		start = ((loff_t)ppn + 1) << PAGE_SHIFT;
	}
	return 0;
}
