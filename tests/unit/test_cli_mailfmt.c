/* cli_mailfmt: Maildir names, Dovecot's keyword, uidlist and subscription
 * files, folder names, mbox splitting, From_ dates, status headers and
 * the byte conversions of `posthorn import`, each case input and exact
 * result.  Inputs are copied into exactly sized buffers. */
#include "unit.h"

#include <time.h>

#include "cli/cli_mailfmt.h"
#include "cli/cli_source.h"
#include "core/str.h"
#include "store/store.h"

#define SEEN STORE_FLAG_SEEN
#define ANS STORE_FLAG_ANSWERED
#define FLAG STORE_FLAG_FLAGGED
#define DEL STORE_FLAG_DELETED
#define DRAFT STORE_FLAG_DRAFT
#define L(c) (1u << ((c) - 'a'))

/* ---- names and keywords ---- */

static void test_name_ok(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"INBOX", true}, {"a/b/c", true}, {"Caf\xc3\xa9", true},
		{"with space", true}, {"", false}, {"/a", false}, {"a/", false},
		{"a//b", false}, {"a*", false}, {"50%", false},
		{"tab\there", false}, {"\xff", false}, {"del\x7f", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		cur = cases[i].s;
		char *p = exact(cur, strlen(cur));
		EXPECT(mailfmt_name_ok(p, strlen(cur)) == cases[i].ok);
		free(p);
	}
	char big[MAILFMT_NAME_MAX + 1];
	memset(big, 'a', sizeof(big));
	cur = "long";
	EXPECT(mailfmt_name_ok(big, MAILFMT_NAME_MAX));
	EXPECT(!mailfmt_name_ok(big, MAILFMT_NAME_MAX + 1));
}

static void test_keyword_ok(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"$Junk", true}, {"foo", true}, {"$label1", true},
		{"NonJunk", true}, {"", false}, {"\\Seen", false},
		{"a b", false}, {"a(b", false}, {"a]", false}, {"a%", false},
		{"a*", false}, {"a\"", false}, {"a{", false},
		{"caf\xc3\xa9", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		cur = cases[i].s;
		EXPECT(mailfmt_keyword_ok(cur, strlen(cur)) == cases[i].ok);
	}
}

/* ---- Maildir ---- */

static void test_maildir_info(void **state)
{
	static const struct {
		const char *name;
		size_t base;
		unsigned flags;
		uint32_t letters;
	} cases[] = {
		{"1796095414.M677879P2105.vm,S=47,W=52:2,FSab", 36,
		 FLAG | SEEN, L('a') | L('b')},
		{"x:2,DRTc", 1, DRAFT | ANS | DEL, L('c')},
		{"x:2,DFPRST", 1, DRAFT | FLAG | ANS | SEEN | DEL, 0},
		{"x:2,z", 1, 0, L('z')},
		{"x:2,", 1, 0, 0},
		{"x", 1, 0, 0},
		{"x:1,S", 1, 0, 0},
		{"x:2S", 1, 0, 0},
		{"x:2,S:2,F", 1, SEEN | FLAG, 0},
		{"x:2,Sx?0", 1, SEEN, L('x')},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		unsigned flags;
		uint32_t letters;
		cur = cases[i].name;
		size_t n = strlen(cur);
		char *p = exact(cur, n);
		EXPECT_INT(mailfmt_maildir_base(p, n), cases[i].base);
		mailfmt_maildir_info(p, n, &flags, &letters);
		EXPECT_INT(flags, cases[i].flags);
		EXPECT_INT(letters, cases[i].letters);
		free(p);
	}
}

static void test_maildir_info_write(void **state)
{
	char out[40];
	cur = "info";
	mailfmt_maildir_info_write(0, 0, out);
	EXPECT_STR(out, ":2,");
	mailfmt_maildir_info_write(SEEN | DEL | DRAFT | ANS | FLAG,
				   L('a') | L('c') | L('z'), out);
	EXPECT_STR(out, ":2,DFRSTacz");
	mailfmt_maildir_info_write(SEEN, 0x3ffffff, out);
	EXPECT_STR(out, ":2,Sabcdefghijklmnopqrstuvwxyz");
	/* and back */
	unsigned flags;
	uint32_t letters;
	mailfmt_maildir_info(out, strlen(out), &flags, &letters);
	EXPECT_INT(flags, SEEN);
	EXPECT_INT(letters, 0x3ffffff);
}

