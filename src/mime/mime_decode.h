/* mime_decode: turning the bytes of a message into text, for IMAP SEARCH,
 * SORT, THREAD, BINARY, PREVIEW and the full-text index.
 *
 * Every function works on a byte buffer the caller gives (a header value,
 * a body part's content) and appends its result to a struct str; none
 * depends on the MIME tree parser.  Input is untrusted: all of them take
 * any bytes, run in time linear in their input, and their output is
 * bounded by a small multiple of it (said for each below).  Text outputs
 * are always well-formed UTF-8.
 *
 * Charsets go through glibc's iconv, for a fixed list of the charsets that
 * mail uses (and their common misspellings); a name outside that list is
 * "unknown".  Each thread keeps a few iconv handles open between calls;
 * they are closed when the thread ends. */
#ifndef POSTHORN_MIME_DECODE_H
#define POSTHORN_MIME_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* RFC 8970: a preview holds at most this many characters (code points). */
#define MIME_PREVIEW_MAX_CHARS 256

/* Undo a Content-Transfer-Encoding (RFC 2045 section 6), named by cte
 * (the header's value, case-insensitive, surrounding whitespace and a
 * trailing comment ignored; NULL or empty means 7bit) and append the
 * result to out.
 *   - 7bit, 8bit, binary: a copy.
 *   - base64: characters outside the base64 alphabet (line breaks, junk)
 *     are skipped; the first "=" in a padding position ends the data; a
 *     last group of 2 or 3 characters without its padding still yields its
 *     1 or 2 bytes, a lone last character nothing.  Output <= 3/4 of len.
 *   - quoted-printable: "=XX" in either case becomes the byte; "=" with
 *     optional spaces before a line break (CRLF or LF) or the end of the
 *     input is a soft line break and disappears; spaces and tabs at the
 *     end of a line are dropped (transport padding); any other "=" stays
 *     as it is.  Hard line breaks are kept as they are.  Output <= len.
 * Returns 1, or 0 for an encoding it does not know (IMAP BINARY answers
 * [UNKNOWN-CTE]); then out is unchanged. */
int mime_decode_cte(const char *cte, size_t cte_len, const char *in,
		    size_t len, struct str *out);
void mime_decode_base64(const char *in, size_t len, struct str *out);
void mime_decode_qp(const char *in, size_t len, struct str *out);

/* Base64 piece by piece: the pieces of one input, in order, give what
 * mime_decode_base64() gives for the whole of it, wherever they are cut.
 * last says that no piece follows; end is set once "=" has ended the
 * data (later pieces then give nothing). */
struct mime_base64 {
	uint32_t acc;
	int k;
	bool end;
};
#define MIME_BASE64_INIT {0, 0, false}
void mime_decode_base64_step(struct mime_base64 *b, const char *in,
			     size_t len, bool last, struct str *out);

/* Whether charset (a MIME charset name, case-insensitive) is one we
 * convert.  SEARCH CHARSET answers [BADCHARSET] for the others. */
bool mime_charset_known(const char *charset, size_t charset_len);

/* Convert len bytes in charset to UTF-8 and append them to out.  Aliases
 * and misspellings are resolved (latin1, cp-1252, ks_c_5601-1987, ...),
 * and a few labels are read as the superset that senders really mean:
 * iso-8859-1 and us-ascii's 8-bit bytes as windows-1252, gb2312 and gbk as
 * GB18030, euc-kr as CP949, shift_jis as CP932, iso-2022-jp as
 * ISO-2022-JP-2.  An RFC 2231 language suffix ("utf-8*en") is ignored.
 * Bytes that are invalid in the charset become U+FFFD and the conversion
 * goes on.  Output <= 3 * len.
 * Returns 1, or 0 for an unknown charset: then the bytes are appended as
 * raw text is (valid UTF-8 kept, other bytes read as windows-1252), so
 * the caller never loses text. */
int mime_charset_to_utf8(const char *charset, size_t charset_len,
			 const char *in, size_t len, struct str *out);

/* A conversion as mime_charset_to_utf8() makes it, piece by piece: the
 * pieces of one text, in order, give what one call gives for the whole of
 * it, wherever they are cut (a character cut in two waits for the next
 * piece; a stateful charset such as ISO-2022-JP keeps its state).  last
 * says that no piece follows.  A stream holds an iconv handle of its own
 * and a few bytes; free it with mime_charset_stream_free(). */
struct mime_charset_stream;
struct mime_charset_stream *mime_charset_stream_new(const char *charset,
						    size_t charset_len);
void mime_charset_stream_put(struct mime_charset_stream *cs, const char *in,
			     size_t len, bool last, struct str *out);
void mime_charset_stream_free(struct mime_charset_stream **cs);

/* Decode an unstructured header value (Subject, a display name, a
 * comment) to UTF-8 and append it to out:
 *   - line breaks are removed (unfolding: the whitespace after them stays);
 *   - RFC 2047 encoded words, B or Q, in any known charset (an unknown one
 *     is decoded as mime_charset_to_utf8() does), with an RFC 2231
 *     language suffix ignored, are decoded wherever they appear, even
 *     without the whitespace around them that the RFC asks for (so
 *     "(=?iso-8859-1?q?a?=)" gives "(a)", as RFC 2047 section 8 shows);
 *   - whitespace between two adjacent encoded words is dropped, and
 *     adjacent words in one charset are joined before conversion, so a
 *     character split across two words survives;
 *   - malformed encoded words are left as they are;
 *   - raw 8-bit text is kept where it is valid UTF-8 (RFC 6532), and any
 *     other byte is read as windows-1252 (Latin-1 with the letters and
 *     quotes of 0x80-0x9F), which is what such headers nearly always are.
 * Output <= 3 * len. */
void mime_decode_header(const char *in, size_t len, struct str *out);

/* Append the i;unicode-casemap form (RFC 5051) of UTF-8 text to out, for
 * SEARCH: a key and a text both passed through this match
 * case-insensitively when the key's form is a substring of the text's
 * (byte comparison).  As the RFC says, each character is replaced by its
 * simple titlecase (UnicodeData field 14) and its decomposition (field 5,
 * canonical and compatibility), again and again until nothing changes; so
 * "i", "I" and Turkish "ı" match, as do "ς", "σ" and "Σ", "ａ" and "A",
 * "ﬁ" and "FI", "é" and "e" followed by U+0301; "ß" stays itself (field
 * 14 has no "SS" for it), and Hangul syllables stay whole (field 5 does
 * not decompose them).  Done as libunistring's NFKD between two
 * titlecasings, which also puts combining marks in canonical order, so
 * that canonically equivalent texts match.  Idempotent.  Invalid UTF-8
 * becomes U+FFFD.  Output <= 11 * len (U+FDFA). */
void mime_text_normalize(const char *in, size_t len, struct str *out);

/* Append the RFC 8970 preview of a UTF-8 text to out: every run of
 * whitespace and control characters becomes one space, none at either
 * end, and at most MIME_PREVIEW_MAX_CHARS characters, cut between two
 * characters (never inside a UTF-8 sequence, and not between a character
 * and its combining marks).  Invalid UTF-8 becomes U+FFFD.  Reads only as
 * much of the input as the preview needs. */
void mime_preview(const char *utf8_text, size_t len, struct str *out);

#endif
