/* mime_text: the text SEARCH looks into.  Each case is a message and the
 * exact header text and body text that must come out: fields decoded
 * (RFC 2047) and unfolded, bodies with their transfer encoding undone
 * (RFC 2045 quoted-printable and base64) and converted from their charset,
 * HTML stripped, message/rfc822 looked into, other types skipped, all in
 * the i;unicode-casemap form (RFC 5051: titlecase, then NFKD, so "ö" is
 * "O" and U+0308); and the 1 MiB bound.  Messages are copied into buffers
 * of exactly their length, so a read past the end trips ASan. */
#include "unit.h"

#include <unistr.h>

#include "mime/mime.h"
#include "mime/mime_text.h"

/* A string literal with its length, NULs inside included. */
#define S(x) x, sizeof(x) - 1

/* Normalised letters, spelt out once. */
#define O_UML "O\xcc\x88"	/* ö or Ö */
#define U_UML "U\xcc\x88"	/* ü */
#define A_UML "A\xcc\x88"	/* ä */
#define E_ACUTE "E\xcc\x81"	/* é */
#define E_GRAVE "E\xcc\x80"	/* è */
#define I_UML "I\xcc\x88"	/* ï */
#define SZ "\xc3\x9f"		/* ß stays */
#define EURO "\xe2\x82\xac"

struct text_case {
	const char *name;
	const char *msg;
	size_t len;
	const char *header, *body;
};

static void extract(const char *msg, size_t len, struct str *h,
		    struct str *b)
{
	char *buf = exact(msg, len);
	struct mime_msg *m = mime_parse(buf, len);
	mime_text_extract(m, h, b);
	mime_free(&m);
	free(buf);
}

static void run_case(const struct text_case *c)
{
	struct str h = STR_INIT, b = STR_INIT;
	cur = c->name;
	extract(c->msg, c->len, &h, &b);
	assert_non_null(h.data);
	assert_non_null(b.data);
	EXPECT_MEM(h.data, h.len, c->header);
	EXPECT_MEM(b.data, b.len, c->body);
	str_free(&h);
	str_free(&b);
}