static void test_keywords_file(void **state)
{
	static const char text[] = "0 $Junk\n1 foo\r\n2 bar\n3 bad(kw\n"
				   "26 toohigh\nx y\n4\n5 \n1 foo2\n07 seven";
	char *names[MAILFMT_KEYWORDS];
	cur = text;
	char *p = exact(text, sizeof(text) - 1);
	mailfmt_keywords_parse(p, sizeof(text) - 1, names);
	EXPECT_STR(names[0], "$Junk");
	EXPECT_STR(names[1], "foo2");
	EXPECT_STR(names[2], "bar");
	EXPECT(names[3] == NULL);
	EXPECT(names[4] == NULL);
	EXPECT(names[5] == NULL);
	EXPECT_STR(names[7], "seven");
	for (int i = 8; i < MAILFMT_KEYWORDS; i++)
		EXPECT(names[i] == NULL);
	mailfmt_keywords_clear(names);
	EXPECT(names[0] == NULL);
	free(p);
}

static void test_uidlist(void **state)
{
	static const char text[] =
		"3 V1796095408 N6 Gd7e30f2fb03d0e6b3c07000083ecc375\n"
		"1 :1796095414.M677879P2105.vm,S=47,W=52\n"
		"2 W34 S30 :b.host\n"
		"5 c.host:2,S\n"
		"bad line\n"
		"0 :zero\n"
		"4294967296 :toobig\n"
		"4294967295 :max\n"
		"7 :with space";
	struct mailfmt_uid *uids;
	size_t n;
	cur = "uidlist";
	char *p = exact(text, sizeof(text) - 1);
	mailfmt_uidlist_parse(p, sizeof(text) - 1, &uids, &n);
	EXPECT_INT(n, 5);
	EXPECT_INT(mailfmt_uid_find(uids, n,
				    "1796095414.M677879P2105.vm,S=47,W=52", 36),
		   1);
	EXPECT_INT(mailfmt_uid_find(uids, n, "b.host", 6), 2);
	EXPECT_INT(mailfmt_uid_find(uids, n, "c.host", 6), 5);
	EXPECT_INT(mailfmt_uid_find(uids, n, "max", 3), 4294967295u);
	EXPECT_INT(mailfmt_uid_find(uids, n, "with space", 10), 7);
	EXPECT_INT(mailfmt_uid_find(uids, n, "zero", 4), 0);
	EXPECT_INT(mailfmt_uid_find(uids, n, "toobig", 6), 0);
	EXPECT_INT(mailfmt_uid_find(uids, n, "b.hos", 5), 0);
	EXPECT_INT(mailfmt_uid_find(uids, n, "b.hostx", 7), 0);
	/* the length, not the NUL, ends the key */
	EXPECT_INT(mailfmt_uid_find(uids, n, "b.host:2,S", 6), 2);
	mailfmt_uids_free(&uids, n);
	EXPECT(uids == NULL);
	mailfmt_uidlist_parse("", 0, &uids, &n);
	EXPECT_INT(n, 0);
	mailfmt_uids_free(&uids, n);
	free(p);
}

static void test_folder_decode(void **state)
{
	static const struct {
		const char *in;
		char sep;
		const char *out; /* NULL: refused */
	} cases[] = {
		{"Sub.Folder", '.', "Sub/Folder"},
		{"&ANw-n&AO8-", '.', "\xc3\x9cn\xc3\xaf"},
		{"inbox.x", '.', "INBOX/x"},
		{"Inbox", '/', "INBOX"},
		{"x.inbox", '.', "x/inbox"},
		{"a\\2eb.c", '.', "a.b/c"},
		{"a\\5cb", '.', "a\\b"},
		{"a\\2eb", '/', "a\\2eb"},
		{"a\\2eb", '\t', "a\\2eb"},
		{"a\\zz", '.', "a\\zz"},
		{"a\\01", '.', "a\\01"},
		{"Tom &- Jerry", '.', "Tom & Jerry"},
		{"Caf\xc3\xa9", '.', "Caf\xc3\xa9"},
		{"Sub/Folder", '/', "Sub/Folder"},
		{"Sub\tFolder", '\t', "Sub/Folder"},
		{"a.b", '/', "a.b"},
		{"a..b", '.', NULL},
		{"a.", '.', NULL},
		{".a", '.', NULL},
		{"", '.', NULL},
		{"a*", '.', NULL},
		{"\xff", '.', NULL},
		{"a\\2fb", '.', "a/b"},
		{"a\\2f\\2fb", '.', NULL},
		{"ctl\x01", '.', NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct str out = STR_INIT;
		cur = cases[i].in;
		size_t n = strlen(cur);
		char *p = exact(cur, n);
		str_appends(&out, "pre:");
		int rc = mailfmt_folder_decode(p, n, cases[i].sep, &out);
		EXPECT_INT(rc, cases[i].out ? 1 : -1);
		if (cases[i].out != NULL)
			EXPECT_STR(out.data + 4, cases[i].out);
		else
			EXPECT_STR(out.data, "pre:");
		str_free(&out);
		free(p);
	}
}

static void test_folder_encode(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"Sub/Folder", "Sub.Folder"},
		{"\xc3\x9cn\xc3\xaf", "&ANw-n&AO8-"},
		{"a.b/c", "a\\2eb.c"},
		{"a\\b", "a\\5cb"},
		{"Tom & Jerry", "Tom &- Jerry"},
		{"INBOX/x", "INBOX.x"},
		{"a//b", NULL},
		{"", NULL},
		{"x*", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct str out = STR_INIT, back = STR_INIT;
		cur = cases[i].in;
		str_appends(&out, "pre:");
		int rc = mailfmt_folder_encode(cur, &out);
		EXPECT_INT(rc, cases[i].out ? 1 : -1);
		if (cases[i].out != NULL) {
			EXPECT_STR(out.data + 4, cases[i].out);
			EXPECT_INT(mailfmt_folder_decode(out.data + 4,
							 out.len - 4, '.',
							 &back),
				   1);
			EXPECT_STR(back.data, cur);
		} else {
			EXPECT_STR(out.data, "pre:");
		}
		str_free(&out);
		str_free(&back);
	}
}

