/* The outbound queue in DATA/queue/queue.db: envelopes, their recipients
 * and the message bytes, one transaction per message.  One connection,
 * opened at first use and shared under queue_lock: submissions are few
 * next to deliveries, and the commit's fsync is what they wait for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "store/sqlite/store_sqlite.h"

/* Bytes moved from a spool file into the blob at a time. */
#define QUEUE_PIECE (64 * 1024)

static const char queue_v1[] =
	"CREATE TABLE IF NOT EXISTS msg ("
	" id TEXT PRIMARY KEY,"
	" sender TEXT NOT NULL,"
	" user TEXT NOT NULL DEFAULT '',"
	" size INTEGER NOT NULL,"
	" arrival INTEGER NOT NULL,"
	" next_attempt INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS msg_next ON msg(next_attempt);"
	"CREATE TABLE IF NOT EXISTS rcpt ("
	" msg TEXT NOT NULL REFERENCES msg(id) ON DELETE CASCADE,"
	" address TEXT NOT NULL,"
	" status TEXT NOT NULL DEFAULT 'queued',"
	" last_error TEXT NOT NULL DEFAULT '',"
	" PRIMARY KEY (msg, address)) WITHOUT ROWID;"
	/* A rowid table: the bytes are written and read with incremental
	 * blob I/O, and listing the queue never touches them. */
	"CREATE TABLE IF NOT EXISTS body ("
	" rowid INTEGER PRIMARY KEY,"
	" msg TEXT NOT NULL UNIQUE REFERENCES msg(id) ON DELETE CASCADE,"
	" data BLOB NOT NULL);";

static const char *const queue_steps[] = {queue_v1};
static const struct sqlite_schema queue_schema = {queue_steps, 1, NULL};

/* Caller holds queue_lock.  Returns 0 or a store_fail. */
static int queue_db(struct store *store, const char **err_r)
{
	if (store->queue_db != NULL)
		return 0;
	size_t n = strlen(store->data_dir) + sizeof("/queue/queue.db");
	char *dir = xmalloc(n), *path = xmalloc(n);
	snprintf(dir, n, "%s/queue", store->data_dir);
	snprintf(path, n, "%s/queue/queue.db", store->data_dir);
	int rc = 0;
	if (mkdir(dir, 0700) == 0)
		sqlite_sync_dir(store->data_dir);
	else if (errno != EEXIST)
		rc = sqlite_fail_errno(errno, dir, err_r);
	if (rc == 0)
		rc = sqlite_db_open(path, "queue/queue.db", &queue_schema, true,
				    &store->queue_db, err_r);
	free(dir);
	free(path);
	return rc;
}

void sqlite_queue_close(struct store *store)
{
	sqlite3_close(store->queue_db);
	store->queue_db = NULL;
}

static int qfail(struct store *store, const char **err_r)
{
	return sqlite_fail(store->queue_db, SQLITE_OK, "queue/queue.db",
			   err_r);
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static sqlite3_stmt *prepare(struct store *store, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store->queue_db, sql, -1, &st, NULL) !=
	    SQLITE_OK)
		return NULL;
	return st;
}

static uint64_t source_len(const struct store_source *src)
{
	uint64_t len = src->fd >= 0 ? src->fd_len : 0;
	for (int i = 0; i < src->iovcnt; i++)
		len += src->iov[i].iov_len;
	return len;
}

