/* Fuzz mime_text: any bytes as a message, whose searchable text is
 * extracted, and the same bytes as HTML and as a search string.
 *
 * Invariants: header and body text together stay within MIME_TEXT_MAX;
 * both are well-formed UTF-8 without NUL or CR, already in their
 * normalised form (normalising again changes nothing); the header text is
 * whole lines of "NAME: value", each of which mime_text_field_has finds
 * by its own name and value; the body text is found in itself; the
 * header fields picked by name (mime_text_header_fields) are the lines of
 * the whole header text in order, none left out whose name was asked
 * for, and a header past MIME_TEXT_FIELDS_MAX is declined; HTML text
 * is no longer than its input and well-formed when the input is;
 * mime_text_key is idempotent.  The walk without a bound (mime_text_walk)
 * gives lines whole and, read whole, the extracted text; read in chunks
 * of a size the input picks, mime_scan finds in it a piece of that text
 * cut at any place and other needles exactly when that text holds them,
 * and keeps that same text on the way. */
#include <unistr.h>

#include "fuzz.h"

#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_scan.h"
#include "mime/mime_text.h"

static bool utf8_ok(const char *p, size_t n)
{
	return n == 0 || u8_check((const uint8_t *)p, n) == NULL;
}

static void check_normal(const struct str *s)
{
	struct str again = STR_INIT;
	CHECK(utf8_ok(s->data, s->len));
	CHECK(memchr(s->data, '\0', s->len) == NULL);
	CHECK(memchr(s->data, '\r', s->len) == NULL);
	if (s->len > 0)
		mime_text_normalize(s->data, s->len, &again);
	CHECK(again.len == s->len &&
	      (s->len == 0 || memcmp(again.data, s->data, s->len) == 0));
	str_free(&again);
}

/* Every line is a field that finds itself. */
static void check_header(const struct str *h)
{
	CHECK(h->len == 0 || h->data[h->len - 1] == '\n');
	for (size_t i = 0; i < h->len;) {
		const char *line = h->data + i;
		const char *nl = memchr(line, '\n', h->len - i);
		CHECK(nl != NULL);
		size_t len = (size_t)(nl - line);
		const char *colon = memchr(line, ':', len);
		CHECK(colon != NULL);
		size_t name = (size_t)(colon - line);
		const char *v = colon + 1;
		if (v < nl && *v == ' ')
			v++;
		CHECK(mime_text_field_has(h->data, h->len, line, name, v,
					  (size_t)(nl - v)));
		CHECK(mime_text_field_has(h->data, h->len, NULL, 0, "", 0));
		i += len + 1;
	}
}

static bool name_in(const char *line, size_t n, const char *const *names,
		    const size_t *lens, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (lens[i] == n && memcmp(line, names[i], n) == 0)
			return true;
	return false;
}

/* The fields named as the whole text's first line, FROM and SUBJECT. */
static void check_fields(const char *hdr, size_t hlen, const struct str *h)
{
	const char *names[3] = {"FROM", "SUBJECT", ""};
	size_t lens[3] = {4, 7, 0};
	const char *colon = h->len ? memchr(h->data, ':', h->len) : NULL;
	if (colon != NULL) {
		names[2] = h->data;
		lens[2] = (size_t)(colon - h->data);
	}
	struct str f = STR_INIT;
	bool ok = mime_text_header_fields(hdr, hlen, names, lens, 3, &f);
	CHECK(ok == (hlen <= MIME_TEXT_FIELDS_MAX));
	if (!ok) {
		CHECK(f.len == 0);
		return;
	}
	size_t at = 0;
	for (size_t i = 0; i < h->len;) {
		const char *line = h->data + i;
		size_t len = (size_t)((char *)memchr(line, '\n', h->len - i) -
				      line) + 1;
		size_t name = (size_t)((char *)memchr(line, ':', len) - line);
		if (at + len <= f.len && memcmp(f.data + at, line, len) == 0)
			at += len;
		else
			CHECK(!name_in(line, name, names, lens, 3));
		i += len;
	}
	CHECK(at == f.len);
	str_free(&f);
}

static void check_extract(const char *buf, size_t len)
{
	struct str h = STR_INIT, b = STR_INIT;
	struct mime_msg *msg = mime_parse(buf, len);
	mime_text_extract(msg, &h, &b);
	const struct mime_part *top = mime_part(msg, 0);
	check_fields(buf + top->hdr, top->body - top->hdr, &h);
	mime_free(&msg);
	CHECK(h.data != NULL && b.data != NULL);
	CHECK(h.len + b.len <= MIME_TEXT_MAX);
	check_normal(&h);
	check_normal(&b);
	check_header(&h);
	/* Any bytes, valid UTF-8 or not: the bound check stays in bounds. */
	if (h.len + b.len > MIME_TEXT_INDEX_MAX)
		CHECK(!mime_text_indexable(h.data, h.len, b.data, b.len));
	(void)mime_text_indexable(buf, len, h.data, h.len);
	CHECK(mime_text_contains(b.data, b.len, b.data, b.len));
	str_free(&h);
	str_free(&b);
}