struct names {
	char buf[512];
};

static void add_name(const char *name, void *ctx)
{
	struct names *n = ctx;
	size_t len = strlen(n->buf);
	snprintf(n->buf + len, sizeof(n->buf) - len, "[%s]", name);
}

static void test_subscriptions(void **state)
{
	static const struct {
		const char *text;
		char sep;
		const char *names;
	} cases[] = {
		{"V\t2\n\nSub\tFolder\n&ANw-n&AO8-\nINBOX\n", '.',
		 "[Sub/Folder][\xc3\x9cn\xc3\xaf][INBOX]"},
		{"V\t2\n\nA\n\nB", '.', "[A][B]"},
		{"V\t2\nextra\n\nA.b\n", '.', "[A.b]"},
		{"INBOX\nSub.Folder\nA/B\n", '.', "[INBOX][Sub/Folder][A/B]"},
		{"Sub.Folder\r\n", '/', "[Sub.Folder]"},
		{"a..b\nok\n", '.', "[ok]"},
		{"", '.', ""},
		{"V\t2\n", '.', ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct names n = {{0}};
		cur = cases[i].text;
		char *p = exact(cur, strlen(cur));
		mailfmt_subscriptions_parse(p, strlen(cur), cases[i].sep,
					    add_name, &n);
		EXPECT_STR(n.buf, cases[i].names);
		free(p);
	}
	struct str out = STR_INIT;
	cur = "write";
	EXPECT_INT(mailfmt_subscription_write("Sub/\xc3\x9cn\xc3\xaf", &out),
		   1);
	EXPECT_INT(mailfmt_subscription_write("INBOX", &out), 1);
	EXPECT_INT(mailfmt_subscription_write("a//b", &out), -1);
	EXPECT_STR(out.data, "Sub\t&ANw-n&AO8-\nINBOX\n");
	str_free(&out);
}

/* ---- mbox ---- */

/* The messages of an mbox as "[from line|message]". */
static void split(const char *mbox, char *out, size_t size)
{
	struct mailfmt_mbox_msg m;
	size_t pos = 0, o = 0, len = strlen(mbox);
	char *p = exact(mbox, len);
	out[0] = '\0';
	while (mailfmt_mbox_next(p, len, &pos, &m) == 1) {
		within(p, len, p + m.from, m.from_len);
		within(p, len, p + m.off, m.len);
		o += (size_t)snprintf(out + o, size - o, "[%.*s|%.*s]",
				      (int)m.from_len, p + m.from, (int)m.len,
				      p + m.off);
	}
	EXPECT_INT(pos, len);
	free(p);
}

static void test_mbox_split(void **state)
{
	static const struct {
		const char *mbox, *want;
	} cases[] = {
		{"From a Mon Jan  1 00:00:00 2024\nS: x\n\nbody\n\n"
		 "From b Tue Jan  2 00:00:00 2024\nS: y\n\nbody2\n",
		 "[From a Mon Jan  1 00:00:00 2024|S: x\n\nbody\n]"
		 "[From b Tue Jan  2 00:00:00 2024|S: y\n\nbody2\n]"},
		/* the blank line a writer adds after the last one */
		{"From a\nS: x\n\nbody\n\n", "[From a|S: x\n\nbody\n]"},
		/* "From " not after an empty line is text */
		{"From a\nS: x\n\nhello\nFrom me to you\n",
		 "[From a|S: x\n\nhello\nFrom me to you\n]"},
		{"From a\nS: x\n\n>From quoted\n\nFrom b\nS: y\n",
		 "[From a|S: x\n\n>From quoted\n][From b|S: y\n]"},
		/* CRLF files */
		{"From a\r\nS: x\r\n\r\nb\r\n\r\nFrom c\r\nS: y\r\n",
		 "[From a|S: x\r\n\r\nb\r\n][From c|S: y\r\n]"},
		/* an empty message */
		{"From a\n\nFrom b\nX\n", "[From a|][From b|X\n]"},
		{"From a", "[From a|]"},
		{"From a\n", "[From a|]"},
		{"", ""},
		/* two empty lines: the message keeps one */
		{"From a\nX\n\n\nFrom b\nY\n", "[From a|X\n\n][From b|Y\n]"},
		/* a header right after the From_ line is the message */
		{"From a\nFrom: x\n\nb\n", "[From a|From: x\n\nb\n]"},
	};
	char out[1024];
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		cur = cases[i].mbox;
		split(cur, out, sizeof(out));
		EXPECT_STR(out, cases[i].want);
	}
}

