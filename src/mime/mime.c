#include "mime/mime.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

/* The fields the tree keeps, by their index in a part. */
enum field_id {
	F_NONE,
	F_CONTENT_TYPE,
	F_CTE,
	F_ID,
	F_DESCRIPTION,
	F_DISPOSITION,
	F_LANGUAGE,
	F_LOCATION,
	F_MD5,
};

static const struct {
	const char *name;
	enum field_id id;
} known_fields[] = {
	{"content-type", F_CONTENT_TYPE},
	{"content-transfer-encoding", F_CTE},
	{"content-id", F_ID},
	{"content-description", F_DESCRIPTION},
	{"content-disposition", F_DISPOSITION},
	{"content-language", F_LANGUAGE},
	{"content-location", F_LOCATION},
	{"content-md5", F_MD5},
};

/* One open part on the parser's stack: the path from the top-level
 * message to the part whose lines are being read. */
struct open_part {
	uint32_t part;
	bool in_header;
	bool closed;		/* multipart: its close delimiter was seen */
	bool capped;		/* multipart: a child was refused (part limit) */
	uint32_t last_child;
	size_t nl_body;		/* LFs before the body */
	/* The header field being read: its id, where its value starts and
	 * where its last line's content ends. */
	enum field_id field;
	size_t fvalue, fend;
	size_t blen;		/* multipart: boundary length, 0 if none */
	char boundary[MIME_BOUNDARY_MAX];
};

struct mime_msg {
	const char *data;
	size_t len;
	struct mime_part *parts;
	uint32_t nparts, cap;
	bool truncated;
};

struct parser {
	struct mime_msg *m;
	const char *d;
	size_t len;
	size_t nl;		/* LFs before the current line */
	struct open_part *stack;
	unsigned depth;		/* entries in use */
	struct str scratch;
};

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool span_is(struct mime_span s, const char *want)
{
	size_t n = strlen(want);
	if (s.p == NULL || s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s.p[i]) != want[i])
			return false;
	return true;
}

bool mime_name_is(struct mime_span name, const char *want)
{
	size_t n = strlen(want);
	if (name.p == NULL || name.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(name.p[i]) != lower(want[i]))
			return false;
	return true;
}

/* ---- lexer ---- */

void mime_lex_init(struct mime_lex *lx, struct mime_span v, bool rfc5322)
{
	lx->p = v.p;
	lx->end = v.p == NULL ? NULL : v.p + v.len;
	lx->rfc5322 = rfc5322;
}

static bool is_special(char c, bool rfc5322)
{
	if (rfc5322)
		return strchr("()<>[]:;@\\,.\"", c) != NULL && c != '\0';
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

/* Skip a comment starting at lx->p ('('); nested comments and quoted
 * pairs count.  Returns the span inside the outer parentheses. */
static struct mime_span skip_comment(struct mime_lex *lx)
{
	const char *start = ++lx->p;
	size_t level = 1;
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\\' && lx->p + 1 < lx->end) {
			lx->p += 2;
			continue;
		}
		lx->p++;
		if (c == '(') {
			level++;
		} else if (c == ')' && --level == 0) {
			return (struct mime_span){start, (size_t)(lx->p - 1 - start)};
		}
	}
	return (struct mime_span){start, (size_t)(lx->p - start)};
}

/* Skip to the closing char (quote or ']'), honouring quoted pairs. */
static void skip_delimited(struct mime_lex *lx, char close)
{
	lx->p++;
	while (lx->p < lx->end) {
		char c = *lx->p++;
		if (c == '\\' && lx->p < lx->end)
			lx->p++;
		else if (c == close)
			return;
	}
}

