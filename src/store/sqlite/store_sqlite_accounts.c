/* Domains, users and aliases in accounts.db. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "store/sqlite/store_sqlite.h"

/* Run one statement whose parameters are all text (NULL binds NULL).
 * Returns the sqlite3_step() result, or SQLITE_ERROR if it didn't
 * prepare.  The caller holds store->lock. */
static int run(sqlite3 *db, const char *sql, int n, const char **args)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

/* Same, for a query that returns one integer (or none: *v_r = -1). */
static int query_int(sqlite3 *db, const char *sql, int n, const char **args,
		     int64_t *v_r)
{
	sqlite3_stmt *st;
	*v_r = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v_r = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static const char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return at ? at + 1 : address;
}

/* ---- domains ---- */

int store_domain_add(struct store *store, const char *domain,
		     const char **err_r)
{
	char now[32];
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	const char *args[] = {domain, now};
	*err_r = NULL;
	pthread_mutex_lock(&store->lock);
	int rc = run(store->db,
		     "INSERT OR IGNORE INTO domain(name, created) VALUES(?, ?)",
		     2, args);
	int changed = sqlite3_changes(store->db);
	if (rc != SQLITE_DONE)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	pthread_mutex_unlock(&store->lock);
	return rc != SQLITE_DONE ? -1 : changed ? 1 : 0;
}

int store_domain_remove(struct store *store, const char *domain,
			const char **err_r)
{
	int64_t users, aliases;
	int result = -1;
	*err_r = NULL;
	pthread_mutex_lock(&store->lock);
	if (sqlite_begin(store->db) < 0)
		goto out;
	if (query_int(store->db, "SELECT count(*) FROM user WHERE domain=?",
		      1, &domain, &users) < 0 ||
	    query_int(store->db, "SELECT count(*) FROM alias WHERE domain=?",
		      1, &domain, &aliases) < 0)
		goto out;
	if (users > 0 || aliases > 0) {
		*err_r = sqlite_errf("domain %s still has %lld user(s) and "
				     "%lld alias target(s); remove them first",
				     domain, (long long)users,
				     (long long)aliases);
		goto out;
	}
	if (run(store->db, "DELETE FROM domain WHERE name=?", 1, &domain) !=
	    SQLITE_DONE)
		goto out;
	result = sqlite3_changes(store->db) ? 1 : 0;
	if (sqlite_commit(store->db) < 0)
		result = -1;
out:
	if (result < 0 && *err_r == NULL)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	sqlite_rollback(store->db);
	pthread_mutex_unlock(&store->lock);
	return result;
}

int store_domain_exists(struct store *store, const char *domain)
{
	int result = -1;
	pthread_mutex_lock(&store->lock);
	sqlite3_stmt *st = sqlite_cached(store, SQ_DOMAIN_EXISTS);
	if (st != NULL) {
		sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		result = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(st);
	}
	pthread_mutex_unlock(&store->lock);
	return result;
}

int store_domain_list(struct store *store,
		      void (*fn)(const char *domain, void *ctx), void *ctx)
{
	sqlite3_stmt *st;
	int rc;
	pthread_mutex_lock(&store->lock);
	if (sqlite3_prepare_v2(store->db,
			       "SELECT name FROM domain ORDER BY name", -1, &st,
			       NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&store->lock);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0), ctx);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&store->lock);
	return rc == SQLITE_DONE ? 1 : -1;
}

/* ---- users ---- */

void store_user_clear(struct store_user *user)
{
	free(user->address);
	free(user->password);
	free(user->name);
	free(user->scram);
	memset(user, 0, sizeof(*user));
}

/* One insert, inside the caller's transaction.  Returns 1, 0 when the
 * address is taken, -1 with err_r set. */
