/* imap_thread: the REFERENCES threading algorithm of RFC 5256 (THREAD
 * command, "REFERENCES"), from what the messages' headers say to the
 * text of the THREAD response.
 *
 * Pure: no I/O, no global state.  Input is untrusted (any message can
 * carry any Message-ID and References), so the work is bounded: time is
 * O(m log m) in the number m of messages and references given, memory
 * O(m) (about 70 bytes per distinct id: 100,000 messages with 100 ids
 * each, none shared, take some 700 MB and 14 s on the build machines;
 * a real mailbox shares most of its ids), and nothing recurses (a thread
 * may be as deep as the mailbox is large). */
#ifndef POSTHORN_IMAP_THREAD_H
#define POSTHORN_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* How many ids of a References field are kept: the last ones, which name
 * the closest ancestors. */
#define IMAP_THREAD_MAX_REFS 100

/* One message to thread.  The strings are the caller's, NUL-terminated,
 * and must outlive the call.  Message ids are normalized
 * (mime_msgid_list()) and compared byte for byte. */
struct imap_thread_msg {
	uint32_t id;		/* what the response names: seq or UID */
	uint32_t seq;		/* sequence number: order of processing and
				 * the last tie-break of sorting */
	int64_t sent;		/* sent date (RFC 5256 2.2), already the
				 * internal date where Date: is unusable */
	const char *msgid;	/* Message-ID; NULL or "" if none */
	const char *refs;	/* References: nrefs ids back to back, each
				 * ending in NUL ("a@x\0b@y\0") */
	size_t nrefs;
	const char *in_reply_to;	/* first id of In-Reply-To, NULL or
					 * "": used only when nrefs is 0 */
	const char *subject;	/* base subject (RFC 5256 2.1), already
				 * collated (i;unicode-casemap), so that
				 * equal bytes mean equal subjects */
	size_t subject_len;
	bool reply;		/* the original subject was a reply or
				 * forward (RFC 5256 2.1, mime_base_subject) */
};

/* Thread msgs[0, n) by RFC 5256 REFERENCES and append the THREAD
 * response's data to out: "" when n is 0, else " " and the thread-lists,
 * e.g. " (2)(3 6 (4 23)(44 7 96))", ready to follow "* THREAD".  The
 * order of msgs does not matter: they are processed by seq. */
void imap_thread_references(const struct imap_thread_msg *msgs, size_t n,
			    struct str *out);

/* What REFERENCES needs from one message's header, owned. */
struct imap_thread_fields {
	struct str msgid;	/* first id of the first Message-ID field */
	struct str in_reply_to;	/* first id of the first In-Reply-To */
	struct str refs;	/* last IMAP_THREAD_MAX_REFS ids of the first
				 * References field, as imap_thread_msg.refs */
	size_t nrefs;
	struct str subject;	/* base subject of the first Subject field,
				 * decoded and collated */
	bool reply;
};

#define IMAP_THREAD_FIELDS_INIT                                          \
	{STR_INIT, STR_INIT, STR_INIT, 0, STR_INIT, false}

/* Fill *f (initialised with IMAP_THREAD_FIELDS_INIT or cleared) from a
 * message's header [hdr, hdr + len), which may lack its blank line (a
 * header cut short).  Every string is NUL-terminated afterwards, "" when
 * the field is missing. */
void imap_thread_fields_parse(const char *hdr, size_t len,
			      struct imap_thread_fields *f);
void imap_thread_fields_clear(struct imap_thread_fields *f);

/* Point m's strings at f's (m's id, seq and sent are left alone). */
void imap_thread_fields_apply(const struct imap_thread_fields *f,
			      struct imap_thread_msg *m);

#endif