void mime_lex_next(struct mime_lex *lx, struct mime_tok *t)
{
	memset(t, 0, sizeof(*t));
	while (lx->p != NULL && lx->p < lx->end) {
		char c = *lx->p;
		if (is_wsp(c) || c == '\r' || c == '\n') {
			lx->p++;
			t->space_before = true;
		} else if (c == '(') {
			t->comment = skip_comment(lx);
			t->space_before = true;
		} else {
			break;
		}
	}
	if (lx->p == NULL || lx->p >= lx->end) {
		t->type = MIME_TOK_END;
		return;
	}
	const char *start = lx->p;
	char c = *lx->p;
	if (c == '"' || (c == '[' && lx->rfc5322)) {
		skip_delimited(lx, c == '"' ? '"' : ']');
		t->type = c == '"' ? MIME_TOK_QUOTED : MIME_TOK_LITERAL;
	} else if (is_special(c, lx->rfc5322)) {
		lx->p++;
		t->type = MIME_TOK_SPECIAL;
		t->c = c;
	} else {
		while (lx->p < lx->end && !is_wsp(*lx->p) && *lx->p != '\r' &&
		       *lx->p != '\n' && !is_special(*lx->p, lx->rfc5322))
			lx->p++;
		t->type = MIME_TOK_ATOM;
	}
	t->text = (struct mime_span){start, (size_t)(lx->p - start)};
}

void mime_unquote(struct mime_span q, struct str *out)
{
	const char *p = q.p, *end = q.p + q.len;
	if (p < end && *p == '"')
		p++;
	for (; p < end; p++) {
		if (*p == '\\' && p + 1 < end)
			str_appendc(out, *++p);
		else if (*p == '"')
			break;
		else if (*p != '\r' && *p != '\n')
			str_appendc(out, *p);
	}
}

void mime_unfold(struct mime_span v, struct str *out)
{
	if (v.p == NULL)
		return;
	const char *p = v.p, *end = v.p + v.len;
	while (p < end && (is_wsp(*p) || *p == '\r' || *p == '\n'))
		p++;
	while (end > p && (is_wsp(end[-1]) || end[-1] == '\r' ||
			   end[-1] == '\n'))
		end--;
	for (; p < end; p++) {
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			continue;
		str_appendc(out, *p);
	}
}

struct mime_span mime_first_token(struct mime_span value)
{
	struct mime_lex lx;
	struct mime_tok t;
	mime_lex_init(&lx, value, false);
	mime_lex_next(&lx, &t);
	if (t.type != MIME_TOK_ATOM)
		return (struct mime_span){NULL, 0};
	return t.text;
}

void mime_params_init(struct mime_param_iter *it, struct mime_span value)
{
	struct mime_tok t;
	mime_lex_init(&it->lx, value, false);
	do
		mime_lex_next(&it->lx, &t);
	while (t.type != MIME_TOK_END &&
	       !(t.type == MIME_TOK_SPECIAL && t.c == ';'));
}

/* Skip what is left of a broken parameter, up to and past the next ';'. */
static void params_skip(struct mime_param_iter *it, struct mime_tok *t)
{
	while (t->type != MIME_TOK_END &&
	       !(t->type == MIME_TOK_SPECIAL && t->c == ';'))
		mime_lex_next(&it->lx, t);
}

/* An unquoted value: bytes up to ';', white space or a line end. */
static void param_raw_value(struct mime_param_iter *it, struct str *value_r)
{
	struct mime_lex *lx = &it->lx;
	while (lx->p < lx->end && (is_wsp(*lx->p) || *lx->p == '\r' ||
				   *lx->p == '\n'))
		lx->p++;
	const char *start = lx->p;
	while (lx->p < lx->end && *lx->p != ';' && !is_wsp(*lx->p) &&
	       *lx->p != '\r' && *lx->p != '\n')
		lx->p++;
	str_append(value_r, start, (size_t)(lx->p - start));
}

int mime_params_next(struct mime_param_iter *it, struct str *name_r,
		     struct str *value_r)
{
	struct mime_tok t;
	for (;;) {
		str_clear(name_r);
		str_clear(value_r);
		mime_lex_next(&it->lx, &t);
		if (t.type == MIME_TOK_END)
			return 0;
		if (t.type != MIME_TOK_ATOM) {
			params_skip(it, &t);
			continue;
		}
		str_append(name_r, t.text.p, t.text.len);
		mime_lex_next(&it->lx, &t);
		if (t.type != MIME_TOK_SPECIAL || t.c != '=') {
			params_skip(it, &t);
			continue;
		}
		const char *save = it->lx.p;
		mime_lex_next(&it->lx, &t);
		if (t.type == MIME_TOK_QUOTED) {
			mime_unquote(t.text, value_r);
		} else {
			it->lx.p = save;
			param_raw_value(it, value_r);
			if (value_r->len == 0)
				continue;
		}
		/* Skip trailing comments and junk up to the next ';'. */
		mime_lex_next(&it->lx, &t);
		params_skip(it, &t);
		return 1;
	}
}