static void test_mbox_is(void **state)
{
	cur = "is";
	EXPECT(mailfmt_mbox_is("", 0));
	EXPECT(mailfmt_mbox_is("From x", 6));
	EXPECT(mailfmt_mbox_is("From ", 5));
	EXPECT(!mailfmt_mbox_is("From", 4));
	EXPECT(!mailfmt_mbox_is("Subject: x\n", 11));
	EXPECT(!mailfmt_mbox_is("from x", 6));
}

static void test_mbox_date(void **state)
{
	static const struct {
		const char *line;
		int rc;
		int64_t t;
	} cases[] = {
		{"From a@b Mon Jan  1 00:00:00 2024", 1, 1704067200},
		{"From - Mon Jan 01 00:00:00 2024", 1, 1704067200},
		{"From a Mon Jan  1 00:00:00 2024 +0100", 1, 1704063600},
		{"From a Mon Jan  1 00:00:00 +0100 2024", 1, 1704063600},
		{"From a Mon Jan  1 00:00:00 2024 -0800", 1, 1704096000},
		{"From a Mon Jan 1 00:00 2024", 1, 1704067200},
		{"From a Thu Feb 29 12:00:00 2024 UTC", 1, 1709208000},
		{"From a Thu Feb 29 12:00:00 GMT 2024", 1, 1709208000},
		{"From MAILER-DAEMON Fri Jul  8 12:08:34 2011", 1, 1310126914},
		{"From Mon Jan  1 00:00:00 2024", 1, 1704067200},
		{"From a Fri Feb 30 00:00:00 2024", 0, 0},
		{"From a Mon Foo  1 00:00:00 2024", 0, 0},
		{"From a Mon Jan  1 24:00:00 2024", 0, 0},
		{"From a Mon Jan  1 00:60:00 2024", 0, 0},
		{"From a Mon Jan  1 00:00:00 24", 0, 0},
		{"From a", 0, 0},
		{"From ", 0, 0},
		{"Subject: Mon Jan  1 00:00:00 2024", 0, 0},
	};
	/* Without a zone the date is local time: make it UTC here. */
	setenv("TZ", "UTC", 1);
	tzset();
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int64_t t = 0;
		cur = cases[i].line;
		char *p = exact(cur, strlen(cur));
		EXPECT_INT(mailfmt_mbox_date(p, strlen(cur), &t), cases[i].rc);
		if (cases[i].rc == 1)
			EXPECT_INT(t, cases[i].t);
		free(p);
	}
}

