/* mime_sort: each case is a header value and the exact sort key that must
 * come out, from RFC 5256 (base subject, sent date), RFC 5322 (its date
 * and address examples, obsolete forms included) and RFC 5957 (display
 * names).  Inputs are copied into buffers of exactly their length, so a
 * read past the end trips ASan. */
#include "unit.h"

#include <stdbool.h>

#include "mime/mime_sort.h"

/* ---- base subject ---- */

static void test_base_subject(void **state)
{
	static const struct {
		const char *in, *want;
		bool reply;
	} t[] = {
		{"", "", false},
		{"subject", "subject", false},
		/* Step (1): tabs, continuations, runs of spaces. */
		{"a\tb", "a b", false},
		{"a  \t b", "a b", false},
		{"folded\r\n subject", "folded subject", false},
		{"  lots   of   spaces  ", "lots of spaces", false},
		/* Step (2): trailers, repeatedly. */
		{"subject (fwd)", "subject", true},
		{"subject(FWD)", "subject", true},
		{"subject (fwd) (Fwd)  ", "subject", true},
		{"subject (fwd) x", "subject (fwd) x", false},
		{"(fwd)", "", true},
		{"subject (fw)", "subject (fw)", false},
		/* Step (3): leaders. */
		{"Re: subject", "subject", true},
		{"RE:subject", "subject", true},
		{"re:  subject", "subject", true},
		{"Fw: subject", "subject", true},
		{"FWD: subject", "subject", true},
		{"fwd : subject", "subject", true},
		{"Re[2]: subject", "subject", true},
		{"Re [2] : subject", "subject", true},
		{"Re[PATCH]: subject", "subject", true},
		{"Re: Re: Fwd: Re: subject", "subject", true},
		{"Re:", "", true},
		{"Re: ", "", true},
		{"[list] Re: subject", "subject", true},
		{"[a][b] re: subject", "subject", true},
		{"Re: [list] Fwd: subject", "subject", true},
		/* Not leaders. */
		{"Reply: subject", "Reply: subject", false},
		{"Fwd subject", "Fwd subject", false},
		{"fw d: subject", "fw d: subject", false},
		{"Sv: subject", "Sv: subject", false},
		{"Re subject", "Re subject", false},
		{"Re [x subject", "Re [x subject", false},
		/* Step (4): blobs, unless nothing would be left. */
		{"[list] subject", "subject", false},
		{"[PATCH v2 1/3] fix the thing", "fix the thing", false},
		{"[a][b] subject", "subject", false},
		{"[a] [b] subject", "subject", false},
		{"[list]", "[list]", false},
		{"[a] [b]", "[b]", false},
		{"[a][b][c]", "[c]", false},
		{"Re: [list]", "[list]", true},
		{"[list] ", "[list]", false},
		{"[] subject", "subject", false},
		{"[unterminated subject", "[unterminated subject", false},
		{"[a[b] subject", "[a[b] subject", false},
		{"\xc3\xb1" "[x] y", "\xc3\xb1" "[x] y", false},
		{"[\xc3\xb1" "ews] t\xc3\xadtulo", "t\xc3\xadtulo", false},
		/* Step (6): "[fwd: ...]" wrapping, then again from (2). */
		{"[fwd: subject]", "subject", true},
		{"[FWD: subject]", "subject", true},
		{"[fwd:subject]", "subject", true},
		{"[fwd: Re: subject]", "subject", true},
		{"Re: [fwd: subject]", "subject", true},
		{"[fwd: [fwd: subject]]", "subject", true},
		{"[fwd: subject (fwd)]", "subject", true},
		{"[fwd: [list] subject] (fwd)", "subject", true},
		{"Re: [fwd: [list] x] (fwd)", "x", true},
		{"[fwd:]", "", true},
		/* A blob is removed first when text follows it. */
		{"[fwd: subject] trailing", "trailing", false},
		{"[fwd: subject", "[fwd: subject", false},
		{"[fwd subject]", "[fwd subject]", false},
		/* The brief's example, step by step: (2) drops " (fwd)", (3)
		 * "Re:", " " and "[list] Fwd:", then " ". */
		{"Re: [list] Fwd: subject (fwd)", "subject", true},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str out = STR_INIT;
		size_t len = strlen(t[i].in);
		char *buf = exact(t[i].in, len);
		bool reply = !t[i].reply;
		cur = t[i].in;
		str_appends(&out, "x");
		mime_base_subject(buf, len, &out, &reply);
		EXPECT_STR(out.data + 1, t[i].want);
		EXPECT_INT(reply, t[i].reply);
		/* The base subject is its own base subject. */
		str_truncate(&out, 0);
		mime_base_subject(t[i].want, strlen(t[i].want), &out, NULL);
		EXPECT_STR(out.len ? out.data : "", t[i].want);
		free(buf);
		str_free(&out);
	}
}

