/* Account handles: DATA/mail/<id>/index.db opened once per process and
 * shared, the cache that keeps them, and what is read about an account
 * as a whole (its usage against its quota, whether it was removed).
 *
 * Each handle has two connections: a writer, through which every change
 * goes under group commit (store_sqlite_mail.c), and a reader, which under
 * WAL never waits for the writer's fsync. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "store/sqlite/store_sqlite.h"
#include "store/sqlite/store_sqlite_thread.h"

/* Unused handles kept open, so an account that gets mail often does not
 * reopen its database for each message. */
#define IDLE_HANDLES_MAX 128
/* The reader's page cache, in KiB.  SQLite's default of 2 MiB per
 * connection fills up with the pages of message bodies that FETCH reads
 * once (the kernel's page cache holds them anyway), and 128 idle handles
 * of that were most of the server's memory.  Half a MiB still holds the
 * index pages of the mailbox a session works on. */
#define READER_CACHE_KIB 512
/* The reader maps the database instead of copying its pages with a
 * read() each: a SORT or a FETCH 1:* BODYSTRUCTURE over 10,000 messages
 * walks tens of MiB of index rows, a third of the time went in those
 * copies.  The mapped pages are the kernel's page cache, shared and
 * clean; store_trim_idle() unmaps them with the other caches. */
#define READER_MMAP "268435456"

#define STR_OF_(x) #x
#define STR_OF(x) STR_OF_(x)

static int64_t now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static const char index_v1[] =
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

/* The account as a whole, in one row: its usage, kept by triggers in the
 * same transaction as every change to its messages, so reading it is
 * O(1) and never out of step; and the mark a user removal leaves, which
 * a writer in another process sees under the same write lock.  An older
 * database gets its figure computed once, here. */
static const char index_v2[] =
	"CREATE TABLE account ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" bytes INTEGER NOT NULL,"
	" messages INTEGER NOT NULL,"
	" removed INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO account(id, bytes, messages)"
	" SELECT 1, coalesce(sum(size), 0), count(*) FROM message;"
	"CREATE TRIGGER message_added AFTER INSERT ON message BEGIN"
	" UPDATE account SET bytes = bytes + new.size,"
	" messages = messages + 1 WHERE id = 1; END;"
	"CREATE TRIGGER message_removed AFTER DELETE ON message BEGIN"
	" UPDATE account SET bytes = bytes - old.size,"
	" messages = messages - 1 WHERE id = 1; END;";

/* IMAP.  Message bytes are shared by copies (body.refs); what the MIME
 * parser found is kept per body in msginfo, apart from the index rows
 * that SELECT and FETCH FLAGS scan; expunged UIDs are remembered with
 * the MODSEQ of their expunge, for QRESYNC and for sessions catching up;
 * a UIDVALIDITY is never given twice (account.last_uidvalidity); the
 * special-use mailboxes every client looks for are made. */
static const char index_v3[] =
	"ALTER TABLE message ADD COLUMN savedate INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX message_modseq ON message(mailbox_id, modseq);"
	"ALTER TABLE body ADD COLUMN refs INTEGER NOT NULL DEFAULT 1;"
	"CREATE TABLE msginfo ("
	" body_id INTEGER PRIMARY KEY,"
	" envelope TEXT, bodystructure TEXT, body TEXT, layout BLOB,"
	" sentdate INTEGER NOT NULL DEFAULT 0, subject TEXT,"
	" addr_from TEXT, addr_to TEXT, addr_cc TEXT, preview TEXT);"
	"CREATE TRIGGER body_removed AFTER DELETE ON body BEGIN"
	" DELETE FROM msginfo WHERE body_id = old.id; END;"
	"CREATE TABLE expunged ("
	" mailbox_id INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);"
	"CREATE TABLE subscription (name TEXT PRIMARY KEY) WITHOUT ROWID;"
	"INSERT INTO subscription SELECT name FROM mailbox WHERE subscribed;"
	"ALTER TABLE account ADD COLUMN last_uidvalidity INTEGER NOT NULL"
	" DEFAULT 0;"
	"UPDATE account SET last_uidvalidity ="
	" (SELECT coalesce(max(uidvalidity), 0) FROM mailbox);"
	"CREATE TEMP TABLE special(k INTEGER, name TEXT, use TEXT);"
	"INSERT INTO special VALUES (1, 'Drafts', '\\Drafts'),"
	" (2, 'Sent', '\\Sent'), (3, 'Trash', '\\Trash'),"
	" (4, 'Junk', '\\Junk'), (5, 'Archive', '\\Archive');"
	"INSERT OR IGNORE INTO mailbox(name, uidvalidity, uidnext,"
	" highestmodseq, special_use)"
	" SELECT name, max(CAST(strftime('%s','now') AS INTEGER),"
	"  (SELECT last_uidvalidity FROM account)) + k, 1, 1, use"
	" FROM special;"
	"INSERT OR IGNORE INTO subscription SELECT name FROM special;"
	"UPDATE account SET last_uidvalidity ="
	" (SELECT max(uidvalidity) FROM mailbox);"
	"DROP TABLE special;";

