#include "mime/mime_decode.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "core/xalloc.h"

#define REPLACEMENT_CHAR 0xfffd

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* ---- UTF-8 ---- */

/* The length of the well-formed UTF-8 sequence at p (Unicode table 3-7)
 * with its code point in *cp_r, or minus the length of its maximal
 * subpart: Unicode's advice is one U+FFFD for each such subpart. */
static int utf8_next(const unsigned char *p, size_t n, uint32_t *cp_r)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	int need;
	uint32_t cp;

	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1, cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2, cp = c & 0x0f;
		lo = c == 0xe0 ? 0xa0 : 0x80;	/* no overlong forms */
		hi = c == 0xed ? 0x9f : 0xbf;	/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3, cp = c & 0x07;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;	/* nothing past U+10FFFF */
	} else {
		return -1;
	}
	for (int i = 1; i <= need; i++) {
		if ((size_t)i >= n || p[i] < lo || p[i] > hi)
			return -i;
		cp = cp << 6 | (p[i] & 0x3f);
		lo = 0x80, hi = 0xbf;
	}
	*cp_r = cp;
	return need + 1;
}

static void append_cp(struct str *out, uint32_t cp)
{
	unsigned char *p = (unsigned char *)str_reserve(out, 4);
	size_t n;
	if (cp < 0x80) {
		p[0] = (unsigned char)cp, n = 1;
	} else if (cp < 0x800) {
		p[0] = (unsigned char)(0xc0 | cp >> 6), n = 2;
	} else if (cp < 0x10000) {
		p[0] = (unsigned char)(0xe0 | cp >> 12), n = 3;
	} else {
		p[0] = (unsigned char)(0xf0 | cp >> 18), n = 4;
	}
	for (size_t i = 1; i < n; i++)
		p[i] = (unsigned char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3f));
	str_commit(out, n);
}

/* Windows-1252's 0x80-0x9F; the five holes are U+FFFD rather than C1
 * controls, which nobody means. */
static const uint16_t cp1252_c1[32] = {
	0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd,
	0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178,
};

static uint32_t cp1252(unsigned char c)
{
	return c >= 0x80 && c < 0xa0 ? cp1252_c1[c - 0x80] : c;
}

/* Append UTF-8 text, invalid sequences replaced: with U+FFFD, or (raw)
 * each of their bytes read as windows-1252, the best guess for 8-bit
 * text that is not UTF-8. */
static void utf8_append(const char *in, size_t len, bool raw,
			struct str *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		uint32_t cp;
		int k = 0;
		for (;;) {
			/* ASCII, most of mail, needs no decoding. */
			while (i < len && p[i] < 0x80)
				i++;
			if (i == len)
				break;
			k = utf8_next(p + i, len - i, &cp);
			if (k <= 0)
				break;
			i += (size_t)k;
		}
		str_append(out, in + start, i - start);
		if (i == len)
			break;
		size_t bad = (size_t)-k;
		if (raw) {
			for (size_t b = 0; b < bad; b++)
				append_cp(out, cp1252(p[i + b]));
		} else {
			append_cp(out, REPLACEMENT_CHAR);
		}
		i += bad;
	}
}

/* ---- Content-Transfer-Encoding ---- */

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void mime_decode_base64_step(struct mime_base64 *b, const char *in,
			     size_t len, bool last, struct str *out)
{
	unsigned char *o = (unsigned char *)str_reserve(out, len / 4 * 3 + 3);
	size_t n = 0;

	for (size_t i = 0; i < len && !b->end; i++) {
		unsigned char c = (unsigned char)in[i];
		int v = base64_value(c);
		if (v < 0) {
			/* RFC 2045 6.8: "=" can only be padding, so it ends
			 * the data; anything else outside the alphabet is
			 * line breaks or junk, to be ignored. */
			if (c == '=' && b->k >= 2)
				b->end = true;
			continue;
		}
		b->acc = b->acc << 6 | (uint32_t)v;
		if (++b->k == 4) {
			o[n++] = (unsigned char)(b->acc >> 16);
			o[n++] = (unsigned char)(b->acc >> 8);
			o[n++] = (unsigned char)b->acc;
			b->acc = 0, b->k = 0;
		}
	}
	if ((last || b->end) && b->k == 2) {
		o[n++] = (unsigned char)(b->acc >> 4);
	} else if ((last || b->end) && b->k == 3) {
		o[n++] = (unsigned char)(b->acc >> 10);
		o[n++] = (unsigned char)(b->acc >> 2);
	}
	if (last || b->end)
		b->acc = 0, b->k = 0;
	str_commit(out, n);
}

void mime_decode_base64(const char *in, size_t len, struct str *out)
{
	struct mime_base64 b = MIME_BASE64_INIT;
	mime_decode_base64_step(&b, in, len, true, out);
}

/* Length of a quoted-printable soft line break at p[0] == '=': the "=",
 * transport padding, then CRLF, LF or the end of the input (a break whose
 * line end was cut off).  0 if this "=" is not one. */