/* Long runs of blobs and nested wrappings finish (the steps are linear:
 * quadratic work here would not). */
static void test_base_subject_large(void **state)
{
	struct str in = STR_INIT, out = STR_INIT;
	bool reply;
	for (int i = 0; i < 100000; i++)
		str_appends(&in, "[a] ");
	str_appends(&in, "x");
	cur = "100000 blobs";
	mime_base_subject(in.data, in.len, &out, &reply);
	EXPECT_STR(out.data, "x");
	EXPECT(!reply);

	str_truncate(&in, 0);
	str_truncate(&out, 0);
	for (int i = 0; i < 100000; i++)
		str_appends(&in, "[a]");
	cur = "100000 blobs alone";
	mime_base_subject(in.data, in.len, &out, &reply);
	EXPECT_STR(out.data, "[a]");

	str_truncate(&in, 0);
	str_truncate(&out, 0);
	for (int i = 0; i < 50000; i++)
		str_appends(&in, "[fwd: re: ");
	str_appends(&in, "x");
	for (int i = 0; i < 50000; i++)
		str_appends(&in, "]");
	cur = "50000 wrappings";
	mime_base_subject(in.data, in.len, &out, &reply);
	EXPECT_STR(out.data, "x");
	EXPECT(reply);
	str_free(&in);
	str_free(&out);
}

/* ---- dates ---- */

