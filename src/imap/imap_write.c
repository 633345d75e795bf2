#include "imap/imap_write.h"

#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "imap/imap_utf7.h"

static bool is_astring_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\", c) == NULL;
}

static bool quotable(const char *s, size_t len, bool utf8)
{
	bool eight = false;
	if (len > IMAP_WRITE_QUOTED_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == '\0')
			return false;
		eight |= c >= 0x80;
	}
	return !eight || (utf8 && imap_utf7_utf8_valid(s, len));
}

void imap_write_string(struct str *out, const char *s, size_t len, bool utf8)
{
	if (!quotable(s, len, utf8)) {
		str_printf(out, "{%zu}\r\n", len);
		str_append(out, s, len);
		return;
	}
	str_appendc(out, '"');
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		str_append(out, s + run, i - run);
		str_appendc(out, '\\');
		run = i;
	}
	str_append(out, s + run, len - run);
	str_appendc(out, '"');
}

void imap_write_astring(struct str *out, const char *s, size_t len, bool utf8)
{
	bool atom = len > 0 && !(len == 3 && strncasecmp(s, "NIL", 3) == 0);
	for (size_t i = 0; i < len && atom; i++)
		atom = is_astring_char((unsigned char)s[i]);
	if (atom)
		str_append(out, s, len);
	else
		imap_write_string(out, s, len, utf8);
}

void imap_write_nstring(struct str *out, const char *s, size_t len, bool utf8)
{
	if (s == NULL)
		str_append(out, "NIL", 3);
	else
		imap_write_string(out, s, len, utf8);
}

void imap_write_mailbox(struct str *out, const char *name, bool utf8)
{
	size_t len = strlen(name);
	struct str enc = STR_INIT;
	if (utf8 || imap_utf7_encode(name, len, &enc) < 0)
		imap_write_astring(out, name, len, utf8);
	else
		imap_write_astring(out, enc.data, enc.len, false);
	str_free(&enc);
}

static void seq_number(struct str *out, uint32_t n)
{
	if (n == IMAP_SEQ_STAR)
		str_appendc(out, '*');
	else
		str_printf(out, "%u", n);
}

void imap_write_seqset(struct str *out, const struct imap_seq_range *r,
		       unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i > 0)
			str_appendc(out, ',');
		if (r[i].saved) {
			str_appendc(out, '$');
			continue;
		}
		seq_number(out, r[i].lo);
		if (r[i].hi != r[i].lo) {
			str_appendc(out, ':');
			seq_number(out, r[i].hi);
		}
	}
}

static void section(struct str *out, const struct imap_section *s)
{
	static const char *const text[] = {
		[IMAP_SECTION_ALL] = "",
		[IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT",
		[IMAP_SECTION_MIME] = "MIME",
	};
	str_appendc(out, '[');
	for (unsigned i = 0; i < s->depth; i++)
		str_printf(out, i > 0 ? ".%u" : "%u", s->part[i]);
	if (s->depth > 0 && s->text != IMAP_SECTION_ALL)
		str_appendc(out, '.');
	str_appends(out, text[s->text]);
	if (s->text == IMAP_SECTION_HEADER_FIELDS ||
	    s->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		str_append(out, " (", 2);
		for (unsigned i = 0; i < s->n_fields; i++) {
			if (i > 0)
				str_appendc(out, ' ');
			imap_write_astring(out, s->fields[i].data,
					   s->fields[i].len, false);
		}
		str_appendc(out, ')');
	}
	str_appendc(out, ']');
}

void imap_write_fetch_name(struct str *out, const struct imap_fetch_att *a)
{
	static const char *const names[] = {
		[IMAP_FETCH_FLAGS] = "FLAGS",
		[IMAP_FETCH_INTERNALDATE] = "INTERNALDATE",
		[IMAP_FETCH_RFC822_SIZE] = "RFC822.SIZE",
		[IMAP_FETCH_ENVELOPE] = "ENVELOPE",
		[IMAP_FETCH_BODY] = "BODY",
		[IMAP_FETCH_BODYSTRUCTURE] = "BODYSTRUCTURE",
		[IMAP_FETCH_UID] = "UID",
		[IMAP_FETCH_MODSEQ] = "MODSEQ",
		[IMAP_FETCH_RFC822] = "RFC822",
		[IMAP_FETCH_RFC822_HEADER] = "RFC822.HEADER",
		[IMAP_FETCH_RFC822_TEXT] = "RFC822.TEXT",
		[IMAP_FETCH_BODY_SECTION] = "BODY",
		[IMAP_FETCH_BINARY] = "BINARY",
		[IMAP_FETCH_BINARY_SIZE] = "BINARY.SIZE",
		[IMAP_FETCH_PREVIEW] = "PREVIEW",
		[IMAP_FETCH_EMAILID] = "EMAILID",
		[IMAP_FETCH_THREADID] = "THREADID",
		[IMAP_FETCH_SAVEDATE] = "SAVEDATE",
	};
	str_appends(out, names[a->item]);
	if (a->item != IMAP_FETCH_BODY_SECTION && a->item != IMAP_FETCH_BINARY &&
	    a->item != IMAP_FETCH_BINARY_SIZE)
		return;
	section(out, &a->section);
	if (a->partial)
		str_printf(out, "<%llu>", (unsigned long long)a->partial_start);
}
