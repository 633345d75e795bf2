/* mime_decode: each case is input bytes and the exact bytes that must come
 * out, taken from the RFCs' examples and rules (RFC 2045 base64 and
 * quoted-printable, RFC 2047 section 8, RFC 5051, RFC 8970).  Every input
 * is copied into a buffer of exactly its length, so a read past the end
 * trips ASan, and every function is checked to append, not overwrite. */
#include "unit.h"

#include <pthread.h>
#include <unistr.h>

#include "mime/mime_decode.h"

/* A string literal with its length, NULs inside included. */
#define S(x) x, sizeof(x) - 1

#define PREFIX "prefix:"

/* out must hold PREFIX followed by exactly want. */
static void expect_out(const struct str *out, const char *want,
		       size_t want_len)
{
	size_t p = strlen(PREFIX);
	EXPECT(out->len >= p && memcmp(out->data, PREFIX, p) == 0);
	if (out->len - p != want_len ||
	    memcmp(out->data + p, want, want_len) != 0) {
		char got[2048];
		snprintf(got, sizeof(got), "%s", esc(out->data + p));
		fail_msg("case \"%s\": got \"%s\" (%zu bytes), want \"%s\"",
			 esc(cur), got, out->len - p, esc(want));
	}
	EXPECT(out->data[out->len] == '\0');
}

typedef void decode_fn(const char *in, size_t len, struct str *out);

/* Run fn on an exact copy of in after PREFIX and compare. */
static void run(decode_fn *fn, const char *in, size_t len, const char *want,
		size_t want_len)
{
	struct str out = STR_INIT;
	char *buf = exact(in, len);
	cur = in;
	str_appends(&out, PREFIX);
	fn(buf, len, &out);
	expect_out(&out, want, want_len);
	free(buf);
	str_free(&out);
}

struct bytes_case {
	const char *in;
	size_t len;
	const char *want;
	size_t want_len;
};

static void run_table(decode_fn *fn, const struct bytes_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run(fn, t[i].in, t[i].len, t[i].want, t[i].want_len);
}

#define TABLE(fn, t) run_table(fn, t, sizeof(t) / sizeof(t[0]))

/* ---- Content-Transfer-Encoding ---- */

static void test_base64(void **state)
{
	static const struct bytes_case t[] = {
		/* RFC 4648 section 10 vectors. */
		{S(""), S("")},
		{S("Zg=="), S("f")},
		{S("Zm8="), S("fo")},
		{S("Zm9v"), S("foo")},
		{S("Zm9vYg=="), S("foob")},
		{S("Zm9vYmE="), S("fooba")},
		{S("Zm9vYmFy"), S("foobar")},
		/* RFC 2045 6.8: line breaks and characters outside the
		 * alphabet are ignored. */
		{S("Zm9v\r\nYmFy\r\n"), S("foobar")},
		{S("Zm 9v\tYm!Fy*"), S("foobar")},
		{S(" \r\n"), S("")},
		/* Missing padding: 2 or 3 characters still give bytes. */
		{S("Zg"), S("f")},
		{S("Zm8"), S("fo")},
		{S("Zm9vYg"), S("foob")},
		/* A lone sixth of a quantum is not a byte. */
		{S("Zm9vY"), S("foo")},
		{S("Z"), S("")},
		/* "=" ends the data; what follows is not decoded. */
		{S("Zm8=Zm9v"), S("fo")},
		{S("Zg==\r\n-- \r\nfooter"), S("f")},
		/* "=" where no padding can be is junk. */
		{S("=Zm9v"), S("foo")},
		{S("Z=m9v"), S("foo")},
		/* Binary output, NULs included. */
		{S("AAEC/w=="), S("\x00\x01\x02\xff")},
		{S("+/+/"), S("\xfb\xff\xbf")},
	};
	TABLE(mime_decode_base64, t);
}