static size_t qp_soft_break(const unsigned char *p, size_t n)
{
	size_t j = 1;
	while (j < n && is_wsp(p[j]))
		j++;
	if (j == n)
		return j;
	if (p[j] == '\n')
		return j + 1;
	if (p[j] == '\r' && j + 1 == n)
		return j + 1;
	if (p[j] == '\r' && p[j + 1] == '\n')
		return j + 2;
	return 0;
}

void mime_decode_qp(const char *in, size_t len, struct str *out)
{
	const unsigned char *p = (const unsigned char *)in;
	char *o = str_reserve(out, len);
	size_t n = 0, i = 0;

	while (i < len) {
		unsigned char c = p[i];
		if (is_wsp(c)) {
			/* Spaces at the end of a line were added in transit
			 * (RFC 2045 6.7 rule 3): drop them. */
			size_t j = i;
			while (j < len && is_wsp(p[j]))
				j++;
			if (j < len && p[j] != '\r' && p[j] != '\n') {
				memcpy(o + n, p + i, j - i);
				n += j - i;
			}
			i = j;
		} else if (c != '=') {
			o[n++] = (char)c;
			i++;
		} else if (i + 2 < len && hex_value(p[i + 1]) >= 0 &&
			   hex_value(p[i + 2]) >= 0) {
			o[n++] = (char)(hex_value(p[i + 1]) << 4 |
					hex_value(p[i + 2]));
			i += 3;
		} else {
			size_t skip = qp_soft_break(p + i, len - i);
			/* A bad escape is kept as it is, the robust reading
			 * RFC 2045 6.7 suggests. */
			if (skip == 0)
				o[n++] = '=';
			i += skip ? skip : 1;
		}
	}
	str_commit(out, n);
}

static bool token_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

int mime_decode_cte(const char *cte, size_t cte_len, const char *in,
		    size_t len, struct str *out)
{
	size_t s = 0, e;
	if (cte == NULL)
		cte = "", cte_len = 0;
	while (s < cte_len && is_space((unsigned char)cte[s]))
		s++;
	e = s;
	while (e < cte_len && !is_space((unsigned char)cte[e]) &&
	       cte[e] != '(' && cte[e] != ';')
		e++;
	const char *name = cte + s;
	size_t n = e - s;

	if (n == 0 || token_is(name, n, "7bit") || token_is(name, n, "8bit") ||
	    token_is(name, n, "binary"))
		str_append(out, in, len);
	else if (token_is(name, n, "base64"))
		mime_decode_base64(in, len, out);
	else if (token_is(name, n, "quoted-printable"))
		mime_decode_qp(in, len, out);
	else
		return 0;
	return 1;
}

/* ---- Charsets ---- */

enum charset_kind {
	CS_UTF8,	/* checked, invalid sequences become U+FFFD */
	CS_RAW,		/* ASCII: 8-bit bytes read as UTF-8 or windows-1252 */
	CS_ICONV,
};

struct charset {
	const char *key;	/* label: lower case, letters and digits only */
	enum charset_kind kind;
	const char *iconv_name;
};

/* The charsets mail uses, by their labels (IANA names and aliases, the
 * WHATWG Encoding Standard's labels, common misspellings).  A fixed list
 * rather than whatever iconv_open() takes: glibc has over a thousand
 * converters, and an attacker picks the charset. */
