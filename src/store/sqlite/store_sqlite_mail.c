/* Messages in an account database: reading through the handle's reader,
 * and writing through its writer under group commit.  The message bytes
 * live in table body, apart from the index, so scans never touch them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "store/sqlite/store_sqlite.h"
#include "store/sqlite/store_sqlite_thread.h"

/* Bytes moved from a message file into its blob at a time. */
#define SOURCE_PIECE (64 * 1024)
/* Free pages (4 KiB) past which an expunge gives space back to the file
 * system: below, the account's next messages reuse them anyway. */
#define COMPACT_PAGES 256

struct delivery {
	struct delivery *next;
	int64_t mailbox_id;
	const struct store_source *src;
	const struct store_msg_meta *meta;
	unsigned flags;
	const char *keywords;
	uint64_t len;
	int64_t internaldate;
	struct sqlite_thread_keys keys;
	uint32_t uid;
	/* The committer works on `outcome` without the lock; `status` is
	 * what the waiter sees, set under wlock once all is decided.  0
	 * pending; in outcome also 2 for "inserted, not yet committed". */
	int outcome;
	int status;
	char reason[160];
};

/* ---- reading ---- */

int store_mailbox_find(struct store_account *a, const char *name,
		       struct store_mailbox *mbox_r, const char **err_r)
{
	int result;
	pthread_mutex_lock(&a->rlock);
	sqlite3_stmt *st = sqlite_reader_stmt(a, RT_MAILBOX);
	int rc = st != NULL ? SQLITE_OK : sqlite3_errcode(a->rdb);
	if (st != NULL) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW) {
		mbox_r->id = sqlite3_column_int64(st, 0);
		mbox_r->uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
		mbox_r->uidnext = (uint32_t)sqlite3_column_int64(st, 2);
		mbox_r->highestmodseq = (uint64_t)sqlite3_column_int64(st, 3);
		result = 1;
	} else if (rc == SQLITE_DONE) {
		result = 0;
	} else {
		result = sqlite_fail(a->rdb, rc, a->name, err_r);
	}
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	pthread_mutex_unlock(&a->rlock);
	return result;
}

int store_msg_list(struct store_account *a, int64_t mailbox_id,
		   struct store_msg **msgs_r, size_t *n_r, const char **err_r)
{
	struct store_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_ERROR, result = 1;
	pthread_mutex_lock(&a->rlock);
	sqlite3_stmt *st = sqlite_reader_stmt(a, RT_LIST);
	if (st != NULL) {
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
	}
	if (rc != SQLITE_DONE)
		result = sqlite_fail(a->rdb, st != NULL ? rc : SQLITE_OK,
				     a->name, err_r);
	if (st != NULL)
		sqlite3_reset(st);
	pthread_mutex_unlock(&a->rlock);
	if (result < 0) {
		free(msgs);
		return result;
	}
	*msgs_r = msgs;
	*n_r = n;
	return 1;
}

/* Whole message in one step: cheaper than opening a blob handle, which
 * compiles a statement each time. */
static int read_whole(struct store_account *a, int64_t body, void *buf,
		      size_t n, size_t *got_r, const char **err_r)
{
	sqlite3_stmt *st = sqlite_reader_stmt(a, RT_DATA);
	if (st == NULL)
		return sqlite_fail(a->rdb, SQLITE_OK, a->name, err_r);
	int result;
	sqlite3_bind_int64(st, 1, body);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		if (len <= n) {
			if (len > 0)
				memcpy(buf, p, len);
			*got_r = len;
			result = 1;
		} else {
			sqlite_set_err(err_r, sqlite_errf(
				"%s: message body %lld is larger than its "
				"index row says", a->name, (long long)body));
			result = STORE_FAIL_BROKEN;
		}
	} else if (rc == SQLITE_DONE) {
		sqlite_set_err(err_r, sqlite_errf("%s: message body %lld is "
						  "missing", a->name,
						  (long long)body));
		result = STORE_FAIL_BROKEN;
	} else {
		result = sqlite_fail(a->rdb, rc, a->name, err_r);
	}
	sqlite3_reset(st);
	return result;
}

/* Incremental blob I/O for the rest: a large message is read in the
 * caller's pieces, never loaded whole. */
