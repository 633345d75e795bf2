/* mime_scan: SEARCH's text keys over all of a message's text.  Each case
 * is a message, keys, and whether each is found; the same with the text
 * read in chunks from 4 bytes up, so that needles across the edges of the
 * pieces are found as in the whole text; and keeping the text for the
 * index on the way, exactly as mime_text_extract makes it. */
#include "unit.h"

#include "mime/mime.h"
#include "mime/mime_scan.h"
#include "mime/mime_text.h"

#define S(x) x, sizeof(x) - 1

struct key {
	enum mime_scan_in in;
	const char *name;	/* FIELD: NULL for any */
	const char *needle;	/* as mime_text_key makes it */
	bool want;
};

struct scan_case {
	const char *name, *msg;
	size_t len;
	struct key keys[8];
};

static const struct scan_case cases[] = {
	{"plain text, header and body",
	 S("From: Alice <alice@example.com>\r\nSubject: Hello there\r\n\r\n"
	   "The zebrafish experiment.\r\nSecond line.\r\n"),
	 {{MIME_SCAN_BODY, NULL, "ZEBRAFISH", true},
	  {MIME_SCAN_BODY, NULL, "HELLO", false},
	  {MIME_SCAN_TEXT, NULL, "HELLO THERE", true},
	  {MIME_SCAN_TEXT, NULL, "EXPERIMENT.\nSECOND", true},
	  {MIME_SCAN_FIELD, "SUBJECT", "THERE", true},
	  {MIME_SCAN_FIELD, "FROM", "THERE", false},
	  {MIME_SCAN_FIELD, NULL, "EXAMPLE.COM", true},
	  {MIME_SCAN_BODY, NULL, "", true}}},
	{"no match across header and body, nor into a field's name",
	 S("Subject: abc\r\n\r\ndef\r\n"),
	 {{MIME_SCAN_TEXT, NULL, "ABC\nDEF", false},
	  {MIME_SCAN_TEXT, NULL, "ABC\n", true},
	  {MIME_SCAN_FIELD, "SUBJECT", "SUBJECT", false},
	  {MIME_SCAN_FIELD, "X-NONE", "", false},
	  {MIME_SCAN_FIELD, "SUBJECT", "", true}}},
	{"base64 and quoted-printable, latin-1, case-folded",
	 S("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	   "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	   "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	   "Gr=FC=DFe aus K=F6ln, sch=\r\nade.\r\n"
	   "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
	   "Content-Transfer-Encoding: base64\r\n\r\n"
	   "w4nDqcOpIGVuZGUgZGVyIE5hY2hyaWNodC4=\r\n--b--\r\n"),
	 {{MIME_SCAN_BODY, NULL,
	   "GRU\xcc\x88\xc3\x9f" "E AUS KO\xcc\x88LN, SCHADE", true},
	  {MIME_SCAN_BODY, NULL, "E\xcc\x81" "E\xcc\x81" "E\xcc\x81 ENDE", true},
	  {MIME_SCAN_BODY, NULL, "SCHADE.\nE\xcc\x81", true},
	  {MIME_SCAN_BODY, NULL, "=FC", false}}},
};

static void run_case(const struct scan_case *c, size_t chunk)
{
	char *buf = exact(c->msg, c->len);
	struct mime_msg *m = mime_parse(buf, c->len);
	struct mime_scan *sc = mime_scan_new();
	size_t n = 0;
	for (; n < 8 && c->keys[n].needle != NULL; n++) {
		const struct key *k = &c->keys[n];
		EXPECT_INT(mime_scan_add(sc, k->in, k->name,
					 k->name ? strlen(k->name) : 0,
					 k->needle, strlen(k->needle)),
			   n);
	}
	/* Twice: a run starts afresh. */
	for (int round = 0; round < 2; round++) {
		EXPECT(mime_scan_run(sc, m, chunk, 0, NULL, NULL));
		for (size_t i = 0; i < n; i++) {
			cur = c->keys[i].needle;
			EXPECT(mime_scan_hit(sc, i) == c->keys[i].want);
		}
	}
	EXPECT(!mime_scan_hit(sc, n));
	mime_scan_free(&sc);
	EXPECT(sc == NULL);
	mime_free(&m);
	free(buf);
}

static void test_cases(void **state)
{
	static const size_t chunks[] = {4, 5, 7, 16, 0};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
			run_case(&cases[i], chunks[c]);
}

/* A needle at every offset around the edge of two 64 KiB chunks, and
 * after 3 MiB of text: found wherever it lies, in one pass. */
static void test_edges(void **state)
{
	static const char head[] = "Subject: s\r\n\r\n";
	size_t at[] = {MIME_TEXT_CHUNK - 9, MIME_TEXT_CHUNK - 5,
		       MIME_TEXT_CHUNK - 1, MIME_TEXT_CHUNK,
		       MIME_TEXT_CHUNK + 1, 3 * 1024 * 1024 + 17};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		size_t len = sizeof(head) - 1 + at[i] + 100;
		char *buf = malloc(len);
		assert_non_null(buf);
		memcpy(buf, head, sizeof(head) - 1);
		memset(buf + sizeof(head) - 1, 'x', len - sizeof(head) + 1);
		memcpy(buf + sizeof(head) - 1 + at[i], "needle", 6);
		struct mime_msg *m = mime_parse(buf, len);
		struct mime_scan *sc = mime_scan_new();
		mime_scan_add(sc, MIME_SCAN_BODY, NULL, 0, "XNEEDLEX", 8);
		mime_scan_add(sc, MIME_SCAN_TEXT, NULL, 0, "XNEEDLEXX", 9);
		mime_scan_add(sc, MIME_SCAN_BODY, NULL, 0, "XNEEDLEY", 8);
		cur = "edge";
		EXPECT(mime_scan_run(sc, m, 0, 0, NULL, NULL));
		EXPECT(mime_scan_hit(sc, 0));
		EXPECT(mime_scan_hit(sc, 1));
		EXPECT(!mime_scan_hit(sc, 2));
		mime_scan_free(&sc);
		mime_free(&m);
		free(buf);
	}
}

/* The text kept on the way is mime_text_extract's, and says whether it
 * is all of it. */
static void test_keep(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct str h = STR_INIT, b = STR_INIT, h2 = STR_INIT,
			   b2 = STR_INIT;
		char *buf = exact(cases[i].msg, cases[i].len);
		struct mime_msg *m = mime_parse(buf, cases[i].len);
		struct mime_scan *sc = mime_scan_new();
		mime_scan_add(sc, MIME_SCAN_FIELD, "SUBJECT", 7, "", 0);
		cur = cases[i].name;
		EXPECT(mime_text_extract(m, &h, &b));
		EXPECT(mime_scan_run(sc, m, 0, MIME_TEXT_MAX, &h2, &b2));
		EXPECT_MEM(h2.data, h2.len, h.data);
		EXPECT_MEM(b2.data, b2.len, b.data);
		/* One byte short: cut. */
		str_clear(&h2);
		str_clear(&b2);
		EXPECT(!mime_scan_run(sc, m, 0, h.len + b.len - 1, &h2, &b2));
		EXPECT(h2.len + b2.len < h.len + b.len);
		mime_scan_free(&sc);
		mime_free(&m);
		free(buf);
		str_free(&h);
		str_free(&b);
		str_free(&h2);
		str_free(&b2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_keep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
