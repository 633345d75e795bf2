/* The embedded back end: opening the store and what every database here
 * has in common. */
#include "store/sqlite/store_sqlite.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"

static const char accounts_schema[] =
	"CREATE TABLE IF NOT EXISTS domain ("
	" name TEXT PRIMARY KEY,"
	" created INTEGER NOT NULL) WITHOUT ROWID;"
	/* AUTOINCREMENT: a new user never gets a removed user's id, and so
	 * never the mail directory named after it. */
	"CREATE TABLE IF NOT EXISTS user ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" address TEXT NOT NULL UNIQUE,"
	" domain TEXT NOT NULL REFERENCES domain(name),"
	" password TEXT NOT NULL,"
	" quota INTEGER NOT NULL DEFAULT 0,"
	" name TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS user_domain ON user(domain);"
	"CREATE TABLE IF NOT EXISTS alias ("
	" address TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" domain TEXT NOT NULL REFERENCES domain(name),"
	" PRIMARY KEY (address, target)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS alias_domain ON alias(domain);";

const char *sqlite_errf(const char *fmt, ...)
{
	/* Per-thread scratch: an error string must outlive the call that
	 * made it, and threads must not share it. */
	static _Thread_local char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int sqlite_begin(sqlite3 *db)
{
	/* IMMEDIATE takes the write lock up front, so two writers wait on
	 * the busy timeout instead of failing half-way with SQLITE_BUSY. */
	return exec(db, "BEGIN IMMEDIATE");
}

int sqlite_commit(sqlite3 *db)
{
	return exec(db, "COMMIT");
}

void sqlite_rollback(sqlite3 *db)
{
	if (db != NULL && !sqlite3_get_autocommit(db))
		exec(db, "ROLLBACK");
}

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int apply_schema(sqlite3 *db, const char *schema, int version)
{
	char pragma[64];
	if (sqlite_begin(db) < 0)
		return -1;
	/* Checked again under the write lock: another process may have
	 * created the schema meanwhile. */
	if (user_version(db) >= version)
		return sqlite_commit(db);
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", version);
	if (exec(db, schema) < 0 || exec(db, pragma) < 0 ||
	    sqlite_commit(db) < 0) {
		sqlite_rollback(db);
		return -1;
	}
	return 0;
}

int sqlite_db_open(const char *path, const char *schema, int version,
		   sqlite3 **db_r, const char **err_r)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(db, 10000);
	/* SQLite gives each connection a 120 KB lookaside allocator by
	 * default; with a few connections per open account that would be
	 * most of what an idle session costs.  The saving in malloc calls is
	 * not worth it here. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
	if (exec(db, "PRAGMA journal_mode=WAL") < 0 ||
	    exec(db, "PRAGMA synchronous=FULL") < 0 ||
	    exec(db, "PRAGMA foreign_keys=ON") < 0)
		goto fail;
	int v = user_version(db);
	if (v < 0)
		goto fail;
	if (v > version) {
		*err_r = sqlite_errf("%s: schema version %d is newer than this "
				     "posthorn (%d)", path, v, version);
		sqlite3_close(db);
		return -1;
	}
	if (v < version && apply_schema(db, schema, version) < 0)
		goto fail;
	*db_r = db;
	return 0;
fail:
	*err_r = sqlite_errf("%s: %s", path,
			     db ? sqlite3_errmsg(db) : "out of memory");
	sqlite3_close(db);
	return -1;
}

static const char *const cached_sql[SQ_COUNT] = {
	[SQ_DOMAIN_EXISTS] = "SELECT 1 FROM domain WHERE name=?",
	[SQ_USER_LOOKUP] = "SELECT id, address, password, quota, name "
			   "FROM user WHERE address=?",
	[SQ_ALIAS_TARGETS] = "SELECT target FROM alias WHERE address=? "
			     "ORDER BY target",
};

sqlite3_stmt *sqlite_cached(struct store *store, int which)
{
	if (store->sq[which] == NULL &&
	    sqlite3_prepare_v3(store->db, cached_sql[which], -1,
			       SQLITE_PREPARE_PERSISTENT, &store->sq[which],
			       NULL) != SQLITE_OK)
		return NULL;
	sqlite3_reset(store->sq[which]);
	sqlite3_clear_bindings(store->sq[which]);
	return store->sq[which];
}

static int make_dir(const char *path, const char **err_r)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	*err_r = sqlite_errf("cannot create %s: %s", path, strerror(errno));
	return -1;
}

char *sqlite_account_dir(const struct store *store, int64_t user_id)
{
	size_t n = strlen(store->data_dir) + 40;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/mail/%lld", store->data_dir, (long long)user_id);
	return p;
}

int store_open(const char *data_dir, struct store **store_r,
	       const char **err_r)
{
	char path[4096];
	/* Before SQLite initializes: no bulk page-cache allocation per
	 * connection (20 pages by default), pages come as they are used. */
	sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	if (make_dir(data_dir, err_r) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/mail", data_dir);
	if (make_dir(path, err_r) < 0)
		return -1;
	struct store *store = xcalloc(1, sizeof(*store));
	store->data_dir = xstrdup(data_dir);
	snprintf(path, sizeof(path), "%s/accounts.db", data_dir);
	if (sqlite_db_open(path, accounts_schema, 1, &store->db, err_r) < 0) {
		free(store->data_dir);
		free(store);
		return -1;
	}
	pthread_mutex_init(&store->lock, NULL);
	store->accounts = sqlite_account_cache_new();
	*store_r = store;
	return 1;
}

void store_free(struct store **storep)
{
	struct store *store = *storep;
	if (store == NULL)
		return;
	sqlite_account_cache_free(&store->accounts);
	for (int i = 0; i < SQ_COUNT; i++)
		sqlite3_finalize(store->sq[i]);
	sqlite3_close(store->db);
	pthread_mutex_destroy(&store->lock);
	free(store->data_dir);
	free(store);
	*storep = NULL;
}
