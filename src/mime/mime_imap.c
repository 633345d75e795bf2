#include "mime/mime_imap.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define EMPTY_BODY                                                          \
	"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0"

/* ---- strings ---- */

void mime_imap_string(struct str *out, const char *s, size_t n)
{
	size_t nul = 0;
	bool literal = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0')
			nul++;
		else if (c == '\r' || c == '\n' || c >= 0x80)
			literal = true;
	}
	if (literal) {
		str_printf(out, "{%zu}\r\n", n - nul);
		for (size_t i = 0; i < n; i++)
			if (s[i] != '\0')
				str_appendc(out, s[i]);
		return;
	}
	str_appendc(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\0')
			continue;
		if (s[i] == '"' || s[i] == '\\')
			str_appendc(out, '\\');
		str_appendc(out, s[i]);
	}
	str_appendc(out, '"');
}

static void imap_str(struct str *out, const struct str *s)
{
	mime_imap_string(out, s->data == NULL ? "" : s->data, s->len);
}

/* An upper-cased copy of s as an IMAP string. */
static void imap_upper(struct str *out, const char *s, size_t n,
		       struct str *tmp)
{
	str_clear(tmp);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		str_appendc(tmp, c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c);
	}
	imap_str(out, tmp);
}

/* A header value unfolded and trimmed, or NIL when absent. */
static void imap_nvalue(struct str *out, struct mime_span v, struct str *tmp)
{
	if (v.p == NULL) {
		str_appends(out, "NIL");
		return;
	}
	str_clear(tmp);
	mime_unfold(v, tmp);
	imap_str(out, tmp);
}

/* ---- addresses (RFC 5322 3.4, with the obsolete forms of 4.4) ---- */

struct addr_parser {
	struct mime_lex lx;
	struct mime_tok t;
	struct mime_span comment;	/* last comment in this address */
	struct str name, adl, mbox, host;
	bool has_name;
	struct str *out;
	size_t count;			/* address structures written */
	bool plain;			/* mime_imap_addresses: text */
};

static void ap_next(struct addr_parser *a)
{
	mime_lex_next(&a->lx, &a->t);
	if (a->t.comment.p != NULL)
		a->comment = a->t.comment;
}

static bool ap_special(const struct addr_parser *a, char c)
{
	return a->t.type == MIME_TOK_SPECIAL && a->t.c == c;
}

/* "mailbox@host" for mime_imap_addresses(). */
static void ap_emit_plain(struct addr_parser *a)
{
	if (a->mbox.len == 0)
		return;
	if (a->count++ > 0)
		str_appends(a->out, ", ");
	str_append(a->out, a->mbox.data, a->mbox.len);
	if (a->host.len > 0) {
		str_appendc(a->out, '@');
		str_append(a->out, a->host.data, a->host.len);
	}
}

static void ap_emit(struct addr_parser *a)
{
	struct str *o = a->out;
	if (a->plain) {
		ap_emit_plain(a);
		return;
	}
	str_appendc(o, '(');
	if (a->has_name)
		imap_str(o, &a->name);
	else
		str_appends(o, "NIL");
	str_appendc(o, ' ');
	if (a->adl.len > 0)
		imap_str(o, &a->adl);
	else
		str_appends(o, "NIL");
	str_appendc(o, ' ');
	imap_str(o, &a->mbox);
	str_appendc(o, ' ');
	imap_str(o, &a->host);
	str_appendc(o, ')');
	a->count++;
}

static void ap_group_start(struct addr_parser *a)
{
	if (a->plain)
		return;
	str_appends(a->out, "(NIL NIL ");
	imap_str(a->out, &a->name);
	str_appends(a->out, " NIL)");
	a->count++;
}

static void ap_group_end(struct addr_parser *a)
{
	if (a->plain)
		return;
	str_appends(a->out, "(NIL NIL NIL NIL)");
	a->count++;
}

/* Append the current token's text as written (a local part or domain
 * is kept raw: atoms, quoted strings, dots and literals, no CFWS). */
