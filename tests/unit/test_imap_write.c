/* imap_write and imap_date_time_write: every output byte-exact, and what
 * is written reads back through the command parser as the same text. */
#include "unit.h"

#include "core/str.h"
#include "imap/imap_date.h"
#include "imap/imap_fetch_parse.h"
#include "imap/imap_parse.h"
#include "imap/imap_write.h"

enum form { ASTRING, STRING, NSTRING };

struct wcase {
	enum form form;
	bool utf8;
	const char *in;		/* NULL: nil */
	const char *want;
};

static const struct wcase wcases[] = {
	{ASTRING, false, "abc", "abc"},
	{ASTRING, false, "a]b", "a]b"},
	{ASTRING, false, "~peter/mail/&U,BTFw-", "~peter/mail/&U,BTFw-"},
	{ASTRING, false, "", "\"\""},
	{ASTRING, false, "NIL", "\"NIL\""},
	{ASTRING, false, "nIl", "\"nIl\""},
	{ASTRING, false, "NILS", "NILS"},
	{ASTRING, false, "a b", "\"a b\""},
	{ASTRING, false, "a%b", "\"a%b\""},
	{ASTRING, false, "*", "\"*\""},
	{ASTRING, false, "(", "\"(\""},
	{ASTRING, false, "{5}", "\"{5}\""},
	{ASTRING, false, "a\"b\\c", "\"a\\\"b\\\\c\""},
	{ASTRING, false, "\"", "\"\\\"\""},
	{ASTRING, false, "a\tb", "\"a\tb\""},
	{ASTRING, false, "a\r\nb", "{4}\r\na\r\nb"},
	{ASTRING, false, "\xc3\xa9", "{2}\r\n\xc3\xa9"},
	{ASTRING, true, "\xc3\xa9", "\"\xc3\xa9\""},
	{ASTRING, true, "\xc3", "{1}\r\n\xc3"},
	{STRING, false, "abc", "\"abc\""},
	{STRING, false, "", "\"\""},
	{STRING, false, "\\", "\"\\\\\""},
	{STRING, true, "a\nb", "{3}\r\na\nb"},
	{NSTRING, false, NULL, "NIL"},
	{NSTRING, false, "NIL", "\"NIL\""},
	{NSTRING, false, "x", "\"x\""},
};

static void write_form(struct str *o, const struct wcase *c, const char *s,
		       size_t n)
{
	if (c->form == ASTRING)
		imap_write_astring(o, s, n, c->utf8);
	else if (c->form == STRING)
		imap_write_string(o, s, n, c->utf8);
	else
		imap_write_nstring(o, s, n, c->utf8);
}

/* What was written reads back as the same string. */
static void read_back(const struct wcase *c, const struct str *o)
{
	struct imap_parser *p = imap_parser_new(o->data, o->len,
						c->utf8 ? IMAP_PARSE_UTF8 : 0);
	struct imap_string s;
	int rc = c->form == ASTRING ? imap_parse_astring(p, &s)
		 : c->form == STRING ? imap_parse_string(p, &s)
				     : imap_parse_nstring(p, &s);
	EXPECT_INT(rc, 1);
	EXPECT(imap_parse_at_end(p));
	if (c->in == NULL)
		EXPECT(s.data == NULL);
	else
		EXPECT_MEM(s.data, s.len, c->in);
	imap_parser_free(&p);
}

static void test_strings(void **state)
{
	for (size_t i = 0; i < sizeof(wcases) / sizeof(wcases[0]); i++) {
		const struct wcase *c = &wcases[i];
		struct str o = STR_INIT;
		size_t n = c->in ? strlen(c->in) : 0;
		char *buf = c->in ? exact(c->in, n) : NULL;
		cur = c->in ? c->in : "(nil)";
		str_appends(&o, "");
		write_form(&o, c, buf, n);
		EXPECT_STR(o.data, c->want);
		read_back(c, &o);
		free(buf);
		str_free(&o);
	}
}

/* IMAP_WRITE_QUOTED_MAX bytes are quoted, one more goes as a literal. */
static void test_long(void **state)
{
	char big[IMAP_WRITE_QUOTED_MAX + 1];
	struct str o = STR_INIT;
	memset(big, 'x', sizeof(big));
	big[0] = ' ';
	cur = "long";
	imap_write_astring(&o, big, IMAP_WRITE_QUOTED_MAX, false);
	EXPECT_INT(o.len, IMAP_WRITE_QUOTED_MAX + 2);
	EXPECT(o.data[0] == '"' && o.data[o.len - 1] == '"');
	str_clear(&o);
	imap_write_astring(&o, big, sizeof(big), false);
	EXPECT(strncmp(o.data, "{1025}\r\n ", 9) == 0);
	EXPECT_INT(o.len, 8 + sizeof(big));
	str_free(&o);
}

