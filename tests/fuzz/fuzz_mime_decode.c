/* Fuzz every function of mime_decode and mime_sort on the same input.
 * The first byte picks a charset for mime_charset_to_utf8() and a
 * Content-Transfer-Encoding name; the rest is the data.
 *
 * Invariants: text outputs are well-formed UTF-8; output sizes keep the
 * bounds the headers promise; base64 and quoted-printable decode what the
 * harness encodes back to the original bytes; a UTF-8 conversion of valid
 * UTF-8 is the identity; mime_text_normalize(), mime_preview() and
 * mime_base_subject() are idempotent; a preview has at most 256
 * characters, no control characters, no space at either end or twice in a
 * row; a parsed date formats back (as RFC 5322) to the same time. */
#include <time.h>
#include <unistr.h>

#include "fuzz.h"

#include "mime/mime_decode.h"
#include "mime/mime_imap.h"
#include "mime/mime_sort.h"

static const char *const charsets[] = {
	"utf-8", "us-ascii", "iso-8859-1", "windows-1252", "iso-8859-2",
	"iso-8859-8-i", "koi8-r", "shift_jis", "euc-jp", "iso-2022-jp",
	"gb2312", "big5", "ks_c_5601-1987", "iso-2022-kr", "iso-2022-cn",
	"utf-16", "utf-16le", "utf-32", "utf-7", "tcvn", "windows-1258",
	"euc-tw", "viscii", "x-unknown", "", "utf-8*en",
	"armscii-8", "georgian-ps", "mac", "cp437", "koi8-t", "windows-1255",
};

static const char *const ctes[] = {
	"7bit", "8bit", "binary", "base64", "quoted-printable", "", "x-uue",
	" BASE64 (c)",
};

#define NCHARSETS (sizeof(charsets) / sizeof(charsets[0]))
#define NCTES (sizeof(ctes) / sizeof(ctes[0]))

static bool utf8_ok(const struct str *s)
{
	return s->len == 0 || u8_check((const uint8_t *)s->data, s->len) == NULL;
}

static bool same(const struct str *s, const void *p, size_t n)
{
	return s->len == n && (n == 0 || memcmp(s->data, p, n) == 0);
}

static void encode_base64(const uint8_t *p, size_t n, struct str *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		str_appendc(out, alphabet[v >> 18 & 63]);
		str_appendc(out, alphabet[v >> 12 & 63]);
		str_appendc(out, i + 1 < n ? alphabet[v >> 6 & 63] : '=');
		str_appendc(out, i + 2 < n ? alphabet[v & 63] : '=');
		if (i % 57 == 54)
			str_appends(out, "\r\n");
	}
}

static void encode_qp(const uint8_t *p, size_t n, struct str *out)
{
	size_t line = 0;
	for (size_t i = 0; i < n; i++) {
		if (line >= 72) {
			str_appends(out, "=\r\n");
			line = 0;
		}
		if (p[i] > ' ' && p[i] < 0x7f && p[i] != '=') {
			str_appendc(out, (char)p[i]);
			line++;
		} else {
			str_printf(out, "=%02X", p[i]);
			line += 3;
		}
	}
}

static void check_cte(const char *cte, const char *buf, size_t len)
{
	struct str out = STR_INIT, enc = STR_INIT;
	int rc = mime_decode_cte(cte, strlen(cte), buf, len, &out);
	CHECK(rc == 0 || rc == 1);
	CHECK(rc == 1 || out.len == 0);
	str_free(&out);

	mime_decode_cte("7bit", 4, buf, len, &out);
	CHECK(same(&out, buf, len));
	str_truncate(&out, 0);
	mime_decode_base64(buf, len, &out);
	CHECK(out.len * 4 <= len * 3);
	str_truncate(&out, 0);
	mime_decode_qp(buf, len, &out);
	CHECK(out.len <= len);

	str_truncate(&out, 0);
	encode_base64((const uint8_t *)buf, len, &enc);
	mime_decode_base64(enc.data, enc.len, &out);
	CHECK(same(&out, buf, len));
	str_truncate(&out, 0);
	str_truncate(&enc, 0);
	encode_qp((const uint8_t *)buf, len, &enc);
	mime_decode_qp(enc.data, enc.len, &out);
	CHECK(same(&out, buf, len));
	str_free(&out);
	str_free(&enc);
}