static void test_qp(void **state)
{
	static const struct bytes_case t[] = {
		{S(""), S("")},
		{S("plain text"), S("plain text")},
		{S("=3D"), S("=")},
		{S("a=3Db"), S("a=b")},
		{S("=C3=A9t=C3=A9"), S("\xc3\xa9t\xc3\xa9")},
		/* Lower-case hex, which a robust decoder accepts. */
		{S("=c3=a9"), S("\xc3\xa9")},
		{S("=00"), S("\x00")},
		/* Soft line breaks: "=" CRLF, "=" LF, with transport
		 * padding, or "=" at the very end. */
		{S("soft=\r\nbreak"), S("softbreak")},
		{S("soft=\nbreak"), S("softbreak")},
		{S("soft= \t\r\nbreak"), S("softbreak")},
		{S("end="), S("end")},
		{S("end=  "), S("end")},
		{S("end=\r"), S("end")},
		{S("=\r\n=\r\n"), S("")},
		/* RFC 2045 6.7's own example. */
		{S("Now's the time =\r\nfor all folk to come=\r\n to the aid of "
		   "their country."),
		 S("Now's the time for all folk to come to the aid of their "
		   "country.")},
		/* Hard line breaks stay; trailing whitespace goes. */
		{S("line  \r\nnext"), S("line\r\nnext")},
		{S("line\t \nnext"), S("line\nnext")},
		{S("trailing \t "), S("trailing")},
		{S("a \t b"), S("a \t b")},
		{S("a\r\nb\r\n"), S("a\r\nb\r\n")},
		/* Bad escapes are kept literally. */
		{S("=4"), S("=4")},
		{S("=XY"), S("=XY")},
		{S("=4G"), S("=4G")},
		{S("= x"), S("= x")},
		{S("==41"), S("=A")},
		{S("100% = 1"), S("100% = 1")},
		{S("=\rX"), S("=\rX")},
		{S("="), S("")},
	};
	TABLE(mime_decode_qp, t);
}

