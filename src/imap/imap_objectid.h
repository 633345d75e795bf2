/* imap_objectid: the object ids of RFC 8474 (MAILBOXID, EMAILID,
 * THREADID) as text.  An id is a kind letter, the owner (the account's user id) and
 * the store's number for the object, both in lowercase base32 (RFC 4648
 * alphabet): "M" "b" "-" "dd" is message body 99 of user 1.  The
 * store's numbers are never reused within an account (store.h), and
 * the owner keeps two accounts' ids apart, so an id names one object of
 * one account for ever.  Only [A-Za-z0-9-] is used, at most
 * IMAP_OBJECTID_MAX - 1 bytes, within RFC 8474's 1*255 objectid. */
#ifndef POSTHORN_IMAP_OBJECTID_H
#define POSTHORN_IMAP_OBJECTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for the longest id and its NUL: kind, 13 + 1 + 13 digits. */
#define IMAP_OBJECTID_MAX 32

#define IMAP_OBJECTID_EMAIL 'M'
#define IMAP_OBJECTID_MAILBOX 'F'
/* A thread's number is the EMAILID number of the message that began it;
 * the kind letter keeps the two ids apart. */
#define IMAP_OBJECTID_THREAD 'T'

/* The id of object `id` (>= 0) of kind (an IMAP_OBJECTID_* letter) of
 * owner (>= 0), NUL-terminated, into buf.  Returns its length. */
size_t imap_objectid_format(char kind, int64_t owner, int64_t id,
			    char buf[IMAP_OBJECTID_MAX]);
/* Whether text[0..len) is exactly that id (ids are case-sensitive). */
bool imap_objectid_is(char kind, int64_t owner, int64_t id, const char *text,
		      size_t len);

#endif
