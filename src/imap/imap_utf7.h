/* imap_utf7: mailbox names in modified UTF-7 (RFC 3501 5.1.3), the form
 * IMAP4rev1 clients send and expect, to and from the UTF-8 the store keeps.
 *
 * Only canonical forms are accepted, so each name has exactly one
 * encoding: printable US-ASCII (0x20-0x7e) stands for itself, "&" is
 * written "&-", and every other character is in one "&...-" run of
 * modified BASE64 (",", not "/", no padding) of UTF-16BE.  Refused: an
 * unterminated "&", bad BASE64, padding bits that are not zero or make a
 * whole character, a printable ASCII character in BASE64, a null shift
 * ("-&" ending one run and opening the next), a lone or reversed
 * surrogate, and control characters (U+0000-U+001F, U+007F) either way,
 * which no mailbox name holds.  Pure: no state, no I/O. */
#ifndef POSTHORN_IMAP_UTF7_H
#define POSTHORN_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

struct str;

/* Append the modified UTF-7 form of the UTF-8 text s[0..len) to out.
 * Returns 1, or -1 when s is not valid UTF-8 (RFC 3629: no overlong forms,
 * surrogates or code points past U+10FFFF) or holds a control character;
 * then out is left as it was. */
int imap_utf7_encode(const char *s, size_t len, struct str *out);

/* Append the UTF-8 form of the modified UTF-7 text s[0..len) to out.
 * Returns 1, or -1 when s is not canonical modified UTF-7 (see above);
 * then out is left as it was.  The result is at most 9/8 as long as s
 * (8 BASE64 characters hold 3 UTF-16 units, each at most 3 UTF-8 bytes). */
int imap_utf7_decode(const char *s, size_t len, struct str *out);

/* Whether s[0..len) is canonical modified UTF-7 (imap_utf7_decode would
 * accept it). */
bool imap_utf7_valid(const char *s, size_t len);

/* Whether s[0..len) is valid UTF-8 as imap_utf7_encode requires it
 * (control characters allowed here); the command parser uses it for
 * quoted strings under UTF8=ACCEPT. */
bool imap_utf7_utf8_valid(const char *s, size_t len);

#endif
