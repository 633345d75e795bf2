/* The searchable text of a message, in one pass over its parts. */
#include "mime/mime_text.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_imap.h"

/* The walk over a message's text: the callback, and scratch space kept
 * from part to part. */
struct walk {
	mime_text_fn *fn;
	void *ctx;
	size_t chunk;
	bool stop;
	struct str clean, norm, line, value;
	struct str raw, utf8, html, pend;
};

static void append_span(struct str *out, const char *p, size_t n)
{
	if (n > 0)
		str_append(out, p, n);
}

/* The longest prefix of s no longer than max that ends between two
 * UTF-8 characters. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* Line ends as one LF, NUL as a space; on one line, LF too. */
static void clean(const char *in, size_t len, bool one_line, struct str *out)
{
	char *o = str_reserve(out, len);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '\r' && i + 1 < len && in[i + 1] == '\n')
			continue;
		if (c == '\r')
			c = '\n';
		if (c == '\0' || (one_line && c == '\n'))
			c = ' ';
		o[n++] = c;
	}
	str_commit(out, n);
}

static void emit(struct walk *w, enum mime_text_piece kind, const char *p,
		 size_t n)
{
	if (!w->stop && !w->fn(w->ctx, kind, p, n))
		w->stop = true;
}

/* UTF-8 text, cleaned and normalised, as one line ending in LF. */
static void put_line(struct walk *w, enum mime_text_piece kind,
		     const char *in, size_t len)
{
	str_clear(&w->clean);
	str_clear(&w->norm);
	clean(in, len, true, &w->clean);
	if (w->clean.len > 0)
		mime_text_normalize(w->clean.data, w->clean.len, &w->norm);
	str_appendc(&w->norm, '\n');
	emit(w, kind, w->norm.data, w->norm.len);
}

/* The field names mime_text_header_fields() keeps; NULL: all. */
struct names {
	const char *const *names;
	const size_t *lens;
	size_t n;
};

static char ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Whether a field's line may be wanted.  Normalising maps a name of
 * printable ASCII to its capitals and changes nothing else in it (a unit
 * test holds it to that), so such a name is compared here without the
 * cost of normalising it; any other name is kept, to be safe. */
static bool name_wanted(const struct names *nw, struct mime_span name)
{
	if (nw == NULL)
		return true;
	for (size_t i = 0; i < name.len; i++)
		if (name.p[i] < '!' || name.p[i] > '~')
			return true;
	for (size_t i = 0; i < nw->n; i++) {
		if (nw->lens[i] != name.len)
			continue;
		size_t j = 0;
		while (j < name.len && ascii_upper(name.p[j]) == nw->names[i][j])
			j++;
		if (j == name.len)
			return true;
	}
	return false;
}

static bool is_address_field(struct mime_span name)
{
	return mime_name_is(name, "From") || mime_name_is(name, "To") ||
	       mime_name_is(name, "Cc") || mime_name_is(name, "Bcc");
}

/* Whether each of the ", "-separated addresses is in value as written. */
static bool all_written(const char *addrs, size_t len, const struct str *value)
{
	for (const char *p = addrs, *end = addrs + len; p < end;) {
		const char *sep = memmem(p, (size_t)(end - p), ", ", 2);
		size_t n = (size_t)((sep != NULL ? sep : end) - p);
		if (value->len < n || memmem(value->data, value->len, p, n) == NULL)
			return false;
		p += n + 2;
	}
	return true;
}

/* SEARCH FROM, TO, CC and BCC look for their string in the ENVELOPE's
 * addresses (RFC 9051 6.4.4), where "user (x)@ host" is user@host: when
 * an address of the field is not written in one piece, a second line of
 * the same name holds them all as ENVELOPE has them.  value is the field
 * unfolded, not decoded. */
static void put_addresses(struct walk *w, enum mime_text_piece kind,
			  const struct mime_field *f)
{
	struct str addrs = STR_INIT;
	mime_imap_addresses(f->value.p, f->value.len, &addrs);
	if (addrs.len > 0 && !all_written(addrs.data, addrs.len, &w->value)) {
		str_clear(&w->line);
		append_span(&w->line, f->name.p, f->name.len);
		str_appends(&w->line, ": ");
		str_append(&w->line, addrs.data, addrs.len);
		put_line(w, kind, w->line.data, w->line.len);
	}
	str_free(&addrs);
}

