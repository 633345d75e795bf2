/* Per-account databases: DATA/mail/<id>/index.db holds the account's
 * mailboxes, the index rows and the message bytes (table body, apart from
 * the index so scans never touch it).
 *
 * Each account handle has two connections: a writer, through which every
 * change goes under group commit, and a reader, which under WAL never
 * waits for the writer's fsync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/xalloc.h"
#include "store/sqlite/store_sqlite.h"

/* Unused handles kept open, so an account that gets mail often does not
 * reopen its database for each message. */
#define IDLE_HANDLES_MAX 128

static const char index_schema[] =
	"CREATE TABLE mailbox ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL,"
	" subscribed INTEGER NOT NULL DEFAULT 1,"
	" special_use TEXT);"
	"CREATE TABLE message ("
	" mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" keywords TEXT NOT NULL DEFAULT '',"
	" internaldate INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" body_id INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE TABLE body (id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	"INSERT INTO mailbox(name, uidvalidity, uidnext, highestmodseq) "
	" VALUES('INBOX', CAST(strftime('%s','now') AS INTEGER), 1, 1);";

enum { ST_NEXT, ST_BODY, ST_MSG, ST_MBOX, ST_COUNT };

static const char *const write_sql[ST_COUNT] = {
	[ST_NEXT] = "SELECT uidnext, highestmodseq FROM mailbox WHERE id=?",
	[ST_BODY] = "INSERT INTO body(data) VALUES(?)",
	[ST_MSG] = "INSERT INTO message(mailbox_id, uid, modseq, "
		   "internaldate, size, body_id) VALUES(?,?,?,?,?,?)",
	[ST_MBOX] = "UPDATE mailbox SET uidnext=?, highestmodseq=? "
		    "WHERE id=?",
};

enum { RT_BODY_ID, RT_DATA, RT_COUNT };

static const char *const read_sql[RT_COUNT] = {
	[RT_BODY_ID] = "SELECT body_id, size FROM message "
		       "WHERE mailbox_id=? AND uid=?",
	[RT_DATA] = "SELECT data FROM body WHERE id=?",
};

struct delivery {
	struct delivery *next;
	int64_t mailbox_id;
	const struct iovec *iov;
	int iovcnt;
	size_t len;
	int64_t internaldate;
	uint32_t uid;
	int status; /* 0 pending, 1 stored, -1 failed */
};

struct store_account_cache;

struct store_account {
	struct store_account *next;
	struct store_account_cache *cache;
	int64_t id;
	char *path;
	unsigned refs;	     /* under the cache lock */
	uint64_t last_used;  /* same lock */

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

struct store_account_cache {
	pthread_mutex_t lock;
	struct store_account *head;
	uint64_t clock;
	/* store_account_claim(): claimed account ids, unsorted */
	int64_t *claims;
	size_t nclaims, capclaims;
};

struct store_account_cache *sqlite_account_cache_new(void)
{
	struct store_account_cache *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void account_close(struct store_account *a)
{
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(a->st[i]);
	for (int i = 0; i < RT_COUNT; i++)
		sqlite3_finalize(a->rst[i]);
	sqlite3_close(a->wdb);
	sqlite3_close(a->rdb);
	pthread_mutex_destroy(&a->rlock);
	pthread_mutex_destroy(&a->wlock);
	pthread_cond_destroy(&a->wcond);
	free(a->path);
	free(a);
}

void sqlite_account_cache_free(struct store_account_cache **cp)
{
	struct store_account_cache *c = *cp;
	if (c == NULL)
		return;
	while (c->head != NULL) {
		struct store_account *a = c->head;
		c->head = a->next;
		account_close(a);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->claims);
	free(c);
	*cp = NULL;
}

static struct store_account *account_load(struct store *store, int64_t id)
{
	const char *err;
	char *dir = sqlite_account_dir(store, id);
	size_t n = strlen(dir) + sizeof("/index.db");
	struct store_account *a = xcalloc(1, sizeof(*a));
	a->id = id;
	pthread_mutex_init(&a->rlock, NULL);
	pthread_mutex_init(&a->wlock, NULL);
	pthread_cond_init(&a->wcond, NULL);
	a->pending_tail = &a->pending;
	a->path = xmalloc(n);
	snprintf(a->path, n, "%s/index.db", dir);
	int rc = mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
	free(dir);
	/* The reader creates the schema; the writer is opened on the first
	 * write, so an account that is only read (a POP3 session between
	 * commands) holds one connection. */
	if (rc < 0 ||
	    sqlite_db_open(a->path, index_schema, 1, &a->rdb, &err) < 0) {
		account_close(a);
		return NULL;
	}
	return a;
}

/* The writer connection, opened on first use; only the holder of the
 * writer baton calls this. */
static sqlite3 *writer_db(struct store_account *a)
{
	const char *err;
	if (a->wdb != NULL)
		return a->wdb;
	if (sqlite_db_open(a->path, index_schema, 1, &a->wdb, &err) < 0)
		return NULL;
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(a->wdb, write_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &a->st[i],
				       NULL) != SQLITE_OK) {
			for (int k = 0; k < ST_COUNT; k++)
				sqlite3_finalize(a->st[k]);
			memset(a->st, 0, sizeof(a->st));
			sqlite3_close(a->wdb);
			a->wdb = NULL;
			return NULL;
		}
	}
	return a->wdb;
}

/* Close the least recently used unreferenced handle once too many idle
 * ones are open.  Called with the cache lock held. */
static void cache_evict(struct store_account_cache *c)
{
	unsigned idle = 0;
	struct store_account **oldest = NULL;
	for (struct store_account **pp = &c->head; *pp; pp = &(*pp)->next) {
		if ((*pp)->refs != 0)
			continue;
		idle++;
		if (oldest == NULL || (*pp)->last_used < (*oldest)->last_used)
			oldest = pp;
	}
	if (idle > IDLE_HANDLES_MAX) {
		struct store_account *a = *oldest;
		*oldest = a->next;
		account_close(a);
	}
}

int store_account_open(struct store *store, int64_t user_id,
		       struct store_account **acct_r)
{
	struct store_account_cache *c = store->accounts;
	pthread_mutex_lock(&c->lock);
	for (struct store_account *a = c->head; a; a = a->next) {
		if (a->id == user_id) {
			a->refs++;
			a->last_used = ++c->clock;
			pthread_mutex_unlock(&c->lock);
			*acct_r = a;
			return 1;
		}
	}
	/* Opening under the lock keeps two threads from opening the same
	 * account twice; it happens once per account per process. */
	struct store_account *a = account_load(store, user_id);
	if (a != NULL) {
		a->cache = c;
		a->refs = 1;
		a->last_used = ++c->clock;
		a->next = c->head;
		c->head = a;
		cache_evict(c);
	}
	pthread_mutex_unlock(&c->lock);
	*acct_r = a;
	return a != NULL ? 1 : -1;
}

void store_account_unref(struct store_account **acctp)
{
	struct store_account *a = *acctp;
	if (a == NULL)
		return;
	struct store_account_cache *c = a->cache;
	pthread_mutex_lock(&c->lock);
	a->refs--;
	pthread_mutex_unlock(&c->lock);
	*acctp = NULL;
}

int store_account_claim(struct store *store, int64_t user_id)
{
	struct store_account_cache *c = store->accounts;
	int taken = 1;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nclaims; i++)
		if (c->claims[i] == user_id)
			taken = 0;
	if (taken) {
		if (c->nclaims == c->capclaims) {
			c->capclaims = c->capclaims ? c->capclaims * 2 : 16;
			c->claims = xreallocarray(c->claims, c->capclaims,
						  sizeof(*c->claims));
		}
		c->claims[c->nclaims++] = user_id;
	}
	pthread_mutex_unlock(&c->lock);
	return taken;
}