static int read_piece(struct store_account *a, int64_t body, uint64_t offset,
		      void *buf, size_t n, size_t *got_r, const char **err_r)
{
	sqlite3_blob *blob = NULL;
	int rc = sqlite3_blob_open(a->rdb, "main", "body", "data", body, 0,
				   &blob);
	if (rc == SQLITE_OK) {
		uint64_t size = (uint64_t)sqlite3_blob_bytes(blob);
		if (offset < size) {
			size_t want = size - offset < n ? (size_t)(size - offset)
							: n;
			rc = sqlite3_blob_read(blob, buf, (int)want,
					       (int)offset);
			if (rc == SQLITE_OK)
				*got_r = want;
		}
	}
	int result = rc == SQLITE_OK ? 1 : sqlite_fail(a->rdb, rc, a->name,
							err_r);
	sqlite3_blob_close(blob);
	return result;
}

/* Whether the message is still in the mailbox: 1, 0, or a store_fail. */
static int msg_present(struct store_account *a, int64_t mailbox_id,
		       uint32_t uid)
{
	sqlite3_stmt *st = sqlite_reader_stmt(a, RT_BODY_ID);
	if (st == NULL)
		return sqlite_fail(a->rdb, SQLITE_OK, a->name, NULL);
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	int result = rc == SQLITE_DONE	 ? 0
		     : rc == SQLITE_ROW ? 1
					: sqlite_fail(a->rdb, rc, a->name, NULL);
	sqlite3_reset(st);
	return result;
}

int store_msg_read(struct store_account *a, int64_t mailbox_id, uint32_t uid,
		   uint64_t offset, void *buf, size_t n, size_t *got_r,
		   const char **err_r)
{
	int result;
	*got_r = 0;
	pthread_mutex_lock(&a->rlock);
	sqlite3_stmt *st = sqlite_reader_stmt(a, RT_BODY_ID);
	if (st == NULL) {
		result = sqlite_fail(a->rdb, SQLITE_OK, a->name, err_r);
		goto out;
	}
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	int64_t body = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	uint64_t size = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 1)
					 : 0;
	result = rc == SQLITE_DONE ? 0
		 : rc == SQLITE_ROW ? 1
				    : sqlite_fail(a->rdb, rc, a->name, err_r);
	sqlite3_reset(st);
	if (result <= 0)
		goto out;
	if (offset == 0 && size <= n)
		result = read_whole(a, body, buf, n, got_r, err_r);
	else if (offset < size)
		result = read_piece(a, body, offset, buf, n, got_r, err_r);
	/* The index row and the bytes are read by two statements: an
	 * expunge committed between them leaves the body gone with the
	 * message, which is no damage (imaptest's load found it). */
	if (result < 0 && msg_present(a, mailbox_id, uid) == 0) {
		*got_r = 0;
		result = 0;
	}
out:
	pthread_mutex_unlock(&a->rlock);
	return result;
}

/* ---- meta ---- */

