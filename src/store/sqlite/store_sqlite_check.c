/* store_check(): SQLite's own check of every database, then the things
 * SQLite cannot know: every message row has its bytes, each account's
 * usage figure matches its messages, no removal was left half done.  Runs
 * beside a running server: the checks read a snapshot, and a repair is one
 * write transaction like any other. */
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/str.h"
#include "core/xalloc.h"
#include "store/sqlite/store_sqlite.h"

#define RECOVER_TODO                                                       \
	"Stop posthorn, keep a copy of the file, then restore it from a "  \
	"backup, or recover what SQLite can still read: sqlite3 COPY "     \
	"'.recover' | sqlite3 FILE (a new file in its place). Run "        \
	"posthorn check again afterwards."

struct check {
	struct store *store;
	unsigned flags;
	void (*fn)(const struct store_problem *p, void *ctx);
	void *ctx;
	int problems;
	char where[640];
};

static void report(struct check *c, const char *what, const char *todo)
{
	struct store_problem p = {c->where, what, todo, false};
	c->problems++;
	c->fn(&p, c->ctx);
}

/* What consistency() found, held until a repair has been tried. */
#define FINDINGS_MAX 8

struct findings {
	struct {
		char what[256];
		const char *todo;
		bool fixable;
	} f[FINDINGS_MAX];
	size_t n;
	bool fixable;
};

static void found(struct findings *fs, bool fixable, const char *todo,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void found(struct findings *fs, bool fixable, const char *todo,
		  const char *fmt, ...)
{
	if (fs->n == FINDINGS_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fs->f[fs->n].what, sizeof(fs->f[fs->n].what), fmt, ap);
	va_end(ap);
	fs->f[fs->n].todo = todo;
	fs->f[fs->n].fixable = fixable;
	fs->fixable |= fixable;
	fs->n++;
}

/* quick_check or integrity_check; its findings (up to a few) as one
 * problem.  Returns 1 when the file is sound, 0 when not. */
static int sqlite_check(struct check *c, sqlite3 *db, const char *todo)
{
	const char *sql = c->flags & STORE_CHECK_FULL
				  ? "PRAGMA integrity_check(20)"
				  : "PRAGMA quick_check(20)";
	sqlite3_stmt *st;
	struct str found = STR_INIT;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *row = (const char *)sqlite3_column_text(st, 0);
		if (row != NULL && strcmp(row, "ok") != 0)
			str_printf(&found, "%s%s", found.len ? "; " : "", row);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE && found.len == 0)
		str_appends(&found, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	int sound = found.len == 0;
	if (!sound)
		report(c, found.data, todo);
	str_free(&found);
	return sound;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char repair_sql[] =
	"DELETE FROM message WHERE body_id NOT IN (SELECT id FROM body);"
	"DELETE FROM body WHERE id NOT IN (SELECT body_id FROM message);"
	"UPDATE account SET"
	" bytes = (SELECT coalesce(sum(size), 0) FROM message),"
	" messages = (SELECT count(*) FROM message);";

/* Fix what is safe to fix, in one transaction.  Returns 1 or 0. */
static int repair(struct check *c, sqlite3 *db)
{
	if (sqlite_begin(db) == 0 &&
	    sqlite3_exec(db, repair_sql, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite_commit(db) == 0)
		return 1;
	report(c, sqlite_errf("the repair failed: %s", sqlite3_errmsg(db)),
	       "See the problems below; a full disk is the usual cause.");
	sqlite_rollback(db);
	return 0;
}

/* What SQLite cannot see. */
static void consistency(sqlite3 *db, struct findings *fs)
{
	int64_t n = query_int(db, "SELECT count(*) FROM message WHERE body_id "
				  "NOT IN (SELECT id FROM body)");
	if (n > 0)
		found(fs, true, "posthorn check --repair removes them (they "
				"cannot be read anyway).",
		      "%lld message(s) have lost their bytes", (long long)n);
	n = query_int(db, "SELECT count(*) FROM message m JOIN body b ON "
			  "b.id = m.body_id WHERE length(b.data) != m.size");
	if (n > 0)
		found(fs, false, "The file is damaged. " RECOVER_TODO,
		      "%lld message(s) are not as long as their index says",
		      (long long)n);
	n = query_int(db, "SELECT count(*) FROM body WHERE id NOT IN "
			  "(SELECT body_id FROM message)");
	if (n > 0)
		found(fs, true, "posthorn check --repair removes them.",
		      "%lld message bod(ies) belong to no message and waste "
		      "space", (long long)n);
	if (query_int(db, "SELECT count(*) FROM mailbox WHERE name='INBOX'") !=
	    1)
		found(fs, false, "The file is damaged. " RECOVER_TODO,
		      "there is no INBOX, so no mail can be delivered");
	/* A database from before usage figures gets one when the server
	 * next opens it. */
	if (query_int(db, "SELECT count(*) FROM account") != 1)
		return;
	int64_t bytes = query_int(db, "SELECT bytes FROM account");
	int64_t msgs = query_int(db, "SELECT messages FROM account");
	int64_t sum = query_int(db, "SELECT coalesce(sum(size), 0) FROM "
				    "message");
	int64_t count = query_int(db, "SELECT count(*) FROM message");
	if (bytes != sum || msgs != count)
		found(fs, true, "Quotas are enforced against this figure. "
				"posthorn check --repair recomputes it.",
		      "the usage figure (%lld bytes in %lld messages) does "
		      "not match the messages (%lld bytes in %lld)",
		      (long long)bytes, (long long)msgs, (long long)sum,
		      (long long)count);
	if (query_int(db, "SELECT removed FROM account") > 0)
		found(fs, false, "Run posthorn user remove for this user "
				 "again.",
		      "a removal of this user did not finish; mail to it is "
		      "refused");
}

static void check_account(struct check *c, int64_t id, const char *address)
{
	struct findings fs = {.n = 0};
	char *dir = sqlite_account_dir(c->store, id);
	size_t n = strlen(dir) + sizeof("/index.db");
	char *path = xmalloc(n);
	snprintf(path, n, "%s/index.db", dir);
	snprintf(c->where, sizeof(c->where), "mail/%lld/index.db (%s)",
		 (long long)id, address);
	sqlite3 *db = NULL;
	/* No file: the account has had no mail yet.  The file is opened as
	 * it is, its schema untouched, so a check changes nothing. */
	if (access(path, F_OK) == 0 &&
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) ==
		    SQLITE_OK) {
		sqlite3_busy_timeout(db, 10000);
		if (sqlite_check(c, db, "Mail to this user is refused with a "
					"temporary error, so senders retry "
					"for a few days. " RECOVER_TODO))
			consistency(db, &fs);
	} else if (db != NULL) {
		report(c, sqlite3_errmsg(db), "Check the file's owner and "
					      "permissions.");
	}
	bool repaired = fs.fixable && c->flags & STORE_CHECK_REPAIR &&
			repair(c, db);
	for (size_t i = 0; i < fs.n; i++) {
		struct store_problem p = {c->where, fs.f[i].what, fs.f[i].todo,
					  repaired && fs.f[i].fixable};
		c->problems += !p.repaired;
		c->fn(&p, c->ctx);
	}
	sqlite3_close(db);
	free(path);
	free(dir);
}

struct user_ids {
	int64_t *ids;
	char **addresses;
	size_t n, cap;
};

static void collect_user(const struct store_user *u, void *ctx)
{
	struct user_ids *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = xreallocarray(l->ids, l->cap, sizeof(*l->ids));
		l->addresses = xreallocarray(l->addresses, l->cap,
					     sizeof(*l->addresses));
	}
	l->ids[l->n] = u->id;
	l->addresses[l->n++] = xstrdup(u->address);
}

static bool is_user(const struct user_ids *l, int64_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return true;
	return false;
}

/* Directories under DATA/mail that no user owns: a user removal that
 * stopped half-way, or an accounts.db restored from an older backup. */
static void check_orphans(struct check *c, const struct user_ids *users)
{
	size_t n = strlen(c->store->data_dir) + sizeof("/mail");
	char *mail = xmalloc(n);
	snprintf(mail, n, "%s/mail", c->store->data_dir);
	DIR *d = opendir(mail);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char *end;
		long long id = strtoll(e->d_name, &end, 10);
		if (!isdigit((unsigned char)e->d_name[0]) || *end != '\0' ||
		    is_user(users, id))
			continue;
		snprintf(c->where, sizeof(c->where), "mail/%s", e->d_name);
		report(c, "no user owns this directory: left over from a "
			  "removed user, or accounts.db is older than the mail",
		       "If accounts.db was restored from a backup, this may "
		       "be a user's mail: add the user back (the directory "
		       "is named by user id). Otherwise remove the "
		       "directory.");
	}
	if (d != NULL)
		closedir(d);
	free(mail);
}