/* The full-text index of SEARCH (store_sqlite_fts.c): one row per body,
 * gone with it.  Messages stored before it have no row and are indexed
 * when a search first meets them. */
static const char index_v4[] =
	"CREATE VIRTUAL TABLE msgtext USING fts5(header, body,"
	" tokenize = 'trigram case_sensitive 1');"
	"CREATE TRIGGER body_text_removed AFTER DELETE ON body BEGIN"
	" DELETE FROM msgtext WHERE rowid = old.id; END;";

/* RFC 8474: a message's EMAILID is its body's id and a MAILBOXID its
 * mailbox's, so neither may be given again once gone.  SQLite gives an
 * INTEGER PRIMARY KEY max + 1, which reuses the id of the newest row
 * after its deletion; the highest id ever given is kept here, and new
 * bodies and mailboxes are numbered past it. */
static const char index_v5[] =
	"ALTER TABLE account ADD COLUMN last_body_id INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE account ADD COLUMN last_mailbox_id INTEGER NOT NULL"
	" DEFAULT 0;"
	"UPDATE account SET"
	" last_body_id = (SELECT coalesce(max(id), 0) FROM body),"
	" last_mailbox_id = (SELECT coalesce(max(id), 0) FROM mailbox);"
	"CREATE TRIGGER body_id_kept AFTER DELETE ON body"
	" WHEN old.id > (SELECT last_body_id FROM account) BEGIN"
	" UPDATE account SET last_body_id = old.id; END;"
	"CREATE TRIGGER mailbox_id_kept AFTER DELETE ON mailbox"
	" WHEN old.id > (SELECT last_mailbox_id FROM account) BEGIN"
	" UPDATE account SET last_mailbox_id = old.id; END;";

/* RFC 8474 THREADID (store_sqlite_thread.c): each message's thread, and
 * the msg-ids seen, by hash, with the thread each belongs to: a lookup
 * by rowid per id, so a delivery costs an indexed lookup or two.  The
 * messages already there get theirs in the step's fill. */
static const char index_v6[] =
	"ALTER TABLE message ADD COLUMN thread_id INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE thread_ref ("
	" hash INTEGER PRIMARY KEY,"
	" thread_id INTEGER NOT NULL);";

/* IMAP flags a mailbox keeps (store_sqlite_flags.c): the keywords
 * defined in it, which only grow, counted in the mailbox row so that a
 * session learns in one read whether there is a new one; and \Recent's
 * mark, the first UID no session has claimed (messages already there
 * are not recent).  The keywords already in use are taken over. */
