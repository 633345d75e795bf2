/* Fuzz THREAD=REFERENCES: imap_thread_fields_parse(), the msg-id scanner
 * and imap_thread_references().
 *
 * The input is a mailbox: messages separated by NUL bytes.  The first
 * byte picks the form of the messages:
 *   even: each message is one byte of sent date, then a raw header
 *         (Message-ID, References, In-Reply-To, Subject);
 *   odd:  each message is compact, to reach dense graphs quickly: a byte
 *         of sent date, a byte of Message-ID (0x01 for none), a byte of
 *         flags (bits 0-1: subject "", "a", "b" or "c"; bit 2: reply;
 *         bit 3: the references are In-Reply-To), then one byte per
 *         reference; each byte is a one-letter id.
 *
 * Invariants: the response data parses by RFC 5256's grammar
 * (thread-list, thread-members, thread-nested, each nesting of two or
 * more lists), names every message exactly once, and does not depend on
 * the order of the array; the scanner keeps at most IMAP_THREAD_MAX_REFS
 * ids, each non-empty, with an "@", without NUL, and its output is no
 * longer than its input. */
#include <stdbool.h>

#include "fuzz.h"

#include "imap/imap_thread.h"
#include "mime/mime_msgid.h"

#define MAX_MSGS 4096

/* ---- the response's grammar ---- */

struct reader {
	const char *p, *end;
	unsigned char *seen;	/* per id, 1..n */
	size_t n, count;
};

static bool list(struct reader *r);

static bool number(struct reader *r)
{
	if (r->p == r->end || *r->p < '1' || *r->p > '9')
		return false;
	size_t v = 0;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
		v = v * 10 + (size_t)(*r->p++ - '0');
		if (v > r->n)
			return false;
	}
	if (v == 0 || r->seen[v])
		return false;
	r->seen[v] = 1;
	r->count++;
	return true;
}

/* thread-nested = 2*thread-list */
static bool nested(struct reader *r)
{
	size_t k = 0;
	while (r->p < r->end && *r->p == '(') {
		if (!list(r))
			return false;
		k++;
	}
	return k >= 2;
}

/* thread-list = "(" (thread-members / thread-nested) ")"
 * thread-members = nz-number *(SP nz-number) [SP thread-nested] */
static bool list(struct reader *r)
{
	if (r->p == r->end || *r->p++ != '(')
		return false;
	if (r->p < r->end && *r->p == '(') {
		if (!nested(r))
			return false;
	} else {
		if (!number(r))
			return false;
		while (r->p < r->end && *r->p == ' ') {
			r->p++;
			if (r->p < r->end && *r->p == '(') {
				if (!nested(r))
					return false;
				break;
			}
			if (!number(r))
				return false;
		}
	}
	return r->p < r->end && *r->p++ == ')';
}

static void check_response(const struct str *out, size_t n)
{
	if (n == 0) {
		CHECK(out->len == 0);
		return;
	}
	struct reader r = {out->data, out->data + out->len,
			   calloc(n + 1, 1), n, 0};
	CHECK(out->len > 1 && out->data[0] == ' ');
	r.p++;
	while (r.p < r.end)
		CHECK(list(&r));
	CHECK(r.count == n);
	free(r.seen);
}

/* ---- the scanner ---- */

static void check_ids(const struct str *ids, size_t n, size_t base,
		      size_t inlen, bool need_at)
{
	CHECK(ids->len - base <= inlen + 1);
	if (ids->data == NULL) {	/* nothing appended to an empty str */
		CHECK(n == 0 && ids->len == 0);
		return;
	}
	const char *p = ids->data + base, *end = ids->data + ids->len;
	for (size_t i = 0; i < n; i++) {
		CHECK(p < end);
		size_t k = strlen(p);
		CHECK(k > 0 && p + k < end);
		CHECK(!need_at || memchr(p, '@', k) != NULL);
		p += k + 1;
	}
	CHECK(p == end);
}

