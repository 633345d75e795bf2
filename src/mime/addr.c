#include "mime/addr.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>
#include <uninorm.h>

static bool is_atext(unsigned char c, unsigned flags)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	if (c >= 0x80)
		return (flags & ADDR_UTF8) != 0;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static char fold(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool addr_is_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* Whether an unquoted local part is a valid Dot-string. */
static bool is_dot_string(const char *s, size_t len, unsigned flags)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i], flags)) {
			return false;
		}
	}
	return true;
}

static bool fold_all(char *s, size_t len)
{
	bool changed = false;
	for (size_t i = 0; i < len; i++) {
		char c = fold(s[i]);
		changed |= c != s[i];
		s[i] = c;
	}
	return changed;
}

/* NFC of local (ADDR_LOCAL_MAX + 1 bytes, *len used) back into local;
 * -1 if it no longer fits. */
static int nfc(char *local, size_t *len, const char **err_r)
{
	/* NFC can grow a string (up to three times, in UTF-8). */
	uint8_t buf[3 * ADDR_LOCAL_MAX + 4];
	size_t n = sizeof(buf);
	uint8_t *out = u8_normalize(UNINORM_NFC, (const uint8_t *)local, *len,
				    buf, &n);
	if (out != buf || n > ADDR_LOCAL_MAX) {
		if (out != buf)
			free(out);
		*err_r = out == NULL ? "cannot normalize local part"
				     : "local part too long";
		return -1;
	}
	/* Zero the whole tail: a struct addr compares with memcmp. */
	memset(local, 0, ADDR_LOCAL_MAX + 1);
	memcpy(local, buf, n);
	*len = n;
	return 0;
}

/* RFC 6532 3.1: a UTF-8 local part is compared and stored in NFC, so that
 * composed and decomposed spellings are one account.  ASCII letters are
 * folded before NFC, because a lower-case letter can compose with a mark
 * that its capital cannot ("J" + caron has no precomposed form, "j" has),
 * and again after it, because NFC maps a few characters to ASCII capitals
 * (KELVIN SIGN to "K"); that second fold may enable a composition, hence
 * one more NFC.  The result is stable: parsing it again gives itself. */
static int local_utf8_canon(struct addr *r, size_t len, const char **err_r)
{
	if (u8_check((const uint8_t *)r->local, len) != NULL) {
		*err_r = "invalid UTF-8 in local part";
		return -1;
	}
	if (nfc(r->local, &len, err_r) < 0)
		return -1;
	if (fold_all(r->local, len) && nfc(r->local, &len, err_r) < 0)
		return -1;
	/* NFC can also turn non-ASCII into ASCII specials (GREEK QUESTION
	 * MARK is ';'): decide about quotes on the result. */
	r->quoted = len == 0 || !is_dot_string(r->local, len, ADDR_UTF8);
	return 1;
}

/* Local part up to the '@' that ends it; returns bytes consumed or -1. */
static long parse_local(const char *s, size_t len, unsigned flags,
			struct addr *r, const char **err_r)
{
	size_t o = 0, i = 0;
	if (len > 0 && s[0] == '"') {
		for (i = 1; i < len && s[i] != '"'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\') {
				if (++i >= len ||
				    (unsigned char)s[i] < 32 ||
				    (unsigned char)s[i] > 126) {
					*err_r = "bad quoted-pair in local part";
					return -1;
				}
				c = (unsigned char)s[i];
			} else if (c < 32 || c == 127 ||
				   (c >= 0x80 && !(flags & ADDR_UTF8))) {
				*err_r = "bad character in quoted local part";
				return -1;
			}
			if (o >= ADDR_LOCAL_MAX) {
				*err_r = "local part too long";
				return -1;
			}
			r->local[o++] = fold((char)c);
		}
		if (i >= len) {
			*err_r = "unterminated quoted local part";
			return -1;
		}
		i++; /* closing quote */
		r->local[o] = '\0';
		if ((flags & ADDR_UTF8) && addr_is_utf8(r->local, o))
			return local_utf8_canon(r, o, err_r) < 0 ? -1 : (long)i;
		r->quoted = o == 0 || !is_dot_string(r->local, o, flags);
		return (long)i;
	}
	for (i = 0; i < len && s[i] != '@'; i++) {
		if (i >= ADDR_LOCAL_MAX) {
			*err_r = "local part too long";
			return -1;
		}
		r->local[i] = fold(s[i]);
	}
	r->local[i] = '\0';
	if (!is_dot_string(r->local, i, flags)) {
		*err_r = addr_is_utf8(s, i) && !(flags & ADDR_UTF8)
				 ? "non-ASCII address without SMTPUTF8"
				 : "bad local part";
		return -1;
	}
	r->quoted = false;
	if ((flags & ADDR_UTF8) && addr_is_utf8(r->local, i))
		return local_utf8_canon(r, i, err_r) < 0 ? -1 : (long)i;
	return (long)i;
}

