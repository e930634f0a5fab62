// SPDX-License-Identifier: GPL-2.0
/*
 * Size and offset arithmetic of guest files (see range.h). A guest's RAM is
 * a whole number of pages, so esxmm accepts only page-aligned sizes; reads
 * and writes stop at the end of the file; a hole punch frees the pages it
 * covers whole and zeroes the bytes of the pages it covers in part, as
 * tmpfs does.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/math.h>
#include <linux/mm.h>

#include "range.h"

/**
 * esxmm_size_to_pages() - Pages spanned by a file of @size bytes.
 * @size: file size, >= 0.
 *
 * Return: the page count (a partial last page counts).
 */
pgoff_t esxmm_size_to_pages(loff_t size)
{
	if (size <= 0)
		return 0;
	return (pgoff_t)((size + PAGE_SIZE - 1) >> PAGE_SHIFT);
}

/**
 * esxmm_check_size() - Is @size a valid guest RAM size?
 * @size: proposed file size in bytes.
 *
 * Return: 0; -EINVAL if negative or not a multiple of the page size;
 * -EFBIG if above ESXMM_MAX_PAGES pages.
 */
int esxmm_check_size(loff_t size)
{
	if (size < 0 || !PAGE_ALIGNED(size))
		return -EINVAL;
	if ((u64)size >> PAGE_SHIFT > ESXMM_MAX_PAGES)
		return -EFBIG;
	return 0;
}

/**
 * esxmm_rw_clip() - How much of a read or write falls inside the file.
 * @pos: file position, >= 0.
 * @count: bytes asked for.
 * @isize: file size.
 *
 * Return: bytes from @pos that lie before @isize (0 at or past the end).
 */
size_t esxmm_rw_clip(loff_t pos, size_t count, loff_t isize)
{
	if (pos < 0 || pos >= isize)
		return 0;
	if ((u64)count > (u64)(isize - pos))
		return isize - pos;
	return count;
}

/**
 * esxmm_punch_range() - Split a hole punch into pages to free and bytes to zero.
 * @offset: start of the hole, >= 0.
 * @len: length, > 0.
 * @isize: file size; the hole is clipped to it.
 * @p: the result.
 *
 * Return: 0; -EINVAL for a negative offset, a non-positive length or an
 * overflowing range. A hole entirely past the end is valid and empty.
 */
int esxmm_punch_range(loff_t offset, loff_t len, loff_t isize, struct esxmm_punch *p)
{
	loff_t end, first_b, end_b;

	memset(p, 0, sizeof(*p));
	if (offset < 0 || len <= 0 || offset > LLONG_MAX - len)
		return -EINVAL;
	end = min(offset + len, isize);
	if (offset >= end)
		return 0;

	first_b = round_up(offset, PAGE_SIZE);
	end_b = round_down(end, PAGE_SIZE);
	if (first_b >= end_b) {
		/* No whole page: zero the bytes, in one page or across two. */
		p->zero_start[0] = offset;
		p->zero_end[0] = end;
		p->nr_zero = 1;
		return 0;
	}
	p->first = first_b >> PAGE_SHIFT;
	p->end = end_b >> PAGE_SHIFT;
	if (offset < first_b) {
		p->zero_start[p->nr_zero] = offset;
		p->zero_end[p->nr_zero++] = first_b;
	}
	if (end_b < end) {
		p->zero_start[p->nr_zero] = end_b;
		p->zero_end[p->nr_zero++] = end;
	}
	return 0;
}
