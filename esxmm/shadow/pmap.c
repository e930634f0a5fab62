// SPDX-License-Identifier: GPL-2.0
/*
 * pmap entry updates and the state machine every update obeys. No page
 * tables here: this file is built into the KUnit suites in UML as it is.
 * The entry format and the locking rules are described in pmap.h.
 */
#include <linux/mm.h>
#include <linux/xarray.h>

#include "pmap.h"
#include "../share/frame.h"

static const char * const pstate_names[ESXMM_P_NR_STATES] = {
	[ESXMM_P_NONE]		= "none",
	[ESXMM_P_PRIVATE]	= "private",
	[ESXMM_P_SHARED]	= "shared",
	[ESXMM_P_SWAPPED]	= "swapped",
	[ESXMM_P_BALLOONED]	= "ballooned",
};

/**
 * esxmm_pstate_name() - Name of a pmap entry state, for logs and traces.
 * @state: the state.
 *
 * Return: a static string, "invalid" for an out-of-range state.
 */
const char *esxmm_pstate_name(enum esxmm_pstate state)
{
	if (state >= ESXMM_P_NR_STATES)
		return "invalid";
	return pstate_names[state];
}

/*
 * Allowed transitions, from (row) to (column). PRIVATE -> PRIVATE replaces
 * one page by another (a broken share's copy, a migration); SHARED never
 * goes to swap (the swapper skips shared frames); a SWAPPED or BALLOONED
 * page comes back only as a private page.
 */
static const bool pstate_edges[ESXMM_P_NR_STATES][ESXMM_P_NR_STATES] = {
	[ESXMM_P_NONE] = {
		[ESXMM_P_PRIVATE] = true, [ESXMM_P_BALLOONED] = true,
	},
	[ESXMM_P_PRIVATE] = {
		[ESXMM_P_NONE] = true, [ESXMM_P_PRIVATE] = true,
		[ESXMM_P_SHARED] = true, [ESXMM_P_SWAPPED] = true,
		[ESXMM_P_BALLOONED] = true,
	},
	[ESXMM_P_SHARED] = {
		[ESXMM_P_NONE] = true, [ESXMM_P_PRIVATE] = true,
		[ESXMM_P_SHARED] = true, [ESXMM_P_BALLOONED] = true,
	},
	[ESXMM_P_SWAPPED] = {
		[ESXMM_P_NONE] = true, [ESXMM_P_PRIVATE] = true,
		[ESXMM_P_BALLOONED] = true,
	},
	[ESXMM_P_BALLOONED] = {
		[ESXMM_P_NONE] = true, [ESXMM_P_PRIVATE] = true,
	},
};

/**
 * esxmm_pmap_transition_valid() - May an entry go from one state to another?
 * @from: current state.
 * @to: proposed state.
 *
 * Return: true if the state machine allows the edge.
 */
bool esxmm_pmap_transition_valid(enum esxmm_pstate from, enum esxmm_pstate to)
{
	if (from >= ESXMM_P_NR_STATES || to >= ESXMM_P_NR_STATES)
		return false;
	return pstate_edges[from][to];
}

/**
 * esxmm_pmap_init() - Initialise an empty pmap.
 * @pmap: the pmap.
 */
void esxmm_pmap_init(struct esxmm_pmap *pmap)
{
	xa_init(&pmap->xa);
}

/**
 * esxmm_pmap_destroy() - Free a pmap's nodes; its entries must all be gone.
 * @pmap: the pmap.
 */
void esxmm_pmap_destroy(struct esxmm_pmap *pmap)
{
	WARN_ON_ONCE(!xa_empty(&pmap->xa));
	xa_destroy(&pmap->xa);
}

/**
 * esxmm_pmap_load() - Read an entry without any lock.
 * @pmap: the pmap.
 * @ppn: guest page number.
 *
 * The result may be stale by the time the caller looks at it; a caller that
 * acts on a page must lock it and load again (see pmap.h).
 *
 * Return: the entry, NULL for NONE.
 */
void *esxmm_pmap_load(struct esxmm_pmap *pmap, pgoff_t ppn)
{
	return xa_load(&pmap->xa, ppn);
}

/**
 * esxmm_pmap_replace() - Change one entry if it still holds what we saw.
 * @pmap: the pmap.
 * @ppn: guest page number.
 * @old: the entry the caller saw.
 * @new: the entry to store (NULL erases).
 *
 * The caller holds the page lock of @old or @new where either is a page.
 *
 * Return: 0 on success; -EINVAL if the state machine forbids the edge (the
 * pmap is unchanged); -EAGAIN if the entry no longer is @old; -ENOMEM if the
 * XArray could not allocate a node.
 */
int esxmm_pmap_replace(struct esxmm_pmap *pmap, pgoff_t ppn, void *old, void *new)
{
	void *cur;

	if (!esxmm_pmap_transition_valid(esxmm_pmap_state(old), esxmm_pmap_state(new)))
		return -EINVAL;
	if (xa_is_value(new) && esxmm_pmap_state(new) == ESXMM_P_SWAPPED &&
	    esxmm_pmap_to_slot(new) > ESXMM_PMAP_MAX_SLOT)
		return -EINVAL;
	cur = xa_cmpxchg(&pmap->xa, ppn, old, new, GFP_KERNEL);
	if (xa_is_err(cur))
		return xa_err(cur);
	return cur == old ? 0 : -EAGAIN;
}