static int user_insert(struct store *store, const struct store_user *u,
		       const char **err_r)
{
	const char *domain = domain_of(u->address);
	int64_t v;
	if (query_int(store->db, "SELECT 1 FROM domain WHERE name=?", 1,
		      &domain, &v) < 0)
		return -1;
	if (v != 1) {
		*err_r = sqlite_errf("%s: domain %s is not one of ours; add "
				     "it first", u->address, domain);
		return -1;
	}
	const char *addr = u->address;
	if (query_int(store->db,
		      "SELECT 1 FROM user WHERE address=?1 UNION ALL "
		      "SELECT 1 FROM alias WHERE address=?1",
		      1, &addr, &v) < 0)
		return -1;
	if (v == 1)
		return 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store->db,
			       "INSERT INTO user(address, domain, password, "
			       "quota, name, created, scram) "
			       "VALUES(?,?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, u->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, u->password, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)u->quota);
	sqlite3_bind_text(st, 5, u->name ? u->name : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 7, u->scram ? u->scram : "", -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 1 : -1;
}

int store_user_import(struct store *store, const struct store_user *users,
		      size_t n, size_t *bad_r, const char **err_r)
{
	int result = -1;
	*err_r = NULL;
	pthread_mutex_lock(&store->lock);
	if (sqlite_begin(store->db) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int rc = user_insert(store, &users[i], err_r);
		if (rc <= 0) {
			*bad_r = i;
			if (rc == 0)
				*err_r = sqlite_errf("%s already exists",
						     users[i].address);
			goto out;
		}
	}
	if (sqlite_commit(store->db) == 0)
		result = 1;
out:
	if (result < 0 && *err_r == NULL)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	sqlite_rollback(store->db);
	pthread_mutex_unlock(&store->lock);
	return result;
}

int store_user_add(struct store *store, const struct store_user *user,
		   const char **err_r)
{
	size_t bad;
	const char *err = NULL;
	int rc = store_user_import(store, user, 1, &bad, &err);
	if (rc < 0 && err != NULL && strstr(err, "already exists") != NULL)
		return 0;
	*err_r = err;
	return rc;
}

/* Mark the account's database as removed, under its write lock, so that
 * a delivery in flight in another process (which checks the mark in its
 * own write transaction) fails instead of answering 250 for a message
 * about to be deleted.  The database is created if missing: a server
 * opening it later then finds the mark.  A database that cannot be read
 * cannot take mail either, so it needs no mark. */
static int mark_removed_once(struct store *store, int64_t id,
			     const char **err_r)
{
	sqlite3 *db = NULL;
	bool created;
	int rc = sqlite_index_open(store, id, &db, &created, err_r);
	if (rc == STORE_FAIL_BROKEN)
		return 1;
	if (rc < 0)
		return rc;
	char where[48];
	snprintf(where, sizeof(where), "mail/%lld/index.db", (long long)id);
	if (sqlite_begin(db) < 0 ||
	    sqlite3_exec(db, "UPDATE account SET removed=1", NULL, NULL,
			 NULL) != SQLITE_OK ||
	    sqlite_commit(db) < 0) {
		rc = sqlite_fail(db, SQLITE_OK, where, err_r);
		sqlite_rollback(db);
	} else {
		rc = 1;
	}
	sqlite3_close(db);
	return rc == STORE_FAIL_BROKEN ? 1 : rc;
}

static int mark_removed(struct store *store, int64_t id, const char **err_r)
{
	int rc = mark_removed_once(store, id, err_r);
	if (rc == STORE_FAIL_FULL &&
	    sqlite_reserve_release(store, "removing a user"))
		rc = mark_removed_once(store, id, err_r);
	return rc;
}

static int delete_user_row(struct store *store, const char *address,
			   const char **err_r)
{
	int rc;
	pthread_mutex_lock(&store->lock);
	if (run(store->db, "DELETE FROM user WHERE address=?", 1, &address) ==
	    SQLITE_DONE)
		rc = 1;
	else
		rc = sqlite_fail(store->db, SQLITE_OK, "accounts.db", err_r);
	pthread_mutex_unlock(&store->lock);
	return rc;
}

int store_user_remove(struct store *store, const char *address,
		      const char **err_r)
{
	int64_t id;
	pthread_mutex_lock(&store->lock);
	int rc = query_int(store->db, "SELECT id FROM user WHERE address=?", 1,
			   &address, &id);
	if (rc < 0)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	pthread_mutex_unlock(&store->lock);
	if (rc < 0)
		return -1;
	if (id < 0)
		return 0;
	if (mark_removed(store, id, err_r) < 0)
		return -1;
	sqlite_account_forget(store, id);
	rc = delete_user_row(store, address, err_r);
	if (rc == STORE_FAIL_FULL &&
	    sqlite_reserve_release(store, "removing a user"))
		rc = delete_user_row(store, address, err_r);
	if (rc < 0)
		return -1;
	/* The row is gone first: a crash in between leaves an orphan
	 * directory that no id will ever name again (posthorn check reports
	 * it), never a user without a mailbox. */
	sqlite_account_remove_files(store, id);
	return 1;
}

int sqlite_user_quota(struct store *store, int64_t user_id,
		      uint64_t *quota_r, const char **err_r)
{
	int result;
	pthread_mutex_lock(&store->lock);
	sqlite3_stmt *st = sqlite_cached(store, SQ_USER_QUOTA);
	if (st == NULL) {
		result = sqlite_fail(store->db, SQLITE_OK, "accounts.db", err_r);
	} else {
		sqlite3_bind_int64(st, 1, user_id);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (quota_r != NULL)
				*quota_r = (uint64_t)sqlite3_column_int64(st, 0);
			result = 1;
		} else if (rc == SQLITE_DONE) {
			result = 0;
		} else {
			result = sqlite_fail(store->db, rc, "accounts.db",
					     err_r);
		}
		sqlite3_reset(st);
	}
	pthread_mutex_unlock(&store->lock);
	return result;
}