static const struct text_case cases[] = {
	{"encoded words, folding, raw 8-bit, empty field",
	 S("From: =?iso-8859-1?q?J=F6rg?= <j@example.com>\r\n"
	   "Subject: =?utf-8?b?R3LDtsOfZQ==?= und\r\n"
	   " =?iso-8859-1?q?gr=F6=DFe?=\r\n"
	   "X-Empty:\r\n"
	   "X-Raw: Gr\xfc\xdf" "e\r\n"
	   "\r\n"
	   "Hi\r\n"),
	 "FROM: J" O_UML "RG <J@EXAMPLE.COM>\n"
	 "SUBJECT: GR" O_UML SZ "E UND GR" O_UML SZ "E\n"
	 "X-EMPTY: \n"
	 "X-RAW: GR" U_UML SZ "E\n",
	 "HI\n\n"},
	{"quoted-printable latin-1",
	 S("Content-Type: text/plain; charset=iso-8859-1\r\n"
	   "Content-Transfer-Encoding: quoted-printable\r\n"
	   "\r\n"
	   "Gr=FC=DFe aus K=F6ln, soft=\r\nbreak\r\n"),
	 "CONTENT-TYPE: TEXT/PLAIN; CHARSET=ISO-8859-1\n"
	 "CONTENT-TRANSFER-ENCODING: QUOTED-PRINTABLE\n",
	 "GR" U_UML SZ "E AUS K" O_UML "LN, SOFTBREAK\n\n"},
	{"multipart: base64 utf-8, an attachment skipped, html",
	 S("Content-Type: multipart/mixed; boundary=XX\r\n"
	   "\r\n"
	   "preamble\r\n"
	   "--XX\r\n"
	   "Content-Type: text/plain; charset=utf-8\r\n"
	   "Content-Transfer-Encoding: base64\r\n"
	   "\r\n"
	   "Q2Fmw6kgY3LDqG1lDQo=\r\n"
	   "--XX\r\n"
	   "Content-Type: application/pdf\r\n"
	   "Content-Transfer-Encoding: base64\r\n"
	   "\r\n"
	   "JVBERi0xLjQK\r\n"
	   "--XX\r\n"
	   "Content-Type: text/html; charset=\"windows-1252\"\r\n"
	   "\r\n"
	   "<p>Hello&nbsp;<b>W</b>orld \x80</p>\r\n"
	   "--XX--\r\n"
	   "epilogue\r\n"),
	 "CONTENT-TYPE: MULTIPART/MIXED; BOUNDARY=XX\n",
	 "CAF" E_ACUTE " CR" E_GRAVE "ME\n\n"
	 " HELLO WORLD " EURO " \n"},
	{"message/rfc822: the inner header, then its body",
	 S("Subject: outer\r\n"
	   "Content-Type: multipart/mixed; boundary=B\r\n"
	   "\r\n"
	   "--B\r\n"
	   "Content-Type: text/plain\r\n"
	   "\r\n"
	   "see attached\r\n"
	   "--B\r\n"
	   "Content-Type: message/rfc822\r\n"
	   "\r\n"
	   "Subject: =?utf-8?q?inner_=C3=BC?=\r\n"
	   "Content-Type: text/plain; charset=utf-8\r\n"
	   "Content-Transfer-Encoding: quoted-printable\r\n"
	   "\r\n"
	   "inner body =C3=A4\r\n"
	   "--B--\r\n"),
	 "SUBJECT: OUTER\n"
	 "CONTENT-TYPE: MULTIPART/MIXED; BOUNDARY=B\n",
	 "SEE ATTACHED\n"
	 "SUBJECT: INNER " U_UML "\n"
	 "CONTENT-TYPE: TEXT/PLAIN; CHARSET=UTF-8\n"
	 "CONTENT-TRANSFER-ENCODING: QUOTED-PRINTABLE\n"
	 "INNER BODY " A_UML "\n"},
	{"no Content-Type: UTF-8 kept, other bytes windows-1252, NUL, CR",
	 S("Subject: x\n"
	   "\n"
	   "na\xc3\xafve\x00" "caf\xe9\rend\n"),
	 "SUBJECT: X\n",
	 "NA" I_UML "VE CAF" E_ACUTE "\nEND\n\n"},
	{"an unknown transfer encoding is skipped",
	 S("Content-Type: text/plain\r\n"
	   "Content-Transfer-Encoding: x-uuencode\r\n"
	   "\r\n"
	   "begin 644 x\r\n"),
	 "CONTENT-TYPE: TEXT/PLAIN\n"
	 "CONTENT-TRANSFER-ENCODING: X-UUENCODE\n",
	 ""},
	{"an encoded message/rfc822 is opaque",
	 S("Content-Type: message/rfc822\r\n"
	   "Content-Transfer-Encoding: base64\r\n"
	   "\r\n"
	   "U3ViamVjdDogeA0KDQp5DQo=\r\n"),
	 "CONTENT-TYPE: MESSAGE/RFC822\n"
	 "CONTENT-TRANSFER-ENCODING: BASE64\n",
	 ""},
	{"a header and nothing else",
	 S("Subject: only"),
	 "SUBJECT: ONLY\n",
	 ""},
	{"no header at all",
	 S("\r\nbody"),
	 "",
	 "BODY\n"},
	{"an address with comments or spaces inside: a second line as "
	 "ENVELOPE has it; one written whole, or a group's, gets none",
	 S("From: <ann (home)@ (the isp) example.org>\r\n"
	   "To: bob @ example.net,\r\n carol@example.net\r\n"
	   "Cc: Dee <dee@example.net>, team: eve@example.net;\r\n"
	   "Bcc: fred@example.net (Fred)\r\n"
	   "Reply-To: <x (y)@example.net>\r\n"
	   "\r\n"),
	 "FROM: <ANN (HOME)@ (THE ISP) EXAMPLE.ORG>\n"
	 "FROM: ANN@EXAMPLE.ORG\n"
	 "TO: BOB @ EXAMPLE.NET, CAROL@EXAMPLE.NET\n"
	 "TO: BOB@EXAMPLE.NET, CAROL@EXAMPLE.NET\n"
	 "CC: DEE <DEE@EXAMPLE.NET>, TEAM: EVE@EXAMPLE.NET;\n"
	 "BCC: FRED@EXAMPLE.NET (FRED)\n"
	 "REPLY-TO: <X (Y)@EXAMPLE.NET>\n",
	 ""},
	{"text/calendar is text too; image is not",
	 S("Content-Type: multipart/alternative; boundary=b\r\n"
	   "\r\n"
	   "--b\r\n"
	   "Content-Type: image/png\r\n"
	   "\r\n"
	   "\x89PNG\r\n"
	   "--b\r\n"
	   "Content-Type: TEXT/Calendar\r\n"
	   "\r\n"
	   "SUMMARY:Meeting\r\n"
	   "--b--\r\n"),
	 "CONTENT-TYPE: MULTIPART/ALTERNATIVE; BOUNDARY=B\n",
	 "SUMMARY:MEETING\n"},
};

