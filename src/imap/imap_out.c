/* Strings out, in the least surprising form a client parses. */
#include "imap/imap_out.h"

#include <stdint.h>
#include <string.h>

#include "core/str.h"
#include "imap/imap_utf7.h"

/* Past this, a string goes as a literal even if it could be quoted: a
 * long quoted string is harder on clients than a literal. */
#define QUOTED_MAX 1024

static bool quotable(const char *s, size_t len, bool utf8)
{
	if (len > QUOTED_MAX)
		return false;
	bool high = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0' || c == '\r' || c == '\n')
			return false;
		high |= c >= 0x80;
	}
	return !high || (utf8 && imap_utf7_utf8_valid(s, len));
}

void imap_out_string(struct str *out, const char *s, size_t len, bool utf8)
{
	if (!quotable(s, len, utf8)) {
		str_printf(out, "{%zu}\r\n", len);
		str_append(out, s, len);
		return;
	}
	str_appendc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			str_appendc(out, '\\');
		str_appendc(out, s[i]);
	}
	str_appendc(out, '"');
}

void imap_out_nstring(struct str *out, const char *s, size_t len, bool utf8)
{
	if (s == NULL)
		str_appends(out, "NIL");
	else
		imap_out_string(out, s, len, utf8);
}

/* ASTRING-CHAR: any CHAR except atom-specials, plus "]". */
static bool astring_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\", c) == NULL;
}

void imap_out_astring(struct str *out, const char *s, size_t len, bool utf8)
{
	bool atom = len > 0 && !(len == 3 && strncasecmp(s, "NIL", 3) == 0);
	for (size_t i = 0; atom && i < len; i++)
		atom = astring_char((unsigned char)s[i]);
	if (atom)
		str_append(out, s, len);
	else
		imap_out_string(out, s, len, utf8);
}

void imap_out_mailbox(struct str *out, const char *name, bool utf8)
{
	size_t len = strlen(name);
	if (utf8) {
		imap_out_astring(out, name, len, true);
		return;
	}
	struct str enc = STR_INIT;
	if (imap_utf7_encode(name, len, &enc) < 0)
		imap_out_astring(out, name, len, false);
	else
		imap_out_astring(out, enc.data, enc.len, false);
	str_free(&enc);
}