static void test_seqset(void **state)
{
	const struct imap_seq_range r[] = {
		{1, 3, false}, {5, 5, false}, {IMAP_SEQ_STAR, 7, false},
		{0, 0, true}, {9, IMAP_SEQ_STAR, false},
		{4294967295u, 4294967295u, false}};
	struct str o = STR_INIT;
	cur = "seqset";
	imap_write_seqset(&o, r, 6);
	EXPECT_STR(o.data, "1:3,5,*:7,$,9:*,4294967295");
	str_free(&o);
}

static void test_fetch_names(void **state)
{
	static const struct {
		const char *att, *name;
	} t[] = {
		{"FLAGS", "FLAGS"},
		{"RFC822.SIZE", "RFC822.SIZE"},
		{"RFC822.HEADER", "RFC822.HEADER"},
		{"RFC822", "RFC822"},
		{"BODY", "BODY"},
		{"BODYSTRUCTURE", "BODYSTRUCTURE"},
		{"BODY[]", "BODY[]"},
		{"BODY.PEEK[]<0.1024>", "BODY[]<0>"},
		{"body.peek[1.2.header.fields (From \"a b\" NIL)]<5.10>",
		 "BODY[1.2.HEADER.FIELDS (From \"a b\" \"NIL\")]<5>"},
		{"BODY[HEADER.FIELDS.NOT (X)]", "BODY[HEADER.FIELDS.NOT (X)]"},
		{"BODY[3.MIME]", "BODY[3.MIME]"},
		{"BODY[3.TEXT]", "BODY[3.TEXT]"},
		{"BODY[3.1]", "BODY[3.1]"},
		{"BINARY.PEEK[1]<0.5>", "BINARY[1]<0>"},
		{"BINARY[]", "BINARY[]"},
		{"BINARY.SIZE[2.3]", "BINARY.SIZE[2.3]"},
		{"PREVIEW (LAZY)", "PREVIEW"},
		{"EMAILID", "EMAILID"},
		{"SAVEDATE", "SAVEDATE"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct imap_parser *p = imap_parser_new(t[i].att,
							strlen(t[i].att), 0);
		struct imap_fetch_att a;
		struct str o = STR_INIT;
		cur = t[i].att;
		EXPECT_INT(imap_fetch_parse_att(p, &a), 1);
		EXPECT(imap_parse_at_end(p));
		imap_write_fetch_name(&o, &a);
		EXPECT_STR(o.data, t[i].name);
		imap_parser_free(&p);
		str_free(&o);
	}
}

static void test_date_time(void **state)
{
	static const struct {
		int64_t t;
		int zone;
		const char *want;
	} t[] = {
		{837596665, -420, "\"17-Jul-1996 02:44:25 -0700\""},
		{0, 0, "\" 1-Jan-1970 00:00:00 +0000\""},
		{-1, 0, "\"31-Dec-1969 23:59:59 +0000\""},
		{951782400, 90, "\"29-Feb-2000 01:30:00 +0130\""},
		{951782400, -1, "\"28-Feb-2000 23:59:00 -0001\""},
		{1700000000, 330, "\"15-Nov-2023 03:43:20 +0530\""},
		{-62167219200, 0, "\" 1-Jan-0000 00:00:00 +0000\""},
		{-62167219201, 0, "\" 1-Jan-0000 00:00:00 +0000\""},
		{-62167219200, -60, "\" 1-Jan-0000 00:00:00 -0100\""},
		{253402300799, 0, "\"31-Dec-9999 23:59:59 +0000\""},
		{INT64_MAX, 0, "\"31-Dec-9999 23:59:59 +0000\""},
		{INT64_MIN, 0, "\" 1-Jan-0000 00:00:00 +0000\""},
		{0, 6000, "\" 1-Jan-1970 00:00:00 +0000\""},
		{0, 5999, "\" 5-Jan-1970 03:59:00 +9959\""},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str o = STR_INIT;
		int64_t back;
		int zone;
		cur = t[i].want;
		imap_date_time_write(&o, t[i].t, t[i].zone);
		EXPECT_STR(o.data, t[i].want);
		/* Within the range, it parses back to the same moment. */
		EXPECT_INT(imap_date_time_parse(o.data + 1, o.len - 2, &back,
						&zone),
			   1);
		if (t[i].t >= -62167219200 && t[i].t <= 253402300799 &&
		    t[i].zone != 6000 && i < 8) {
			EXPECT(back == t[i].t);
			EXPECT_INT(zone, t[i].zone);
		}
		str_free(&o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_fetch_names),
		cmocka_unit_test(test_date_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