static void user_from_row(sqlite3_stmt *st, struct store_user *u)
{
	u->id = sqlite3_column_int64(st, 0);
	u->address = xstrdup((const char *)sqlite3_column_text(st, 1));
	u->password = xstrdup((const char *)sqlite3_column_text(st, 2));
	u->quota = (uint64_t)sqlite3_column_int64(st, 3);
	u->name = xstrdup((const char *)sqlite3_column_text(st, 4));
	u->scram = xstrdup((const char *)sqlite3_column_text(st, 5));
}

int store_user_lookup(struct store *store, const char *address,
		      struct store_user *user_r)
{
	int result = -1;
	memset(user_r, 0, sizeof(*user_r));
	pthread_mutex_lock(&store->lock);
	sqlite3_stmt *st = sqlite_cached(store, SQ_USER_LOOKUP);
	if (st != NULL) {
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			user_from_row(st, user_r);
			result = 1;
		} else if (rc == SQLITE_DONE) {
			result = 0;
		}
		sqlite3_reset(st);
	}
	pthread_mutex_unlock(&store->lock);
	return result;
}

int store_user_set_password(struct store *store, const char *address,
			    const char *password)
{
	const char *args[] = {password, address};
	pthread_mutex_lock(&store->lock);
	/* The old SCRAM secret would let the old password in. */
	int rc = run(store->db,
		     "UPDATE user SET password=?, scram='' WHERE address=?", 2,
		     args);
	int changed = sqlite3_changes(store->db);
	pthread_mutex_unlock(&store->lock);
	return rc != SQLITE_DONE ? -1 : changed ? 1 : 0;
}

int store_user_replace_password(struct store *store, const char *address,
				const char *old, const char *password,
				const char **err_r)
{
	const char *args[] = {password, address, old};
	*err_r = NULL;
	pthread_mutex_lock(&store->lock);
	/* One statement: SQLite runs it atomically, against every writer
	 * of accounts.db, in this process or another (the CLI). */
	int rc = run(store->db,
		     "UPDATE user SET password=? WHERE address=? AND password=?",
		     3, args);
	int changed = sqlite3_changes(store->db);
	if (rc != SQLITE_DONE)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	pthread_mutex_unlock(&store->lock);
	return rc != SQLITE_DONE ? -1 : changed ? 1 : 0;
}

int store_user_set_scram(struct store *store, const char *address,
			 const char *password, const char *scram,
			 const char **err_r)
{
	const char *args[] = {scram, address, password};
	*err_r = NULL;
	pthread_mutex_lock(&store->lock);
	int rc = run(store->db,
		     "UPDATE user SET scram=? WHERE address=? AND password=?",
		     3, args);
	int changed = sqlite3_changes(store->db);
	if (rc != SQLITE_DONE)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	pthread_mutex_unlock(&store->lock);
	return rc != SQLITE_DONE ? -1 : changed ? 1 : 0;
}

int store_user_list(struct store *store, const char *domain,
		    void (*fn)(const struct store_user *user, void *ctx),
		    void *ctx)
{
	sqlite3_stmt *st;
	int rc;
	pthread_mutex_lock(&store->lock);
	if (sqlite3_prepare_v2(store->db,
			       "SELECT id, address, password, quota, name, "
			       "scram FROM user WHERE ?1 IS NULL OR domain=?1 "
			       "ORDER BY domain, address",
			       -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&store->lock);
		return -1;
	}
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_user u;
		user_from_row(st, &u);
		fn(&u, ctx);
		store_user_clear(&u);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&store->lock);
	return rc == SQLITE_DONE ? 1 : -1;
}

int store_domain_first_user(struct store *store, const char *domain,
			    int64_t *id_r)
{
	pthread_mutex_lock(&store->lock);
	int rc = query_int(store->db,
			   "SELECT id FROM user WHERE domain=? ORDER BY id "
			   "LIMIT 1",
			   1, &domain, id_r);
	pthread_mutex_unlock(&store->lock);
	return rc < 0 ? -1 : *id_r >= 0;
}