static void bind_text_or_null(sqlite3_stmt *st, int col, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

int sqlite_meta_insert(sqlite3 *db, int64_t body_id,
		       const struct store_msg_meta *x)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO msginfo(body_id, envelope, "
		"bodystructure, body, layout, sentdate, subject, addr_from, "
		"addr_to, addr_cc, preview) VALUES (?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, body_id);
	bind_text_or_null(st, 2, x->envelope);
	bind_text_or_null(st, 3, x->bodystructure);
	bind_text_or_null(st, 4, x->body);
	if (x->layout != NULL)
		sqlite3_bind_blob(st, 5, x->layout, (int)x->layout_len,
				  SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, x->sentdate);
	bind_text_or_null(st, 7, x->subject);
	bind_text_or_null(st, 8, x->from);
	bind_text_or_null(st, 9, x->to);
	bind_text_or_null(st, 10, x->cc);
	bind_text_or_null(st, 11, x->preview);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite_fts_put(db, body_id, x->header_text, x->body_text);
}

/* ---- writing ----
 * One writer at a time per account: `writing` is the baton.  Whoever holds
 * it commits everything queued when it took it. */

/* A failure on the writer, as a store_fail with its reason. */
static int wfail(struct store_account *a, const char **err_r)
{
	return sqlite_fail(a->wdb, SQLITE_OK, a->name, err_r);
}

/* Read the source's file part into the blob from `at` on, a piece at a
 * time. */
static int write_file(struct store_account *a, sqlite3_blob *blob,
		      const struct store_source *src, size_t at, char **buf,
		      const char **err_r)
{
	if (*buf == NULL)
		*buf = xmalloc(SOURCE_PIECE);
	for (uint64_t off = 0; off < src->fd_len;) {
		size_t want = src->fd_len - off < SOURCE_PIECE
				      ? (size_t)(src->fd_len - off)
				      : SOURCE_PIECE;
		ssize_t got = pread(src->fd, *buf, want, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			int fail = sqlite_fail_errno(got < 0 ? errno : EIO,
						     "reading the message",
						     err_r);
			return fail == STORE_FAIL_FULL ? STORE_FAIL_TEMP : fail;
		}
		if (sqlite3_blob_write(blob, *buf, (int)got,
				       (int)(at + off)) != SQLITE_OK)
			return wfail(a, err_r);
		off += (uint64_t)got;
	}
	return 1;
}

/* Fill a zeroblob in place from the source, so its pieces are never
 * joined in memory first. */
static int write_source(struct store_account *a, int64_t body,
			const struct store_source *src, char **buf,
			const char **err_r)
{
	sqlite3_blob *blob;
	size_t off = 0;
	int rc = 1;
	if (sqlite3_blob_open(a->wdb, "main", "body", "data", body, 1,
			      &blob) != SQLITE_OK)
		return wfail(a, err_r);
	for (int i = 0; rc > 0 && i < src->iovcnt; i++) {
		if (src->iov[i].iov_len > 0 &&
		    sqlite3_blob_write(blob, src->iov[i].iov_base,
				       (int)src->iov[i].iov_len,
				       (int)off) != SQLITE_OK)
			rc = wfail(a, err_r);
		off += src->iov[i].iov_len;
	}
	if (rc > 0 && src->fd >= 0)
		rc = write_file(a, blob, src, off, buf, err_r);
	if (sqlite3_blob_close(blob) != SQLITE_OK && rc > 0)
		rc = wfail(a, err_r);
	return rc;
}

static int insert_body(struct store_account *a, struct delivery *d,
		       int64_t *body_r, char **buf, const char **err_r)
{
	sqlite3_stmt *st = a->st[ST_BODY];
	const struct store_source *src = d->src;
	bool one_piece = src->iovcnt == 1 && src->fd < 0;
	if (one_piece)
		sqlite3_bind_blob64(st, 1, src->iov[0].iov_base, d->len,
				    SQLITE_STATIC);
	else
		sqlite3_bind_zeroblob64(st, 1, d->len);
	if (sqlite_step_reset(st, SQLITE_DONE) < 0)
		return wfail(a, err_r);
	*body_r = sqlite3_last_insert_rowid(a->wdb);
	return one_piece ? 1 : write_source(a, *body_r, src, buf, err_r);
}

static int insert_one(struct store_account *a, struct delivery *d,
		      char **buf, const char **err_r)
{
	sqlite3_stmt **st = a->st;
	int64_t body = 0;
	sqlite3_bind_int64(st[ST_NEXT], 1, d->mailbox_id);
	if (sqlite3_step(st[ST_NEXT]) != SQLITE_ROW) {
		int fail = wfail(a, err_r);
		sqlite3_reset(st[ST_NEXT]);
		return fail;
	}
	int64_t uid = sqlite3_column_int64(st[ST_NEXT], 0);
	int64_t modseq = sqlite3_column_int64(st[ST_NEXT], 1) + 1;
	sqlite3_reset(st[ST_NEXT]);
	if (uid > UINT32_MAX) {
		sqlite_set_err(err_r, sqlite_errf("%s: no UIDs left in the "
						  "mailbox", a->name));
		return STORE_FAIL_BROKEN;
	}
	/* A keyword new to the mailbox is defined with the message. */
	int rc = sqlite_keywords_define(a->wdb, d->mailbox_id, d->keywords);
	if (rc == 0) {
		sqlite_set_err(err_r, sqlite_errf("%s: too many keywords in "
						  "the mailbox", a->name));
		return STORE_FAIL_LIMIT;
	}
	if (rc < 0)
		return wfail(a, err_r);
	rc = insert_body(a, d, &body, buf, err_r);
	if (rc < 0)
		return rc;
	int64_t thread;
	if (sqlite_thread_assign(a, &d->keys, body, &thread) < 0)
		return wfail(a, err_r);

	sqlite3_bind_int64(st[ST_MSG], 1, d->mailbox_id);
	sqlite3_bind_int64(st[ST_MSG], 2, uid);
	sqlite3_bind_int64(st[ST_MSG], 3, modseq);
	sqlite3_bind_int64(st[ST_MSG], 4, d->internaldate);
	sqlite3_bind_int64(st[ST_MSG], 5, (sqlite3_int64)d->len);
	sqlite3_bind_int64(st[ST_MSG], 6, body);
	sqlite3_bind_int64(st[ST_MSG], 7, d->flags);
	sqlite3_bind_text(st[ST_MSG], 8, d->keywords ? d->keywords : "", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st[ST_MSG], 9, thread);
	if (sqlite_step_reset(st[ST_MSG], SQLITE_DONE) < 0)
		return wfail(a, err_r);
	if (d->meta != NULL && sqlite_meta_insert(a->wdb, body, d->meta) < 0)
		return wfail(a, err_r);

	sqlite3_bind_int64(st[ST_MBOX], 1, uid + 1);
	sqlite3_bind_int64(st[ST_MBOX], 2, modseq);
	sqlite3_bind_int64(st[ST_MBOX], 3, d->mailbox_id);
	if (sqlite_step_reset(st[ST_MBOX], SQLITE_DONE) < 0)
		return wfail(a, err_r);
	d->uid = (uint32_t)uid;
	return 1;
}

/* One delivery inside the batch's transaction, under a savepoint so that
 * its failure (a bad message file, no room for it) undoes only itself.
 * Returns 1, a store_fail for this delivery alone, or 0 with *fail_r set
 * when the whole transaction is lost. */
static int insert_saved(struct store_account *a, struct delivery *d,
			char **buf, int *fail_r, const char **err_r)
{
	if (sqlite_step_reset(a->st[ST_SAVE], SQLITE_DONE) < 0) {
		*fail_r = wfail(a, err_r);
		return 0;
	}
	int rc = insert_one(a, d, buf, err_r);
	if (rc > 0 && sqlite_step_reset(a->st[ST_RELEASE], SQLITE_DONE) < 0)
		rc = wfail(a, err_r);
	if (rc > 0)
		return 1;
	/* After some errors (SQLITE_FULL among them) SQLite has already
	 * rolled the whole transaction back. */
	if (sqlite3_get_autocommit(a->wdb) ||
	    sqlite_step_reset(a->st[ST_UNDO], SQLITE_DONE) < 0 ||
	    sqlite_step_reset(a->st[ST_RELEASE], SQLITE_DONE) < 0) {
		*fail_r = rc;
		return 0;
	}
	return rc;
}

static void settle(struct delivery *batch, int from, int to,
		   const char *reason)
{
	for (struct delivery *d = batch; d != NULL; d = d->next) {
		if (d->outcome != from)
			continue;
		d->outcome = to;
		if (reason != NULL)
			snprintf(d->reason, sizeof(d->reason), "%s", reason);
	}
}

/* Inside the write transaction: the account was not removed (the mark a
 * removal leaves, or the user row gone), and its usage and quota. */
static int batch_account(struct store_account *a, uint64_t *used_r,
			 uint64_t *quota_r, const char **err_r)
{
	sqlite3_stmt *st = a->st[ST_ACCOUNT];
	int rc = sqlite3_step(st);
	bool removed = rc == SQLITE_ROW && sqlite3_column_int(st, 1) != 0;
	if (rc == SQLITE_ROW)
		*used_r = (uint64_t)sqlite3_column_int64(st, 0);
	int fail = rc == SQLITE_ROW ? 1 : wfail(a, err_r);
	sqlite3_reset(st);
	if (fail < 0)
		return fail;
	if (!removed) {
		rc = sqlite_user_quota(a->store, a->id, quota_r, err_r);
		if (rc != 0)
			return rc;
	}
	sqlite_set_err(err_r, sqlite_errf("%s: the account was removed",
					  a->name));
	return STORE_FAIL_GONE;
}

/* The deliveries of the batch that fit the quota, in one transaction and
 * one fsync.  Sets each one's outcome. */
static void batch_insert(struct store_account *a, struct delivery *batch,
			 uint64_t used, uint64_t quota, char **buf)
{
	const char *err;
	int lost = 0;
	for (struct delivery *d = batch; d != NULL; d = d->next) {
		int rc = sqlite_quota_verdict(quota, used, d->len, &err);
		if (rc == 1)
			rc = insert_saved(a, d, buf, &lost, &err);
		if (rc == 0)
			break;
		if (rc == 1) {
			d->outcome = 2;
			used += d->len;
		} else {
			d->outcome = rc;
			snprintf(d->reason, sizeof(d->reason), "%s", err);
		}
	}
	if (lost < 0) {
		settle(batch, 2, lost, err);
		settle(batch, 0, lost, err);
		return;
	}
	if (sqlite_commit(a->wdb) < 0) {
		lost = wfail(a, &err);
		sqlite_rollback(a->wdb);
		settle(batch, 2, lost, err);
		return;
	}
	settle(batch, 2, 1, NULL);
}

static void commit_batch(struct store_account *a, struct delivery *batch)
{
	const char *err = NULL;
	uint64_t used = 0, quota = 0;
	char *buf = NULL;
	int rc = sqlite_writer_db(a, &err);
	if (rc == 0 && sqlite_begin(a->wdb) < 0)
		rc = wfail(a, &err);
	if (rc == 0)
		rc = batch_account(a, &used, &quota, &err);
	if (rc < 0) {
		if (a->wdb != NULL)
			sqlite_rollback(a->wdb);
		settle(batch, 0, rc, err);
	} else {
		batch_insert(a, batch, used, quota, &buf);
	}
	free(buf);
	if (rc == STORE_FAIL_GONE)
		sqlite_account_forget(a->store, a->id);
}

static uint64_t source_len(const struct store_source *src)
{
	uint64_t len = src->fd >= 0 ? src->fd_len : 0;
	for (int i = 0; i < src->iovcnt; i++)
		len += src->iov[i].iov_len;
	return len;
}

int store_msg_deliver(struct store_account *a, int64_t mailbox_id,
		      const struct store_source *src, int64_t internaldate,
		      uint32_t *uid_r, const char **err_r)
{
	return store_msg_append(a, mailbox_id, src, NULL, 0, NULL,
				internaldate, uid_r, err_r);
}

int store_msg_append(struct store_account *a, int64_t mailbox_id,
		     const struct store_source *src,
		     const struct store_msg_meta *meta, unsigned flags,
		     const char *keywords, int64_t internaldate,
		     uint32_t *uid_r, const char **err_r)
{
	uint64_t len = source_len(src);
	/* Blob I/O takes int offsets; the config caps messages far below. */
	if (len > INT32_MAX || src->iovcnt < 0 ||
	    (src->iovcnt == 0 && src->fd < 0)) {
		sqlite_set_err(err_r, sqlite_errf("%s: no message, or one "
						  "over 2 GiB", a->name));
		return STORE_FAIL_TEMP;
	}
	struct delivery d = {.mailbox_id = mailbox_id, .src = src, .len = len,
			     .meta = meta, .flags = flags, .keywords = keywords,
			     .internaldate = internaldate};
	/* Read here, on the caller's thread, not by the committer that
	 * holds every other delivery to the account up. */
	int rc = sqlite_thread_keys(src, &d.keys, err_r);
	if (rc < 0)
		return rc;

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
		commit_batch(a, batch);
		pthread_mutex_lock(&a->wlock);
		/* Under the lock: a waiter that sees its status may return
		 * and free its node, so nobody may touch the node after. */
		for (struct delivery *b = batch, *next; b != NULL; b = next) {
			next = b->next;
			b->status = b->outcome;
		}
		a->writing = false;
		pthread_cond_broadcast(&a->wcond);
	}
	pthread_mutex_unlock(&a->wlock);
	if (d.status > 0) {
		*uid_r = d.uid;
		sqlite_reserve_tick(a->store);
		sqlite_account_changed(a);
		return 1;
	}
	sqlite_set_err(err_r, sqlite_errf("%s", d.reason));
	return d.status;
}