/* ---- header iteration ---- */

void mime_hdr_init(struct mime_hdr_iter *it, const char *hdr, size_t len)
{
	it->p = hdr;
	it->end = hdr + len;
	it->blank = (struct mime_span){NULL, 0};
}

/* End of the line starting at p (past its LF, or end). */
static const char *line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	return lf == NULL ? end : lf + 1;
}

/* Length of the content of line [p, e): without its CRLF or LF. */
static const char *content_end(const char *p, const char *e)
{
	if (e > p && e[-1] == '\n') {
		e--;
		if (e > p && e[-1] == '\r')
			e--;
	}
	return e;
}

int mime_hdr_next(struct mime_hdr_iter *it, struct mime_field *f)
{
	if (it->p >= it->end)
		return 0;
	const char *start = it->p;
	const char *e = line_end(start, it->end);
	if (content_end(start, e) == start) {
		it->blank = (struct mime_span){start, (size_t)(e - start)};
		it->p = it->end;
		return 0;
	}
	const char *last = content_end(start, e);
	it->p = e;
	/* Continuation lines; an empty line ends the header instead. */
	while (it->p < it->end && is_wsp(*it->p)) {
		e = line_end(it->p, it->end);
		last = content_end(it->p, e);
		it->p = e;
	}
	const char *colon = memchr(start, ':', (size_t)(last - start));
	f->raw = (struct mime_span){start, (size_t)(it->p - start)};
	if (colon == NULL) {
		f->name = (struct mime_span){start, (size_t)(last - start)};
		f->value = (struct mime_span){last, 0};
		return 1;
	}
	const char *ne = colon;
	while (ne > start && is_wsp(ne[-1]))
		ne--;
	f->name = (struct mime_span){start, (size_t)(ne - start)};
	f->value = (struct mime_span){colon + 1, (size_t)(last - colon - 1)};
	return 1;
}

/* ---- the parser ---- */

static struct mime_span *field_slot(struct mime_part *p, enum field_id id)
{
	switch (id) {
	case F_CONTENT_TYPE: return &p->content_type;
	case F_CTE: return &p->cte_raw;
	case F_ID: return &p->id;
	case F_DESCRIPTION: return &p->description;
	case F_DISPOSITION: return &p->disposition;
	case F_LANGUAGE: return &p->language;
	case F_LOCATION: return &p->location;
	case F_MD5: return &p->md5;
	case F_NONE: break;
	}
	return NULL;
}

static enum field_id field_id(const char *name, size_t len)
{
	struct mime_span s = {name, len};
	if (len < 10 || lower(name[0]) != 'c')
		return F_NONE;
	for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]);
	     i++)
		if (span_is(s, known_fields[i].name))
			return known_fields[i].id;
	return F_NONE;
}

/* A new part at offset hdr, child of the open part on top of the stack
 * (or the top-level message); NULL at the part limit. */
static struct mime_part *new_part(struct parser *ps, size_t hdr)
{
	struct mime_msg *m = ps->m;
	if (m->nparts >= MIME_MAX_PARTS) {
		m->truncated = true;
		return NULL;
	}
	if (m->nparts == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->parts = xreallocarray(m->parts, m->cap, sizeof(*m->parts));
	}
	uint32_t idx = m->nparts++;
	struct mime_part *p = &m->parts[idx];
	memset(p, 0, sizeof(*p));
	p->hdr = p->body = p->end = hdr;
	p->parent = p->child = p->next = MIME_NONE;
	struct open_part *op = &ps->stack[ps->depth];
	memset(op, 0, offsetof(struct open_part, boundary));
	op->part = idx;
	op->in_header = true;
	op->last_child = MIME_NONE;
	if (ps->depth > 0) {
		struct open_part *up = &ps->stack[ps->depth - 1];
		struct mime_part *parent = &m->parts[up->part];
		p->parent = up->part;
		p->depth = (uint16_t)(parent->depth + 1);
		if (up->last_child == MIME_NONE)
			parent->child = idx;
		else
			m->parts[up->last_child].next = idx;
		up->last_child = idx;
		parent->nchildren++;
	}
	ps->depth++;
	return p;
}

