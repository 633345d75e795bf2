#include "imap/imap_parse.h"

#include <assert.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/xalloc.h"
#include "imap/imap_date.h"
#include "imap/imap_utf7.h"

/* The arena: small allocations share chunks of CHUNK bytes, a large one
 * (a long string) gets a chunk of its own, so what is held stays within
 * 4/3 of what was asked for plus one chunk.  The first chunk is smaller:
 * most commands need a few hundred bytes, and a command that stays open
 * (IDLE, a FETCH waiting for its output to drain) keeps its arena. */
#define CHUNK 4096
#define CHUNK_FIRST 512
/* Enough for everything parsed here (pointers, 64-bit numbers), and
 * tighter than max_align_t's 16, which would waste a third of the arena
 * on small nodes. */
#define ALIGN 8
static_assert(alignof(void *) <= ALIGN && alignof(uint64_t) <= ALIGN &&
		      alignof(int64_t) <= ALIGN,
	      "arena alignment");

struct chunk {
	struct chunk *next;
	size_t size, used;
	max_align_t data[];
};

struct imap_parser {
	const char *buf;
	size_t len, pos;
	unsigned flags;
	unsigned depth;
	const char *error;
	enum imap_parse_reply reply;
	struct chunk *chunks;
	size_t allocated;
};

struct imap_parser *imap_parser_new(const char *buf, size_t len,
				    unsigned flags)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));
	p->buf = buf;
	p->len = len;
	p->flags = flags;
	return p;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;
	if (p == NULL)
		return;
	while (p->chunks != NULL) {
		struct chunk *c = p->chunks;
		p->chunks = c->next;
		free(c);
	}
	free(p);
	*pp = NULL;
}

const char *imap_parser_error(const struct imap_parser *p)
{
	return p->error;
}

enum imap_parse_reply imap_parser_error_reply(const struct imap_parser *p)
{
	return p->reply;
}

size_t imap_parser_pos(const struct imap_parser *p)
{
	return p->pos;
}

int imap_parser_peek(const struct imap_parser *p)
{
	return p->pos < p->len ? (unsigned char)p->buf[p->pos] : -1;
}

int imap_parser_peek_at(const struct imap_parser *p, size_t ahead)
{
	return p->len - p->pos > ahead
		       ? (unsigned char)p->buf[p->pos + ahead]
		       : -1;
}

size_t imap_parser_allocated(const struct imap_parser *p)
{
	return p->allocated;
}

int imap_parser_fail(struct imap_parser *p, const char *text)
{
	if (p->error == NULL) {
		p->error = text;
		p->reply = IMAP_REPLY_BAD;
	}
	return -1;
}

int imap_parser_fail_no(struct imap_parser *p, const char *text)
{
	if (p->error == NULL) {
		p->error = text;
		p->reply = IMAP_REPLY_NO;
	}
	return -1;
}

static struct chunk *chunk_new(struct imap_parser *p, size_t size)
{
	struct chunk *c = xmalloc(sizeof(*c) + size);
	c->size = size;
	c->used = 0;
	p->allocated += sizeof(*c) + size;
	return c;
}

void *imap_parser_alloc(struct imap_parser *p, size_t n)
{
	struct chunk *c = p->chunks;
	if (n > SIZE_MAX - ALIGN)
		abort();
	n = (n + ALIGN - 1) / ALIGN * ALIGN;
	if (c == NULL || c->size - c->used < n) {
		if (n > CHUNK / 4) {
			/* Behind the head, which keeps its free room. */
			c = chunk_new(p, n);
			if (p->chunks != NULL) {
				c->next = p->chunks->next;
				p->chunks->next = c;
			} else {
				c->next = NULL;
				p->chunks = c;
			}
		} else {
			c = chunk_new(p, p->chunks == NULL && n <= CHUNK_FIRST
						 ? CHUNK_FIRST : CHUNK);
			c->next = p->chunks;
			p->chunks = c;
		}
	}
	void *r = (char *)c->data + c->used;
	c->used += n;
	memset(r, 0, n);
	return r;
}