int store_domain_first(struct store *store, char *out, size_t size)
{
	sqlite3_stmt *st;
	int result = -1;
	pthread_mutex_lock(&store->lock);
	if (sqlite3_prepare_v2(store->db,
			       "SELECT name FROM domain ORDER BY created, name "
			       "LIMIT 1",
			       -1, &st, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			snprintf(out, size, "%s", sqlite3_column_text(st, 0));
			result = 1;
		} else if (rc == SQLITE_DONE) {
			result = 0;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&store->lock);
	return result;
}

int store_domain_only(struct store *store, char *out, size_t size)
{
	sqlite3_stmt *st;
	int result = -1;
	pthread_mutex_lock(&store->lock);
	/* Two rows are enough to know there is more than one. */
	if (sqlite3_prepare_v2(store->db, "SELECT name FROM domain LIMIT 2",
			       -1, &st, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			snprintf(out, size, "%s", sqlite3_column_text(st, 0));
			rc = sqlite3_step(st);
			result = rc == SQLITE_DONE ? 1 : rc == SQLITE_ROW ? 0
									  : -1;
		} else if (rc == SQLITE_DONE) {
			result = 0;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&store->lock);
	return result;
}

/* ---- app passwords ---- */

/* A statement with the user id as ?1 and, when given, text as ?2. */
static sqlite3_stmt *prepare_user(sqlite3 *db, const char *sql,
				  int64_t user_id, const char *text)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, user_id);
	if (text != NULL)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	return st;
}

/* One integer from a statement made by prepare_user(); -1 for no row. */
static int user_int(sqlite3 *db, const char *sql, int64_t user_id,
		    int64_t *v_r)
{
	sqlite3_stmt *st = prepare_user(db, sql, user_id, NULL);
	*v_r = -1;
	if (st == NULL)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v_r = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Inside the caller's transaction.  The limit bounds what one login
 * costs: a password shaped like an app password is checked against each
 * of them. */
static int app_password_insert(struct store *store, int64_t user_id,
			       const char *name, const char *hash,
			       const char **err_r)
{
	int64_t v, n;
	if (user_int(store->db, "SELECT 1 FROM user WHERE id=?1", user_id,
		     &v) < 0 ||
	    user_int(store->db,
		     "SELECT count(*) FROM app_password WHERE user_id=?1",
		     user_id, &n) < 0)
		return -1;
	if (v != 1) {
		*err_r = sqlite_errf("the user no longer exists");
		return -1;
	}
	sqlite3_stmt *st = prepare_user(
		store->db,
		"INSERT OR IGNORE INTO app_password(user_id, name, hash, "
		"created) VALUES(?1, ?2, ?3, ?4)",
		user_id, name);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(store->db) == 0)
		return 0;
	if (n >= STORE_APP_PASSWORDS_MAX) {
		*err_r = sqlite_errf("the user has %d app passwords already, "
				     "the most allowed; remove one first",
				     STORE_APP_PASSWORDS_MAX);
		return -1;
	}
	return 1;
}

int store_app_password_add(struct store *store, int64_t user_id,
			   const char *name, const char *hash,
			   const char **err_r)
{
	int result = -1;
	*err_r = NULL;
	pthread_mutex_lock(&store->lock);
	if (sqlite_begin(store->db) == 0) {
		result = app_password_insert(store, user_id, name, hash, err_r);
		if (result > 0 && sqlite_commit(store->db) < 0)
			result = -1;
	}
	if (result < 0 && *err_r == NULL)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	sqlite_rollback(store->db);
	pthread_mutex_unlock(&store->lock);
	return result;
}

int store_app_password_list(struct store *store, int64_t user_id,
			    void (*fn)(const struct store_app_password *ap,
				       void *ctx),
			    void *ctx, const char **err_r)
{
	int rc = SQLITE_ERROR;
	pthread_mutex_lock(&store->lock);
	sqlite3_stmt *st = prepare_user(
		store->db,
		"SELECT name, hash, created, last_used FROM app_password "
		"WHERE user_id=?1 ORDER BY created DESC, name",
		user_id, NULL);
	if (st != NULL) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct store_app_password ap = {
				(const char *)sqlite3_column_text(st, 0),
				(const char *)sqlite3_column_text(st, 1),
				sqlite3_column_int64(st, 2),
				sqlite3_column_int64(st, 3)};
			fn(&ap, ctx);
		}
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	pthread_mutex_unlock(&store->lock);
	return rc == SQLITE_DONE ? 1 : -1;
}

/* Runs one change statement made by prepare_user(); 1, 0 if no row
 * changed, -1. */
