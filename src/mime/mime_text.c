/* The searchable text of a message, in one pass over its parts. */
#include "mime/mime_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_imap.h"

/* Bytes of a part read per byte of text still wanted: base64 gives 3
 * bytes for 4, and UTF-16 one character for 2 of those. */
#define INPUT_PER_BYTE 4

/* What is left of the text's budget, and scratch space. */
struct sink {
	size_t room;
	struct str clean, norm, line, value;
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

/* Append UTF-8 text, cleaned and normalised, within the room left: as one
 * whole line ending in LF (or nothing, and no room left after), or as much
 * of it as fits. */
static void put(struct sink *k, struct str *out, const char *in, size_t len,
		bool line)
{
	if (k->room == 0)
		return;
	str_clear(&k->clean);
	str_clear(&k->norm);
	/* Normalising may halve the text (U+0131 to "I"), never less. */
	clean(in, utf8_cut(in, len, 2 * k->room), line, &k->clean);
	if (k->clean.len > 0)
		mime_text_normalize(k->clean.data, k->clean.len, &k->norm);
	size_t n = k->norm.len;
	if (line) {
		if (n + 1 > k->room) {
			k->room = 0;
			return;
		}
		append_span(out, k->norm.data, n);
		str_appendc(out, '\n');
		k->room -= n + 1;
		return;
	}
	n = utf8_cut(k->norm.data, n, k->room);
	append_span(out, k->norm.data, n);
	k->room -= n;
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
static bool name_wanted(const struct names *w, struct mime_span name)
{
	if (w == NULL)
		return true;
	for (size_t i = 0; i < name.len; i++)
		if (name.p[i] < '!' || name.p[i] > '~')
			return true;
	for (size_t i = 0; i < w->n; i++) {
		if (w->lens[i] != name.len)
			continue;
		size_t j = 0;
		while (j < name.len && ascii_upper(name.p[j]) == w->names[i][j])
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
static void put_addresses(struct sink *k, struct str *out,
			  const struct mime_field *f)
{
	struct str addrs = STR_INIT;
	mime_imap_addresses(f->value.p, f->value.len, &addrs);
	if (addrs.len > 0 && !all_written(addrs.data, addrs.len, &k->value)) {
		str_clear(&k->line);
		append_span(&k->line, f->name.p, f->name.len);
		str_appends(&k->line, ": ");
		str_append(&k->line, addrs.data, addrs.len);
		put(k, out, k->line.data, k->line.len, true);
	}
	str_free(&addrs);
}

/* Each field of a header (those of w) as "Name: decoded value". */
static void put_header(struct sink *k, struct str *out, const char *hdr,
		       size_t len, const struct names *w)
{
	struct mime_hdr_iter it;
	struct mime_field f;
	mime_hdr_init(&it, hdr, len);
	while (k->room > 0 && mime_hdr_next(&it, &f) > 0) {
		if (!name_wanted(w, f.name))
			continue;
		str_clear(&k->line);
		str_clear(&k->value);
		append_span(&k->line, f.name.p, f.name.len);
		str_appends(&k->line, ": ");
		mime_unfold(f.value, &k->value);
		if (k->value.len > 0)
			mime_decode_header(k->value.data, k->value.len,
					   &k->line);
		put(k, out, k->line.data, k->line.len, true);
		if (is_address_field(f.name))
			put_addresses(k, out, &f);
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
}

/* How much of a part's content to decode: enough for the room left,
 * cut after a line end where there is one, so that no base64 group or
 * quoted-printable escape is split. */
static size_t input_len(const char *body, size_t len, size_t room)
{
	size_t max = room * INPUT_PER_BYTE;
	if (len <= max)
		return len;
	for (size_t i = max; i > 0; i--)
		if (body[i - 1] == '\n')
			return i;
	return max;
}

static void put_part(struct sink *k, struct str *out, const char *data,
		     const struct mime_part *p)
{
	static const char *const ctes[] = {
		[MIME_CTE_7BIT] = "7bit", [MIME_CTE_8BIT] = "8bit",
		[MIME_CTE_BINARY] = "binary",
		[MIME_CTE_QP] = "quoted-printable",
		[MIME_CTE_BASE64] = "base64",
	};
	struct str raw = STR_INIT, cs = STR_INIT, text = STR_INIT;
	struct str html = STR_INIT;
	size_t len = input_len(data + p->body, p->end - p->body, k->room);
	const char *cte = ctes[p->cte];
	mime_decode_cte(cte, strlen(cte), data + p->body, len, &raw);
	charset_of(p, &cs);
	mime_charset_to_utf8(cs.data ? cs.data : "", cs.len,
			     raw.data ? raw.data : "", raw.len, &text);
	const struct str *t = &text;
	if (span_is(p->subtype, "html")) {
		mime_text_html(text.data ? text.data : "", text.len, &html);
		t = &html;
	}
	size_t before = out->len;
	put(k, out, t->data ? t->data : "", t->len, false);
	if (out->len > before && k->room > 0) {
		str_appendc(out, '\n');
		k->room--;
	}
	str_free(&raw);
	str_free(&cs);
	str_free(&text);
	str_free(&html);
}

static bool is_text_leaf(const struct mime_part *p)
{
	return p->kind == MIME_LEAF && !(p->flags & MIME_PART_OPAQUE) &&
	       p->cte < MIME_CTE_OTHER && span_is(p->type, "text");
}

void mime_text_extract(const struct mime_msg *msg, struct str *header_r,
		       struct str *body_r)
{
	struct sink k = {MIME_TEXT_MAX, STR_INIT, STR_INIT, STR_INIT,
			 STR_INIT};
	const char *data = mime_data(msg);
	const struct mime_part *top = mime_part(msg, 0);
	put_header(&k, header_r, data + top->hdr, top->body - top->hdr, NULL);
	/* Parts are in pre-order: the text comes out in reading order. */
	for (uint32_t i = 0; body_r != NULL && i < mime_part_count(msg) &&
			     k.room > 0;
	     i++) {
		const struct mime_part *p = mime_part(msg, i);
		if (p->parent != MIME_NONE &&
		    mime_part(msg, p->parent)->kind == MIME_MESSAGE)
			put_header(&k, body_r, data + p->hdr,
				   p->body - p->hdr, NULL);
		if (is_text_leaf(p))
			put_part(&k, body_r, data, p);
	}
	str_append(header_r, "", 0);
	if (body_r != NULL)
		str_append(body_r, "", 0);
	str_free(&k.clean);
	str_free(&k.norm);
	str_free(&k.line);
	str_free(&k.value);
}

/* Room is not a question here: a header within MIME_TEXT_FIELDS_MAX
 * gives far less than MIME_TEXT_MAX of text (RFC 2047 decoding and
 * charsets give at most 3 bytes per byte, normalising a character at
 * most 18 characters, e.g. U+FDFA), so the whole extraction would not
 * have cut it either, and the lines kept are the same lines. */
bool mime_text_header_fields(const char *hdr, size_t len,
			     const char *const *names, const size_t *lens,
			     size_t n, struct str *out)
{
	if (len > MIME_TEXT_FIELDS_MAX)
		return false;
	struct sink k = {MIME_TEXT_MAX, STR_INIT, STR_INIT, STR_INIT,
			 STR_INIT};
	struct names w = {names, lens, n};
	put_header(&k, out, hdr, len, &w);
	str_append(out, "", 0);
	str_free(&k.clean);
	str_free(&k.norm);
	str_free(&k.line);
	str_free(&k.value);
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

/* Where the tag that starts at p ends (after its ">", or len), honouring
 * attribute values in quotes. */
static size_t tag_end(const char *p, size_t len, size_t i)
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
			return i + 1;
		if ((c == '"' || c == '\'') && prev == '=')
			quote = c;
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			prev = c;
	}
	return len;
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