/* Each field of a header (those of nw) as "Name: decoded value". */
static void put_header(struct walk *w, enum mime_text_piece kind,
		       const char *hdr, size_t len, const struct names *nw)
{
	struct mime_hdr_iter it;
	struct mime_field f;
	mime_hdr_init(&it, hdr, len);
	while (!w->stop && mime_hdr_next(&it, &f) > 0) {
		if (!name_wanted(nw, f.name))
			continue;
		str_clear(&w->line);
		str_clear(&w->value);
		append_span(&w->line, f.name.p, f.name.len);
		str_appends(&w->line, ": ");
		mime_unfold(f.value, &w->value);
		if (w->value.len > 0)
			mime_decode_header(w->value.data, w->value.len,
					   &w->line);
		put_line(w, kind, w->line.data, w->line.len);
		if (is_address_field(f.name))
			put_addresses(w, kind, &f);
	}
}

static bool span_is(struct mime_span s, const char *want)
{
	size_t n = strlen(want);
	return s.len == n && strncasecmp(s.p, want, n) == 0;
}

/* The charset parameter of a part's Content-Type, into cs. */
static void charset_of(const struct mime_part *p, struct str *cs)
{
	struct mime_param_iter it;
	struct str name = STR_INIT;
	if (p->content_type.p == NULL)
		return;
	mime_params_init(&it, p->content_type);
	while (mime_params_next(&it, &name, cs) > 0) {
		if (name.len == 7 && strncasecmp(name.data, "charset", 7) == 0)
			break;
		str_clear(cs);
	}
	str_free(&name);
	str_append(cs, "", 0);
}

/* ---- a part's text, piece by piece ----
 * A part is read a chunk of its content at a time, and each stage hands
 * the next one only what cannot change with the bytes still to come, so
 * that the text is the one the whole part would give: base64 keeps its
 * partial group (mime_decode_base64_step), a character cut in two waits
 * (mime_charset_stream), HTML markup cut in two waits, and normalising
 * waits for the next ASCII character (no decomposition or reordering
 * crosses one) and for the LF after a CR.  What may wait is bounded
 * (*_CARRY_MAX); past that the cut is made anyway, at worst splitting a
 * tag or a run of combining marks of hostile input. */

#define HTML_CARRY_MAX (256 * 1024)
#define TEXT_CARRY_MAX (16 * 1024)

struct part_state {
	const struct mime_part *p;
	struct mime_base64 b64;
	struct mime_charset_stream *cs;
	struct str charset;
	bool html, any;
};

/* Whether a quoted-printable chunk may end before p[c]: not after "=",
 * "=X", a space, a tab or a CR, which the next bytes could still make an
 * escape, a soft line break or padding at the end of a line. */
static bool qp_may_end(const char *p, size_t c)
{
	char last = p[c - 1];
	return last != '=' && last != ' ' && last != '\t' && last != '\r' &&
	       (c < 2 || p[c - 2] != '=');
}

/* Where to end a chunk of content: after its last line end, so that
 * quoted-printable escapes and soft line breaks stay whole; without one,
 * where qp_may_end() allows it, looking back and then (a run of spaces)
 * forward, up to a few chunks. */
static size_t raw_cut(const char *p, size_t len, size_t chunk, uint8_t cte)
{
	if (len <= chunk)
		return len;
	const char *nl = memrchr(p, '\n', chunk);
	if (nl != NULL)
		return (size_t)(nl - p) + 1;
	if (cte != MIME_CTE_QP)
		return chunk;
	for (size_t c = chunk; c > 0; c--)
		if (qp_may_end(p, c))
			return c;
	size_t max = len - chunk > 3 * chunk ? 4 * chunk : len;
	for (size_t c = chunk + 1; c < max; c++)
		if (qp_may_end(p, c))
			return c;
	return max;
}

static size_t tag_close(const char *p, size_t len, size_t i);

static bool ci_at(const char *p, size_t len, size_t i, const char *s)
{
	size_t n = strlen(s);
	return i + n <= len && strncasecmp(p + i, s, n) == 0;
}