static void check_scanner(const char *v, size_t len)
{
	struct str a = STR_INIT, b = STR_INIT;
	size_t n = mime_msgid_list(v, len, SIZE_MAX, &a);
	check_ids(&a, n, 0, len, true);
	size_t m = mime_msgid_list(v, len, 3, &b);
	CHECK(m == (n < 3 ? n : 3));
	check_ids(&b, m, 0, len, true);
	/* The last three of all of them. */
	if (m > 0)
		CHECK(memcmp(a.data + a.len - b.len, b.data, b.len) == 0);
	str_clear(&b);
	CHECK(mime_msgid_first(v, len, &b) == (n > 0));
	if (n > 0)
		CHECK(b.len == strlen(a.data) + 1 &&
		      memcmp(a.data, b.data, b.len) == 0);
	str_free(&a);
	str_free(&b);
}

/* ---- the mailbox ---- */

struct box {
	struct imap_thread_msg *m;
	struct imap_thread_fields *f;
	struct str *text;	/* compact form: refs */
	size_t n;
};

static char one_letter[256][2];
static const char *const subjects[] = {"", "a", "b", "c"};

static void add_header(struct box *b, const char *p, size_t len)
{
	struct imap_thread_msg *m = &b->m[b->n];
	struct imap_thread_fields *f = &b->f[b->n];
	m->sent = len ? (signed char)p[0] : 0;
	if (len > 0) {
		p++;
		len--;
	}
	imap_thread_fields_parse(p, len, f);
	CHECK(f->nrefs <= IMAP_THREAD_MAX_REFS);
	check_ids(&f->refs, f->nrefs, 0, len, true);
	imap_thread_fields_apply(f, m);
	check_scanner(p, len);
}

static void add_compact(struct box *b, const unsigned char *p, size_t len)
{
	struct imap_thread_msg *m = &b->m[b->n];
	struct str *t = &b->text[b->n];
	unsigned char hdr[3] = {0, 1, 0};
	memcpy(hdr, p, len < 3 ? len : 3);
	m->sent = (signed char)hdr[0];
	m->msgid = hdr[1] == 1 ? NULL : one_letter[hdr[1]];
	m->subject = subjects[hdr[2] & 3];
	m->subject_len = strlen(m->subject);
	m->reply = hdr[2] & 4;
	for (size_t i = 3; i < len; i++)
		str_append(t, one_letter[p[i]], 2);
	str_append(t, "", 0);
	if (hdr[2] & 8) {
		m->in_reply_to = len > 3 ? t->data : NULL;
	} else {
		m->refs = t->data;
		m->nrefs = len > 3 ? len - 3 : 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	for (int i = 1; i < 256; i++)
		one_letter[i][0] = (char)i;
	bool compact = data[0] & 1;
	char *buf = fuzz_copy(data + 1, size - 1);
	size_t len = size - 1;
	size_t cap = 1;
	for (size_t i = 0; i < len && cap < MAX_MSGS; i++)
		cap += buf[i] == '\0';
	struct box box = {calloc(cap, sizeof(*box.m)),
			  calloc(cap, sizeof(*box.f)),
			  calloc(cap, sizeof(*box.text)), 0};
	struct box *b = &box;
	for (size_t at = 0; at <= len && b->n < cap;) {
		const char *nul = memchr(buf + at, '\0', len - at);
		size_t k = nul ? (size_t)(nul - (buf + at)) : len - at;
		b->m[b->n] = (struct imap_thread_msg){0};
		b->m[b->n].id = (uint32_t)b->n + 1;
		b->m[b->n].seq = (uint32_t)b->n + 1;
		if (compact)
			add_compact(b, (const unsigned char *)buf + at, k);
		else
			add_header(b, buf + at, k);
		b->n++;
		at += k + 1;
	}

	struct str out = STR_INIT, again = STR_INIT;
	imap_thread_references(b->m, b->n, &out);
	check_response(&out, b->n);
	/* Processed by seq, whatever the order of the array. */
	for (size_t i = 0; i < b->n / 2; i++) {
		struct imap_thread_msg t = b->m[i];
		b->m[i] = b->m[b->n - 1 - i];
		b->m[b->n - 1 - i] = t;
	}
	imap_thread_references(b->m, b->n, &again);
	CHECK(again.len == out.len &&
	      memcmp(again.data, out.data, out.len) == 0);

	str_free(&out);
	str_free(&again);
	for (size_t i = 0; i < b->n; i++) {
		imap_thread_fields_clear(&b->f[i]);
		str_free(&b->text[i]);
	}
	free(b->m);
	free(b->f);
	free(b->text);
	free(buf);
	return 0;
}