static const struct charset charsets[] = {
	{"utf8", CS_UTF8, NULL},
	{"unicode11utf8", CS_UTF8, NULL},
	{"unicode20utf8", CS_UTF8, NULL},
	{"xunicode20utf8", CS_UTF8, NULL},
	{"usascii", CS_RAW, NULL},
	{"ascii", CS_RAW, NULL},
	{"ansix341968", CS_RAW, NULL},
	{"iso646us", CS_RAW, NULL},
	{"iso646irv1991", CS_RAW, NULL},
	{"csascii", CS_RAW, NULL},
	{"us", CS_RAW, NULL},
	{"cp367", CS_RAW, NULL},
	{"ibm367", CS_RAW, NULL},
	/* Latin-1 labels mean windows-1252: its C1 range holds the quotes
	 * and dashes that senders wrote, never control characters. */
	{"iso88591", CS_ICONV, "WINDOWS-1252"},
	{"iso885911987", CS_ICONV, "WINDOWS-1252"},
	{"latin1", CS_ICONV, "WINDOWS-1252"},
	{"l1", CS_ICONV, "WINDOWS-1252"},
	{"isoir100", CS_ICONV, "WINDOWS-1252"},
	{"csisolatin1", CS_ICONV, "WINDOWS-1252"},
	{"cp819", CS_ICONV, "WINDOWS-1252"},
	{"ibm819", CS_ICONV, "WINDOWS-1252"},
	{"windows1252", CS_ICONV, "WINDOWS-1252"},
	{"cp1252", CS_ICONV, "WINDOWS-1252"},
	{"xcp1252", CS_ICONV, "WINDOWS-1252"},
	{"win1252", CS_ICONV, "WINDOWS-1252"},
	{"iso88592", CS_ICONV, "ISO-8859-2"},
	{"iso885921987", CS_ICONV, "ISO-8859-2"},
	{"latin2", CS_ICONV, "ISO-8859-2"},
	{"l2", CS_ICONV, "ISO-8859-2"},
	{"isoir101", CS_ICONV, "ISO-8859-2"},
	{"csisolatin2", CS_ICONV, "ISO-8859-2"},
	{"iso88593", CS_ICONV, "ISO-8859-3"},
	{"latin3", CS_ICONV, "ISO-8859-3"},
	{"l3", CS_ICONV, "ISO-8859-3"},
	{"csisolatin3", CS_ICONV, "ISO-8859-3"},
	{"iso88594", CS_ICONV, "ISO-8859-4"},
	{"latin4", CS_ICONV, "ISO-8859-4"},
	{"l4", CS_ICONV, "ISO-8859-4"},
	{"csisolatin4", CS_ICONV, "ISO-8859-4"},
	{"iso88595", CS_ICONV, "ISO-8859-5"},
	{"cyrillic", CS_ICONV, "ISO-8859-5"},
	{"csisolatincyrillic", CS_ICONV, "ISO-8859-5"},
	{"iso88596", CS_ICONV, "ISO-8859-6"},
	{"iso88596e", CS_ICONV, "ISO-8859-6"},
	{"iso88596i", CS_ICONV, "ISO-8859-6"},
	{"arabic", CS_ICONV, "ISO-8859-6"},
	{"asmo708", CS_ICONV, "ISO-8859-6"},
	{"ecma114", CS_ICONV, "ISO-8859-6"},
	{"csisolatinarabic", CS_ICONV, "ISO-8859-6"},
	{"iso88597", CS_ICONV, "ISO-8859-7"},
	{"greek", CS_ICONV, "ISO-8859-7"},
	{"greek8", CS_ICONV, "ISO-8859-7"},
	{"ecma118", CS_ICONV, "ISO-8859-7"},
	{"elot928", CS_ICONV, "ISO-8859-7"},
	{"csisolatingreek", CS_ICONV, "ISO-8859-7"},
	{"iso88598", CS_ICONV, "ISO-8859-8"},
	{"iso88598e", CS_ICONV, "ISO-8859-8"},
	{"iso88598i", CS_ICONV, "ISO-8859-8"},
	{"hebrew", CS_ICONV, "ISO-8859-8"},
	{"visual", CS_ICONV, "ISO-8859-8"},
	{"logical", CS_ICONV, "ISO-8859-8"},
	{"csisolatinhebrew", CS_ICONV, "ISO-8859-8"},
	/* Latin-5 is windows-1254 with the C1 range empty: read it as
	 * windows-1254, as Latin-1 above. */
	{"iso88599", CS_ICONV, "WINDOWS-1254"},
	{"latin5", CS_ICONV, "WINDOWS-1254"},
	{"l5", CS_ICONV, "WINDOWS-1254"},
	{"csisolatin5", CS_ICONV, "WINDOWS-1254"},
	{"windows1254", CS_ICONV, "WINDOWS-1254"},
	{"cp1254", CS_ICONV, "WINDOWS-1254"},
	{"xcp1254", CS_ICONV, "WINDOWS-1254"},
	{"iso885910", CS_ICONV, "ISO-8859-10"},
	{"latin6", CS_ICONV, "ISO-8859-10"},
	{"l6", CS_ICONV, "ISO-8859-10"},
	{"csisolatin6", CS_ICONV, "ISO-8859-10"},
	{"iso885911", CS_ICONV, "CP874"},
	{"tis620", CS_ICONV, "CP874"},
	{"windows874", CS_ICONV, "CP874"},
	{"cp874", CS_ICONV, "CP874"},
	{"dos874", CS_ICONV, "CP874"},
	{"iso885913", CS_ICONV, "ISO-8859-13"},
	{"latin7", CS_ICONV, "ISO-8859-13"},
	{"l7", CS_ICONV, "ISO-8859-13"},
	{"iso885914", CS_ICONV, "ISO-8859-14"},
	{"latin8", CS_ICONV, "ISO-8859-14"},
	{"l8", CS_ICONV, "ISO-8859-14"},
	{"iso885915", CS_ICONV, "ISO-8859-15"},
	{"latin9", CS_ICONV, "ISO-8859-15"},
	{"latin0", CS_ICONV, "ISO-8859-15"},
	{"l9", CS_ICONV, "ISO-8859-15"},
	{"csisolatin9", CS_ICONV, "ISO-8859-15"},
	{"iso885916", CS_ICONV, "ISO-8859-16"},
	{"latin10", CS_ICONV, "ISO-8859-16"},
	{"l10", CS_ICONV, "ISO-8859-16"},
	{"windows1250", CS_ICONV, "WINDOWS-1250"},
	{"cp1250", CS_ICONV, "WINDOWS-1250"},
	{"xcp1250", CS_ICONV, "WINDOWS-1250"},
	{"windows1251", CS_ICONV, "WINDOWS-1251"},
	{"cp1251", CS_ICONV, "WINDOWS-1251"},
	{"xcp1251", CS_ICONV, "WINDOWS-1251"},
	{"windows1253", CS_ICONV, "WINDOWS-1253"},
	{"cp1253", CS_ICONV, "WINDOWS-1253"},
	{"xcp1253", CS_ICONV, "WINDOWS-1253"},
	{"windows1255", CS_ICONV, "WINDOWS-1255"},
	{"cp1255", CS_ICONV, "WINDOWS-1255"},
	{"xcp1255", CS_ICONV, "WINDOWS-1255"},
	{"windows1256", CS_ICONV, "WINDOWS-1256"},
	{"cp1256", CS_ICONV, "WINDOWS-1256"},
	{"xcp1256", CS_ICONV, "WINDOWS-1256"},
	{"windows1257", CS_ICONV, "WINDOWS-1257"},
	{"cp1257", CS_ICONV, "WINDOWS-1257"},
	{"xcp1257", CS_ICONV, "WINDOWS-1257"},
	{"windows1258", CS_ICONV, "WINDOWS-1258"},
	{"cp1258", CS_ICONV, "WINDOWS-1258"},
	{"xcp1258", CS_ICONV, "WINDOWS-1258"},
	{"koi8r", CS_ICONV, "KOI8-R"},
	{"koi8", CS_ICONV, "KOI8-R"},
	{"koi", CS_ICONV, "KOI8-R"},
	{"cskoi8r", CS_ICONV, "KOI8-R"},
	{"koi8u", CS_ICONV, "KOI8-U"},
	{"koi8ru", CS_ICONV, "KOI8-U"},
	{"koi8t", CS_ICONV, "KOI8-T"},
	{"ibm866", CS_ICONV, "IBM866"},
	{"cp866", CS_ICONV, "IBM866"},
	{"csibm866", CS_ICONV, "IBM866"},
	{"ibm437", CS_ICONV, "CP437"},
	{"cp437", CS_ICONV, "CP437"},
	{"ibm850", CS_ICONV, "CP850"},
	{"cp850", CS_ICONV, "CP850"},
	{"ibm852", CS_ICONV, "CP852"},
	{"cp852", CS_ICONV, "CP852"},
	{"macintosh", CS_ICONV, "MACINTOSH"},
	{"mac", CS_ICONV, "MACINTOSH"},
	{"macroman", CS_ICONV, "MACINTOSH"},
	{"xmacroman", CS_ICONV, "MACINTOSH"},
	{"csmacintosh", CS_ICONV, "MACINTOSH"},
	{"xmaccyrillic", CS_ICONV, "MAC-CYRILLIC"},
	{"maccyrillic", CS_ICONV, "MAC-CYRILLIC"},
	{"xmacukrainian", CS_ICONV, "MACUKRAINIAN"},
	{"viscii", CS_ICONV, "VISCII"},
	{"tcvn", CS_ICONV, "TCVN5712-1"},
	{"tcvn5712", CS_ICONV, "TCVN5712-1"},
	{"tcvn57121", CS_ICONV, "TCVN5712-1"},
	{"armscii8", CS_ICONV, "ARMSCII-8"},
	{"georgianps", CS_ICONV, "GEORGIAN-PS"},
	{"georgianacademy", CS_ICONV, "GEORGIAN-ACADEMY"},
	/* Chinese: GB18030 is a superset of GB2312 and GBK. */
	{"gb18030", CS_ICONV, "GB18030"},
	{"gb2312", CS_ICONV, "GB18030"},
	{"gb231280", CS_ICONV, "GB18030"},
	{"csgb2312", CS_ICONV, "GB18030"},
	{"csiso58gb231280", CS_ICONV, "GB18030"},
	{"isoir58", CS_ICONV, "GB18030"},
	{"euccn", CS_ICONV, "GB18030"},
	{"xeuccn", CS_ICONV, "GB18030"},
	{"chinese", CS_ICONV, "GB18030"},
	{"gbk", CS_ICONV, "GB18030"},
	{"xgbk", CS_ICONV, "GB18030"},
	{"cp936", CS_ICONV, "GB18030"},
	{"ms936", CS_ICONV, "GB18030"},
	{"windows936", CS_ICONV, "GB18030"},
	{"big5", CS_ICONV, "BIG5-HKSCS"},
	{"big5hkscs", CS_ICONV, "BIG5-HKSCS"},
	{"cnbig5", CS_ICONV, "BIG5-HKSCS"},
	{"csbig5", CS_ICONV, "BIG5-HKSCS"},
	{"xxbig5", CS_ICONV, "BIG5-HKSCS"},
	{"cp950", CS_ICONV, "CP950"},
	{"ms950", CS_ICONV, "CP950"},
	{"windows950", CS_ICONV, "CP950"},
	{"euctw", CS_ICONV, "EUC-TW"},
	{"iso2022cn", CS_ICONV, "ISO-2022-CN"},
	{"csiso2022cn", CS_ICONV, "ISO-2022-CN"},
	/* Japanese: the Microsoft supersets, which senders' NEC and IBM
	 * characters (circled digits, roman numerals) need. */
	{"shiftjis", CS_ICONV, "CP932"},
	{"sjis", CS_ICONV, "CP932"},
	{"xsjis", CS_ICONV, "CP932"},
	{"mskanji", CS_ICONV, "CP932"},
	{"csshiftjis", CS_ICONV, "CP932"},
	{"windows31j", CS_ICONV, "CP932"},
	{"cswindows31j", CS_ICONV, "CP932"},
	{"cp932", CS_ICONV, "CP932"},
	{"ms932", CS_ICONV, "CP932"},
	{"eucjp", CS_ICONV, "EUC-JP-MS"},
	{"xeucjp", CS_ICONV, "EUC-JP-MS"},
	{"cseucpkdfmtjapanese", CS_ICONV, "EUC-JP-MS"},
	{"iso2022jp", CS_ICONV, "ISO-2022-JP-2"},
	{"csiso2022jp", CS_ICONV, "ISO-2022-JP-2"},
	{"iso2022jp2", CS_ICONV, "ISO-2022-JP-2"},
	{"csiso2022jp2", CS_ICONV, "ISO-2022-JP-2"},
	/* Korean: CP949 (UHC) is a superset of EUC-KR. */
	{"euckr", CS_ICONV, "CP949"},
	{"cseuckr", CS_ICONV, "CP949"},
	{"ksc56011987", CS_ICONV, "CP949"},
	{"ksc56011989", CS_ICONV, "CP949"},
	{"ksc5601", CS_ICONV, "CP949"},
	{"csksc56011987", CS_ICONV, "CP949"},
	{"isoir149", CS_ICONV, "CP949"},
	{"korean", CS_ICONV, "CP949"},
	{"windows949", CS_ICONV, "CP949"},
	{"cp949", CS_ICONV, "CP949"},
	{"uhc", CS_ICONV, "CP949"},
	{"iso2022kr", CS_ICONV, "ISO-2022-KR"},
	{"csiso2022kr", CS_ICONV, "ISO-2022-KR"},
	{"utf16", CS_ICONV, "UTF-16"},
	{"utf16be", CS_ICONV, "UTF-16BE"},
	{"utf16le", CS_ICONV, "UTF-16LE"},
	{"ucs2", CS_ICONV, "UTF-16"},
	{"utf32", CS_ICONV, "UTF-32"},
	{"utf32be", CS_ICONV, "UTF-32BE"},
	{"utf32le", CS_ICONV, "UTF-32LE"},
	{"utf7", CS_ICONV, "UTF-7"},
	{"unicode11utf7", CS_ICONV, "UTF-7"},
	{"csunicode11utf7", CS_ICONV, "UTF-7"},
};

