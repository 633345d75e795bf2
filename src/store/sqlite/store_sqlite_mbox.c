/* Mailboxes of an account database: list, create, delete, rename,
 * subscriptions and status counts, for IMAP.  Changes go through the
 * account's writer baton, like deliveries, so they never interleave with
 * a group commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/xalloc.h"
#include "store/sqlite/store_sqlite.h"

static const char *const special_names[STORE_SPECIAL_COUNT] = {
	[STORE_SPECIAL_DRAFTS] = "\\Drafts",
	[STORE_SPECIAL_SENT] = "\\Sent",
	[STORE_SPECIAL_TRASH] = "\\Trash",
	[STORE_SPECIAL_JUNK] = "\\Junk",
	[STORE_SPECIAL_ARCHIVE] = "\\Archive",
	[STORE_SPECIAL_ALL] = "\\All",
	[STORE_SPECIAL_FLAGGED] = "\\Flagged",
};

const char *store_special_name(enum store_special use)
{
	return use > STORE_SPECIAL_NONE && use < STORE_SPECIAL_COUNT
		       ? special_names[use]
		       : NULL;
}

enum store_special store_special_parse(const char *name, size_t len)
{
	for (int i = 1; i < STORE_SPECIAL_COUNT; i++)
		if (strlen(special_names[i]) == len &&
		    strncasecmp(special_names[i], name, len) == 0)
			return (enum store_special)i;
	return STORE_SPECIAL_NONE;
}

/* ---- reading ---- */

static enum store_special special_of(const unsigned char *text)
{
	return text == NULL ? STORE_SPECIAL_NONE
			    : store_special_parse((const char *)text,
						  strlen((const char *)text));
}

static const char list_sql[] =
	"SELECT id, name, special_use, uidvalidity, uidnext, highestmodseq,"
	" name IN (SELECT name FROM subscription) FROM mailbox"
	" UNION ALL SELECT 0, name, NULL, 0, 0, 0, 1 FROM subscription"
	" WHERE name NOT IN (SELECT name FROM mailbox) ORDER BY 2";

int store_mailbox_list(struct store_account *a,
		       void (*fn)(const struct store_mailbox_info *mb,
				  void *ctx),
		       void *ctx, const char **err_r)
{
	sqlite3_stmt *st = NULL;
	int rc;
	pthread_mutex_lock(&a->rlock);
	rc = sqlite3_prepare_v2(a->rdb, list_sql, -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_mailbox_info mb = {
			.id = sqlite3_column_int64(st, 0),
			.name = (const char *)sqlite3_column_text(st, 1),
			.special = special_of(sqlite3_column_text(st, 2)),
			.uidvalidity = (uint32_t)sqlite3_column_int64(st, 3),
			.uidnext = (uint32_t)sqlite3_column_int64(st, 4),
			.highestmodseq = (uint64_t)sqlite3_column_int64(st, 5),
			.subscribed = sqlite3_column_int(st, 6) != 0,
		};
		if (mb.name != NULL)
			fn(&mb, ctx);
		rc = SQLITE_OK;
	}
	int result = rc == SQLITE_DONE ? 1
				       : sqlite_fail(a->rdb, rc, a->name, err_r);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&a->rlock);
	return result;
}

int store_mailbox_status(struct store_account *a, int64_t mailbox_id,
			 struct store_mailbox_status *st_r, const char **err_r)
{
	int result;
	memset(st_r, 0, sizeof(*st_r));
	pthread_mutex_lock(&a->rlock);
	sqlite3_stmt *st = sqlite_reader_stmt(a, RT_STATUS);
	int rc = st != NULL ? SQLITE_OK : sqlite3_errcode(a->rdb);
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW) {
		st_r->messages = (uint32_t)sqlite3_column_int64(st, 0);
		st_r->unseen = (uint32_t)sqlite3_column_int64(st, 1);
		st_r->deleted = (uint32_t)sqlite3_column_int64(st, 2);
		st_r->size = (uint64_t)sqlite3_column_int64(st, 3);
		st_r->recent = (uint32_t)sqlite3_column_int64(st, 4);
		result = 1;
	} else {
		result = sqlite_fail(a->rdb, rc, a->name, err_r);
	}
	if (st != NULL)
		sqlite3_reset(st);
	pthread_mutex_unlock(&a->rlock);
	return result;
}

/* ---- changing ---- */

/* Run `body` in a write transaction under the writer baton.  body returns
 * 1 (commit), 0 or STORE_FAIL_EXISTS (roll back, return it), or -1 (an
 * SQLite error on the writer: roll back, return its store_fail). */