static void test_extract(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* Appends, never overwrites. */
static void test_appends(void **state)
{
	struct str h = STR_INIT, b = STR_INIT;
	str_appends(&h, "h:");
	str_appends(&b, "b:");
	cur = "appends";
	extract(S("A: 1\r\n\r\nz"), &h, &b);
	EXPECT_STR(h.data, "h:A: 1\n");
	EXPECT_STR(b.data, "b:Z\n");
	str_free(&h);
	str_free(&b);
}

static bool utf8_valid(const struct str *s)
{
	return u8_check((const uint8_t *)s->data, s->len) == NULL;
}

/* A message whose text is past the bound: header first, then the body
 * up to MIME_TEXT_MAX in all, cut between characters. */
static void test_bound(void **state)
{
	static const char head[] = "Subject: big\r\n\r\n";
	size_t lines = 2 * MIME_TEXT_MAX / 100;
	struct str msg = STR_INIT, h = STR_INIT, b = STR_INIT;
	str_appends(&msg, head);
	for (size_t i = 0; i < lines; i++)
		str_appends(&msg, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	cur = "ascii past the bound";
	extract(msg.data, msg.len, &h, &b);
	EXPECT_STR(h.data, "SUBJECT: BIG\n");
	EXPECT_INT(b.len, MIME_TEXT_MAX - h.len);
	EXPECT(strspn(b.data, "A\n") == b.len);

	/* "é" is 3 bytes once normalised: the cut falls between two code
	 * points. */
	str_clear(&msg);
	str_clear(&h);
	str_clear(&b);
	str_appends(&msg, "Subject: big\r\nContent-Type: text/plain; "
			  "charset=utf-8\r\n\r\n");
	for (size_t i = 0; i < MIME_TEXT_MAX; i++)
		str_appends(&msg, "\xc3\xa9");
	cur = "multi-byte past the bound";
	extract(msg.data, msg.len, &h, &b);
	EXPECT(h.len + b.len <= MIME_TEXT_MAX);
	EXPECT(h.len + b.len > MIME_TEXT_MAX - 3);
	EXPECT(utf8_valid(&b));

	/* A field that does not fit ends the header text: whole lines or
	 * nothing, and no body text after. */
	str_clear(&msg);
	str_clear(&h);
	str_clear(&b);
	str_appends(&msg, "X-A: a\r\nSubject: ");
	for (size_t i = 0; i < MIME_TEXT_MAX / 10 + 1; i++)
		str_appends(&msg, "0123456789");
	str_appends(&msg, "\r\nX-B: b\r\n\r\nbody\r\n");
	cur = "a field past the bound";
	extract(msg.data, msg.len, &h, &b);
	EXPECT_STR(h.data, "X-A: A\n");
	EXPECT_STR(b.data, "");
	str_free(&msg);
	str_free(&h);
	str_free(&b);
}

struct html_case {
	const char *in, *want;
};

static void test_html(void **state)
{
	static const struct html_case t[] = {
		{"", ""},
		{"plain", "plain"},
		{"<p>Hello</p><p>World</p>", " Hello  World "},
		/* Inline tags join, others separate. */
		{"<b>Gr</b>&ouml;&szlig;e", "Gr\xc3\xb6\xc3\x9f" "e"},
		{"a<br>b<BR/>c<span class=x>d</SPAN>", "a b cd"},
		{"a &lt; b &amp;&amp; c &gt; d &quot;q&quot; &apos;",
		 "a < b && c > d \"q\" '"},
		{"hy&shy;phen&nbsp;x", "hyphen x"},
		{"&euro;5 &hellip; &mdash;",
		 "\xe2\x82\xac" "5 \xe2\x80\xa6 \xe2\x80\x94"},
		/* Numeric references; bad code points are U+FFFD. */
		{"&#72;&#x49;&#X4a;", "HIJ"},
		{"&#0;&#xD800;&#1114112;",
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"&#233;t&#xe9;", "\xc3\xa9t\xc3\xa9"},
		/* Not references: kept as written. */
		{"&unknown; &amp &#; &#x; &; & x", "&unknown; &amp &#; &#x; &; & x"},
		{"&AMP;", "&AMP;"},
		/* Scripts, styles and comments go whole. */
		{"<script>var x = '<p>';</script>after", "  after"},
		{"<style type=\"text/css\">p { x }</STYLE>x", "  x"},
		{"<!-- comment <b> -->text", "text"},
		{"a<!-- unclosed", "a"},
		{"<!DOCTYPE html><html>x</html>", " x "},
		{"<?xml version=\"1.0\"?>x", "x"},
		/* A ">" inside a quoted attribute value does not end it. */
		{"<a href=\"x>y\">link</a>", "link"},
		{"<a title='>'>t</a>", "t"},
		{"<img alt=\"don't\">", " "},
		/* A "<" that starts no tag is text. */
		{"a < b", "a < b"},
		{"x<", "x<"},
		{"<3 <=", "<3 <="},
		{"<unclosed", " "},
		{"<script>never closed", " "},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str out = STR_INIT;
		char *buf = exact(t[i].in, strlen(t[i].in));
		cur = t[i].in;
		str_appends(&out, "<");
		mime_text_html(buf, strlen(t[i].in), &out);
		EXPECT(out.len >= 1 && out.data[0] == '<');
		EXPECT_MEM(out.data + 1, out.len - 1, t[i].want);
		EXPECT(out.len - 1 <= strlen(t[i].in));
		free(buf);
		str_free(&out);
	}
}

static void test_key(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} t[] = {
		{S(""), ""},
		{S("gr\xc3\xb6\xc3\x9f" "e"), "GR" O_UML SZ "E"},
		{S("GR\xc3\x96SSE"), "GR" O_UML "SSE"},
		{S("a\r\nb\rc\nd"), "A\nB\nC\nD"},
		{S("x\0y"), "X Y"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str out = STR_INIT;
		char *buf = exact(t[i].in, t[i].len);
		cur = t[i].want;
		mime_text_key(buf, t[i].len, &out);
		assert_non_null(out.data);
		EXPECT_MEM(out.data, out.len, t[i].want);
		free(buf);
		str_free(&out);
	}
}

/* SEARCH's rules end to end: the key and the text both in the kept form,
 * matched as substrings. */
static bool finds(const char *key, const char *msg, bool header)
{
	struct str h = STR_INIT, b = STR_INIT, k = STR_INIT;
	extract(msg, strlen(msg), &h, &b);
	mime_text_key(key, strlen(key), &k);
	const struct str *x = header ? &h : &b;
	bool hit = mime_text_contains(x->data, x->len, k.data, k.len);
	str_free(&h);
	str_free(&b);
	str_free(&k);
	return hit;
}

static void test_search_rules(void **state)
{
	static const char latin1[] =
		"Subject: =?iso-8859-1?q?gr=F6=DFe?=\r\n"
		"Content-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"Stra=DFe in K=F6ln, CAF=C9\r\n";
	cur = "casemap";
	EXPECT(finds("größe", latin1, true));
	EXPECT(finds("GRÖßE", latin1, true));
	EXPECT(finds("rö", latin1, true));
	/* RFC 5051: sharp s is not folded to "SS". */
	EXPECT(!finds("GRÖSSE", latin1, true));
	EXPECT(finds("köln", latin1, false));
	EXPECT(finds("KÖLN", latin1, false));
	/* é precomposed or decomposed, either case. */
	EXPECT(finds("café", latin1, false));
	EXPECT(finds("cafe\xcc\x81", latin1, false));
	/* A substring in the middle of a word. */
	EXPECT(finds("trasse", latin1, false) == false);
	EXPECT(finds("traße", latin1, false));
	EXPECT(finds("", latin1, false));
	/* Not the text of the other part. */
	EXPECT(!finds("köln", latin1, true));
	EXPECT(!finds("größe", latin1, false));
}

static void test_field_has(void **state)
{
	static const char hdr[] = "FROM: JOHN <J@X>\n"
				  "SUBJECT: HELLO WORLD\n"
				  "X-EMPTY: \n"
				  "RECEIVED: A\n"
				  "RECEIVED: B JOHN\n";
	static const struct {
		const char *name, *needle;
		bool want;
	} t[] = {
		{"FROM", "JOHN", true},
		{"FROM", "J@X>", true},
		{"FROM", "HELLO", false},
		{"SUBJECT", "LO WO", true},
		{"SUBJECT", "", true},
		{"SUBJ", "HELLO", false},
		{"SUBJECTS", "HELLO", false},
		{"X-EMPTY", "", true},
		{"X-EMPTY", " ", false},
		{"X-MISSING", "", false},
		/* Every field of the name counts, not only the first. */
		{"RECEIVED", "JOHN", true},
		{"RECEIVED", "A", true},
		/* The value, not the name or the line end. */
		{"FROM", "FROM", false},
		{"FROM", "JOHN <J@X>\n", false},
		{NULL, "WORLD", true},
		{NULL, "NOWHERE", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *buf = exact(hdr, strlen(hdr));
		cur = t[i].needle;
		bool got = mime_text_field_has(
			buf, strlen(hdr), t[i].name,
			t[i].name ? strlen(t[i].name) : 0, t[i].needle,
			strlen(t[i].needle));
		if (got != t[i].want)
			fail_msg("field %s needle \"%s\": %d", t[i].name,
				 t[i].needle, got);
		free(buf);
	}
	EXPECT(!mime_text_field_has("", 0, "FROM", 4, "", 0));
	EXPECT(mime_text_contains("abc", 3, "", 0));
	EXPECT(!mime_text_contains("ab", 2, "abc", 3));
}

/* n + 2 distinct code points from U+4E00 on: exactly n distinct
 * trigrams, three bytes a code point. */
static char *distinct_cps(size_t n, size_t *len_r)
{
	struct str s = STR_INIT;
	for (uint32_t c = 0x4e00; c < 0x4e00 + n + 2; c++) {
		char u[3] = {(char)(0xe0 | c >> 12), (char)(0x80 | (c >> 6 & 0x3f)),
			     (char)(0x80 | (c & 0x3f))};
		str_append(&s, u, 3);
	}
	*len_r = s.len;
	return s.data;
}

static void test_indexable(void **state)
{
	(void)state;
	size_t n;
	char *t = distinct_cps(MIME_TEXT_INDEX_TRIGRAMS, &n);
	assert_true(mime_text_indexable("", 0, t, n));
	/* The same trigrams again add nothing. */
	assert_true(mime_text_indexable(t, n, t, n));
	free(t);
	t = distinct_cps(MIME_TEXT_INDEX_TRIGRAMS + 1, &n);
	assert_false(mime_text_indexable("", 0, t, n));
	assert_false(mime_text_indexable(t, n, "", 0));
	/* Split between the two columns, the trigrams across the split
	 * are not made: two fewer. */
	assert_true(mime_text_indexable(t, 9, t + 9, n - 9));
	free(t);
	/* Natural text repeats its trigrams: 200 KiB of it is fine. */
	struct str s = STR_INIT;
	while (s.len < 200 * 1024)
		str_appends(&s, "The quick brown fox jumps over the lazy dog.\n");
	assert_true(mime_text_indexable("Subject: fox\n", 13, s.data, s.len));
	str_free(&s);
	/* Length alone: up to the bound, not past it. */
	char *a = malloc(MIME_TEXT_INDEX_MAX + 1);
	memset(a, 'a', MIME_TEXT_INDEX_MAX + 1);
	assert_true(mime_text_indexable("", 0, a, MIME_TEXT_INDEX_MAX));
	assert_false(mime_text_indexable("a", 1, a, MIME_TEXT_INDEX_MAX));
	free(a);
	/* Random printable bytes, the case that costs FTS5 most. */
	unsigned x = 1;
	char r[64 * 1024];
	for (size_t i = 0; i < sizeof(r); i++) {
		x = x * 1103515245u + 12345u;
		r[i] = (char)(33 + (x >> 16) % 94);
	}
	assert_false(mime_text_indexable("", 0, r, sizeof(r)));
}

/* The lines of a whole header text whose names are among names[]. */
static void lines_named(const char *text, const char *const *names,
			size_t n, struct str *out)
{
	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t line = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
		const char *colon = memchr(p, ':', line);
		for (size_t i = 0; colon != NULL && i < n; i++) {
			if ((size_t)(colon - p) == strlen(names[i]) &&
			    memcmp(p, names[i], strlen(names[i])) == 0) {
				str_append(out, p, line);
				break;
			}
		}
		p += line;
	}
	str_append(out, "", 0);
}

/* The fields of a message's top-level header, as the search of
 * unindexed messages makes them: the lines of the whole header text with
 * those names, for every message of the extraction table, and a raw
 * 8-bit name kept whatever it is. */
static void test_header_fields(void **state)
{
	static const char *const sets[][3] = {
		{"FROM", NULL}, {"SUBJECT", "X-EMPTY", NULL},
		{"CONTENT-TYPE", NULL}, {"X-RAW", "FROM", "SUBJECT"},
		{"NOWHERE", NULL}, {"", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = exact(cases[i].msg, cases[i].len);
		struct mime_msg *m = mime_parse(buf, cases[i].len);
		const struct mime_part *top = mime_part(m, 0);
		struct str whole = STR_INIT, junk = STR_INIT;
		mime_text_extract(m, &whole, &junk);
		cur = cases[i].name;
		for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
			const char *names[3];
			size_t lens[3], n = 0;
			for (; n < 3 && sets[k][n] != NULL; n++) {
				names[n] = sets[k][n];
				lens[n] = strlen(sets[k][n]);
			}
			struct str got = STR_INIT, want = STR_INIT;
			EXPECT(mime_text_header_fields(
				mime_data(m) + top->hdr, top->body - top->hdr,
				names, lens, n, &got));
			lines_named(whole.data, names, n, &want);
			assert_non_null(got.data);
			EXPECT_MEM(got.data, got.len, want.data);
			str_free(&got);
			str_free(&want);
		}
		str_free(&whole);
		str_free(&junk);
		mime_free(&m);
		free(buf);
	}
	static const char raw[] = "Fr\xf6m: a\r\nFrom: b\r\nTo: c\r\n\r\n";
	const char *from = "FROM";
	size_t four = 4;
	struct str got = STR_INIT, whole = STR_INIT, junk = STR_INIT;
	cur = "8-bit name";
	extract(raw, strlen(raw), &whole, &junk);
	/* The whole text less its "TO: C" line. */
	EXPECT(whole.len > 6 &&
	       strcmp(whole.data + whole.len - 6, "TO: C\n") == 0);
	whole.data[whole.len - 6] = '\0';
	EXPECT(mime_text_header_fields(raw, strlen(raw), &from, &four, 1,
				       &got));
	EXPECT_STR(got.data, whole.data);
	EXPECT(strncmp(got.data, "FROM", 4) != 0);
	str_free(&got);
	str_free(&whole);
	str_free(&junk);
}

/* What the field filter stands on: normalising printable ASCII other
 * than ':' gives its capitals, one byte for one. */
static void test_ascii_names(void **state)
{
	char in[2] = {0, 0};
	for (int c = '!'; c <= '~'; c++) {
		struct str out = STR_INIT;
		in[0] = (char)c;
		mime_text_key(in, 1, &out);
		char want = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A')
						 : (char)c;
		cur = in;
		EXPECT_MEM(out.data, out.len, ((char[]){want, 0}));
		str_free(&out);
	}
}

/* A header past the bound is declined, nothing appended. */
static void test_header_fields_bound(void **state)
{
	size_t len = MIME_TEXT_FIELDS_MAX + 1;
	char *hdr = malloc(len);
	memset(hdr, 'a', len);
	memcpy(hdr, "From: ", 6);
	const char *from = "FROM";
	size_t four = 4;
	struct str got = STR_INIT;
	cur = "bound";
	EXPECT(!mime_text_header_fields(hdr, len, &from, &four, 1, &got));
	EXPECT_INT(got.len, 0);
	EXPECT(mime_text_header_fields(hdr, len - 1, &from, &four, 1, &got));
	EXPECT(got.len > 6);
	str_free(&got);
	free(hdr);
}

/* ---- the walk, a chunk of each part at a time ---- */

struct pieces {
	struct str h, b;
	size_t max;		/* the longest piece */
	bool lines_whole;	/* every line piece ends in its LF */
};

static bool gather(void *ctx, enum mime_text_piece kind, const char *p,
		   size_t n)
{
	struct pieces *g = ctx;
	if (n > g->max)
		g->max = n;
	if (kind != MIME_TEXT_BODY && p[n - 1] != '\n')
		g->lines_whole = false;
	str_append(kind == MIME_TEXT_HEADER_LINE ? &g->h : &g->b, p, n);
	return true;
}

/* Messages whose parts are longer than the chunks below, with something
 * for every stage to carry over a cut: base64 groups, quoted-printable
 * escapes and soft breaks, characters of several bytes in UTF-8, UTF-16
 * and ISO-2022-JP (whose escape sequences change the meaning of what
 * follows), CR LF, HTML tags, comments, scripts and references, and
 * combining marks.  Text of a few dozen bytes: each part is one chunk
 * when read whole. */
static const struct {
	const char *name, *msg;
	size_t len;
} walk_msgs[] = {
	{"base64 utf-8",
	 S("Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n"
	   "Content-Transfer-Encoding: base64\r\n\r\n"
	   "R3LDtsOfZSBpbiBLw7ZsbjogU3RyYcOfZSDigqwgZ2VzcGVycnQuIMOpw6nD\r\n"
	   "qSBlbmQ=\r\n")},
	{"quoted-printable latin-1, soft breaks",
	 S("Content-Type: text/plain; charset=iso-8859-1\r\n"
	   "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	   "Die Stra=DFe in K=F6ln=\r\n ist ges=\r\nperrt, =E9=E9=E9=E9=E9=\r\n"
	   "=E9 und   \r\nnoch mehr   =20\r\nEnde")},
	{"utf-16 in base64",
	 S("Content-Type: text/plain; charset=utf-16\r\n"
	   "Content-Transfer-Encoding: base64\r\n\r\n"
	   "//5HAHIA9gDfAGUAIABpAG4AIABLAPYAbABuADoAIAA+2CTeIABlAG4AZAA=\r\n")},
	{"iso-2022-jp",
	 S("Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n"
	   "abc \x1b$B$3$s$K$A$O\x1b(B def \x1b$B@$3&\x1b(B ghi\r\n")},
	{"html",
	 S("Content-Type: text/html; charset=utf-8\r\n\r\n"
	   "<html><head><style>p { color: red }</style>\r\n"
	   "<script>var x = '<p>';</script></head><body>\r\n"
	   "<p class=\"a>b\">Hello&nbsp;W&ouml;rld</p><!-- a <b>comment</b> "
	   "--><b>Gr</b>&#246;&szlig;e &amp; more<br>end</body></html>\r\n")},
	{"cr lf and combining marks",
	 S("Content-Type: text/plain; charset=utf-8\r\n\r\n"
	   "line one\r\nline two\rline three\r\n"
	   "e\xcc\x81\xcc\xa3 a\xcc\x88\xcc\x88 \xe1\xba\xbf\xef\xac\x81 "
	   "\xea\xb0\x80\xea\xb0\x81\r\n")},
	{"multipart with a message inside",
	 S("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	   "--b\r\nContent-Type: text/plain\r\n\r\nfirst part text here\r\n"
	   "--b\r\nContent-Type: message/rfc822\r\n\r\n"
	   "Subject: =?utf-8?q?inner_s=C3=BCbject?=\r\n"
	   "Content-Type: text/plain; charset=utf-8\r\n"
	   "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	   "inner =C3=BCmlaut body text\r\n"
	   "--b\r\nContent-Type: image/png\r\n\r\nnot text\r\n--b--\r\n")},
};

/* The text does not depend on where the chunks are cut. */
static void test_walk_chunks(void **state)
{
	static const size_t chunks[] = {4, 5, 6, 7, 9, 13, 16, 31, 64, 0};
	for (size_t i = 0; i < sizeof(walk_msgs) / sizeof(walk_msgs[0]); i++) {
		struct str h = STR_INIT, b = STR_INIT;
		char *buf = exact(walk_msgs[i].msg, walk_msgs[i].len);
		struct mime_msg *m = mime_parse(buf, walk_msgs[i].len);
		cur = walk_msgs[i].name;
		EXPECT(mime_text_extract(m, &h, &b));
		EXPECT(b.len > 4);
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			struct pieces g = {STR_INIT, STR_INIT, 0, true};
			mime_text_walk(m, true, chunks[c], gather, &g);
			str_append(&g.h, "", 0);
			str_append(&g.b, "", 0);
			EXPECT(g.lines_whole);
			EXPECT_MEM(g.h.data, g.h.len, h.data);
			EXPECT_MEM(g.b.data, g.b.len, b.data);
			str_free(&g.h);
			str_free(&g.b);
		}
		mime_free(&m);
		free(buf);
		str_free(&h);
		str_free(&b);
	}
}

/* The body text goes on past MIME_TEXT_MAX, converted and case-folded
 * as before it: a base64 part of ISO-8859-1 text of 3 MiB, whose last
 * words only the walk sees. */
static void test_walk_past_bound(void **state)
{
	struct str msg = STR_INIT, plain = STR_INIT, h = STR_INIT, b = STR_INIT;
	str_appends(&msg, "Subject: big\r\nContent-Type: text/plain; "
			  "charset=iso-8859-1\r\nContent-Transfer-Encoding: "
			  "base64\r\n\r\n");
	while (plain.len < 3 * 1024 * 1024)
		str_appends(&plain, "Gr\xf6\xdf" "e aus K\xf6ln, line of text.\r\n");
	str_appends(&plain, "Sch\xf6nes Ende\r\n");
	/* base64 in lines of 76 */
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
				  "tuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)plain.data;
	for (size_t i = 0, col = 0; i < plain.len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = plain.len - i;
		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		char q[4] = {b64[v >> 18], b64[v >> 12 & 63],
			     left > 1 ? b64[v >> 6 & 63] : '=',
			     left > 2 ? b64[v & 63] : '='};
		str_append(&msg, q, 4);
		if ((col += 4) == 76 || i + 3 >= plain.len) {
			str_appends(&msg, "\r\n");
			col = 0;
		}
	}
	char *buf = exact(msg.data, msg.len);
	struct mime_msg *m = mime_parse(buf, msg.len);
	cur = "3 MiB of base64 latin-1";
	EXPECT(!mime_text_extract(m, &h, &b));
	EXPECT(memmem(b.data, b.len, "SCHO\xcc\x88NES ENDE", 13) == NULL);
	struct pieces g = {STR_INIT, STR_INIT, 0, true};
	mime_text_walk(m, true, 0, gather, &g);
	EXPECT(g.b.len > 3 * 1024 * 1024);
	EXPECT(g.max <= 4 * MIME_TEXT_CHUNK);
	EXPECT(g.b.len > 16 && memcmp(g.b.data + g.b.len - 16,
				      "SCHO\xcc\x88NES ENDE\n\n", 16) == 0);
	/* The text before the bound is the extracted text. */
	EXPECT(memcmp(g.b.data, b.data, b.len) == 0);
	str_free(&g.h);
	str_free(&g.b);
	mime_free(&m);
	free(buf);
	str_free(&msg);
	str_free(&plain);
	str_free(&h);
	str_free(&b);
}

static bool stop_first(void *ctx, enum mime_text_piece kind, const char *p,
		       size_t n)
{
	(*(size_t *)ctx)++;
	return false;
}

/* A callback that says stop is not called again. */
static void test_walk_stop(void **state)
{
	size_t calls = 0;
	char *buf = exact(walk_msgs[6].msg, walk_msgs[6].len);
	struct mime_msg *m = mime_parse(buf, walk_msgs[6].len);
	cur = "stop";
	mime_text_walk(m, true, 0, stop_first, &calls);
	EXPECT_INT(calls, 1);
	mime_free(&m);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_search_rules),
		cmocka_unit_test(test_field_has),
		cmocka_unit_test(test_indexable),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_ascii_names),
		cmocka_unit_test(test_header_fields_bound),
		cmocka_unit_test(test_walk_chunks),
		cmocka_unit_test(test_walk_past_bound),
		cmocka_unit_test(test_walk_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
