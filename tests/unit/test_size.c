/* size: each case is a text, whether suffixes are allowed, and the value
 * (or -1) an admin would expect. */
#include "unit.h"

#include "core/size.h"

struct size_case {
	const char *text;
	bool suffixes;
	int rc;
	uint64_t value;
};

static const struct size_case cases[] = {
	{"0", false, 0, 0},
	{"1024", false, 0, 1024},
	{"18446744073709551615", false, 0, UINT64_MAX},
	{"18446744073709551616", false, -1, 0},
	{"1K", true, 0, 1024},
	{"1k", true, 0, 1024},
	{"25M", true, 0, 25u << 20},
	{"2G", true, 0, 2ull << 30},
	{"3T", true, 0, 3ull << 40},
	{"16777216T", true, -1, 0},	/* 2^64: overflows */
	{"16777215T", true, 0, 16777215ull << 40},
	{"1K", false, -1, 0},
	{"1KB", true, -1, 0},
	{"1X", true, -1, 0},
	{"K", true, -1, 0},
	{"", true, -1, 0},
	{"-1", true, -1, 0},
	{"+1", true, -1, 0},
	{" 1", true, -1, 0},
	{"1 ", true, -1, 0},
	{"1.5M", true, -1, 0},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct size_case *c = &cases[i];
		uint64_t v = 0;
		cur = c->text;
		EXPECT_INT(size_parse(c->text, c->suffixes, &v), c->rc);
		if (c->rc == 0)
			EXPECT(v == c->value);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
