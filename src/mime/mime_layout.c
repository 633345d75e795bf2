#include "mime/mime_layout.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/xalloc.h"

/* Record: byte kind | cte << 2, then varints: children, bytes of the
 * records below, header offset from its base (the parent's body for a
 * first child, the previous sibling's end otherwise, 0 for the top), body
 * offset from the header, end offset from the body.  Relative offsets keep
 * records small and make every range nest inside its parent's. */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void put_varint(struct str *out, uint64_t v)
{
	while (v >= 0x80) {
		str_appendc(out, (char)(0x80 | (v & 0x7f)));
		v >>= 7;
	}
	str_appendc(out, (char)v);
}

/* Each part's base: where its header offset is counted from. */
static void layout_bases(const struct mime_msg *msg, uint64_t *base)
{
	uint32_t n = mime_part_count(msg);
	base[0] = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct mime_part *p = mime_part(msg, i);
		uint64_t prev = p->body;
		for (uint32_t k = p->child; k != MIME_NONE;
		     k = mime_part(msg, k)->next) {
			base[k] = prev;
			prev = mime_part(msg, k)->end;
		}
	}
}

static size_t record_len(const struct mime_part *p, uint64_t base,
			 uint64_t below)
{
	return 1 + varint_len(p->nchildren) + varint_len(below) +
	       varint_len(p->hdr - base) + varint_len(p->body - p->hdr) +
	       varint_len(p->end - p->body);
}

void mime_layout_encode(const struct mime_msg *msg, struct str *out)
{
	uint32_t n = mime_part_count(msg);
	uint64_t *base = xcalloc(n, sizeof(*base));
	uint64_t *below = xcalloc(n, sizeof(*below));
	layout_bases(msg, base);
	/* Descendants follow their part in pre-order, so going backwards
	 * every part's records below are summed before it is. */
	for (uint32_t i = n; i-- > 1;) {
		const struct mime_part *p = mime_part(msg, i);
		below[p->parent] += record_len(p, base[i], below[i]) + below[i];
	}
	str_appendc(out, MIME_LAYOUT_VERSION);
	for (uint32_t i = 0; i < n; i++) {
		const struct mime_part *p = mime_part(msg, i);
		str_appendc(out, (char)(p->kind | p->cte << 2));
		put_varint(out, p->nchildren);
		put_varint(out, below[i]);
		put_varint(out, p->hdr - base[i]);
		put_varint(out, p->body - p->hdr);
		put_varint(out, p->end - p->body);
	}
	free(base);
	free(below);
}

/* ---- reading ---- */

struct reader {
	const uint8_t *p, *end;
};

struct record {
	uint8_t kind, cte;
	uint64_t nchildren;
	size_t hdr, body, end;
	struct reader below;	/* the records of its descendants */
};

static int get_varint(struct reader *rd, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (rd->p >= rd->end)
			return -1;
		uint8_t b = *rd->p++;
		if (shift == 63 && b > 1)
			return -1;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* a + b, if it is at most limit. */
static int add_within(size_t a, uint64_t b, size_t limit, size_t *r)
{
	if (b > limit || a > limit - b)
		return -1;
	*r = a + (size_t)b;
	return 0;
}

/* The record at rd, whose header counts from base and whose end is at
 * most limit; rd moves past it and its descendants. */
static int read_record(struct reader *rd, size_t base, size_t limit,
		       struct record *x)
{
	uint64_t below, dh, db, de;
	if (rd->p >= rd->end)
		return -1;
	uint8_t kc = *rd->p++;
	x->kind = kc & 3;
	x->cte = kc >> 2;
	if (x->kind > MIME_MESSAGE || x->cte > MIME_CTE_OTHER)
		return -1;
	if (get_varint(rd, &x->nchildren) < 0 || get_varint(rd, &below) < 0 ||
	    get_varint(rd, &dh) < 0 || get_varint(rd, &db) < 0 ||
	    get_varint(rd, &de) < 0)
		return -1;
	if (add_within(base, dh, limit, &x->hdr) < 0 ||
	    add_within(x->hdr, db, limit, &x->body) < 0 ||
	    add_within(x->body, de, limit, &x->end) < 0)
		return -1;
	if (below > (uint64_t)(rd->end - rd->p) || x->nchildren > below ||
	    (x->kind == MIME_LEAF && below != 0) ||
	    (x->kind == MIME_MESSAGE && x->nchildren != 1))
		return -1;
	x->below = (struct reader){rd->p, rd->p + below};
	rd->p += below;
	return 0;
}

/* Child n (from 1) of x into c; 0 if there is none. */
static int read_child(const struct record *x, uint64_t n, struct record *c)
{
	if (n == 0 || n > x->nchildren)
		return 0;
	struct reader rd = x->below;
	size_t base = x->body;
	for (uint64_t i = 1; i <= n; i++) {
		if (read_record(&rd, base, x->end, c) < 0)
			return -1;
		base = c->end;
	}
	return 1;
}

/* The next number of a part path at *s; 0 if not a valid nz-number
 * followed by the end or by '.' and more. */
static int path_number(const char **s, const char *end, uint64_t *n)
{
	const char *p = *s;
	if (p >= end || *p < '1' || *p > '9')
		return 0;
	*n = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		*n = *n * 10 + (uint64_t)(*p - '0');
		if (*n > UINT32_MAX)
			return 0;
	}
	if (p < end && (*p != '.' || p + 1 == end))
		return 0;
	*s = p < end ? p + 1 : p;
	return 1;
}