/**
 * esxmm_pmap_still() - Does an entry still hold what a lookup found?
 * @pmap: the pmap.
 * @ppn: guest page number.
 * @entry: the entry esxmm_pmap_get_page() returned.
 * @page: the page it returned, which the caller has locked.
 *
 * Compares the entry and, for a frame, that the frame still holds @page:
 * the frame may have been freed and its memory reused for another frame
 * at the same address (entry equal, page not) while the caller slept.
 *
 * Return: true if @ppn is still backed by @page through @entry.
 */
bool esxmm_pmap_still(struct esxmm_pmap *pmap, pgoff_t ppn, void *entry, struct page *page)
{
	struct esxmm_frame *frame;
	bool same;

	xa_lock(&pmap->xa);
	same = xa_load(&pmap->xa, ppn) == entry;
	frame = esxmm_pmap_to_frame(entry);
	if (same)
		same = frame ? frame->page == page : esxmm_pmap_to_page(entry) == page;
	xa_unlock(&pmap->xa);
	return same;
}

/**
 * esxmm_pmap_test_clear_mark() - Clear a mark of an entry, saying if it was set.
 * @pmap: the pmap.
 * @ppn: guest page number.
 * @mark: the mark.
 *
 * Return: true if the mark was set (exactly one caller sees it).
 */
bool esxmm_pmap_test_clear_mark(struct esxmm_pmap *pmap, pgoff_t ppn, xa_mark_t mark)
{
	bool was;

	xa_lock(&pmap->xa);
	was = xa_get_mark(&pmap->xa, ppn, mark);
	if (was)
		__xa_clear_mark(&pmap->xa, ppn, mark);
	xa_unlock(&pmap->xa);
	return was;
}

/**
 * esxmm_pmap_get_page() - Look up the page backing a PPN and take a reference.
 * @pmap: the pmap.
 * @ppn: guest page number.
 * @entryp: where to store the entry found, whatever its state.
 *
 * For a PRIVATE entry that is its page, for a SHARED one the frame's page.
 * The reference is taken under xa_lock, so neither the page nor the frame
 * can go between the lookup and the get: whoever erases or replaces an entry
 * drops what it pointed at only after its compare-and-exchange under the
 * same lock. To act on the page, the caller locks it and checks with
 * esxmm_pmap_still() that the entry still is *@entryp and still holds the
 * page; a frame is stable while its page is locked and an entry points at
 * it.
 *
 * Return: the page with one more reference, or NULL if the entry is not
 * resident (*@entryp tells which state it is in).
 */
struct page *esxmm_pmap_get_page(struct esxmm_pmap *pmap, pgoff_t ppn, void **entryp)
{
	unsigned long index = ppn;

	return esxmm_pmap_get_page_from(pmap, &index, ppn, entryp);
}

/**
 * esxmm_pmap_get_page_from() - esxmm_pmap_get_page() of the first entry in a range.
 * @pmap: the pmap.
 * @index: first PPN to look at; set to the PPN of the entry found.
 * @max: last PPN to look at.
 * @entryp: the entry found, NULL if there is none in [*@index, @max].
 *
 * Return: as esxmm_pmap_get_page().
 */
struct page *esxmm_pmap_get_page_from(struct esxmm_pmap *pmap, unsigned long *index,
				      unsigned long max, void **entryp)
{
	struct esxmm_frame *frame;
	struct page *page;
	void *entry;

	xa_lock(&pmap->xa);
	entry = xa_find(&pmap->xa, index, max, XA_PRESENT);
	page = esxmm_pmap_to_page(entry);
	frame = esxmm_pmap_to_frame(entry);
	if (frame)
		page = frame->page;
	if (page)
		get_page(page);
	xa_unlock(&pmap->xa);
	*entryp = entry;
	return page;
}

/**
 * esxmm_pmap_get_private() - The first PRIVATE page in a range, with a reference.
 * @pmap: the pmap.
 * @index: first PPN to look at; set to the PPN of the page found.
 * @max: last PPN to look at.
 * @budget: entries to look at, at most (xa_lock is held meanwhile).
 *
 * The swapper's victim search: shared frames, swapped and ballooned entries
 * are stepped over, so only a page of this guest alone is ever returned.
 *
 * Return: the page with one more reference, or NULL (*@index unchanged) if
 * none was found within @budget entries.
 */
struct page *esxmm_pmap_get_private(struct esxmm_pmap *pmap, unsigned long *index,
				    unsigned long max, unsigned int budget)
{
	XA_STATE(xas, &pmap->xa, *index);
	struct page *page = NULL;
	void *entry;

	xas_lock(&xas);
	xas_for_each(&xas, entry, max) {
		if (xas_retry(&xas, entry))
			continue;
		if (esxmm_pmap_state(entry) == ESXMM_P_PRIVATE) {
			page = entry;
			get_page(page);
			*index = xas.xa_index;
			break;
		}
		if (!--budget)
			break;
	}
	xas_unlock(&xas);
	return page;
}
