/* The embedded back end: opening the store and what every database here
 * has in common. */
#include "store/sqlite/store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"

static const char accounts_v1[] =
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

/* App passwords: one row per device, only a hash kept (auth_app.h).  They go
 * with their user (ON DELETE CASCADE; foreign_keys is on for every
 * connection). */
static const char accounts_v2[] =
	"CREATE TABLE IF NOT EXISTS app_password ("
	" user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" hash TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" last_used INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (user_id, name)) WITHOUT ROWID;";


/* SCRAM-SHA-256 secrets (auth/auth_scram.h's stored form), '' for none:
 * computed whenever a password is set, since no password hash can give
 * them later. */
static const char accounts_v3_scram[] =
	"ALTER TABLE user ADD COLUMN scram TEXT NOT NULL DEFAULT '';";

/* Submission: who may send as whom.  A user's own address and the
 * aliases that name it are found through alias_target; `sender` holds
 * the exceptions an admin granted (`posthorn user sender add`). */
static const char accounts_v4_sender[] =
	"CREATE INDEX IF NOT EXISTS alias_target ON alias(target);"
	"CREATE TABLE IF NOT EXISTS sender ("
	" user INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,"
	" pattern TEXT NOT NULL,"
	" PRIMARY KEY (user, pattern)) WITHOUT ROWID;";

static const char *const accounts_steps[] = {
	accounts_v1, accounts_v2, accounts_v3_scram, accounts_v4_sender};
static const struct sqlite_schema accounts_schema = {accounts_steps, 4,
							   NULL};

/* Kept allocated for deleting on a full disk: an expunge or a user removal
 * writes a few pages to the WAL before anything is freed, and a big one
 * may move pages; a few MiB covers that many times over. */
#define RESERVE_BYTES (4ull << 20)
/* After a delivery, look for a missing reserve at most this often. */
#define RESERVE_RECHECK_SECONDS 10

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

const char *store_fail_name(int fail)
{
	switch (fail) {
	case STORE_FAIL_FULL: return "full";
	case STORE_FAIL_QUOTA: return "over-quota";
	case STORE_FAIL_QUOTA_NEVER: return "too-big-for-quota";
	case STORE_FAIL_GONE: return "gone";
	case STORE_FAIL_BROKEN: return "broken";
	case STORE_FAIL_EXISTS: return "exists";
	case STORE_FAIL_LIMIT: return "limit";
	default: return "temp";
	}
}

static bool errno_full(int e)
{
	return e == ENOSPC || e == EDQUOT;
}

int sqlite_fail(sqlite3 *db, int rc, const char *where, const char **err_r)
{
	/* A buffer apart from sqlite_errf()'s, so the cause can be one of
	 * its arguments. */
	static _Thread_local char cause[256];
	if (rc == SQLITE_OK)
		rc = db != NULL ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
	int prim = rc & 0xff;
	int sys = db != NULL ? sqlite3_system_errno(db) : 0;
	/* The OS's errno means something only for errors that came from a
	 * system call. */
	bool os = prim == SQLITE_IOERR || prim == SQLITE_FULL ||
		  prim == SQLITE_CANTOPEN;
	const char *msg = db != NULL && sqlite3_errcode(db) != SQLITE_OK
				  ? sqlite3_errmsg(db)
				  : sqlite3_errstr(rc);
	if (os && sys != 0 && strstr(msg, strerror(sys)) == NULL)
		snprintf(cause, sizeof(cause), "%s (%s)", msg, strerror(sys));
	else
		snprintf(cause, sizeof(cause), "%s", msg);
	sqlite_set_err(err_r, sqlite_errf("%s: %s", where, cause));
	if (prim == SQLITE_FULL || (os && errno_full(sys)))
		return STORE_FAIL_FULL;
	if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB)
		return STORE_FAIL_BROKEN;
	return STORE_FAIL_TEMP;
}

int sqlite_fail_errno(int err, const char *where, const char **err_r)
{
	static _Thread_local char cause[128];
	snprintf(cause, sizeof(cause), "%s", strerror(err));
	sqlite_set_err(err_r, sqlite_errf("%s: %s", where, cause));
	return errno_full(err) ? STORE_FAIL_FULL : STORE_FAIL_TEMP;
}

int sqlite_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
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

int64_t sqlite_pragma_int(sqlite3 *db, const char *pragma)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, pragma, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int user_version(sqlite3 *db)
{
	return (int)sqlite_pragma_int(db, "PRAGMA user_version");
}