void store_account_release(struct store *store, int64_t user_id)
{
	struct store_account_cache *c = store->accounts;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nclaims; i++) {
		if (c->claims[i] == user_id) {
			c->claims[i] = c->claims[--c->nclaims];
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- reading ---- */

int store_mailbox_find(struct store_account *a, const char *name,
		       struct store_mailbox *mbox_r)
{
	sqlite3_stmt *st;
	int result = -1;
	pthread_mutex_lock(&a->rlock);
	if (sqlite3_prepare_v2(a->rdb,
			       "SELECT id, uidvalidity, uidnext, highestmodseq"
			       " FROM mailbox WHERE name=?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			mbox_r->id = sqlite3_column_int64(st, 0);
			mbox_r->uidvalidity =
				(uint32_t)sqlite3_column_int64(st, 1);
			mbox_r->uidnext = (uint32_t)sqlite3_column_int64(st, 2);
			mbox_r->highestmodseq =
				(uint64_t)sqlite3_column_int64(st, 3);
			result = 1;
		} else if (rc == SQLITE_DONE) {
			result = 0;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&a->rlock);
	return result;
}

int store_msg_list(struct store_account *a, int64_t mailbox_id,
		   struct store_msg **msgs_r, size_t *n_r)
{
	sqlite3_stmt *st;
	struct store_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_ERROR;
	pthread_mutex_lock(&a->rlock);
	if (sqlite3_prepare_v2(a->rdb,
			       "SELECT uid, size FROM message "
			       "WHERE mailbox_id=? ORDER BY uid",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				msgs = xreallocarray(msgs, cap, sizeof(*msgs));
			}
			msgs[n].uid = (uint32_t)sqlite3_column_int64(st, 0);
			msgs[n].size = (uint64_t)sqlite3_column_int64(st, 1);
			n++;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&a->rlock);
	if (rc != SQLITE_DONE) {
		free(msgs);
		return -1;
	}
	*msgs_r = msgs;
	*n_r = n;
	return 1;
}

/* A reader statement, prepared once; caller holds rlock and resets it. */
static sqlite3_stmt *reader_stmt(struct store_account *a, int which)
{
	if (a->rst[which] == NULL &&
	    sqlite3_prepare_v3(a->rdb, read_sql[which], -1,
			       SQLITE_PREPARE_PERSISTENT, &a->rst[which],
			       NULL) != SQLITE_OK)
		return NULL;
	return a->rst[which];
}

/* Whole message in one step: cheaper than opening a blob handle, which
 * compiles a statement each time. */
static int read_whole(struct store_account *a, int64_t body, void *buf,
		      size_t n, size_t *got_r)
{
	sqlite3_stmt *st = reader_stmt(a, RT_DATA);
	int result = -1;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, body);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		if (len <= n) {
			if (len > 0)
				memcpy(buf, p, len);
			*got_r = len;
			result = 1;
		}
	}
	sqlite3_reset(st);
	return result;
}

/* Incremental blob I/O for the rest: a large message is read in the
 * caller's pieces, never loaded whole. */
static int read_piece(struct store_account *a, int64_t body, uint64_t offset,
		      void *buf, size_t n, size_t *got_r)
{
	sqlite3_blob *blob = NULL;
	int result = -1;
	if (sqlite3_blob_open(a->rdb, "main", "body", "data", body, 0,
			      &blob) != SQLITE_OK)
		goto out;
	uint64_t size = (uint64_t)sqlite3_blob_bytes(blob);
	if (offset < size) {
		size_t want = size - offset < n ? (size_t)(size - offset) : n;
		if (sqlite3_blob_read(blob, buf, (int)want, (int)offset) !=
		    SQLITE_OK)
			goto out;
		*got_r = want;
	}
	result = 1;
out:
	sqlite3_blob_close(blob);
	return result;
}

int store_msg_read(struct store_account *a, int64_t mailbox_id, uint32_t uid,
		   uint64_t offset, void *buf, size_t n, size_t *got_r)
{
	int result = -1;
	*got_r = 0;
	pthread_mutex_lock(&a->rlock);
	sqlite3_stmt *st = reader_stmt(a, RT_BODY_ID);
	if (st == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	int64_t body = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	uint64_t size = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 1)
					 : 0;
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		result = 0;
	if (body < 0)
		goto out;
	if (offset == 0 && size <= n)
		result = read_whole(a, body, buf, n, got_r);
	else if (offset >= size)
		result = 1;
	else
		result = read_piece(a, body, offset, buf, n, got_r);
out:
	pthread_mutex_unlock(&a->rlock);
	return result;
}

/* ---- writing ----
 * One writer at a time per account: `writing` is the baton.  Whoever holds
 * it commits everything queued when it took it. */

static void writer_enter(struct store_account *a)
{
	pthread_mutex_lock(&a->wlock);
	while (a->writing)
		pthread_cond_wait(&a->wcond, &a->wlock);
	a->writing = true;
	pthread_mutex_unlock(&a->wlock);
}

static void writer_leave(struct store_account *a)
{
	pthread_mutex_lock(&a->wlock);
	a->writing = false;
	pthread_cond_broadcast(&a->wcond);
	pthread_mutex_unlock(&a->wlock);
}

static int step_reset(sqlite3_stmt *st, int want)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == want ? 0 : -1;
}

