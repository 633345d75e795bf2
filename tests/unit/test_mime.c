/* mime, mime_imap, mime_layout: each case is a message and the ENVELOPE,
 * BODY and BODYSTRUCTURE that RFC 3501 7.4.2 / RFC 9051 7.5.2 give for it,
 * byte for byte, and the bytes of its BODY[section]s (RFC 3501 6.4.5).
 * The expected strings were worked out from the RFCs' rules (sizes by
 * counting the message text, with the CRLF before a delimiter line
 * belonging to the delimiter), not taken from the code's output.
 *
 * Every message is also parsed cut at every length, and each result is
 * checked for the tree's invariants and for output that IMAP can parse. */
#include "unit.h"

#include "mime/mime.h"
#include "mime/mime_imap.h"
#include "mime/mime_layout.h"

/* ---- invariants ---- */

/* A strict reader of the IMAP syntax we write: one parenthesised list of
 * NIL, numbers, quoted strings and literals whose counts are exact. */
static void check_imap_syntax(const char *s, size_t n)
{
	size_t i = 0;
	int depth = 0;
	EXPECT(n > 0 && s[0] == '(');
	while (i < n) {
		char c = s[i];
		if (c == '(') {
			depth++;
			i++;
		} else if (c == ')') {
			EXPECT(depth > 0);
			depth--;
			i++;
			EXPECT(depth > 0 || i == n);
		} else if (c == ' ') {
			i++;
		} else if (c == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				unsigned char q = (unsigned char)s[i];
				EXPECT(q != '\r' && q != '\n' && q != 0 && q < 0x80);
				if (q == '\\') {
					i++;
					EXPECT(i < n && (s[i] == '"' || s[i] == '\\'));
				}
			}
			EXPECT(i < n);
			i++;
		} else if (c == '{') {
			size_t len = 0;
			for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				len = len * 10 + (size_t)(s[i] - '0');
			EXPECT(i + 3 <= n && memcmp(s + i, "}\r\n", 3) == 0);
			i += 3;
			EXPECT(len <= n - i);
			EXPECT(memchr(s + i, '\0', len) == NULL);
			i += len;
		} else if (c >= '0' && c <= '9') {
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
		} else {
			EXPECT(n - i >= 3 && memcmp(s + i, "NIL", 3) == 0);
			i += 3;
		}
	}
	EXPECT(depth == 0);
}

