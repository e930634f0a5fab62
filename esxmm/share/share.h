/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Content-based page sharing: the scanner thread, merges, hints, and the
 * calls shadow/ makes when a shared PPN is written or freed.
 */
#ifndef ESXMM_SHARE_H
#define ESXMM_SHARE_H

#include <linux/atomic.h>
#include <linux/types.h>

#include "frame.h"

struct esxmm_vm;
struct page;

enum esxmm_share_run {
	ESXMM_SHARE_STOP = 0,
	ESXMM_SHARE_RUN = 1,
	ESXMM_SHARE_UNSHARE = 2,
};

/**
 * struct esxmm_share_stats - counters, read by sysfs.
 * @pages_scanned: candidates hashed.
 * @hint_hits: hints that turned into shared frames.
 * @hint_stale: hints whose page had changed or gone.
 * @hash_collisions: equal hash, different content.
 * @cow_breaks: writes that broke a share.
 * @zero_pages: PPNs that map a frame of zeros.
 * @pinned_skips: merges skipped because someone else held the page.
 */
struct esxmm_share_stats {
	atomic_long_t pages_scanned;
	atomic_long_t hint_hits;
	atomic_long_t hint_stale;
	atomic_long_t hash_collisions;
	atomic_long_t cow_breaks;
	atomic_long_t zero_pages;
	atomic_long_t pinned_skips;
};

extern struct esxmm_ftable esxmm_frames;
extern struct esxmm_share_stats esxmm_share_stats;

int esxmm_share_init(void);
void esxmm_share_exit(void);

int esxmm_share_set_run(unsigned int run);
unsigned int esxmm_share_get_run(void);
void esxmm_share_set_rate(unsigned int pages_to_scan, unsigned int sleep_ms);
unsigned int esxmm_share_pages_to_scan(void);
unsigned int esxmm_share_sleep_ms(void);
int esxmm_share_set_group(struct esxmm_vm *vm, u32 group);
void esxmm_share_forget_vm(struct esxmm_vm *vm);

bool esxmm_share_take_if_alone(struct esxmm_frame *f);
bool esxmm_share_unref(struct esxmm_frame *f, struct page **pagep);
void esxmm_share_free_frame(struct esxmm_frame *f);
u64 esxmm_share_hash_page(struct page *page);

#endif /* ESXMM_SHARE_H */