static void test_date(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t t;
	} t[] = {
		{"Thu, 01 Jan 1970 00:00:00 +0000", 1, 0},
		/* RFC 5322 appendix A. */
		{"Fri, 21 Nov 1997 09:55:06 -0600", 1, 880127706},
		{"Tue, 1 Jul 2003 10:52:37 +0200", 1, 1057049557},
		{"Thu, 13 Feb 1969 23:32:54 -0330", 1, -27723426},
		{"Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      "
		 "23:32\r\n               -0330 (Newfoundland Time)",
		 1, -27723480},
		{"21 Nov 97 09:55:06 GMT", 1, 880106106},
		{"Fri, 21 Nov 1997 09(comment):   55  :  06 -0600", 1,
		 880127706},
		/* Day of week optional, any case, full names. */
		{"21 Nov 1997 09:55:06 -0600", 1, 880127706},
		{"FRI, 21 NOV 1997 09:55:06 -0600", 1, 880127706},
		{"Friday, 21 November 1997 09:55:06 -0600", 1, 880127706},
		{"Fri 21 Nov 1997 09:55:06 -0600", 1, 880127706},
		{"Sat, 21 Nov 1997 09:55:06 -0600", 1, 880127706},
		{"Mon, 2 Jan 2006 15:04:05 -0700 (MST)", 1, 1136239445},
		{"2-Jan-2006 15:04:05 -0700", 1, 1136239445},
		{"  Mon ,  2  Jan  2006  15 : 04 : 05  -0700  ", 1, 1136239445},
		{"(c) Mon, (c) 2 (c) Jan (c) 2006 (c) 15:04:05 (c) -0700 (c)", 1,
		 1136239445},
		{"Mon, 2 Jan 2006 15:04:05 -0700 trailing junk", 1, 1136239445},
		/* Two- and three-digit years (RFC 5322 4.3). */
		{"1 Jan 49 00:00:00 +0000", 1, 2493072000},
		{"1 Jan 50 00:00:00 +0000", 1, -631152000},
		{"1 Jan 00 00:00:00 +0000", 1, 946684800},
		{"1 Jan 103 00:00:00 +0000", 1, 1041379200},
		/* Zones. */
		{"1 Jan 2000 00:00:00 UT", 1, 946684800},
		{"1 Jan 2000 00:00:00 GMT", 1, 946684800},
		{"1 Jan 2000 00:00:00 gmt", 1, 946684800},
		{"1 Jan 2000 00:00:00 Z", 1, 946684800},
		{"1 Jan 2000 00:00:00 EST", 1, 946684800 + 5 * 3600},
		{"1 Jan 2000 00:00:00 EDT", 1, 946684800 + 4 * 3600},
		{"1 Jan 2000 00:00:00 CST", 1, 946684800 + 6 * 3600},
		{"1 Jan 2000 00:00:00 CDT", 1, 946684800 + 5 * 3600},
		{"1 Jan 2000 00:00:00 MST", 1, 946684800 + 7 * 3600},
		{"1 Jan 2000 00:00:00 MDT", 1, 946684800 + 6 * 3600},
		{"1 Jan 2000 00:00:00 PST", 1, 946684800 + 8 * 3600},
		{"1 Jan 2000 00:00:00 pdt", 1, 946684800 + 7 * 3600},
		{"1 Jan 2000 00:00:00 -0000", 1, 946684800},
		{"1 Jan 2000 00:00:00 +0130", 1, 946684800 - 5400},
		{"1 Jan 2000 00:00:00 -0930", 1, 946684800 + 34200},
		{"29 Feb 2024 23:59:59 +2500", 1, 1709161199},
		/* Military zones other than Z, unknown, malformed or missing
		 * zones: UTC. */
		{"1 Jan 2000 00:00:00 A", 1, 946684800},
		{"1 Jan 2000 00:00:00 y", 1, 946684800},
		{"1 Jan 2000 00:00:00 CEST", 1, 946684800},
		{"1 Jan 2000 00:00:00", 1, 946684800},
		{"1 Jan 2000 00:00", 1, 946684800},
		{"1 Jan 2000 00:00:00 +0960", 1, 946684800},
		{"1 Jan 2000 00:00:00 +01", 1, 946684800},
		{"1 Jan 2000 00:00:00 +01:00", 1, 946684800},
		{"1 Jan 2000 00:00:00 +", 1, 946684800},
		/* Leap seconds and leap days. */
		{"31 Dec 1998 23:59:60 +0000", 1, 915148800},
		{"29 Feb 2000 12:00:00 +0000", 1, 951825600},
		{"31 Dec 9999 23:59:59 +0000", 1, 253402300799},
		{"1 Jan 1900 00:00:00 +0000", 1, -2208988800},
		{"1 Jan 0001 00:00:00 +0000", 1, -62135596800},
		/* Not dates. */
		{"", 0, 0},
		{"garbage", 0, 0},
		{"Mon, 2 Jan 2006", 0, 0},
		{"Mon, 2 Jan 2006 15", 0, 0},
		{"Mon, 2 Jan 2006 15:", 0, 0},
		{"Mon, 2 Jan 2006 15:04:", 0, 0},
		{"Xyz, 2 Jan 2006 15:04:05 +0000", 0, 0},
		{"Mo, 2 Jan 2006 15:04:05 +0000", 0, 0},
		{"2 Foo 2006 15:04:05 +0000", 0, 0},
		{"2 Ja 2006 15:04:05 +0000", 0, 0},
		{"2 Janu 2006 15:04:05 +0000", 1, 1136214245},
		{"2 Janx 2006 15:04:05 +0000", 0, 0},
		{"Jan 2 2006 15:04:05", 0, 0},
		{"2 Jan 15:04:05", 0, 0},
		{"2 Jan 1 15:04:05 +0000", 0, 0},
		{"2 Jan 12345 15:04:05 +0000", 0, 0},
		{"2 Jan 0000 15:04:05 +0000", 0, 0},
		{"123 Jan 2006 15:04:05 +0000", 0, 0},
		{"2 Jan 2006 123:04:05 +0000", 0, 0},
		{"2 Jan 2006 15:004:05 +0000", 0, 0},
		{"29 Feb 1900 00:00:00 +0000", 0, 0},
		{"29 Feb 2023 00:00:00 +0000", 0, 0},
		{"30 Feb 2000 00:00:00 +0000", 0, 0},
		{"31 Apr 2000 00:00:00 +0000", 0, 0},
		{"32 Jan 2000 00:00:00 +0000", 0, 0},
		{"0 Jan 2000 00:00:00 +0000", 0, 0},
		{"1 Jan 2000 24:00:00 +0000", 0, 0},
		{"1 Jan 2000 23:60:00 +0000", 0, 0},
		{"1 Jan 2000 23:59:61 +0000", 0, 0},
		{"1 Jan 2000 00.00.00 +0000", 0, 0},
		{"(unterminated 1 Jan 2000 00:00:00 +0000", 0, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = strlen(t[i].in);
		char *buf = exact(t[i].in, len);
		int64_t when = 12345;
		cur = t[i].in;
		EXPECT_INT(mime_parse_date(buf, len, &when), t[i].rc);
		EXPECT_INT(when, t[i].rc ? t[i].t : 12345);
		free(buf);
	}
}

/* The date as written: its zone left out, also where it is unknown. */
static void test_date_local(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t t;
	} t[] = {
		{"Sat, 24 Mar 2007 23:00:00 +0200", 1, 1174777200},
		{"Sun, 25 Mar 2007 00:30:00 +0200", 1, 1174782600},
		{"Sun, 25 Mar 2007 23:30:00 -0500", 1, 1174865400},
		{"26 Mar 07 01:00 EST", 1, 1174870800},
		{"1 Jan 1970 00:00:00 +1400", 1, 0},
		{"31 Dec 1969 23:59:59 Z", 1, -1},
		{"not a date", 0, 0},
		{"25 Mar 2007", 0, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = strlen(t[i].in);
		char *buf = exact(t[i].in, len);
		int64_t when = 12345, utc = 0;
		cur = t[i].in;
		EXPECT_INT(mime_parse_date_local(buf, len, &when), t[i].rc);
		EXPECT_INT(when, t[i].rc ? t[i].t : 12345);
		EXPECT_INT(mime_parse_date(buf, len, &utc), t[i].rc);
		free(buf);
	}
}

