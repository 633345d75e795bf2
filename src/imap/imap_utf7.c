#include "imap/imap_utf7.h"

#include <stdint.h>

#include "core/str.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static bool printable(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static bool control(uint32_t c)
{
	return c < 0x20 || c == 0x7f;
}

/* One code point from s[*i..len); -1 on malformed UTF-8 (RFC 3629). */
static int utf8_next(const unsigned char *s, size_t len, size_t *i,
		     uint32_t *cp_r)
{
	static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
	unsigned char c = s[*i];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		n = 0, cp = c;
	else if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07;
	else
		return -1;
	if (n > len - *i - 1)
		return -1;
	for (size_t k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[*i + k] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	*cp_r = cp;
	return 0;
}

bool imap_utf7_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	for (size_t i = 0; i < len;) {
		if (u[i] < 0x80)
			i++;
		else if (utf8_next(u, len, &i, &cp) < 0)
			return false;
	}
	return true;
}

struct b64_out {
	uint32_t acc;
	unsigned bits;
};

static void push16(struct str *out, struct b64_out *b, uint32_t unit)
{
	b->acc = b->acc << 16 | unit;
	b->bits += 16;
	while (b->bits >= 6) {
		b->bits -= 6;
		str_appendc(out, b64[(b->acc >> b->bits) & 0x3f]);
	}
	b->acc &= (1u << b->bits) - 1;
}

/* Encode the run of characters that are not printable ASCII starting at
 * s[*i]: one "&...-" with the padding bits zero, as short as it can be. */
static int encode_run(const unsigned char *s, size_t len, size_t *i,
		      struct str *out)
{
	struct b64_out b = {0, 0};
	str_appendc(out, '&');
	while (*i < len && !printable(s[*i])) {
		uint32_t cp;
		if (utf8_next(s, len, i, &cp) < 0 || control(cp))
			return -1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			push16(out, &b, 0xd800 | cp >> 10);
			push16(out, &b, 0xdc00 | (cp & 0x3ff));
		} else {
			push16(out, &b, cp);
		}
	}
	if (b.bits > 0)
		str_appendc(out, b64[(b.acc << (6 - b.bits)) & 0x3f]);
	str_appendc(out, '-');
	return 0;
}

int imap_utf7_encode(const char *s, size_t len, struct str *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start = out->len;
	for (size_t i = 0; i < len;) {
		if (u[i] == '&') {
			str_append(out, "&-", 2);
			i++;
		} else if (printable(u[i])) {
			str_appendc(out, (char)u[i++]);
		} else if (encode_run(u, len, &i, out) < 0) {
			str_truncate(out, start);
			return -1;
		}
	}
	return 1;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	return c == ',' ? 63 : -1;
}

static void put_utf8(struct str *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		n = 1;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		n = 2;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		n = 3;
	}
	b[n] = (char)(0x80 | (cp & 0x3f));
	str_append(out, b, n + 1);
}

/* One UTF-16 unit of a run; *high holds a pending high surrogate. */
static int decode_unit(uint32_t unit, uint32_t *high, struct str *out)
{
	uint32_t cp = unit;
	if (*high != 0) {
		if (unit < 0xdc00 || unit > 0xdfff)
			return -1;
		cp = 0x10000 + ((*high - 0xd800) << 10) + (unit - 0xdc00);
		*high = 0;
	} else if (unit >= 0xd800 && unit <= 0xdbff) {
		*high = unit;
		return 0;
	} else if (unit >= 0xdc00 && unit <= 0xdfff) {
		return -1;
	}
	/* A character that can stand for itself must, so each name has one
	 * spelling; controls are refused as the encoder refuses them. */
	if (cp < 0x80)
		return -1;
	put_utf8(out, cp);
	return 0;
}

/* Decode the BASE64 run starting after "&" at s[*i], through its "-". */
static int decode_run(const unsigned char *s, size_t len, size_t *i,
		      struct str *out)
{
	uint32_t acc = 0, high = 0;
	unsigned bits = 0, units = 0;
	for (;; (*i)++) {
		if (*i >= len)
			return -1;
		if (s[*i] == '-')
			break;
		int v = b64_value(s[*i]);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0x3fffff;
		bits += 6;
		if (bits >= 16) {
			bits -= 16;
			if (decode_unit((acc >> bits) & 0xffff, &high, out) < 0)
				return -1;
			units++;
		}
	}
	(*i)++;
	/* Canonical: fewer than 6 padding bits, all zero, a whole pair. */
	if (units == 0 || bits >= 6 || (acc & ((1u << bits) - 1)) != 0 ||
	    high != 0)
		return -1;
	return 0;
}

int imap_utf7_decode(const char *s, size_t len, struct str *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start = out->len;
	bool after_run = false;
	for (size_t i = 0; i < len;) {
		if (!printable(u[i]))
			goto bad;
		if (u[i] != '&') {
			str_appendc(out, (char)u[i++]);
			after_run = false;
		} else if (i + 1 < len && u[i + 1] == '-') {
			str_appendc(out, '&');
			i += 2;
			after_run = false;
		} else {
			/* "-&": a run right after a run is a null shift. */
			i++;
			if (after_run || decode_run(u, len, &i, out) < 0)
				goto bad;
			after_run = true;
		}
	}
	return 1;
bad:
	str_truncate(out, start);
	return -1;
}

bool imap_utf7_valid(const char *s, size_t len)
{
	struct str tmp = STR_INIT;
	int rc = imap_utf7_decode(s, len, &tmp);
	str_free(&tmp);
	return rc == 1;
}