#define CHARSET_KEY_MAX 24

/* The table entry for a charset name: letters and digits only, in lower
 * case, up to an RFC 2231 language suffix ("*en"). */
static const struct charset *charset_find(const char *name, size_t len)
{
	char key[CHARSET_KEY_MAX + 1];
	size_t n = 0;
	for (size_t i = 0; i < len && name[i] != '*'; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c < 'a' || c > 'z') && (c < '0' || c > '9'))
			continue;
		if (n == CHARSET_KEY_MAX)
			return NULL;
		key[n++] = (char)c;
	}
	key[n] = '\0';
	for (size_t i = 0; i < sizeof(charsets) / sizeof(charsets[0]); i++)
		if (strcmp(charsets[i].key, key) == 0)
			return &charsets[i];
	return NULL;
}

bool mime_charset_known(const char *charset, size_t charset_len)
{
	return charset_find(charset, charset_len) != NULL;
}

/* Each thread keeps its last few iconv handles: opening one costs more
 * than converting a header's worth of text. */
#define CONV_SLOTS 4

struct conv_slot {
	const char *name;	/* a table's iconv_name; NULL: unused */
	iconv_t cd;		/* (iconv_t)-1: glibc lacks the converter */
	unsigned long used;
};

struct conv_cache {
	struct conv_slot slot[CONV_SLOTS];
	unsigned long clock;
};