static void test_cte(void **state)
{
	static const struct {
		const char *cte;
		const char *in;
		const char *want;	/* NULL: unknown encoding */
	} t[] = {
		{"", "a=3D\r\nZg==", "a=3D\r\nZg=="},
		{"7bit", "a=3D", "a=3D"},
		{"7BIT", "a=3D", "a=3D"},
		{"8bit", "caf\xc3\xa9", "caf\xc3\xa9"},
		{"binary", "Zg==", "Zg=="},
		{"base64", "Zm9v", "foo"},
		{"BASE64", "Zm9v", "foo"},
		{" Base64 ", "Zm9v", "foo"},
		{"base64 (comment)", "Zm9v", "foo"},
		{"base64\r\n", "Zm9v", "foo"},
		{"quoted-printable", "a=3Db", "a=b"},
		{"Quoted-Printable", "a=3Db", "a=b"},
		{"x-uuencode", "begin 644 f", NULL},
		{"uuencode", "x", NULL},
		{"base65", "Zm9v", NULL},
		{"quoted", "a", NULL},
		{"7bit8bit", "a", NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str out = STR_INIT;
		char *cte = exact(t[i].cte, strlen(t[i].cte));
		char *in = exact(t[i].in, strlen(t[i].in));
		cur = t[i].cte;
		str_appends(&out, PREFIX);
		int rc = mime_decode_cte(cte, strlen(t[i].cte), in,
					 strlen(t[i].in), &out);
		EXPECT_INT(rc, t[i].want != NULL ? 1 : 0);
		expect_out(&out, t[i].want ? t[i].want : "",
			   t[i].want ? strlen(t[i].want) : 0);
		free(cte);
		free(in);
		str_free(&out);
	}
	struct str out = STR_INIT;
	cur = "NULL cte";
	EXPECT_INT(mime_decode_cte(NULL, 0, "x", 1, &out), 1);
	EXPECT_STR(out.data, "x");
	str_free(&out);
}

/* ---- charsets ---- */

struct charset_case {
	const char *charset;
	const char *in;
	size_t len;
	const char *want;
	size_t want_len;
	int rc;
};

static void test_charset(void **state)
{
	static const struct charset_case t[] = {
		/* Latin-1 labels read as windows-1252. */
		{"iso-8859-1", S("caf\xe9"), S("caf\xc3\xa9"), 1},
		{"ISO_8859-1:1987", S("\xe9"), S("\xc3\xa9"), 1},
		{"latin1", S("\x80"), S("\xe2\x82\xac"), 1},
		{"Latin-1", S("\xff"), S("\xc3\xbf"), 1},
		{"windows-1252", S("\x80 \x93q\x94"),
		 S("\xe2\x82\xac \xe2\x80\x9cq\xe2\x80\x9d"), 1},
		{"cp1252", S("\x80"), S("\xe2\x82\xac"), 1},
		/* A hole of windows-1252. */
		{"windows-1252", S("a\x81z"), S("a\xef\xbf\xbdz"), 1},
		{"iso-8859-15", S("\xa4"), S("\xe2\x82\xac"), 1},
		{"iso-8859-2", S("\xb1"), S("\xc4\x85"), 1},
		{"koi8-r", S("\xf0\xd2\xc9\xd7\xc5\xd4"),
		 S("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"), 1},
		{"iso-8859-8", S("\xed\xe5\xec\xf9"),
		 S("\xd7\x9d\xd7\x95\xd7\x9c\xd7\xa9"), 1},
		/* Multi-byte and stateful charsets. */
		{"iso-2022-jp", S("\x1b$BF|K\\8l\x1b(B"),
		 S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), 1},
		{"ISO-2022-JP", S("a\x1b$BF|\x1b(Bb"), S("a\xe6\x97\xa5" "b"), 1},
		{"shift_jis", S("\x93\xfa\x96\x7b"), S("\xe6\x97\xa5\xe6\x9c\xac"),
		 1},
		/* A NEC special character: CP932, not plain Shift_JIS. */
		{"shift_jis", S("\x87\x40"), S("\xe2\x91\xa0"), 1},
		{"gb2312", S("\xc4\xe3\xba\xc3"), S("\xe4\xbd\xa0\xe5\xa5\xbd"), 1},
		{"GBK", S("\xc4\xe3"), S("\xe4\xbd\xa0"), 1},
		{"ks_c_5601-1987", S("\xc7\xd1\xb1\xdb"),
		 S("\xed\x95\x9c\xea\xb8\x80"), 1},
		{"euc-kr", S("\xc7\xd1"), S("\xed\x95\x9c"), 1},
		{"big5", S("\xa4\xa4"), S("\xe4\xb8\xad"), 1},
		{"euc-jp", S("\xc6\xfc"), S("\xe6\x97\xa5"), 1},
		{"utf-16le", S("a\x00\xe9\x00"), S("a\xc3\xa9"), 1},
		{"utf-16be", S("\x00" "a\x00"), S("a\xef\xbf\xbd"), 1},
		{"utf-16", S("\xff\xfe" "a\x00"), S("a"), 1},
		{"utf-7", S("A+ImIDkQ."), S("A\xe2\x89\xa2\xce\x91."), 1},
		/* Bytes a multi-byte charset refuses become U+FFFD. */
		{"shift_jis", S("a\xa0z"), S("a\xef\xbf\xbdz"), 1},
		{"euc-kr", S("a\xc7"), S("a\xef\xbf\xbd"), 1},
		/* UTF-8: one U+FFFD per maximal invalid subpart. */
		{"utf-8", S("caf\xc3\xa9"), S("caf\xc3\xa9"), 1},
		{"UTF8", S("a\xff" "b"), S("a\xef\xbf\xbd" "b"), 1},
		{"utf-8", S("\xe2\x82"), S("\xef\xbf\xbd"), 1},
		{"utf-8", S("\xe2\x82z"), S("\xef\xbf\xbdz"), 1},
		{"utf-8", S("\xc0\xaf"), S("\xef\xbf\xbd\xef\xbf\xbd"), 1},
		{"utf-8", S("\xed\xa0\x80"),
		 S("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), 1},
		{"utf-8", S("\xf4\x90\x80\x80"),
		 S("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), 1},
		{"utf-8", S("\xf0\x9f\x98\x80"), S("\xf0\x9f\x98\x80"), 1},
		{"utf-8", S("\x00"), S("\x00"), 1},
		/* us-ascii: 8-bit bytes are UTF-8 if they can be, else
		 * windows-1252. */
		{"us-ascii", S("abc"), S("abc"), 1},
		{"US-ASCII", S("caf\xc3\xa9"), S("caf\xc3\xa9"), 1},
		{"us-ascii", S("caf\xe9"), S("caf\xc3\xa9"), 1},
		/* RFC 2231 language suffix. */
		{"utf-8*en", S("\xc3\xa9"), S("\xc3\xa9"), 1},
		{"iso-8859-1*fr-CA", S("\xe9"), S("\xc3\xa9"), 1},
		/* Unknown: returned as raw text, and 0. */
		{"x-unknown", S("abc\xe9"), S("abc\xc3\xa9"), 0},
		{"", S("abc"), S("abc"), 0},
		{"tscii", S("a"), S("a"), 0},
		{"iso-2022-cn-ext", S("a"), S("a"), 0},
		{"utf-8//TRANSLIT-and-then-some-more-text", S("a"), S("a"), 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str out = STR_INIT;
		char *cs = exact(t[i].charset, strlen(t[i].charset));
		char *in = exact(t[i].in, t[i].len);
		cur = t[i].charset;
		str_appends(&out, PREFIX);
		EXPECT_INT(mime_charset_to_utf8(cs, strlen(t[i].charset), in,
						t[i].len, &out),
			   t[i].rc);
		expect_out(&out, t[i].want, t[i].want_len);
		EXPECT(u8_check((uint8_t *)out.data, out.len) == NULL);
		EXPECT(out.len - strlen(PREFIX) <= 3 * t[i].len);
		free(cs);
		free(in);
		str_free(&out);
	}
}

/* The same handles serve many conversions, in any order, and more
 * charsets than the cache holds. */
static void test_charset_cache(void **state)
{
	static const char *const names[] = {
		"iso-8859-2", "koi8-r", "shift_jis", "gb2312", "euc-kr",
		"iso-2022-jp", "big5", "windows-1251",
	};
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			struct str out = STR_INIT;
			cur = names[i];
			/* A state left behind by a cut sequence must not
			 * leak into the next conversion. */
			EXPECT_INT(mime_charset_to_utf8(names[i],
							strlen(names[i]),
							"\x1b$B", 3, &out),
				   1);
			str_truncate(&out, 0);
			EXPECT_INT(mime_charset_to_utf8(names[i],
							strlen(names[i]),
							"plain", 5, &out),
				   1);
			EXPECT_STR(out.data, "plain");
			str_free(&out);
		}
	}
}

/* Threads convert at once, each with its own handles, which are closed
 * when the thread ends (LeakSanitizer would report them otherwise). */
static void *convert_thread(void *arg)
{
	static const char *const names[] = {
		"koi8-r", "shift_jis", "gb2312", "euc-kr", "iso-2022-jp",
		"windows-1251",
	};
	int *ok = arg;
	*ok = 1;
	for (int i = 0; i < 200; i++) {
		const char *cs = names[i % 6];
		struct str out = STR_INIT;
		if (mime_charset_to_utf8(cs, strlen(cs), "abc", 3, &out) != 1 ||
		    strcmp(out.data, "abc") != 0)
			*ok = 0;
		str_free(&out);
	}
	return NULL;
}

static void test_charset_threads(void **state)
{
	pthread_t th[4];
	int ok[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, convert_thread,
						&ok[i]),
				 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		cur = "thread";
		EXPECT_INT(ok[i], 1);
	}
}

static void test_charset_known(void **state)
{
	static const char *const known[] = {
		"UTF-8", "utf8", "us-ascii", "ISO-8859-1", "Latin-1",
		"ISO_8859-1:1987", "windows-1252", "cp1252", "iso-8859-15",
		"KS_C_5601-1987", "gb2312", "Shift_JIS", "ISO-2022-JP",
		"utf-8*en", "\"utf-8\"",
	};
	static const char *const unknown[] = {
		"", "x-foo", "utf-9", "tscii", "iso-2022-cn-ext", "ebcdic-us",
		"*utf-8",
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		cur = known[i];
		EXPECT(mime_charset_known(known[i], strlen(known[i])));
	}
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		cur = unknown[i];
		EXPECT(!mime_charset_known(unknown[i], strlen(unknown[i])));
	}
	cur = "utf-8 with len 3";
	EXPECT(!mime_charset_known("utf-8", 3));
}

/* ---- RFC 2047 ---- */

static void test_header(void **state)
{
	static const struct bytes_case t[] = {
		/* RFC 2047 section 8, the header examples. */
		{S("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>"),
		 S("Keith Moore <moore@cs.utk.edu>")},
		{S("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>"),
		 S("Keld J\xc3\xb8rn Simonsen <keld@dkuug.dk>")},
		{S("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
		 S("Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>")},
		{S("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
		   "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="),
		 S("If you can read this you understand the example.")},
		{S("=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>"),
		 S("Olle J\xc3\xa4rnefors <ojarnef@admin.kth.se>")},
		{S("=?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?= <paf@nada.kth.se>"),
		 S("Patrik F\xc3\xa4ltstr\xc3\xb6m <paf@nada.kth.se>")},
		{S("Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n"
		   "    (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)"),
		 S("Nathaniel Borenstein <nsb@thumper.bellcore.com>    ("
		   "\xd7\x9d\xd7\x95\xd7\x9c\xd7\xa9 \xd7\x9f\xd7\x91 "
		   "\xd7\x99\xd7\x9c\xd7\x98\xd7\xa4\xd7\xa0)")},
		/* RFC 2047 section 8, the table of whitespace rules. */
		{S("(=?ISO-8859-1?Q?a?=)"), S("(a)")},
		{S("(=?ISO-8859-1?Q?a?= b)"), S("(a b)")},
		{S("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)"), S("(ab)")},
		{S("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)"), S("(ab)")},
		{S("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)"), S("(ab)")},
		{S("(=?ISO-8859-1?Q?a_b?=)"), S("(a b)")},
		{S("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)"), S("(a b)")},
		/* RFC 2231 section 5: a language, ignored. */
		{S("=?US-ASCII*EN?Q?Keith_Moore?="), S("Keith Moore")},
		/* Whitespace around words and text stays. */
		{S("a =?utf-8?q?b?= c"), S("a b c")},
		{S("=?utf-8?q?a?= "), S("a ")},
		{S(" =?utf-8?q?a?="), S(" a")},
		{S("x\t=?utf-8?q?a?=\t=?utf-8?q?b?=\ty"), S("x\tab\ty")},
		/* Unfolding: line breaks go, the whitespace after stays. */
		{S("folded\r\n subject"), S("folded subject")},
		{S("folded\r\n\tsubject"), S("folded\tsubject")},
		{S("bare\nLF"), S("bareLF")},
		/* Lower-case encodings, B with and without padding. */
		{S("=?utf-8?b?w6k=?="), S("\xc3\xa9")},
		{S("=?utf-8?b?w6k?="), S("\xc3\xa9")},
		{S("=?UTF-8?Q?=C3=A9?="), S("\xc3\xa9")},
		{S("=?utf-8?q?=c3=a9?="), S("\xc3\xa9")},
		{S("=?utf-8?q?\?="), S("")},
		/* A character split between two words in one charset. */
		{S("=?UTF-8?Q?=C3?= =?utf-8?Q?=A9?="), S("\xc3\xa9")},
		{S("=?UTF-8?B?4oK=?= =?UTF-8?B?rA==?="), S("\xe2\x82\xac")},
		{S("=?UTF-8?Q?=C3?= x =?UTF-8?Q?=A9?="),
		 S("\xef\xbf\xbd x \xef\xbf\xbd")},
		/* Adjacent without the whitespace the RFC asks for. */
		{S("=?utf-8?q?a?==?utf-8?q?b?="), S("ab")},
		{S("Re:=?utf-8?q?a?="), S("Re:a")},
		{S("foo=?utf-8?q?bar?=baz"), S("foobarbaz")},
		/* Stateful charset in a word. */
		{S("=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?="),
		 S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e")},
		/* Unknown charset: its bytes as raw text. */
		{S("=?x-unknown?q?caf=E9?="), S("caf\xc3\xa9")},
		{S("=?x-unknown?q?caf=C3=A9?="), S("caf\xc3\xa9")},
		/* Malformed words stay as they are. */
		{S("=?utf-8?x?abc?="), S("=?utf-8?x?abc?=")},
		{S("=?utf-8?q?abc"), S("=?utf-8?q?abc")},
		{S("=?utf-8?q?abc?"), S("=?utf-8?q?abc?")},
		{S("=?utf-8?q?a b?="), S("=?utf-8?q?a b?=")},
		{S("=?\?q?abc?="), S("=?\?q?abc?=")},
		{S("=?utf-8?\?abc?="), S("=?utf-8?\?abc?=")},
		{S("=?*en?q?abc?="), S("=?*en?q?abc?=")},
		{S("=?utf-8?qq?abc?="), S("=?utf-8?qq?abc?=")},
		{S("=?"), S("=?")},
		{S("=?="), S("=?=")},
		{S("a=?b"), S("a=?b")},
		{S("=?utf-8?q?a?=?="), S("a?=")},
		{S("=?=?utf-8?q?a?="), S("=?a")},
		/* A bad Q escape stays. */
		{S("=?utf-8?q?a=zz?="), S("a=zz")},
		/* Raw 8-bit: UTF-8 kept, anything else windows-1252. */
		{S("caf\xc3\xa9"), S("caf\xc3\xa9")},
		{S("caf\xe9"), S("caf\xc3\xa9")},
		{S("\x93quoted\x94"), S("\xe2\x80\x9cquoted\xe2\x80\x9d")},
		{S("\xc3\xa9 and \xe9"), S("\xc3\xa9 and \xc3\xa9")},
		{S(""), S("")},
	};
	TABLE(mime_decode_header, t);
}

/* ---- i;unicode-casemap ---- */

static void test_normalize(void **state)
{
	static const struct bytes_case t[] = {
		{S(""), S("")},
		{S("Hello, World 123"), S("HELLO, WORLD 123")},
		/* Sharp s has no one-letter titlecase: it stays. */
		{S("Stra\xc3\x9f" "e"), S("STRA\xc3\x9f" "E")},
		{S("\xe1\xba\x9e"), S("\xe1\xba\x9e")},
		/* Turkish: dotless i titlecases to I; dotted capital I
		 * decomposes to I and a combining dot. */
		{S("\xc4\xb1"), S("I")},
		{S("i"), S("I")},
		{S("\xc4\xb0"), S("I\xcc\x87")},
		/* Greek sigma, final or not. */
		{S("\xcf\x82"), S("\xce\xa3")},
		{S("\xcf\x83"), S("\xce\xa3")},
		{S("\xce\xa3"), S("\xce\xa3")},
		/* Full-width forms. */
		{S("\xef\xbd\x81\xef\xbc\xa2"), S("AB")},
		/* Precomposed and decomposed letters meet. */
		{S("\xc3\xa9"), S("E\xcc\x81")},
		{S("e\xcc\x81"), S("E\xcc\x81")},
		/* Marks in canonical order. */
		{S("a\xcc\x81\xcc\xa3"), S("A\xcc\xa3\xcc\x81")},
		{S("\xe1\xba\xa1\xcc\x81"), S("A\xcc\xa3\xcc\x81")},
		/* Compatibility decompositions, titlecased again. */
		{S("\xef\xac\x81"), S("FI")},
		{S("\xc7\x86"), S("DZ\xcc\x8c")},
		{S("\xc7\x84"), S("DZ\xcc\x8c")},
		{S("\xc2\xbd"), S("1\xe2\x81\x84" "2")},
		/* Iota subscript: the same as a following iota. */
		{S("\xe1\xbe\xb3"), S("\xce\x91\xce\x99")},
		{S("\xce\xb1\xce\xb9"), S("\xce\x91\xce\x99")},
		/* Hangul syllables stay whole. */
		{S("\xed\x95\x9c\xea\xb8\x80"), S("\xed\x95\x9c\xea\xb8\x80")},
		/* Cyrillic. */
		{S("\xd0\xbf\xd1\x80\xd0\xb8"), S("\xd0\x9f\xd0\xa0\xd0\x98")},
		/* Invalid UTF-8. */
		{S("a\xff" "b"), S("A\xef\xbf\xbd" "B")},
		{S("\xe2\x82"), S("\xef\xbf\xbd")},
		{S("x\x00y"), S("X\x00Y")},
	};
	TABLE(mime_text_normalize, t);
	/* The function is idempotent: its output is its own form. */
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		run(mime_text_normalize, t[i].want, t[i].want_len, t[i].want,
		    t[i].want_len);
}

/* Whether key matches text as SEARCH does it: a substring of the forms. */
static bool search_match(const char *key, const char *text)
{
	struct str k = STR_INIT, x = STR_INIT;
	mime_text_normalize(key, strlen(key), &k);
	mime_text_normalize(text, strlen(text), &x);
	bool m = k.len == 0 ||
		 (x.len > 0 && memmem(x.data, x.len, k.data, k.len) != NULL);
	str_free(&k);
	str_free(&x);
	return m;
}

static void test_search_match(void **state)
{
	static const struct {
		const char *key, *text;
		bool match;
	} t[] = {
		{"hello", "Say HELLO to them", true},
		{"HeLLo", "say hello", true},
		{"istanbul", "\xc4\xb1stanbul", true},
		{"ISTANBUL", "\xc4\xb1STANBUL", true},
		{"\xc4\xb0stanbul", "\xc4\xb0STANBUL", true},
		/* The dot of the capital stays, as RFC 5051 has it. */
		{"istanbul", "\xc4\xb0stanbul", false},
		{"stanbul", "\xc4\xb0stanbul", true},
		{"\xce\xbf\xce\xb4\xcf\x8c\xcf\x82", "\xce\x9f\xce\x94\xce\x8c\xce\xa3",
		 true},
		{"caf\xc3\xa9", "CAFE\xcc\x81 au lait", true},
		{"cafe", "caf\xc3\xa9", true},
		{"file", "the \xef\xac\x81le", true},
		{"abc", "\xef\xbd\x81\xef\xbd\x82\xef\xbd\x83", true},
		{"strasse", "Stra\xc3\x9f" "e", false},
		{"\xea\xb0\x80", "\xea\xb0\x81", false},
		{"", "anything", true},
		{"x", "", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cur = t[i].key;
		EXPECT_INT(search_match(t[i].key, t[i].text), t[i].match);
	}
}

/* ---- PREVIEW ---- */

static void test_preview(void **state)
{
	static const struct bytes_case t[] = {
		{S(""), S("")},
		{S("  \r\n\t "), S("")},
		{S("  Hello\r\n\r\n  world\t!  "), S("Hello world !")},
		{S("a\x01" "b\x7f" "c"), S("a b c")},
		{S("a\xc2\xa0" "b\xe2\x80\x83" "c\xe3\x80\x80" "d"), S("a b c d")},
		{S("\xef\xbb\xbfHi"), S("Hi")},
		{S("a\xff" "b"), S("a\xef\xbf\xbd" "b")},
		{S("caf\xc3\xa9"), S("caf\xc3\xa9")},
		{S("x\x00y"), S("x y")},
	};
	TABLE(mime_preview, t);
}

/* The limit is 256 characters, whatever their length in bytes. */
static void test_preview_limit(void **state)
{
	static const struct {
		const char *name, *unit, *tail;
		size_t units;	/* units in the input, then tail */
		size_t want_units;
		const char *want_tail;
	} t[] = {
		{"300 a", "a", "", 300, 256, ""},
		{"256 a", "a", "", 256, 256, ""},
		{"300 e-acute", "\xc3\xa9", "", 300, 256, ""},
		{"300 euro", "\xe2\x82\xac", "", 300, 256, ""},
		{"300 emoji", "\xf0\x9f\x98\x80", "", 300, 256, ""},
		{"255 a + e-acute", "a", "\xc3\xa9xyz", 255, 255, "\xc3\xa9"},
		/* The 256th character has a combining mark after it: it
		 * goes with its mark. */
		{"255 a + e + mark", "a", "e\xcc\x81xyz", 255, 255, ""},
		{"254 a + e + mark", "a", "e\xcc\x81xyz", 254, 254,
		 "e\xcc\x81"},
		/* No trailing space when the cut falls on a space. */
		{"255 a + space", "a", " b", 255, 255, ""},
		{"254 a + space", "a", " b", 254, 254, " b"},
		{"254 a + space + e + mark", "a", " e\xcc\x81", 254, 254, ""},
		/* Whitespace runs count as one space. */
		{"200 'a' + whitespace", "a \r\n\t ", "", 200, 128, ""},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str in = STR_INIT, want = STR_INIT, out = STR_INIT;
		bool spaced = strlen(t[i].unit) > 1 && t[i].unit[1] == ' ';
		for (size_t k = 0; k < t[i].units; k++)
			str_appends(&in, t[i].unit);
		str_appends(&in, t[i].tail);
		for (size_t k = 0; k < t[i].want_units; k++)
			str_appends(&want, !spaced ? t[i].unit :
					   k > 0 ? " a" : "a");
		str_appends(&want, t[i].want_tail);
		cur = t[i].name;
		char *buf = exact(in.data, in.len);
		str_appends(&out, PREFIX);
		mime_preview(buf, in.len, &out);
		expect_out(&out, want.data, want.len);
		size_t chars = u8_mbsnlen((uint8_t *)out.data + strlen(PREFIX),
					  out.len - strlen(PREFIX));
		EXPECT(chars <= MIME_PREVIEW_MAX_CHARS);
		free(buf);
		str_free(&in);
		str_free(&want);
		str_free(&out);
	}
}

/* A preview appended after other text counts and trims only its own. */
static void test_preview_append(void **state)
{
	struct str out = STR_INIT;
	cur = "after \"X \"";
	str_appends(&out, "X ");
	mime_preview("  abc  ", 7, &out);
	EXPECT_STR(out.data, "X abc");
	str_free(&out);
}

/* Hostile sizes finish and stay within their bounds (each function is
 * linear: quadratic work here would not finish). */
static void test_large(void **state)
{
	struct str in = STR_INIT, out = STR_INIT;
	for (int i = 0; i < 100000; i++)
		str_appends(&in, "=?a?q?");
	cur = "100000 broken encoded words";
	mime_decode_header(in.data, in.len, &out);
	EXPECT(out.len == in.len);
	str_truncate(&in, 0);
	str_truncate(&out, 0);
	for (int i = 0; i < 100000; i++)
		str_appends(&in, "=?utf-8?q?=C3?= ");
	cur = "100000 halves";
	mime_decode_header(in.data, in.len, &out);
	EXPECT(out.len <= 3 * in.len);
	EXPECT(u8_check((uint8_t *)out.data, out.len) == NULL);
	str_truncate(&in, 0);
	str_truncate(&out, 0);
	for (int i = 0; i < 100000; i++)
		str_appends(&in, "\xef\xb7\xba");
	cur = "100000 U+FDFA";
	mime_text_normalize(in.data, in.len, &out);
	EXPECT(out.len == 11 * in.len);
	str_free(&in);
	str_free(&out);
}

/* Base64 and charsets piece by piece: fed whole, one byte at a time and
 * in pieces of every size up to 7, they give what one call gives. */
static void test_streams(void **state)
{
	static const struct {
		const char *charset, *in;
		size_t len;
	} cs[] = {
		{"utf-8", S("Gr\xc3\xb6\xc3\x9f" "e \xf0\x9f\x98\x80 \xe2\x82")},
		{"", S("caf\xc3\xa9 caf\xe9 \xc3")},
		{"iso-8859-1", S("Stra\xdf" "e K\xf6ln \x80")},
		{"utf-16", S("\xff\xfeG\0r\0\xf6\0=\xd8$\xde" "x")},
		{"iso-2022-jp", S("abc \x1b$B$3$s$K$A$O\x1b(B def \x1b$B@$")},
		{"gb18030", S("\x81\x30\x81\x30 \xc4\xe3\xba\xc3 \x81")},
		{"x-unknown", S("\xff\xfe text")},
	};
	static const char b64[] = "R3LDtsOfZSBpbiBL\r\nw7ZsbjogU3RyYcOfZSA=junk";
	for (size_t step = 0; step <= 7; step++) {
		struct str whole = STR_INIT, got = STR_INIT;
		struct mime_base64 b = MIME_BASE64_INIT;
		size_t n = strlen(b64), k = step ? step : n;
		cur = "base64 in pieces";
		mime_decode_base64(b64, n, &whole);
		for (size_t i = 0; i < n; i += k)
			mime_decode_base64_step(&b, b64 + i,
						i + k < n ? k : n - i,
						i + k >= n, &got);
		EXPECT(b.end);
		EXPECT_INT(got.len, whole.len);
		EXPECT(memcmp(got.data, whole.data, whole.len) == 0);
		for (size_t c = 0; c < sizeof(cs) / sizeof(cs[0]); c++) {
			struct mime_charset_stream *st =
				mime_charset_stream_new(cs[c].charset,
							strlen(cs[c].charset));
			n = cs[c].len, k = step ? step : n;
			str_clear(&whole);
			str_clear(&got);
			cur = cs[c].charset;
			mime_charset_to_utf8(cs[c].charset,
					     strlen(cs[c].charset), cs[c].in,
					     n, &whole);
			for (size_t i = 0; i < n; i += k)
				mime_charset_stream_put(st, cs[c].in + i,
							i + k < n ? k : n - i,
							i + k >= n, &got);
			str_append(&got, "", 0);
			str_append(&whole, "", 0);
			EXPECT_STR(got.data, whole.data);
			mime_charset_stream_free(&st);
			EXPECT(st == NULL);
		}
		str_free(&whole);
		str_free(&got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_cte),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_charset_cache),
		cmocka_unit_test(test_charset_threads),
		cmocka_unit_test(test_charset_known),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_search_match),
		cmocka_unit_test(test_preview),
		cmocka_unit_test(test_preview_limit),
		cmocka_unit_test(test_preview_append),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
