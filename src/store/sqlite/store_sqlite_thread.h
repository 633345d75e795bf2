/* store_sqlite_thread: the thread a message belongs to, kept as its
 * THREADID (RFC 8474).  Private to src/store/sqlite/.
 *
 * A message joins the thread of the first of its References /
 * In-Reply-To ids (mime_msgid.h: the root first) that the account has
 * seen, else the thread already waiting for its own Message-ID (a reply
 * that came before it), else it starts a thread numbered with its own
 * body id.  Table thread_ref maps a hash of each id seen to its thread:
 * a message's own id, and the ids it named that were not there, so that
 * a parent arriving after its reply finds it.  A row is never changed,
 * so a message's thread never changes either (RFC 8474 5.2), and
 * subjects are never compared: unrelated mail never joins.  Copies
 * keep the thread of their source (the column is copied with the row). */
#ifndef POSTHORN_STORE_SQLITE_THREAD_H
#define POSTHORN_STORE_SQLITE_THREAD_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "mime/mime_msgid.h"
#include "store/sqlite/store_sqlite.h"

/* The most of a message's start that is read for its header. */
#define SQLITE_THREAD_HEADER_MAX (64 * 1024)

/* A message's ids, hashed: what sqlite_thread_assign() looks up. */
struct sqlite_thread_keys {
	int64_t refs[MIME_MSGID_THREAD_REFS + 1];	/* lookup order */
	size_t nrefs;
	int64_t own;
	bool has_own;
};

/* The keys of the message in src, from its header (the first
 * SQLITE_THREAD_HEADER_MAX bytes at most).  Blocks on src's file.
 * Returns 1, or STORE_FAIL_TEMP when the file cannot be read (err_r). */
int sqlite_thread_keys(const struct store_source *src,
		       struct sqlite_thread_keys *keys_r, const char **err_r);

/* The writer's statements ST_THREAD_FIND (hash -> thread) and
 * ST_THREAD_PUT (hash, thread, kept if the hash is known). */
extern const char sqlite_thread_find_sql[];
extern const char sqlite_thread_put_sql[];

/* In the writer's transaction, for a message whose bytes are body
 * `body_id`: its thread into *thread_r, and its ids recorded.  Returns 0,
 * or -1 with the error on the writer. */
int sqlite_thread_assign(struct store_account *a,
			 const struct sqlite_thread_keys *keys,
			 int64_t body_id, int64_t *thread_r);

/* Schema step: the thread of every message stored before threads were
 * kept, the bodies taken in the order they came (their ids), one at a
 * time, so memory stays bounded whatever the account holds.  Inside the
 * upgrade's transaction; returns 0 or -1 (error on db). */
int sqlite_thread_fill(sqlite3 *db);

#endif
