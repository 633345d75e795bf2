/* store_sqlite: what the SQLite back end's files share.  Private to
 * src/store/sqlite/. */
#ifndef POSTHORN_STORE_SQLITE_H
#define POSTHORN_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "store/store.h"

struct store_account_cache;

/* Statements on accounts.db prepared once, for the lookups every SMTP
 * recipient and every login makes. */
enum {
	SQ_DOMAIN_EXISTS,
	SQ_USER_LOOKUP,
	SQ_ALIAS_TARGETS,
	SQ_USER_QUOTA,
	SQ_COUNT
};

struct store {
	char *data_dir;
	/* accounts.db: one connection, used under `lock` */
	sqlite3 *db;
	pthread_mutex_t lock;
	sqlite3_stmt *sq[SQ_COUNT];
	struct store_account_cache *accounts;
	/* change events: started at the first watch */
	pthread_mutex_t watch_lock;
	struct sqlite_watcher *watcher;
	/* DATA/queue/queue.db: opened at first use, used under queue_lock */
	pthread_mutex_t queue_lock;
	sqlite3 *queue_db;
	/* when the reserve was last looked at (monotonic seconds) */
	pthread_mutex_t reserve_lock;
	int64_t reserve_checked;
};

/* A database's schema as steps: steps[v] takes a database at
 * user_version v to v + 1, followed by fill[v] when there is one (fill
 * may be NULL): work that SQL alone cannot do, in the same
 * transaction, returning 0 or -1 (error on db). */
struct sqlite_schema {
	const char *const *steps;
	int version;
	int (*const *fill)(sqlite3 *db);
};

extern const struct sqlite_schema sqlite_index_schema;

/* The cached statement `which`, reset and ready for binding; NULL if it
 * cannot be prepared.  Caller holds store->lock and calls sqlite3_reset()
 * when done. */
sqlite3_stmt *sqlite_cached(struct store *store, int which);

/* Open a database file with the pragmas every posthorn database uses
 * (WAL, synchronous=FULL, foreign keys, a busy timeout so the CLI and the
 * server can share it) and bring its schema up to date.  Without `create`
 * a missing file is an error.  Messages name the file as `where`.  Returns 0, or a store_fail with the reason
 * in err_r (may be NULL). */
/* The integer a "PRAGMA ..." statement answers, -1 on error. */
int64_t sqlite_pragma_int(sqlite3 *db, const char *pragma);
int sqlite_db_open(const char *path, const char *where,
		   const struct sqlite_schema *schema, bool create,
		   sqlite3 **db_r, const char **err_r);

/* Format a message for an admin into this thread's scratch buffer. */
const char *sqlite_errf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* The last error on db (or `rc` when it is not SQLITE_OK): sets *err_r
 * (when err_r is not NULL) to "where: cause", the cause as SQLite gives it
 * with the OS's reason added for I/O errors, and returns its store_fail.
 * Call it before anything else runs on db, a rollback included. */
int sqlite_fail(sqlite3 *db, int rc, const char *where, const char **err_r);
/* The same for a failed system call. */
int sqlite_fail_errno(int err, const char *where, const char **err_r);

static inline void sqlite_set_err(const char **err_r, const char *err)
{
	if (err_r != NULL)
		*err_r = err;
}

int sqlite_begin(sqlite3 *db);
int sqlite_commit(sqlite3 *db);
void sqlite_rollback(sqlite3 *db);

/* fsync a directory, so an entry just made in it survives a crash. */
int sqlite_sync_dir(const char *path);

/* The reserve: DATA/reserve, a few MiB kept allocated so that deleting
 * (which writes to the WAL before it frees anything) still works when the
 * disk is full.  Release gives it up and logs a warning naming `what` was
 * being done; it returns true when there was a reserve to give up.  Tick
 * makes it again when it is missing and there is room, looking at most
 * every few seconds, so it may be called after every delivery. */
void sqlite_reserve_make(struct store *store);
bool sqlite_reserve_release(struct store *store, const char *what);
void sqlite_reserve_tick(struct store *store);

/* accounts.db: the user's quota into *quota_r (may be NULL).  Returns 1,
 * 0 if there is no such user (any more), or a store_fail. */
int sqlite_user_quota(struct store *store, int64_t user_id,
		      uint64_t *quota_r, const char **err_r);

/* ---- account databases (store_sqlite_handle.c) ---- */

enum { ST_NEXT, ST_BODY, ST_MSG, ST_MBOX, ST_ACCOUNT, ST_SAVE, ST_RELEASE,
       ST_UNDO, ST_THREAD_FIND, ST_THREAD_PUT, ST_COUNT };
enum { RT_BODY_ID, RT_DATA, RT_STATE, RT_LIST, RT_MAILBOX, RT_SCAN,
       RT_SCAN_META, RT_SCAN_KEYS, RT_CHANGES, RT_EXPUNGED, RT_STATUS, RT_MODSEQ,
       RT_KW_COUNT, RT_KW_LIST, RT_RECENT, RT_COUNT };

struct delivery;

