/* imap_utf7: modified UTF-7 (RFC 3501 5.1.3) both ways, byte-exact, with
 * RFC 3501's example, the canonical-form rules and every refusal; inputs
 * from exactly sized heap buffers. */
#include "unit.h"

#include "core/str.h"
#include "imap/imap_utf7.h"

struct pair {
	const char *utf8, *mutf7;
};

/* Valid both ways: encode(utf8) == mutf7 and decode(mutf7) == utf8. */
static const struct pair pairs[] = {
	{"", ""},
	{"INBOX", "INBOX"},
	{" ~!\"#$%()*+,-./:;<=>?@[\\]^_`{|}~", " ~!\"#$%()*+,-./:;<=>?@[\\]^_`{|}~"},
	/* RFC 3501 5.1.3's example. */
	{"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
	 "\xe8\xaa\x9e",
	 "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	{"&", "&-"},
	{"a&b", "a&-b"},
	{"&&", "&-&-"},
	{"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
	{"\xe2\x98\xba!", "&Jjo-!"},
	{"\xc3\xa1&", "&AOE-&-"},
	{"&\xc3\xa1", "&-&AOE-"},
	{"\xc2\x80", "&AIA-"},
	{"\xf0\x9f\x98\x80", "&2D3eAA-"},
	{"\xf4\x8f\xbf\xbf", "&2,,f,w-"},
	{"\xef\xbf\xbd", "&,,0-"},
	{"\xc3\xa9\xf0\x9f\x98\x80\xc3\xa9", "&AOnYPd4AAOk-"},
	{"\xc3\xa9-\xc3\xa9", "&AOk--&AOk-"},
	{"a\xc3\xa9" "b\xc3\xa9" "c", "a&AOk-b&AOk-c"},
	/* 8 BASE64 characters, 9 bytes of UTF-8: decoding can grow. */
	{"\xe7\x9c\xab\xe5\x9e\x8a\xe4\xa4\x92\xe7\x9c\xab\xe5\x9e\x8a"
	 "\xe4\xa4\x92\xe7\x9c\xab\xe5\x9e\x8a\xe4\xa4\x92",
	 "&dytXikkSdytXikkSdytXikkS-"},
};

static const char *const bad_utf8[] = {
	"a\tb", "\x7f", "\x01", "\xc3", "\xc3\x28", "\xed\xa0\x80",
	"\xed\xbf\xbf", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf",
	"\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff",
	"\x80", "abc\xe2\x98", "\xc3\xa9\x0a",
};

static const char *const bad_mutf7[] = {
	"&",		/* unterminated */
	"a&",
	"&U,BTFw",	/* no "-" */
	"&U,B!Fw-",	/* not BASE64 */
	"&U/BTFw-",	/* "/" is plain BASE64, not modified */
	"&Jjo=-",	/* padding */
	"&AGE-",	/* "a" encoded */
	"&AC0-",	/* "-" encoded */
	"&ACY-",	/* "&" encoded */
	"&AGEAYg-",	/* "ab" encoded */
	"&AAA-",	/* NUL */
	"&AAk-",	/* TAB */
	"&AH8-",	/* DEL */
	"&Jjo-&Jjo-",	/* a null shift: "-&" */
	"&Jjp-",	/* padding bits not zero */
	"&JjoA-",	/* a whole character of padding */
	"&Jj-",		/* less than one UTF-16 unit */
	"&2D0-",	/* a lone high surrogate */
	"&2D3YPQ-",	/* high then high */
	"&3gA-",	/* a lone low surrogate */
	"&3gDYPQ-",	/* low then high */
	"a\x80",	/* 8-bit */
	"\xc3\xa9",
	"a\tb",		/* control */
	"a\r\n",
	"&-&",
};

static void test_pairs(void **state)
{
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct str o = STR_INIT;
		size_t n = strlen(pairs[i].utf8);
		char *buf = exact(pairs[i].utf8, n);
		cur = pairs[i].utf8;
		EXPECT_INT(imap_utf7_encode(buf, n, &o), 1);
		EXPECT_STR(o.len ? o.data : "", pairs[i].mutf7);
		EXPECT(imap_utf7_utf8_valid(buf, n));
		free(buf);
		str_free(&o);

		n = strlen(pairs[i].mutf7);
		buf = exact(pairs[i].mutf7, n);
		cur = pairs[i].mutf7;
		EXPECT_INT(imap_utf7_decode(buf, n, &o), 1);
		EXPECT_STR(o.len ? o.data : "", pairs[i].utf8);
		EXPECT(o.len <= n + n / 8);
		EXPECT(imap_utf7_valid(buf, n));
		free(buf);
		str_free(&o);
	}
}

/* A refusal leaves what was in the output before. */
static void test_refused(void **state)
{
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		struct str o = STR_INIT;
		size_t n = strlen(bad_utf8[i]);
		char *buf = exact(bad_utf8[i], n);
		cur = bad_utf8[i];
		str_appends(&o, "keep");
		EXPECT_INT(imap_utf7_encode(buf, n, &o), -1);
		EXPECT_STR(o.data, "keep");
		free(buf);
		str_free(&o);
	}
	for (size_t i = 0; i < sizeof(bad_mutf7) / sizeof(bad_mutf7[0]); i++) {
		struct str o = STR_INIT;
		size_t n = strlen(bad_mutf7[i]);
		char *buf = exact(bad_mutf7[i], n);
		cur = bad_mutf7[i];
		str_appends(&o, "keep");
		EXPECT_INT(imap_utf7_decode(buf, n, &o), -1);
		EXPECT_STR(o.data, "keep");
		EXPECT(!imap_utf7_valid(buf, n));
		free(buf);
		str_free(&o);
	}
	struct str o = STR_INIT;
	cur = "NUL inside";
	EXPECT_INT(imap_utf7_encode("a\0b", 3, &o), -1);
	EXPECT_INT(imap_utf7_decode("a\0b", 3, &o), -1);
	EXPECT_INT(o.len, 0);
	str_free(&o);
}