/* ---- addresses ---- */

static void test_address(void **state)
{
	static const struct {
		const char *in, *mailbox, *display;
	} t[] = {
		{"", "", ""},
		{"John Doe <john@example.com>", "john", "John Doe"},
		{"john@example.com", "john", "john@example.com"},
		{"<john@example.com>", "john", "john@example.com"},
		{"\"\" <john@example.com>", "john", "john@example.com"},
		{"John@Example.COM", "John", "John@Example.COM"},
		/* RFC 5322 appendix A. */
		{"\"Joe Q. Public\" <john.q.public@example.com>", "john.q.public",
		 "Joe Q. Public"},
		{"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
		 "mary", "Mary Smith"},
		{"<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
		 "boss", "boss@nil.test"},
		{"\"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
		 "sysservices", "Giant; \"Big\" Box"},
		{"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
		 "A Group", "A Group"},
		{"Undisclosed recipients:;", "Undisclosed recipients",
		 "Undisclosed recipients"},
		{"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
		 "pete", "Pete"},
		{"Joe Q. Public <john.q.public@example.com>", "john.q.public",
		 "Joe Q. Public"},
		{"<@machine.tld:mary@example.net>, , jdoe@test  . example",
		 "mary", "mary@example.net"},
		{"<@a.test,@b.test:user@host>", "user", "user@host"},
		/* Empty list elements first (obs-addr-list). */
		{", , john@x", "john", "john@x"},
		{" ,;, Ann <a@x>", "a", "Ann"},
		/* Old style: a comment after the address names it. */
		{"john@example.com (John Doe)", "john", "John Doe"},
		{"<john@example.com> (John Doe)", "john", "John Doe"},
		{"john@example.com ()", "john", "john@example.com"},
		{"john@example.com (John \\(Jr\\))", "john", "John (Jr)"},
		{"john@example.com (unterminated", "john", "unterminated"},
		{"(Comment only)", "", ""},
		/* RFC 2047 in display names, and in quotes as many send. */
		{"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>", "keld",
		 "Keld J\xc3\xb8rn Simonsen"},
		{"=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "moore",
		 "Keith Moore"},
		{"\"=?utf-8?q?Andr=C3=A9?=\" <a@x>", "a", "Andr\xc3\xa9"},
		{"=?utf-8?q?a?= =?utf-8?q?b?= <a@x>", "a", "ab"},
		{"x@y (=?utf-8?q?Andr=C3=A9?=)", "x", "Andr\xc3\xa9"},
		/* 8-bit names: UTF-8 kept, else windows-1252. */
		{"J\xc3\xb6rg <j@x>", "j", "J\xc3\xb6rg"},
		{"J\xf6rg <j@x>", "j", "J\xc3\xb6rg"},
		/* Quoted local parts are unquoted. */
		{"\"john doe\"@example.com", "john doe", "john doe@example.com"},
		{"\"a\\\"b\"@x", "a\"b", "a\"b@x"},
		{"Name <\"john doe\"@example.com>", "john doe", "Name"},
		/* Odd and broken forms. */
		{"postmaster", "postmaster", "postmaster"},
		{"<postmaster>", "postmaster", "postmaster"},
		{"<>", "", ""},
		{"Name <>", "", "Name"},
		{"user@[192.0.2.1]", "user", "user@[192.0.2.1]"},
		{"Name <user@host", "user", "Name"},
		{"Name user@host", "Nameuser", "Nameuser@host"},
		{"\"unterminated <a@b>", "unterminated <a@b>",
		 "unterminated <a@b>"},
		{"@host", "", ""},
		{">john@x", "john", "john@x"},
		{"Ann <a@x> (work)", "a", "Ann"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str mailbox = STR_INIT, display = STR_INIT;
		size_t len = strlen(t[i].in);
		char *buf = exact(t[i].in, len);
		cur = t[i].in;
		str_appends(&mailbox, ">");
		str_appends(&display, ">");
		mime_sort_address(buf, len, &mailbox, &display);
		EXPECT_STR(mailbox.data + 1, t[i].mailbox);
		EXPECT_STR(display.data + 1, t[i].display);
		/* Either output may be left out. */
		str_truncate(&mailbox, 0);
		mime_sort_address(buf, len, &mailbox, NULL);
		EXPECT_STR(mailbox.len ? mailbox.data : "", t[i].mailbox);
		str_truncate(&display, 0);
		mime_sort_address(buf, len, NULL, &display);
		EXPECT_STR(display.len ? display.data : "", t[i].display);
		free(buf);
		str_free(&mailbox);
		str_free(&display);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_base_subject_large),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_date_local),
		cmocka_unit_test(test_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
