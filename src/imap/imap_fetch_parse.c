#include "imap/imap_fetch_parse.h"

#include <string.h>

static const struct {
	const char *name;
	enum imap_fetch_item item;
} simple_items[] = {
	{"FLAGS", IMAP_FETCH_FLAGS},
	{"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
	{"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
	{"ENVELOPE", IMAP_FETCH_ENVELOPE},
	{"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
	{"UID", IMAP_FETCH_UID},
	{"MODSEQ", IMAP_FETCH_MODSEQ},
	{"EMAILID", IMAP_FETCH_EMAILID},
	{"THREADID", IMAP_FETCH_THREADID},
	{"SAVEDATE", IMAP_FETCH_SAVEDATE},
};

/* header-list = "(" header-fld-name *(SP header-fld-name) ")". */
static int header_list(struct imap_parser *p, struct imap_section *s)
{
	unsigned cap = 0;
	if (imap_parse_sp(p) < 0 || imap_parse_list_open(p) < 0)
		return -1;
	do {
		struct imap_string name;
		if (imap_parse_astring(p, &name) < 0)
			return -1;
		s->fields = imap_parser_grow(p, s->fields, s->n_fields, &cap,
					     sizeof(name));
		s->fields[s->n_fields++] = name;
	} while (imap_parse_skip(p, ' '));
	return imap_parse_list_close(p);
}

/* section-part = nz-number *("." nz-number); stops before a "." that
 * is followed by something other than a digit (the section-text). */
static int section_part(struct imap_parser *p, struct imap_section *s)
{
	unsigned cap = 0;
	for (;;) {
		uint32_t n;
		if (imap_parser_peek(p) == '0')
			return imap_parser_fail(p, "Invalid section");
		if (imap_parse_nz_number(p, &n) < 0)
			return -1;
		s->part = imap_parser_grow(p, s->part, s->depth, &cap,
					   sizeof(n));
		s->part[s->depth++] = n;
		int next = imap_parser_peek_at(p, 1);
		if (imap_parser_peek(p) != '.' || next < '0' || next > '9')
			return 1;
		imap_parse_skip(p, '.');
	}
}

/* section-msgtext, or "MIME" after a part. */
static int section_text(struct imap_parser *p, struct imap_section *s)
{
	if (imap_parse_skip_word(p, "HEADER")) {
		s->text = IMAP_SECTION_HEADER;
	} else if (imap_parse_skip_word(p, "HEADER.FIELDS")) {
		s->text = IMAP_SECTION_HEADER_FIELDS;
		return header_list(p, s);
	} else if (imap_parse_skip_word(p, "HEADER.FIELDS.NOT")) {
		s->text = IMAP_SECTION_HEADER_FIELDS_NOT;
		return header_list(p, s);
	} else if (imap_parse_skip_word(p, "TEXT")) {
		s->text = IMAP_SECTION_TEXT;
	} else if (s->depth > 0 && imap_parse_skip_word(p, "MIME")) {
		s->text = IMAP_SECTION_MIME;
	} else {
		return imap_parser_fail(p, "Invalid section");
	}
	return 1;
}

/* "[" [section-spec] "]", or with binary "[" [section-part] "]". */
static int section(struct imap_parser *p, bool binary, struct imap_section *s)
{
	if (!imap_parse_skip(p, '['))
		return imap_parser_fail(p, "Missing section");
	if (imap_parse_skip(p, ']'))
		return 1;
	int c = imap_parser_peek(p);
	if (c >= '0' && c <= '9') {
		if (section_part(p, s) < 0)
			return -1;
		if (!binary && imap_parse_skip(p, '.') &&
		    section_text(p, s) < 0)
			return -1;
	} else if (binary || section_text(p, s) < 0) {
		return imap_parser_fail(p, "Invalid section");
	}
	if (!imap_parse_skip(p, ']'))
		return imap_parser_fail(p, "Invalid section");
	return 1;
}

/* partial = "<" number64 "." nz-number64 ">", if present. */
static int partial(struct imap_parser *p, struct imap_fetch_att *a)
{
	if (!imap_parse_skip(p, '<'))
		return 1;
	int c = imap_parser_peek(p);
	if (c < '0' || c > '9')
		return imap_parser_fail(p, "Invalid partial");
	if (imap_parse_number64(p, &a->partial_start) < 0)
		return -1;
	c = imap_parser_peek_at(p, 1);
	if (!imap_parse_skip(p, '.') || c < '1' || c > '9')
		return imap_parser_fail(p, "Invalid partial");
	if (imap_parse_nz_number64(p, &a->partial_count) < 0)
		return -1;
	if (!imap_parse_skip(p, '>'))
		return imap_parser_fail(p, "Invalid partial");
	a->partial = true;
	return 1;
}

/* [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY"; only
 * taken when the list starts with LAZY, so that a FETCH modifier list
 * after a lone PREVIEW stays one. */
static int preview_mods(struct imap_parser *p, struct imap_fetch_att *a)
{
	if (!imap_parse_ahead(p, " (LAZY"))
		return 1;
	imap_parse_sp(p);
	if (imap_parse_list_open(p) < 0)
		return -1;
	do {
		if (!imap_parse_skip_word(p, "LAZY"))
			return imap_parser_fail(p, "Invalid PREVIEW modifier");
		a->lazy = true;
	} while (imap_parse_skip(p, ' '));
	return imap_parse_list_close(p);
}

static int body_att(struct imap_parser *p, struct imap_fetch_att *a,
		    bool binary, bool peek)
{
	a->item = binary ? IMAP_FETCH_BINARY : IMAP_FETCH_BODY_SECTION;
	a->peek = peek;
	if (section(p, binary, &a->section) < 0)
		return -1;
	return partial(p, a);
}

/* RFC822 items as the BODY sections they stand for.  RFC822.PEEK is RFC
 * 1730's, gone from RFC 3501's grammar, yet Outlook still asks for whole
 * messages with it (Microsoft's MS-STANOIMAP); it is RFC822 without \Seen. */
static int rfc822_att(struct imap_parser *p, struct imap_fetch_att *a)
{
	if (imap_parse_skip_word(p, "RFC822")) {
		a->item = IMAP_FETCH_RFC822;
	} else if (imap_parse_skip_word(p, "RFC822.PEEK")) {
		a->item = IMAP_FETCH_RFC822;
		a->peek = true;
	} else if (imap_parse_skip_word(p, "RFC822.HEADER")) {
		a->item = IMAP_FETCH_RFC822_HEADER;
		a->section.text = IMAP_SECTION_HEADER;
		a->peek = true;
	} else if (imap_parse_skip_word(p, "RFC822.TEXT")) {
		a->item = IMAP_FETCH_RFC822_TEXT;
		a->section.text = IMAP_SECTION_TEXT;
	} else {
		return 0;
	}
	return 1;
}

int imap_fetch_parse_att(struct imap_parser *p, struct imap_fetch_att *a)
{
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]);
	     i++) {
		if (imap_parse_skip_word(p, simple_items[i].name)) {
			a->item = simple_items[i].item;
			return 1;
		}
	}
	if (rfc822_att(p, a))
		return 1;
	if (imap_parse_skip_word(p, "BODY")) {
		if (imap_parser_peek(p) != '[') {
			a->item = IMAP_FETCH_BODY;
			return 1;
		}
		return body_att(p, a, false, false);
	}
	if (imap_parse_skip_word(p, "BODY.PEEK"))
		return body_att(p, a, false, true);
	if (imap_parse_skip_word(p, "BINARY"))
		return body_att(p, a, true, false);
	if (imap_parse_skip_word(p, "BINARY.PEEK"))
		return body_att(p, a, true, true);
	if (imap_parse_skip_word(p, "BINARY.SIZE")) {
		a->item = IMAP_FETCH_BINARY_SIZE;
		return section(p, true, &a->section);
	}
	if (imap_parse_skip_word(p, "PREVIEW")) {
		a->item = IMAP_FETCH_PREVIEW;
		return preview_mods(p, a);
	}
	if (imap_parser_peek(p) < 0)
		return imap_parser_fail(p, "Missing argument");
	return imap_parser_fail(p, "Invalid FETCH attribute");
}