static int list_users(struct store *store, const char *address,
		      struct user_ids *l, const char **err_r)
{
	if (address == NULL) {
		if (store_user_list(store, NULL, collect_user, l) > 0)
			return 1;
		sqlite_set_err(err_r, "cannot list the users");
		return -1;
	}
	struct store_user u;
	int rc = store_user_lookup(store, address, &u);
	if (rc > 0)
		collect_user(&u, l);
	store_user_clear(&u);
	if (rc <= 0)
		sqlite_set_err(err_r, rc == 0 ? sqlite_errf("no user %s",
							    address)
					      : "cannot read accounts.db");
	return rc > 0 ? 1 : -1;
}

int store_check(struct store *store, const char *address, unsigned flags,
		void (*fn)(const struct store_problem *p, void *ctx),
		void *ctx, const char **err_r)
{
	struct check c = {store, flags, fn, ctx, 0, "accounts.db"};
	struct user_ids users = {0};
	pthread_mutex_lock(&store->lock);
	int sound = sqlite_check(&c, store->db,
				 "Nothing works without it. Stop posthorn, "
				 "keep a copy of the file, then restore it "
				 "from a backup, or recover what SQLite can "
				 "still read: sqlite3 COPY '.recover' | "
				 "sqlite3 accounts.db.");
	pthread_mutex_unlock(&store->lock);
	int rc = list_users(store, address, &users, err_r);
	for (size_t i = 0; rc > 0 && i < users.n; i++)
		check_account(&c, users.ids[i], users.addresses[i]);
	if (rc > 0 && address == NULL && sound)
		check_orphans(&c, &users);
	for (size_t i = 0; i < users.n; i++)
		free(users.addresses[i]);
	free(users.addresses);
	free(users.ids);
	if (rc < 0 && sound)
		return -1;
	return c.problems == 0 ? 1 : 0;
}