struct store_account {
	struct store_account *next;
	struct store *store;
	int64_t id;
	char *path;	     /* DATA/mail/<id>/index.db */
	char name[48];	     /* mail/<id>/index.db, for messages */
	unsigned refs;	     /* under the cache lock */
	uint64_t last_used;  /* same lock */
	bool gone;	     /* same lock: out of the cache, closed at last unref */
	int64_t idle_since;  /* same lock: when refs last fell to 0 (s) */
	bool trimmed;	     /* same lock: caches given back since */

	pthread_mutex_t rlock;
	sqlite3 *rdb;
	sqlite3_stmt *rst[RT_COUNT];

	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	bool writing;
	struct delivery *pending, **pending_tail;
	sqlite3 *wdb;
	sqlite3_stmt *st[ST_COUNT];
};

struct store_account_cache *sqlite_account_cache_new(void);
void sqlite_account_cache_free(struct store_account_cache **cache);
/* Path of DATA/mail/<id> (malloc'ed). */
char *sqlite_account_dir(const struct store *store, int64_t user_id);
/* Create DATA/mail/<id> if needed (syncing DATA/mail) and open its
 * index.db.  *created_r tells whether the database is new.  Returns 0 or
 * a store_fail. */
int sqlite_index_open(struct store *store, int64_t user_id, sqlite3 **db_r,
		      bool *created_r, const char **err_r);
/* Delete DATA/mail/<id> and what is in it. */
void sqlite_account_remove_files(struct store *store, int64_t user_id);
/* Take the account's handle out of the cache: it is closed now if unused,
 * else at its last unref.  For an account that was removed. */
void sqlite_account_forget(struct store *store, int64_t user_id);
/* The writer connection, opened on first use, with its statements; only
 * the holder of the writer baton calls this.  Returns 0 or a store_fail. */
int sqlite_writer_db(struct store_account *a, const char **err_r);
/* Whether `size` more bytes fit a quota (0: none) with `used` taken; size
 * 0 asks whether any room is left.  Returns 1, STORE_FAIL_QUOTA or
 * STORE_FAIL_QUOTA_NEVER with the sentence in err_r. */
int sqlite_quota_verdict(uint64_t quota, uint64_t used, uint64_t size,
			 const char **err_r);
/* A reader statement, prepared once; caller holds rlock and resets it. */
sqlite3_stmt *sqlite_reader_stmt(struct store_account *a, int which);
/* The end of a read with a reader statement st (NULL if it could not be
 * prepared) whose last step said rc: resets it and lets rlock go.
 * Returns 1 when rc is SQLITE_DONE, else the store_fail. */
int sqlite_reader_done(struct store_account *a, sqlite3_stmt *st, int rc,
		       const char **err_r);

/* ---- shared by the mail files ---- */

/* The writer baton of an account: one writer at a time. */
void sqlite_writer_enter(struct store_account *a);
void sqlite_writer_leave(struct store_account *a);
/* Step a statement, reset it and clear its bindings: 0 if the step gave
 * `want`, else -1. */
int sqlite_step_reset(sqlite3_stmt *st, int want);
/* Run one statement with one integer parameter (may be unused): 0 or -1. */
int sqlite_exec(sqlite3 *db, const char *sql, int64_t arg);
/* Insert the MIME meta of body `body_id`: 0 or -1 (error on db). */
int sqlite_meta_insert(sqlite3 *db, int64_t body_id,
		       const struct store_msg_meta *meta);
/* Inside the writer's transaction: expunge these UIDs (bump MODSEQ, log
 * them, drop bytes no other message shares).  0 or -1. */
int sqlite_expunge_in_txn(struct store_account *a, int64_t mailbox_id,
			  const uint32_t *uids, size_t n);
/* Tell the account's watchers, in every process, that it changed: called
 * after a commit that changed mailboxes or messages. */
void sqlite_account_changed(struct store_account *a);

/* ---- mailbox flags (store_sqlite_flags.c) ---- */

/* Inside the writer's transaction: put these keywords (space-separated,
 * may be NULL) in the mailbox's set.  Returns 1, 0 when one would go past
 * STORE_KEYWORDS_MAX or STORE_KEYWORD_LEN_MAX (then none of those after
 * it is added; the caller rolls back), -1 (error on db). */
int sqlite_keywords_define(sqlite3 *db, int64_t mailbox_id,
			   const char *keywords);

/* ---- full-text index (store_sqlite_fts.c) ---- */

/* Put a body's text in the index (both texts, or nothing when either is
 * NULL), replacing what was there: 0 or -1 (error on db). */
int sqlite_fts_put(sqlite3 *db, int64_t body_id, const char *header_text,
		   const char *body_text);

/* ---- outbound queue (store_sqlite_queue.c) ---- */
void sqlite_queue_close(struct store *store);

/* ---- change events (store_sqlite_watch.c) ---- */
struct sqlite_watcher;
struct sqlite_watcher *sqlite_watcher_new(const char *data_dir);
void sqlite_watcher_free(struct sqlite_watcher **w);

#endif
