#include "imapresp.h"

#include <string.h>

/* ---- framing ------------------------------------------------------------ */

/* 1 if the line (without CRLF) ends in a literal announcement "{n}" (or
 * "~{n}" for BINARY), with its size in *n_r; 0 if not; -1 if the size is
 * over the limit. */
static int literal_at_end(const char *line, size_t n, uint64_t *n_r)
{
	if (n < 3 || line[n - 1] != '}')
		return 0;
	size_t j = n - 2;
	while (j > 0 && line[j] >= '0' && line[j] <= '9')
		j--;
	if (line[j] != '{' || j == n - 2)
		return 0;
	uint64_t v = 0;
	for (size_t k = j + 1; k < n - 1; k++) {
		v = v * 10 + (uint64_t)(line[k] - '0');
		if (v > IMAPRESP_MAX_LITERAL)
			return -1;
	}
	*n_r = v;
	return 1;
}

long imapresp_frame(struct imapresp_frame *f, const char *buf, size_t len)
{
	for (;;) {
		if (f->pos > len)
			return -2; /* still inside a literal */
		const char *lf = memchr(buf + f->pos, '\n', len - f->pos);
		if (lf == NULL) {
			if (len - f->line_start > IMAPRESP_MAX_LINE)
				return -1;
			f->pos = len;
			return -2;
		}
		size_t i = (size_t)(lf - buf);
		if (i == f->line_start || buf[i - 1] != '\r' ||
		    i - f->line_start > IMAPRESP_MAX_LINE)
			return -1;
		uint64_t n = 0;
		int lit = literal_at_end(buf + f->line_start,
					 i - 1 - f->line_start, &n);
		if (lit < 0)
			return -1;
		if (lit == 0) {
			f->pos = f->line_start = 0;
			return (long)(i + 1);
		}
		f->pos = f->line_start = i + 1 + (size_t)n;
	}
}

/* ---- parsing ------------------------------------------------------------- */

struct pctx {
	const char *b;
	size_t end; /* offset of the final CRLF */
	size_t i;
	struct imapresp *r;
	const char *err;
	size_t at;
};

enum vtype { V_ATOM, V_STRING, V_LITERAL, V_LIST };

struct val {
	enum vtype type;
	const char *p; /* atoms: the atom */
	size_t n;
};

static int fail(struct pctx *p, const char *why)
{
	if (p->err == NULL) {
		p->err = why;
		p->at = p->i;
	}
	return -1;
}

static bool at_end(const struct pctx *p)
{
	return p->i == p->end;
}

static int expect(struct pctx *p, char c, const char *why)
{
	if (p->i >= p->end || p->b[p->i] != c)
		return fail(p, why);
	p->i++;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Characters that end an atom in a server response: SP, controls, the
 * list and string delimiters.  ']' and '\' are allowed (resp-specials,
 * flags); bytes over 127 too, as some servers send UTF-8 atoms. */
static bool atom_char(unsigned char c)
{
	return c > ' ' && c != 0x7f && c != '(' && c != ')' && c != '{' &&
	       c != '"';
}

