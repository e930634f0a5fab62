/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Size and offset arithmetic of guest files: which pages a size spans,
 * which sizes are valid, what a read, write or hole punch covers. No side
 * effects, KUnit-tested.
 */
#ifndef ESXMM_RANGE_H
#define ESXMM_RANGE_H

#include <linux/types.h>

/* Largest guest file: 2^40 pages (4 PiB with 4 KiB pages). */
#define ESXMM_MAX_PAGES		(1ULL << 40)

/**
 * struct esxmm_punch - what a hole punch does to a file.
 * @first: first whole page to free.
 * @end: one past the last whole page to free (@first == @end: none).
 * @zero_start: byte ranges of partly covered pages to zero instead:
 *	[zero_start[i], zero_end[i]) for i < nr_zero; a range spans at
 *	most two pages and never a whole one.
 * @zero_end: see @zero_start.
 * @nr_zero: 0, 1 or 2.
 */
struct esxmm_punch {
	pgoff_t first;
	pgoff_t end;
	loff_t zero_start[2];
	loff_t zero_end[2];
	unsigned int nr_zero;
};

pgoff_t esxmm_size_to_pages(loff_t size);
int esxmm_check_size(loff_t size);
size_t esxmm_rw_clip(loff_t pos, size_t count, loff_t isize);
int esxmm_punch_range(loff_t offset, loff_t len, loff_t isize, struct esxmm_punch *p);

#endif /* ESXMM_RANGE_H */