static void check_charset(const char *cs, const char *buf, size_t len)
{
	struct str out = STR_INIT;
	int rc = mime_charset_to_utf8(cs, strlen(cs), buf, len, &out);
	CHECK(rc == (int)mime_charset_known(cs, strlen(cs)));
	CHECK(utf8_ok(&out));
	CHECK(out.len <= 3 * len);
	str_truncate(&out, 0);
	mime_charset_to_utf8("utf-8", 5, buf, len, &out);
	CHECK(utf8_ok(&out));
	CHECK(out.len <= 3 * len);
	if (u8_check((const uint8_t *)buf, len) == NULL)
		CHECK(same(&out, buf, len));
	str_free(&out);
}

static void check_header(const char *buf, size_t len)
{
	struct str out = STR_INIT;
	mime_decode_header(buf, len, &out);
	CHECK(utf8_ok(&out));
	CHECK(out.len <= 3 * len);
	if (u8_check((const uint8_t *)buf, len) == NULL &&
	    memchr(buf, '=', len) == NULL && memchr(buf, '\r', len) == NULL &&
	    memchr(buf, '\n', len) == NULL)
		CHECK(same(&out, buf, len));
	str_free(&out);
}

static void check_normalize(const char *buf, size_t len)
{
	struct str out = STR_INIT, again = STR_INIT;
	mime_text_normalize(buf, len, &out);
	CHECK(utf8_ok(&out));
	CHECK(out.len <= 11 * len);
	mime_text_normalize(out.data, out.len, &again);
	CHECK(same(&again, out.data, out.len));
	str_free(&out);
	str_free(&again);
}

static void check_preview(const char *buf, size_t len)
{
	struct str out = STR_INIT, again = STR_INIT;
	mime_preview(buf, len, &out);
	CHECK(utf8_ok(&out));
	CHECK(u8_mbsnlen((const uint8_t *)out.data, out.len) <=
	      MIME_PREVIEW_MAX_CHARS);
	for (size_t i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];
		CHECK(c >= 0x20 && c != 0x7f);
		CHECK(c != ' ' || (i > 0 && i + 1 < out.len &&
				   out.data[i - 1] != ' '));
	}
	mime_preview(out.data, out.len, &again);
	CHECK(same(&again, out.data, out.len));
	str_free(&out);
	str_free(&again);
}

static void check_subject(const char *buf, size_t len)
{
	struct str out = STR_INIT, again = STR_INIT;
	bool reply, reply2;
	mime_base_subject(buf, len, &out, &reply);
	CHECK(out.len <= len);
	CHECK(!reply || out.len < len);
	mime_base_subject(out.data, out.len, &again, &reply2);
	CHECK(same(&again, out.data, out.len));
	CHECK(!reply2);
	str_free(&out);
	str_free(&again);
}

static void check_date(const char *buf, size_t len)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec"};
	int64_t t, again, local;
	int ok = mime_parse_date(buf, len, &t);
	/* The date as written parses exactly when the instant does, and
	 * differs from it by the zone only (at most 99:59). */
	CHECK(mime_parse_date_local(buf, len, &local) == ok);
	if (ok != 1)
		return;
	CHECK(local - t <= 359940 && t - local <= 359940);
	/* Year 1 minus a 99:59 zone to year 9999 plus one. */
	CHECK(t >= -62135596800 - 360000 && t <= 253402300799 + 360000);
	time_t tt = (time_t)t;
	struct tm tm;
	CHECK(gmtime_r(&tt, &tm) != NULL);
	char text[64];
	snprintf(text, sizeof(text), "%d %s %04d %02d:%02d:%02d +0000",
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
	if (tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
		return;
	CHECK(mime_parse_date(text, strlen(text), &again) == 1);
	CHECK(again == t);
}

static void check_address(const char *buf, size_t len)
{
	struct str mailbox = STR_INIT, display = STR_INIT;
	mime_sort_address(buf, len, &mailbox, &display);
	CHECK(mailbox.len <= len);
	CHECK(display.len <= 3 * len + 1);
	CHECK(utf8_ok(&display));
	/* Each address takes a byte of its mailbox at least, and gets two
	 * of separator. */
	str_clear(&mailbox);
	mime_imap_addresses(buf, len, &mailbox);
	CHECK(mailbox.len <= 3 * len);
	CHECK(mailbox.len < 2 || memcmp(mailbox.data, ", ", 2) != 0);
	str_free(&mailbox);
	str_free(&display);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *cs = charsets[data[0] % NCHARSETS];
	const char *cte = ctes[data[0] / NCHARSETS % NCTES];
	size_t len = size - 1;
	char *buf = fuzz_copy(data + 1, len);

	check_cte(cte, buf, len);
	check_charset(cs, buf, len);
	check_header(buf, len);
	check_normalize(buf, len);
	check_preview(buf, len);
	check_subject(buf, len);
	check_date(buf, len);
	check_address(buf, len);
	free(buf);
	return 0;
}