static int user_change(struct store *store, sqlite3_stmt *st,
		       const char **err_r)
{
	int rc = st != NULL ? sqlite3_step(st) : SQLITE_ERROR;
	int changed = sqlite3_changes(store->db);
	if (rc != SQLITE_DONE)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	sqlite3_finalize(st);
	return rc != SQLITE_DONE ? -1 : changed ? 1 : 0;
}

int store_app_password_remove(struct store *store, int64_t user_id,
			      const char *name, const char **err_r)
{
	pthread_mutex_lock(&store->lock);
	int rc = user_change(
		store,
		prepare_user(store->db,
			     "DELETE FROM app_password WHERE user_id=?1 AND "
			     "name=?2",
			     user_id, name),
		err_r);
	pthread_mutex_unlock(&store->lock);
	return rc;
}

int store_app_password_used(struct store *store, int64_t user_id,
			    const char *name, int64_t when,
			    const char **err_r)
{
	pthread_mutex_lock(&store->lock);
	sqlite3_stmt *st = prepare_user(store->db,
					"UPDATE app_password SET last_used=?3 "
					"WHERE user_id=?1 AND name=?2",
					user_id, name);
	if (st != NULL)
		sqlite3_bind_int64(st, 3, when);
	int rc = user_change(store, st, err_r);
	pthread_mutex_unlock(&store->lock);
	return rc;
}

/* ---- aliases ---- */

int store_alias_add(struct store *store, const char *alias,
		    const char *const *targets, size_t ntargets,
		    const char **err_r)
{
	const char *domain = domain_of(alias);
	int64_t v;
	int result = -1;
	*err_r = NULL;
	pthread_mutex_lock(&store->lock);
	if (sqlite_begin(store->db) < 0)
		goto out;
	if (query_int(store->db, "SELECT 1 FROM domain WHERE name=?", 1,
		      &domain, &v) < 0)
		goto out;
	if (v != 1) {
		*err_r = sqlite_errf("domain %s is not one of ours; add it "
				     "first", domain);
		goto out;
	}
	if (query_int(store->db, "SELECT 1 FROM user WHERE address=?", 1,
		      &alias, &v) < 0)
		goto out;
	if (v == 1) {
		*err_r = sqlite_errf("%s is a user", alias);
		goto out;
	}
	result = 0;
	for (size_t i = 0; i < ntargets; i++) {
		const char *args[] = {alias, targets[i], domain};
		if (run(store->db,
			"INSERT OR IGNORE INTO alias(address, target, domain) "
			"VALUES(?, ?, ?)",
			3, args) != SQLITE_DONE) {
			result = -1;
			goto out;
		}
		if (sqlite3_changes(store->db))
			result = 1;
	}
	if (sqlite_commit(store->db) < 0)
		result = -1;
out:
	if (result < 0 && *err_r == NULL)
		*err_r = sqlite_errf("%s", sqlite3_errmsg(store->db));
	sqlite_rollback(store->db);
	pthread_mutex_unlock(&store->lock);
	return result;
}

int store_alias_remove(struct store *store, const char *alias)
{
	pthread_mutex_lock(&store->lock);
	int rc = run(store->db, "DELETE FROM alias WHERE address=?", 1, &alias);
	int changed = sqlite3_changes(store->db);
	pthread_mutex_unlock(&store->lock);
	return rc != SQLITE_DONE ? -1 : changed ? 1 : 0;
}

int store_alias_targets(struct store *store, const char *alias,
			void (*fn)(const char *target, void *ctx), void *ctx)
{
	int rc = SQLITE_ERROR, found = 0;
	pthread_mutex_lock(&store->lock);
	sqlite3_stmt *st = sqlite_cached(store, SQ_ALIAS_TARGETS);
	if (st != NULL) {
		sqlite3_bind_text(st, 1, alias, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			found = 1;
			fn((const char *)sqlite3_column_text(st, 0), ctx);
		}
		sqlite3_reset(st);
	}
	pthread_mutex_unlock(&store->lock);
	return rc == SQLITE_DONE ? found : -1;
}

int store_alias_list(struct store *store,
		     void (*fn)(const char *alias, const char *target,
				void *ctx),
		     void *ctx)
{
	sqlite3_stmt *st;
	int rc;
	pthread_mutex_lock(&store->lock);
	if (sqlite3_prepare_v2(store->db,
			       "SELECT address, target FROM alias "
			       "ORDER BY domain, address, target",
			       -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&store->lock);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1), ctx);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&store->lock);
	return rc == SQLITE_DONE ? 1 : -1;
}
