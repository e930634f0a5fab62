/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page pattern shared by the nested guest (guest/memcheck.c) and the host-side checker
 * (scan_pattern.c). One 4 KiB page of pattern, as 512 little-endian 64-bit words:
 *   word 0    the magic "ESXMMCHK" (bytes 0-7)
 *   word 1    the page's sequence number (bytes 8-15): its index in the guest's buffer
 *   word i>1  esxmm_pattern_word(seq, i), a deterministic function of (seq, offset / 8)
 * The pattern is the same wherever the guest's page lands in guest-physical memory, so the host
 * can find and verify every page of it in the VM's RAM file.
 */
#ifndef ESXMM_TESTS_PATTERN_H
#define ESXMM_TESTS_PATTERN_H

#include <stdint.h>
#include <string.h>
#include <endian.h>

#define ESXMM_PAGE_SIZE 4096u
#define ESXMM_PAGE_WORDS (ESXMM_PAGE_SIZE / 8u)
#define ESXMM_MAGIC "ESXMMCHK"
#define ESXMM_MAGIC_LEN 8u

static inline uint64_t esxmm_pattern_word(uint64_t seq, uint64_t word)
{
	uint64_t x = ((seq << 16) ^ word) * 0x9E3779B97F4A7C15ull;

	return x ^ (x >> 29);
}

static inline uint64_t esxmm_magic_word(void)
{
	uint64_t m;

	memcpy(&m, ESXMM_MAGIC, 8);
	return m;
}

static inline void esxmm_pattern_fill(void *page, uint64_t seq)
{
	uint64_t *w = page;
	uint64_t i;

	w[0] = esxmm_magic_word();
	w[1] = htole64(seq);
	for (i = 2; i < ESXMM_PAGE_WORDS; i++)
		w[i] = htole64(esxmm_pattern_word(seq, i));
}

static inline int esxmm_has_magic(const void *page)
{
	return memcmp(page, ESXMM_MAGIC, ESXMM_MAGIC_LEN) == 0;
}

static inline uint64_t esxmm_page_seq(const void *page)
{
	uint64_t s;

	memcpy(&s, (const char *)page + 8, 8);
	return le64toh(s);
}

/* Returns the index of the first bad word, or -1 when the page is intact for seq. */
static inline int esxmm_pattern_check(const void *page, uint64_t seq)
{
	const uint64_t *w = page;
	uint64_t i;

	if (w[0] != esxmm_magic_word())
		return 0;
	if (le64toh(w[1]) != seq)
		return 1;
	for (i = 2; i < ESXMM_PAGE_WORDS; i++)
		if (le64toh(w[i]) != esxmm_pattern_word(seq, i))
			return (int)i;
	return -1;
}

#endif
