/* store_sqlite: what the SQLite back end's files share.  Private to
 * src/store/sqlite/. */
#ifndef POSTHORN_STORE_SQLITE_H
#define POSTHORN_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store.h"

struct store_account_cache;

/* Statements on accounts.db prepared once, for the lookups every SMTP
 * recipient and every login makes. */
enum { SQ_DOMAIN_EXISTS, SQ_USER_LOOKUP, SQ_ALIAS_TARGETS, SQ_COUNT };

struct store {
	char *data_dir;
	/* accounts.db: one connection, used under `lock` */
	sqlite3 *db;
	pthread_mutex_t lock;
	sqlite3_stmt *sq[SQ_COUNT];
	struct store_account_cache *accounts;
};

/* The cached statement `which`, reset and ready for binding; NULL if it
 * cannot be prepared.  Caller holds store->lock and calls sqlite3_reset()
 * when done. */
sqlite3_stmt *sqlite_cached(struct store *store, int which);

/* Open a database file with the pragmas every posthorn database uses
 * (WAL, synchronous=FULL, foreign keys, a busy timeout so the CLI and the
 * server can share it) and run `schema` if user_version is below
 * `version`.  Returns 0 or -1 with the reason in err_r. */
int sqlite_db_open(const char *path, const char *schema, int version,
		   sqlite3 **db_r, const char **err_r);

/* Format a message for an admin into this thread's scratch buffer. */
const char *sqlite_errf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

int sqlite_begin(sqlite3 *db);
int sqlite_commit(sqlite3 *db);
void sqlite_rollback(sqlite3 *db);

/* Account handle cache (store_sqlite_mail.c). */
struct store_account_cache *sqlite_account_cache_new(void);
void sqlite_account_cache_free(struct store_account_cache **cache);
/* Path of DATA/mail/<id>. */
char *sqlite_account_dir(const struct store *store, int64_t user_id);

#endif