static void ap_raw(struct addr_parser *a, struct str *s)
{
	if (a->t.type == MIME_TOK_SPECIAL)
		str_appendc(s, a->t.c);
	else
		str_append(s, a->t.text.p, a->t.text.len);
}

/* A domain: atoms, dots and literals, up to anything else. */
static void ap_domain(struct addr_parser *a, struct str *s)
{
	while (a->t.type == MIME_TOK_ATOM || a->t.type == MIME_TOK_LITERAL ||
	       ap_special(a, '.')) {
		ap_raw(a, s);
		ap_next(a);
	}
}

/* A local part: atoms, quoted strings and dots. */
static void ap_local(struct addr_parser *a)
{
	while (a->t.type == MIME_TOK_ATOM || a->t.type == MIME_TOK_QUOTED ||
	       ap_special(a, '.')) {
		ap_raw(a, &a->mbox);
		ap_next(a);
	}
}

/* "<" [route ":"] local "@" domain ">", the current token being '<'. */
static void ap_angle(struct addr_parser *a)
{
	ap_next(a);
	if (ap_special(a, '@')) {
		/* obs-route: "@" domain *("," ["@" domain]) ":" */
		while (ap_special(a, '@') || ap_special(a, ',')) {
			if (ap_special(a, '@')) {
				if (a->adl.len > 0)
					str_appendc(&a->adl, ',');
				str_appendc(&a->adl, '@');
			}
			ap_next(a);
			ap_domain(a, &a->adl);
		}
		if (ap_special(a, ':'))
			ap_next(a);
	}
	ap_local(a);
	if (ap_special(a, '@')) {
		ap_next(a);
		ap_domain(a, &a->host);
	}
	if (ap_special(a, '>'))
		ap_next(a);
}

/* Skip to the end of this address: ',' (or ';' in a group) or the end. */
static void ap_skip(struct addr_parser *a, bool group)
{
	while (a->t.type != MIME_TOK_END && !ap_special(a, ',') &&
	       !(group && ap_special(a, ';')))
		ap_next(a);
}

/* A phrase into a->name; returns its number of words. */
static size_t ap_phrase(struct addr_parser *a)
{
	size_t words = 0;
	while (a->t.type == MIME_TOK_ATOM || a->t.type == MIME_TOK_QUOTED ||
	       ap_special(a, '.')) {
		if (words > 0 && a->t.space_before)
			str_appendc(&a->name, ' ');
		if (a->t.type == MIME_TOK_QUOTED)
			mime_unquote(a->t.text, &a->name);
		else
			ap_raw(a, &a->name);
		words++;
		ap_next(a);
	}
	return words;
}

static void ap_reset(struct addr_parser *a)
{
	str_clear(&a->name);
	str_clear(&a->adl);
	str_clear(&a->mbox);
	str_clear(&a->host);
	a->has_name = false;
	a->comment = (struct mime_span){NULL, 0};
}

/* An addr-spec that began at the saved lexer state: the phrase read so
 * far was its local part. */
static void ap_addr_spec(struct addr_parser *a, struct mime_lex start,
			 bool group)
{
	str_clear(&a->name);
	a->lx = start;
	ap_next(a);
	ap_local(a);
	if (ap_special(a, '@')) {
		ap_next(a);
		ap_domain(a, &a->host);
	}
	ap_skip(a, group);
	if (a->comment.p != NULL) {
		/* The comment's text, quoted pairs undone, unfolded. */
		const char *c = a->comment.p, *end = c + a->comment.len;
		for (; c < end; c++) {
			if (*c == '\\' && c + 1 < end)
				str_appendc(&a->name, *++c);
			else if (*c != '\r' && *c != '\n')
				str_appendc(&a->name, *c);
		}
		a->has_name = a->name.len > 0;
	}
}

