/* mime_meta: what a message store keeps about a message so that IMAP need
 * not read it again: ENVELOPE, BODY and BODYSTRUCTURE text, the part
 * layout, the fields SEARCH and SORT look at, and the text of the
 * full-text index.  Computed once, when the message is stored, from its
 * bytes in one buffer. */
#ifndef POSTHORN_MIME_META_H
#define POSTHORN_MIME_META_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct mime_meta {
	struct str envelope, bodystructure, body, layout;
	int64_t sentdate;	/* the Date: field, 0 if none or unparsable */
	/* SORT keys (RFC 5256): the base subject, decoded, and the first
	 * address's mailbox of From, To and Cc. */
	struct str subject, from, to, cc;
	struct str preview;	/* RFC 8970, from the first text part */
	/* What SEARCH looks into (mime_text.h): the header and body text,
	 * normalised, at most MIME_TEXT_MAX bytes together; none when
	 * past the index's bounds (SEARCH then reads the message). */
	struct str header_text, body_text;
};

/* Fill *m (initialised with MIME_META_INIT or cleared) from a message. */
/* What mime_meta_compute() does beyond the IMAP strings and SORT keys. */
enum {
	/* The text of the full-text index: the dearest part, left to the
	 * first SEARCH for mail that arrives over SMTP (see deliver.c). */
	MIME_META_TEXT = 1 << 0,
};

void mime_meta_compute(const char *data, size_t len, unsigned what,
		       struct mime_meta *m);
void mime_meta_clear(struct mime_meta *m);

#define MIME_META_INIT                                                   \
	{STR_INIT, STR_INIT, STR_INIT, STR_INIT, 0, STR_INIT, STR_INIT,  \
	 STR_INIT, STR_INIT, STR_INIT, STR_INIT, STR_INIT}

#endif