/* Control characters pass the plain UTF-8 check (quoted strings may hold
 * them) but not the encoder. */
static void test_utf8_valid(void **state)
{
	cur = "utf8_valid";
	EXPECT(imap_utf7_utf8_valid("a\tb", 3));
	EXPECT(imap_utf7_utf8_valid("", 0));
	EXPECT(imap_utf7_utf8_valid("\xf4\x8f\xbf\xbf", 4));
	EXPECT(!imap_utf7_utf8_valid("\xf4\x8f\xbf", 3));
	EXPECT(!imap_utf7_utf8_valid("\xed\xa0\x80", 3));
	EXPECT(!imap_utf7_utf8_valid("\xe0\x9f\xbf", 3));
	EXPECT(imap_utf7_utf8_valid("\xe0\xa0\x80", 3));
}

/* Every code point of a few planes round-trips, alone and between
 * ASCII. */
static void test_roundtrip(void **state)
{
	static const uint32_t ranges[][2] = {
		{0x80, 0x7ff}, {0x800, 0xd7ff}, {0xe000, 0xffff},
		{0x10000, 0x10fff}, {0x10f000, 0x10ffff}};
	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		for (uint32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp += 7) {
			char u[8];
			size_t n = 0;
			u[n++] = 'x';
			if (cp < 0x800) {
				u[n++] = (char)(0xc0 | cp >> 6);
			} else if (cp < 0x10000) {
				u[n++] = (char)(0xe0 | cp >> 12);
				u[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			} else {
				u[n++] = (char)(0xf0 | cp >> 18);
				u[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
				u[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			}
			u[n++] = (char)(0x80 | (cp & 0x3f));
			u[n++] = '&';
			struct str e = STR_INIT, d = STR_INIT;
			cur = "roundtrip";
			if (imap_utf7_encode(u, n, &e) != 1 ||
			    imap_utf7_decode(e.data, e.len, &d) != 1 ||
			    d.len != n || memcmp(d.data, u, n) != 0)
				fail_msg("U+%04X does not round-trip", cp);
			str_free(&e);
			str_free(&d);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