static const char index_v7[] =
	"ALTER TABLE mailbox ADD COLUMN recent_uid INTEGER NOT NULL"
	" DEFAULT 1;"
	"UPDATE mailbox SET recent_uid = uidnext;"
	"ALTER TABLE mailbox ADD COLUMN keyword_count INTEGER NOT NULL"
	" DEFAULT 0;"
	"CREATE TABLE keyword ("
	" mailbox_id INTEGER NOT NULL,"
	" name TEXT NOT NULL COLLATE NOCASE,"
	" PRIMARY KEY (mailbox_id, name)) WITHOUT ROWID;"
	"CREATE TRIGGER keyword_added AFTER INSERT ON keyword BEGIN"
	" UPDATE mailbox SET keyword_count = keyword_count + 1"
	" WHERE id = new.mailbox_id; END;"
	"CREATE TRIGGER mailbox_keywords_removed AFTER DELETE ON mailbox"
	" BEGIN DELETE FROM keyword WHERE mailbox_id = old.id; END;"
	"WITH RECURSIVE split(mailbox_id, word, rest) AS ("
	" SELECT mailbox_id, '', keywords || ' ' FROM message"
	" WHERE keywords != ''"
	" UNION ALL SELECT mailbox_id, substr(rest, 1, instr(rest, ' ') - 1),"
	" substr(rest, instr(rest, ' ') + 1) FROM split WHERE rest != '')"
	" INSERT OR IGNORE INTO keyword(mailbox_id, name)"
	" SELECT DISTINCT mailbox_id, word FROM split WHERE word != '';";

static const char *const index_steps[] = {index_v1, index_v2, index_v3,
					  index_v4, index_v5, index_v6,
					  index_v7};
#define INDEX_VERSION (int)(sizeof(index_steps) / sizeof(*index_steps))
static int (*const index_fill[INDEX_VERSION])(sqlite3 *db) = {
	[5] = sqlite_thread_fill,
};
const struct sqlite_schema sqlite_index_schema = {index_steps, INDEX_VERSION,
						  index_fill};

static const char *const write_sql[ST_COUNT] = {
	[ST_NEXT] = "SELECT uidnext, highestmodseq FROM mailbox WHERE id=?",
	[ST_BODY] = "INSERT INTO body(id, data) VALUES((SELECT max(coalesce("
		    "(SELECT max(id) FROM body), 0), last_body_id) + 1 "
		    "FROM account), ?)",
	[ST_MSG] = ("INSERT INTO message(mailbox_id, uid, modseq, "
		    "internaldate, size, body_id, flags, keywords, savedate, "
		    "thread_id) VALUES(?,?,?,?,?,?,?,?,CAST(strftime('%s',"
		    "'now') AS INTEGER),?)"),
	[ST_MBOX] = "UPDATE mailbox SET uidnext=?, highestmodseq=? "
		    "WHERE id=?",
	[ST_ACCOUNT] = "SELECT bytes, removed FROM account",
	[ST_SAVE] = "SAVEPOINT one",
	[ST_RELEASE] = "RELEASE one",
	[ST_UNDO] = "ROLLBACK TO one",
	[ST_THREAD_FIND] = sqlite_thread_find_sql,
	[ST_THREAD_PUT] = sqlite_thread_put_sql,
};