static int set_range(struct mime_range *r, size_t from, size_t to,
		     enum mime_cte cte)
{
	r->off = from;
	r->len = to - from;
	r->cte = cte;
	return 1;
}

/* HEADER, TEXT and the like of the message in a message/rfc822 part
 * (or of the top-level message, top set). */
static int message_section(const struct record *x, bool top,
			   enum mime_section kind, struct mime_range *r)
{
	struct record m = *x;
	if (!top) {
		if (x->kind != MIME_MESSAGE)
			return 0;
		int rc = read_child(x, 1, &m);
		if (rc <= 0)
			return rc < 0 ? -1 : 0;
	}
	switch (kind) {
	case MIME_SECTION_WHOLE:
		return set_range(r, m.hdr, m.end, MIME_CTE_BINARY);
	case MIME_SECTION_HEADER:
	case MIME_SECTION_HEADER_FIELDS:
	case MIME_SECTION_HEADER_FIELDS_NOT:
		return set_range(r, m.hdr, m.body, MIME_CTE_BINARY);
	case MIME_SECTION_TEXT:
		return set_range(r, m.body, m.end, MIME_CTE_BINARY);
	case MIME_SECTION_MIME:
		break;
	}
	return 0;
}

/* The section of part x (reached by a part number). */
static int part_section(const struct record *x, enum mime_section kind,
			struct mime_range *r)
{
	switch (kind) {
	case MIME_SECTION_WHOLE:
		return set_range(r, x->body, x->end, (enum mime_cte)x->cte);
	case MIME_SECTION_MIME:
		return set_range(r, x->hdr, x->body, MIME_CTE_BINARY);
	default:
		return message_section(x, false, kind, r);
	}
}

/* Follow the part path from the top-level record x.  Returns 1 with x the
 * part reached (*empty set for the empty part of a multipart without
 * parts), 0 if there is no such part, -1 if the layout is corrupt. */
static int walk(struct record *x, const char *s, const char *end,
		bool *empty)
{
	bool in_message = true;	/* x is a message: it has a part 1 */
	while (s < end) {
		uint64_t n;
		if (*empty || path_number(&s, end, &n) == 0)
			return 0;
		if (x->kind == MIME_MULTIPART && x->nchildren == 0) {
			if (n != 1)
				return 0;
			*empty = true;
		} else if (x->kind == MIME_MULTIPART) {
			struct record c;
			int rc = read_child(x, n, &c);
			if (rc <= 0)
				return rc;
			*x = c;
		} else if (!in_message || n != 1) {
			return 0;
		}
		in_message = false;
		if (s < end && !*empty && x->kind == MIME_MESSAGE) {
			struct record c;
			if (read_child(x, 1, &c) <= 0)
				return -1;
			*x = c;
			in_message = true;
		}
	}
	return 1;
}

int mime_layout_section(const void *layout, size_t len, const char *path,
			size_t path_len, enum mime_section kind,
			struct mime_range *r)
{
	struct reader rd = {layout, (const uint8_t *)layout + len};
	struct record x;
	if (len == 0 || *rd.p++ != MIME_LAYOUT_VERSION ||
	    read_record(&rd, 0, SIZE_MAX, &x) < 0 || rd.p != rd.end)
		return -1;
	if (path_len == 0)
		return message_section(&x, true, kind, r);
	bool empty = false;
	int rc = walk(&x, path, path + path_len, &empty);
	if (rc <= 0)
		return rc;
	if (empty) {
		if (kind != MIME_SECTION_WHOLE && kind != MIME_SECTION_MIME)
			return 0;
		return set_range(r, x.end, x.end,
				 kind == MIME_SECTION_WHOLE ? MIME_CTE_7BIT
							    : MIME_CTE_BINARY);
	}
	return part_section(&x, kind, r);
}