/* Fill a zeroblob in place from the pieces, so they are never joined in
 * memory first. */
static int write_pieces(struct store_account *a, int64_t body,
			const struct delivery *d)
{
	sqlite3_blob *blob;
	size_t off = 0;
	if (sqlite3_blob_open(a->wdb, "main", "body", "data", body, 1,
			      &blob) != SQLITE_OK)
		return -1;
	for (int i = 0; i < d->iovcnt; i++) {
		if (d->iov[i].iov_len > 0 &&
		    sqlite3_blob_write(blob, d->iov[i].iov_base,
				       (int)d->iov[i].iov_len,
				       (int)off) != SQLITE_OK) {
			sqlite3_blob_close(blob);
			return -1;
		}
		off += d->iov[i].iov_len;
	}
	return sqlite3_blob_close(blob) == SQLITE_OK ? 0 : -1;
}

static int insert_one(struct store_account *a, struct delivery *d)
{
	sqlite3_stmt **st = a->st;
	sqlite3_bind_int64(st[ST_NEXT], 1, d->mailbox_id);
	if (sqlite3_step(st[ST_NEXT]) != SQLITE_ROW) {
		sqlite3_reset(st[ST_NEXT]);
		return -1;
	}
	int64_t uid = sqlite3_column_int64(st[ST_NEXT], 0);
	int64_t modseq = sqlite3_column_int64(st[ST_NEXT], 1) + 1;
	sqlite3_reset(st[ST_NEXT]);
	if (uid > UINT32_MAX)
		return -1;

	if (d->iovcnt == 1)
		sqlite3_bind_blob64(st[ST_BODY], 1, d->iov[0].iov_base,
				    d->len, SQLITE_STATIC);
	else
		sqlite3_bind_zeroblob64(st[ST_BODY], 1, d->len);
	if (step_reset(st[ST_BODY], SQLITE_DONE) < 0)
		return -1;
	int64_t body = sqlite3_last_insert_rowid(a->wdb);
	if (d->iovcnt != 1 && write_pieces(a, body, d) < 0)
		return -1;

	sqlite3_bind_int64(st[ST_MSG], 1, d->mailbox_id);
	sqlite3_bind_int64(st[ST_MSG], 2, uid);
	sqlite3_bind_int64(st[ST_MSG], 3, modseq);
	sqlite3_bind_int64(st[ST_MSG], 4, d->internaldate);
	sqlite3_bind_int64(st[ST_MSG], 5, (sqlite3_int64)d->len);
	sqlite3_bind_int64(st[ST_MSG], 6, body);
	if (step_reset(st[ST_MSG], SQLITE_DONE) < 0)
		return -1;

	sqlite3_bind_int64(st[ST_MBOX], 1, uid + 1);
	sqlite3_bind_int64(st[ST_MBOX], 2, modseq);
	sqlite3_bind_int64(st[ST_MBOX], 3, d->mailbox_id);
	if (step_reset(st[ST_MBOX], SQLITE_DONE) < 0)
		return -1;
	d->uid = (uint32_t)uid;
	return 0;
}