/* Finish the header field being read, if any. */
static void end_field(struct parser *ps, struct open_part *op)
{
	if (op->field == F_NONE)
		return;
	struct mime_span *slot = field_slot(&ps->m->parts[op->part], op->field);
	if (slot->p == NULL)
		*slot = (struct mime_span){ps->d + op->fvalue,
					   op->fend - op->fvalue};
	op->field = F_NONE;
}

static enum mime_cte parse_cte(struct mime_span raw)
{
	struct mime_span t = mime_first_token(raw);
	if (t.p == NULL || span_is(t, "7bit"))
		return MIME_CTE_7BIT;
	if (span_is(t, "8bit"))
		return MIME_CTE_8BIT;
	if (span_is(t, "binary"))
		return MIME_CTE_BINARY;
	if (span_is(t, "quoted-printable"))
		return MIME_CTE_QP;
	if (span_is(t, "base64"))
		return MIME_CTE_BASE64;
	return MIME_CTE_OTHER;
}

/* type "/" subtype from a Content-Type value; false if it does not
 * parse. */
static bool parse_type(struct mime_span v, struct mime_span *type,
		       struct mime_span *subtype)
{
	struct mime_lex lx;
	struct mime_tok t;
	mime_lex_init(&lx, v, false);
	mime_lex_next(&lx, &t);
	if (t.type != MIME_TOK_ATOM)
		return false;
	*type = t.text;
	mime_lex_next(&lx, &t);
	if (t.type != MIME_TOK_SPECIAL || t.c != '/')
		return false;
	mime_lex_next(&lx, &t);
	if (t.type != MIME_TOK_ATOM)
		return false;
	*subtype = t.text;
	/* Junk after the subtype is tolerated; parameters start at ';'. */
	return true;
}

/* The boundary parameter into op; false if missing or unusable. */
static bool get_boundary(struct parser *ps, struct open_part *op,
			 struct mime_span ctype)
{
	struct mime_param_iter it;
	struct str name = STR_INIT;
	bool found = false;
	mime_params_init(&it, ctype);
	while (!found && mime_params_next(&it, &name, &ps->scratch) > 0) {
		struct mime_span n = {name.data, name.len};
		if (!span_is(n, "boundary"))
			continue;
		found = true;
		if (ps->scratch.len == 0 || ps->scratch.len > MIME_BOUNDARY_MAX)
			break;
		memcpy(op->boundary, ps->scratch.data, ps->scratch.len);
		op->blen = ps->scratch.len;
	}
	str_free(&name);
	return op->blen > 0;
}

static void set_default_type(struct mime_part *p, bool digest)
{
	p->flags |= MIME_PART_DEFAULT_TYPE;
	p->type = (struct mime_span){digest ? "message" : "text",
				     digest ? 7 : 4};
	p->subtype = (struct mime_span){digest ? "rfc822" : "plain",
					digest ? 6 : 5};
}

static bool parent_is_digest(struct parser *ps, const struct mime_part *p)
{
	return p->parent != MIME_NONE &&
	       (ps->m->parts[p->parent].flags & MIME_PART_DIGEST) != 0;
}

/* Decide the type and kind of the part on top of the stack from its
 * header, now complete. */
