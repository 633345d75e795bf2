/* The full-text index of an account database: table msgtext, an FTS5
 * table keyed by body id (one row for a message and all its copies), with
 * the header text and the body text that mime_text makes, already in the
 * i;unicode-casemap form.
 *
 * The trigram tokenizer makes a phrase query a substring search: "ABCD"
 * is the trigrams ABC BCD at consecutive positions, which is what IMAP
 * SEARCH asks for (RFC 9051 6.4.4: a substring, not a word).  It runs
 * with case_sensitive 1: the text and the needle are both normalised
 * already, and SQLite's own folding would only add matches that
 * i;unicode-casemap does not make.  A needle under three characters has
 * no trigram, so it is looked for with instr() in the text of each
 * message of the mailbox. */
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "store/sqlite/store_sqlite.h"

int sqlite_fts_put(sqlite3 *db, int64_t body_id, const char *header_text,
		   const char *body_text)
{
	static const char sql[] = "INSERT OR REPLACE INTO msgtext(rowid, "
				  "header, body) VALUES (?,?,?)";
	sqlite3_stmt *st;
	if (header_text == NULL || body_text == NULL)
		return 0;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, body_id);
	sqlite3_bind_text(st, 2, header_text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, body_text, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- searching ---- */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The FTS5 query for a needle: one phrase, in double quotes (doubled
 * inside), limited to a column. */
static void match_query(const char *needle, enum store_text_where where,
			struct str *q)
{
	if (where == STORE_TEXT_BODY)
		str_appends(q, "{body} : ");
	else if (where == STORE_TEXT_HEADER)
		str_appends(q, "{header} : ");
	str_appendc(q, '"');
	for (const char *p = needle; *p != '\0'; p++) {
		if (*p == '"')
			str_appendc(q, '"');
		str_appendc(q, *p);
	}
	str_appendc(q, '"');
}

/* Candidates come from the index and are then looked up by body id in
 * the mailbox's messages (no index on message.body_id: the IN list is
 * made once, then the mailbox's rows are walked in UID order). */
static const char *const search_sql[2][3] = {
	/* by trigrams */
	{
		[STORE_TEXT_BODY] =
			"SELECT m.uid FROM message m WHERE m.mailbox_id = ?1 "
			"AND m.body_id IN (SELECT rowid FROM msgtext WHERE "
			"msgtext MATCH ?2) ORDER BY m.uid",
		[STORE_TEXT_ALL] =
			"SELECT m.uid FROM message m WHERE m.mailbox_id = ?1 "
			"AND m.body_id IN (SELECT rowid FROM msgtext WHERE "
			"msgtext MATCH ?2) ORDER BY m.uid",
		[STORE_TEXT_HEADER] =
			"SELECT m.uid, (SELECT header FROM msgtext WHERE "
			"rowid = m.body_id) FROM message m WHERE "
			"m.mailbox_id = ?1 AND m.body_id IN (SELECT rowid "
			"FROM msgtext WHERE msgtext MATCH ?2) ORDER BY m.uid",
	},
	/* too short for a trigram: each message's text */
	{
		[STORE_TEXT_BODY] =
			"SELECT m.uid FROM message m WHERE m.mailbox_id = ?1 "
			"AND (SELECT instr(body, ?2) FROM msgtext WHERE "
			"rowid = m.body_id) > 0 ORDER BY m.uid",
		[STORE_TEXT_ALL] =
			"SELECT m.uid FROM message m WHERE m.mailbox_id = ?1 "
			"AND (SELECT max(instr(header, ?2), instr(body, ?2)) "
			"FROM msgtext WHERE rowid = m.body_id) > 0 "
			"ORDER BY m.uid",
		[STORE_TEXT_HEADER] =
			"SELECT m.uid, (SELECT header FROM msgtext WHERE "
			"rowid = m.body_id AND instr(header, ?2) > 0) "
			"FROM message m WHERE m.mailbox_id = ?1 "
			"ORDER BY m.uid",
	},
};

/* Needles longer than this (in characters) look up their first
 * LONG_NEEDLE characters in the index and are then checked whole in each
 * candidate's text: a phrase of thousands of trigrams costs FTS5 far more
 * than the text it would be found in. */
#define LONG_NEEDLE 64

/* The byte length of s's first n characters. */
static size_t utf8_prefix(const char *s, size_t n)
{
	size_t i = 0;
	for (; s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && n-- == 0)
			break;
	return i;
}

static const char long_sql[] =
	"SELECT m.uid, t.header, t.body FROM message m JOIN msgtext t "
	"ON t.rowid = m.body_id WHERE m.mailbox_id = ?1 AND m.body_id IN "
	"(SELECT rowid FROM msgtext WHERE msgtext MATCH ?2) ORDER BY m.uid";

static bool has(sqlite3_stmt *st, int col, const char *needle, size_t n)
{
	const void *t = sqlite3_column_text(st, col);
	return t != NULL && memmem(t, (size_t)sqlite3_column_bytes(st, col),
				   needle, n) != NULL;
}

static int long_search(struct store_account *a, int64_t mailbox_id,
		       const char *needle, enum store_text_where where,
		       void (*fn)(uint32_t uid, const char *header_text,
				  void *ctx),
		       void *ctx, const char **err_r)
{
	struct str prefix = STR_INIT, q = STR_INIT;
	size_t n = strlen(needle);
	str_append(&prefix, needle, utf8_prefix(needle, LONG_NEEDLE));
	match_query(prefix.data, where, &q);
	sqlite3_stmt *st = NULL;
	pthread_mutex_lock(&a->rlock);
	int rc = sqlite3_prepare_v2(a->rdb, long_sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_text(st, 2, q.data, (int)q.len, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			bool in_header = where != STORE_TEXT_BODY &&
					 has(st, 1, needle, n);
			bool in_body = where != STORE_TEXT_HEADER &&
				       has(st, 2, needle, n);
			if (in_header || in_body)
				fn((uint32_t)sqlite3_column_int64(st, 0),
				   where == STORE_TEXT_HEADER
					   ? (const char *)sqlite3_column_text(
						     st, 1)
					   : NULL,
				   ctx);
		}
	}
	int result = rc == SQLITE_DONE ? 1
				       : sqlite_fail(a->rdb, rc, a->name, err_r);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&a->rlock);
	str_free(&prefix);
	str_free(&q);
	return result;
}