/* A "<script" or "<style" tag at p[i] == '<': the name, or NULL. */
static const char *raw_opener(const char *p, size_t len, size_t i)
{
	static const char *const raw[] = {"script", "style"};
	for (int k = 0; k < 2; k++) {
		size_t n = strlen(raw[k]);
		if (ci_at(p, len, i + 1, raw[k]) &&
		    (i + 1 + n == len || !isalnum((unsigned char)p[i + 1 + n])))
			return raw[k];
	}
	return NULL;
}

/* Where markup that HTML stripping must see whole begins without ending
 * in p[0, len): a comment, a script or style element, a tag; len when
 * there is none.  Follows mime_text_html()'s reading of them. */
static size_t html_open(const char *p, size_t len)
{
	size_t i = 0, tag = len;
	const char *lt;
	while ((lt = memchr(p + i, '<', len - i)) != NULL) {
		i = (size_t)(lt - p);
		const char *name = raw_opener(p, len, i), *e;
		size_t skip = 1;
		tag = i;
		if (ci_at(p, len, i, "<!--")) {
			e = memmem(p + i + 4, len - i - 4, "-->", 3);
			if (e == NULL)
				return i;
			skip = (size_t)(e - p) + 3 - i;
			tag = len;
		} else if (name != NULL) {
			size_t j = i + 1;
			char close[16] = "</";
			memcpy(close + 2, name, strlen(name) + 1);
			while ((e = memchr(p + j, '<', len - j)) != NULL &&
			       !ci_at(p, len, (size_t)(e - p), close))
				j = (size_t)(e - p) + 1;
			if (e == NULL)
				return i;
			skip = (size_t)(e - p) - i;
		}
		i += skip;
	}
	/* The last tag, unless it is closed. */
	if (tag < len && tag_close(p, len, tag + 1) < len)
		tag = len;
	return tag;
}

/* How much of HTML text to strip now: all but markup or a character
 * reference that may go on in the next piece. */
static size_t html_cut(const char *p, size_t len)
{
	size_t cut = html_open(p, len), from = len > 16 ? len - 16 : 0;
	const char *amp = memrchr(p + from, '&', len - from);
	if (amp != NULL && memchr(amp, ';', (size_t)(p + len - amp)) == NULL &&
	    (size_t)(amp - p) < cut)
		cut = (size_t)(amp - p);
	return len - cut > HTML_CARRY_MAX ? len : cut;
}

/* How much of UTF-8 text to normalise now: up to its last ASCII
 * character, not between CR and LF. */
static size_t text_cut(const char *p, size_t len)
{
	size_t i = len;
	while (i > 0 && (unsigned char)p[i - 1] >= 0x80)
		i--;
	if (i > 0 && p[i - 1] == '\r')
		i--;
	return len - i > TEXT_CARRY_MAX ? len : i;
}

/* Text of the part: cleaned, normalised and given to the callback. */
static void text_piece(struct walk *w, struct part_state *st, const char *in,
		       size_t len, bool last)
{
	const char *p = in;
	size_t n = len;
	/* Copied only behind what waits from the piece before. */
	if (w->pend.len > 0) {
		str_append(&w->pend, in, len);
		p = w->pend.data, n = w->pend.len;
	}
	size_t cut = last ? n : text_cut(p, n);
	str_clear(&w->clean);
	str_clear(&w->norm);
	clean(p, cut, false, &w->clean);
	if (w->clean.len > 0)
		mime_text_normalize(w->clean.data, w->clean.len, &w->norm);
	if (p == in)
		append_span(&w->pend, in + cut, n - cut);
	else
		str_consume(&w->pend, cut);
	if (w->norm.len > 0) {
		st->any = true;
		emit(w, MIME_TEXT_BODY, w->norm.data, w->norm.len);
	}
}

static void html_piece(struct walk *w, struct part_state *st, bool last)
{
	str_append(&w->html, w->utf8.data, w->utf8.len);
	size_t cut = last ? w->html.len : html_cut(w->html.data, w->html.len);
	str_clear(&w->utf8);
	mime_text_html(w->html.data, cut, &w->utf8);
	str_consume(&w->html, cut);
	text_piece(w, st, w->utf8.data, w->utf8.len, last);
}