/* One address, group start or group end; the current token is its first. */
static void ap_address(struct addr_parser *a, bool *group)
{
	struct mime_lex start = a->lx;
	struct mime_tok first = a->t;
	ap_reset(a);
	size_t words = ap_phrase(a);
	if (ap_special(a, ':') && !*group) {
		ap_group_start(a);
		*group = true;
		ap_next(a);
		return;
	}
	if (ap_special(a, '<')) {
		a->has_name = words > 0 && a->name.len > 0;
		ap_angle(a);
		ap_skip(a, *group);
		ap_emit(a);
	} else if (ap_special(a, '@')) {
		/* Rewind to the token the phrase began with. */
		start.p = first.text.p;
		ap_addr_spec(a, start, *group);
		ap_emit(a);
	} else if (words == 1) {
		/* A bare word: a local part without a domain. */
		str_append(&a->mbox, first.text.p, first.text.len);
		ap_skip(a, *group);
		ap_emit(a);
	} else if (words > 1) {
		/* Words without an address: only a name. */
		a->has_name = true;
		ap_skip(a, *group);
		ap_emit(a);
	} else if (!ap_special(a, ',') && !ap_special(a, ';')) {
		ap_next(a);	/* a stray special */
		ap_skip(a, *group);
	}
	if (*group && ap_special(a, ';')) {
		ap_group_end(a);
		*group = false;
	}
	if (ap_special(a, ',') || ap_special(a, ';'))
		ap_next(a);
}

/* Append the address list of v to a->out; a->count says how many
 * structures were written. */
static void ap_list(struct addr_parser *a, struct mime_span v)
{
	bool group = false;
	a->count = 0;
	mime_lex_init(&a->lx, v, true);
	ap_next(a);
	while (a->t.type != MIME_TOK_END)
		ap_address(a, &group);
	if (group)
		ap_group_end(a);
}

void mime_imap_addresses(const char *value, size_t len, struct str *out)
{
	struct addr_parser a = {.out = out, .plain = true};
	ap_list(&a, (struct mime_span){value, len});
	str_free(&a.name);
	str_free(&a.adl);
	str_free(&a.mbox);
	str_free(&a.host);
}

/* ---- ENVELOPE ---- */

enum env_field {
	E_DATE,
	E_SUBJECT,
	E_FROM,
	E_SENDER,
	E_REPLY_TO,
	E_TO,
	E_CC,
	E_BCC,
	E_IN_REPLY_TO,
	E_MESSAGE_ID,
	E_COUNT
};

static const char *const env_names[E_COUNT] = {
	"date", "subject", "from", "sender", "reply-to",
	"to", "cc", "bcc", "in-reply-to", "message-id",
};

static bool env_is_address(enum env_field f)
{
	return f >= E_FROM && f <= E_BCC;
}

/* The address list of v, or NIL when it has no address. */
static void env_addresses(struct addr_parser *a, struct mime_span v,
			  struct str *list)
{
	str_clear(list);
	if (v.p != NULL) {
		a->out = list;
		str_appendc(list, '(');
		ap_list(a, v);
		str_appendc(list, ')');
		if (a->count > 0)
			return;
		str_clear(list);
	}
	str_appends(list, "NIL");
}

static void write_envelope(const char *hdr, size_t len, struct str *out)
{
	struct mime_span v[E_COUNT] = {{NULL, 0}};
	struct mime_hdr_iter it;
	struct mime_field f;
	mime_hdr_init(&it, hdr, len);
	while (mime_hdr_next(&it, &f) > 0)
		for (int i = 0; i < E_COUNT; i++)
			if (v[i].p == NULL && mime_name_is(f.name, env_names[i]))
				v[i] = f.value;

	struct addr_parser a = {0};
	struct str tmp = STR_INIT, from = STR_INIT, list = STR_INIT;
	env_addresses(&a, v[E_FROM], &from);
	str_appendc(out, '(');
	for (int i = 0; i < E_COUNT; i++) {
		if (i > 0)
			str_appendc(out, ' ');
		if (!env_is_address((enum env_field)i)) {
			imap_nvalue(out, v[i], &tmp);
			continue;
		}
		env_addresses(&a, v[i], &list);
		if ((i == E_SENDER || i == E_REPLY_TO) &&
		    strcmp(list.data, "NIL") == 0)
			str_append(out, from.data, from.len);
		else
			str_append(out, list.data, list.len);
	}
	str_appendc(out, ')');
	str_free(&tmp);
	str_free(&from);
	str_free(&list);
	str_free(&a.name);
	str_free(&a.adl);
	str_free(&a.mbox);
	str_free(&a.host);
}