void *imap_parser_grow(struct imap_parser *p, void *arr, unsigned n,
		       unsigned *cap, size_t elem)
{
	if (n < *cap)
		return arr;
	unsigned ncap = *cap ? *cap * 2 : 4;
	size_t bytes;
	if (ncap < *cap || __builtin_mul_overflow((size_t)ncap, elem, &bytes))
		abort();
	void *na = imap_parser_alloc(p, bytes);
	if (n > 0)
		memcpy(na, arr, (size_t)n * elem);
	*cap = ncap;
	return na;
}

int imap_parser_enter(struct imap_parser *p)
{
	if (p->depth >= IMAP_PARSE_DEPTH_MAX)
		return imap_parser_fail(p, "Too deeply nested");
	p->depth++;
	return 1;
}

void imap_parser_leave(struct imap_parser *p)
{
	if (p->depth > 0)
		p->depth--;
}

/* A NUL-terminated copy of s[0..n) in the arena. */
static void set_copy(struct imap_parser *p, struct imap_string *s_r,
		     const char *s, size_t n)
{
	char *d = imap_parser_alloc(p, n + 1);
	memcpy(d, s, n);
	s_r->data = d;
	s_r->len = n;
}

/* --- character classes (RFC 9051 9) --- */

static bool is_atom_char(int c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

static bool is_astring_char(int c)
{
	return is_atom_char(c) || c == ']';
}

static bool is_list_char(int c)
{
	return is_astring_char(c) || c == '%' || c == '*';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_word_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       is_digit(c) || c == '.' || c == '-' || c == '_';
}

static int upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static size_t span(const struct imap_parser *p, bool (*ok)(int))
{
	size_t n = 0;
	while (p->pos + n < p->len && ok((unsigned char)p->buf[p->pos + n]))
		n++;
	return n;
}

/* The error for a missing item: what the client put there instead. */
static int fail_missing(struct imap_parser *p, const char *invalid)
{
	int c = imap_parser_peek(p);
	if (c < 0)
		return imap_parser_fail(p, "Missing argument");
	if (c == ' ')
		return imap_parser_fail(p, "Unexpected space");
	return imap_parser_fail(p, invalid);
}

bool imap_string_eq(const struct imap_string *s, const char *up)
{
	size_t n = strlen(up);
	if (s->data == NULL || s->len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (upper((unsigned char)s->data[i]) != up[i])
			return false;
	return true;
}

bool imap_mailbox_is_inbox(const char *name, size_t len)
{
	struct imap_string s = {name, len};
	return imap_string_eq(&s, "INBOX");
}

/* --- command start --- */

static bool is_tag_char(int c)
{
	return is_astring_char(c) && c != '+';
}

int imap_parse_tag(struct imap_parser *p, struct imap_string *tag_r)
{
	size_t n = span(p, is_tag_char);
	tag_r->data = NULL;
	tag_r->len = 0;
	if (n == 0)
		return imap_parser_fail(p, p->len == 0 ? "Missing tag"
							: "Invalid tag");
	int next = p->pos + n < p->len ? (unsigned char)p->buf[p->pos + n]
				       : -1;
	if (next == '+')
		return imap_parser_fail(p, "Invalid tag");
	set_copy(p, tag_r, p->buf + p->pos, n);
	p->pos += n;
	if (next < 0)
		return imap_parser_fail(p, "Missing command");
	if (next != ' ')
		return imap_parser_fail(p, "Missing space after tag");
	p->pos++;
	return 1;
}

int imap_parse_command_name(struct imap_parser *p,
			    struct imap_string *name_r)
{
	size_t n = span(p, is_atom_char);
	if (n == 0) {
		if (p->pos >= p->len)
			return imap_parser_fail(p, "Missing command");
		return fail_missing(p, "Invalid command name");
	}
	set_copy(p, name_r, p->buf + p->pos, n);
	p->pos += n;
	return 1;
}

/* --- separators --- */

int imap_parse_sp(struct imap_parser *p)
{
	int c = imap_parser_peek(p);
	if (c == ' ') {
		p->pos++;
		return 1;
	}
	return imap_parser_fail(p, c < 0 ? "Missing argument"
					 : "Missing space");
}

bool imap_parse_at_end(const struct imap_parser *p)
{
	return p->pos >= p->len;
}

int imap_parse_end(struct imap_parser *p)
{
	if (p->pos < p->len)
		return imap_parser_fail(p, "Extra arguments");
	return 1;
}

bool imap_parse_skip(struct imap_parser *p, char c)
{
	if (p->pos < p->len && p->buf[p->pos] == c) {
		p->pos++;
		return true;
	}
	return false;
}

int imap_parse_list_open(struct imap_parser *p)
{
	if (imap_parser_peek(p) != '(')
		return fail_missing(p, "Missing '('");
	if (imap_parser_enter(p) < 0)
		return -1;
	p->pos++;
	return 1;
}

int imap_parse_list_close(struct imap_parser *p)
{
	if (imap_parser_peek(p) != ')')
		return imap_parser_fail(p, imap_parser_peek(p) < 0
						   ? "Missing ')'"
						   : "Expected ')'");
	imap_parser_leave(p);
	p->pos++;
	return 1;
}

int imap_parse_word(struct imap_parser *p, struct imap_string *word_r)
{
	size_t n = span(p, is_word_char);
	if (n == 0)
		return fail_missing(p, "Invalid argument");
	set_copy(p, word_r, p->buf + p->pos, n);
	p->pos += n;
	return 1;
}

bool imap_parse_skip_word(struct imap_parser *p, const char *up)
{
	size_t n = span(p, is_word_char);
	if (n != strlen(up))
		return false;
	for (size_t i = 0; i < n; i++)
		if (upper((unsigned char)p->buf[p->pos + i]) != up[i])
			return false;
	p->pos += n;
	return true;
}

bool imap_parse_ahead(const struct imap_parser *p, const char *up)
{
	size_t n = strlen(up);
	if (p->len - p->pos < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (upper((unsigned char)p->buf[p->pos + i]) != up[i])
			return false;
	return true;
}

/* --- strings --- */

/* The content of a quoted string at p->pos (after its DQUOTE): checked,
 * and its length once unescaped in *n_r; *end_r is the closing DQUOTE. */
static int quoted_scan(struct imap_parser *p, size_t *n_r, size_t *end_r)
{
	size_t n = 0;
	bool eight = false;
	for (size_t i = p->pos; i < p->len; i++, n++) {
		unsigned char c = (unsigned char)p->buf[i];
		if (c == '"') {
			if (eight && !imap_utf7_utf8_valid(p->buf + p->pos,
							   i - p->pos))
				return imap_parser_fail(
					p, "Invalid UTF-8 in quoted string");
			*n_r = n;
			*end_r = i;
			return 1;
		}
		if (c == '\\') {
			if (++i >= p->len)
				break;
			if (p->buf[i] != '"' && p->buf[i] != '\\')
				return imap_parser_fail(
					p, "Invalid escape in quoted string");
		} else if (c == '\r' || c == '\n' || c == '\0') {
			return imap_parser_fail(
				p, "CR, LF or NUL in quoted string");
		} else if (c >= 0x80) {
			if (!(p->flags & IMAP_PARSE_UTF8))
				return imap_parser_fail(
					p, "8-bit character in quoted string");
			eight = true;
		}
	}
	return imap_parser_fail(p, "Unterminated quoted string");
}

static int parse_quoted(struct imap_parser *p, struct imap_string *s_r)
{
	size_t n, end;
	p->pos++;
	if (quoted_scan(p, &n, &end) < 0)
		return -1;
	char *d = imap_parser_alloc(p, n + 1);
	size_t o = 0;
	for (size_t i = p->pos; i < end; i++) {
		if (p->buf[i] == '\\')
			i++;
		d[o++] = p->buf[i];
	}
	s_r->data = d;
	s_r->len = n;
	p->pos = end + 1;
	return 1;
}

/* Digits at p->pos as a number up to max; "Invalid number" if there are
 * none, too_large past max. */
static int digits(struct imap_parser *p, uint64_t max, uint64_t *n_r,
		  const char *too_large)
{
	size_t n = span(p, is_digit);
	uint64_t v = 0;
	if (n == 0)
		return fail_missing(p, "Invalid number");
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(p->buf[p->pos + i] - '0');
		if (v > (max - d) / 10)
			return imap_parser_fail(p, too_large);
		v = v * 10 + d;
	}
	p->pos += n;
	*n_r = v;
	return 1;
}

#define NUMBER64_MAX ((uint64_t)INT64_MAX)

/* "{" number64 ["+"] "}" CRLF at p->pos ("~" already passed). */
static int literal_head(struct imap_parser *p, uint64_t *n_r, bool *nonsync_r)
{
	if (!imap_parse_skip(p, '{') || !is_digit(imap_parser_peek(p)))
		return imap_parser_fail(p, "Invalid literal");
	if (digits(p, NUMBER64_MAX, n_r, "Literal size too large") < 0)
		return -1;
	*nonsync_r = imap_parse_skip(p, '+');
	if (!imap_parse_skip(p, '}'))
		return imap_parser_fail(p, "Invalid literal");
	return 1;
}

static int parse_literal(struct imap_parser *p, struct imap_string *s_r)
{
	uint64_t n;
	bool nonsync;
	if (literal_head(p, &n, &nonsync) < 0)
		return -1;
	if (p->len - p->pos < 2 || p->buf[p->pos] != '\r' ||
	    p->buf[p->pos + 1] != '\n')
		return imap_parser_fail(p, "Missing CRLF after literal");
	p->pos += 2;
	if (n > p->len - p->pos)
		return imap_parser_fail(p, "Literal truncated");
	if (memchr(p->buf + p->pos, '\0', (size_t)n) != NULL)
		return imap_parser_fail(p, "NUL in literal");
	set_copy(p, s_r, p->buf + p->pos, (size_t)n);
	p->pos += (size_t)n;
	return 1;
}

static bool at_literal8(const struct imap_parser *p)
{
	return p->pos + 1 < p->len && p->buf[p->pos] == '~' &&
	       p->buf[p->pos + 1] == '{';
}

int imap_parse_string(struct imap_parser *p, struct imap_string *s_r)
{
	int c = imap_parser_peek(p);
	if (c == '"')
		return parse_quoted(p, s_r);
	if (c == '{')
		return parse_literal(p, s_r);
	if (at_literal8(p))
		return imap_parser_fail(p, "Literal8 not allowed here");
	return fail_missing(p, "Expected a quoted string or literal");
}

int imap_parse_astring(struct imap_parser *p, struct imap_string *s_r)
{
	int c = imap_parser_peek(p);
	if (c == '"' || c == '{' || at_literal8(p))
		return imap_parse_string(p, s_r);
	size_t n = span(p, is_astring_char);
	if (n == 0)
		return fail_missing(p, "Invalid string");
	set_copy(p, s_r, p->buf + p->pos, n);
	p->pos += n;
	return 1;
}

int imap_parse_atom(struct imap_parser *p, struct imap_string *atom_r)
{
	size_t n = span(p, is_atom_char);
	if (n == 0)
		return fail_missing(p, "Invalid atom");
	set_copy(p, atom_r, p->buf + p->pos, n);
	p->pos += n;
	return 1;
}

int imap_parse_nstring(struct imap_parser *p, struct imap_string *s_r)
{
	size_t n = span(p, is_atom_char);
	if (n == 3 && upper((unsigned char)p->buf[p->pos]) == 'N' &&
	    upper((unsigned char)p->buf[p->pos + 1]) == 'I' &&
	    upper((unsigned char)p->buf[p->pos + 2]) == 'L') {
		p->pos += 3;
		s_r->data = NULL;
		s_r->len = 0;
		return 1;
	}
	return imap_parse_string(p, s_r);
}

/* The wire form of a name into the form the store keeps (see header):
 * 1, or 0 with the reason in *why_r and s as it was. */
static int mailbox_decode_try(struct imap_parser *p, struct imap_string *s,
			      const char **why_r)
{
	if (!(p->flags & IMAP_PARSE_UTF8)) {
		struct str tmp = STR_INIT;
		int rc = imap_utf7_decode(s->data, s->len, &tmp);
		if (rc == 1)
			set_copy(p, s, tmp.len ? tmp.data : "", tmp.len);
		str_free(&tmp);
		*why_r = "Mailbox name is not valid modified UTF-7";
		return rc < 0 ? 0 : 1;
	}
	*why_r = "Mailbox name is not valid UTF-8";
	if (!imap_utf7_utf8_valid(s->data, s->len))
		return 0;
	*why_r = "Control character in mailbox name";
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->data[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static int mailbox_decode(struct imap_parser *p, struct imap_string *s)
{
	const char *why;
	if (mailbox_decode_try(p, s, &why) == 0)
		return imap_parser_fail_no(p, why);
	return 1;
}

int imap_parse_mailbox(struct imap_parser *p, struct imap_string *mbox_r)
{
	if (imap_parse_astring(p, mbox_r) < 0 || mailbox_decode(p, mbox_r) < 0)
		return -1;
	/* INBOX is one name in any case, and so is the INBOX above its
	 * children: "inbox/x" is "INBOX/x", never a second inbox. */
	if (imap_mailbox_is_inbox(mbox_r->data, mbox_r->len) ||
	    (mbox_r->len > 5 && mbox_r->data[5] == '/' &&
	     imap_mailbox_is_inbox(mbox_r->data, 5)))
		memcpy((char *)mbox_r->data, "INBOX", 5);
	return 1;
}

/* A pattern that does not decode is no error: it is kept as sent (see
 * header). */
static void list_decode(struct imap_parser *p, struct imap_string *s,
			bool *raw_r)
{
	const char *why;
	*raw_r = mailbox_decode_try(p, s, &why) == 0;
}

int imap_parse_list_mailbox(struct imap_parser *p, struct imap_string *pat_r,
			    bool *raw_r)
{
	int c = imap_parser_peek(p);
	if (c == '"' || c == '{' || at_literal8(p)) {
		if (imap_parse_string(p, pat_r) < 0)
			return -1;
	} else {
		size_t n = span(p, is_list_char);
		if (n == 0)
			return fail_missing(p, "Invalid mailbox pattern");
		set_copy(p, pat_r, p->buf + p->pos, n);
		p->pos += n;
	}
	list_decode(p, pat_r, raw_r);
	return 1;
}

int imap_parse_list_reference(struct imap_parser *p,
			      struct imap_string *ref_r, bool *raw_r)
{
	if (imap_parse_astring(p, ref_r) < 0)
		return -1;
	list_decode(p, ref_r, raw_r);
	return 1;
}

/* --- numbers --- */

static int nonzero_start(struct imap_parser *p)
{
	if (imap_parser_peek(p) == '0')
		return imap_parser_fail(p, "Invalid number");
	return 1;
}

int imap_parse_number(struct imap_parser *p, uint32_t *n_r)
{
	uint64_t v;
	if (digits(p, UINT32_MAX, &v, "Number too large") < 0)
		return -1;
	*n_r = (uint32_t)v;
	return 1;
}

int imap_parse_nz_number(struct imap_parser *p, uint32_t *n_r)
{
	if (nonzero_start(p) < 0)
		return -1;
	return imap_parse_number(p, n_r);
}

int imap_parse_number64(struct imap_parser *p, uint64_t *n_r)
{
	return digits(p, NUMBER64_MAX, n_r, "Number too large");
}

int imap_parse_nz_number64(struct imap_parser *p, uint64_t *n_r)
{
	if (nonzero_start(p) < 0)
		return -1;
	return imap_parse_number64(p, n_r);
}

int imap_parse_modseq(struct imap_parser *p, bool zero_ok, uint64_t *n_r)
{
	if (imap_parse_number64(p, n_r) < 0)
		return -1;
	if (*n_r == 0 && !zero_ok)
		return imap_parser_fail(p, "Invalid mod-sequence");
	return 1;
}

/* --- sequence sets --- */

static bool is_seq_char(int c)
{
	return is_digit(c) || c == '*' || c == '$' || c == ':' || c == ',';
}

/* seq-number = nz-number / "*"; IMAP_SEQ_STAR for "*". */
static int seq_number(struct imap_parser *p, uint32_t *n_r)
{
	if (imap_parse_skip(p, '*')) {
		*n_r = IMAP_SEQ_STAR;
		return 1;
	}
	if (!is_digit(imap_parser_peek(p)) || imap_parser_peek(p) == '0')
		return imap_parser_fail(p, "Invalid sequence set");
	return imap_parse_number(p, n_r);
}

int imap_parse_seqset(struct imap_parser *p, struct imap_seqset *set_r)
{
	size_t n = span(p, is_seq_char);
	unsigned count = 1;
	if (n == 0)
		return fail_missing(p, "Invalid sequence set");
	for (size_t i = 0; i < n; i++)
		count += p->buf[p->pos + i] == ',';
	set_r->ranges = imap_parser_alloc(p, count * sizeof(*set_r->ranges));
	set_r->count = count;
	for (unsigned i = 0; i < count; i++) {
		struct imap_seq_range *r = &set_r->ranges[i];
		if (i > 0 && !imap_parse_skip(p, ','))
			return imap_parser_fail(p, "Invalid sequence set");
		if (imap_parse_skip(p, '$')) {
			r->saved = true;
			continue;
		}
		if (seq_number(p, &r->lo) < 0)
			return -1;
		r->hi = r->lo;
		if (imap_parse_skip(p, ':') && seq_number(p, &r->hi) < 0)
			return -1;
	}
	if (is_seq_char(imap_parser_peek(p)))
		return imap_parser_fail(p, "Invalid sequence set");
	return 1;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

unsigned imap_seqset_normalize(struct imap_seq_range *r, unsigned n,
			       uint32_t max)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t lo = r[i].lo == IMAP_SEQ_STAR ? max : r[i].lo;
		uint32_t hi = r[i].hi == IMAP_SEQ_STAR ? max : r[i].hi;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (hi == 0)
			continue;
		r[k].lo = lo == 0 ? 1 : lo;
		r[k].hi = hi;
		r[k].saved = false;
		k++;
	}
	if (k == 0)
		return 0;
	qsort(r, k, sizeof(*r), range_cmp);
	unsigned out = 0;
	for (unsigned i = 1; i < k; i++) {
		if (r[out].hi == UINT32_MAX || r[i].lo <= r[out].hi + 1) {
			if (r[i].hi > r[out].hi)
				r[out].hi = r[i].hi;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
}

bool imap_seqset_contains(const struct imap_seq_range *r, unsigned n,
			  uint32_t v)
{
	unsigned lo = 0, hi = n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (v < r[mid].lo)
			hi = mid;
		else if (v > r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* --- flags --- */

static const struct {
	const char *name;
	unsigned bit;
} system_flags[] = {
	{"ANSWERED", IMAP_FLAG_ANSWERED}, {"FLAGGED", IMAP_FLAG_FLAGGED},
	{"DELETED", IMAP_FLAG_DELETED},   {"SEEN", IMAP_FLAG_SEEN},
	{"DRAFT", IMAP_FLAG_DRAFT},
};

/* One flag into *system_r (a bit) or *kw_r (a keyword). */
static int parse_one_flag(struct imap_parser *p, unsigned *system_r,
			  struct imap_string *kw_r)
{
	struct imap_string a;
	*system_r = 0;
	kw_r->data = NULL;
	if (!imap_parse_skip(p, '\\'))
		return imap_parse_atom(p, kw_r);
	if (!is_atom_char(imap_parser_peek(p)))
		return imap_parser_fail(p, "Invalid flag");
	imap_parse_atom(p, &a);
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]);
	     i++) {
		if (imap_string_eq(&a, system_flags[i].name)) {
			*system_r = system_flags[i].bit;
			return 1;
		}
	}
	if (imap_string_eq(&a, "RECENT"))
		return imap_parser_fail(p, "\\Recent cannot be set");
	return imap_parser_fail(p, "Invalid system flag");
}

struct flag_builder {
	struct imap_flags *flags;
	unsigned cap;
};

static int add_flag(struct imap_parser *p, struct flag_builder *b)
{
	unsigned bit;
	struct imap_string kw;
	if (parse_one_flag(p, &bit, &kw) < 0)
		return -1;
	if (kw.data == NULL) {
		b->flags->system |= bit;
		return 1;
	}
	b->flags->keywords = imap_parser_grow(p, b->flags->keywords,
					      b->flags->n_keywords, &b->cap,
					      sizeof(kw));
	b->flags->keywords[b->flags->n_keywords++] = kw;
	return 1;
}

int imap_parse_flag_list(struct imap_parser *p, struct imap_flags *flags_r)
{
	struct flag_builder b = {flags_r, 0};
	memset(flags_r, 0, sizeof(*flags_r));
	if (imap_parse_list_open(p) < 0)
		return -1;
	if (imap_parser_peek(p) != ')') {
		do {
			if (add_flag(p, &b) < 0)
				return -1;
		} while (imap_parse_skip(p, ' '));
	}
	return imap_parse_list_close(p);
}

int imap_parse_flag_seq(struct imap_parser *p, struct imap_flags *flags_r)
{
	struct flag_builder b = {flags_r, 0};
	memset(flags_r, 0, sizeof(*flags_r));
	do {
		if (add_flag(p, &b) < 0)
			return -1;
	} while (imap_parse_skip(p, ' '));
	return 1;
}

/* --- dates --- */

static bool is_date_char(int c)
{
	return is_word_char(c) && c != '.' && c != '_';
}

int imap_parse_date(struct imap_parser *p, int64_t *t_r)
{
	bool quoted = imap_parse_skip(p, '"');
	size_t n = span(p, is_date_char);
	if (n == 0 && !quoted)
		return fail_missing(p, "Invalid date");
	if (imap_date_parse(p->buf + p->pos, n, t_r) < 0)
		return imap_parser_fail(p, "Invalid date");
	p->pos += n;
	if (quoted && !imap_parse_skip(p, '"'))
		return imap_parser_fail(p, "Invalid date");
	return 1;
}

int imap_parse_date_time(struct imap_parser *p, int64_t *t_r, int *zone_r)
{
	if (!imap_parse_skip(p, '"'))
		return fail_missing(p, "Invalid date-time");
	const char *q = memchr(p->buf + p->pos, '"', p->len - p->pos);
	if (q == NULL || imap_date_time_parse(p->buf + p->pos,
					      (size_t)(q - p->buf) - p->pos,
					      t_r, zone_r) < 0)
		return imap_parser_fail(p, "Invalid date-time");
	p->pos = (size_t)(q - p->buf) + 1;
	return 1;
}

/* --- literals --- */

/* Whether the line ends inside a quoted string. */
static bool ends_quoted(const char *line, size_t len)
{
	bool in = false;
	for (size_t i = 0; i < len; i++) {
		if (in && line[i] == '\\')
			i++;
		else if (line[i] == '"')
			in = !in;
	}
	return in;
}

int imap_parse_literal_end(const char *line, size_t len, uint64_t *n_r,
			   bool *nonsync_r, bool *binary_r)
{
	size_t i = len;
	if (i == 0 || line[i - 1] != '}')
		return 0;
	i--;
	bool nonsync = i > 0 && line[i - 1] == '+';
	i -= nonsync;
	size_t end = i;
	while (i > 0 && is_digit(line[i - 1]))
		i--;
	if (i == end || i == 0 || line[i - 1] != '{' || ends_quoted(line, i))
		return 0;
	uint64_t v = 0;
	for (size_t k = i; k < end; k++) {
		unsigned d = (unsigned)(line[k] - '0');
		if (v > (NUMBER64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*n_r = v;
	*nonsync_r = nonsync;
	*binary_r = i >= 2 && line[i - 2] == '~';
	return 1;
}

int imap_parse_final_literal(struct imap_parser *p, uint64_t *n_r,
			     bool *nonsync_r, bool *binary_r)
{
	*binary_r = imap_parse_skip(p, '~');
	if (!*binary_r && imap_parser_peek(p) != '{')
		return fail_missing(p, "Expected a literal");
	if (literal_head(p, n_r, nonsync_r) < 0)
		return -1;
	if (!imap_parse_at_end(p))
		return imap_parser_fail(p, "Literal must end the line");
	return 1;
}