/* One chunk of the part's content, through every stage. */
static void chunk_piece(struct walk *w, struct part_state *st, const char *in,
			size_t n, bool first, bool last)
{
	const char *d = in;
	size_t dn = n;
	str_clear(&w->raw);
	str_clear(&w->utf8);
	if (st->p->cte == MIME_CTE_BASE64 || st->p->cte == MIME_CTE_QP) {
		if (st->p->cte == MIME_CTE_BASE64)
			mime_decode_base64_step(&st->b64, in, n, last,
						&w->raw);
		else
			mime_decode_qp(in, n, &w->raw);
		d = w->raw.data ? w->raw.data : "", dn = w->raw.len;
	}
	/* A part in one piece converts as it always did, with the
	 * thread's cached converter. */
	if (first && last)
		mime_charset_to_utf8(st->charset.data, st->charset.len, d, dn,
				     &w->utf8);
	else
		mime_charset_stream_put(st->cs, d, dn, last, &w->utf8);
	if (st->html)
		html_piece(w, st, last);
	else
		text_piece(w, st, w->utf8.data ? w->utf8.data : "",
			   w->utf8.len, last);
}

static void walk_part(struct walk *w, const char *data,
		      const struct mime_part *p)
{
	struct part_state st = {p, MIME_BASE64_INIT, NULL, STR_INIT, false,
				false};
	const char *in = data + p->body;
	size_t len = p->end - p->body, at = 0;
	charset_of(p, &st.charset);
	st.html = span_is(p->subtype, "html");
	str_clear(&w->html);
	str_clear(&w->pend);
	if (len > w->chunk)
		st.cs = mime_charset_stream_new(st.charset.data,
						st.charset.len);
	do {
		size_t n = raw_cut(in + at, len - at, w->chunk, p->cte);
		bool last = at + n == len || st.b64.end;
		chunk_piece(w, &st, in + at, n, at == 0, last);
		at = last ? len : at + n;
	} while (at < len && !w->stop);
	if (st.any)
		emit(w, MIME_TEXT_BODY, "\n", 1);
	mime_charset_stream_free(&st.cs);
	str_free(&st.charset);
}

static bool is_text_leaf(const struct mime_part *p)
{
	return p->kind == MIME_LEAF && !(p->flags & MIME_PART_OPAQUE) &&
	       p->cte < MIME_CTE_OTHER && span_is(p->type, "text");
}

static void walk_free(struct walk *w)
{
	str_free(&w->clean);
	str_free(&w->norm);
	str_free(&w->line);
	str_free(&w->value);
	str_free(&w->raw);
	str_free(&w->utf8);
	str_free(&w->html);
	str_free(&w->pend);
}

void mime_text_walk(const struct mime_msg *msg, bool body, size_t chunk,
		    mime_text_fn *fn, void *ctx)
{
	struct walk w = {.fn = fn, .ctx = ctx,
			 .chunk = chunk > 0 ? chunk : MIME_TEXT_CHUNK};
	const char *data = mime_data(msg);
	const struct mime_part *top = mime_part(msg, 0);
	put_header(&w, MIME_TEXT_HEADER_LINE, data + top->hdr,
		   top->body - top->hdr, NULL);
	/* Parts are in pre-order: the text comes out in reading order. */
	for (uint32_t i = 0; body && i < mime_part_count(msg) && !w.stop;
	     i++) {
		const struct mime_part *p = mime_part(msg, i);
		if (p->parent != MIME_NONE &&
		    mime_part(msg, p->parent)->kind == MIME_MESSAGE)
			put_header(&w, MIME_TEXT_BODY_LINE, data + p->hdr,
				   p->body - p->hdr, NULL);
		if (is_text_leaf(p) && !w.stop)
			walk_part(&w, data, p);
	}
	walk_free(&w);
}

/* mime_text_extract's callback: lines whole or not at all, body text cut
 * between two characters, within the room left. */
struct keep {
	size_t room;
	struct str *header, *body;
	bool cut;
};