/* Set once, then only read: the key that finds each thread's cache and
 * closes it when the thread ends. */
static pthread_key_t conv_key;
static pthread_once_t conv_once = PTHREAD_ONCE_INIT;

static void conv_cache_free(void *p)
{
	struct conv_cache *c = p;
	for (int i = 0; i < CONV_SLOTS; i++)
		if (c->slot[i].name != NULL && c->slot[i].cd != (iconv_t)-1)
			iconv_close(c->slot[i].cd);
	free(c);
}

static void conv_key_create(void)
{
	if (pthread_key_create(&conv_key, conv_cache_free) != 0)
		abort();
}

static iconv_t conv_get(const char *name)
{
	pthread_once(&conv_once, conv_key_create);
	struct conv_cache *c = pthread_getspecific(conv_key);
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		if (pthread_setspecific(conv_key, c) != 0)
			abort();
	}
	struct conv_slot *victim = &c->slot[0];
	for (int i = 0; i < CONV_SLOTS; i++) {
		struct conv_slot *s = &c->slot[i];
		if (s->name == name) {
			s->used = ++c->clock;
			return s->cd;
		}
		if (s->name == NULL || s->used < victim->used)
			victim = s;
	}
	if (victim->name != NULL && victim->cd != (iconv_t)-1)
		iconv_close(victim->cd);
	victim->name = name;
	victim->cd = iconv_open("UTF-8", name);
	victim->used = ++c->clock;
	return victim->cd;
}

