/* accounts.db: the aliases that name a user, and the sender exceptions
 * an admin granted, for submission's sender check. */
#include <stdio.h>
#include <string.h>

#include "store/sqlite/store_sqlite.h"

int store_alias_sources(struct store *store, const char *target,
			void (*fn)(const char *alias, void *ctx), void *ctx)
{
	sqlite3_stmt *st;
	int rc = SQLITE_ERROR;
	pthread_mutex_lock(&store->lock);
	if (sqlite3_prepare_v2(store->db,
			       "SELECT address FROM alias WHERE target=? "
			       "AND address NOT LIKE '@%' ORDER BY address",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			fn((const char *)sqlite3_column_text(st, 0), ctx);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&store->lock);
	return rc == SQLITE_DONE ? 1 : -1;
}

/* One change to a user's patterns; caller holds the lock.  Returns the
 * rows changed, or -1 (err_r). */
static int sender_change(struct store *store, const char *sql,
			 const char *address, const char *pattern,
			 const char **err_r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite_fail(store->db, SQLITE_OK, "accounts.db", err_r);
		return -1;
	}
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pattern, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		sqlite_fail(store->db, rc, "accounts.db", err_r);
		return -1;
	}
	return sqlite3_changes(store->db);
}

static int user_exists(struct store *store, const char *address)
{
	sqlite3_stmt *st;
	int rc = -1;
	if (sqlite3_prepare_v2(store->db, "SELECT 1 FROM user WHERE address=?",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = step == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc;
}

static int sender_edit(struct store *store, const char *sql,
		       const char *address, const char *pattern,
		       const char **err_r)
{
	pthread_mutex_lock(&store->lock);
	int rc = user_exists(store, address);
	if (rc == 0) {
		sqlite_set_err(err_r, sqlite_errf("no such user: %s", address));
		rc = -1;
	} else if (rc < 0) {
		sqlite_fail(store->db, SQLITE_OK, "accounts.db", err_r);
	} else {
		rc = sender_change(store, sql, address, pattern, err_r);
	}
	pthread_mutex_unlock(&store->lock);
	return rc;
}

int store_sender_add(struct store *store, const char *address,
		     const char *pattern, const char **err_r)
{
	int rc = sender_edit(store,
			     "INSERT OR IGNORE INTO sender (user, pattern) "
			     "SELECT id, ?2 FROM user WHERE address=?1",
			     address, pattern, err_r);
	return rc < 0 ? -1 : rc > 0;
}

int store_sender_remove(struct store *store, const char *address,
			const char *pattern, const char **err_r)
{
	int rc = sender_edit(store,
			     "DELETE FROM sender WHERE pattern=?2 AND user="
			     "(SELECT id FROM user WHERE address=?1)",
			     address, pattern, err_r);
	return rc < 0 ? -1 : rc > 0;
}

int store_sender_list(struct store *store, const char *address,
		      void (*fn)(const char *pattern, void *ctx), void *ctx)
{
	sqlite3_stmt *st;
	int rc = SQLITE_ERROR;
	pthread_mutex_lock(&store->lock);
	int exists = user_exists(store, address);
	if (exists > 0 &&
	    sqlite3_prepare_v2(store->db,
			       "SELECT s.pattern FROM sender s JOIN user u "
			       "ON u.id = s.user WHERE u.address=? "
			       "ORDER BY s.pattern",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			fn((const char *)sqlite3_column_text(st, 0), ctx);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&store->lock);
	if (exists <= 0)
		return exists;
	return rc == SQLITE_DONE ? 1 : -1;
}