static int write_txn(struct store_account *a,
		     int (*body)(struct store_account *a, const void *arg),
		     const void *arg, const char **err_r)
{
	sqlite_writer_enter(a);
	int rc = sqlite_writer_db(a, err_r);
	if (rc < 0)
		goto out;
	if (sqlite_begin(a->wdb) < 0) {
		rc = sqlite_fail(a->wdb, SQLITE_OK, a->name, err_r);
		goto out;
	}
	rc = body(a, arg);
	if (rc == 1 && sqlite_commit(a->wdb) < 0)
		rc = -1;
	if (rc < 0 && rc != STORE_FAIL_EXISTS)
		rc = sqlite_fail(a->wdb, SQLITE_OK, a->name, err_r);
	if (rc != 1)
		sqlite_rollback(a->wdb);
out:
	sqlite_writer_leave(a);
	if (rc == 1)
		sqlite_account_changed(a);
	return rc;
}

/* 1 if a mailbox has this name, 0 if not, -1 on error. */
static int name_exists(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM mailbox WHERE name=?", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* A new mailbox row: a UIDVALIDITY above every one given before in this
 * account, so a name deleted and made again never looks the same. */
static int insert_mailbox(sqlite3 *db, const char *name, const char *use,
			  uint32_t uidnext, int64_t *id_r)
{
	static const char sql[] =
		"INSERT INTO mailbox(id, name, uidvalidity, uidnext, "
		"highestmodseq, special_use) VALUES ((SELECT max(coalesce("
		"(SELECT max(id) FROM mailbox), 0), last_mailbox_id) + 1 "
		"FROM account), ?1, max(?2, (SELECT "
		"last_uidvalidity FROM account) + 1), ?3, 1, ?4)";
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 3, uidnext);
	if (use != NULL)
		sqlite3_bind_text(st, 4, use, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	*id_r = sqlite3_last_insert_rowid(db);
	return sqlite_exec(db, "UPDATE account SET last_uidvalidity = "
			       "(SELECT uidvalidity FROM mailbox WHERE id=?)",
			   *id_r);
}

struct create_arg {
	const char *name;
	enum store_special special;
};

static int create_body(struct store_account *a, const void *arg)
{
	const struct create_arg *c = arg;
	int64_t id;
	int rc = name_exists(a->wdb, c->name);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (insert_mailbox(a->wdb, c->name, store_special_name(c->special), 1,
			   &id) < 0)
		return -1;
	return 1;
}

int store_mailbox_create(struct store_account *a, const char *name,
			 enum store_special special, const char **err_r)
{
	struct create_arg c = {name, special};
	return write_txn(a, create_body, &c, err_r);
}

/* Drop every message of a mailbox, and its bytes where no other message
 * shares them. */
static const char *const empty_sql[] = {
	"UPDATE body SET refs = refs - (SELECT count(*) FROM message "
	"WHERE mailbox_id = ?1 AND body_id = body.id) WHERE id IN "
	"(SELECT body_id FROM message WHERE mailbox_id = ?1)",
	("DELETE FROM body WHERE refs <= 0 AND id IN "
	 "(SELECT body_id FROM message WHERE mailbox_id = ?1)"),
	"DELETE FROM message WHERE mailbox_id = ?1",
	"DELETE FROM expunged WHERE mailbox_id = ?1",
	"DELETE FROM mailbox WHERE id = ?1",
};

static int mailbox_id_of(sqlite3 *db, const char *name, int64_t *id_r,
			 uint32_t *uidnext_r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT id, uidnext FROM mailbox "
				   "WHERE name=?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id_r = sqlite3_column_int64(st, 0);
		*uidnext_r = (uint32_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int delete_body(struct store_account *a, const void *arg)
{
	const char *name = arg;
	int64_t id;
	uint32_t uidnext;
	int rc = mailbox_id_of(a->wdb, name, &id, &uidnext);
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < sizeof(empty_sql) / sizeof(*empty_sql); i++)
		if (sqlite_exec(a->wdb, empty_sql[i], id) < 0)
			return -1;
	return 1;
}

int store_mailbox_delete(struct store_account *a, const char *name,
			 const char **err_r)
{
	if (strcmp(name, "INBOX") == 0)
		return 0;
	int rc = write_txn(a, delete_body, name, err_r);
	if (rc == STORE_FAIL_FULL &&
	    sqlite_reserve_release(a->store, "deleting a mailbox"))
		rc = write_txn(a, delete_body, name, err_r);
	return rc;
}

struct rename_arg {
	const char *from, *to;
};

/* RFC 9051 6.3.6: renaming INBOX moves its messages into a new mailbox
 * and leaves INBOX, empty, where it was.  The messages keep their UIDs:
 * the new mailbox starts where INBOX's UIDs are. */
static int rename_inbox(struct store_account *a, const char *to)
{
	int64_t inbox, id;
	uint32_t uidnext;
	if (mailbox_id_of(a->wdb, "INBOX", &inbox, &uidnext) <= 0 ||
	    insert_mailbox(a->wdb, to, NULL, uidnext, &id) < 0)
		return -1;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(a->wdb,
			       "UPDATE message SET mailbox_id = ?2 "
			       "WHERE mailbox_id = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, inbox);
	sqlite3_bind_int64(st, 2, id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	/* Their keywords stay defined, and those no session claimed stay
	 * recent, in the new mailbox. */
	if (sqlite_exec(a->wdb, "INSERT OR IGNORE INTO keyword(mailbox_id, "
				"name) SELECT ?1, name FROM keyword WHERE "
				"mailbox_id = (SELECT id FROM mailbox WHERE "
				"name = 'INBOX')", id) < 0 ||
	    sqlite_exec(a->wdb, "UPDATE mailbox SET recent_uid = (SELECT "
				"recent_uid FROM mailbox WHERE name = "
				"'INBOX') WHERE id = ?", id) < 0)
		return -1;
	/* The messages keep their MODSEQs too: the new mailbox's counter
	 * starts above them, or a change there would get a lower one. */
	if (sqlite_exec(a->wdb, "UPDATE mailbox SET highestmodseq = (SELECT "
				"highestmodseq FROM mailbox WHERE name = "
				"'INBOX') WHERE id = ?", id) < 0)
		return -1;
	/* INBOX's clients see the messages go as expunges. */
	if (sqlite_exec(a->wdb, "UPDATE mailbox SET highestmodseq = "
				"highestmodseq + 1 WHERE id = ?", inbox) < 0)
		return -1;
	if (sqlite3_prepare_v2(a->wdb,
			       "INSERT OR REPLACE INTO expunged(mailbox_id, "
			       "uid, modseq) SELECT ?1, uid, (SELECT "
			       "highestmodseq FROM mailbox WHERE id = ?1) "
			       "FROM message WHERE mailbox_id = ?2", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, inbox);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 1 : -1;
}

static int rename_body(struct store_account *a, const void *arg)
{
	const struct rename_arg *r = arg;
	int rc = name_exists(a->wdb, r->to);
	if (rc != 0)
		return rc < 0 ? -1 : STORE_FAIL_EXISTS;
	rc = name_exists(a->wdb, r->from);
	if (rc <= 0)
		return rc;
	if (strcmp(r->from, "INBOX") == 0)
		return rename_inbox(a, r->to);
	/* The mailbox and everything below it, and their subscriptions. */
	static const char *const sql[] = {
		"UPDATE mailbox SET name = ?2 || substr(name, length(?1) + 1) "
		"WHERE name = ?1 OR substr(name, 1, length(?1) + 1) = ?1 || '/'",
		"UPDATE OR REPLACE subscription SET name = ?2 || "
		"substr(name, length(?1) + 1) WHERE name = ?1 OR "
		"substr(name, 1, length(?1) + 1) = ?1 || '/'",
	};
	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(a->wdb, sql[i], -1, &st, NULL) !=
		    SQLITE_OK)
			return -1;
		sqlite3_bind_text(st, 1, r->from, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->to, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		/* A mailbox below `to` is in the way of one below `from`. */
		if ((rc & 0xff) == SQLITE_CONSTRAINT)
			return STORE_FAIL_EXISTS;
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 1;
}

int store_mailbox_rename(struct store_account *a, const char *from,
			 const char *to, const char **err_r)
{
	struct rename_arg r = {from, to};
	return write_txn(a, rename_body, &r, err_r);
}

struct subscribe_arg {
	const char *name;
	bool on;
};

static int subscribe_body(struct store_account *a, const void *arg)
{
	const struct subscribe_arg *s = arg;
	sqlite3_stmt *st;
	const char *sql = s->on ? "INSERT OR IGNORE INTO subscription "
				  "VALUES (?)"
				: "DELETE FROM subscription WHERE name = ?";
	if (sqlite3_prepare_v2(a->wdb, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 1 : -1;
}

int store_mailbox_subscribe(struct store_account *a, const char *name,
			    bool on, const char **err_r)
{
	struct subscribe_arg s = {name, on};
	return write_txn(a, subscribe_body, &s, err_r);
}