void mime_imap_envelope(const struct mime_msg *msg, struct str *out)
{
	const struct mime_part *p = mime_part(msg, 0);
	write_envelope(mime_data(msg) + p->hdr, p->body - p->hdr, out);
}

/* ---- BODY and BODYSTRUCTURE ---- */

struct bs_ctx {
	const struct mime_msg *msg;
	bool ext;
	struct str *out;
	struct str name, value, tmp;
};

static bool span_eq(struct mime_span s, const char *want)
{
	return mime_name_is(s, want);
}

/* A parameter list of a Content-Type or Content-Disposition value, or
 * NIL; charset adds CHARSET "US-ASCII" when there is no charset. */
static void bs_params(struct bs_ctx *c, struct mime_span v, bool charset)
{
	struct mime_param_iter it;
	size_t n = 0;
	if (v.p != NULL) {
		mime_params_init(&it, v);
		while (mime_params_next(&it, &c->name, &c->value) > 0) {
			struct mime_span nm = {c->name.data, c->name.len};
			if (span_eq(nm, "charset"))
				charset = false;
			str_appends(c->out, n++ == 0 ? "(" : " ");
			imap_upper(c->out, c->name.data, c->name.len, &c->tmp);
			str_appendc(c->out, ' ');
			imap_str(c->out, &c->value);
		}
	}
	if (charset)
		str_appends(c->out, n++ == 0 ? "(\"CHARSET\" \"US-ASCII\""
					     : " \"CHARSET\" \"US-ASCII\"");
	str_appends(c->out, n > 0 ? ")" : "NIL");
}

static void bs_disposition(struct bs_ctx *c, const struct mime_part *p)
{
	struct mime_span t = mime_first_token(p->disposition);
	if (t.p == NULL) {
		str_appends(c->out, "NIL");
		return;
	}
	str_appendc(c->out, '(');
	imap_upper(c->out, t.p, t.len, &c->tmp);
	str_appendc(c->out, ' ');
	bs_params(c, p->disposition, false);
	str_appendc(c->out, ')');
}

static void bs_language(struct bs_ctx *c, const struct mime_part *p)
{
	struct mime_lex lx;
	struct mime_tok t;
	size_t n = 0;
	mime_lex_init(&lx, p->language, false);
	for (mime_lex_next(&lx, &t); t.type != MIME_TOK_END;
	     mime_lex_next(&lx, &t)) {
		if (t.type != MIME_TOK_ATOM && t.type != MIME_TOK_QUOTED)
			continue;
		str_clear(&c->tmp);
		if (t.type == MIME_TOK_QUOTED)
			mime_unquote(t.text, &c->tmp);
		else
			str_append(&c->tmp, t.text.p, t.text.len);
		str_appendc(c->out, n++ == 0 ? '(' : ' ');
		imap_str(c->out, &c->tmp);
	}
	str_appends(c->out, n > 0 ? ")" : "NIL");
}

/* Disposition, language and location, with a space before each. */
static void bs_ext_common(struct bs_ctx *c, const struct mime_part *p)
{
	str_appendc(c->out, ' ');
	bs_disposition(c, p);
	str_appendc(c->out, ' ');
	bs_language(c, p);
	str_appendc(c->out, ' ');
	imap_nvalue(c->out, p->location, &c->tmp);
}

static void bs_body(struct bs_ctx *c, uint32_t i);

static void bs_multipart(struct bs_ctx *c, const struct mime_part *p)
{
	if (p->child == MIME_NONE)
		str_appends(c->out, c->ext ? EMPTY_BODY " NIL NIL NIL NIL)"
					   : EMPTY_BODY ")");
	for (uint32_t k = p->child; k != MIME_NONE;
	     k = mime_part(c->msg, k)->next)
		bs_body(c, k);
	str_appendc(c->out, ' ');
	imap_upper(c->out, p->subtype.p, p->subtype.len, &c->tmp);
	if (!c->ext)
		return;
	str_appendc(c->out, ' ');
	bs_params(c, p->content_type, false);
	bs_ext_common(c, p);
}

