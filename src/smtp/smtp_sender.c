/* Submission's sender rules: the allowed-sender list and the From
 * mailboxes of a header (RFC 5322 3.4, read strictly: what we cannot
 * read as a plain mailbox is refused, never waved through). */
#include "smtp/smtp_sender.h"

#include <stdio.h>
#include <string.h>

#include "core/str.h"
#include "mime/mime.h"

static bool entry_matches(const char *e, size_t n, const char *text,
			  const char *domain)
{
	if (n == 1 && e[0] == '*')
		return true;
	if (n > 2 && e[0] == '*' && e[1] == '@')
		return strlen(domain) == n - 2 &&
		       memcmp(e + 2, domain, n - 2) == 0;
	return strlen(text) == n && memcmp(e, text, n) == 0;
}

static bool list_has(const char *list, size_t len, const char *text,
		     const char *domain)
{
	for (size_t at = 0; at < len;) {
		const char *e = list + at;
		size_t n = strnlen(e, len - at);
		if (n > 0 && entry_matches(e, n, text, domain))
			return true;
		at += n + 1;
	}
	return false;
}

bool smtp_sender_allowed(const char *list, size_t len, const struct addr *a,
			 const char *delims)
{
	char text[ADDR_TEXT_MAX];
	addr_format(a, text);
	if (list_has(list, len, text, a->domain))
		return true;
	/* user+tag@domain is user@domain's, as on delivery; "+x@domain"
	 * has no user part and is its own address. */
	if (a->quoted || delims == NULL || delims[0] == '\0')
		return false;
	const char *sep = strpbrk(a->local, delims);
	if (sep == NULL || sep == a->local)
		return false;
	struct addr base = *a;
	base.local[sep - a->local] = '\0';
	addr_format(&base, text);
	return list_has(list, len, text, a->domain);
}

/* ---- From ---- */

/* One mailbox's addr-spec as SMTP writes it: the tokens joined without
 * the white space and comments between them. */
struct spec {
	char text[ADDR_TEXT_MAX];
	size_t len;
	bool too_long;
};

static void spec_add(struct spec *s, struct mime_span t)
{
	if (s->len + t.len >= sizeof(s->text)) {
		s->too_long = true;
		return;
	}
	memcpy(s->text + s->len, t.p, t.len);
	s->len += t.len;
	s->text[s->len] = '\0';
}

static void refuse(struct smtp_sender_header *r, const char *text)
{
	if (!r->refused)
		snprintf(r->refused_text, sizeof(r->refused_text), "%s", text);
	r->refused = true;
}

static void check_mailbox(struct spec *s, const char *list, size_t listlen,
			  const char *delims, struct smtp_sender_header *r)
{
	struct addr a;
	const char *err;
	r->from++;
	if (s->too_long || s->len == 0 ||
	    addr_parse(s->text, s->len, ADDR_UTF8, &a, &err) < 0 ||
	    a.literal || !smtp_sender_allowed(list, listlen, &a, delims))
		refuse(r, s->text);
}

/* The value of one From field: mailbox *("," mailbox), each an addr-spec
 * or [display-name] "<" addr-spec ">".  Groups, routes and stray
 * specials are refused. */
static void from_field(struct mime_span v, const char *list, size_t listlen,
		       const char *delims, struct smtp_sender_header *r)
{
	struct mime_lex lx;
	struct mime_tok t;
	struct spec s = {0};
	int angle = 0;	/* 0 none yet, 1 inside <>, 2 after > */
	bool any = false;
	mime_lex_init(&lx, v, true);
	for (;;) {
		mime_lex_next(&lx, &t);
		bool end = t.type == MIME_TOK_END;
		if (end || (t.type == MIME_TOK_SPECIAL && t.c == ',' &&
			    angle != 1)) {
			if (angle == 1 || (!any && !end)) {
				refuse(r, s.text);
			} else if (any) {
				check_mailbox(&s, list, listlen, delims, r);
			}
			if (end)
				return;
			s = (struct spec){0};
			angle = 0;
			any = false;
			continue;
		}
		any = true;
		if (t.type == MIME_TOK_SPECIAL && t.c == '<' && angle == 0) {
			s = (struct spec){0};	/* what came was the name */
			angle = 1;
		} else if (t.type == MIME_TOK_SPECIAL && t.c == '>' &&
			   angle == 1) {
			angle = 2;
		} else if (angle == 2 ||
			   (t.type == MIME_TOK_SPECIAL && t.c != '.' &&
			    t.c != '@')) {
			/* ':' ';' (groups, routes), a second '<', text after
			 * the '>': not a plain mailbox. */
			refuse(r, s.text);
		} else {
			spec_add(&s, t.text);
		}
	}
}

void smtp_sender_header(const char *msg, size_t len, const char *list,
			size_t listlen, const char *delims,
			struct smtp_sender_header *r)
{
	struct mime_hdr_iter it;
	struct mime_field f;
	memset(r, 0, sizeof(*r));
	mime_hdr_init(&it, msg, len);
	while (mime_hdr_next(&it, &f) > 0) {
		if (mime_name_is(f.name, "From")) {
			r->from_fields++;
			from_field(f.value, list, listlen, delims, r);
		} else if (mime_name_is(f.name, "Message-ID")) {
			r->message_id = true;
		} else if (mime_name_is(f.name, "Date")) {
			r->date = true;
		}
	}
	r->complete = it.blank.p != NULL;
}