static bool keep_piece(void *ctx, enum mime_text_piece kind, const char *p,
		       size_t n)
{
	struct keep *k = ctx;
	struct str *out = kind == MIME_TEXT_HEADER_LINE ? k->header : k->body;
	size_t fit = kind == MIME_TEXT_BODY ? utf8_cut(p, n, k->room)
		     : n <= k->room		? n
						: 0;
	append_span(out, p, fit);
	k->room -= fit;
	if (fit < n) {
		k->room = 0;
		k->cut = true;
	}
	return !k->cut;
}

bool mime_text_extract(const struct mime_msg *msg, struct str *header_r,
		       struct str *body_r)
{
	struct keep k = {MIME_TEXT_MAX, header_r, body_r, false};
	mime_text_walk(msg, body_r != NULL, 0, keep_piece, &k);
	str_append(header_r, "", 0);
	if (body_r != NULL)
		str_append(body_r, "", 0);
	return !k.cut;
}

static bool field_line(void *ctx, enum mime_text_piece kind, const char *p,
		       size_t n)
{
	str_append(ctx, p, n);
	return true;
}

/* A header within MIME_TEXT_FIELDS_MAX gives far less than MIME_TEXT_MAX
 * of text (RFC 2047 decoding and charsets give at most 3 bytes per byte,
 * normalising a character at most 18 characters, e.g. U+FDFA), so the
 * whole extraction would not have cut it either, and the lines kept are
 * the same lines. */
bool mime_text_header_fields(const char *hdr, size_t len,
			     const char *const *names, const size_t *lens,
			     size_t n, struct str *out)
{
	if (len > MIME_TEXT_FIELDS_MAX)
		return false;
	struct walk w = {.fn = field_line, .ctx = out};
	struct names nw = {names, lens, n};
	put_header(&w, MIME_TEXT_HEADER_LINE, hdr, len, &nw);
	str_append(out, "", 0);
	walk_free(&w);
	return true;
}

void mime_text_key(const char *in, size_t len, struct str *out)
{
	struct str c = STR_INIT;
	clean(in, len, false, &c);
	if (c.len > 0)
		mime_text_normalize(c.data, c.len, out);
	str_append(out, "", 0);
	str_free(&c);
}

bool mime_text_contains(const char *text, size_t len, const char *needle,
			size_t needle_len)
{
	if (needle_len == 0)
		return true;
	return len >= needle_len &&
	       memmem(text, len, needle, needle_len) != NULL;
}

/* ---- the index's bounds ---- */

#define TRIGRAM_SLOTS (2 * MIME_TEXT_INDEX_TRIGRAMS) /* a power of two */

struct trigrams {
	uint64_t *slot; /* 0 = free; a trigram is never 0 (+1 below) */
	size_t n;
	uint32_t cp[3];
	unsigned have;
};

/* The next code point of valid UTF-8 (what normalisation leaves); a
 * stray byte counts as one. */
static uint32_t next_cp(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char *p = *pp;
	uint32_t c = *p++;
	unsigned more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
	for (; more > 0 && p < end && (*p & 0xc0) == 0x80; more--)
		c = (c << 6) | (*p++ & 0x3f);
	*pp = p;
	return c;
}

/* false once there are more distinct trigrams than the bound. */
static bool trigrams_add(struct trigrams *t, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	t->have = 0; /* a trigram never spans two columns */
	while (p < end) {
		t->cp[0] = t->cp[1];
		t->cp[1] = t->cp[2];
		t->cp[2] = next_cp(&p, end);
		if (++t->have < 3)
			continue;
		uint64_t k = ((uint64_t)t->cp[0] << 42 |
			      (uint64_t)t->cp[1] << 21 | t->cp[2]) + 1;
		size_t i = (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 40) &
			   (TRIGRAM_SLOTS - 1);
		while (t->slot[i] != 0 && t->slot[i] != k)
			i = (i + 1) & (TRIGRAM_SLOTS - 1);
		if (t->slot[i] == k)
			continue;
		if (++t->n > MIME_TEXT_INDEX_TRIGRAMS)
			return false;
		t->slot[i] = k;
	}
	return true;
}

