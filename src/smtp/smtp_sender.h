/* smtp_sender: submission's rules for the sender (RFC 6409 6.1, 8): which
 * addresses an authenticated user may send as, and what a message's
 * header says about it (From, Message-ID, Date).
 *
 * A user's allowed senders are a list of entries, each NUL-terminated,
 * one after the other ("a@x\0b@y\0"):
 *   local@domain   that address (canonical), and its sub-addresses
 *                  (local+tag@domain, with the configured delimiters);
 *   *@domain       any address at that domain;
 *   *              any address at all.
 *
 * Pure: no I/O, no store; nothing allocated but what is freed before
 * returning. */
#ifndef POSTHORN_SMTP_SENDER_H
#define POSTHORN_SMTP_SENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "mime/addr.h"

/* Whether the canonical address a is one the list allows.  delims are the
 * sub-address separators ("" for none). */
bool smtp_sender_allowed(const char *list, size_t len, const struct addr *a,
			 const char *delims);

/* What a message's header holds for submission. */
struct smtp_sender_header {
	unsigned from;		/* mailboxes in From fields */
	unsigned from_fields;	/* From fields */
	bool refused;		/* a From mailbox is not allowed, or a From
				   field is not a plain list of mailboxes */
	char refused_text[ADDR_TEXT_MAX]; /* the first such mailbox, as far
					     as it could be read ("" if
					     none) */
	bool message_id;	/* a Message-ID field is there */
	bool date;		/* a Date field is there */
	bool complete;		/* the blank line that ends the header was
				   in the bytes given */
};

/* Read the header at the start of msg[0..len) (a message as it came in
 * DATA, CRLF line ends) and check every From mailbox against the list.
 * A header that does not end within len is read as far as it goes, with
 * complete = false: the caller must refuse it, since a From field past
 * the end was never looked at. */
void smtp_sender_header(const char *msg, size_t len, const char *list,
			size_t listlen, const char *delims,
			struct smtp_sender_header *r);

#endif