/* Convert with iconv; each byte it refuses becomes U+FFFD.  Every
 * converter in the table writes at most 3 bytes of UTF-8 per input byte
 * (measured over all their 1- and 2-byte inputs), as U+FFFD does. */
static void iconv_append(iconv_t cd, const char *in, size_t len,
			 struct str *out)
{
	char *ip = (char *)in;	/* iconv() takes char ** but only reads */
	size_t il = len;

	iconv(cd, NULL, NULL, NULL, NULL);
	while (il > 0) {
		size_t room = (il < 65536 ? il : 65536) * 3 + 16, ol = room;
		size_t before = il;
		char *op = str_reserve(out, room);
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		int err = errno;
		str_commit(out, room - ol);
		if (r != (size_t)-1)
			break;
		if (err == E2BIG && (il < before || ol < room))
			continue;
		append_cp(out, REPLACEMENT_CHAR);
		if (err == EINVAL)	/* a sequence cut off by the end */
			break;
		if (il > 0)
			ip++, il--;
	}
	size_t ol = 16;
	char *op = str_reserve(out, ol);
	iconv(cd, NULL, NULL, &op, &ol);
	str_commit(out, 16 - ol);
}

int mime_charset_to_utf8(const char *charset, size_t charset_len,
			 const char *in, size_t len, struct str *out)
{
	const struct charset *cs = charset_find(charset, charset_len);
	if (cs == NULL) {
		utf8_append(in, len, true, out);
		return 0;
	}
	switch (cs->kind) {
	case CS_UTF8:
		utf8_append(in, len, false, out);
		return 1;
	case CS_RAW:
		utf8_append(in, len, true, out);
		return 1;
	case CS_ICONV:
		break;
	}
	iconv_t cd = conv_get(cs->iconv_name);
	if (cd == (iconv_t)-1) {
		utf8_append(in, len, true, out);
		return 0;
	}
	iconv_append(cd, in, len, out);
	return 1;
}

/* ---- charsets, piece by piece ---- */

/* The longest sequence a converter may leave unfinished at the end of a
 * piece: GB18030's four bytes, or a UTF-16 surrogate pair, and a few bytes
 * more for a shift sequence. */
#define STREAM_CARRY_MAX 16

struct mime_charset_stream {
	enum charset_kind kind;	/* CS_RAW also for an unknown charset */
	iconv_t cd;		/* CS_ICONV: our own, so its state is ours */
	char carry[STREAM_CARRY_MAX];
	size_t ncarry;
};

struct mime_charset_stream *mime_charset_stream_new(const char *charset,
						    size_t charset_len)
{
	struct mime_charset_stream *cs = xcalloc(1, sizeof(*cs));
	const struct charset *c = charset_find(charset, charset_len);
	cs->kind = c != NULL ? c->kind : CS_RAW;
	cs->cd = (iconv_t)-1;
	if (cs->kind == CS_ICONV)
		cs->cd = iconv_open("UTF-8", c->iconv_name);
	if (cs->kind == CS_ICONV && cs->cd == (iconv_t)-1)
		cs->kind = CS_RAW;
	return cs;
}

void mime_charset_stream_free(struct mime_charset_stream **csp)
{
	struct mime_charset_stream *cs = *csp;
	if (cs == NULL)
		return;
	if (cs->cd != (iconv_t)-1)
		iconv_close(cs->cd);
	free(cs);
	*csp = NULL;
}

/* Where an unfinished UTF-8 sequence begins in the last bytes of p, or
 * len when the text ends between two sequences. */
static size_t utf8_tail(const unsigned char *p, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = p[len - back];
		if ((c & 0xc0) == 0x80)
			continue;
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > back ? len - back : len;
	}
	return len;
}

/* iconv without a reset between pieces; a sequence cut off by the end of
 * a piece waits in carry for the next one. */
static void stream_iconv(struct mime_charset_stream *cs, const char *in,
			 size_t len, bool last, struct str *out)
{
	char *ip = (char *)in;
	size_t il = len;
	while (il > 0) {
		size_t room = (il < 65536 ? il : 65536) * 3 + 16, ol = room;
		size_t before = il;
		char *op = str_reserve(out, room);
		size_t r = iconv(cs->cd, &ip, &il, &op, &ol);
		int err = errno;
		str_commit(out, room - ol);
		if (r != (size_t)-1)
			break;
		if (err == E2BIG && (il < before || ol < room))
			continue;
		if (err == EINVAL && !last && il <= STREAM_CARRY_MAX) {
			memcpy(cs->carry, ip, il);
			cs->ncarry = il;
			return;
		}
		append_cp(out, REPLACEMENT_CHAR);
		if (err == EINVAL)
			break;
		if (il > 0)
			ip++, il--;
	}
	if (!last)
		return;
	size_t ol = 16;
	char *op = str_reserve(out, ol);
	iconv(cs->cd, NULL, NULL, &op, &ol);
	str_commit(out, 16 - ol);
}