static const char *const read_sql[RT_COUNT] = {
	[RT_BODY_ID] = "SELECT body_id, size FROM message "
		       "WHERE mailbox_id=? AND uid=?",
	[RT_DATA] = "SELECT data FROM body WHERE id=?",
	[RT_STATE] = "SELECT bytes, removed, "
		     "EXISTS (SELECT 1 FROM mailbox WHERE name='INBOX') "
		     "FROM account",
	[RT_LIST] = "SELECT uid, size FROM message WHERE mailbox_id=? "
		    "ORDER BY uid",
	[RT_MAILBOX] = "SELECT id, uidvalidity, uidnext, highestmodseq "
		       "FROM mailbox WHERE name=?",
#define SCAN_COLUMNS "m.uid, m.flags, m.keywords, m.modseq, m.internaldate, " \
		     "m.savedate, m.size, m.body_id, m.thread_id"
	[RT_SCAN] = "SELECT " SCAN_COLUMNS " FROM message m "
		    "WHERE m.mailbox_id=? AND m.uid BETWEEN ? AND ? "
		    "ORDER BY m.uid",
	[RT_SCAN_META] = "SELECT " SCAN_COLUMNS ", i.envelope, "
			 "i.bodystructure, i.body, i.layout, i.sentdate, "
			 "i.subject, i.addr_from, i.addr_to, i.addr_cc, "
			 "i.preview FROM message m LEFT JOIN msginfo i "
			 "ON i.body_id = m.body_id "
			 "WHERE m.mailbox_id=? AND m.uid BETWEEN ? AND ? "
			 "ORDER BY m.uid",
	/* The same columns, the long ones NULL (row_info reads both). */
	[RT_SCAN_KEYS] = "SELECT " SCAN_COLUMNS ", NULL, NULL, NULL, "
			 "i.layout, i.sentdate, i.subject, i.addr_from, "
			 "i.addr_to, i.addr_cc, NULL FROM message m "
			 "LEFT JOIN msginfo i ON i.body_id = m.body_id "
			 "WHERE m.mailbox_id=? AND m.uid BETWEEN ? AND ? "
			 "ORDER BY m.uid",
	[RT_CHANGES] = "SELECT " SCAN_COLUMNS " FROM message m "
		       "WHERE m.mailbox_id=? AND m.modseq > ? ORDER BY m.uid",
	[RT_EXPUNGED] = "SELECT uid FROM expunged WHERE mailbox_id=? "
			"AND modseq > ? ORDER BY uid",
	[RT_STATUS] = "SELECT count(*), "
		      "coalesce(sum((flags & 1) = 0), 0), "
		      "coalesce(sum((flags & 8) != 0), 0), "
		      "coalesce(sum(size), 0), "
		      "coalesce(sum(uid >= (SELECT recent_uid FROM mailbox "
		      "WHERE id=?1)), 0) FROM message WHERE mailbox_id=?1",
	[RT_MODSEQ] = "SELECT highestmodseq FROM mailbox WHERE id=?",
	[RT_KW_COUNT] = "SELECT keyword_count FROM mailbox WHERE id=?",
	[RT_KW_LIST] = "SELECT name FROM keyword WHERE mailbox_id=?",
	[RT_RECENT] = "SELECT recent_uid FROM mailbox WHERE id=?",
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
	/* A removed account's file is unlinked: copying its WAL back into
	 * it at close would be work for nothing. */
	if (a->gone) {
		if (a->wdb != NULL)
			sqlite3_db_config(a->wdb, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
					  1, NULL);
		if (a->rdb != NULL)
			sqlite3_db_config(a->rdb, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
					  1, NULL);
	}
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

void sqlite_account_remove_files(struct store *store, int64_t user_id)
{
	static const char *const files[] = {"index.db", "index.db-wal", "changes",
					     "index.db-shm"};
	char *dir = sqlite_account_dir(store, user_id);
	size_t n = strlen(dir) + 32;
	char *path = xmalloc(n);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, n, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	free(path);
	free(dir);
}

int sqlite_index_open(struct store *store, int64_t user_id, sqlite3 **db_r,
		      bool *created_r, const char **err_r)
{
	char where[48];
	char *dir = sqlite_account_dir(store, user_id);
	size_t n = strlen(dir) + sizeof("/index.db");
	char *path = xmalloc(n);
	int rc = 0;
	snprintf(where, sizeof(where), "mail/%lld/index.db",
		 (long long)user_id);
	snprintf(path, n, "%s/index.db", dir);
	*created_r = false;
	if (mkdir(dir, 0700) == 0) {
		/* DATA/mail is the parent: dir minus its last component. */
		*strrchr(path, '/') = '\0';
		*strrchr(path, '/') = '\0';
		sqlite_sync_dir(path);
		snprintf(path, n, "%s/index.db", dir);
		*created_r = true;
	} else if (errno != EEXIST) {
		rc = sqlite_fail_errno(errno, where, err_r);
	}
	if (rc == 0 && !*created_r && access(path, F_OK) < 0)
		*created_r = true;
	if (rc == 0)
		rc = sqlite_db_open(path, where, &sqlite_index_schema, true,
				    db_r, err_r);
	/* The new file's directory entry, like the directory's own. */
	if (rc == 0 && *created_r)
		sqlite_sync_dir(dir);
	free(path);
	free(dir);
	return rc;
}

/* Open the account's database.  A database made just now for a user that
 * no longer exists is a removal that this open raced with (the removal
 * deleted the directory before we made it again): undo it. */
static int account_load(struct store *store, int64_t id,
			struct store_account **a_r, const char **err_r)
{
	bool created;
	struct store_account *a = xcalloc(1, sizeof(*a));
	a->store = store;
	a->id = id;
	pthread_mutex_init(&a->rlock, NULL);
	pthread_mutex_init(&a->wlock, NULL);
	pthread_cond_init(&a->wcond, NULL);
	a->pending_tail = &a->pending;
	a->path = sqlite_account_dir(store, id);
	a->path = xreallocarray(a->path, strlen(a->path) + 10, 1);
	strcat(a->path, "/index.db");
	snprintf(a->name, sizeof(a->name), "mail/%lld/index.db",
		 (long long)id);
	/* The reader opens (and if need be creates) the database; the
	 * writer is opened on the first write, so an account that is only
	 * read (a POP3 session between commands) holds one connection. */
	int rc = sqlite_index_open(store, id, &a->rdb, &created, err_r);
	if (rc == 0)
		sqlite3_exec(a->rdb, "PRAGMA cache_size=-"
			     STR_OF(READER_CACHE_KIB) ";PRAGMA mmap_size="
			     READER_MMAP, NULL, NULL, NULL);
	if (rc == 0 && created) {
		rc = sqlite_user_quota(store, id, NULL, err_r);
		if (rc == 0) {
			a->gone = true;
			sqlite_account_remove_files(store, id);
			sqlite_set_err(err_r, sqlite_errf("user %lld was removed",
							  (long long)id));
			rc = STORE_FAIL_GONE;
		}
		rc = rc < 0 ? rc : 0;
	}
	if (rc < 0) {
		account_close(a);
		return rc;
	}
	*a_r = a;
	return 1;
}

int sqlite_writer_db(struct store_account *a, const char **err_r)
{
	if (a->wdb != NULL)
		return 0;
	int rc = sqlite_db_open(a->path, a->name, &sqlite_index_schema, false,
				&a->wdb, err_r);
	if (rc < 0)
		return rc;
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(a->wdb, write_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &a->st[i],
				       NULL) != SQLITE_OK) {
			rc = sqlite_fail(a->wdb, SQLITE_OK, a->name, err_r);
			for (int k = 0; k < ST_COUNT; k++)
				sqlite3_finalize(a->st[k]);
			memset(a->st, 0, sizeof(a->st));
			sqlite3_close(a->wdb);
			a->wdb = NULL;
			return rc;
		}
	}
	return 0;
}