struct att_list {
	struct imap_fetch *f;
	unsigned cap;
};

static struct imap_fetch_att *add_att(struct imap_parser *p,
				      struct att_list *l)
{
	l->f->atts = imap_parser_grow(p, l->f->atts, l->f->n_atts, &l->cap,
				      sizeof(*l->f->atts));
	return &l->f->atts[l->f->n_atts++];
}

/* ALL, FAST or FULL (RFC 9051 6.4.5); 0 if the next word is none. */
static int macro(struct imap_parser *p, struct att_list *l)
{
	static const enum imap_fetch_item items[] = {
		IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE,
		IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY};
	unsigned n;
	if (imap_parse_skip_word(p, "FAST"))
		n = 3;
	else if (imap_parse_skip_word(p, "ALL"))
		n = 4;
	else if (imap_parse_skip_word(p, "FULL"))
		n = 5;
	else
		return 0;
	for (unsigned i = 0; i < n; i++)
		add_att(p, l)->item = items[i];
	return 1;
}

static int att_list(struct imap_parser *p, struct att_list *l)
{
	if (imap_parser_peek(p) != '(') {
		if (macro(p, l))
			return 1;
		return imap_fetch_parse_att(p, add_att(p, l));
	}
	if (imap_parse_list_open(p) < 0)
		return -1;
	do {
		if (imap_fetch_parse_att(p, add_att(p, l)) < 0)
			return -1;
	} while (imap_parse_skip(p, ' '));
	return imap_parse_list_close(p);
}

/* SP "(" fetch-modifier *(SP fetch-modifier) ")". */
static int modifiers(struct imap_parser *p, bool uid, struct imap_fetch *f)
{
	if (imap_parse_sp(p) < 0 || imap_parse_list_open(p) < 0)
		return -1;
	do {
		if (!f->changedsince && imap_parse_skip_word(p, "CHANGEDSINCE")) {
			f->changedsince = true;
			if (imap_parse_sp(p) < 0 ||
			    imap_parse_modseq(p, false,
					      &f->changedsince_modseq) < 0)
				return -1;
		} else if (!f->vanished && imap_parse_skip_word(p, "VANISHED")) {
			f->vanished = true;
		} else {
			return imap_parser_fail(p, "Invalid FETCH modifier");
		}
	} while (imap_parse_skip(p, ' '));
	if (imap_parse_list_close(p) < 0)
		return -1;
	if (f->vanished && !uid)
		return imap_parser_fail(p, "VANISHED needs UID FETCH");
	if (f->vanished && !f->changedsince)
		return imap_parser_fail(p, "VANISHED needs CHANGEDSINCE");
	return 1;
}

int imap_fetch_parse(struct imap_parser *p, bool uid, struct imap_fetch *f)
{
	struct att_list l = {f, 0};
	memset(f, 0, sizeof(*f));
	if (imap_parse_sp(p) < 0 || imap_parse_seqset(p, &f->set) < 0 ||
	    imap_parse_sp(p) < 0 || att_list(p, &l) < 0)
		return -1;
	if (!imap_parse_at_end(p) && modifiers(p, uid, f) < 0)
		return -1;
	return imap_parse_end(p);
}
