/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The frame table of content-based page sharing: one hash table of frames
 * keyed by a 64-bit content hash and a share domain. A *shared* frame holds
 * a machine page that several PPNs map read-only, and how many do; a *hint*
 * frame only remembers that PPN @ppn of vm @vm hashed to @hash when it was
 * scanned, and write-protects nothing. No page tables here: KUnit-tested.
 *
 * A share domain is a group number (guests share across each other only
 * inside a non-zero share group) or, for group 0, the guest alone.
 */
#ifndef ESXMM_SHARE_FRAME_H
#define ESXMM_SHARE_FRAME_H

#include <linux/spinlock.h>
#include <linux/types.h>

struct page;

#define ESXMM_HINT_PPN_BITS	40
#define ESXMM_HINT_MAX_VM	((1U << (64 - ESXMM_HINT_PPN_BITS)) - 1)
#define ESXMM_DOMAIN_PRIVATE	0x80000000U	/* | vm id: group 0 */
#define ESXMM_MAX_SHARE_GROUP	0x7fffffffU

/**
 * struct esxmm_frame - a shared frame or a hint; 32 bytes.
 * @next: bucket chain.
 * @hash: content hash of the page.
 * @page: (shared) the machine page; the frame holds one reference.
 * @hint: (hint) vm id << ESXMM_HINT_PPN_BITS | ppn.
 * @count: (shared) PPNs that map @page; 0 marks a hint.
 * @domain: share domain.
 */
struct esxmm_frame {
	struct esxmm_frame *next;
	u64 hash;
	union {
		struct page *page;
		u64 hint;
	};
	u32 count;
	u32 domain;
};

/**
 * struct esxmm_ftable - the table.
 * @lock: protects the chains, every frame's @count and the counters below.
 *	A leaf spinlock: taken under page locks and xa_lock is never taken
 *	under it.
 * @buckets: 1 << @bits chain heads.
 * @bits: log2 of the bucket count.
 * @nr_shared: shared frames.
 * @nr_sharing: sum over shared frames of (count - 1): pages saved.
 * @nr_hints: hint frames.
 */
struct esxmm_ftable {
	spinlock_t lock;
	struct esxmm_frame **buckets;
	unsigned int bits;
	unsigned long nr_shared;
	unsigned long nr_sharing;
	unsigned long nr_hints;
};

static inline bool esxmm_frame_is_hint(const struct esxmm_frame *f)
{
	return !f->count;
}

static inline u64 esxmm_hint_pack(unsigned int vm_id, pgoff_t ppn)
{
	return (u64)vm_id << ESXMM_HINT_PPN_BITS | (ppn & ((1ULL << ESXMM_HINT_PPN_BITS) - 1));
}

static inline unsigned int esxmm_hint_vm(u64 hint)
{
	return hint >> ESXMM_HINT_PPN_BITS;
}

static inline pgoff_t esxmm_hint_ppn(u64 hint)
{
	return hint & ((1ULL << ESXMM_HINT_PPN_BITS) - 1);
}

static inline u32 esxmm_share_domain(unsigned int vm_id, u32 group)
{
	return group ? group : ESXMM_DOMAIN_PRIVATE | vm_id;
}

typedef bool (*esxmm_frame_match_t)(const struct esxmm_frame *f, void *arg);

int esxmm_ftable_init(struct esxmm_ftable *t, unsigned int bits);
void esxmm_ftable_destroy(struct esxmm_ftable *t);
unsigned int esxmm_ftable_bits_for(unsigned long ram_pages);
struct esxmm_frame *esxmm_ftable_find(struct esxmm_ftable *t, u64 hash, u32 domain,
				      esxmm_frame_match_t match, void *arg);
void esxmm_ftable_insert(struct esxmm_ftable *t, struct esxmm_frame *f);
void esxmm_ftable_remove(struct esxmm_ftable *t, struct esxmm_frame *f);
void esxmm_ftable_get(struct esxmm_ftable *t, struct esxmm_frame *f);
bool esxmm_ftable_put(struct esxmm_ftable *t, struct esxmm_frame *f);
unsigned long esxmm_ftable_drain_hints(struct esxmm_ftable *t, esxmm_frame_match_t match,
				       void *arg, void (*free_fn)(struct esxmm_frame *));
unsigned long esxmm_ftable_drain_hints_range(struct esxmm_ftable *t, unsigned long from,
					     unsigned long to, esxmm_frame_match_t match,
					     void *arg, void (*free_fn)(struct esxmm_frame *));
size_t esxmm_share_pick(const unsigned long *weights, size_t n, u64 r);

#endif /* ESXMM_SHARE_FRAME_H */
