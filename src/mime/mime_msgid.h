/* mime_msgid: the msg-ids of a message's Message-ID, In-Reply-To and
 * References fields (RFC 5322 3.6.4), for threading: THREAD=REFERENCES
 * (RFC 5256) and the THREADID that the store gives each message (RFC
 * 8474).
 *
 * Pure: no I/O, no global state.  The input is whatever a sender wrote,
 * so time is linear in it and what is kept is bounded. */
#ifndef POSTHORN_MIME_MSGID_H
#define POSTHORN_MIME_MSGID_H

#include <stddef.h>

#include "core/str.h"

/* Append to out the normalized msg-ids ("<" id-left "@" id-right ">",
 * RFC 5322 3.6.4) found in a raw header value (Message-ID, References,
 * In-Reply-To; folding kept or not), each ending in NUL, keeping only the
 * last max of them.  Normalized: the text between the angle brackets
 * without white space, line ends and comments, quoted strings unquoted
 * (so <"a.b"@x> and <a.b@x> are one id), as RFC 5256 asks.  Text outside
 * angle brackets, comments and quoted strings included, is skipped; an
 * id without "@" or with a NUL byte is not an id.  Linear time; output
 * <= len + 1 bytes.  Returns the number of ids appended. */
size_t mime_msgid_list(const char *value, size_t len, size_t max,
		       struct str *out);

/* Append the first msg-id of a raw header value to out, NUL-terminated.
 * Returns 1, or 0 (nothing appended) if it holds none. */
int mime_msgid_first(const char *value, size_t len, struct str *out);

/* How many ids of References count for a message's thread: its first
 * (the root of the conversation) and the last ones (the nearest
 * ancestors).  A long References field says nothing more that a thread
 * needs, and each id kept costs the store a lookup. */
#define MIME_MSGID_THREAD_REFS 10

/* The ids that place one message in a thread, owned. */
struct mime_msgid_thread {
	struct str own;		/* first id of the first Message-ID field,
				 * "" if none (len is its strlen) */
	struct str refs;	/* the ids that name its conversation, most
				 * telling first, each ending in NUL: the
				 * first id of the first References field,
				 * its last MIME_MSGID_THREAD_REFS - 1 ids
				 * (nearest last), then the first id of the
				 * first In-Reply-To field; no id twice */
	size_t nrefs;		/* at most MIME_MSGID_THREAD_REFS + 1 */
};

#define MIME_MSGID_THREAD_INIT {STR_INIT, STR_INIT, 0}

/* Fill *t (initialised with MIME_MSGID_THREAD_INIT or cleared) from a
 * message's header [hdr, hdr + len), which may lack its blank line (a
 * header cut short); what follows a blank line is not looked at. */
void mime_msgid_thread_parse(const char *hdr, size_t len,
			     struct mime_msgid_thread *t);
void mime_msgid_thread_clear(struct mime_msgid_thread *t);

#endif
