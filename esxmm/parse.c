// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs input parsing. Every writable esxmm file takes a plain decimal
 * number in a documented range; anything else is -EINVAL, so a script that
 * writes garbage learns it at once and nothing changes.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/kstrtox.h>

#include "parse.h"

/**
 * esxmm_parse_ulong() - Parse a decimal count written to sysfs.
 * @buf: what the user wrote (sysfs NUL-terminates it).
 * @count: its length.
 * @min: smallest value accepted.
 * @max: largest value accepted.
 * @out: where the value goes; untouched on error.
 *
 * Accepts base-10 digits with an optional leading '+' and one trailing
 * newline, as kstrtoul() does. Rejects an empty write, a sign, hex, inner
 * spaces, trailing garbage, 64-bit overflow and values outside [min, max].
 *
 * Return: 0 or -EINVAL.
 */
int esxmm_parse_ulong(const char *buf, size_t count, unsigned long min,
		      unsigned long max, unsigned long *out)
{
	unsigned long val;

	if (!count || buf[0] == '-')
		return -EINVAL;
	if (kstrtoul(buf, 10, &val))
		return -EINVAL;
	if (val < min || val > max)
		return -EINVAL;
	*out = val;
	return 0;
}
