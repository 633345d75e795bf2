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
 * mime_text_key is idempotent. */
#include <unistr.h>

#include "fuzz.h"

#include "mime/mime.h"
#include "mime/mime_decode.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	check_extract(buf, size);
	check_html(buf, size);
	check_key(buf, size);
	free(buf);
	return 0;
}