bool mime_text_indexable(const char *header, size_t hlen, const char *body,
			 size_t blen)
{
	if (hlen + blen > MIME_TEXT_INDEX_MAX)
		return false;
	struct trigrams t = {.slot = xcalloc(TRIGRAM_SLOTS, sizeof(uint64_t))};
	bool ok = trigrams_add(&t, header, hlen) &&
		  trigrams_add(&t, body, blen);
	free(t.slot);
	return ok;
}

bool mime_text_field_has(const char *hdr, size_t len, const char *name,
			 size_t name_len, const char *needle,
			 size_t needle_len)
{
	const char *end = hdr + len;
	for (const char *p = hdr; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon != NULL &&
		    (name == NULL || ((size_t)(colon - p) == name_len &&
				      memcmp(p, name, name_len) == 0))) {
			const char *v = colon + 1;
			if (v < eol && *v == ' ')
				v++;
			if (mime_text_contains(v, (size_t)(eol - v), needle,
					       needle_len))
				return true;
		}
		p = eol + 1;
	}
	return false;
}

/* ---- HTML ---- */

static const char *const inline_tags[] = {
	"a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "del", "dfn",
	"em", "font", "i", "ins", "kbd", "mark", "q", "s", "samp", "small",
	"span", "strike", "strong", "sub", "sup", "tt", "u", "var", "wbr",
};

/* Named references mail uses most; the rest stay as written. */
static const struct {
	const char *name, *utf8;
} entities[] = {
	{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""},
	{"apos", "'"}, {"nbsp", " "}, {"shy", ""}, {"zwnj", ""},
	{"zwj", ""}, {"auml", "\xc3\xa4"}, {"ouml", "\xc3\xb6"},
	{"uuml", "\xc3\xbc"}, {"Auml", "\xc3\x84"}, {"Ouml", "\xc3\x96"},
	{"Uuml", "\xc3\x9c"}, {"szlig", "\xc3\x9f"}, {"aacute", "\xc3\xa1"},
	{"agrave", "\xc3\xa0"}, {"acirc", "\xc3\xa2"},
	{"eacute", "\xc3\xa9"}, {"egrave", "\xc3\xa8"},
	{"ecirc", "\xc3\xaa"}, {"Eacute", "\xc3\x89"},
	{"iacute", "\xc3\xad"}, {"oacute", "\xc3\xb3"},
	{"uacute", "\xc3\xba"}, {"ccedil", "\xc3\xa7"},
	{"ntilde", "\xc3\xb1"}, {"euro", "\xe2\x82\xac"},
	{"copy", "\xc2\xa9"}, {"reg", "\xc2\xae"},
	{"trade", "\xe2\x84\xa2"}, {"hellip", "\xe2\x80\xa6"},
	{"ndash", "\xe2\x80\x93"}, {"mdash", "\xe2\x80\x94"},
	{"lsquo", "\xe2\x80\x98"}, {"rsquo", "\xe2\x80\x99"},
	{"ldquo", "\xe2\x80\x9c"}, {"rdquo", "\xe2\x80\x9d"},
	{"bull", "\xe2\x80\xa2"}, {"middot", "\xc2\xb7"},
};

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void append_utf8(struct str *out, uint32_t cp)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		str_appendc(out, (char)cp);
	} else if (cp < 0x800) {
		str_appendc(out, (char)(0xc0 | cp >> 6));
		str_appendc(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		str_appendc(out, (char)(0xe0 | cp >> 12));
		str_appendc(out, (char)(0x80 | (cp >> 6 & 0x3f)));
		str_appendc(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		str_appendc(out, (char)(0xf0 | cp >> 18));
		str_appendc(out, (char)(0x80 | (cp >> 12 & 0x3f)));
		str_appendc(out, (char)(0x80 | (cp >> 6 & 0x3f)));
		str_appendc(out, (char)(0x80 | (cp & 0x3f)));
	}
}

/* "&#233;" or "&#xE9;" at p (after the "&#"): its length up to and
 * including ";", or 0. */
static size_t numeric_ref(const char *p, size_t len, struct str *out)
{
	bool hex = len > 0 && (p[0] == 'x' || p[0] == 'X');
	size_t i = hex ? 1 : 0, digits = 0;
	uint32_t cp = 0;
	for (; i < len && digits < 8; i++, digits++) {
		int d = hex ? hex_value(p[i]) : (p[i] >= '0' && p[i] <= '9')
							  ? p[i] - '0'
							  : -1;
		if (d < 0)
			break;
		cp = cp * (hex ? 16 : 10) + (uint32_t)d;
	}
	if (digits == 0 || i >= len || p[i] != ';')
		return 0;
	append_utf8(out, cp);
	return i + 1;
}

/* A character reference at p (on its "&"): bytes used, or 0 when it is
 * not one (the "&" is then text). */
static size_t reference(const char *p, size_t len, struct str *out)
{
	if (len > 2 && p[1] == '#') {
		size_t n = numeric_ref(p + 2, len - 2, out);
		return n > 0 ? n + 2 : 0;
	}
	size_t n = 1;
	while (n < len && n < 12 && is_alnum(p[n]))
		n++;
	if (n == 1 || n >= len || p[n] != ';')
		return 0;
	for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
		if (strlen(entities[i].name) == n - 1 &&
		    memcmp(entities[i].name, p + 1, n - 1) == 0) {
			str_appends(out, entities[i].utf8);
			return n + 1;
		}
	}
	return 0;
}