static void check_html(const char *buf, size_t len)
{
	struct str out = STR_INIT;
	mime_text_html(buf, len, &out);
	CHECK(out.len <= len);
	if (utf8_ok(buf, len))
		CHECK(utf8_ok(out.data, out.len));
	str_free(&out);
}

static void check_key(const char *buf, size_t len)
{
	struct str k = STR_INIT, again = STR_INIT;
	mime_text_key(buf, len, &k);
	CHECK(k.data != NULL);
	CHECK(utf8_ok(k.data, k.len));
	mime_text_key(k.data, k.len, &again);
	CHECK(again.len == k.len && memcmp(again.data, k.data, k.len) == 0);
	str_free(&k);
	str_free(&again);
}

struct walked {
	struct str h, b;
	bool lines_whole;
};

static bool gather(void *ctx, enum mime_text_piece kind, const char *p,
		   size_t n)
{
	struct walked *w = ctx;
	CHECK(n > 0);
	if (kind != MIME_TEXT_BODY && p[n - 1] != '\n')
		w->lines_whole = false;
	str_append(kind == MIME_TEXT_HEADER_LINE ? &w->h : &w->b, p, n);
	return true;
}

/* A needle from the walked body text, at a place and of a length the
 * input picks, is found by the scan exactly where memmem finds it. */
static void check_scan(const struct mime_msg *msg, const struct walked *w,
		       size_t chunk, const uint8_t *data, size_t size)
{
	size_t at = size > 1 ? (size_t)(data[0] | data[1] << 8) : 0;
	size_t n = size > 2 ? 1 + data[2] % 40 : 1;
	at = w->b.len > 0 ? at % w->b.len : 0;
	if (at + n > w->b.len)
		n = w->b.len - at;
	struct mime_scan *sc = mime_scan_new();
	const char *needle = w->b.data ? w->b.data + at : "";
	mime_scan_add(sc, MIME_SCAN_BODY, NULL, 0, needle, n);
	mime_scan_add(sc, MIME_SCAN_TEXT, NULL, 0, "ZQ", 2);
	mime_scan_add(sc, MIME_SCAN_FIELD, "SUBJECT", 7, "A", 1);
	struct str kh = STR_INIT, kb = STR_INIT;
	bool whole = mime_scan_run(sc, msg, chunk, MIME_TEXT_MAX, &kh, &kb);
	CHECK(mime_scan_hit(sc, 0));
	bool zq = (w->h.len >= 2 && memmem(w->h.data, w->h.len, "ZQ", 2)) ||
		  (w->b.len >= 2 && memmem(w->b.data, w->b.len, "ZQ", 2));
	CHECK(mime_scan_hit(sc, 1) == zq);
	CHECK(mime_scan_hit(sc, 2) ==
	      mime_text_field_has(w->h.data ? w->h.data : "", w->h.len,
				  "SUBJECT", 7, "A", 1));
	/* Small input: kept whole. */
	CHECK(whole);
	CHECK(kh.len == w->h.len &&
	      (kh.len == 0 || memcmp(kh.data, w->h.data, kh.len) == 0));
	CHECK(kb.len == w->b.len &&
	      (kb.len == 0 || memcmp(kb.data, w->b.data, kb.len) == 0));
	str_free(&kh);
	str_free(&kb);
	mime_scan_free(&sc);
}

static bool same(const struct str *x, const struct str *y)
{
	return x->len == y->len &&
	       (x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
}

static void check_walk(const char *buf, size_t len, const uint8_t *data,
		       size_t size)
{
	struct str h = STR_INIT, b = STR_INIT;
	struct mime_msg *msg = mime_parse(buf, len);
	size_t chunk = 4 + (size > 3 ? data[3] % 60 : 0);
	struct walked w = {STR_INIT, STR_INIT, true};
	struct walked c = {STR_INIT, STR_INIT, true};
	bool whole = mime_text_extract(msg, &h, &b);
	mime_text_walk(msg, true, 0, gather, &w);
	mime_text_walk(msg, true, chunk, gather, &c);
	CHECK(w.lines_whole && c.lines_whole);
	/* Within the bound, the walk is the extracted text. */
	if (whole)
		CHECK(same(&w.h, &h) && same(&w.b, &b));
	if (w.h.len + w.b.len + c.h.len + c.b.len < MIME_TEXT_MAX)
		check_scan(msg, &c, chunk, data, size);
	mime_free(&msg);
	str_free(&w.h);
	str_free(&w.b);
	str_free(&c.h);
	str_free(&c.b);
	str_free(&h);
	str_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	check_extract(buf, size);
	check_walk(buf, size, data, size);
	check_html(buf, size);
	check_key(buf, size);
	free(buf);
	return 0;
}
