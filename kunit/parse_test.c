// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: sysfs input parsing. Every writable esxmm file goes through
 * esxmm_parse_ulong(): what it accepts is exactly what the admin guide says.
 */
#include <kunit/test.h>
#include <linux/string.h>

#include "parse.h"

static int parse(const char *s, unsigned long min, unsigned long max, unsigned long *v)
{
	return esxmm_parse_ulong(s, strlen(s), min, max, v);
}

static void parse_test_accepts(struct kunit *test)
{
	unsigned long v = 0;

	KUNIT_EXPECT_EQ(test, parse("5", 0, 10, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 5UL);
	KUNIT_EXPECT_EQ(test, parse("7\n", 0, 10, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 7UL);
	KUNIT_EXPECT_EQ(test, parse("+3", 0, 10, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 3UL);
	KUNIT_EXPECT_EQ(test, parse("0", 0, 10, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 0UL);
	KUNIT_EXPECT_EQ(test, parse("10", 0, 10, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 10UL);
	KUNIT_EXPECT_EQ(test, parse("18446744073709551615", 0, ULONG_MAX, &v), 0);
	KUNIT_EXPECT_EQ(test, v, ULONG_MAX);
	KUNIT_EXPECT_EQ(test, parse("007", 0, 10, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 7UL);
}

/* Each rejected input leaves the output untouched. */
static void parse_test_rejects(struct kunit *test)
{
	static const char * const bad[] = {
		"", "\n", "-1", "-0", "abc", "12abc", "0x10", " 5", "5 ", "5\n\n", "1.5",
		"18446744073709551616", "99999999999999999999999", "11", "1e3",
	};
	unsigned int i;
	unsigned long v = 1234;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		KUNIT_EXPECT_EQ_MSG(test, parse(bad[i], 0, 10, &v), -EINVAL, "input \"%s\"",
				    bad[i]);
		KUNIT_EXPECT_EQ(test, v, 1234UL);
	}
	KUNIT_EXPECT_EQ(test, parse("4", 5, 10, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, parse("0", 1, ULONG_MAX, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, esxmm_parse_ulong("5", 0, 0, 10, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, v, 1234UL);
}

static struct kunit_case parse_test_cases[] = {
	KUNIT_CASE(parse_test_accepts),
	KUNIT_CASE(parse_test_rejects),
	{}
};

static struct kunit_suite parse_test_suite = {
	.name = "esxmm_parse",
	.test_cases = parse_test_cases,
};
kunit_test_suite(parse_test_suite);
