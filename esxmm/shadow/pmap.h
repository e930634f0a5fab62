/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pmap: one per guest file, mapping a guest physical page number (PPN,
 * the file's page offset) to what backs it. ESX calls this the pmap (PPN ->
 * MPN); here an entry is one XArray slot holding one of:
 *
 *   NULL                       NONE: never touched, or freed; reads as zeros
 *   struct page *              PRIVATE: a machine page of this guest alone
 *   struct esxmm_frame * | 4   SHARED: a frame of the share table (share/)
 *   xa_mk_value(slot << 1)     SWAPPED: the page lives in swap slot @slot
 *   xa_mk_value(1)             BALLOONED: the guest gave the page back
 *
 * struct page and frames are at least 8-byte aligned, so bit 2 is free to
 * tell a frame from a page; bits 0-1 stay clear as the XArray requires of
 * pointers. Value entries (bit 0 set) never point anywhere.
 *
 * Locking (see also esxmm/shadow/fault.c):
 *  - The XArray's own spinlock (xa_lock) makes every entry update one
 *    atomic compare-and-exchange (esxmm_pmap_replace()).
 *  - Per-PPN exclusion for a resident page is that page's lock (PG_locked),
 *    as in the page cache: whoever changes an entry that points at a page
 *    holds the page lock, and whoever found a page by a lookup locks it and
 *    re-checks that the entry still points at it before using it.
 *  - A new page is inserted already locked, so a racing lookup waits.
 *  - Transitions out of a non-resident entry (NONE, SWAPPED, BALLOONED) are
 *    won by exactly one compare-and-exchange; the loser retries.
 *  - Lock order: inode i_rwsem -> mmap_lock -> page lock ->
 *    i_mmap_rwsem (zap) -> xa_lock.
 *
 * Marks: XA_MARK_1 (ESXMM_SAMPLED_MARK, reclaim/reclaim.h) is set on a PPN
 * sampled in the current period and cleared by its next fault.
 *
 * The entry holds one reference on a PRIVATE page; each PTE that maps it
 * holds one more (taken by the core mm from ->fault).
 */
#ifndef ESXMM_SHADOW_PMAP_H
#define ESXMM_SHADOW_PMAP_H

#include <linux/types.h>
#include <linux/xarray.h>

struct page;
struct esxmm_frame;

enum esxmm_pstate {
	ESXMM_P_NONE,
	ESXMM_P_PRIVATE,
	ESXMM_P_SHARED,
	ESXMM_P_SWAPPED,
	ESXMM_P_BALLOONED,
	ESXMM_P_NR_STATES,
};

#define ESXMM_PMAP_FRAME_TAG	4UL
#define ESXMM_PMAP_BALLOONED	1UL
/* Largest slot number a SWAPPED entry can carry. */
#define ESXMM_PMAP_MAX_SLOT	(LONG_MAX >> 1)

struct esxmm_pmap {
	struct xarray xa;
};

static inline void *esxmm_pmap_mk_private(struct page *page)
{
	return page;
}

static inline void *esxmm_pmap_mk_shared(struct esxmm_frame *frame)
{
	return (void *)((unsigned long)frame | ESXMM_PMAP_FRAME_TAG);
}

static inline void *esxmm_pmap_mk_swapped(unsigned long slot)
{
	return xa_mk_value(slot << 1);
}

static inline void *esxmm_pmap_mk_ballooned(void)
{
	return xa_mk_value(ESXMM_PMAP_BALLOONED);
}

static inline enum esxmm_pstate esxmm_pmap_state(const void *entry)
{
	if (!entry)
		return ESXMM_P_NONE;
	if (xa_is_value(entry))
		return (xa_to_value(entry) & ESXMM_PMAP_BALLOONED) ?
			ESXMM_P_BALLOONED : ESXMM_P_SWAPPED;
	if ((unsigned long)entry & ESXMM_PMAP_FRAME_TAG)
		return ESXMM_P_SHARED;
	return ESXMM_P_PRIVATE;
}

static inline struct page *esxmm_pmap_to_page(void *entry)
{
	return esxmm_pmap_state(entry) == ESXMM_P_PRIVATE ? entry : NULL;
}

static inline struct esxmm_frame *esxmm_pmap_to_frame(void *entry)
{
	if (esxmm_pmap_state(entry) != ESXMM_P_SHARED)
		return NULL;
	return (void *)((unsigned long)entry & ~ESXMM_PMAP_FRAME_TAG);
}

static inline unsigned long esxmm_pmap_to_slot(void *entry)
{
	return xa_to_value(entry) >> 1;
}

const char *esxmm_pstate_name(enum esxmm_pstate state);
bool esxmm_pmap_transition_valid(enum esxmm_pstate from, enum esxmm_pstate to);
void esxmm_pmap_init(struct esxmm_pmap *pmap);
void esxmm_pmap_destroy(struct esxmm_pmap *pmap);
void *esxmm_pmap_load(struct esxmm_pmap *pmap, pgoff_t ppn);
int esxmm_pmap_replace(struct esxmm_pmap *pmap, pgoff_t ppn, void *old, void *new);
struct page *esxmm_pmap_get_page(struct esxmm_pmap *pmap, pgoff_t ppn, void **entryp);
bool esxmm_pmap_still(struct esxmm_pmap *pmap, pgoff_t ppn, void *entry, struct page *page);
bool esxmm_pmap_test_clear_mark(struct esxmm_pmap *pmap, pgoff_t ppn, xa_mark_t mark);
struct page *esxmm_pmap_get_page_from(struct esxmm_pmap *pmap, unsigned long *index,
				      unsigned long max, void **entryp);
struct page *esxmm_pmap_get_private(struct esxmm_pmap *pmap, unsigned long *index,
				    unsigned long max, unsigned int budget);

#endif /* ESXMM_SHADOW_PMAP_H */