static void test_mbox_flags(void **state)
{
	static const struct {
		const char *msg;
		unsigned flags;
		const char *kw;
		bool gone;
	} cases[] = {
		{"Status: RO\nX-Status: AF\nX-Keywords: $Junk, foo bar\n"
		 "Subject: x\n\nStatus: D\n",
		 SEEN | ANS | FLAG, "$Junk foo bar", false},
		{"status: O\nx-status: TD\n\n", DRAFT | DEL, "", false},
		{"X-Mozilla-Status: 1005\nX-Mozilla-Status2: 00000000\n"
		 "X-Mozilla-Keys: $label1 nonjunk              \n\n",
		 SEEN | FLAG, "$Forwarded $label1 nonjunk", false},
		{"X-Mozilla-Status: 0009\n\n", SEEN, "", true},
		{"X-Mozilla-Status: 0002\r\nSubject: x\r\n\r\n", ANS, "", false},
		{"X-Keywords: a\n b(ad c\n\ta\n", 0, "a c", false},
		{"X-Keywords:\n\n", 0, "", false},
		{"Subject: Status: R\n\n", 0, "", false},
		{"\nStatus: R\n", 0, "", false},
		{"Status: R", SEEN, "", false},
		{"", 0, "", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct str kw = STR_INIT;
		unsigned flags;
		bool gone;
		cur = cases[i].msg;
		char *p = exact(cur, strlen(cur));
		mailfmt_mbox_flags(p, strlen(cur), &flags, &kw, &gone);
		EXPECT_INT(flags, cases[i].flags);
		EXPECT_STR(kw.data ? kw.data : "", cases[i].kw);
		EXPECT(gone == cases[i].gone);
		str_free(&kw);
		free(p);
	}
}

/* ---- conversion ---- */

static void to_str(const char *p, size_t n, void *ctx)
{
	str_append(ctx, p, n);
}

static void test_convert(void **state)
{
	static const struct {
		const char *in;
		unsigned how;
		const char *out;
	} cases[] = {
		{"a\nb\n", MAILFMT_CRLF, "a\r\nb\r\n"},
		{"a\r\nb\n", MAILFMT_CRLF, "a\r\nb\r\n"},
		{"a\r\nb\r\n", MAILFMT_CRLF, "a\r\nb\r\n"},
		{"\n\n", MAILFMT_CRLF, "\r\n\r\n"},
		{"a\rb", MAILFMT_CRLF, "a\rb"},
		{"no newline", MAILFMT_CRLF, "no newline"},
		{">From x\n", MAILFMT_UNQUOTE, "From x\n"},
		{">>From x\n", MAILFMT_UNQUOTE, ">From x\n"},
		{">From x\n", MAILFMT_CRLF, ">From x\r\n"},
		{"> From x\n>from x\nx>From y\n", MAILFMT_UNQUOTE,
		 "> From x\n>from x\nx>From y\n"},
		{"a\n>From b\nc", MAILFMT_CRLF | MAILFMT_UNQUOTE,
		 "a\r\nFrom b\r\nc"},
		{">From ", MAILFMT_UNQUOTE, "From "},
		{">From", MAILFMT_UNQUOTE, ">From"},
		{"", MAILFMT_CRLF | MAILFMT_UNQUOTE, ""},
		{"a\nb", 0, "a\nb"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct str out = STR_INIT;
		cur = cases[i].in;
		size_t n = strlen(cur);
		char *p = exact(cur, n);
		uint64_t len = mailfmt_convert(p, n, cases[i].how, to_str,
					       &out);
		EXPECT_INT(len, out.len);
		EXPECT_MEM(out.data ? out.data : "", out.len, cases[i].out);
		EXPECT(mailfmt_convert_needed(p, n, cases[i].how) ==
		       (strcmp(cases[i].in, cases[i].out) != 0));
		str_free(&out);
		free(p);
	}
}

/* ---- cli_source ---- */

static void test_source_rel(void **state)
{
	static const struct {
		const char *rel;
		bool ok;
	} cases[] = {
		{"", true}, {"a/b", true}, {".Sub/cur/x:2,S", true},
		{"..a", true}, {"a/..b", true}, {"a/.", true},
		{"..", false}, {"../x", false}, {"a/../b", false},
		{"a/..", false}, {"/etc/passwd", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		cur = cases[i].rel;
		EXPECT(cli_source_rel_ok(cur) == cases[i].ok);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_ok),
		cmocka_unit_test(test_keyword_ok),
		cmocka_unit_test(test_maildir_info),
		cmocka_unit_test(test_maildir_info_write),
		cmocka_unit_test(test_keywords_file),
		cmocka_unit_test(test_uidlist),
		cmocka_unit_test(test_folder_decode),
		cmocka_unit_test(test_folder_encode),
		cmocka_unit_test(test_subscriptions),
		cmocka_unit_test(test_mbox_split),
		cmocka_unit_test(test_mbox_is),
		cmocka_unit_test(test_mbox_date),
		cmocka_unit_test(test_mbox_flags),
		cmocka_unit_test(test_convert),
		cmocka_unit_test(test_source_rel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