int store_msg_text_search(struct store_account *a, int64_t mailbox_id,
			  const char *needle, enum store_text_where where,
			  void (*fn)(uint32_t uid, const char *header_text,
				     void *ctx),
			  void *ctx, const char **err_r)
{
	size_t chars = utf8_chars(needle);
	if (chars > LONG_NEEDLE)
		return long_search(a, mailbox_id, needle, where, fn, ctx,
				   err_r);
	bool short_needle = chars < 3;
	struct str q = STR_INIT;
	sqlite3_stmt *st = NULL;
	int rc;
	if (short_needle)
		str_appends(&q, needle);
	else
		match_query(needle, where, &q);
	pthread_mutex_lock(&a->rlock);
	rc = sqlite3_prepare_v2(a->rdb, search_sql[short_needle][where], -1,
				&st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_text(st, 2, q.data, (int)q.len, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *h = where == STORE_TEXT_HEADER
				? (const char *)sqlite3_column_text(st, 1)
				: NULL;
			/* Messages without text have no header to look at. */
			if (where != STORE_TEXT_HEADER || h != NULL)
				fn((uint32_t)sqlite3_column_int64(st, 0), h,
				   ctx);
		}
	}
	int result = rc == SQLITE_DONE ? 1
				       : sqlite_fail(a->rdb, rc, a->name, err_r);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&a->rlock);
	str_free(&q);
	return result;
}

int store_msg_text_missing(struct store_account *a, int64_t mailbox_id,
			   void (*fn)(uint32_t uid, int64_t email_id,
				      void *ctx),
			   void *ctx, const char **err_r)
{
	/* msgtext_docsize is FTS5's own table of one small row per
	 * document: looking there is a probe into a compact b-tree, where
	 * looking up msgtext by rowid would read each message's text. */
	static const char sql[] =
		"SELECT m.uid, m.body_id FROM message m WHERE "
		"m.mailbox_id = ?1 AND NOT EXISTS (SELECT 1 FROM "
		"msgtext_docsize d WHERE d.id = m.body_id) ORDER BY m.uid";
	sqlite3_stmt *st = NULL;
	pthread_mutex_lock(&a->rlock);
	int rc = sqlite3_prepare_v2(a->rdb, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			fn((uint32_t)sqlite3_column_int64(st, 0),
			   sqlite3_column_int64(st, 1), ctx);
	}
	int result = rc == SQLITE_DONE ? 1
				       : sqlite_fail(a->rdb, rc, a->name, err_r);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&a->rlock);
	return result;
}

/* ---- writing ---- */

/* Only for bodies still there: a row for a body expunged meanwhile would
 * be found by the next body that gets its id. */
static int set_one(sqlite3 *db, sqlite3_stmt *exists,
		   const struct store_msg_text *t)
{
	sqlite3_bind_int64(exists, 1, t->email_id);
	int rc = sqlite3_step(exists);
	sqlite3_reset(exists);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return -1;
	return sqlite_fts_put(db, t->email_id, t->header_text, t->body_text);
}

static int set_txn(struct store_account *a, const struct store_msg_text *t,
		   size_t n)
{
	sqlite3_stmt *exists = NULL;
	int rc = -1;
	if (sqlite_begin(a->wdb) < 0 ||
	    sqlite3_prepare_v2(a->wdb, "SELECT 1 FROM body WHERE id = ?", -1,
			       &exists, NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (set_one(a->wdb, exists, &t[i]) < 0)
			goto out;
	rc = sqlite_commit(a->wdb);
out:
	sqlite3_finalize(exists);
	return rc;
}

int store_msg_text_set(struct store_account *a,
		       const struct store_msg_text *texts, size_t n,
		       const char **err_r)
{
	sqlite_writer_enter(a);
	int rc = sqlite_writer_db(a, err_r);
	if (rc == 0) {
		rc = 1;
		if (set_txn(a, texts, n) < 0) {
			rc = sqlite_fail(a->wdb, SQLITE_OK, a->name, err_r);
			sqlite_rollback(a->wdb);
		}
	}
	sqlite_writer_leave(a);
	return rc;
}
