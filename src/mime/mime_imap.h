/* mime_imap: what IMAP FETCH says of a parsed message (RFC 3501 7.4.2 and
 * 6.4.5, RFC 9051 7.5.2): ENVELOPE, BODY, BODYSTRUCTURE and the header
 * subsets of BODY[HEADER.FIELDS (...)].  The IMAP server computes ENVELOPE
 * and BODYSTRUCTURE once, when a message is stored, and keeps the strings.
 *
 * Output is IMAP syntax, ready to follow "ENVELOPE " or "BODYSTRUCTURE "
 * in a FETCH response.  Header values are sent raw, never decoded (RFC 2047
 * words stay as they are), unfolded (each CRLF of a folded field removed)
 * and without leading and trailing white space.  A string is quoted, or a
 * literal {n}CRLF... when it holds CR, LF or a byte past 0x7f (a NUL byte,
 * which IMAP cannot carry at all, is left out).  Present but empty fields
 * give "", absent ones NIL (RFC 3501 7.4.2).
 *
 * Names the RFCs treat case-insensitively (media type and subtype,
 * parameter names, transfer encoding, disposition type) are sent in upper
 * case, as in the RFC's examples; values as written.  Addresses: the
 * display name is the phrase with quotes removed and its words joined by
 * one space where the message had white space; without a phrase, the last
 * comment of an addr-spec ("user@host (Name)"); NIL if neither or empty.
 * The mailbox is the local part as written (quotes kept, so that mailbox
 * "@" host is a valid address); a missing local part or domain is "" (not
 * NIL, which means a group).  Groups are (NIL NIL "name" NIL) ...
 * (NIL NIL NIL NIL); an unclosed group is closed at the end. */
#ifndef POSTHORN_MIME_IMAP_H
#define POSTHORN_MIME_IMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"
#include "mime/mime.h"

/* Append the ENVELOPE of the message, with its parentheses:
 * (date subject from sender reply-to to cc bcc in-reply-to message-id).
 * Sender and Reply-To default to From when absent or without any
 * address; other address fields without any address are NIL. */
void mime_imap_envelope(const struct mime_msg *msg, struct str *out);

/* Append the addresses of an address field's value (raw, as in the
 * header) to out as text: "mailbox@host" for each, the mailbox and host
 * exactly as ENVELOPE gives them (so without the comments and white
 * space an address may hold between its parts), separated by ", "; an
 * address without a host is its mailbox alone; groups' names, display
 * names and addresses without a mailbox are left out. */
void mime_imap_addresses(const char *value, size_t len, struct str *out);

/* Append the body structure of the message, with its parentheses: BODY
 * when extended is false, BODYSTRUCTURE (with MD5, disposition, language
 * and location, and a multipart's parameters) when true.
 * - text/ * gets a CHARSET "US-ASCII" parameter when it has no charset;
 * - a message/rfc822 or message/global part is followed by the ENVELOPE
 *   and body structure of the message inside it and its line count;
 * - a part left unparsed at a limit, and an encoded message/rfc822, is
 *   "APPLICATION" "OCTET-STREAM" (keeping its parameters);
 * - a multipart without any part (its boundary never appears) holds one
 *   empty text/plain part, since the grammar wants at least one; BODY[n.1]
 *   of it is empty (see mime_layout.h). */
void mime_imap_bodystructure(const struct mime_msg *msg, bool extended,
			     struct str *out);

/* Append the fields of header [hdr, hdr + len) whose names are (not set)
 * or are not (not true) among names[0..n) (ASCII case-insensitive), each
 * whole (its continuation lines and line ends included) and in the
 * header's order, then the header's blank line if it has one: the
 * BODY[HEADER.FIELDS (...)] and BODY[HEADER.FIELDS.NOT (...)] answer. */
void mime_imap_header_fields(const char *hdr, size_t len,
			     const char *const *names, size_t n, bool not,
			     struct str *out);

/* Append [s, s + n) as an IMAP string (quoted or literal, see above). */
void mime_imap_string(struct str *out, const char *s, size_t n);

#endif