static int apply_schema(sqlite3 *db, const struct sqlite_schema *schema)
{
	char pragma[64];
	if (sqlite_begin(db) < 0)
		return -1;
	/* Checked again under the write lock: another process may have
	 * brought the schema up meanwhile. */
	int v = user_version(db);
	if (v < 0)
		goto fail;
	if (v >= schema->version)
		return sqlite_commit(db);
	for (; v < schema->version; v++)
		if (exec(db, schema->steps[v]) < 0 ||
		    (schema->fill != NULL && schema->fill[v] != NULL &&
		     schema->fill[v](db) < 0))
			goto fail;
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d",
		 schema->version);
	if (exec(db, pragma) < 0 || sqlite_commit(db) < 0)
		goto fail;
	return 0;
fail:
	/* No rollback here: the caller reads the error first. */
	return -1;
}

/* auto_vacuum counts only in a new database (before its first table): it
 * lets an expunge give space back to the file system instead of keeping it
 * for this account's next messages.  secure_delete=FAST: Debian builds
 * SQLite to overwrite every freed page, which makes deleting a message
 * write as much as storing it did, and so fail on a full disk; FAST still
 * clears what is deleted from the pages it writes anyway.  The WAL file
 * shrinks back to journal_size_limit after a big transaction. */
static const char *const pragma_sql[] = {
	"PRAGMA auto_vacuum=INCREMENTAL",
	"PRAGMA secure_delete=FAST",
	"PRAGMA journal_mode=WAL",
	"PRAGMA synchronous=FULL",
	"PRAGMA foreign_keys=ON",
	"PRAGMA journal_size_limit=4194304",
};

static int pragmas(sqlite3 *db)
{
	for (size_t i = 0; i < sizeof(pragma_sql) / sizeof(*pragma_sql); i++)
		if (exec(db, pragma_sql[i]) < 0)
			return -1;
	return 0;
}