/* One transaction, one fsync, for the whole batch.  Returns the status
 * of all its deliveries; the caller hands it out under wlock. */
static int commit_batch(struct store_account *a, struct delivery *batch)
{
	int status = -1;
	if (writer_db(a) != NULL && sqlite_begin(a->wdb) == 0) {
		struct delivery *d;
		for (d = batch; d != NULL; d = d->next)
			if (insert_one(a, d) < 0)
				break;
		if (d == NULL && sqlite_commit(a->wdb) == 0)
			status = 1;
		else
			sqlite_rollback(a->wdb);
	}
	return status;
}

int store_msg_deliver(struct store_account *a, int64_t mailbox_id,
		      const struct iovec *iov, int iovcnt,
		      int64_t internaldate, uint32_t *uid_r)
{
	size_t len = 0;
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	/* Blob I/O takes int offsets; the config caps messages far below. */
	if (len > INT32_MAX || iovcnt < 1)
		return -1;
	struct delivery d = {NULL, mailbox_id, iov, iovcnt, len,
			     internaldate, 0, 0};

	pthread_mutex_lock(&a->wlock);
	*a->pending_tail = &d;
	a->pending_tail = &d.next;
	while (d.status == 0) {
		if (a->writing) {
			pthread_cond_wait(&a->wcond, &a->wlock);
			continue;
		}
		/* Become the committer for everything queued so far, ours
		 * included; later arrivals wait for the next round. */
		a->writing = true;
		struct delivery *batch = a->pending;
		a->pending = NULL;
		a->pending_tail = &a->pending;
		pthread_mutex_unlock(&a->wlock);
		int status = commit_batch(a, batch);
		pthread_mutex_lock(&a->wlock);
		/* Under the lock: a waiter that sees its status may return
		 * and free its node, so nobody may touch the node after. */
		for (struct delivery *b = batch; b != NULL; b = b->next)
			b->status = status;
		a->writing = false;
		pthread_cond_broadcast(&a->wcond);
	}
	pthread_mutex_unlock(&a->wlock);
	if (d.status > 0)
		*uid_r = d.uid;
	return d.status;
}