static int insert_msg(struct store *store, const struct store_queue_entry *e,
		      uint64_t len)
{
	sqlite3_stmt *st = prepare(store,
		"INSERT INTO msg (id, sender, user, size, arrival, "
		"next_attempt, attempts, last_error) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->sender, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->user ? e->user : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)len);
	sqlite3_bind_int64(st, 5, e->arrival);
	sqlite3_bind_int64(st, 6, e->next_attempt);
	sqlite3_bind_int64(st, 7, e->attempts);
	sqlite3_bind_text(st, 8, e->last_error ? e->last_error : "", -1,
			  SQLITE_STATIC);
	return step_done(st);
}

static int insert_rcpts(struct store *store,
			const struct store_queue_entry *e)
{
	sqlite3_stmt *st = prepare(store,
		"INSERT OR IGNORE INTO rcpt (msg, address, status) "
		"VALUES (?, ?, 'queued')");
	if (st == NULL)
		return -1;
	for (size_t i = 0; i < e->nrcpts; i++) {
		sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, e->rcpts[i].address, -1,
				  SQLITE_STATIC);
		if (sqlite_step_reset(st, SQLITE_DONE) < 0) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

/* The spool file's part, a piece at a time. */
static int write_file(struct store *store, sqlite3_blob *blob,
		      const struct store_source *src, uint64_t at,
		      const char **err_r)
{
	char *buf = xmalloc(QUEUE_PIECE);
	int rc = 1;
	for (uint64_t off = 0; rc > 0 && off < src->fd_len;) {
		size_t want = src->fd_len - off < QUEUE_PIECE
				      ? (size_t)(src->fd_len - off)
				      : QUEUE_PIECE;
		ssize_t got = pread(src->fd, buf, want, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = sqlite_fail_errno(got < 0 ? errno : EIO,
					       "reading the message", err_r);
			if (rc == STORE_FAIL_FULL)
				rc = STORE_FAIL_TEMP;
		} else if (sqlite3_blob_write(blob, buf, (int)got,
					      (int)(at + off)) != SQLITE_OK) {
			rc = qfail(store, err_r);
		} else {
			off += (uint64_t)got;
		}
	}
	free(buf);
	return rc;
}

/* The bytes go into a zeroblob in place, so a spooled message is never
 * joined in memory. */
static int insert_body(struct store *store, const char *id,
		       const struct store_source *src, uint64_t len,
		       const char **err_r)
{
	sqlite3_stmt *st = prepare(store,
		"INSERT INTO body (msg, data) VALUES (?, zeroblob(?))");
	if (st == NULL)
		return qfail(store, err_r);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)len);
	if (step_done(st) < 0)
		return qfail(store, err_r);
	int64_t row = sqlite3_last_insert_rowid(store->queue_db);
	sqlite3_blob *blob;
	if (sqlite3_blob_open(store->queue_db, "main", "body", "data", row, 1,
			      &blob) != SQLITE_OK)
		return qfail(store, err_r);
	uint64_t off = 0;
	int rc = 1;
	for (int i = 0; rc > 0 && i < src->iovcnt; i++) {
		if (src->iov[i].iov_len > 0 &&
		    sqlite3_blob_write(blob, src->iov[i].iov_base,
				       (int)src->iov[i].iov_len,
				       (int)off) != SQLITE_OK)
			rc = qfail(store, err_r);
		off += src->iov[i].iov_len;
	}
	if (rc > 0 && src->fd >= 0)
		rc = write_file(store, blob, src, off, err_r);
	if (sqlite3_blob_close(blob) != SQLITE_OK && rc > 0)
		rc = qfail(store, err_r);
	return rc;
}

static int put_locked(struct store *store, const struct store_queue_entry *e,
		      const struct store_source *src, const char **err_r)
{
	int rc = queue_db(store, err_r);
	if (rc < 0)
		return rc;
	uint64_t len = source_len(src);
	if (len > INT32_MAX || src->iovcnt < 0) {
		sqlite_set_err(err_r, "queue: message too large");
		return STORE_FAIL_TEMP;
	}
	if (sqlite_begin(store->queue_db) < 0)
		return qfail(store, err_r);
	if (insert_msg(store, e, len) < 0) {
		rc = sqlite3_extended_errcode(store->queue_db) ==
				     SQLITE_CONSTRAINT_PRIMARYKEY
			     ? STORE_FAIL_EXISTS
			     : qfail(store, err_r);
		if (rc == STORE_FAIL_EXISTS)
			sqlite_set_err(err_r, "queue: the id is taken");
		goto fail;
	}
	if (insert_rcpts(store, e) < 0) {
		rc = qfail(store, err_r);
		goto fail;
	}
	rc = insert_body(store, e->id, src, len, err_r);
	if (rc < 0)
		goto fail;
	/* synchronous=FULL: the commit is on disk when it returns. */
	if (sqlite_commit(store->queue_db) < 0) {
		rc = qfail(store, err_r);
		goto fail;
	}
	return 1;
fail:
	sqlite_rollback(store->queue_db);
	return rc;
}

int store_queue_put(struct store *store, const struct store_queue_entry *e,
		    const struct store_source *src, const char **err_r)
{
	pthread_mutex_lock(&store->queue_lock);
	int rc = put_locked(store, e, src, err_r);
	pthread_mutex_unlock(&store->queue_lock);
	return rc;
}

/* ---- listing ---- */

struct list_state {
	struct store_queue_entry e;
	struct store_queue_rcpt *rcpts;
	size_t cap;
	char *id, *sender, *user, *last_error;
};

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return xstrdup(t != NULL ? t : "");
}

static void entry_clear(struct list_state *ls)
{
	for (size_t i = 0; i < ls->e.nrcpts; i++) {
		free((char *)ls->rcpts[i].address);
		free((char *)ls->rcpts[i].status);
		free((char *)ls->rcpts[i].last_error);
	}
	free(ls->id);
	free(ls->sender);
	free(ls->user);
	free(ls->last_error);
	ls->id = ls->sender = ls->user = ls->last_error = NULL;
	ls->e.nrcpts = 0;
}

