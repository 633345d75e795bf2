/* imap_objectid: RFC 8474 ids as text, each number spelt one way, and
 * only what the objectid grammar allows. */
#include "unit.h"

#include "imap/imap_objectid.h"

struct id_case {
	char kind;
	int64_t owner, id;
	const char *text;
};

static const struct id_case ids[] = {
	{IMAP_OBJECTID_EMAIL, 1, 99, "Mb-dd"},
	{IMAP_OBJECTID_EMAIL, 0, 0, "Ma-a"},
	{IMAP_OBJECTID_MAILBOX, 1, 1, "Fb-b"},
	{IMAP_OBJECTID_MAILBOX, 32, 31, "Fba-7"},
	{IMAP_OBJECTID_EMAIL, 1025, 1024, "Mbab-baa"},
	{IMAP_OBJECTID_EMAIL, INT64_MAX, INT64_MAX,
	 "Mh777777777777-h777777777777"},
};

static void test_format_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(*ids); i++) {
		const struct id_case *c = &ids[i];
		cur = c->text;
		char buf[IMAP_OBJECTID_MAX];
		size_t n = imap_objectid_format(c->kind, c->owner, c->id, buf);
		assert_string_equal(buf, c->text);
		assert_int_equal(n, strlen(c->text));
		assert_true(n >= 1 && n < IMAP_OBJECTID_MAX);
		/* objectid = 1*255(ALPHA / DIGIT / "_" / "-") */
		for (size_t j = 0; j < n; j++)
			assert_true(strchr("abcdefghijklmnopqrstuvwxyz"
					   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789_-", buf[j]) != NULL);
		assert_true(imap_objectid_is(c->kind, c->owner, c->id,
					     c->text, n));
	}
}

struct is_case {
	const char *text;
	bool match;
};

/* Is "Mb-dd" (user 1, body 99) what the client gave? */
static const struct is_case is_cases[] = {
	{"Mb-dd", true},
	{"MB-DD", false},	/* ids are case-sensitive */
	{"Mb-add", false},	/* a leading zero digit: another spelling */
	{"Mb-d", false},
	{"Mb-ddd", false},
	{"Fb-dd", false},	/* a mailbox's */
	{"Mc-dd", false},	/* another account's */
	{"", false},
};

static void test_is_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(is_cases) / sizeof(*is_cases); i++) {
		cur = is_cases[i].text;
		assert_int_equal(imap_objectid_is(IMAP_OBJECTID_EMAIL, 1, 99,
						  cur, strlen(cur)),
				 is_cases[i].match);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_is_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