static void bs_type(struct bs_ctx *c, const struct mime_part *p)
{
	if (p->flags & MIME_PART_OPAQUE) {
		str_appends(c->out, "\"APPLICATION\" \"OCTET-STREAM\"");
		return;
	}
	imap_upper(c->out, p->type.p, p->type.len, &c->tmp);
	str_appendc(c->out, ' ');
	imap_upper(c->out, p->subtype.p, p->subtype.len, &c->tmp);
}

static void bs_single(struct bs_ctx *c, const struct mime_part *p)
{
	bool opaque = (p->flags & MIME_PART_OPAQUE) != 0;
	bool text = !opaque && span_eq(p->type, "text");
	bs_type(c, p);
	str_appendc(c->out, ' ');
	if (p->flags & MIME_PART_DEFAULT_TYPE)
		bs_params(c, (struct mime_span){NULL, 0}, text);
	else
		bs_params(c, p->content_type, text);
	str_appendc(c->out, ' ');
	imap_nvalue(c->out, p->id, &c->tmp);
	str_appendc(c->out, ' ');
	imap_nvalue(c->out, p->description, &c->tmp);
	str_appendc(c->out, ' ');
	struct mime_span enc = mime_first_token(p->cte_raw);
	if (enc.p == NULL)
		str_appends(c->out, "\"7BIT\"");
	else
		imap_upper(c->out, enc.p, enc.len, &c->tmp);
	str_printf(c->out, " %zu", p->end - p->body);
	if (text)
		str_printf(c->out, " %zu", p->lines);
	if (p->kind == MIME_MESSAGE) {
		const struct mime_part *m = mime_part(c->msg, p->child);
		str_appendc(c->out, ' ');
		write_envelope(mime_data(c->msg) + m->hdr, m->body - m->hdr,
			       c->out);
		str_appendc(c->out, ' ');
		bs_body(c, p->child);
		str_printf(c->out, " %zu", p->lines);
	}
	if (!c->ext)
		return;
	str_appendc(c->out, ' ');
	imap_nvalue(c->out, p->md5, &c->tmp);
	bs_ext_common(c, p);
}

/* The recursion follows the tree, whose depth the parser bounds by
 * MIME_MAX_DEPTH. */
static void bs_body(struct bs_ctx *c, uint32_t i)
{
	const struct mime_part *p = mime_part(c->msg, i);
	str_appendc(c->out, '(');
	if (p->kind == MIME_MULTIPART)
		bs_multipart(c, p);
	else
		bs_single(c, p);
	str_appendc(c->out, ')');
}

void mime_imap_bodystructure(const struct mime_msg *msg, bool extended,
			     struct str *out)
{
	struct bs_ctx c = {
		.msg = msg,
		.ext = extended,
		.out = out,
		.name = STR_INIT,
		.value = STR_INIT,
		.tmp = STR_INIT,
	};
	bs_body(&c, 0);
	str_free(&c.name);
	str_free(&c.value);
	str_free(&c.tmp);
}

/* ---- HEADER.FIELDS ---- */

static bool name_listed(struct mime_span name, const char *const *names,
			size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mime_name_is(name, names[i]))
			return true;
	return false;
}

void mime_imap_header_fields(const char *hdr, size_t len,
			     const char *const *names, size_t n, bool not,
			     struct str *out)
{
	struct mime_hdr_iter it;
	struct mime_field f;
	mime_hdr_init(&it, hdr, len);
	while (mime_hdr_next(&it, &f) > 0)
		if (name_listed(f.name, names, n) != not)
			str_append(out, f.raw.p, f.raw.len);
	if (it.blank.p != NULL)
		str_append(out, it.blank.p, it.blank.len);
}