static void classify(struct parser *ps)
{
	struct open_part *op = &ps->stack[ps->depth - 1];
	struct mime_part *p = &ps->m->parts[op->part];
	p->cte = (uint8_t)parse_cte(p->cte_raw);
	if (p->content_type.p == NULL) {
		set_default_type(p, parent_is_digest(ps, p));
	} else if (!parse_type(p->content_type, &p->type, &p->subtype)) {
		set_default_type(p, false);
	} else if (span_is(p->type, "multipart") &&
		   !get_boundary(ps, op, p->content_type)) {
		set_default_type(p, false);
	}
	bool deep = p->depth >= MIME_MAX_DEPTH;
	if (span_is(p->type, "multipart")) {
		if (span_is(p->subtype, "digest"))
			p->flags |= MIME_PART_DIGEST;
		if (deep) {
			/* Its boundary must not split what it holds. */
			op->blen = 0;
			p->flags |= MIME_PART_OPAQUE;
			ps->m->truncated = true;
		} else {
			p->kind = MIME_MULTIPART;
		}
	} else if (span_is(p->type, "message") &&
		   (span_is(p->subtype, "rfc822") ||
		    span_is(p->subtype, "global"))) {
		if (p->cte > MIME_CTE_BINARY) {
			p->flags |= MIME_PART_OPAQUE;
		} else if (deep || ps->m->nparts >= MIME_MAX_PARTS) {
			p->flags |= MIME_PART_OPAQUE;
			ps->m->truncated = true;
		} else {
			p->kind = MIME_MESSAGE;
		}
	}
}

/* The header of the top part ends; its body starts at body, with nl LFs
 * before it. */
static void end_header(struct parser *ps, size_t body, size_t nl)
{
	struct open_part *op = &ps->stack[ps->depth - 1];
	end_field(ps, op);
	op->in_header = false;
	op->nl_body = nl;
	struct mime_part *p = &ps->m->parts[op->part];
	p->body = p->end = body;
	classify(ps);
	if (p->kind == MIME_MESSAGE)
		new_part(ps, body);
}

/* Close the top part at end, with nl LFs before end. */
static void close_top(struct parser *ps, size_t end, size_t nl)
{
	struct open_part *op = &ps->stack[ps->depth - 1];
	if (op->in_header) {
		end_header(ps, end, nl);
		/* end_header may have opened the encapsulated message: it is
		 * empty, and closes here too. */
		if (ps->stack[ps->depth - 1].part != op->part) {
			close_top(ps, end, nl);
			op = &ps->stack[ps->depth - 1];
		}
	}
	struct mime_part *p = &ps->m->parts[op->part];
	p->end = end;
	p->lines = end > p->body && nl > op->nl_body ? nl - op->nl_body : 0;
	if (p->kind == MIME_MULTIPART && p->nchildren == 0 && op->capped)
		p->flags |= MIME_PART_OPAQUE;
	ps->depth--;
}

/* Whether the line [ls, le) is a delimiter of the multipart at stack
 * level k: 2 if the boundary is followed by "--", white space or the
 * line end, 1 if it is only a prefix, 0 if not. */
static int delim_match(struct parser *ps, unsigned k, size_t ls, size_t le)
{
	struct open_part *op = &ps->stack[k];
	if (op->blen == 0 || op->closed || op->in_header ||
	    le - ls < op->blen + 2 ||
	    memcmp(ps->d + ls + 2, op->boundary, op->blen) != 0)
		return 0;
	size_t a = ls + 2 + op->blen;
	const char *ce = content_end(ps->d + ls, ps->d + le);
	if (ps->d + a == ce || is_wsp(ps->d[a]) ||
	    (a + 1 < le && ps->d[a] == '-' && ps->d[a + 1] == '-'))
		return 2;
	return 1;
}

/* The stack level of the multipart whose delimiter [ls, le) is, or -1. */
static int find_delim(struct parser *ps, size_t ls, size_t le)
{
	int weak = -1;
	for (unsigned k = ps->depth; k-- > 0;) {
		int r = delim_match(ps, k, ls, le);
		if (r == 2)
			return (int)k;
		if (r == 1 && weak < 0)
			weak = (int)k;
	}
	return weak;
}

