/* smtp_sender: the allowed-sender list and the header check, as tables;
 * smtp_rate: the hourly bucket with a clock of our own. */
#include "unit.h"

#include "smtp/smtp_rate.h"
#include "smtp/smtp_sender.h"

/* alice, her alias sales, anything at other.example, via exceptions. */
static const char list[] = "alice@example.com\0sales@example.com\0"
			   "*@other.example";

static void test_allowed(void **state)
{
	(void)state;
	static const struct {
		const char *addr;
		const char *delims;
		bool ok;
	} cases[] = {
		{"alice@example.com", "+", true},
		{"ALICE@Example.COM", "+", true},
		{"alice+news@example.com", "+", true},
		{"alice-news@example.com", "+", false},
		{"alice-news@example.com", "+-", true},
		{"alice+news@example.com", "", false},
		{"+alice@example.com", "+", false},
		{"sales@example.com", "+", true},
		{"sales+x@example.com", "+", true},
		{"bob@example.com", "+", false},
		{"alice@example.org", "+", false},
		{"anyone@other.example", "+", true},
		{"anyone@sub.other.example", "+", false},
		/* Canonical: no quotes needed, so a sub-address. */
		{"\"alice+x\"@example.com", "+", true},
		{"\"alice x\"@example.com", "+", false},
		{"alice@[127.0.0.1]", "+", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct addr a;
		const char *err;
		cur = cases[i].addr;
		assert_int_equal(addr_parse(cur, strlen(cur), 0, &a, &err), 1);
		assert_int_equal(smtp_sender_allowed(list, sizeof(list), &a,
						     cases[i].delims),
				 cases[i].ok);
	}
	struct addr a;
	const char *err;
	assert_int_equal(addr_parse("x@y.example", 11, 0, &a, &err), 1);
	assert_false(smtp_sender_allowed("", 0, &a, "+"));
	assert_true(smtp_sender_allowed("*", 2, &a, "+"));
	assert_false(smtp_sender_allowed("*@y", 4, &a, "+"));
}

static void test_header(void **state)
{
	(void)state;
	static const struct {
		const char *hdr;
		unsigned from, fields;
		bool refused;
		const char *refused_text;
		bool msgid, date, complete;
	} cases[] = {
		{"From: alice@example.com\r\n\r\nbody", 1, 1, false, "", false,
		 false, true},
		{"From: Alice <alice@example.com>\r\nDate: x\r\nMessage-ID: <a@b>"
		 "\r\n\r\n", 1, 1, false, "", true, true, true},
		{"Subject: x\r\nfrom: \"A, B\" <Sales+x@EXAMPLE.com> (c)\r\n"
		 "\r\n", 1, 1, false, "", false, false, true},
		{"From: alice@example.com,\r\n bob@other.example\r\n\r\n", 2, 1,
		 false, "", false, false, true},
		{"From: bob@example.com\r\n\r\n", 1, 1, true, "bob@example.com",
		 false, false, true},
		{"From: Alice <alice@example.com>, Bob <bob@example.com>\r\n\r\n",
		 2, 1, true, "bob@example.com", false, false, true},
		{"From: alice@example.com\r\nFrom: bob@example.com\r\n\r\n", 2, 2,
		 true, "bob@example.com", false, false, true},
		/* What is not a plain mailbox is refused. */
		{"From: team: alice@example.com;\r\n\r\n", 1, 1, true, "team",
		 false, false, true},
		{"From: <@relay:alice@example.com>\r\n\r\n", 1, 1, true,
		 "@relay", false, false, true},
		{"From: Alice <alice@example.com> bob@example.com\r\n\r\n", 1, 1,
		 true, "alice@example.com", false, false, true},
		{"From: Alice\r\n\r\n", 1, 1, true, "Alice", false, false, true},
		{"From: <alice@example.com\r\n\r\n", 0, 1, true,
		 "alice@example.com", false, false, true},
		{"From: ,alice@example.com\r\n\r\n", 1, 1, true, "", false, false,
		 true},
		{"From: alice@[127.0.0.1]\r\n\r\n", 1, 1, true,
		 "alice@[127.0.0.1]", false, false, true},
		{"From:\r\n\r\n", 0, 1, false, "", false, false, true},
		{"Subject: no from\r\n\r\n", 0, 0, false, "", false, false, true},
		{"From: alice@example.com\r\n", 1, 1, false, "", false, false,
		 false},
		{"\r\nFrom: bob@example.com\r\n", 0, 0, false, "", false, false,
		 true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct smtp_sender_header h;
		cur = cases[i].hdr;
		size_t n = strlen(cur);
		char *buf = malloc(n);
		memcpy(buf, cur, n);
		smtp_sender_header(buf, n, list, sizeof(list), "+", &h);
		free(buf);
		assert_int_equal(h.from, cases[i].from);
		assert_int_equal(h.from_fields, cases[i].fields);
		assert_int_equal(h.refused, cases[i].refused);
		assert_string_equal(h.refused_text, cases[i].refused_text);
		assert_int_equal(h.message_id, cases[i].msgid);
		assert_int_equal(h.date, cases[i].date);
		assert_int_equal(h.complete, cases[i].complete);
	}
}

static void test_rate(void **state)
{
	(void)state;
	struct smtp_rate *r = smtp_rate_new(3);
	int64_t t = 1000000;
	for (int i = 0; i < 3; i++) {
		assert_true(smtp_rate_allows(r, 7, t));
		smtp_rate_count(r, 7, t);
	}
	assert_false(smtp_rate_allows(r, 7, t));
	/* Others are not affected. */
	assert_true(smtp_rate_allows(r, 8, t));
	/* One message comes back every 20 minutes. */
	assert_false(smtp_rate_allows(r, 7, t + 1199));
	assert_true(smtp_rate_allows(r, 7, t + 1200));
	smtp_rate_count(r, 7, t + 1200);
	assert_false(smtp_rate_allows(r, 7, t + 1200));
	/* A clock that goes back gives nothing back. */
	assert_false(smtp_rate_allows(r, 7, t));
	/* After an hour, the whole allowance. */
	for (int i = 0; i < 3; i++) {
		assert_true(smtp_rate_allows(r, 7, t + 5000));
		smtp_rate_count(r, 7, t + 5000);
	}
	assert_false(smtp_rate_allows(r, 7, t + 5000));
	/* Many users: the table prunes the full buckets and keeps going. */
	for (int64_t u = 100; u < 10100; u++)
		smtp_rate_count(r, u, t + 10000 + (u % 3) * 4000);
	int64_t late = t + 20000;
	for (int i = 0; i < 3; i++)
		smtp_rate_count(r, 5, late);
	assert_false(smtp_rate_allows(r, 5, late));
	assert_true(smtp_rate_allows(r, 6, late));
	smtp_rate_free(&r);
	assert_null(r);

	/* 0: no limit. */
	r = smtp_rate_new(0);
	for (int i = 0; i < 1000; i++)
		smtp_rate_count(r, 1, t);
	assert_true(smtp_rate_allows(r, 1, t));
	smtp_rate_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