void mime_charset_stream_put(struct mime_charset_stream *cs, const char *in,
			     size_t len, bool last, struct str *out)
{
	struct str buf = STR_INIT;
	if (cs->ncarry > 0) {
		str_append(&buf, cs->carry, cs->ncarry);
		str_append(&buf, in, len);
		in = buf.data, len = buf.len;
		cs->ncarry = 0;
	}
	if (cs->kind == CS_ICONV) {
		stream_iconv(cs, in, len, last, out);
	} else {
		size_t cut = last ? len
				  : utf8_tail((const unsigned char *)in, len);
		utf8_append(in, cut, cs->kind == CS_RAW, out);
		memcpy(cs->carry, in + cut, len - cut);
		cs->ncarry = len - cut;
	}
	str_free(&buf);
}

/* ---- RFC 2047 encoded words ---- */

struct encoded_word {
	const char *charset;	/* without the RFC 2231 language */
	size_t charset_len;
	char encoding;		/* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t len;		/* of the whole word */
};

static bool is_charset_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-^_`{|}~.:", c) != NULL);
}

/* Parse "=?charset?e?text?=" at p.  The text may hold any byte but "?"
 * and whitespace, so a failed parse never skips a later word's "=?". */
static bool encoded_word_parse(const char *p, size_t n,
			       struct encoded_word *w)
{
	size_t i = 2;
	while (i < n && i < 2 + 75 && is_charset_char((unsigned char)p[i]))
		i++;
	if (i + 2 >= n || p[i] != '?' || p[i + 2] != '?')
		return false;
	w->charset = p + 2;
	w->charset_len = i - 2;
	const char *star = memchr(w->charset, '*', w->charset_len);
	if (star != NULL)
		w->charset_len = (size_t)(star - w->charset);
	w->encoding = (char)(p[i + 1] & ~0x20);
	if (w->charset_len == 0 || (w->encoding != 'B' && w->encoding != 'Q'))
		return false;
	i += 3;
	w->text = p + i;
	while (i < n && p[i] != '?' && !is_space((unsigned char)p[i]))
		i++;
	if (i + 1 >= n || p[i] != '?' || p[i + 1] != '=')
		return false;
	w->text_len = (size_t)(p + i - w->text);
	w->len = i + 2;
	return true;
}

static void decode_q(const char *t, size_t n, struct str *out)
{
	char *o = str_reserve(out, n);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '_') {
			o[k++] = ' ';
		} else if (c == '=' && i + 2 < n &&
			   hex_value((unsigned char)t[i + 1]) >= 0 &&
			   hex_value((unsigned char)t[i + 2]) >= 0) {
			o[k++] = (char)(hex_value((unsigned char)t[i + 1]) << 4 |
					hex_value((unsigned char)t[i + 2]));
			i += 2;
		} else {
			o[k++] = (char)c;
		}
	}
	str_commit(out, k);
}

/* Decoded bytes of adjacent encoded words in one charset, converted
 * together so that a character split between two words survives. */
struct word_run {
	struct str bytes;
	const char *charset;	/* NULL: no run */
	size_t charset_len;
};

static void word_run_flush(struct word_run *r, struct str *out)
{
	if (r->charset == NULL)
		return;
	mime_charset_to_utf8(r->charset, r->charset_len,
			     r->bytes.len ? r->bytes.data : "", r->bytes.len,
			     out);
	str_truncate(&r->bytes, 0);
	r->charset = NULL;
}

static void word_run_add(struct word_run *r, const struct encoded_word *w,
			 struct str *out)
{
	if (r->charset != NULL &&
	    (r->charset_len != w->charset_len ||
	     strncasecmp(r->charset, w->charset, w->charset_len) != 0))
		word_run_flush(r, out);
	r->charset = w->charset;
	r->charset_len = w->charset_len;
	if (w->encoding == 'B')
		mime_decode_base64(w->text, w->text_len, &r->bytes);
	else
		decode_q(w->text, w->text_len, &r->bytes);
}

/* Whitespace as it stands, unfolded: line breaks removed. */
static void append_unfolded(const char *p, size_t n, struct str *out)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n')
			str_appendc(out, p[i]);
}

void mime_decode_header(const char *in, size_t len, struct str *out)
{
	struct word_run run = {STR_INIT, NULL, 0};
	const char *ws = in;	/* whitespace after an encoded word */
	size_t ws_len = 0, i = 0;
	bool after_word = false;

	while (i < len) {
		struct encoded_word w;
		size_t j = i + 1;
		if (is_space((unsigned char)in[i])) {
			while (j < len && is_space((unsigned char)in[j]))
				j++;
			/* Held back: dropped if another word follows. */
			if (after_word)
				ws = in + i, ws_len = j - i;
			else
				append_unfolded(in + i, j - i, out);
		} else if (in[i] == '=' && j < len && in[j] == '?' &&
			   encoded_word_parse(in + i, len - i, &w)) {
			word_run_add(&run, &w, out);
			after_word = true, ws_len = 0;
			j = i + w.len;
		} else {
			word_run_flush(&run, out);
			append_unfolded(ws, ws_len, out);
			after_word = false, ws_len = 0;
			while (j < len && !is_space((unsigned char)in[j]) &&
			       !(in[j] == '=' && j + 1 < len && in[j + 1] == '?'))
				j++;
			utf8_append(in + i, j - i, true, out);
		}
		i = j;
	}
	word_run_flush(&run, out);
	append_unfolded(ws, ws_len, out);
	str_free(&run.bytes);
}

/* ---- i;unicode-casemap ---- */

static bool is_hangul_syllable(uint32_t cp)
{
	return cp >= 0xac00 && cp <= 0xd7a3;
}

static bool needs_nfkd(uint32_t cp)
{
	int tag;
	ucs4_t d[UC_DECOMPOSITION_MAX_LENGTH];
	return uc_combining_class(cp) != 0 || uc_decomposition(cp, &tag, d) > 0;
}

/* Decompose titlecased text (NFKD) and titlecase the result again: letters
 * that come out of a compatibility decomposition ("ﬁ" -> "fi") are in
 * whatever case the decomposition gives.  Checked over every code point:
 * no titlecase of a decomposed character decomposes again, so this is the
 * fixed point RFC 5051 asks for. */
static void casemap_flush(struct str *seg, bool *nfkd, struct str *out)
{
	if (!*nfkd) {
		str_append(out, seg->data, seg->len);
	} else {
		uint8_t buf[512];
		size_t n = sizeof(buf);
		uint8_t *r = u8_normalize(UNINORM_NFKD, (uint8_t *)seg->data,
					  seg->len, buf, &n);
		if (r == NULL)	/* out of memory: the input is valid */
			abort();
		for (size_t i = 0; i < n;) {
			ucs4_t cp;
			i += (size_t)u8_mbtouc_unsafe(&cp, r + i, n - i);
			append_cp(out, uc_totitle(cp));
		}
		if (r != buf)
			free(r);
	}
	str_truncate(seg, 0);
	*nfkd = false;
}

static void ascii_upper(const char *in, size_t n, struct str *out)
{
	char *o = str_reserve(out, n);
	for (size_t i = 0; i < n; i++)
		o[i] = in[i] >= 'a' && in[i] <= 'z' ? (char)(in[i] - 32) : in[i];
	str_commit(out, n);
}

/* Non-ASCII text gathers in seg and is decomposed at the next ASCII
 * character or Hangul syllable: both are starters that decompose to
 * nothing else, so NFKD's reordering of combining marks never spans
 * them, and most Latin text needs no NFKD call at all. */
void mime_text_normalize(const char *in, size_t len, struct str *out)
{
	const unsigned char *p = (const unsigned char *)in;
	struct str seg = STR_INIT;
	bool nfkd = false;
	size_t i = 0;

	while (i < len) {
		if (p[i] < 0x80) {
			size_t j = i + 1;
			while (j < len && p[j] < 0x80)
				j++;
			casemap_flush(&seg, &nfkd, out);
			ascii_upper(in + i, j - i, out);
			i = j;
			continue;
		}
		uint32_t cp;
		int k = utf8_next(p + i, len - i, &cp);
		if (k < 0)
			cp = REPLACEMENT_CHAR, k = -k;
		i += (size_t)k;
		cp = uc_totitle(cp);
		if (is_hangul_syllable(cp)) {
			casemap_flush(&seg, &nfkd, out);
			append_cp(out, cp);
			continue;
		}
		append_cp(&seg, cp);
		nfkd = nfkd || needs_nfkd(cp);
	}
	casemap_flush(&seg, &nfkd, out);
	str_free(&seg);
}

/* ---- PREVIEW ---- */

static bool is_preview_space(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xfeff ||
	       uc_is_property_white_space(cp);
}

void mime_preview(const char *utf8_text, size_t len, struct str *out)
{
	const unsigned char *p = (const unsigned char *)utf8_text;
	size_t start = out->len, base = out->len, chars = 0, i = 0;
	bool space = false;	/* a space is due before the next character */

	while (i < len) {
		uint32_t cp;
		int k = utf8_next(p + i, len - i, &cp);
		if (k < 0)
			cp = REPLACEMENT_CHAR, k = -k;
		i += (size_t)k;
		if (is_preview_space(cp)) {
			space = chars > 0;
			continue;
		}
		bool mark = uc_combining_class(cp) != 0;
		if (chars + space + 1 > MIME_PREVIEW_MAX_CHARS) {
			/* Keep a character whole with its marks, or drop
			 * it. */
			if (mark && !space) {
				str_truncate(out, base);
				while (out->len > start &&
				       out->data[out->len - 1] == ' ')
					str_truncate(out, out->len - 1);
			}
			break;
		}
		if (space) {
			base = out->len;
			str_appendc(out, ' ');
			chars++, space = false;
		}
		if (!mark)
			base = out->len;
		append_cp(out, cp);
		chars++;
	}
}