static int parse_u32(const char *s, size_t n, uint32_t *v_r)
{
	uint64_t v = 0;
	if (n == 0 || n > 10)
		return -1;
	for (size_t k = 0; k < n; k++) {
		if (!is_digit(s[k]))
			return -1;
		v = v * 10 + (uint64_t)(s[k] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

/* A "[...]" inside an atom or a resp-text-code: up to the matching ']',
 * with quoted strings skipped whole; no CR or LF inside. */
static int skip_brackets(struct pctx *p)
{
	p->i++; /* '[' */
	bool quoted = false;
	for (; p->i < p->end; p->i++) {
		char c = p->b[p->i];
		if (c == '\r' || c == '\n')
			return fail(p, "CR or LF inside [...]");
		if (quoted && c == '\\') {
			p->i++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (c == ']' && !quoted) {
			p->i++;
			return 0;
		}
	}
	return fail(p, "unterminated [");
}

/* An atom, which may carry sections: BODY[HEADER.FIELDS (FROM TO)]<0>. */
static int parse_atom(struct pctx *p, struct val *v)
{
	size_t start = p->i;
	while (p->i < p->end) {
		char c = p->b[p->i];
		if (c == '[') {
			if (skip_brackets(p) < 0)
				return -1;
		} else if (atom_char((unsigned char)c)) {
			p->i++;
		} else {
			break;
		}
	}
	if (p->i == start)
		return fail(p, "expected a value");
	v->type = V_ATOM;
	v->p = p->b + start;
	v->n = p->i - start;
	return 0;
}

static int parse_quoted(struct pctx *p, struct val *v)
{
	p->i++; /* '"' */
	for (; p->i < p->end; p->i++) {
		char c = p->b[p->i];
		if (c == '"') {
			p->i++;
			v->type = V_STRING;
			return 0;
		}
		if (c == '\r' || c == '\n' || c == '\0')
			return fail(p, "CR, LF or NUL in a quoted string");
		if (c == '\\') {
			p->i++;
			if (p->i >= p->end ||
			    (p->b[p->i] != '"' && p->b[p->i] != '\\'))
				return fail(p, "bad escape in a quoted string");
		}
	}
	return fail(p, "unterminated quoted string");
}

static int parse_literal(struct pctx *p, struct val *v)
{
	if (p->b[p->i] == '~')
		p->i++;
	if (expect(p, '{', "expected {") < 0)
		return -1;
	uint64_t n = 0;
	size_t digits = 0;
	while (p->i < p->end && is_digit(p->b[p->i])) {
		n = n * 10 + (uint64_t)(p->b[p->i] - '0');
		if (n > IMAPRESP_MAX_LITERAL)
			return fail(p, "literal too large");
		p->i++;
		digits++;
	}
	if (digits == 0 || expect(p, '}', "bad literal size") < 0 ||
	    expect(p, '\r', "no CRLF after a literal size") < 0 ||
	    expect(p, '\n', "no CRLF after a literal size") < 0)
		return -1;
	if (n > p->end - p->i)
		return fail(p, "literal runs past the response");
	p->i += (size_t)n;
	p->r->literal_bytes += n;
	v->type = V_LITERAL;
	return 0;
}

static int parse_value(struct pctx *p, unsigned depth, struct val *v);

/* '(' [value *(SP value)] ')' */
static int parse_list(struct pctx *p, unsigned depth, struct val *v)
{
	if (depth >= IMAPRESP_MAX_DEPTH)
		return fail(p, "lists nested too deeply");
	p->i++; /* '(' */
	v->type = V_LIST;
	if (p->i < p->end && p->b[p->i] == ')') {
		p->i++;
		return 0;
	}
	for (;;) {
		struct val item;
		if (parse_value(p, depth + 1, &item) < 0)
			return -1;
		if (p->i < p->end && p->b[p->i] == ')') {
			p->i++;
			return 0;
		}
		/* The parts of a multipart BODYSTRUCTURE follow each other
		 * with no SP between them: "((...)(...) "MIXED")". */
		if (item.type == V_LIST && p->i < p->end && p->b[p->i] == '(')
			continue;
		if (expect(p, ' ', "expected SP or ) in a list") < 0)
			return -1;
	}
}

static int parse_value(struct pctx *p, unsigned depth, struct val *v)
{
	if (p->i >= p->end)
		return fail(p, "expected a value");
	switch (p->b[p->i]) {
	case '(':
		return parse_list(p, depth, v);
	case '"':
		return parse_quoted(p, v);
	case '{':
	case '~':
		return parse_literal(p, v);
	default:
		return parse_atom(p, v);
	}
}

static bool word_is(const char *s, size_t n, const char *w)
{
	size_t k = 0;
	for (; k < n && w[k] != '\0'; k++) {
		char c = s[k];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != w[k])
			return false;
	}
	return k == n && w[k] == '\0';
}

static unsigned flag_bit(const char *s, size_t n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
		{"\\SEEN", IMAPRESP_F_SEEN},	   {"\\DELETED", IMAPRESP_F_DELETED},
		{"\\ANSWERED", IMAPRESP_F_ANSWERED}, {"\\FLAGGED", IMAPRESP_F_FLAGGED},
		{"\\DRAFT", IMAPRESP_F_DRAFT},
	};
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (word_is(s, n, known[k].name))
			return known[k].bit;
	return 0;
}

/* '(' [flag *(SP flag)] ')' */
static int parse_flags(struct pctx *p)
{
	if (expect(p, '(', "FLAGS is not a list") < 0)
		return -1;
	p->r->has_flags = true;
	if (p->i < p->end && p->b[p->i] == ')') {
		p->i++;
		return 0;
	}
	for (;;) {
		struct val f;
		if (p->i < p->end && p->b[p->i] == '(')
			return fail(p, "a list inside FLAGS");
		if (parse_atom(p, &f) < 0)
			return -1;
		p->r->flags |= flag_bit(f.p, f.n);
		if (p->i < p->end && p->b[p->i] == ')') {
			p->i++;
			return 0;
		}
		if (expect(p, ' ', "expected SP or ) in FLAGS") < 0)
			return -1;
	}
}

/* msg-att: '(' name SP value *(SP name SP value) ')' */
static int parse_fetch(struct pctx *p)
{
	if (expect(p, '(', "FETCH data is not a list") < 0)
		return -1;
	for (;;) {
		struct val name, v;
		if (p->i < p->end && p->b[p->i] == '(')
			return fail(p, "FETCH item name expected");
		if (parse_atom(p, &name) < 0 ||
		    expect(p, ' ', "no value after a FETCH item") < 0)
			return -1;
		if (word_is(name.p, name.n, "FLAGS")) {
			if (parse_flags(p) < 0)
				return -1;
		} else {
			if (parse_value(p, 1, &v) < 0)
				return -1;
			if (word_is(name.p, name.n, "UID")) {
				if (v.type != V_ATOM ||
				    parse_u32(v.p, v.n, &p->r->uid) < 0)
					return fail(p, "UID is not a number");
				p->r->has_uid = true;
			}
		}
		p->r->fetch_items++;
		if (p->i < p->end && p->b[p->i] == ')') {
			p->i++;
			return 0;
		}
		if (expect(p, ' ', "expected SP or ) in FETCH data") < 0)
			return -1;
	}
}

/* The values after an untagged keyword, to the end of the response.
 * Numbers at the top level are counted (SEARCH, SORT). */
static int parse_tail_values(struct pctx *p, bool trailing_sp_ok)
{
	while (!at_end(p)) {
		if (expect(p, ' ', "expected SP between values") < 0)
			return -1;
		if (at_end(p) && trailing_sp_ok)
			return 0;
		struct val v;
		uint32_t num;
		if (parse_value(p, 0, &v) < 0)
			return -1;
		if (v.type == V_ATOM && parse_u32(v.p, v.n, &num) == 0)
			p->r->numbers++;
	}
	return 0;
}

/* resp-text = ["[" resp-text-code "]" SP] text, text running to the end
 * (RFC 9051 allows it empty). */
static int parse_resp_text(struct pctx *p)
{
	if (at_end(p))
		return 0;
	if (expect(p, ' ', "expected SP before the response text") < 0)
		return -1;
	if (p->i < p->end && p->b[p->i] == '[') {
		size_t start = p->i + 1;
		if (skip_brackets(p) < 0)
			return -1;
		p->r->code = p->b + start;
		p->r->code_len = p->i - 1 - start;
		if (at_end(p))
			return 0;
		if (expect(p, ' ', "expected SP after the response code") < 0)
			return -1;
	}
	p->r->text = p->b + p->i;
	for (; p->i < p->end; p->i++)
		if (p->b[p->i] == '\r' || p->b[p->i] == '\n')
			return fail(p, "CR or LF inside the response text");
	p->r->text_len = (size_t)(p->b + p->i - p->r->text);
	return 0;
}

static enum imapresp_status status_of(const char *s, size_t n)
{
	if (word_is(s, n, "OK"))
		return IMAPRESP_OK;
	if (word_is(s, n, "NO"))
		return IMAPRESP_NO;
	if (word_is(s, n, "BAD"))
		return IMAPRESP_BAD;
	if (word_is(s, n, "BYE"))
		return IMAPRESP_BYE;
	if (word_is(s, n, "PREAUTH"))
		return IMAPRESP_PREAUTH;
	return IMAPRESP_NONE;
}

/* A keyword: letters, digits, '.', '-', '=' (CAPABILITY-like names). */
static int parse_keyword(struct pctx *p, const char **s_r, size_t *n_r)
{
	size_t start = p->i;
	while (p->i < p->end) {
		char c = p->b[p->i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      is_digit(c) || c == '.' || c == '-' || c == '='))
			break;
		p->i++;
	}
	if (p->i == start)
		return fail(p, "expected a response keyword");
	*s_r = p->b + start;
	*n_r = p->i - start;
	size_t k = 0;
	for (; k < *n_r && k < IMAPRESP_KEYWORD_MAX; k++) {
		char c = (*s_r)[k];
		p->r->keyword[k] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
	}
	p->r->keyword[k] = '\0';
	return 0;
}

/* "* " number SP keyword [SP data] */
static int parse_numbered(struct pctx *p)
{
	size_t start = p->i;
	while (p->i < p->end && is_digit(p->b[p->i]))
		p->i++;
	if (parse_u32(p->b + start, p->i - start, &p->r->number) < 0)
		return fail(p, "bad message number");
	p->r->has_number = true;
	const char *kw;
	size_t kn;
	if (expect(p, ' ', "expected SP after a number") < 0 ||
	    parse_keyword(p, &kw, &kn) < 0)
		return -1;
	if (word_is(kw, kn, "FETCH")) {
		if (expect(p, ' ', "expected SP after FETCH") < 0 ||
		    parse_fetch(p) < 0)
			return -1;
		return 0;
	}
	if (word_is(kw, kn, "EXISTS") || word_is(kw, kn, "RECENT") ||
	    word_is(kw, kn, "EXPUNGE"))
		return 0;
	return parse_tail_values(p, false);
}

static int parse_untagged(struct pctx *p)
{
	p->r->kind = IMAPRESP_UNTAGGED;
	if (expect(p, ' ', "expected SP after *") < 0)
		return -1;
	if (p->i < p->end && is_digit(p->b[p->i]))
		return parse_numbered(p);
	const char *kw;
	size_t kn;
	if (parse_keyword(p, &kw, &kn) < 0)
		return -1;
	p->r->status = status_of(kw, kn);
	if (p->r->status != IMAPRESP_NONE)
		return parse_resp_text(p);
	bool numbers = word_is(kw, kn, "SEARCH") || word_is(kw, kn, "SORT");
	return parse_tail_values(p, numbers);
}

static int parse_tagged(struct pctx *p)
{
	p->r->kind = IMAPRESP_TAGGED;
	size_t start = p->i;
	while (p->i < p->end && atom_char((unsigned char)p->b[p->i]) &&
	       p->b[p->i] != '+')
		p->i++;
	if (p->i == start)
		return fail(p, "expected a tag, * or +");
	p->r->tag = p->b + start;
	p->r->tag_len = p->i - start;
	const char *kw;
	size_t kn;
	if (expect(p, ' ', "expected SP after the tag") < 0 ||
	    parse_keyword(p, &kw, &kn) < 0)
		return -1;
	p->r->status = status_of(kw, kn);
	if (p->r->status != IMAPRESP_OK && p->r->status != IMAPRESP_NO &&
	    p->r->status != IMAPRESP_BAD)
		return fail(p, "a tagged response is not OK, NO or BAD");
	return parse_resp_text(p);
}

int imapresp_parse(const char *buf, size_t len, struct imapresp *r,
		   const char **err_r, size_t *at_r)
{
	memset(r, 0, sizeof(*r));
	struct pctx p = {buf, 0, 0, r, NULL, 0};
	int ret;
	if (len < 3 || buf[len - 2] != '\r' || buf[len - 1] != '\n') {
		ret = fail(&p, "not a CRLF-terminated response");
	} else {
		p.end = len - 2;
		if (buf[0] == '+') {
			r->kind = IMAPRESP_CONTINUE;
			p.i = 1;
			ret = parse_resp_text(&p);
		} else if (buf[0] == '*') {
			p.i = 1;
			ret = parse_untagged(&p);
		} else {
			ret = parse_tagged(&p);
		}
		if (ret == 0 && !at_end(&p))
			ret = fail(&p, "unexpected data at the end");
	}
	if (ret < 0) {
		*err_r = p.err;
		*at_r = p.at;
		return -1;
	}
	return 1;
}