static bool ldh_label_ok(const char *l, size_t n)
{
	if (n == 0 || n > 63 || l[0] == '-' || l[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = l[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

int addr_domain_canon(const char *s, size_t len, unsigned flags, char *out,
		      const char **err_r)
{
	char in[ADDR_DOMAIN_MAX + 1];
	if (len == 0 || len > ADDR_DOMAIN_MAX) {
		*err_r = len ? "domain too long" : "empty domain";
		return -1;
	}
	memcpy(in, s, len);
	in[len] = '\0';
	if (memchr(in, '\0', len) != NULL) {
		*err_r = "bad domain";
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		in[i] = fold(in[i]);
	if (addr_is_utf8(in, len)) {
		char *ascii = NULL;
		if (!(flags & ADDR_UTF8)) {
			*err_r = "non-ASCII domain without SMTPUTF8";
			return -1;
		}
		if (u8_check((const uint8_t *)in, len) != NULL) {
			*err_r = "invalid UTF-8 in domain";
			return -1;
		}
		if (idn2_to_ascii_8z(in, &ascii,
				     IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) !=
			    IDN2_OK ||
		    strlen(ascii) > ADDR_DOMAIN_MAX) {
			idn2_free(ascii);
			*err_r = "bad international domain name";
			return -1;
		}
		len = strlen(ascii);
		memcpy(in, ascii, len + 1);
		idn2_free(ascii);
		for (size_t i = 0; i < len; i++)
			in[i] = fold(in[i]);
	}
	for (const char *l = in; ; ) {
		const char *dot = strchr(l, '.');
		size_t n = dot ? (size_t)(dot - l) : strlen(l);
		if (!ldh_label_ok(l, n)) {
			*err_r = "bad domain name";
			return -1;
		}
		if (dot == NULL)
			break;
		l = dot + 1;
	}
	memcpy(out, in, len + 1);
	return 1;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]", validated and normalized. */
static int parse_literal(const char *s, size_t len, struct addr *r,
			 const char **err_r)
{
	char buf[64];
	unsigned char bin[16];
	if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(buf)) {
		*err_r = "bad address literal";
		return -1;
	}
	memcpy(buf, s + 1, len - 2);
	buf[len - 2] = '\0';
	/* inet_pton() would stop at a NUL and accept what precedes it. */
	if (memchr(buf, '\0', len - 2) != NULL) {
		*err_r = "bad address literal";
		return -1;
	}
	if (strncasecmp(buf, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, buf + 5, bin) != 1) {
			*err_r = "bad IPv6 address literal";
			return -1;
		}
		char text[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, bin, text, sizeof(text));
		snprintf(r->domain, sizeof(r->domain), "[IPv6:%s]", text);
	} else {
		if (inet_pton(AF_INET, buf, bin) != 1) {
			*err_r = "bad IPv4 address literal";
			return -1;
		}
		snprintf(r->domain, sizeof(r->domain), "[%s]", buf);
	}
	r->literal = true;
	return 1;
}

int addr_parse(const char *s, size_t len, unsigned flags, struct addr *r,
	       const char **err_r)
{
	memset(r, 0, sizeof(*r));
	long n = parse_local(s, len, flags, r, err_r);
	if (n < 0)
		return -1;
	if ((size_t)n >= len || s[n] != '@') {
		*err_r = "missing @domain";
		return -1;
	}
	const char *d = s + n + 1;
	size_t dlen = len - (size_t)n - 1;
	if (dlen > 0 && d[0] == '[')
		return parse_literal(d, dlen, r, err_r);
	r->literal = false;
	return addr_domain_canon(d, dlen, flags, r->domain, err_r);
}

void addr_format(const struct addr *a, char *out)
{
	char *p = out;
	if (a->quoted) {
		*p++ = '"';
		for (const char *l = a->local; *l; l++) {
			if (*l == '"' || *l == '\\')
				*p++ = '\\';
			*p++ = *l;
		}
		*p++ = '"';
	} else {
		size_t n = strlen(a->local);
		memcpy(p, a->local, n);
		p += n;
	}
	*p++ = '@';
	size_t n = strlen(a->domain);
	memcpy(p, a->domain, n + 1);
}