int store_msg_expunge(struct store_account *a, int64_t mailbox_id,
		      const uint32_t *uids, size_t n)
{
	sqlite3_stmt *del_body = NULL, *del_msg = NULL;
	int result = -1;
	writer_enter(a);
	if (writer_db(a) == NULL || sqlite_begin(a->wdb) < 0)
		goto out;
	if (sqlite3_prepare_v2(a->wdb,
			       "DELETE FROM body WHERE id=(SELECT body_id "
			       "FROM message WHERE mailbox_id=?1 AND uid=?2)",
			       -1, &del_body, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(a->wdb,
			       "DELETE FROM message WHERE mailbox_id=?1 "
			       "AND uid=?2",
			       -1, &del_msg, NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(del_body, 1, mailbox_id);
		sqlite3_bind_int64(del_body, 2, uids[i]);
		sqlite3_bind_int64(del_msg, 1, mailbox_id);
		sqlite3_bind_int64(del_msg, 2, uids[i]);
		if (step_reset(del_body, SQLITE_DONE) < 0 ||
		    step_reset(del_msg, SQLITE_DONE) < 0)
			goto out;
	}
	sqlite3_stmt *bump = NULL;
	if (sqlite3_prepare_v2(a->wdb,
			       "UPDATE mailbox SET highestmodseq="
			       "highestmodseq+1 WHERE id=?",
			       -1, &bump, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(bump, 1, mailbox_id);
	int rc = step_reset(bump, SQLITE_DONE);
	sqlite3_finalize(bump);
	if (rc == 0 && sqlite_commit(a->wdb) == 0)
		result = 1;
out:
	sqlite_rollback(a->wdb);
	sqlite3_finalize(del_body);
	sqlite3_finalize(del_msg);
	writer_leave(a);
	return result;
}