/* A delimiter line [ls, le) of the multipart at stack level k. */
static void on_delimiter(struct parser *ps, unsigned k, size_t ls, size_t le)
{
	/* The line end before the delimiter line belongs to it. */
	size_t end = ls, nl = ps->nl;
	if (ls > 0 && ps->d[ls - 1] == '\n') {
		end = ls - 1;
		nl--;
		if (end > 0 && ps->d[end - 1] == '\r')
			end--;
	}
	/* Each part closed here ends at end, but never before its own body
	 * or (still in its header) its start: a delimiter right after a
	 * blank line or right after the delimiter that began the part.  Such
	 * a part starts on this very line (nothing else starts between the
	 * line end and the line), and its parents must then hold it. */
	while (ps->depth > k + 1) {
		struct open_part *op = &ps->stack[ps->depth - 1];
		struct mime_part *p = &ps->m->parts[op->part];
		size_t floor = op->in_header ? p->hdr : p->body;
		if (end < floor) {
			end = floor;
			nl = ps->nl;
		}
		close_top(ps, end, nl);
	}
	struct open_part *mp = &ps->stack[k];
	size_t a = ls + 2 + mp->blen;
	if (a + 1 < le && ps->d[a] == '-' && ps->d[a + 1] == '-') {
		mp->closed = true;
		return;
	}
	if (new_part(ps, le) == NULL)
		mp->capped = true;
}

/* One header line [ls, le) of the top part. */
static void header_line(struct parser *ps, size_t ls, size_t le)
{
	struct open_part *op = &ps->stack[ps->depth - 1];
	const char *ce = content_end(ps->d + ls, ps->d + le);
	if (ce == ps->d + ls) {
		end_header(ps, le, ps->nl + (ps->d[le - 1] == '\n'));
		return;
	}
	if (is_wsp(ps->d[ls]) && op->field != F_NONE) {
		op->fend = (size_t)(ce - ps->d);
		return;
	}
	end_field(ps, op);
	const char *colon = memchr(ps->d + ls, ':', (size_t)(ce - (ps->d + ls)));
	if (colon == NULL || is_wsp(ps->d[ls]))
		return;
	const char *ne = colon;
	while (ne > ps->d + ls && is_wsp(ne[-1]))
		ne--;
	op->field = field_id(ps->d + ls, (size_t)(ne - (ps->d + ls)));
	op->fvalue = (size_t)(colon + 1 - ps->d);
	op->fend = (size_t)(ce - ps->d);
}

static void parse(struct parser *ps)
{
	size_t pos = 0;
	new_part(ps, 0);
	while (pos < ps->len) {
		const char *lf = memchr(ps->d + pos, '\n', ps->len - pos);
		size_t le = lf == NULL ? ps->len : (size_t)(lf - ps->d) + 1;
		int k = -1;
		if (le - pos >= 3 && ps->d[pos] == '-' && ps->d[pos + 1] == '-')
			k = find_delim(ps, pos, le);
		if (k >= 0)
			on_delimiter(ps, (unsigned)k, pos, le);
		else if (ps->stack[ps->depth - 1].in_header)
			header_line(ps, pos, le);
		if (lf != NULL)
			ps->nl++;
		pos = le;
	}
	while (ps->depth > 0)
		close_top(ps, ps->len, ps->nl);
}

struct mime_msg *mime_parse(const char *data, size_t len)
{
	struct mime_msg *m = xcalloc(1, sizeof(*m));
	m->data = data;
	m->len = len;
	struct parser ps = {
		.m = m,
		.d = data,
		.len = len,
		.stack = xmalloc((MIME_MAX_DEPTH + 2) * sizeof(struct open_part)),
		.scratch = STR_INIT,
	};
	parse(&ps);
	free(ps.stack);
	str_free(&ps.scratch);
	return m;
}

void mime_free(struct mime_msg **msg)
{
	if (*msg == NULL)
		return;
	free((*msg)->parts);
	XFREE(*msg);
}

const char *mime_data(const struct mime_msg *msg)
{
	return msg->data;
}

size_t mime_size(const struct mime_msg *msg)
{
	return msg->len;
}

uint32_t mime_part_count(const struct mime_msg *msg)
{
	return msg->nparts;
}

const struct mime_part *mime_part(const struct mime_msg *msg, uint32_t i)
{
	return i < msg->nparts ? &msg->parts[i] : NULL;
}

bool mime_truncated(const struct mime_msg *msg)
{
	return msg->truncated;
}