int sqlite_db_open(const char *path, const char *where,
		   const struct sqlite_schema *schema, bool create,
		   sqlite3 **db_r, const char **err_r)
{
	sqlite3 *db = NULL;
	int fail;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
		    (create ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(db, 10000);
	/* SQLite gives each connection a 120 KB lookaside allocator by
	 * default; with a few connections per open account that would be
	 * most of what an idle session costs.  The saving in malloc calls is
	 * not worth it here. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
	rc = SQLITE_OK;
	if (pragmas(db) < 0)
		goto fail;
	int v = user_version(db);
	if (v < 0)
		goto fail;
	if (v > schema->version) {
		sqlite_set_err(err_r, sqlite_errf(
			"%s: schema version %d is newer than this posthorn "
			"(%d)", where, v, schema->version));
		sqlite3_close(db);
		return STORE_FAIL_BROKEN;
	}
	if (v < schema->version && apply_schema(db, schema) < 0)
		goto fail;
	*db_r = db;
	return 0;
fail:
	fail = sqlite_fail(db, rc, where, err_r);
	sqlite_rollback(db);
	sqlite3_close(db);
	return fail;
}

static const char *const cached_sql[SQ_COUNT] = {
	[SQ_DOMAIN_EXISTS] = "SELECT 1 FROM domain WHERE name=?",
	[SQ_USER_LOOKUP] = "SELECT id, address, password, quota, name, scram "
			   "FROM user WHERE address=?",
	[SQ_USER_QUOTA] = "SELECT quota FROM user WHERE id=?",
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

/* mkdir, and when the directory is new, sync its parent so the entry
 * survives a crash. */
static int make_dir(const char *path, const char **err_r)
{
	if (mkdir(path, 0700) < 0) {
		if (errno == EEXIST)
			return 0;
		sqlite_set_err(err_r, sqlite_errf("cannot create %s: %s", path,
						  strerror(errno)));
		return -1;
	}
	char *parent = xstrdup(path);
	char *slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	sqlite_sync_dir(slash != NULL ? parent : ".");
	free(parent);
	return 0;
}

char *sqlite_account_dir(const struct store *store, int64_t user_id)
{
	size_t n = strlen(store->data_dir) + 40;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/mail/%lld", store->data_dir, (long long)user_id);
	return p;
}

/* ---- the reserve ---- */

static char *reserve_path(const struct store *store)
{
	size_t n = strlen(store->data_dir) + sizeof("/reserve.tmp");
	char *p = xmalloc(n);
	snprintf(p, n, "%s/reserve", store->data_dir);
	return p;
}

static bool reserve_present(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && (uint64_t)st.st_size >= RESERVE_BYTES &&
	       (uint64_t)st.st_blocks * 512 >= RESERVE_BYTES;
}

/* Room for the reserve and twice as much besides: making it must not be
 * what fills the disk. */
static bool reserve_room(const struct store *store)
{
	struct statvfs vfs;
	if (statvfs(store->data_dir, &vfs) < 0)
		return false;
	return (uint64_t)vfs.f_bavail * vfs.f_frsize >= 3 * RESERVE_BYTES;
}

void sqlite_reserve_make(struct store *store)
{
	char *path = reserve_path(store);
	if (reserve_present(path) || !reserve_room(store)) {
		free(path);
		return;
	}
	size_t n = strlen(path) + 8;
	char *tmp = xmalloc(n);
	snprintf(tmp, n, "%s.tmp", path);
	/* Allocated blocks, not a sparse file: a hole frees nothing.  Made
	 * under another name, so a crash never leaves a short reserve that
	 * looks whole. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && posix_fallocate(fd, 0, RESERVE_BYTES) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
	free(tmp);
	free(path);
}

bool sqlite_reserve_release(struct store *store, const char *what)
{
	char *path = reserve_path(store);
	bool had = unlink(path) == 0;
	if (had)
		log_warn("store: the disk holding %s is full; gave up the "
			 "%llu MiB reserve (%s) so that %s can go on. Free "
			 "space there: deliveries fail until there is room, "
			 "and the reserve is made again once there is",
			 store->data_dir, RESERVE_BYTES >> 20, path, what);
	free(path);
	pthread_mutex_lock(&store->reserve_lock);
	store->reserve_checked = 0;
	pthread_mutex_unlock(&store->reserve_lock);
	return had;
}

void sqlite_reserve_tick(struct store *store)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	pthread_mutex_lock(&store->reserve_lock);
	bool due = store->reserve_checked == 0 ||
		   ts.tv_sec - store->reserve_checked >= RESERVE_RECHECK_SECONDS;
	if (due)
		store->reserve_checked = ts.tv_sec;
	pthread_mutex_unlock(&store->reserve_lock);
	if (due)
		sqlite_reserve_make(store);
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
	if (sqlite_db_open(path, path, &accounts_schema, true, &store->db,
			   err_r) < 0) {
		free(store->data_dir);
		free(store);
		return -1;
	}
	pthread_mutex_init(&store->lock, NULL);
	pthread_mutex_init(&store->reserve_lock, NULL);
	pthread_mutex_init(&store->watch_lock, NULL);
	pthread_mutex_init(&store->queue_lock, NULL);
	store->accounts = sqlite_account_cache_new();
	sqlite_reserve_make(store);
	*store_r = store;
	return 1;
}

void store_free(struct store **storep)
{
	struct store *store = *storep;
	if (store == NULL)
		return;
	sqlite_watcher_free(&store->watcher);
	sqlite_queue_close(store);
	pthread_mutex_destroy(&store->queue_lock);
	sqlite_account_cache_free(&store->accounts);
	for (int i = 0; i < SQ_COUNT; i++)
		sqlite3_finalize(store->sq[i]);
	sqlite3_close(store->db);
	pthread_mutex_destroy(&store->lock);
	pthread_mutex_destroy(&store->reserve_lock);
	pthread_mutex_destroy(&store->watch_lock);
	free(store->data_dir);
	free(store);
	*storep = NULL;
}

/* ---- shared by the mail files ---- */

void sqlite_writer_enter(struct store_account *a)
{
	pthread_mutex_lock(&a->wlock);
	while (a->writing)
		pthread_cond_wait(&a->wcond, &a->wlock);
	a->writing = true;
	pthread_mutex_unlock(&a->wlock);
}

void sqlite_writer_leave(struct store_account *a)
{
	pthread_mutex_lock(&a->wlock);
	a->writing = false;
	pthread_cond_broadcast(&a->wcond);
	pthread_mutex_unlock(&a->wlock);
}

int sqlite_step_reset(sqlite3_stmt *st, int want)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == want ? 0 : -1;
}

int sqlite_exec(sqlite3 *db, const char *sql, int64_t arg)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, arg);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}