static void entry_start(struct list_state *ls, sqlite3_stmt *st)
{
	entry_clear(ls);
	ls->id = col_dup(st, 0);
	ls->sender = col_dup(st, 1);
	ls->user = col_dup(st, 2);
	ls->last_error = col_dup(st, 7);
	ls->e.id = ls->id;
	ls->e.sender = ls->sender;
	ls->e.user = ls->user;
	ls->e.size = (uint64_t)sqlite3_column_int64(st, 3);
	ls->e.arrival = sqlite3_column_int64(st, 4);
	ls->e.next_attempt = sqlite3_column_int64(st, 5);
	ls->e.attempts = (unsigned)sqlite3_column_int64(st, 6);
	ls->e.last_error = ls->last_error;
}

static void entry_rcpt(struct list_state *ls, sqlite3_stmt *st)
{
	if (sqlite3_column_type(st, 8) == SQLITE_NULL)
		return;
	if (ls->e.nrcpts == ls->cap) {
		ls->cap = ls->cap ? 2 * ls->cap : 8;
		ls->rcpts = xreallocarray(ls->rcpts, ls->cap,
					  sizeof(*ls->rcpts));
	}
	struct store_queue_rcpt *r = &ls->rcpts[ls->e.nrcpts++];
	r->address = col_dup(st, 8);
	r->status = col_dup(st, 9);
	r->last_error = col_dup(st, 10);
	ls->e.rcpts = ls->rcpts;
}

static int list_locked(struct store *store,
		       void (*fn)(const struct store_queue_entry *e,
				  void *ctx),
		       void *ctx, const char **err_r)
{
	int rc = queue_db(store, err_r);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = prepare(store,
		"SELECT m.id, m.sender, m.user, m.size, m.arrival, "
		"m.next_attempt, m.attempts, m.last_error, r.address, "
		"r.status, r.last_error FROM msg m "
		"LEFT JOIN rcpt r ON r.msg = m.id "
		"ORDER BY m.arrival, m.id, r.address");
	if (st == NULL)
		return qfail(store, err_r);
	struct list_state ls = {0};
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (ls.id == NULL || strcmp(ls.id, id ? id : "") != 0) {
			if (ls.id != NULL)
				fn(&ls.e, ctx);
			entry_start(&ls, st);
		}
		entry_rcpt(&ls, st);
	}
	if (rc == SQLITE_DONE && ls.id != NULL)
		fn(&ls.e, ctx);
	rc = rc == SQLITE_DONE ? 1 : qfail(store, err_r);
	entry_clear(&ls);
	free(ls.rcpts);
	sqlite3_finalize(st);
	return rc;
}

int store_queue_list(struct store *store,
		     void (*fn)(const struct store_queue_entry *e, void *ctx),
		     void *ctx, const char **err_r)
{
	pthread_mutex_lock(&store->queue_lock);
	int rc = list_locked(store, fn, ctx, err_r);
	pthread_mutex_unlock(&store->queue_lock);
	return rc;
}

/* ---- removing and reading ---- */

static int remove_locked(struct store *store, const char *id,
			 const char **err_r)
{
	int rc = queue_db(store, err_r);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = prepare(store, "DELETE FROM msg WHERE id=?");
	if (st == NULL)
		return qfail(store, err_r);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (step_done(st) < 0)
		return qfail(store, err_r);
	return sqlite3_changes(store->queue_db) > 0 ? 1 : 0;
}

int store_queue_remove(struct store *store, const char *id,
		       const char **err_r)
{
	pthread_mutex_lock(&store->queue_lock);
	int rc = remove_locked(store, id, err_r);
	pthread_mutex_unlock(&store->queue_lock);
	return rc;
}

static int read_locked(struct store *store, const char *id, uint64_t offset,
		       void *buf, size_t n, size_t *got_r, const char **err_r)
{
	int rc = queue_db(store, err_r);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = prepare(store, "SELECT rowid FROM body WHERE msg=?");
	if (st == NULL)
		return qfail(store, err_r);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	int64_t row = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (step == SQLITE_DONE)
		return 0;
	if (step != SQLITE_ROW)
		return qfail(store, err_r);
	sqlite3_blob *blob;
	if (sqlite3_blob_open(store->queue_db, "main", "body", "data", row, 0,
			      &blob) != SQLITE_OK)
		return qfail(store, err_r);
	uint64_t size = (uint64_t)sqlite3_blob_bytes(blob);
	size_t want = offset >= size ? 0
		      : size - offset < n ? (size_t)(size - offset)
					  : n;
	rc = 1;
	if (want > 0 && sqlite3_blob_read(blob, buf, (int)want,
					  (int)offset) != SQLITE_OK)
		rc = qfail(store, err_r);
	sqlite3_blob_close(blob);
	*got_r = rc > 0 ? want : 0;
	return rc;
}

int store_queue_read(struct store *store, const char *id, uint64_t offset,
		     void *buf, size_t n, size_t *got_r, const char **err_r)
{
	pthread_mutex_lock(&store->queue_lock);
	int rc = read_locked(store, id, offset, buf, n, got_r, err_r);
	pthread_mutex_unlock(&store->queue_lock);
	return rc;
}
