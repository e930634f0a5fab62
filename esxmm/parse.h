/* SPDX-License-Identifier: GPL-2.0 */
/* Parsing of what users write into sysfs. No side effects, KUnit-tested. */
#ifndef ESXMM_PARSE_H
#define ESXMM_PARSE_H

#include <linux/types.h>

int esxmm_parse_ulong(const char *buf, size_t count, unsigned long min,
		      unsigned long max, unsigned long *out);

#endif /* ESXMM_PARSE_H */
