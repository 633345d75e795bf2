/* mime_layout: the byte ranges of every part of a message, kept beside
 * ENVELOPE and BODYSTRUCTURE in the index when a message is stored, so
 * that FETCH BODY[section] and BINARY[section] later read only the bytes
 * they answer with, without parsing the message again.
 *
 * The layout is a small binary string (a version byte, then one record
 * per part in pre-order: kind and transfer encoding, number of children,
 * the size of the records below it, and the part's header, body and end as
 * varints relative to where it must lie), typically a few dozen bytes.
 * Reading it allocates nothing and checks every record it reads: a
 * corrupt or truncated layout gives -1, never a range outside the one of
 * the top-level message (which the caller compares with the message's
 * size it knows).
 *
 * Sections (RFC 3501 6.4.5, RFC 9051 6.4.5):
 * - "" is the whole message; HEADER its header with the blank line, TEXT
 *   its body; MIME needs a part number.
 * - Every message has a part 1: in a message that is not multipart, part
 *   1 is its body, and 1.MIME its header.  Parts of a multipart are
 *   numbered from 1 in order; a message/rfc822 (or message/global) part's
 *   own parts are numbered inside it ("3.1" is part 1 of the message in
 *   part 3, which is that message's body if it is not multipart).
 * - n alone is the body of part n (for a message/rfc822 part, the whole
 *   encapsulated message); n.MIME the part's MIME header;
 *   n.HEADER, n.HEADER.FIELDS[.NOT] and n.TEXT exist only when part n is
 *   message/rfc822 or message/global, and are the header and body of the
 *   message inside it.
 * - A multipart without any part (mime_imap.h) shows one empty part 1:
 *   its body and MIME header are empty.
 * A section that does not exist gives 0: IMAP then answers with an empty
 * string, as Dovecot does and as the RFC's author advised for sections
 * that mean nothing (RFC 3501 and RFC 9051 say nothing more; NIL would
 * also parse, but clients expect text).  A part path that is not valid IMAP (empty number, zero, leading
 * zero, not digits) also gives 0; the command parser rejects those first. */
#ifndef POSTHORN_MIME_LAYOUT_H
#define POSTHORN_MIME_LAYOUT_H

#include <stddef.h>

#include "core/str.h"
#include "mime/mime.h"

#define MIME_LAYOUT_VERSION 1

/* What follows the part path in a section. */
enum mime_section {
	MIME_SECTION_WHOLE,	/* "" or "1.2": the message or the part's body */
	MIME_SECTION_HEADER,
	MIME_SECTION_HEADER_FIELDS,	/* the header: filter it with */
	MIME_SECTION_HEADER_FIELDS_NOT,	/* mime_imap_header_fields() */
	MIME_SECTION_TEXT,
	MIME_SECTION_MIME,
};

struct mime_range {
	size_t off, len;	/* bytes of the message */
	/* The transfer encoding BINARY[section] undoes: the part's for a
	 * part's body, MIME_CTE_BINARY (none) for anything else. */
	enum mime_cte cte;
};

/* Append the layout of msg to out. */
void mime_layout_encode(const struct mime_msg *msg, struct str *out);

/* Resolve part path [path, path + path_len) ("", "1", "4.2.1") and kind
 * into a range of the message.  Returns 1 with *r set, 0 if the section
 * does not exist, -1 if the layout is corrupt. */
int mime_layout_section(const void *layout, size_t len, const char *path,
			size_t path_len, enum mime_section kind,
			struct mime_range *r);

#endif