static size_t count_lf(const char *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

static void check_part(const struct mime_msg *m, uint32_t i, size_t len)
{
	const struct mime_part *p = mime_part(m, i);
	const char *d = mime_data(m);
	EXPECT(p->hdr <= p->body && p->body <= p->end && p->end <= len);
	EXPECT(p->lines == count_lf(d + p->body, p->end - p->body));
	EXPECT(p->depth <= MIME_MAX_DEPTH);
	uint32_t n = 0;
	size_t prev_end = p->body;
	for (uint32_t k = p->child; k != MIME_NONE; k = mime_part(m, k)->next) {
		const struct mime_part *c = mime_part(m, k);
		EXPECT(k > i && c->parent == i && c->depth == p->depth + 1);
		EXPECT(c->hdr >= prev_end && c->end <= p->end);
		prev_end = c->end;
		n++;
	}
	EXPECT(n == p->nchildren);
	if (p->kind == MIME_LEAF)
		EXPECT(n == 0);
	if (p->kind == MIME_MESSAGE) {
		const struct mime_part *c = mime_part(m, p->child);
		EXPECT(n == 1 && c->hdr == p->body && c->end == p->end);
	}
}

/* Parse, check the tree and the syntax of what is written from it. */
static struct mime_msg *parse_checked(const char *data, size_t len)
{
	struct mime_msg *m = mime_parse(data, len);
	EXPECT(mime_part_count(m) >= 1 && mime_part_count(m) <= MIME_MAX_PARTS);
	const struct mime_part *root = mime_part(m, 0);
	EXPECT(root->hdr == 0 && root->end == len && root->parent == MIME_NONE);
	for (uint32_t i = 0; i < mime_part_count(m); i++)
		check_part(m, i, len);
	struct str s = STR_INIT;
	mime_imap_envelope(m, &s);
	check_imap_syntax(s.data, s.len);
	str_clear(&s);
	mime_imap_bodystructure(m, false, &s);
	check_imap_syntax(s.data, s.len);
	str_clear(&s);
	mime_imap_bodystructure(m, true, &s);
	check_imap_syntax(s.data, s.len);
	str_clear(&s);
	mime_layout_encode(m, &s);
	struct mime_range r;
	EXPECT(mime_layout_section(s.data, s.len, "", 0, MIME_SECTION_WHOLE,
				   &r) == 1);
	EXPECT(r.off == 0 && r.len == len);
	str_free(&s);
	return m;
}

/* Every prefix of msg parses, with the invariants kept. */
static void check_prefixes(const char *msg)
{
	size_t len = strlen(msg);
	for (size_t n = 0; n <= len; n++) {
		char *buf = exact(msg, n);
		struct mime_msg *m = parse_checked(buf, n);
		mime_free(&m);
		assert_null(m);
		free(buf);
	}
}

/* ---- expectations ---- */

struct section_case {
	const char *path;
	enum mime_section kind;
	const char *want;	/* NULL: no such section */
	enum mime_cte cte;
};

#define SEC(path, kind, want) {path, MIME_SECTION_##kind, want, MIME_CTE_BINARY}
#define PART(path, want, cte) {path, MIME_SECTION_WHOLE, want, MIME_CTE_##cte}
#define NONE(path, kind) {path, MIME_SECTION_##kind, NULL, MIME_CTE_BINARY}

struct msg_case {
	const char *name;
	const char *msg;
	const char *envelope;
	const char *body;
	const char *bodystructure;
	const struct section_case *sections;	/* ends with path NULL */
};

static void check_sections(const char *msg, const struct str *layout,
			   const struct section_case *sc)
{
	for (; sc != NULL && sc->path != NULL; sc++) {
		struct mime_range r;
		char name[256];
		snprintf(name, sizeof(name), "%s section \"%s\" kind %d", cur,
			 sc->path, (int)sc->kind);
		const char *save = cur;
		cur = name;
		int rc = mime_layout_section(layout->data, layout->len,
					     sc->path, strlen(sc->path),
					     sc->kind, &r);
		if (sc->want == NULL) {
			EXPECT_INT(rc, 0);
		} else {
			EXPECT_INT(rc, 1);
			EXPECT_MEM(msg + r.off, r.len, sc->want);
			EXPECT_INT(r.cte, sc->cte);
		}
		cur = save;
	}
}

static void check_case(const struct msg_case *c)
{
	struct str s = STR_INIT;
	size_t len = strlen(c->msg);
	char *buf = exact(c->msg, len);
	cur = c->name;
	struct mime_msg *m = parse_checked(buf, len);
	if (c->envelope != NULL) {
		mime_imap_envelope(m, &s);
		EXPECT_STR(s.data, c->envelope);
		str_clear(&s);
	}
	if (c->body != NULL) {
		mime_imap_bodystructure(m, false, &s);
		EXPECT_STR(s.data, c->body);
		str_clear(&s);
	}
	if (c->bodystructure != NULL) {
		mime_imap_bodystructure(m, true, &s);
		EXPECT_STR(s.data, c->bodystructure);
		str_clear(&s);
	}
	mime_layout_encode(m, &s);
	check_sections(buf, &s, c->sections);
	str_free(&s);
	mime_free(&m);
	free(buf);
	check_prefixes(c->msg);
}

/* ---- the RFC 3501 example (section 8, FETCH 12) ---- */

/* Its header, and a body of 3028 octets in 92 lines. */
static char *rfc3501_message(void)
{
	static const char hdr[] =
		"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
		"From: Terry Gray <gray@cac.washington.edu>\r\n"
		"Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
		"To: imap@cac.washington.edu\r\n"
		"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
		"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
		"\r\n";
	struct str s = STR_INIT;
	str_appends(&s, hdr);
	/* 91 lines of 31 characters and one of 23, each with CRLF:
	 * 91 * 33 + 25 = 3028. */
	for (int i = 0; i < 91; i++)
		str_appends(&s, "The IMAP4rev1 WG met today.....\r\n");
	str_appends(&s, "Minutes follow below...\r\n");
	return s.data;
}

static void test_rfc3501_example(void **state)
{
	char *msg = rfc3501_message();
	struct msg_case c = {
		"RFC 3501 example", msg,
		"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
		"\"IMAP4rev1 WG mtg summary and minutes\" "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((NIL NIL \"imap\" \"cac.washington.edu\")) "
		"((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
		"(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
		"\"<B27397-0100000@cac.washington.edu>\")",
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"3028 92)",
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"3028 92 NIL NIL NIL NIL)",
		NULL,
	};
	cur = c.name;
	/* The prefix check is quadratic: run the parts by hand. */
	struct str s = STR_INIT;
	struct mime_msg *m = parse_checked(msg, strlen(msg));
	mime_imap_envelope(m, &s);
	EXPECT_STR(s.data, c.envelope);
	str_clear(&s);
	mime_imap_bodystructure(m, false, &s);
	EXPECT_STR(s.data, c.body);
	str_clear(&s);
	mime_imap_bodystructure(m, true, &s);
	EXPECT_STR(s.data, c.bodystructure);
	str_free(&s);
	mime_free(&m);
	free(msg);
}

/* ---- a message without MIME ---- */

static const char plain_msg[] =
	"From: alice@example.org\r\n"
	"To: bob@example.net\r\n"
	"Subject: hello\r\n"
	"\r\n"
	"Hi Bob,\r\n"
	"bye\r\n";

static const struct section_case plain_sections[] = {
	SEC("", WHOLE, plain_msg),
	SEC("", HEADER, "From: alice@example.org\r\nTo: bob@example.net\r\n"
			"Subject: hello\r\n\r\n"),
	SEC("", HEADER_FIELDS, "From: alice@example.org\r\n"
			       "To: bob@example.net\r\nSubject: hello\r\n\r\n"),
	SEC("", TEXT, "Hi Bob,\r\nbye\r\n"),
	NONE("", MIME),
	/* Part 1 of a message that is not multipart is its body. */
	PART("1", "Hi Bob,\r\nbye\r\n", 7BIT),
	SEC("1", MIME, "From: alice@example.org\r\nTo: bob@example.net\r\n"
		       "Subject: hello\r\n\r\n"),
	NONE("1", HEADER), NONE("1", TEXT), NONE("1", HEADER_FIELDS),
	NONE("2", WHOLE), NONE("1.1", WHOLE), NONE("1.1", MIME),
	NONE("2", MIME),
	/* Not IMAP syntax: the command parser refuses these first. */
	NONE("0", WHOLE), NONE("01", WHOLE), NONE("1.", WHOLE),
	NONE(".1", WHOLE), NONE("1..1", WHOLE), NONE("x", WHOLE),
	NONE("99999999999999999999", WHOLE),
	{NULL, 0, NULL, 0},
};

/* ---- multipart/alternative inside multipart/mixed ---- */

static const char alt_msg[] =
	"From: a@example.org\r\n"
	"Subject: alt\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"This is a preamble.\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=inner\r\n"
	"\r\n"
	"--inner\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Hello=20world\r\n"
	"second\r\n"
	"--inner\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"\r\n"
	"<p>Hello</p>\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment; filename=\"doc.pdf\"\r\n"
	"Content-Description: The document\r\n"
	"Content-ID: <doc@example.org>\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

#define ALT_BODY                                                            \
	"--inner\r\n"                                                       \
	"Content-Type: text/plain; charset=utf-8\r\n"                      \
	"Content-Transfer-Encoding: quoted-printable\r\n"                  \
	"\r\n"                                                              \
	"Hello=20world\r\n"                                                 \
	"second\r\n"                                                        \
	"--inner\r\n"                                                       \
	"Content-Type: text/html; charset=utf-8\r\n"                       \
	"\r\n"                                                              \
	"<p>Hello</p>\r\n"                                                  \
	"--inner--"

static const struct section_case alt_sections[] = {
	SEC("", HEADER, "From: a@example.org\r\nSubject: alt\r\n"
			"MIME-Version: 1.0\r\n"
			"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
			"\r\n"),
	SEC("", TEXT, alt_msg + 105),
	PART("1", ALT_BODY, 7BIT),
	SEC("1", MIME, "Content-Type: multipart/alternative; "
		       "boundary=inner\r\n\r\n"),
	NONE("1", HEADER), NONE("1", TEXT),
	PART("1.1", "Hello=20world\r\nsecond", QP),
	SEC("1.1", MIME, "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"),
	PART("1.2", "<p>Hello</p>", 7BIT),
	SEC("1.2", MIME, "Content-Type: text/html; charset=utf-8\r\n\r\n"),
	NONE("1.3", WHOLE), NONE("1.1.1", WHOLE), NONE("1.1.HEADER", HEADER),
	PART("2", "JVBERi0xLjQK", BASE64),
	SEC("2", MIME, "Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
		       "Content-Transfer-Encoding: base64\r\n"
		       "Content-Disposition: attachment; "
		       "filename=\"doc.pdf\"\r\n"
		       "Content-Description: The document\r\n"
		       "Content-ID: <doc@example.org>\r\n\r\n"),
	NONE("3", WHOLE), NONE("3", MIME), NONE("2.1", WHOLE),
	{NULL, 0, NULL, 0},
};

/* The same message with LF line ends: sizes count the bytes as they are. */
static const char alt_lf_msg[] =
	"From: a@example.org\n"
	"Subject: alt\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\n"
	"\n"
	"This is a preamble.\n"
	"--outer\n"
	"Content-Type: multipart/alternative; boundary=inner\n"
	"\n"
	"--inner\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Hello=20world\n"
	"second\n"
	"--inner\n"
	"Content-Type: text/html; charset=utf-8\n"
	"\n"
	"<p>Hello</p>\n"
	"--inner--\n"
	"--outer\n"
	"Content-Type: application/pdf; name=\"doc.pdf\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"JVBERi0xLjQK\n"
	"--outer--\n";

static const struct section_case alt_lf_sections[] = {
	SEC("", HEADER, "From: a@example.org\nSubject: alt\n"
			"Content-Type: multipart/mixed; boundary=\"outer\"\n\n"),
	PART("1.1", "Hello=20world\nsecond", QP),
	SEC("1.1", MIME, "Content-Type: text/plain; charset=utf-8\n"
			 "Content-Transfer-Encoding: quoted-printable\n\n"),
	PART("1.2", "<p>Hello</p>", 7BIT),
	PART("2", "JVBERi0xLjQK", BASE64),
	SEC("2", HEADER_FIELDS, NULL),
	{NULL, 0, NULL, 0},
};

/* ---- message/rfc822 attachments ---- */

static const char rfc822_msg[] =
	"From: Bob <bob@example.com>\r\n"
	"Subject: fwd\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=a\r\n"
	"\r\n"
	"--a\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"See attached.\r\n"
	"--a\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: Carol <carol@example.com>\r\n"
	"To: Dave <dave@example.com>\r\n"
	"Subject: inner\r\n"
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Message-ID: <inner@example.com>\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n"
	"\r\n"
	"--b\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"\r\n"
	"inner text\r\n"
	"--b\r\n"
	"Content-Type: image/gif\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"R0lGODlh\r\n"
	"--b--\r\n"
	"--a\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: plain inner\r\n"
	"\r\n"
	"just text\r\n"
	"--a--\r\n";

#define INNER_HDR                                                           \
	"From: Carol <carol@example.com>\r\n"                              \
	"To: Dave <dave@example.com>\r\n"                                  \
	"Subject: inner\r\n"                                                \
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"                          \
	"Message-ID: <inner@example.com>\r\n"                              \
	"Content-Type: multipart/mixed; boundary=b\r\n"                    \
	"\r\n"
#define INNER_BODY                                                          \
	"--b\r\n"                                                           \
	"Content-Type: text/plain; charset=us-ascii\r\n"                   \
	"\r\n"                                                              \
	"inner text\r\n"                                                    \
	"--b\r\n"                                                           \
	"Content-Type: image/gif\r\n"                                      \
	"Content-Transfer-Encoding: base64\r\n"                            \
	"\r\n"                                                              \
	"R0lGODlh\r\n"                                                      \
	"--b--"

static const struct section_case rfc822_sections[] = {
	PART("1", "See attached.", 7BIT),
	NONE("1", HEADER), NONE("1", TEXT), NONE("1.1", WHOLE),
	/* Part 2 is the whole message inside; HEADER and TEXT are its. */
	PART("2", INNER_HDR INNER_BODY, 7BIT),
	SEC("2", MIME, "Content-Type: message/rfc822\r\n\r\n"),
	SEC("2", HEADER, INNER_HDR),
	SEC("2", HEADER_FIELDS, INNER_HDR),
	SEC("2", HEADER_FIELDS_NOT, INNER_HDR),
	SEC("2", TEXT, INNER_BODY),
	/* Its parts are numbered inside it. */
	PART("2.1", "inner text", 7BIT),
	SEC("2.1", MIME, "Content-Type: text/plain; charset=us-ascii\r\n\r\n"),
	PART("2.2", "R0lGODlh", BASE64),
	SEC("2.2", MIME, "Content-Type: image/gif\r\n"
			 "Content-Transfer-Encoding: base64\r\n\r\n"),
	NONE("2.3", WHOLE), NONE("2.1.1", WHOLE), NONE("2.1", HEADER),
	NONE("2.2", TEXT),
	/* A message inside that is not multipart: 3.1 is its body. */
	PART("3", "Subject: plain inner\r\n\r\njust text", 7BIT),
	SEC("3", HEADER, "Subject: plain inner\r\n\r\n"),
	SEC("3", TEXT, "just text"),
	PART("3.1", "just text", 7BIT),
	SEC("3.1", MIME, "Subject: plain inner\r\n\r\n"),
	NONE("3.2", WHOLE), NONE("3.1.1", WHOLE), NONE("3.1", HEADER),
	NONE("4", WHOLE),
	{NULL, 0, NULL, 0},
};

#define INNER_ENVELOPE                                                      \
	"(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"inner\" "                    \
	"((\"Carol\" NIL \"carol\" \"example.com\")) "                      \
	"((\"Carol\" NIL \"carol\" \"example.com\")) "                      \
	"((\"Carol\" NIL \"carol\" \"example.com\")) "                      \
	"((\"Dave\" NIL \"dave\" \"example.com\")) NIL NIL NIL "            \
	"\"<inner@example.com>\")"

/* ---- missing boundaries, preamble, epilogue ---- */

static const char unclosed_msg[] =
	"Content-Type: multipart/mixed; boundary=x\r\n"
	"\r\n"
	"--x\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"one\r\n"
	"--x\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"two\r\n";

static const struct section_case unclosed_sections[] = {
	PART("1", "one", 7BIT),
	/* Without a close delimiter the last part runs to the end. */
	PART("2", "two\r\n", 7BIT),
	NONE("3", WHOLE),
	{NULL, 0, NULL, 0},
};

static const char never_msg[] =
	"Content-Type: multipart/mixed; boundary=never\r\n"
	"\r\n"
	"just some text\r\n"
	"--nev\r\n";

static const struct section_case never_sections[] = {
	SEC("", TEXT, "just some text\r\n--nev\r\n"),
	/* The one empty part that BODYSTRUCTURE shows. */
	PART("1", "", 7BIT),
	SEC("1", MIME, ""),
	NONE("1", HEADER), NONE("1.1", WHOLE), NONE("2", WHOLE),
	{NULL, 0, NULL, 0},
};

/* Transport padding after delimiters, text around the parts, and an
 * inner multipart whose close delimiter is missing: the outer delimiter
 * ends it. */
static const char padded_msg[] =
	"Content-Type: multipart/mixed;\r\n"
	" boundary=\"=_abc 1\"\r\n"
	"\r\n"
	"preamble\r\n"
	"\r\n"
	"--=_abc 1  \r\n"
	"\r\n"
	"no header\r\n"
	"\r\n"
	"--=_abc 1\t\r\n"
	"Content-Type: multipart/related; boundary=\"=_abc 1.1\"\r\n"
	"\r\n"
	"--=_abc 1.1\r\n"
	"\r\n"
	"inner\r\n"
	"--=_abc 1--  \r\n"
	"epilogue\r\n"
	"--=_abc 1\r\n"
	"more epilogue";

static const struct section_case padded_sections[] = {
	PART("1", "no header\r\n", 7BIT),
	SEC("1", MIME, "\r\n"),
	PART("2", "--=_abc 1.1\r\n\r\ninner", 7BIT),
	PART("2.1", "inner", 7BIT),
	SEC("2.1", MIME, "\r\n"),
	NONE("3", WHOLE),
	{NULL, 0, NULL, 0},
};

/* ---- headers ---- */

static const char encoded_msg[] =
	"From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n"
	"To: \"=?utf-8?q?J=C3=B6rg?=\" <joerg@example.de>,\r\n"
	"  =?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>\r\n"
	"Subject: =?UTF-8?B?w6lsw6lwaGFudA==?=\r\n"
	"\t=?UTF-8?Q?_trompe?=\r\n"
	"Date: Thu, 1 Feb 2024 10:00:00 +0100\r\n"
	"\r\n";

static const char eightbit_msg[] =
	"From: J\xc3\xbcrgen <j@example.de>\r\n"
	"Subject: Gr\xc3\xbc\xc3\x9f" "e \"aus\" \\ Berlin\r\n"
	"Message-ID: <x@example.de>\r\n"
	"Content-Type: text/plain; charset=utf-8; name=\"B\xc3\xa4r.txt\"\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"Gr\xc3\xbc\xc3\x9f" "e\r\n";

static const char group_msg[] =
	"From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\n"
	"Sender: \r\n"
	"To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\n"
	"Cc: Undisclosed recipients:;\r\n"
	"Bcc: (empty)\r\n"
	"Reply-To: \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\r\n"
	"In-Reply-To: <a@b>\r\n"
	"Subject:\r\n"
	"\r\n";

static const char obsolete_msg[] =
	"From: Joe Q. Public <john.q.public@example.com>\r\n"
	"To: Mary Smith <@node.test,@two.test:mary@example.net>, , jdoe@test   . example\r\n"
	"Cc: John Doe <jdoe@machine(comment).  example>, gray@cac (Terry\r\n"
	" \\(T\\) Gray),\r\n"
	"  \"john doe\"@example.com, <>, postmaster, <root>, [1.2.3.4], Just Name\r\n"
	"Bcc: group: a@b.c, unclosed@d.e, \"\" <e@f>, g@h ()\r\n"
	"\r\n";

static const char digest_msg[] =
	"Content-Type: multipart/digest; boundary=d\r\n"
	"\r\n"
	"--d\r\n"
	"\r\n"
	"Subject: one\r\n"
	"\r\n"
	"first\r\n"
	"--d\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"not a message\r\n"
	"--d--\r\n";

static const struct section_case digest_sections[] = {
	PART("1", "Subject: one\r\n\r\nfirst", 7BIT),
	SEC("1", HEADER, "Subject: one\r\n\r\n"),
	PART("1.1", "first", 7BIT),
	PART("2", "not a message", 7BIT),
	NONE("2", HEADER),
	{NULL, 0, NULL, 0},
};

static const char bad_type_msg[] =
	"Content-Type: multipart/mixed; boundary=z\r\n"
	"\r\n"
	"--z\r\n"
	"Content-Type: garbage\r\n"
	"\r\n"
	"a\r\n"
	"--z\r\n"
	"Content-Type: multipart/alternative\r\n"
	"\r\n"
	"b\r\n"
	"--z\r\n"
	"Content-Type: text/html\r\n"
	"Content-Transfer-Encoding: x-uuencode (old)\r\n"
	"Content-Disposition: inline\r\n"
	"Content-Language: en, de-CH\r\n"
	"Content-Location: http://example.com/a\r\n"
	" /b.html\r\n"
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	"\r\n"
	"c\r\n"
	"--z\r\n"
	"Content-Type: image/png; name=a.png; broken; =x; n=\r\n"
	"Content-Disposition: ;\r\n"
	"Content-ID:\r\n"
	"\r\n"
	"d\r\n"
	"--z\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"U3ViamVjdDogeA0KDQp5\r\n"
	"--z--\r\n";

static const struct section_case bad_type_sections[] = {
	PART("3", "c", OTHER),
	PART("5", "U3ViamVjdDogeA0KDQp5", BASE64),
	NONE("5", HEADER), NONE("5.1", WHOLE),
	{NULL, 0, NULL, 0},
};

static const char nobody_msg[] =
	"Subject: no body\r\n"
	"From: x@y\r\n";

static const struct section_case nobody_sections[] = {
	SEC("", HEADER, nobody_msg),
	SEC("", TEXT, ""),
	PART("1", "", 7BIT),
	{NULL, 0, NULL, 0},
};

static const char empty_body_msg[] = "Subject: empty\r\n\r\n";

static const struct section_case empty_body_sections[] = {
	SEC("", HEADER, "Subject: empty\r\n\r\n"),
	SEC("", TEXT, ""),
	PART("1", "", 7BIT),
	{NULL, 0, NULL, 0},
};

/* A part whose header the delimiter cuts, and a message/rfc822 part
 * without a body. */
static const char cut_msg[] =
	"Content-Type: multipart/mixed; boundary=q\r\n"
	"\r\n"
	"--q\r\n"
	"Content-Type: text/plain\r\n"
	"--q\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"--q--\r\n";

static const struct section_case cut_sections[] = {
	PART("1", "", 7BIT),
	SEC("1", MIME, "Content-Type: text/plain"),
	PART("2", "", 7BIT),
	SEC("2", HEADER, ""),
	SEC("2", TEXT, ""),
	PART("2.1", "", 7BIT),
	{NULL, 0, NULL, 0},
};

/* A message/rfc822 part whose message has a header and a blank line
 * but no body: the blank line ends that header and is also the line end
 * before the delimiter, so the part is the whole header. */
static const char hdr_only_msg[] =
	"Content-Type: multipart/mixed; boundary=a\r\n"
	"\r\n"
	"--a\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: x@y\r\n"
	"\r\n"
	"--a--\r\n";

static const struct section_case hdr_only_sections[] = {
	PART("1", "From: x@y\r\n\r\n", 7BIT),
	SEC("1", HEADER, "From: x@y\r\n\r\n"),
	SEC("1", TEXT, ""),
	PART("1.1", "", 7BIT),
	SEC("1.1", MIME, "From: x@y\r\n\r\n"),
	{NULL, 0, NULL, 0},
};

/* A top-level message/global (RFC 6532): its part 1 is its body, the
 * message inside, whose own part 1 is that message's body. */
static const char global_msg[] =
	"Subject: outer\r\n"
	"Content-Type: message/global\r\n"
	"\r\n"
	"Subject: g\r\n"
	"\r\n"
	"x";

static const struct section_case global_sections[] = {
	SEC("", HEADER, "Subject: outer\r\nContent-Type: message/global\r\n"
			"\r\n"),
	SEC("", TEXT, "Subject: g\r\n\r\nx"),
	PART("1", "Subject: g\r\n\r\nx", 7BIT),
	SEC("1", MIME, "Subject: outer\r\nContent-Type: message/global\r\n"
		       "\r\n"),
	SEC("1", HEADER, "Subject: g\r\n\r\n"),
	SEC("1", TEXT, "x"),
	PART("1.1", "x", 7BIT),
	SEC("1.1", MIME, "Subject: g\r\n\r\n"),
	NONE("1.2", WHOLE), NONE("1.1.1", WHOLE), NONE("2", WHOLE),
	{NULL, 0, NULL, 0},
};

/* RFC 2231 parameters come out as written, names upper-cased. */
static const char rfc2231_msg[] =
	"Content-Type: application/x-stuff;\r\n"
	"  title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A\r\n"
	"Content-Disposition: attachment; filename*0=\"a b\";\r\n"
	" filename*1*=UTF-8''%C3%A9.txt\r\n"
	"\r\n"
	"x\r\n";

static const struct msg_case cases[] = {
	{"plain", plain_msg,
	 "(NIL \"hello\" ((NIL NIL \"alice\" \"example.org\")) "
	 "((NIL NIL \"alice\" \"example.org\")) "
	 "((NIL NIL \"alice\" \"example.org\")) "
	 "((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL NIL)",
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2)",
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2 "
	 "NIL NIL NIL NIL)",
	 plain_sections},
	{"alternative in mixed", alt_msg,
	 "(NIL \"alt\" ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "NIL NIL NIL NIL NIL)",
	 "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL "
	 "\"QUOTED-PRINTABLE\" 21 1)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") "
	 "NIL NIL \"7BIT\" 12 0) \"ALTERNATIVE\")(\"APPLICATION\" \"PDF\" "
	 "(\"NAME\" \"doc.pdf\") \"<doc@example.org>\" \"The document\" "
	 "\"BASE64\" 12) \"MIXED\")",
	 "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL "
	 "\"QUOTED-PRINTABLE\" 21 1 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" "
	 "(\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 0 NIL NIL NIL NIL) "
	 "\"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL)"
	 "(\"APPLICATION\" \"PDF\" (\"NAME\" \"doc.pdf\") \"<doc@example.org>\" "
	 "\"The document\" \"BASE64\" 12 NIL (\"ATTACHMENT\" (\"FILENAME\" "
	 "\"doc.pdf\")) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)",
	 alt_sections},
	{"alternative in mixed, LF line ends", alt_lf_msg, NULL,
	 "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL "
	 "\"QUOTED-PRINTABLE\" 20 1)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") "
	 "NIL NIL \"7BIT\" 12 0) \"ALTERNATIVE\")(\"APPLICATION\" \"PDF\" "
	 "(\"NAME\" \"doc.pdf\") NIL NIL \"BASE64\" 12) \"MIXED\")",
	 NULL, alt_lf_sections},
	{"message/rfc822 parts", rfc822_msg,
	 "(NIL \"fwd\" ((\"Bob\" NIL \"bob\" \"example.com\")) "
	 "((\"Bob\" NIL \"bob\" \"example.com\")) "
	 "((\"Bob\" NIL \"bob\" \"example.com\")) NIL NIL NIL NIL NIL)",
	 NULL,
	 "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 13 0 "
	 "NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 339 "
	 INNER_ENVELOPE " ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL "
	 "NIL \"7BIT\" 10 0 NIL NIL NIL NIL)(\"IMAGE\" \"GIF\" NIL NIL NIL "
	 "\"BASE64\" 8 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL "
	 "NIL) 16 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" "
	 "33 (NIL \"plain inner\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" "
	 "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 9 0 NIL NIL NIL "
	 "NIL) 2 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"a\") NIL NIL NIL)",
	 rfc822_sections},
	{"missing close delimiter", unclosed_msg, NULL,
	 "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3 0)"
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 1) "
	 "\"MIXED\")",
	 NULL, unclosed_sections},
	{"boundary never appears", never_msg,
	 "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	 "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) "
	 "\"MIXED\")",
	 "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 "
	 "NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"never\") NIL NIL NIL)",
	 never_sections},
	{"padding, preamble, epilogue", padded_msg, NULL, NULL,
	 "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 11 1 "
	 "NIL NIL NIL NIL)((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL "
	 "NIL \"7BIT\" 5 0 NIL NIL NIL NIL) \"RELATED\" (\"BOUNDARY\" "
	 "\"=_abc 1.1\") NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"=_abc 1\") NIL "
	 "NIL NIL)",
	 padded_sections},
	{"encoded words stay raw", encoded_msg,
	 "(\"Thu, 1 Feb 2024 10:00:00 +0100\" "
	 "\"=?UTF-8?B?w6lsw6lwaGFudA==?=\t=?UTF-8?Q?_trompe?=\" "
	 "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" "
	 "\"vm1.ulg.ac.be\")) "
	 "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" "
	 "\"vm1.ulg.ac.be\")) "
	 "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" "
	 "\"vm1.ulg.ac.be\")) "
	 "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\")"
	 "(\"=?US-ASCII?Q?Keith_Moore?=\" NIL \"moore\" \"cs.utk.edu\")) "
	 "NIL NIL NIL NIL)",
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)",
	 NULL, NULL},
	{"8-bit header bytes", eightbit_msg,
	 "(NIL {22}\r\nGr\xc3\xbc\xc3\x9f" "e \"aus\" \\ Berlin "
	 "(({7}\r\nJ\xc3\xbcrgen NIL \"j\" \"example.de\")) "
	 "(({7}\r\nJ\xc3\xbcrgen NIL \"j\" \"example.de\")) "
	 "(({7}\r\nJ\xc3\xbcrgen NIL \"j\" \"example.de\")) "
	 "NIL NIL NIL NIL \"<x@example.de>\")",
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\" \"NAME\" {8}\r\n"
	 "B\xc3\xa4r.txt) NIL NIL \"8BIT\" 9 1)",
	 NULL, NULL},
	{"groups and comments", group_msg,
	 "(NIL \"\" ((\"Pete\" NIL \"pete\" \"silly.test\")) "
	 "((\"Pete\" NIL \"pete\" \"silly.test\")) "
	 "((\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\")) "
	 "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
	 "(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")"
	 "(NIL NIL NIL NIL)) "
	 "((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) "
	 "NIL \"<a@b>\" NIL)",
	 NULL, NULL, NULL},
	{"obsolete address forms", obsolete_msg,
	 "(NIL NIL ((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	 "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	 "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	 "((\"Mary Smith\" \"@node.test,@two.test\" \"mary\" \"example.net\")"
	 "(NIL NIL \"jdoe\" \"test.example\")) "
	 "((\"John Doe\" NIL \"jdoe\" \"machine.example\")"
	 "(\"Terry (T) Gray\" NIL \"gray\" \"cac\")"
	 "(NIL NIL \"\\\"john doe\\\"\" \"example.com\")(NIL NIL \"\" \"\")"
	 "(NIL NIL \"postmaster\" \"\")(NIL NIL \"root\" \"\")"
	 "(\"Just Name\" NIL \"\" \"\")) "
	 "((NIL NIL \"group\" NIL)(NIL NIL \"a\" \"b.c\")"
	 "(NIL NIL \"unclosed\" \"d.e\")(NIL NIL \"e\" \"f\")"
	 "(NIL NIL \"g\" \"h\")(NIL NIL NIL NIL)) NIL NIL)",
	 NULL, NULL, NULL},
	{"multipart/digest", digest_msg, NULL, NULL,
	 "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 21 "
	 "(NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 0 "
	 "NIL NIL NIL NIL) 2 NIL NIL NIL NIL)"
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 13 0 "
	 "NIL NIL NIL NIL) \"DIGEST\" (\"BOUNDARY\" \"d\") NIL NIL NIL)",
	 digest_sections},
	{"bad and missing Content-Type", bad_type_msg, NULL, NULL,
	 "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 0 "
	 "NIL NIL NIL NIL)"
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 0 "
	 "NIL NIL NIL NIL)"
	 "(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"X-UUENCODE\" "
	 "1 0 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"INLINE\" NIL) (\"en\" \"de-CH\") "
	 "\"http://example.com/a /b.html\")"
	 "(\"IMAGE\" \"PNG\" (\"NAME\" \"a.png\") \"\" NIL \"7BIT\" 1 NIL NIL "
	 "NIL NIL)"
	 "(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 20 NIL NIL "
	 "NIL NIL) \"MIXED\" (\"BOUNDARY\" \"z\") NIL NIL NIL)",
	 bad_type_sections},
	{"header without body", nobody_msg,
	 "(NIL \"no body\" ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) "
	 "((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL)",
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)",
	 NULL, nobody_sections},
	{"empty body", empty_body_msg, NULL,
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)",
	 NULL, empty_body_sections},
	{"empty message", "", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)",
	 NULL, NULL},
	{"cut headers and an empty message/rfc822", cut_msg, NULL,
	 "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)"
	 "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 0 "
	 "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) "
	 "0) \"MIXED\")",
	 NULL, cut_sections},
	{"message/rfc822 with a header only", hdr_only_msg, NULL, NULL,
	 "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 13 "
	 "(NIL NIL ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) "
	 "((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL) "
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 "
	 "NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"a\") "
	 "NIL NIL NIL)",
	 hdr_only_sections},
	{"top-level message/global", global_msg,
	 "(NIL \"outer\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	 "(\"MESSAGE\" \"GLOBAL\" NIL NIL NIL \"7BIT\" 15 "
	 "(NIL \"g\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 0) "
	 "2)",
	 NULL, global_sections},
	{"RFC 2231 parameters", rfc2231_msg, NULL, NULL,
	 "(\"APPLICATION\" \"X-STUFF\" (\"TITLE*\" "
	 "\"us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A\") NIL NIL "
	 "\"7BIT\" 3 NIL (\"ATTACHMENT\" (\"FILENAME*0\" \"a b\" "
	 "\"FILENAME*1*\" \"UTF-8''%C3%A9.txt\")) NIL NIL)",
	 NULL},
};