/* Where the ">" of the tag that goes on at p[i] is, honouring attribute
 * values in quotes; len if there is none. */
static size_t tag_close(const char *p, size_t len, size_t i)
{
	char quote = 0, prev = 0;
	for (; i < len; i++) {
		char c = p[i];
		if (quote != 0) {
			if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '>')
			return i;
		if ((c == '"' || c == '\'') && prev == '=')
			quote = c;
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			prev = c;
	}
	return len;
}

/* Where the tag ends (after its ">", or len). */
static size_t tag_end(const char *p, size_t len, size_t i)
{
	size_t c = tag_close(p, len, i);
	return c < len ? c + 1 : len;
}

/* From i, past the next "</name" (any case), or len. */
static size_t skip_to_close(const char *p, size_t len, size_t i,
			    const char *name, size_t n)
{
	for (; i + 2 + n <= len; i++)
		if (p[i] == '<' && p[i + 1] == '/' &&
		    strncasecmp(p + i + 2, name, n) == 0)
			return i;
	return len;
}

static bool is_inline(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(inline_tags) / sizeof(inline_tags[0]);
	     i++)
		if (strlen(inline_tags[i]) == n &&
		    strncasecmp(inline_tags[i], name, n) == 0)
			return true;
	return false;
}

/* The markup at p[0] == '<': bytes to skip, or 0 when it is text. */
static size_t markup(const char *p, size_t len, struct str *out)
{
	if (len >= 4 && memcmp(p, "<!--", 4) == 0) {
		const char *e = memmem(p + 4, len - 4, "-->", 3);
		return e != NULL ? (size_t)(e - p) + 3 : len;
	}
	if (len >= 2 && (p[1] == '!' || p[1] == '?'))
		return tag_end(p, len, 2);
	size_t i = len >= 2 && p[1] == '/' ? 2 : 1, name = i;
	if (i >= len || !is_alpha(p[i]))
		return 0;
	while (i < len && is_alnum(p[i]))
		i++;
	size_t n = i - name;
	bool closing = name == 2;
	if (!is_inline(p + name, n))
		str_appendc(out, ' ');
	size_t end = tag_end(p, len, i);
	if (!closing && ((n == 6 && strncasecmp(p + name, "script", 6) == 0) ||
			 (n == 5 && strncasecmp(p + name, "style", 5) == 0)))
		end = skip_to_close(p, len, end, p + name, n);
	return end;
}

void mime_text_html(const char *in, size_t len, struct str *out)
{
	size_t i = 0, start = 0;
	while (i < len) {
		size_t used = 0;
		if (in[i] == '<' || in[i] == '&') {
			append_span(out, in + start, i - start);
			used = in[i] == '<' ? markup(in + i, len - i, out)
					    : reference(in + i, len - i, out);
			start = used > 0 ? i + used : i;
		}
		i += used > 0 ? used : 1;
	}
	append_span(out, in + start, len - start);
}