sqlite3_stmt *sqlite_reader_stmt(struct store_account *a, int which)
{
	if (a->rst[which] == NULL &&
	    sqlite3_prepare_v3(a->rdb, read_sql[which], -1,
			       SQLITE_PREPARE_PERSISTENT, &a->rst[which],
			       NULL) != SQLITE_OK)
		return NULL;
	return a->rst[which];
}

int sqlite_reader_done(struct store_account *a, sqlite3_stmt *st, int rc,
		       const char **err_r)
{
	int result = st != NULL && rc == SQLITE_DONE
			     ? 1
			     : sqlite_fail(a->rdb, st != NULL ? rc : SQLITE_OK,
					   a->name, err_r);
	if (st != NULL)
		sqlite3_reset(st);
	pthread_mutex_unlock(&a->rlock);
	return result;
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
		       struct store_account **acct_r, const char **err_r)
{
	struct store_account_cache *c = store->accounts;
	struct store_account *a = NULL;
	*acct_r = NULL;
	pthread_mutex_lock(&c->lock);
	for (a = c->head; a; a = a->next) {
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
	int rc = account_load(store, user_id, &a, err_r);
	if (rc > 0) {
		a->refs = 1;
		a->last_used = ++c->clock;
		a->next = c->head;
		c->head = a;
		cache_evict(c);
		*acct_r = a;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void store_account_unref(struct store_account **acctp)
{
	struct store_account *a = *acctp;
	if (a == NULL)
		return;
	struct store_account_cache *c = a->store->accounts;
	pthread_mutex_lock(&c->lock);
	a->refs--;
	bool close_now = a->gone && a->refs == 0;
	if (a->refs == 0) {
		a->idle_since = now_seconds();
		a->trimmed = false;
	}
	pthread_mutex_unlock(&c->lock);
	if (close_now)
		account_close(a);
	*acctp = NULL;
}

/* Give back what one connection caches: under the lock that keeps its
 * users out (the reader's), or holding the writer baton. */
static void trim_one(struct store_account *a)
{
	pthread_mutex_lock(&a->rlock);
	sqlite3_db_release_memory(a->rdb);
	/* Unmapped now, mapped again by the next read. */
	sqlite3_exec(a->rdb, "PRAGMA mmap_size=0;PRAGMA mmap_size="
		     READER_MMAP, NULL, NULL, NULL);
	pthread_mutex_unlock(&a->rlock);
	sqlite_writer_enter(a);
	if (a->wdb != NULL)
		sqlite3_db_release_memory(a->wdb);
	sqlite_writer_leave(a);
}

void store_trim_idle(struct store *store, unsigned idle_seconds)
{
	struct store_account_cache *c = store->accounts;
	struct store_account **picked = NULL, *a;
	size_t n = 0, cap = 0;
	int64_t now = now_seconds();
	/* A reference keeps each picked handle open while it is trimmed
	 * without the cache lock; it does not count as use. */
	pthread_mutex_lock(&c->lock);
	for (a = c->head; a != NULL; a = a->next) {
		if (a->refs != 0 || a->trimmed ||
		    now - a->idle_since < (int64_t)idle_seconds)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			picked = xreallocarray(picked, cap, sizeof(*picked));
		}
		a->refs++;
		a->trimmed = true;
		picked[n++] = a;
	}
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++)
		trim_one(picked[i]);
	for (size_t i = 0; i < n; i++) {
		a = picked[i];
		pthread_mutex_lock(&c->lock);
		bool close_now = --a->refs == 0 && a->gone;
		pthread_mutex_unlock(&c->lock);
		if (close_now)
			account_close(a);
	}
	free(picked);
	/* The pages went back to malloc, in the middle of the heaps of the
	 * threads that read them; only this gives them to the kernel. */
	if (n > 0)
		malloc_trim(0);
}

void sqlite_account_forget(struct store *store, int64_t user_id)
{
	struct store_account_cache *c = store->accounts;
	struct store_account *a = NULL;
	pthread_mutex_lock(&c->lock);
	for (struct store_account **pp = &c->head; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == user_id) {
			a = *pp;
			*pp = a->next;
			a->next = NULL;
			a->gone = true;
			break;
		}
	}
	bool close_now = a != NULL && a->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (close_now)
		account_close(a);
}