static void test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

/* ---- limits ---- */

/* n multiparts nested in each other, the innermost holding a text part.
 * No boundary begins another ("b1" would begin "--b10": RFC 2046 forbids
 * it, and it would be a delimiter). */
static char *nested_message(int n)
{
	struct str s = STR_INIT;
	for (int i = 0; i < n; i++)
		str_printf(&s, "Content-Type: multipart/mixed; boundary=\"b%d_\"\r\n"
			       "\r\n--b%d_\r\n", i, i);
	str_appends(&s, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	for (int i = n; i-- > 0;)
		str_printf(&s, "--b%d_--\r\n", i);
	return s.data;
}

static void test_deep_nesting(void **state)
{
	const int n = 150;
	char *msg = nested_message(n);
	size_t len = strlen(msg);
	cur = "150 nested multiparts";
	struct mime_msg *m = parse_checked(msg, len);
	/* Parts at depth 0..99 are multiparts; the one at depth 100 is not
	 * looked into. */
	EXPECT_INT(mime_part_count(m), MIME_MAX_DEPTH + 1);
	EXPECT(mime_truncated(m));
	const struct mime_part *last = mime_part(m, MIME_MAX_DEPTH);
	EXPECT_INT(last->depth, MIME_MAX_DEPTH);
	EXPECT_INT(last->kind, MIME_LEAF);
	EXPECT(last->flags & MIME_PART_OPAQUE);

	/* Its body: from after its own header to the CRLF before the
	 * close delimiter of depth 99. */
	char marker[64];
	snprintf(marker, sizeof(marker), "boundary=\"b%d_\"\r\n\r\n",
		 MIME_MAX_DEPTH);
	const char *body = strstr(msg, marker) + strlen(marker);
	snprintf(marker, sizeof(marker), "\r\n--b%d_--", MIME_MAX_DEPTH - 1);
	const char *end = strstr(msg, marker);
	size_t size = (size_t)(end - body);
	EXPECT_INT(last->body, body - msg);
	EXPECT_INT(last->end, end - msg);

	struct str want = STR_INIT, got = STR_INIT;
	for (int i = 0; i < MIME_MAX_DEPTH; i++)
		str_appendc(&want, '(');
	str_printf(&want, "(\"APPLICATION\" \"OCTET-STREAM\" (\"BOUNDARY\" "
			  "\"b%d_\") NIL NIL \"7BIT\" %zu NIL NIL NIL NIL)",
		   MIME_MAX_DEPTH, size);
	for (int i = MIME_MAX_DEPTH; i-- > 0;)
		str_printf(&want, " \"MIXED\" (\"BOUNDARY\" \"b%d_\") NIL NIL NIL)",
			   i);
	mime_imap_bodystructure(m, true, &got);
	EXPECT_STR(got.data, want.data);

	/* Section 1.1...1 (100 numbers) is that part; one more is none. */
	str_clear(&got);
	mime_layout_encode(m, &got);
	str_clear(&want);
	for (int i = 0; i < MIME_MAX_DEPTH; i++)
		str_appends(&want, i ? ".1" : "1");
	struct mime_range r;
	EXPECT_INT(mime_layout_section(got.data, got.len, want.data, want.len,
				       MIME_SECTION_WHOLE, &r), 1);
	EXPECT_INT(r.off, body - msg);
	EXPECT_INT(r.len, size);
	str_appends(&want, ".1");
	EXPECT_INT(mime_layout_section(got.data, got.len, want.data, want.len,
				       MIME_SECTION_WHOLE, &r), 0);
	str_free(&want);
	str_free(&got);
	mime_free(&m);
	free(msg);
}

/* message/rfc822 inside message/rfc822, far past the depth limit. */
static void test_deep_messages(void **state)
{
	struct str s = STR_INIT;
	for (int i = 0; i < 1000; i++)
		str_appends(&s, "Content-Type: message/rfc822\r\n\r\n");
	str_appends(&s, "Subject: bottom\r\n\r\nx\r\n");
	cur = "1000 nested messages";
	struct mime_msg *m = parse_checked(s.data, s.len);
	EXPECT_INT(mime_part_count(m), MIME_MAX_DEPTH + 1);
	EXPECT(mime_truncated(m));
	EXPECT(mime_part(m, MIME_MAX_DEPTH)->flags & MIME_PART_OPAQUE);
	mime_free(&m);
	str_free(&s);
}

static void test_many_parts(void **state)
{
	struct str s = STR_INIT;
	str_appends(&s, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < MIME_MAX_PARTS + 50; i++)
		str_printf(&s, "--p\r\n\r\n%d\r\n", i);
	str_appends(&s, "--p--\r\n");
	cur = "more parts than the limit";
	struct mime_msg *m = parse_checked(s.data, s.len);
	EXPECT_INT(mime_part_count(m), MIME_MAX_PARTS);
	EXPECT(mime_truncated(m));
	const struct mime_part *root = mime_part(m, 0);
	EXPECT_INT(root->nchildren, MIME_MAX_PARTS - 1);
	/* The last part kept ends at the next delimiter. */
	const struct mime_part *last = mime_part(m, MIME_MAX_PARTS - 1);
	EXPECT_INT(last->end - last->body, 4);
	EXPECT(memcmp(s.data + last->body, "9998", 4) == 0);
	mime_free(&m);
	str_free(&s);
}

/* A 10 MB base64 attachment: linear time, and sizes to the byte. */
static void test_big_attachment(void **state)
{
	const size_t lines = 140000;
	struct str s = STR_INIT;
	str_appends(&s, "From: big@example.com\r\n"
			"Content-Type: multipart/mixed; boundary=\"big\"\r\n"
			"\r\n"
			"--big\r\n"
			"Content-Type: text/plain\r\n"
			"\r\n"
			"Attached.\r\n"
			"--big\r\n"
			"Content-Type: application/octet-stream; name=big.bin\r\n"
			"Content-Transfer-Encoding: base64\r\n"
			"Content-Disposition: attachment; filename=big.bin\r\n"
			"\r\n");
	size_t body = s.len;
	for (size_t i = 0; i < lines; i++)
		str_appends(&s, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xt"
				"bm9wcXJzdHV2d3h5ejAxMjM0\r\n");
	str_appends(&s, "--big--\r\n");
	/* 76 characters and CRLF a line; the last CRLF belongs to the
	 * close delimiter. */
	size_t size = lines * 78 - 2;
	cur = "10 MB attachment";
	struct mime_msg *m = mime_parse(s.data, s.len);
	EXPECT_INT(mime_part_count(m), 3);
	struct str got = STR_INIT, want = STR_INIT;
	mime_imap_bodystructure(m, true, &got);
	str_printf(&want,
		   "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
		   "\"7BIT\" 9 0 NIL NIL NIL NIL)(\"APPLICATION\" "
		   "\"OCTET-STREAM\" (\"NAME\" \"big.bin\") NIL NIL \"BASE64\" "
		   "%zu NIL (\"ATTACHMENT\" (\"FILENAME\" \"big.bin\")) NIL NIL) "
		   "\"MIXED\" (\"BOUNDARY\" \"big\") NIL NIL NIL)", size);
	EXPECT_STR(got.data, want.data);
	str_clear(&got);
	mime_layout_encode(m, &got);
	EXPECT(got.len < 64);
	struct mime_range r;
	EXPECT_INT(mime_layout_section(got.data, got.len, "2", 1,
				       MIME_SECTION_WHOLE, &r), 1);
	EXPECT_INT(r.off, body);
	EXPECT_INT(r.len, size);
	EXPECT_INT(r.cte, MIME_CTE_BASE64);
	str_free(&got);
	str_free(&want);
	mime_free(&m);
	str_free(&s);
}

/* ---- HEADER.FIELDS ---- */

struct fields_case {
	const char *hdr;
	const char *names[3];
	bool not;
	const char *want;
};

static const char fields_hdr[] =
	"Subject: a\r\n"
	"To: b,\r\n"
	"\tc\r\n"
	"X-Y : z\r\n"
	"subject: again\r\n"
	"no colon here\r\n"
	"\r\n";

static const struct fields_case fields_cases[] = {
	{fields_hdr, {"SUBJECT"}, false,
	 "Subject: a\r\nsubject: again\r\n\r\n"},
	{fields_hdr, {"to", "x-y"}, false, "To: b,\r\n\tc\r\nX-Y : z\r\n\r\n"},
	{fields_hdr, {"Subject", "To"}, true,
	 "X-Y : z\r\nno colon here\r\n\r\n"},
	{fields_hdr, {"Cc"}, false, "\r\n"},
	{fields_hdr, {"Subjec"}, false, "\r\n"},
	{fields_hdr, {"X-Y"}, true,
	 "Subject: a\r\nTo: b,\r\n\tc\r\nsubject: again\r\nno colon here\r\n"
	 "\r\n"},
	/* No blank line (a message without body): none added. */
	{"Subject: a\r\nTo: b", {"to"}, false, "To: b"},
	{"Subject: a\nTo: b\n\n", {"subject"}, false, "Subject: a\n\n"},
	{"", {"to"}, false, ""},
	{"\r\n", {"to"}, true, "\r\n"},
};

static void test_header_fields(void **state)
{
	for (size_t i = 0; i < sizeof(fields_cases) / sizeof(fields_cases[0]);
	     i++) {
		const struct fields_case *c = &fields_cases[i];
		size_t n = 0;
		while (n < 3 && c->names[n] != NULL)
			n++;
		struct str out = STR_INIT;
		cur = c->names[0];
		size_t len = strlen(c->hdr);
		char *buf = exact(c->hdr, len);
		mime_imap_header_fields(buf, len, c->names, n, c->not, &out);
		str_appends(&out, "");
		EXPECT_STR(out.data, c->want);
		str_free(&out);
		free(buf);
	}
}

/* BODY[2.HEADER.FIELDS (From Subject)]: the range of the layout, then
 * the fields of it. */
static void test_fields_of_section(void **state)
{
	static const char *const names[] = {"subject", "FROM"};
	struct str lay = STR_INIT, out = STR_INIT;
	struct mime_range r;
	cur = "2.HEADER.FIELDS";
	struct mime_msg *m = mime_parse(rfc822_msg, strlen(rfc822_msg));
	mime_layout_encode(m, &lay);
	EXPECT_INT(mime_layout_section(lay.data, lay.len, "2", 1,
				       MIME_SECTION_HEADER_FIELDS, &r), 1);
	mime_imap_header_fields(rfc822_msg + r.off, r.len, names, 2, false,
				&out);
	EXPECT_STR(out.data, "From: Carol <carol@example.com>\r\n"
			     "Subject: inner\r\n\r\n");
	str_clear(&out);
	EXPECT_INT(mime_layout_section(lay.data, lay.len, "2", 1,
				       MIME_SECTION_HEADER_FIELDS_NOT, &r), 1);
	mime_imap_header_fields(rfc822_msg + r.off, r.len, names, 2, true,
				&out);
	EXPECT_STR(out.data, "To: Dave <dave@example.com>\r\n"
			     "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
			     "Message-ID: <inner@example.com>\r\n"
			     "Content-Type: multipart/mixed; boundary=b\r\n"
			     "\r\n");
	str_free(&lay);
	str_free(&out);
	mime_free(&m);
}

/* ---- strings ---- */

static void test_imap_string(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} strs[] = {
		{"", 0, "\"\""},
		{"plain", 5, "\"plain\""},
		{"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
		{"tab\there", 8, "\"tab\there\""},
		{"cr\rx", 4, "{4}\r\ncr\rx"},
		{"lf\nx", 4, "{4}\r\nlf\nx"},
		{"\xc3\xa9", 2, "{2}\r\n\xc3\xa9"},
		/* IMAP cannot carry NUL: it is left out. */
		{"a\0b", 3, "\"ab\""},
		{"\xff\0", 2, "{1}\r\n\xff"},
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		struct str out = STR_INIT;
		cur = strs[i].want;
		mime_imap_string(&out, strs[i].in, strs[i].len);
		EXPECT_STR(out.data, strs[i].want);
		str_free(&out);
	}
}

/* ---- layouts that are not ours ---- */

static void test_corrupt_layout(void **state)
{
	struct str good = STR_INIT, bad = STR_INIT;
	struct mime_msg *m = mime_parse(alt_msg, strlen(alt_msg));
	mime_layout_encode(m, &good);
	mime_free(&m);
	struct mime_range r;
	cur = "corrupt layout";
	EXPECT_INT(mime_layout_section("", 0, "", 0, MIME_SECTION_WHOLE, &r), -1);
	EXPECT_INT(mime_layout_section("\x02", 1, "", 0, MIME_SECTION_WHOLE,
				       &r), -1);
	/* Every cut of a good layout is refused. */
	for (size_t n = 0; n < good.len; n++) {
		char *buf = exact(good.data, n);
		EXPECT_INT(mime_layout_section(buf, n, "1.1", 3,
					       MIME_SECTION_WHOLE, &r), -1);
		free(buf);
	}
	/* Trailing bytes, a bad kind, a varint that never ends. */
	str_append(&bad, good.data, good.len);
	str_appendc(&bad, 0);
	EXPECT_INT(mime_layout_section(bad.data, bad.len, "", 0,
				       MIME_SECTION_WHOLE, &r), -1);
	str_clear(&bad);
	str_append(&bad, good.data, good.len);
	bad.data[1] = 3;
	EXPECT_INT(mime_layout_section(bad.data, bad.len, "", 0,
				       MIME_SECTION_WHOLE, &r), -1);
	str_clear(&bad);
	str_appends(&bad, "\x01\x01");
	for (int i = 0; i < 12; i++)
		str_appendc(&bad, (char)0xff);
	EXPECT_INT(mime_layout_section(bad.data, bad.len, "", 0,
				       MIME_SECTION_WHOLE, &r), -1);
	/* Any byte changed gives -1, 0 or a range inside the message. */
	for (size_t i = 1; i < good.len; i++) {
		for (int v = 0; v < 256; v += 7) {
			str_clear(&bad);
			str_append(&bad, good.data, good.len);
			bad.data[i] = (char)v;
			int rc = mime_layout_section(bad.data, bad.len, "1.2", 3,
						     MIME_SECTION_WHOLE, &r);
			EXPECT(rc >= -1 && rc <= 1);
			if (rc == 1)
				EXPECT(r.off <= SIZE_MAX - r.len);
		}
	}
	str_free(&good);
	str_free(&bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3501_example),
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_deep_messages),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_big_attachment),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_fields_of_section),
		cmocka_unit_test(test_imap_string),
		cmocka_unit_test(test_corrupt_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
