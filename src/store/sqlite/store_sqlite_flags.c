/* IMAP flags a mailbox keeps as a whole: the keywords defined in it (for
 * FLAGS and PERMANENTFLAGS) and \Recent's mark.  Both live in the mailbox
 * row and table keyword (schema step 6), so a session holds neither: it
 * remembers a count and a UID range, and asks here when they may have
 * moved. */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/store_sqlite.h"

/* ---- defining keywords (inside a writer's transaction) ---- */

static const char kw_add_sql[] =
	"INSERT OR IGNORE INTO keyword(mailbox_id, name) SELECT ?1, ?2 "
	"WHERE (SELECT keyword_count FROM mailbox WHERE id = ?1) < ?3";
static const char kw_has_sql[] =
	"SELECT 1 FROM keyword WHERE mailbox_id = ?1 AND name = ?2";

/* One keyword: 1 when defined (now or before), 0 past the limits, -1. */
static int kw_define_one(sqlite3_stmt *add, sqlite3_stmt *has,
			 int64_t mailbox_id, const char *kw, size_t len)
{
	if (len > STORE_KEYWORD_LEN_MAX)
		return 0;
	sqlite3_bind_int64(add, 1, mailbox_id);
	sqlite3_bind_text(add, 2, kw, (int)len, SQLITE_STATIC);
	sqlite3_bind_int(add, 3, STORE_KEYWORDS_MAX);
	if (sqlite_step_reset(add, SQLITE_DONE) < 0)
		return -1;
	if (sqlite3_changes(sqlite3_db_handle(add)) > 0)
		return 1;
	/* Not added: there already, or the mailbox is full of them. */
	sqlite3_bind_int64(has, 1, mailbox_id);
	sqlite3_bind_text(has, 2, kw, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(has);
	sqlite3_reset(has);
	sqlite3_clear_bindings(has);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int sqlite_keywords_define(sqlite3 *db, int64_t mailbox_id,
			   const char *keywords)
{
	if (keywords == NULL || keywords[0] == '\0')
		return 1;
	sqlite3_stmt *add = NULL, *has = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(db, kw_add_sql, -1, &add, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, kw_has_sql, -1, &has, NULL) != SQLITE_OK)
		goto out;
	rc = 1;
	for (const char *p = keywords; *p != '\0' && rc > 0;) {
		size_t n = strcspn(p, " ");
		if (n > 0)
			rc = kw_define_one(add, has, mailbox_id, p, n);
		p += n;
		p += strspn(p, " ");
	}
out:
	sqlite3_finalize(add);
	sqlite3_finalize(has);
	return rc;
}

/* ---- reading ---- */

/* One integer column of the mailbox's row through the reader statement
 * `which`: 1, 0 if the mailbox is gone, or a store_fail. */
static int mailbox_int(struct store_account *a, int which, int64_t mailbox_id,
		       uint32_t *v_r, const char **err_r)
{
	pthread_mutex_lock(&a->rlock);
	sqlite3_stmt *st = sqlite_reader_stmt(a, which);
	int rc = st != NULL ? SQLITE_OK : sqlite3_errcode(a->rdb);
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW)
		*v_r = (uint32_t)sqlite3_column_int64(st, 0);
	int result = rc == SQLITE_ROW	 ? 1
		     : rc == SQLITE_DONE ? 0
					 : sqlite_fail(a->rdb, rc, a->name, err_r);
	if (st != NULL)
		sqlite3_reset(st);
	pthread_mutex_unlock(&a->rlock);
	return result;
}

int store_keyword_count(struct store_account *a, int64_t mailbox_id,
			uint32_t *count_r, const char **err_r)
{
	*count_r = 0;
	return mailbox_int(a, RT_KW_COUNT, mailbox_id, count_r, err_r);
}

int store_keyword_list(struct store_account *a, int64_t mailbox_id,
		       void (*fn)(const char *keyword, void *ctx), void *ctx,
		       uint32_t *count_r, const char **err_r)
{
	uint32_t n = 0;
	int rc = SQLITE_OK;
	pthread_mutex_lock(&a->rlock);
	sqlite3_stmt *st = sqlite_reader_stmt(a, RT_KW_LIST);
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			fn((const char *)sqlite3_column_text(st, 0), ctx);
			n++;
		}
	}
	*count_r = n;
	return sqlite_reader_done(a, st, rc, err_r);
}

/* ---- \Recent ---- */

/* In the writer's transaction: 1 claimed, 0 not, -1 SQLite error. */
static int recent_claim_txn(sqlite3 *db, int64_t mailbox_id, uint32_t from,
			    uint32_t upto, uint32_t *mark_r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT recent_uid FROM mailbox WHERE "
				   "id = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*mark_r = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : -1;
	if (*mark_r >= upto || (from != 0 && *mark_r != from))
		return 0;
	if (sqlite3_prepare_v2(db, "UPDATE mailbox SET recent_uid = ?1 "
				   "WHERE id = ?2", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, upto);
	sqlite3_bind_int64(st, 2, mailbox_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 1 : -1;
}

int store_recent(struct store_account *a, int64_t mailbox_id, bool claim,
		 uint32_t from, uint32_t upto, uint32_t *mark_r,
		 const char **err_r)
{
	*mark_r = upto;
	int rc = mailbox_int(a, RT_RECENT, mailbox_id, mark_r, err_r);
	/* Most SELECTs find nothing new: then no write at all. */
	if (rc <= 0 || !claim || *mark_r >= upto ||
	    (from != 0 && *mark_r != from))
		return rc < 0 ? rc : 0;
	sqlite_writer_enter(a);
	rc = sqlite_writer_db(a, err_r);
	if (rc == 0) {
		sqlite3_exec(a->wdb, "PRAGMA synchronous=NORMAL", NULL, NULL,
			     NULL);
		if (sqlite_begin(a->wdb) < 0 ||
		    (rc = recent_claim_txn(a->wdb, mailbox_id, from, upto,
					   mark_r)) < 0 ||
		    sqlite_commit(a->wdb) < 0) {
			rc = sqlite_fail(a->wdb, SQLITE_OK, a->name, err_r);
			sqlite_rollback(a->wdb);
		}
		sqlite3_exec(a->wdb, "PRAGMA synchronous=FULL", NULL, NULL,
			     NULL);
	}
	sqlite_writer_leave(a);
	return rc;
}