/* ---- expunge ---- */

/* Expunged messages leave their UID in `expunged` under the MODSEQ of
 * the expunge, so sessions and QRESYNC clients can catch up; their bytes
 * go with the last message that shares them. */
static const char *const expunge_sql[] = {
	"UPDATE body SET refs = refs - 1 WHERE id = (SELECT body_id "
	"FROM message WHERE mailbox_id = ?1 AND uid = ?2)",
	"DELETE FROM body WHERE id = (SELECT body_id FROM message "
	"WHERE mailbox_id = ?1 AND uid = ?2) AND refs <= 0",
	"INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) "
	"SELECT ?1, ?2, highestmodseq FROM mailbox WHERE id = ?1 "
	"AND EXISTS (SELECT 1 FROM message WHERE mailbox_id = ?1 "
	"AND uid = ?2)",
	"DELETE FROM message WHERE mailbox_id = ?1 AND uid = ?2",
};
#define EXPUNGE_STEPS (sizeof(expunge_sql) / sizeof(*expunge_sql))

int sqlite_expunge_in_txn(struct store_account *a, int64_t mailbox_id,
			  const uint32_t *uids, size_t n)
{
	sqlite3_stmt *st[EXPUNGE_STEPS] = {0};
	int rc = -1;
	if (sqlite_exec(a->wdb, "UPDATE mailbox SET highestmodseq = "
				"highestmodseq + 1 WHERE id = ?",
			mailbox_id) < 0)
		return -1;
	for (size_t k = 0; k < EXPUNGE_STEPS; k++)
		if (sqlite3_prepare_v2(a->wdb, expunge_sql[k], -1, &st[k],
				       NULL) != SQLITE_OK)
			goto out;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < EXPUNGE_STEPS; k++) {
			sqlite3_bind_int64(st[k], 1, mailbox_id);
			sqlite3_bind_int64(st[k], 2, uids[i]);
			if (sqlite_step_reset(st[k], SQLITE_DONE) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	for (size_t k = 0; k < EXPUNGE_STEPS; k++)
		sqlite3_finalize(st[k]);
	return rc;
}

static int expunge_txn(struct store_account *a, int64_t mailbox_id,
		       const uint32_t *uids, size_t n, const char **err_r)
{
	int result = sqlite_writer_db(a, err_r);
	if (result < 0)
		return result;
	if (sqlite_begin(a->wdb) < 0 ||
	    sqlite_expunge_in_txn(a, mailbox_id, uids, n) < 0 ||
	    sqlite_commit(a->wdb) < 0) {
		result = wfail(a, err_r);
		sqlite_rollback(a->wdb);
		return result;
	}
	return 1;
}

static int64_t free_pages(sqlite3 *db)
{
	return sqlite_pragma_int(db, "PRAGMA freelist_count");
}

/* Give the pages of what was expunged back to the file system, when there
 * are enough of them to matter: moved to the end and cut off
 * (auto_vacuum=INCREMENTAL), then copied out of the WAL so the file
 * shrinks now.  In steps of COMPACT_PAGES: one big step overflows the page
 * cache into the WAL with every page it frees, as much as the expunge
 * freed, which a full disk does not have.  The steps need no sync of
 * their own; losing one loses nothing.  Best effort: what is left waits
 * for this account's next messages. */
static void compact(struct store_account *a)
{
	int64_t left = free_pages(a->wdb);
	if (left < COMPACT_PAGES)
		return;
	sqlite3_exec(a->wdb, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	while (left > 0) {
		if (sqlite3_exec(a->wdb, "PRAGMA incremental_vacuum(256)", NULL,
				 NULL, NULL) != SQLITE_OK) {
			log_debug("store: %s: compacting: %s", a->name,
				  sqlite3_errmsg(a->wdb));
			break;
		}
		int64_t now = free_pages(a->wdb);
		if (now < 0 || now >= left)
			break;
		left = now;
	}
	sqlite3_exec(a->wdb, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	sqlite3_wal_checkpoint_v2(a->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE,
				  NULL, NULL);
}

int store_msg_expunge(struct store_account *a, int64_t mailbox_id,
		      const uint32_t *uids, size_t n, const char **err_r)
{
	sqlite_writer_enter(a);
	/* Like a flag change, a removal is not worth a disk sync of its
	 * own: the next synced commit covers it, and a power cut can only
	 * bring back what was being deleted, never lose a message. */
	if (sqlite_writer_db(a, NULL) == 0)
		sqlite3_exec(a->wdb, "PRAGMA synchronous=NORMAL", NULL, NULL,
			     NULL);
	int rc = expunge_txn(a, mailbox_id, uids, n, err_r);
	if (rc == STORE_FAIL_FULL &&
	    sqlite_reserve_release(a->store, "deleting messages"))
		rc = expunge_txn(a, mailbox_id, uids, n, err_r);
	if (a->wdb != NULL)
		sqlite3_exec(a->wdb, "PRAGMA synchronous=FULL", NULL, NULL,
			     NULL);
	if (rc > 0)
		compact(a);
	sqlite_writer_leave(a);
	if (rc > 0)
		sqlite_account_changed(a);
	return rc;
}