void store_release_removed(struct store *store)
{
	struct store_account_cache *c = store->accounts;
	struct store_account *closing = NULL, *a;
	struct stat st;
	pthread_mutex_lock(&c->lock);
	for (struct store_account **pp = &c->head; (a = *pp) != NULL;) {
		if (stat(a->path, &st) == 0 || errno != ENOENT) {
			pp = &a->next;
			continue;
		}
		*pp = a->next;
		a->gone = true;
		a->next = NULL;
		if (a->refs == 0) {
			a->next = closing;
			closing = a;
		}
	}
	pthread_mutex_unlock(&c->lock);
	while ((a = closing) != NULL) {
		closing = a->next;
		account_close(a);
	}
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

/* ---- usage and quota ---- */

/* The account's usage from its row, through the reader: the cheap read
 * that finds a database that is broken or was removed.  Returns 1 or a
 * store_fail. */
static int account_usage(struct store_account *a, uint64_t *bytes_r,
			 const char **err_r)
{
	int result;
	pthread_mutex_lock(&a->rlock);
	sqlite3_stmt *st = sqlite_reader_stmt(a, RT_STATE);
	int rc = st != NULL ? sqlite3_step(st) : SQLITE_OK;
	if (rc == SQLITE_ROW && sqlite3_column_int(st, 1) != 0) {
		sqlite_set_err(err_r, sqlite_errf("%s: the account was removed",
						  a->name));
		result = STORE_FAIL_GONE;
	} else if (rc == SQLITE_ROW && sqlite3_column_int(st, 2) == 0) {
		sqlite_set_err(err_r, sqlite_errf("%s: there is no INBOX",
						  a->name));
		result = STORE_FAIL_BROKEN;
	} else if (rc == SQLITE_ROW) {
		*bytes_r = (uint64_t)sqlite3_column_int64(st, 0);
		result = 1;
	} else if (rc == SQLITE_DONE) {
		sqlite_set_err(err_r, sqlite_errf("%s: the account row is "
						  "missing", a->name));
		result = STORE_FAIL_BROKEN;
	} else {
		result = sqlite_fail(a->rdb, rc, a->name, err_r);
	}
	if (st != NULL)
		sqlite3_reset(st);
	pthread_mutex_unlock(&a->rlock);
	return result;
}

int sqlite_quota_verdict(uint64_t quota, uint64_t used, uint64_t size,
			 const char **err_r)
{
	if (quota == 0)
		return 1;
	if (size > quota) {
		sqlite_set_err(err_r, sqlite_errf(
			"a message of %llu bytes is larger than the quota of "
			"%llu bytes", (unsigned long long)size,
			(unsigned long long)quota));
		return STORE_FAIL_QUOTA_NEVER;
	}
	/* Size 0: full when the quota is used up. */
	if (size == 0 && used >= quota) {
		sqlite_set_err(err_r, sqlite_errf(
			"over quota: %llu of %llu bytes used",
			(unsigned long long)used, (unsigned long long)quota));
		return STORE_FAIL_QUOTA;
	}
	if (size > 0 && used + size > quota) {
		sqlite_set_err(err_r, sqlite_errf(
			"over quota: %llu of %llu bytes used, a message of "
			"%llu bytes does not fit", (unsigned long long)used,
			(unsigned long long)quota, (unsigned long long)size));
		return STORE_FAIL_QUOTA;
	}
	return 1;
}

int store_account_room(struct store *store, int64_t user_id, uint64_t size,
		       const char **err_r)
{
	struct store_account *a;
	uint64_t quota = 0, used = 0;
	int rc = sqlite_user_quota(store, user_id, &quota, err_r);
	if (rc == 0) {
		sqlite_account_forget(store, user_id);
		sqlite_set_err(err_r, sqlite_errf("user %lld was removed",
						  (long long)user_id));
		return STORE_FAIL_GONE;
	}
	if (rc < 0)
		return rc;
	rc = store_account_open(store, user_id, &a, err_r);
	if (rc < 0)
		return rc;
	rc = account_usage(a, &used, err_r);
	store_account_unref(&a);
	if (rc == STORE_FAIL_GONE)
		sqlite_account_forget(store, user_id);
	if (rc < 0)
		return rc;
	rc = sqlite_quota_verdict(quota, used, size, err_r);
	return rc == STORE_FAIL_QUOTA ? 0 : rc;
}

int store_account_usage(struct store *store, int64_t user_id,
			uint64_t *bytes_r, uint64_t *messages_r,
			uint64_t *quota_r, const char **err_r)
{
	struct store_account *a;
	int rc = sqlite_user_quota(store, user_id, quota_r, err_r);
	if (rc == 0) {
		sqlite_set_err(err_r, sqlite_errf("user %lld was removed",
						  (long long)user_id));
		return STORE_FAIL_GONE;
	}
	if (rc < 0)
		return rc;
	rc = store_account_open(store, user_id, &a, err_r);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	pthread_mutex_lock(&a->rlock);
	int step = sqlite3_prepare_v2(a->rdb, "SELECT bytes, messages FROM "
				      "account", -1, &st, NULL);
	if (step == SQLITE_OK)
		step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*bytes_r = (uint64_t)sqlite3_column_int64(st, 0);
		*messages_r = (uint64_t)sqlite3_column_int64(st, 1);
		rc = 1;
	} else {
		rc = sqlite_fail(a->rdb, step == SQLITE_DONE ? SQLITE_CORRUPT
							       : step,
				 a->name, err_r);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&a->rlock);
	store_account_unref(&a);
	return rc;
}
