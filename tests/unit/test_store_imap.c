/* store: what IMAP clients rely on, against the SQLite back end in a fresh
 * directory per test.  Mailboxes (the special-use set, LIST order,
 * CREATE/DELETE/RENAME and subscriptions, RFC 9051 6.3), messages (APPEND
 * with flags and cached meta, scans, STORE with MODSEQ and UNCHANGEDSINCE
 * as RFC 7162 has them, COPY/MOVE sharing the bytes, catching up on
 * changes), change events across store instances, and the upgrade of a
 * database from before IMAP. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#include "store/store.h"

struct fixture {
	char dir[256];
	char data[300];
	struct store *store;
	int64_t bob, alice;
	struct store_account *acct; /* bob's */
};

static int add_user_quota(struct store *store, const char *address,
			  uint64_t quota)
{
	struct store_user u = {0, (char *)address, (char *)"$argon2id$x",
			       quota, (char *)"", NULL};
	const char *err = NULL;
	return store_user_add(store, &u, &err);
}

static int64_t user_id(struct store *store, const char *address)
{
	struct store_user u;
	assert_int_equal(store_user_lookup(store, address, &u), 1);
	int64_t id = u.id;
	store_user_clear(&u);
	return id;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;
	if (f == NULL || temp_dir(f->dir, sizeof(f->dir), "store-imap") < 0)
		return -1;
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->store, &err) < 0 ||
	    store_domain_add(f->store, "example.com", &err) != 1 ||
	    add_user_quota(f->store, "bob@example.com", 0) != 1 ||
	    add_user_quota(f->store, "alice@example.com", 0) != 1) {
		fprintf(stderr, "setup: %s\n", err ? err : "?");
		return -1;
	}
	f->bob = user_id(f->store, "bob@example.com");
	f->alice = user_id(f->store, "alice@example.com");
	if (store_account_open(f->store, f->bob, &f->acct, &err) != 1) {
		fprintf(stderr, "store_account_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_account_unref(&f->acct);
	store_free(&f->store);
	rm_tree(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

/* Append printf output to a fixed buffer (tests keep their texts short). */
static void __attribute__((format(printf, 3, 4)))
cat(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

static struct store_mailbox find(struct store_account *acct,
				 const char *name)
{
	struct store_mailbox mb;
	const char *err = NULL;
	int rc = store_mailbox_find(acct, name, &mb, &err);
	if (rc != 1)
		fail_msg("mailbox %s: %d %s", name, rc, err ? err : "");
	return mb;
}

static bool exists(struct store_account *acct, const char *name)
{
	struct store_mailbox mb;
	int rc = store_mailbox_find(acct, name, &mb, NULL);
	assert_true(rc >= 0);
	return rc == 1;
}

/* Store `text` with flags and keywords; returns its UID. */
static uint32_t append(struct store_account *acct, int64_t mbox,
		       const char *text, unsigned flags, const char *kw,
		       const struct store_msg_meta *meta, int64_t date)
{
	struct iovec iov = {(char *)text, strlen(text)};
	struct store_source src = {&iov, 1, -1, 0};
	const char *err = NULL;
	uint32_t uid = 0;
	int rc = store_msg_append(acct, mbox, &src, meta, flags, kw, date,
				  &uid, &err);
	if (rc != 1)
		fail_msg("append: %d %s", rc, err ? err : "");
	return uid;
}

static uint32_t deliver(struct store_account *acct, int64_t mbox,
			const char *text)
{
	struct iovec iov = {(char *)text, strlen(text)};
	struct store_source src = {&iov, 1, -1, 0};
	const char *err = NULL;
	uint32_t uid = 0;
	int rc = store_msg_deliver(acct, mbox, &src, 1700000000, &uid, &err);
	if (rc != 1)
		fail_msg("deliver: %d %s", rc, err ? err : "");
	return uid;
}

/* The whole message into buf (NUL-terminated); its length, or -1 when it
 * is gone. */
static long read_msg(struct store_account *acct, int64_t mbox, uint32_t uid,
		     char *buf, size_t cap)
{
	size_t got = 0;
	int rc = store_msg_read(acct, mbox, uid, 0, buf, cap - 1, &got, NULL);
	assert_true(rc >= 0);
	if (rc == 0)
		return -1;
	buf[got] = '\0';
	return (long)got;
}

static void expect_text(struct store_account *acct, int64_t mbox,
			uint32_t uid, const char *want)
{
	char buf[512];
	if (read_msg(acct, mbox, uid, buf, sizeof(buf)) < 0)
		fail_msg("uid %u is gone, want \"%s\"", uid, want);
	assert_string_equal(buf, want);
}

static void expunge(struct store_account *acct, int64_t mbox,
		    const uint32_t *uids, size_t n)
{
	const char *err = NULL;
	int rc = store_msg_expunge(acct, mbox, uids, n, &err);
	if (rc != 1)
		fail_msg("expunge: %d %s", rc, err ? err : "");
}

/* One integer from the account's database, read behind the store's back
 * (usage row, body count). */
static int64_t db_int(const struct fixture *f, int64_t user,
		      const char *sql)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;
	snprintf(path, sizeof(path), "%s/mail/%lld/index.db", f->data,
		 (long long)user);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
					 NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Flags as letters, "-" for none. */
static const char *flag_letters(unsigned flags, char out[8])
{
	static const struct {
		unsigned bit;
		char c;
	} t[] = {
		{STORE_FLAG_SEEN, 'S'},	   {STORE_FLAG_ANSWERED, 'A'},
		{STORE_FLAG_FLAGGED, 'F'}, {STORE_FLAG_DELETED, 'D'},
		{STORE_FLAG_DRAFT, 'T'},
	};
	size_t n = 0;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (flags & t[i].bit)
			out[n++] = t[i].c;
	if (n == 0)
		out[n++] = '-';
	out[n] = '\0';
	return out;
}

/* ---- scans ---- */

/* What a scan saw, copied out (its strings live only during the call). */
struct seen {
	struct store_msginfo m;
	char keywords[128];
	char envelope[512];
	struct store_msg_meta meta;
	unsigned char layout[16];
	char strs[7][256];
};

struct scan {
	struct seen s[16];
	size_t n;
	size_t stop_after; /* 0: never */
	char text[1024];   /* "uid flags [keywords]\n" */
};

static const char *keep(char *dst, size_t size, const char *src)
{
	if (src == NULL)
		return NULL;
	snprintf(dst, size, "%s", src);
	return dst;
}

static bool collect_msg(const struct store_msginfo *m, void *ctx)
{
	struct scan *sc = ctx;
	char fl[8];
	assert_true(sc->n < sizeof(sc->s) / sizeof(sc->s[0]));
	struct seen *s = &sc->s[sc->n++];
	s->m = *m;
	s->m.keywords = keep(s->keywords, sizeof(s->keywords), m->keywords);
	const struct store_msg_meta *x = &m->meta;
	s->meta.envelope = keep(s->envelope, sizeof(s->envelope), x->envelope);
	s->meta.bodystructure = keep(s->strs[0], 256, x->bodystructure);
	s->meta.body = keep(s->strs[1], 256, x->body);
	s->meta.subject = keep(s->strs[2], 256, x->subject);
	s->meta.from = keep(s->strs[3], 256, x->from);
	s->meta.to = keep(s->strs[4], 256, x->to);
	s->meta.cc = keep(s->strs[5], 256, x->cc);
	s->meta.preview = keep(s->strs[6], 256, x->preview);
	s->meta.sentdate = x->sentdate;
	s->meta.layout_len = x->layout_len;
	if (x->layout != NULL) {
		assert_true(x->layout_len <= sizeof(s->layout));
		memcpy(s->layout, x->layout, x->layout_len);
		s->meta.layout = s->layout;
	}
	s->m.meta = s->meta;
	cat(sc->text, sizeof(sc->text), "%u %s [%s]\n", m->uid,
	    flag_letters(m->flags, fl), m->keywords);
	return sc->stop_after == 0 || sc->n < sc->stop_after;
}

static void scan(struct store_account *acct, int64_t mbox, uint32_t lo,
		 uint32_t hi, unsigned what, struct scan *sc)
{
	const char *err = NULL;
	size_t stop = sc->stop_after;
	memset(sc, 0, sizeof(*sc));
	sc->stop_after = stop;
	int rc = store_msg_scan(acct, mbox, lo, hi, what, collect_msg, sc,
				&err);
	if (rc != 1)
		fail_msg("scan: %d %s", rc, err ? err : "");
}

/* ---- flag changes and catching up ---- */

struct flag_log {
	char text[1024]; /* "uid flags [kw]\n" or "uid refused\n" */
	uint32_t uid[16];
	uint64_t modseq[16];
	size_t n;
};

static void collect_change(const struct store_flag_change *c, void *ctx)
{
	struct flag_log *log = ctx;
	char fl[8];
	if (c->refused)
		cat(log->text, sizeof(log->text), "%u refused\n", c->uid);
	else
		cat(log->text, sizeof(log->text), "%u %s [%s]\n", c->uid,
		    flag_letters(c->flags, fl), c->keywords);
	assert_true(log->n < 16);
	log->uid[log->n] = c->uid;
	log->modseq[log->n++] = c->modseq;
}

static int set_flags(struct store_account *acct, int64_t mbox,
		     const uint32_t *uids, size_t n, enum store_flag_op op,
		     unsigned flags, const char *kw, uint64_t since,
		     struct flag_log *log)
{
	const char *err = NULL;
	memset(log, 0, sizeof(*log));
	int rc = store_msg_flags(acct, mbox, uids, n, op, flags, kw, since,
				 collect_change, log, &err);
	if (rc != 1)
		fail_msg("flags: %d %s", rc, err ? err : "");
	return rc;
}

#define S STORE_FLAG_SEEN
#define A STORE_FLAG_ANSWERED
#define F STORE_FLAG_FLAGGED
#define D STORE_FLAG_DELETED
#define T STORE_FLAG_DRAFT
#define ADD STORE_FLAGS_ADD
#define REM STORE_FLAGS_REMOVE
#define SET STORE_FLAGS_SET

struct catchup {
	char text[512]; /* "uid flags [kw] / x uid\n" */
	size_t stop_after;
	size_t nchanged;
};

static bool changed_fn(const struct store_msginfo *m, void *ctx)
{
	struct catchup *c = ctx;
	char fl[8];
	cat(c->text, sizeof(c->text), "%u %s [%s]\n", m->uid,
	    flag_letters(m->flags, fl), m->keywords);
	c->nchanged++;
	return c->stop_after == 0 || c->nchanged < c->stop_after;
}

static void expunged_fn(uint32_t uid, void *ctx)
{
	struct catchup *c = ctx;
	cat(c->text, sizeof(c->text), "x %u\n", uid);
}

static const char *changes(struct store_account *acct, int64_t mbox,
			   uint64_t since, struct catchup *c)
{
	const char *err = NULL;
	size_t stop = c->stop_after;
	memset(c, 0, sizeof(*c));
	c->stop_after = stop;
	uint64_t top = 0;
	int rc = store_msg_changes(acct, mbox, since, changed_fn, expunged_fn,
				   c, &top, &err);
	if (rc != 1)
		fail_msg("changes: %d %s", rc, err ? err : "");
	return c->text;
}

/* ---- mailbox listing ---- */

struct mbinfo {
	char name[64];
	struct store_mailbox_info mb;
};

struct listing {
	char text[2048]; /* "name id|0 special|- sub|unsub\n" per mailbox */
	struct mbinfo m[32];
	size_t n;
};

static void collect_mailbox(const struct store_mailbox_info *mb, void *ctx)
{
	struct listing *l = ctx;
	const char *use = store_special_name(mb->special);
	cat(l->text, sizeof(l->text), "%s %s %s %s\n", mb->name,
	    mb->id != 0 ? "id" : "0", use ? use : "-",
	    mb->subscribed ? "sub" : "unsub");
	assert_true(l->n < sizeof(l->m) / sizeof(l->m[0]));
	snprintf(l->m[l->n].name, sizeof(l->m[l->n].name), "%s", mb->name);
	l->m[l->n].mb = *mb;
	l->m[l->n].mb.name = NULL;
	l->n++;
}

static void list(struct store_account *acct, struct listing *l)
{
	const char *err = NULL;
	memset(l, 0, sizeof(*l));
	int rc = store_mailbox_list(acct, collect_mailbox, l, &err);
	if (rc != 1)
		fail_msg("list: %d %s", rc, err ? err : "");
}

static const struct store_mailbox_info *listed(const struct listing *l,
					       const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->m[i].name, name) == 0)
			return &l->m[i].mb;
	fail_msg("%s is not listed", name);
	return NULL;
}

static const char new_account_list[] =
	"Archive id \\Archive sub\n"
	"Drafts id \\Drafts sub\n"
	"INBOX id - sub\n"
	"Junk id \\Junk sub\n"
	"Sent id \\Sent sub\n"
	"Trash id \\Trash sub\n";

static void test_new_account(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct listing l;

	list(f->acct, &l);
	assert_string_equal(l.text, new_account_list);
	/* Each its own mailbox, with its own UIDVALIDITY, nothing in it. */
	for (size_t i = 0; i < l.n; i++) {
		const struct store_mailbox_info *mb = &l.m[i].mb;
		struct store_mailbox found = find(f->acct, l.m[i].name);
		assert_int_equal(found.id, mb->id);
		assert_int_equal(found.uidvalidity, mb->uidvalidity);
		assert_int_equal(found.uidnext, mb->uidnext);
		assert_int_equal(found.highestmodseq, mb->highestmodseq);
		assert_int_equal(mb->uidnext, 1);
		assert_true(mb->uidvalidity != 0);
		assert_true(mb->highestmodseq >= 1);
		for (size_t k = 0; k < i; k++) {
			assert_true(l.m[k].mb.id != mb->id);
			assert_true(l.m[k].mb.uidvalidity != mb->uidvalidity);
		}
	}

	/* A subscription outlives its mailbox (RFC 9051 6.3.9): a name
	 * subscribed to that does not exist is listed with id 0. */
	assert_int_equal(store_mailbox_subscribe(f->acct, "Lists/gone", true,
						 &err), 1);
	assert_int_equal(store_mailbox_subscribe(f->acct, "Junk", false, &err),
			 1);
	assert_int_equal(store_mailbox_subscribe(f->acct, "Junk", false, &err),
			 1);
	assert_int_equal(store_mailbox_subscribe(f->acct, "Sent", true, &err),
			 1);
	list(f->acct, &l);
	assert_string_equal(l.text, "Archive id \\Archive sub\n"
				    "Drafts id \\Drafts sub\n"
				    "INBOX id - sub\n"
				    "Junk id \\Junk unsub\n"
				    "Lists/gone 0 - sub\n"
				    "Sent id \\Sent sub\n"
				    "Trash id \\Trash sub\n");
	assert_false(exists(f->acct, "Lists/gone"));

	/* Another account has its own set. */
	struct store_account *other;
	assert_int_equal(store_account_open(f->store, f->alice, &other, &err),
			 1);
	list(other, &l);
	assert_string_equal(l.text, new_account_list);
	store_account_unref(&other);
}

static void test_special_names(void **state)
{
	static const struct {
		enum store_special use;
		const char *name;
	} t[] = {
		{STORE_SPECIAL_DRAFTS, "\\Drafts"},
		{STORE_SPECIAL_SENT, "\\Sent"},
		{STORE_SPECIAL_TRASH, "\\Trash"},
		{STORE_SPECIAL_JUNK, "\\Junk"},
		{STORE_SPECIAL_ARCHIVE, "\\Archive"},
		{STORE_SPECIAL_ALL, "\\All"},
		{STORE_SPECIAL_FLAGGED, "\\Flagged"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cur = t[i].name;
		EXPECT_STR(store_special_name(t[i].use), t[i].name);
		EXPECT_INT(store_special_parse(t[i].name, strlen(t[i].name)),
			   t[i].use);
	}
	static const struct {
		const char *in;
		size_t len;
		enum store_special want;
	} p[] = {
		{"\\SENT", 5, STORE_SPECIAL_SENT},
		{"\\junk", 5, STORE_SPECIAL_JUNK},
		{"\\Sentx", 5, STORE_SPECIAL_SENT}, /* only len bytes count */
		{"\\Sen", 4, STORE_SPECIAL_NONE},
		{"Sent", 4, STORE_SPECIAL_NONE},
		{"\\Important", 10, STORE_SPECIAL_NONE},
		{"", 0, STORE_SPECIAL_NONE},
	};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		cur = p[i].in;
		char *in = exact(p[i].in, p[i].len);
		EXPECT_INT(store_special_parse(in, p[i].len), p[i].want);
		free(in);
	}
	assert_null(store_special_name(STORE_SPECIAL_NONE));
	assert_null(store_special_name(STORE_SPECIAL_COUNT));
}

/* ---- create and delete ---- */

static void test_create_delete(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct listing l;
	int64_t base_bytes = db_int(f, f->bob, "SELECT bytes FROM account");
	int64_t base_bodies = db_int(f, f->bob, "SELECT count(*) FROM body");
	assert_int_equal(base_bytes, 0);

	assert_int_equal(store_mailbox_create(f->acct, "Work", 0, &err), 1);
	assert_int_equal(store_mailbox_create(f->acct, "Work", 0, &err), 0);
	assert_int_equal(store_mailbox_create(f->acct, "INBOX", 0, &err), 0);
	assert_int_equal(store_mailbox_create(f->acct, "Work/2024", 0, &err),
			 1);
	assert_int_equal(store_mailbox_create(f->acct, "Flagged",
					      STORE_SPECIAL_FLAGGED, &err), 1);
	list(f->acct, &l);
	/* Made, not subscribed: CREATE does not subscribe. */
	assert_string_equal(l.text, "Archive id \\Archive sub\n"
				    "Drafts id \\Drafts sub\n"
				    "Flagged id \\Flagged unsub\n"
				    "INBOX id - sub\n"
				    "Junk id \\Junk sub\n"
				    "Sent id \\Sent sub\n"
				    "Trash id \\Trash sub\n"
				    "Work id - unsub\n"
				    "Work/2024 id - unsub\n");
	struct store_mailbox work = find(f->acct, "Work");
	assert_int_equal(work.uidnext, 1);
	/* Above every UIDVALIDITY given before in the account. */
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.m[i].name, "Work") != 0 &&
		    strcmp(l.m[i].name, "Work/2024") != 0 &&
		    strcmp(l.m[i].name, "Flagged") != 0)
			assert_true(work.uidvalidity > l.m[i].mb.uidvalidity);

	/* Mail in Work and in INBOX. */
	struct store_mailbox inbox = find(f->acct, "INBOX");
	uint32_t in1 = deliver(f->acct, inbox.id, "inbox one");
	uint32_t w1 = deliver(f->acct, work.id, "work one");
	uint32_t w2 = deliver(f->acct, work.id, "work two!");
	assert_int_equal(w1, 1);
	assert_int_equal(w2, 2);
	assert_int_equal(db_int(f, f->bob, "SELECT bytes FROM account"),
			 9 + 8 + 9);
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM body"),
			 base_bodies + 3);
	assert_int_equal(store_mailbox_subscribe(f->acct, "Work", true, &err),
			 1);

	/* INBOX cannot be deleted; nothing of it goes. */
	assert_true(store_mailbox_delete(f->acct, "INBOX", &err) != 1);
	assert_int_equal(find(f->acct, "INBOX").id, inbox.id);
	expect_text(f->acct, inbox.id, in1, "inbox one");

	/* Deleting takes the messages, their bytes and their usage; the
	 * mailbox below stays; the subscription stays (RFC 9051 6.3.9). */
	assert_int_equal(store_mailbox_delete(f->acct, "Work", &err), 1);
	assert_false(exists(f->acct, "Work"));
	assert_true(exists(f->acct, "Work/2024"));
	struct store_msg *msgs = NULL;
	size_t n = 99;
	assert_int_equal(store_msg_list(f->acct, work.id, &msgs, &n, &err), 1);
	assert_int_equal(n, 0);
	free(msgs);
	char buf[64];
	assert_int_equal(read_msg(f->acct, work.id, w1, buf, sizeof(buf)), -1);
	assert_int_equal(db_int(f, f->bob, "SELECT bytes FROM account"), 9);
	assert_int_equal(db_int(f, f->bob, "SELECT messages FROM account"), 1);
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM body"),
			 base_bodies + 1);
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM message "
					   "WHERE mailbox_id NOT IN "
					   "(SELECT id FROM mailbox)"), 0);
	list(f->acct, &l);
	assert_int_equal(listed(&l, "Work")->id, 0);
	assert_true(listed(&l, "Work")->subscribed);
	expect_text(f->acct, inbox.id, in1, "inbox one");

	assert_int_equal(store_mailbox_delete(f->acct, "Work", &err), 0);
	assert_int_equal(store_mailbox_delete(f->acct, "Nope", &err), 0);

	/* Made again: a new UIDVALIDITY, larger, and UIDs from 1 again. */
	assert_int_equal(store_mailbox_create(f->acct, "Work", 0, &err), 1);
	struct store_mailbox again = find(f->acct, "Work");
	assert_true(again.id != work.id);
	assert_true(again.uidvalidity > work.uidvalidity);
	assert_int_equal(again.uidnext, 1);
	list(f->acct, &l);
	assert_true(listed(&l, "Work")->id == again.id);
	assert_true(listed(&l, "Work")->subscribed);
	/* Delete and create in one second: still larger every time. */
	for (int i = 0; i < 3; i++) {
		uint32_t before = find(f->acct, "Work").uidvalidity;
		assert_int_equal(store_mailbox_delete(f->acct, "Work", &err),
				 1);
		assert_int_equal(store_mailbox_create(f->acct, "Work", 0,
						      &err), 1);
		assert_true(find(f->acct, "Work").uidvalidity > before);
	}
}

/* A deleted mailbox's messages that share their bytes with copies
 * elsewhere leave those bytes alone. */
static void test_delete_shared(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct store_mailbox inbox = find(f->acct, "INBOX");
	assert_int_equal(store_mailbox_create(f->acct, "Work", 0, &err), 1);
	struct store_mailbox work = find(f->acct, "Work");
	uint32_t a = deliver(f->acct, inbox.id, "shared bytes");
	uint32_t b = deliver(f->acct, inbox.id, "mine alone");
	uint32_t uids[2] = {a, b}, copies[2], uv;
	assert_int_equal(store_msg_copy(f->acct, inbox.id, uids, 2, work.id,
					false, copies, &uv, &err), 1);
	/* Two copies in Work of one message: both share its bytes. */
	assert_int_equal(store_msg_copy(f->acct, inbox.id, uids, 1, work.id,
					false, copies, &uv, &err), 1);
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM body"), 2);
	assert_int_equal(db_int(f, f->bob, "SELECT bytes FROM account"),
			 2 * (12 + 10) + 12);
	assert_int_equal(store_mailbox_delete(f->acct, "Work", &err), 1);
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM body"), 2);
	assert_int_equal(db_int(f, f->bob, "SELECT bytes FROM account"),
			 12 + 10);
	expect_text(f->acct, inbox.id, a, "shared bytes");
	expect_text(f->acct, inbox.id, b, "mine alone");
	/* And the last one takes them with it. */
	expunge(f->acct, inbox.id, uids, 2);
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM body"), 0);
	assert_int_equal(db_int(f, f->bob, "SELECT bytes FROM account"), 0);
}

/* ---- rename ---- */

static void test_rename(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct listing l;
	static const char *const names[] = {"a", "a/x", "a/x/y", "ab", "c"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(store_mailbox_create(f->acct, names[i], 0,
						      &err), 1);
		assert_int_equal(store_mailbox_subscribe(f->acct, names[i],
							 true, &err), 1);
	}
	struct store_mailbox a = find(f->acct, "a"), ax = find(f->acct, "a/x");
	struct store_mailbox ab = find(f->acct, "ab");
	uint32_t uid = deliver(f->acct, ax.id, "below a");

	assert_int_equal(store_mailbox_rename(f->acct, "a", "b", &err), 1);
	list(f->acct, &l);
	assert_string_equal(l.text, "Archive id \\Archive sub\n"
				    "Drafts id \\Drafts sub\n"
				    "INBOX id - sub\n"
				    "Junk id \\Junk sub\n"
				    "Sent id \\Sent sub\n"
				    "Trash id \\Trash sub\n"
				    "ab id - sub\n"
				    "b id - sub\n"
				    "b/x id - sub\n"
				    "b/x/y id - sub\n"
				    "c id - sub\n");
	/* The same mailboxes under new names: ids, UIDVALIDITY, messages. */
	struct store_mailbox b = find(f->acct, "b"), bx = find(f->acct, "b/x");
	assert_int_equal(b.id, a.id);
	assert_int_equal(b.uidvalidity, a.uidvalidity);
	assert_int_equal(bx.id, ax.id);
	assert_int_equal(bx.uidvalidity, ax.uidvalidity);
	assert_int_equal(bx.uidnext, uid + 1);
	expect_text(f->acct, bx.id, uid, "below a");
	assert_int_equal(find(f->acct, "ab").id, ab.id);

	/* Onto a name that exists, itself included. */
	static const struct {
		const char *from, *to;
		int want;
	} t[] = {
		{"b", "ab", STORE_FAIL_EXISTS},
		{"b", "c", STORE_FAIL_EXISTS},
		{"b", "b", STORE_FAIL_EXISTS},
		{"c", "INBOX", STORE_FAIL_EXISTS},
		{"c", "b/x", STORE_FAIL_EXISTS},
		{"a", "z", 0},
		{"nope", "z", 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cur = t[i].from;
		EXPECT_INT(store_mailbox_rename(f->acct, t[i].from, t[i].to,
						&err), t[i].want);
	}
	list(f->acct, &l);
	assert_non_null(strstr(l.text, "ab id - sub\nb id - sub\n"
				       "b/x id - sub\nb/x/y id - sub\n"
				       "c id - sub\n"));
	assert_null(strstr(l.text, "\nz "));

	/* A mailbox below the new name in the way of one below the old:
	 * refused as taken, nothing renamed. */
	assert_int_equal(store_mailbox_create(f->acct, "c/x", 0, &err), 1);
	assert_int_equal(store_mailbox_create(f->acct, "d/x", 0, &err), 1);
	assert_int_equal(store_mailbox_rename(f->acct, "c", "d", &err),
			 STORE_FAIL_EXISTS);
	assert_true(exists(f->acct, "c"));
	assert_true(exists(f->acct, "c/x"));
	assert_false(exists(f->acct, "d"));
	assert_int_equal(store_mailbox_delete(f->acct, "c/x", &err), 1);
	assert_int_equal(store_mailbox_delete(f->acct, "d/x", &err), 1);

	/* An unsubscribed child stays unsubscribed under its new name. */
	assert_int_equal(store_mailbox_subscribe(f->acct, "b/x", false, &err),
			 1);
	assert_int_equal(store_mailbox_rename(f->acct, "b", "Projects/b", &err),
			 1);
	list(f->acct, &l);
	assert_non_null(strstr(l.text, "Projects/b id - sub\n"
				       "Projects/b/x id - unsub\n"
				       "Projects/b/x/y id - sub\n"));
	assert_null(strstr(l.text, "\nb"));
	assert_int_equal(find(f->acct, "Projects/b/x").id, ax.id);
	/* The old name is free again, for a new mailbox. */
	assert_int_equal(store_mailbox_create(f->acct, "b", 0, &err), 1);
	assert_true(find(f->acct, "b").uidvalidity > a.uidvalidity);
}

/* RFC 9051 6.3.6: renaming INBOX moves its messages to the new name and
 * leaves INBOX there, empty. */
static void test_rename_inbox(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct listing l;
	struct store_mailbox inbox = find(f->acct, "INBOX");
	uint32_t u1 = deliver(f->acct, inbox.id, "first");
	uint32_t u2 = deliver(f->acct, inbox.id, "second");
	uint32_t u3 = deliver(f->acct, inbox.id, "third");
	expunge(f->acct, inbox.id, &u2, 1);
	/* Raise MODSEQs, so the messages carry some above 1. */
	struct flag_log log0;
	for (int i = 0; i < 3; i++)
		set_flags(f->acct, inbox.id, &u3, 1, i % 2 ? REM : ADD, S, NULL,
			  0, &log0);
	assert_int_equal(store_mailbox_create(f->acct, "Old", 0, &err), 1);
	assert_int_equal(store_mailbox_rename(f->acct, "INBOX", "Old", &err),
			 STORE_FAIL_EXISTS);
	inbox = find(f->acct, "INBOX");
	assert_int_equal(store_mailbox_rename(f->acct, "INBOX",
					      "Archive/2024", &err), 1);

	/* INBOX: the same mailbox, empty, UIDNEXT where it was. */
	struct store_mailbox now = find(f->acct, "INBOX");
	assert_int_equal(now.id, inbox.id);
	assert_int_equal(now.uidvalidity, inbox.uidvalidity);
	assert_int_equal(now.uidnext, inbox.uidnext);
	struct store_msg *msgs = NULL;
	size_t n = 99;
	assert_int_equal(store_msg_list(f->acct, inbox.id, &msgs, &n, &err),
			 1);
	assert_int_equal(n, 0);
	free(msgs);

	/* The new mailbox has them, under their UIDs. */
	struct store_mailbox moved = find(f->acct, "Archive/2024");
	assert_true(moved.id != inbox.id);
	assert_true(moved.uidvalidity > inbox.uidvalidity);
	assert_int_equal(moved.uidnext, inbox.uidnext);
	assert_int_equal(store_msg_list(f->acct, moved.id, &msgs, &n, &err),
			 1);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[0].uid, u1);
	assert_int_equal(msgs[1].uid, u3);
	free(msgs);
	expect_text(f->acct, moved.id, u1, "first");
	expect_text(f->acct, moved.id, u3, "third");

	/* Its HIGHESTMODSEQ covers the messages it got, so a change there
	 * gets a MODSEQ above what the message had (RFC 7162 3.1.1). */
	struct scan sc = {0};
	struct flag_log log;
	scan(f->acct, moved.id, 1, UINT32_MAX, 0, &sc);
	assert_string_equal(sc.text, "1 - []\n3 S []\n");
	uint64_t top = sc.s[0].m.modseq > sc.s[1].m.modseq ? sc.s[0].m.modseq
							    : sc.s[1].m.modseq;
	assert_true(top > 1);
	assert_true(moved.highestmodseq >= top);
	set_flags(f->acct, moved.id, &u1, 1, ADD, F, NULL, 0, &log);
	assert_string_equal(log.text, "1 F []\n");
	assert_true(log.modseq[0] > top);
	assert_true(find(f->acct, "Archive/2024").highestmodseq >=
		    log.modseq[0]);

	/* INBOX's sessions see them go as expunges. */
	struct catchup c = {0};
	assert_string_equal(changes(f->acct, inbox.id, inbox.highestmodseq, &c),
			    "x 1\nx 3\n");
	assert_true(now.highestmodseq > inbox.highestmodseq);

	/* INBOX's UIDs go on above the moved ones, never back. */
	uint32_t u4 = deliver(f->acct, inbox.id, "fourth");
	assert_true(u4 > u3);
	assert_int_equal(u4, inbox.uidnext);
	expect_text(f->acct, inbox.id, u4, "fourth");
	assert_int_equal(read_msg(f->acct, inbox.id, u1, (char[8]){0}, 8), -1);

	list(f->acct, &l);
	assert_non_null(strstr(l.text, "INBOX id - sub\n"));
	assert_non_null(strstr(l.text, "Archive/2024 id - "));
}

/* ---- append, scan, meta ---- */

static const unsigned char layout_bytes[] = {0, 1, 2, 0xff, 0, 7, 0};

static const struct store_msg_meta full_meta = {
	.envelope = "(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hello\" "
		    "((\"Al\" NIL \"al\" \"example.com\")) NIL NIL NIL NIL NIL "
		    "NIL \"<1@example.com>\")",
	.bodystructure = "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL "
			 "\"7BIT\" 6 1 NIL NIL NIL NIL)",
	.body = "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL \"7BIT\" "
		"6 1)",
	.layout = layout_bytes,
	.layout_len = sizeof(layout_bytes),
	.sentdate = 1704103200,
	.subject = "h\xc3\xa9llo",
	.from = "al@example.com",
	.to = "bob@example.com",
	.cc = "",
	.preview = "Gr\xc3\xbc\xc3\x9f"
		   "e",
};

static void expect_str_or_null(const char *got, const char *want,
			       const char *what)
{
	if (want == NULL && got != NULL)
		fail_msg("%s is \"%s\", want NULL", what, got);
	if (want != NULL && (got == NULL || strcmp(got, want) != 0))
		fail_msg("%s is \"%s\", want \"%s\"", what,
			 got ? got : "(null)", want);
}

static void expect_meta(const struct store_msg_meta *got,
			const struct store_msg_meta *want)
{
	expect_str_or_null(got->envelope, want->envelope, "envelope");
	expect_str_or_null(got->bodystructure, want->bodystructure,
			   "bodystructure");
	expect_str_or_null(got->body, want->body, "body");
	expect_str_or_null(got->subject, want->subject, "subject");
	expect_str_or_null(got->from, want->from, "from");
	expect_str_or_null(got->to, want->to, "to");
	expect_str_or_null(got->cc, want->cc, "cc");
	expect_str_or_null(got->preview, want->preview, "preview");
	assert_int_equal(got->sentdate, want->sentdate);
	assert_int_equal(got->layout_len, want->layout_len);
	if (want->layout == NULL)
		assert_null(got->layout);
	else
		assert_memory_equal(got->layout, want->layout,
				    want->layout_len);
}

static const struct store_msg_meta no_meta = {0};

static void test_append_scan(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct scan sc = {0};
	struct store_mailbox drafts = find(f->acct, "Drafts");
	time_t before = time(NULL);
	uint32_t u1 = append(f->acct, drafts.id, "one", STORE_FLAG_SEEN |
			     STORE_FLAG_DRAFT, "$Forwarded Work", &full_meta,
			     1600000000);
	uint32_t u2 = append(f->acct, drafts.id, "two!", 0, NULL, NULL,
			     1600000001);
	uint32_t u3 = append(f->acct, drafts.id, "three", STORE_FLAG_FLAGGED,
			     "", NULL, 1600000002);
	uint32_t u4 = append(f->acct, drafts.id, "four", STORE_FLAG_ANSWERED |
			     STORE_FLAG_DELETED, "x", NULL, 1600000003);
	uint32_t u5 = append(f->acct, drafts.id, "five", 0, NULL, NULL, 1);
	assert_int_equal(u1, 1);
	assert_int_equal(u3, 3);
	assert_int_equal(u4, 4);
	assert_int_equal(u5, 5);
	assert_int_equal(find(f->acct, "Drafts").uidnext, 6);

	/* Without meta: the index only; meta NULL even where cached. */
	scan(f->acct, drafts.id, 1, UINT32_MAX, 0, &sc);
	assert_string_equal(sc.text, "1 ST [$Forwarded Work]\n"
				     "2 - []\n"
				     "3 F []\n"
				     "4 AD [x]\n"
				     "5 - []\n");
	static const uint64_t sizes[] = {3, 4, 5, 4, 4};
	for (size_t i = 0; i < 5; i++) {
		const struct store_msginfo *m = &sc.s[i].m;
		assert_int_equal(m->size, sizes[i]);
		assert_int_equal(m->internaldate, i < 4 ? 1600000000 + i : 1);
		assert_true(m->savedate >= before);
		assert_true(m->modseq >= 1);
		assert_true(m->email_id > 0);
		for (size_t k = 0; k < i; k++) {
			assert_true(sc.s[k].m.email_id != m->email_id);
			assert_true(sc.s[k].m.modseq < m->modseq);
		}
		expect_meta(&m->meta, &no_meta);
	}
	assert_true(find(f->acct, "Drafts").highestmodseq >= sc.s[4].m.modseq);

	/* With meta: what was given, byte for byte; NULL where none. */
	scan(f->acct, drafts.id, 1, UINT32_MAX, STORE_INFO_META, &sc);
	assert_int_equal(sc.n, 5);
	expect_meta(&sc.s[0].meta, &full_meta);
	assert_int_equal(sc.s[0].m.size, 3);
	assert_string_equal(sc.s[0].m.keywords, "$Forwarded Work");
	for (size_t i = 1; i < 5; i++)
		expect_meta(&sc.s[i].meta, &no_meta);

	/* UID ranges, inclusive, and empty ones. */
	static const struct {
		uint32_t lo, hi;
		size_t stop;
		const char *uids;
	} t[] = {
		{2, 4, 0, "2 3 4 "}, {4, UINT32_MAX, 0, "4 5 "},
		{5, 5, 0, "5 "},     {6, UINT32_MAX, 0, ""},
		{4, 2, 0, ""},	     {0, 1, 0, "1 "},
		{1, 5, 2, "1 2 "},   {3, 5, 1, "3 "},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char got[64] = "";
		sc.stop_after = t[i].stop;
		scan(f->acct, drafts.id, t[i].lo, t[i].hi, i % 2 ?
		     STORE_INFO_META : 0, &sc);
		for (size_t k = 0; k < sc.n; k++)
			cat(got, sizeof(got), "%u ", sc.s[k].m.uid);
		cur = t[i].uids;
		EXPECT_STR(got, t[i].uids);
	}
	sc.stop_after = 0;
	/* Another mailbox's messages are not in the scan. */
	scan(f->acct, find(f->acct, "INBOX").id, 1, UINT32_MAX, 0, &sc);
	assert_int_equal(sc.n, 0);

	/* Meta kept later, for a message stored without it. */
	scan(f->acct, drafts.id, u2, u2, 0, &sc);
	int64_t e2 = sc.s[0].m.email_id;
	struct store_msg_meta some = {.envelope = "(NIL)", .sentdate = 42,
				      .subject = "two"};
	assert_int_equal(store_msg_set_meta(f->acct, e2, &some, &err), 1);
	scan(f->acct, drafts.id, 1, UINT32_MAX, STORE_INFO_META, &sc);
	expect_meta(&sc.s[1].meta, &some);
	expect_meta(&sc.s[0].meta, &full_meta);
	expect_meta(&sc.s[2].meta, &no_meta);
	/* Replaced whole when set again. */
	assert_int_equal(store_msg_set_meta(f->acct, e2, &full_meta, &err), 1);
	scan(f->acct, drafts.id, u2, u2, STORE_INFO_META, &sc);
	expect_meta(&sc.s[0].meta, &full_meta);
	expect_text(f->acct, drafts.id, u2, "two!");
}

/* Meta for a message expunged meanwhile is not kept: a later message
 * must not inherit it. */
static void test_meta_gone(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct scan sc = {0};
	struct store_mailbox inbox = find(f->acct, "INBOX");
	uint32_t u1 = deliver(f->acct, inbox.id, "stays");
	uint32_t u2 = deliver(f->acct, inbox.id, "goes");
	scan(f->acct, inbox.id, u2, u2, 0, &sc);
	int64_t gone = sc.s[0].m.email_id;
	expunge(f->acct, inbox.id, &u2, 1);
	assert_int_equal(store_msg_set_meta(f->acct, gone, &full_meta, &err),
			 0);
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM msginfo"), 0);
	uint32_t u3 = deliver(f->acct, inbox.id, "new");
	scan(f->acct, inbox.id, 1, UINT32_MAX, STORE_INFO_META, &sc);
	assert_int_equal(sc.n, 2);
	assert_int_equal(sc.s[0].m.uid, u1);
	assert_int_equal(sc.s[1].m.uid, u3);
	expect_meta(&sc.s[0].meta, &no_meta);
	expect_meta(&sc.s[1].meta, &no_meta);
}

/* ---- flags ---- */

static const struct {
	enum store_flag_op op;
	uint32_t uids[4];
	size_t n;
	unsigned flags;
	const char *kw;
	const char *reported; /* changes told, in UID order */
	const char *state;    /* messages 1-3 after */
} flag_steps[] = {
	{ADD, {1, 2}, 2, S, NULL,
	 "1 S []\n2 S []\n",
	 "1 S []\n2 S []\n3 - []\n"},
	/* Already so: not told, MODSEQ kept. */
	{ADD, {1, 2, 3}, 3, S, NULL,
	 "3 S []\n",
	 "1 S []\n2 S []\n3 S []\n"},
	{ADD, {1}, 1, 0, "Work $Junk",
	 "1 S [Work $Junk]\n",
	 "1 S [Work $Junk]\n2 S []\n3 S []\n"},
	/* Keywords match without regard to case. */
	{ADD, {1}, 1, 0, "work $JUNK",
	 "",
	 "1 S [Work $Junk]\n2 S []\n3 S []\n"},
	{ADD, {2}, 1, F | A, "Home home HOME",
	 "2 SAF [Home]\n",
	 "1 S [Work $Junk]\n2 SAF [Home]\n3 S []\n"},
	{REM, {1, 2}, 2, 0, "WORK",
	 "1 S [$Junk]\n",
	 "1 S [$Junk]\n2 SAF [Home]\n3 S []\n"},
	/* Gone UIDs are skipped. */
	{REM, {1, 7, 99}, 3, S | D, NULL,
	 "1 - [$Junk]\n",
	 "1 - [$Junk]\n2 SAF [Home]\n3 S []\n"},
	{REM, {8}, 1, S, NULL, "",
	 "1 - [$Junk]\n2 SAF [Home]\n3 S []\n"},
	{SET, {2, 3}, 2, F | D, "a b",
	 "2 FD [a b]\n3 FD [a b]\n",
	 "1 - [$Junk]\n2 FD [a b]\n3 FD [a b]\n"},
	/* The same set, in another order and case: nothing changes. */
	{SET, {2, 3}, 2, D | F, "B A",
	 "",
	 "1 - [$Junk]\n2 FD [a b]\n3 FD [a b]\n"},
	{SET, {3}, 1, D | F, "a",
	 "3 FD [a]\n",
	 "1 - [$Junk]\n2 FD [a b]\n3 FD [a]\n"},
	{SET, {1, 2, 3}, 3, T, NULL,
	 "1 T []\n2 T []\n3 T []\n",
	 "1 T []\n2 T []\n3 T []\n"},
	{REM, {1, 2, 3}, 3, S | A | F | D | T, "x",
	 "1 - []\n2 - []\n3 - []\n",
	 "1 - []\n2 - []\n3 - []\n"},
	{REM, {1, 2, 3}, 3, S, "x",
	 "",
	 "1 - []\n2 - []\n3 - []\n"},
};

static void test_flags(void **state)
{
	struct fixture *f = *state;
	struct flag_log log;
	struct scan sc = {0};
	struct store_mailbox inbox = find(f->acct, "INBOX");
	for (int i = 0; i < 3; i++)
		deliver(f->acct, inbox.id, "msg");
	/* A message of another mailbox with the same UID is not touched. */
	struct store_mailbox sent = find(f->acct, "Sent");
	assert_int_equal(deliver(f->acct, sent.id, "other"), 1);

	for (size_t i = 0; i < sizeof(flag_steps) / sizeof(flag_steps[0]);
	     i++) {
		uint64_t before[4], top = find(f->acct, "INBOX").highestmodseq;
		scan(f->acct, inbox.id, 1, UINT32_MAX, 0, &sc);
		for (size_t k = 0; k < 3; k++)
			before[k + 1] = sc.s[k].m.modseq;
		set_flags(f->acct, inbox.id, flag_steps[i].uids,
			  flag_steps[i].n, flag_steps[i].op,
			  flag_steps[i].flags, flag_steps[i].kw, 0, &log);
		if (strcmp(log.text, flag_steps[i].reported) != 0)
			fail_msg("step %zu: told \"%s\", want \"%s\"", i,
				 esc(log.text), flag_steps[i].reported);
		scan(f->acct, inbox.id, 1, UINT32_MAX, 0, &sc);
		if (strcmp(sc.text, flag_steps[i].state) != 0)
			fail_msg("step %zu: state \"%s\", want \"%s\"", i,
				 esc(sc.text), flag_steps[i].state);
		/* Changed: one new MODSEQ above all before, the one told.
		 * Unchanged: MODSEQ kept. */
		uint64_t now = find(f->acct, "INBOX").highestmodseq;
		for (size_t k = 0; k < 3; k++) {
			uint32_t uid = (uint32_t)k + 1;
			uint64_t ms = sc.s[k].m.modseq;
			size_t told = log.n;
			for (size_t j = 0; j < log.n; j++)
				if (log.uid[j] == uid)
					told = j;
			if (told == log.n && ms != before[uid])
				fail_msg("step %zu: uid %u MODSEQ %llu -> %llu "
					 "unchanged", i, uid,
					 (unsigned long long)before[uid],
					 (unsigned long long)ms);
			if (told < log.n &&
			    (ms <= top || ms != log.modseq[told]))
				fail_msg("step %zu: uid %u MODSEQ %llu, told "
					 "%llu, was at most %llu", i, uid,
					 (unsigned long long)ms,
					 (unsigned long long)log.modseq[told],
					 (unsigned long long)top);
			assert_true(now >= ms);
		}
	}
	scan(f->acct, sent.id, 1, UINT32_MAX, 0, &sc);
	assert_string_equal(sc.text, "1 - []\n");
}

/* RFC 7162 3.1.3: UNCHANGEDSINCE refuses messages modified after it and
 * goes on with the others. */
static void test_flags_unchangedsince(void **state)
{
	struct fixture *f = *state;
	struct flag_log log;
	struct scan sc = {0};
	struct store_mailbox inbox = find(f->acct, "INBOX");
	for (int i = 0; i < 3; i++)
		deliver(f->acct, inbox.id, "msg");
	const uint32_t one = 1, two = 2, all[] = {1, 2, 3, 4};
	set_flags(f->acct, inbox.id, &one, 1, ADD, S, NULL, 0, &log);
	uint64_t m1 = log.modseq[0];
	set_flags(f->acct, inbox.id, &two, 1, ADD, S, NULL, 0, &log);
	uint64_t m2 = log.modseq[0];
	assert_true(m2 > m1);
	scan(f->acct, inbox.id, 3, 3, 0, &sc);
	uint64_t m3 = sc.s[0].m.modseq;
	assert_true(m3 < m1);

	/* Since m1: 1 and 3 go ahead, 2 (changed at m2) is refused. */
	set_flags(f->acct, inbox.id, all, 4, ADD, F, NULL, m1, &log);
	assert_string_equal(log.text, "1 SF []\n2 refused\n3 F []\n");
	assert_int_equal(log.modseq[1], m2);
	scan(f->acct, inbox.id, 1, UINT32_MAX, 0, &sc);
	assert_string_equal(sc.text, "1 SF []\n2 S []\n3 F []\n");
	assert_int_equal(sc.s[1].m.modseq, m2);
	uint64_t m4 = sc.s[0].m.modseq;
	assert_true(m4 > m2);

	/* Exactly at its MODSEQ is still unchanged since. */
	set_flags(f->acct, inbox.id, &two, 1, ADD, D, NULL, m2, &log);
	assert_string_equal(log.text, "2 SD []\n");
	/* One below is not. */
	set_flags(f->acct, inbox.id, &one, 1, REM, S, NULL, m4 - 1, &log);
	assert_string_equal(log.text, "1 refused\n");
	scan(f->acct, inbox.id, 1, 1, 0, &sc);
	assert_string_equal(sc.text, "1 SF []\n");
	assert_int_equal(sc.s[0].m.modseq, m4);
}

/* ---- copy and move ---- */

static void test_copy_move(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct scan sc = {0}, src = {0};
	struct store_mailbox inbox = find(f->acct, "INBOX");
	assert_int_equal(store_mailbox_create(f->acct, "Work", 0, &err), 1);
	struct store_mailbox work = find(f->acct, "Work");
	uint32_t u1 = append(f->acct, inbox.id, "alpha", S | F, "Work $Label1",
			     &full_meta, 1500000001);
	uint32_t u2 = append(f->acct, inbox.id, "beta", A, NULL, NULL,
			     1500000002);
	uint32_t u3 = append(f->acct, inbox.id, "gamma", 0, "x", NULL,
			     1500000003);
	assert_int_equal(deliver(f->acct, work.id, "already here"), 1);
	int64_t bytes = db_int(f, f->bob, "SELECT bytes FROM account");
	assert_int_equal(bytes, 5 + 4 + 5 + 12);

	/* COPY: new UIDs from the target's UIDNEXT, in order, 0 for one
	 * that is gone; the target's UIDVALIDITY told. */
	uint32_t uids[] = {u1, 42, u3}, got[3] = {9, 9, 9}, uv = 0;
	assert_int_equal(store_msg_copy(f->acct, inbox.id, uids, 3, work.id,
					false, got, &uv, &err), 1);
	assert_int_equal(got[0], 2);
	assert_int_equal(got[1], 0);
	assert_int_equal(got[2], 3);
	assert_int_equal(uv, work.uidvalidity);
	struct store_mailbox w = find(f->acct, "Work");
	assert_int_equal(w.uidnext, 4);
	assert_true(w.highestmodseq > work.highestmodseq);

	/* Flags, keywords, internal date, size, meta and EMAILID kept. */
	scan(f->acct, work.id, 2, UINT32_MAX, STORE_INFO_META, &sc);
	scan(f->acct, inbox.id, 1, UINT32_MAX, STORE_INFO_META, &src);
	assert_string_equal(sc.text, "2 SF [Work $Label1]\n3 - [x]\n");
	assert_int_equal(sc.s[0].m.internaldate, 1500000001);
	assert_int_equal(sc.s[1].m.internaldate, 1500000003);
	assert_int_equal(sc.s[0].m.size, 5);
	assert_int_equal(sc.s[0].m.email_id, src.s[0].m.email_id);
	assert_int_equal(sc.s[1].m.email_id, src.s[2].m.email_id);
	assert_true(sc.s[0].m.modseq > work.highestmodseq);
	expect_meta(&sc.s[0].meta, &full_meta);
	expect_text(f->acct, work.id, 2, "alpha");
	expect_text(f->acct, work.id, 3, "gamma");
	/* The source is as it was. */
	assert_string_equal(src.text, "1 SF [Work $Label1]\n2 A []\n"
				      "3 - [x]\n");

	/* Shared bytes, counted twice in the usage. */
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM body"), 4);
	assert_int_equal(db_int(f, f->bob, "SELECT bytes FROM account"),
			 bytes + 5 + 5);

	/* The original expunged, the copy still reads; flags are each
	 * message's own. */
	expunge(f->acct, inbox.id, &u1, 1);
	expect_text(f->acct, work.id, 2, "alpha");
	struct flag_log log;
	const uint32_t two = 2;
	set_flags(f->acct, work.id, &two, 1, REM, S, NULL, 0, &log);
	scan(f->acct, inbox.id, 1, UINT32_MAX, 0, &src);
	assert_string_equal(src.text, "2 A []\n3 - [x]\n");
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM body"), 4);
	assert_int_equal(db_int(f, f->bob, "SELECT bytes FROM account"),
			 bytes + 5);

	/* MOVE: gone from the source, logged as expunged there. */
	struct store_mailbox in_before = find(f->acct, "INBOX");
	uint32_t mv[] = {u2, u3}, mv_got[2];
	uv = 0;
	assert_int_equal(store_msg_copy(f->acct, inbox.id, mv, 2, work.id, true,
					mv_got, &uv, &err), 1);
	assert_int_equal(mv_got[0], 4);
	assert_int_equal(mv_got[1], 5);
	assert_int_equal(uv, work.uidvalidity);
	scan(f->acct, inbox.id, 1, UINT32_MAX, 0, &src);
	assert_int_equal(src.n, 0);
	scan(f->acct, work.id, 1, UINT32_MAX, 0, &sc);
	assert_string_equal(sc.text, "1 - []\n2 F [Work $Label1]\n3 - [x]\n"
				     "4 A []\n5 - [x]\n");
	assert_int_equal(sc.s[3].m.internaldate, 1500000002);
	expect_text(f->acct, work.id, 4, "beta");
	expect_text(f->acct, work.id, 5, "gamma");
	assert_true(find(f->acct, "INBOX").highestmodseq >
		    in_before.highestmodseq);
	/* A move adds nothing to the usage. */
	assert_int_equal(db_int(f, f->bob, "SELECT bytes FROM account"),
			 bytes + 5);
	assert_int_equal(db_int(f, f->bob, "SELECT count(*) FROM expunged "
					   "WHERE uid IN (2, 3)"), 2);

	/* Copy within one mailbox. */
	const uint32_t four = 4;
	assert_int_equal(store_msg_copy(f->acct, work.id, &four, 1, work.id,
					false, got, &uv, &err), 1);
	assert_int_equal(got[0], 6);
	expect_text(f->acct, work.id, 6, "beta");
}

static void test_copy_quota(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct store_account *q;
	assert_int_equal(add_user_quota(f->store, "q@example.com", 1000), 1);
	int64_t id = user_id(f->store, "q@example.com");
	assert_int_equal(store_account_open(f->store, id, &q, &err), 1);
	struct store_mailbox inbox = find(q, "INBOX");
	struct store_mailbox arch = find(q, "Archive");
	char big[401];
	memset(big, 'x', 400);
	big[400] = '\0';
	uint32_t u = deliver(q, inbox.id, big), got = 0, uv;
	assert_int_equal(store_msg_copy(q, inbox.id, &u, 1, arch.id, false,
					&got, &uv, &err), 1);
	assert_int_equal(got, 1);
	assert_int_equal(store_account_room(f->store, id, 200, &err), 1);
	assert_int_equal(store_account_room(f->store, id, 201, &err), 0);
	/* 800 used: another 400 do not fit, and nothing is copied. */
	err = NULL;
	assert_int_equal(store_msg_copy(q, inbox.id, &u, 1, arch.id, false,
					&got, &uv, &err), STORE_FAIL_QUOTA);
	assert_non_null(err);
	assert_non_null(strstr(err, "800 of 1000"));
	struct store_mailbox a2 = find(q, "Archive");
	assert_int_equal(a2.uidnext, 2);
	assert_int_equal(store_account_room(f->store, id, 200, &err), 1);
	/* A move takes no room: allowed at any usage. */
	uint32_t one = 1;
	assert_int_equal(store_msg_copy(q, arch.id, &one, 1, inbox.id, true,
					&got, &uv, &err), 1);
	assert_int_equal(got, u + 1);
	assert_int_equal(store_account_room(f->store, id, 200, &err), 1);
	/* A copy of nothing (gone UIDs) fits anywhere. */
	uint32_t none = 77;
	assert_int_equal(store_msg_copy(q, inbox.id, &none, 1, arch.id, false,
					&got, &uv, &err), 1);
	assert_int_equal(got, 0);
	store_account_unref(&q);
}

/* ---- changes since a MODSEQ ---- */

static void test_changes(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct catchup c = {0};
	struct flag_log log;
	struct store_mailbox inbox = find(f->acct, "INBOX");
	assert_int_equal(store_mailbox_create(f->acct, "Work", 0, &err), 1);
	struct store_mailbox work = find(f->acct, "Work");
	for (int i = 0; i < 5; i++)
		deliver(f->acct, inbox.id, "msg");
	uint64_t m0 = find(f->acct, "INBOX").highestmodseq;
	assert_string_equal(changes(f->acct, inbox.id, m0, &c), "");
	assert_string_equal(changes(f->acct, inbox.id, 0, &c),
			    "1 - []\n2 - []\n3 - []\n4 - []\n5 - []\n");

	const uint32_t two = 2, three = 3, four = 4;
	set_flags(f->acct, inbox.id, &four, 1, ADD, S, "Done", 0, &log);
	set_flags(f->acct, inbox.id, &two, 1, ADD, F, NULL, 0, &log);
	uint32_t u6 = deliver(f->acct, inbox.id, "msg");
	assert_string_equal(changes(f->acct, inbox.id, m0, &c),
			    "2 F []\n4 S [Done]\n6 - []\n");
	uint64_t m1 = find(f->acct, "INBOX").highestmodseq;
	assert_string_equal(changes(f->acct, inbox.id, m1, &c), "");

	/* Expunged, moved away: told as expunged, in UID order. */
	expunge(f->acct, inbox.id, &four, 1);
	uint32_t to, uv;
	assert_int_equal(store_msg_copy(f->acct, inbox.id, &three, 1, work.id,
					true, &to, &uv, &err), 1);
	assert_int_equal(store_msg_expunge(f->acct, inbox.id, &u6, 1, &err), 1);
	assert_string_equal(changes(f->acct, inbox.id, m1, &c),
			    "x 3\nx 4\nx 6\n");
	/* Changed and expunged since m0. */
	assert_string_equal(changes(f->acct, inbox.id, m0, &c),
			    "2 F []\nx 3\nx 4\nx 6\n");
	uint64_t m2 = find(f->acct, "INBOX").highestmodseq;
	assert_true(m2 > m1);
	assert_string_equal(changes(f->acct, inbox.id, m2, &c), "");
	/* The target sees the moved one as new. */
	assert_string_equal(changes(f->acct, work.id, work.highestmodseq, &c),
			    "1 - []\n");

	/* A flag change after that: only it. */
	set_flags(f->acct, inbox.id, &two, 1, REM, F, NULL, 0, &log);
	assert_string_equal(changes(f->acct, inbox.id, m2, &c), "2 - []\n");

	/* fn_changed may stop early. */
	c.stop_after = 1;
	assert_string_equal(changes(f->acct, inbox.id, 0, &c),
			    "1 - []\nx 3\nx 4\nx 6\n");
	c.stop_after = 0;
}

/* ---- status ---- */

static void test_status(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct store_mailbox_status st;
	struct flag_log log;
	struct store_mailbox inbox = find(f->acct, "INBOX");
	struct store_mailbox trash = find(f->acct, "Trash");
	assert_int_equal(store_mailbox_status(f->acct, inbox.id, &st, &err), 1);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.unseen, 0);
	assert_int_equal(st.deleted, 0);
	assert_int_equal(st.size, 0);
	static const char *const texts[] = {"1234567890", "12345", "1",
					    "123456789012345678901234"};
	for (size_t i = 0; i < 4; i++)
		deliver(f->acct, inbox.id, texts[i]);
	deliver(f->acct, trash.id, "elsewhere");
	const uint32_t s_uids[] = {1, 2}, d_uids[] = {2, 3};
	set_flags(f->acct, inbox.id, s_uids, 2, ADD, S, NULL, 0, &log);
	set_flags(f->acct, inbox.id, d_uids, 2, ADD, D, NULL, 0, &log);
	assert_int_equal(store_mailbox_status(f->acct, inbox.id, &st, &err), 1);
	assert_int_equal(st.messages, 4);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(st.deleted, 2);
	assert_int_equal(st.size, 10 + 5 + 1 + 24);
	const uint32_t three = 3;
	expunge(f->acct, inbox.id, &three, 1);
	assert_int_equal(store_mailbox_status(f->acct, inbox.id, &st, &err), 1);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.size, 10 + 5 + 24);
	assert_int_equal(store_mailbox_status(f->acct, trash.id, &st, &err), 1);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.size, 9);
}

/* ---- change events ---- */

/* Counts its calls; a test waits for a count with a generous deadline
 * (failing only if the event never comes), never for a time. */
struct waker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;
};

static void waker_init(struct waker *w)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->calls = 0;
}

static void waker_destroy(struct waker *w)
{
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

static void wake(void *ctx)
{
	struct waker *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->calls++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static int calls(struct waker *w)
{
	pthread_mutex_lock(&w->lock);
	int n = w->calls;
	pthread_mutex_unlock(&w->lock);
	return n;
}

static void wait_calls(struct waker *w, int n, const char *what)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&w->lock);
	int rc = 0;
	while (w->calls < n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &until);
	int got = w->calls;
	pthread_mutex_unlock(&w->lock);
	if (got < n)
		fail_msg("%s: no change event (%d calls, want %d)", what, got,
			 n);
}

static void test_watch(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct waker wb, wa;
	struct flag_log log;
	struct store_account *alice;
	waker_init(&wb);
	waker_init(&wa);
	assert_int_equal(store_account_open(f->store, f->alice, &alice, &err),
			 1);
	struct store_mailbox inbox = find(f->acct, "INBOX");
	struct store_mailbox a_inbox = find(alice, "INBOX");
	struct store_watch *xb = store_watch_add(f->store, f->bob, wake, &wb);
	struct store_watch *xa = store_watch_add(f->store, f->alice, wake,
						 &wa);
	assert_non_null(xb);
	assert_non_null(xa);

	uint32_t uid = deliver(f->acct, inbox.id, "news");
	wait_calls(&wb, 1, "delivery");
	set_flags(f->acct, inbox.id, &uid, 1, ADD, S, NULL, 0, &log);
	wait_calls(&wb, 2, "flag change");
	expunge(f->acct, inbox.id, &uid, 1);
	wait_calls(&wb, 3, "expunge");
	assert_int_equal(store_mailbox_create(f->acct, "New", 0, &err), 1);
	wait_calls(&wb, 4, "mailbox created");

	/* Through a second store on the same data, as another process. */
	struct store *other;
	struct store_account *acct2;
	assert_int_equal(store_open(f->data, &other, &err), 1);
	assert_int_equal(store_account_open(other, f->bob, &acct2, &err), 1);
	uid = deliver(acct2, inbox.id, "from elsewhere");
	wait_calls(&wb, 5, "delivery by another store");
	set_flags(acct2, inbox.id, &uid, 1, ADD, F, NULL, 0, &log);
	wait_calls(&wb, 6, "flag change by another store");
	/* ...which reads what woke us. */
	struct scan sc = {0};
	scan(f->acct, inbox.id, uid, uid, 0, &sc);
	assert_string_equal(sc.text, "2 F []\n");
	store_account_unref(&acct2);
	store_free(&other);

	/* Another account's change is not bob's: events come in order on
	 * one thread, so once bob's next one arrived, a wrong call for
	 * alice's would have come before it. */
	assert_int_equal(calls(&wa), 0);
	deliver(alice, a_inbox.id, "for alice");
	wait_calls(&wa, 1, "alice's delivery");
	deliver(f->acct, inbox.id, "for bob");
	wait_calls(&wb, 7, "bob's delivery");
	assert_int_equal(calls(&wb), 7);
	deliver(alice, a_inbox.id, "for alice again");
	wait_calls(&wa, 2, "alice's second delivery");
	assert_int_equal(calls(&wa), 2);
	assert_int_equal(calls(&wb), 7);

	/* Two watches on one account both fire; removing one leaves the
	 * other. */
	struct waker wb2;
	waker_init(&wb2);
	struct store_watch *xb2 = store_watch_add(f->store, f->bob, wake,
						  &wb2);
	deliver(f->acct, inbox.id, "two watchers");
	wait_calls(&wb, 8, "first of two watches");
	wait_calls(&wb2, 1, "second of two watches");
	store_watch_remove(&xb);
	assert_null(xb);
	deliver(f->acct, inbox.id, "one watcher left");
	wait_calls(&wb2, 2, "the watch left");
	assert_int_equal(calls(&wb), 8);

	/* No watch left on bob: nothing; alice's event after it is the
	 * marker that bob's would have come by. */
	store_watch_remove(&xb2);
	deliver(f->acct, inbox.id, "nobody listens");
	deliver(alice, a_inbox.id, "marker");
	wait_calls(&wa, 3, "alice's marker");
	assert_int_equal(calls(&wb), 8);
	assert_int_equal(calls(&wb2), 2);

	/* And a watch added again works again. */
	xb = store_watch_add(f->store, f->bob, wake, &wb);
	deliver(f->acct, inbox.id, "back");
	wait_calls(&wb, 9, "a new watch");

	store_watch_remove(&xb);
	store_watch_remove(&xa);
	store_account_unref(&alice);
	waker_destroy(&wb);
	waker_destroy(&wb2);
	waker_destroy(&wa);
}

/* ---- an account database from before IMAP ---- */

/* Schema versions 1 and 2 as posthorn made them (without v1's INBOX row:
 * the test writes its own). */
static const char old_schema_v1[] =
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
	"CREATE TABLE body (id INTEGER PRIMARY KEY, data BLOB NOT NULL);";

static const char old_rows[] =
	"INSERT INTO mailbox VALUES (1, 'INBOX', 7, 4, 5, 1, NULL),"
	" (2, 'Lists', 8, 2, 2, 0, NULL), (3, 'Old', 9, 1, 1, 1, NULL);"
	"INSERT INTO body VALUES (1, CAST('first' AS BLOB)),"
	" (2, CAST('third!' AS BLOB)), (3, CAST('list mail' AS BLOB));"
	"INSERT INTO message VALUES (1, 1, 2, 1, '', 1000, 5, 1),"
	" (1, 3, 5, 5, '$Forwarded', 1002, 6, 2),"
	" (2, 1, 2, 0, '', 1003, 9, 3);";

static const char old_schema_v2[] =
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
	" messages = messages - 1 WHERE id = 1; END;"
	"PRAGMA user_version=2;";

/* RFC 8474: EMAILID (the body's id) and MAILBOXID (the mailbox's) are
 * never given again, not even after the newest one is gone, where SQLite
 * alone would give its number to the next row. */
static void test_ids_never_reused(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct scan sc = {0};
	int64_t inbox = find(f->acct, "INBOX").id;
	deliver(f->acct, inbox, "one");
	uint32_t two = deliver(f->acct, inbox, "two");
	scan(f->acct, inbox, 1, UINT32_MAX, 0, &sc);
	int64_t gone = sc.s[1].m.email_id;
	expunge(f->acct, inbox, &two, 1);
	uint32_t three = deliver(f->acct, inbox, "three");
	scan(f->acct, inbox, three, three, 0, &sc);
	assert_true(sc.s[0].m.email_id > gone);

	assert_int_equal(store_mailbox_create(f->acct, "Newest", 0, &err), 1);
	int64_t newest = find(f->acct, "Newest").id;
	assert_int_equal(store_mailbox_rename(f->acct, "Newest", "Renamed",
					      &err), 1);
	assert_int_equal(find(f->acct, "Renamed").id, newest);
	assert_int_equal(store_mailbox_delete(f->acct, "Renamed", &err), 1);
	assert_int_equal(store_mailbox_create(f->acct, "Newest", 0, &err), 1);
	assert_true(find(f->acct, "Newest").id > newest);
}

static const char *keywords_of(struct store_account *acct, int64_t mbox,
			       char *out);

static void test_upgrade(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char dir[512], path[600];
	sqlite3 *db;
	struct listing l;
	struct scan sc = {0};
	assert_int_equal(add_user_quota(f->store, "old@example.com", 0), 1);
	int64_t id = user_id(f->store, "old@example.com");
	snprintf(dir, sizeof(dir), "%s/mail/%lld", f->data, (long long)id);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/index.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, old_schema_v1, NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, old_rows, NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, old_schema_v2, NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	struct store_account *acct;
	assert_int_equal(store_account_open(f->store, id, &acct, &err), 1);
	assert_int_equal(db_int(f, id, "PRAGMA user_version"), 7);
	/* Messages without ids: each one a thread of its own. */
	assert_int_equal(db_int(f, id, "SELECT count(*) FROM message WHERE "
				       "thread_id != body_id"), 0);
	/* The keywords in use defined; the messages there not recent. */
	char kws[256];
	assert_string_equal(keywords_of(acct, 1, kws), "$Forwarded");
	uint32_t mark = 0;
	assert_int_equal(store_recent(acct, 1, false, 0, 4, &mark, &err), 0);
	assert_int_equal(mark, 4);
	/* The highest ids given so far, for those to come after them. */
	assert_int_equal(db_int(f, id, "SELECT last_body_id FROM account"),
			 db_int(f, id, "SELECT max(id) FROM body"));
	list(acct, &l);
	/* The special-use mailboxes made; the old subscriptions kept. */
	assert_string_equal(l.text, "Archive id \\Archive sub\n"
				    "Drafts id \\Drafts sub\n"
				    "INBOX id - sub\n"
				    "Junk id \\Junk sub\n"
				    "Lists id - unsub\n"
				    "Old id - sub\n"
				    "Sent id \\Sent sub\n"
				    "Trash id \\Trash sub\n");
	uint32_t top = 9;
	for (size_t i = 0; i < l.n; i++) {
		if (l.m[i].mb.special == STORE_SPECIAL_NONE)
			continue;
		assert_true(l.m[i].mb.uidvalidity > 9);
		assert_int_equal(l.m[i].mb.uidnext, 1);
		for (size_t k = 0; k < i; k++)
			assert_true(l.m[k].mb.uidvalidity !=
				    l.m[i].mb.uidvalidity);
		if (l.m[i].mb.uidvalidity > top)
			top = l.m[i].mb.uidvalidity;
	}

	/* The messages, as they were. */
	struct store_mailbox inbox = find(acct, "INBOX");
	assert_int_equal(inbox.id, 1);
	assert_int_equal(inbox.uidvalidity, 7);
	assert_int_equal(inbox.uidnext, 4);
	assert_int_equal(inbox.highestmodseq, 5);
	scan(acct, inbox.id, 1, UINT32_MAX, STORE_INFO_META, &sc);
	assert_string_equal(sc.text, "1 S []\n3 SF [$Forwarded]\n");
	assert_int_equal(sc.s[1].m.modseq, 5);
	assert_int_equal(sc.s[1].m.internaldate, 1002);
	assert_int_equal(sc.s[1].m.size, 6);
	expect_meta(&sc.s[1].meta, &no_meta);
	expect_text(acct, inbox.id, 1, "first");
	expect_text(acct, inbox.id, 3, "third!");
	expect_text(acct, find(acct, "Lists").id, 1, "list mail");
	assert_int_equal(db_int(f, id, "SELECT bytes FROM account"), 20);

	/* And work as new ones: UIDs and MODSEQs go on, copies share,
	 * expunges free, a new mailbox gets a new UIDVALIDITY. */
	assert_int_equal(deliver(acct, inbox.id, "fourth"), 4);
	assert_true(find(acct, "INBOX").highestmodseq > 5);
	uint32_t three = 3, to, uv;
	assert_int_equal(store_msg_copy(acct, inbox.id, &three, 1,
					find(acct, "Old").id, false, &to, &uv,
					&err), 1);
	assert_int_equal(to, 1);
	assert_int_equal(uv, 9);
	expunge(acct, inbox.id, &three, 1);
	expect_text(acct, find(acct, "Old").id, 1, "third!");
	assert_int_equal(db_int(f, id, "SELECT count(*) FROM body"), 4);
	uint32_t one = 1;
	expunge(acct, inbox.id, &one, 1);
	assert_int_equal(db_int(f, id, "SELECT count(*) FROM body"), 3);
	assert_int_equal(db_int(f, id, "SELECT bytes FROM account"),
			 6 + 9 + 6);
	assert_int_equal(store_mailbox_create(acct, "Fresh", 0, &err), 1);
	assert_true(find(acct, "Fresh").uidvalidity > top);
	store_account_unref(&acct);

	/* Opened again: nothing made twice. */
	store_account_unref(&f->acct);
	store_free(&f->store);
	assert_int_equal(store_open(f->data, &f->store, &err), 1);
	assert_int_equal(store_account_open(f->store, id, &acct, &err), 1);
	struct listing again;
	list(acct, &again);
	assert_string_equal(again.text, "Archive id \\Archive sub\n"
					"Drafts id \\Drafts sub\n"
					"Fresh id - unsub\n"
					"INBOX id - sub\n"
					"Junk id \\Junk sub\n"
					"Lists id - unsub\n"
					"Old id - sub\n"
					"Sent id \\Sent sub\n"
					"Trash id \\Trash sub\n");
	store_account_unref(&acct);
}

/* An unused handle gives its page caches back and still works after;
 * one in use keeps them. */
static void test_trim_idle(void **state)
{
	struct fixture *f = *state;
	enum { N = 40, SIZE = 16 * 1024 };
	struct store_mailbox inbox = find(f->acct, "INBOX");
	char *text = malloc(SIZE + 1), *buf = malloc(SIZE + 1);
	assert_non_null(text);
	assert_non_null(buf);
	for (uint32_t i = 1; i <= N; i++) {
		memset(text, 'a' + (char)(i % 26), SIZE);
		text[SIZE] = '\0';
		assert_int_equal(deliver(f->acct, inbox.id, text), i);
	}
	for (uint32_t i = 1; i <= N; i++)
		assert_true(read_msg(f->acct, inbox.id, i, buf, SIZE + 1) >= 0);
	sqlite3_int64 used = sqlite3_memory_used();
	store_trim_idle(f->store, 0);
	assert_int_equal(sqlite3_memory_used(), used);
	store_account_unref(&f->acct);
	store_trim_idle(f->store, 0);
	assert_true(sqlite3_memory_used() < used - 256 * 1024);
	/* Once per quiet spell: nothing more to take. */
	used = sqlite3_memory_used();
	store_trim_idle(f->store, 0);
	assert_int_equal(sqlite3_memory_used(), used);
	const char *err = NULL;
	assert_int_equal(store_account_open(f->store, f->bob, &f->acct, &err),
			 1);
	assert_true(read_msg(f->acct, inbox.id, N, buf, SIZE + 1) >= 0);
	memset(text, 'a' + (char)(N % 26), SIZE);
	assert_memory_equal(buf, text, SIZE);
	free(text);
	free(buf);
}

/* ---- the mailbox's keywords and \Recent ---- */

static void kw_collect(const char *kw, void *ctx)
{
	char *out = ctx;
	if (out[0] != '\0')
		strcat(out, " ");
	strcat(out, kw);
}

/* The mailbox's keywords in one string, after checking that the count
 * agrees with the list. */
static const char *keywords_of(struct store_account *acct, int64_t mbox,
			       char *out)
{
	const char *err = NULL;
	uint32_t n = 0, count = 0;
	out[0] = '\0';
	assert_int_equal(store_keyword_list(acct, mbox, kw_collect, out, &n,
					    &err), 1);
	assert_int_equal(store_keyword_count(acct, mbox, &count, &err), 1);
	assert_int_equal(n, count);
	return out;
}

static void test_keywords(void **state)
{
	struct fixture *f = *state;
	struct flag_log log;
	const char *err = NULL;
	char kws[8192];
	int64_t inbox = find(f->acct, "INBOX").id;
	int64_t sent = find(f->acct, "Sent").id;
	assert_string_equal(keywords_of(f->acct, inbox, kws), "");
	/* APPEND and STORE define them, once whatever the case. */
	append(f->acct, inbox, "one", 0, "$Label1 NonJunk", NULL, 1);
	deliver(f->acct, inbox, "two");
	uint32_t two = 2;
	set_flags(f->acct, inbox, &two, 1, ADD, 0, "$label1 Work", 0, &log);
	assert_string_equal(keywords_of(f->acct, inbox, kws),
			    "$Label1 NonJunk Work");
	/* Taking them off messages does not shrink the set. */
	set_flags(f->acct, inbox, &two, 1, SET, 0, NULL, 0, &log);
	assert_string_equal(keywords_of(f->acct, inbox, kws),
			    "$Label1 NonJunk Work");
	/* COPY brings the copied messages' keywords only. */
	uint32_t one = 1, to, uv;
	assert_int_equal(store_msg_copy(f->acct, inbox, &one, 1, sent, false,
					&to, &uv, &err), 1);
	assert_string_equal(keywords_of(f->acct, sent, kws),
			    "$Label1 NonJunk");
	/* Up to the limit, then STORE_FAIL_LIMIT and nothing changed. */
	char more[64];
	for (int i = 3; i < STORE_KEYWORDS_MAX; i++) {
		snprintf(more, sizeof(more), "k%d", i);
		set_flags(f->acct, inbox, &two, 1, ADD, 0, more, 0, &log);
	}
	uint32_t count = 0;
	assert_int_equal(store_keyword_count(f->acct, inbox, &count, &err), 1);
	assert_int_equal(count, STORE_KEYWORDS_MAX);
	uint64_t top = find(f->acct, "INBOX").highestmodseq;
	assert_int_equal(store_msg_flags(f->acct, inbox, &two, 1, ADD,
					 STORE_FLAG_SEEN, "Work past", 0,
					 collect_change, &log, &err),
			 STORE_FAIL_LIMIT);
	assert_int_equal(find(f->acct, "INBOX").highestmodseq, top);
	struct iovec iov = {"three", 5};
	struct store_source src = {&iov, 1, -1, 0};
	uint32_t uid = 0;
	assert_int_equal(store_msg_append(f->acct, inbox, &src, NULL, 0,
					  "past", 1, &uid, &err),
			 STORE_FAIL_LIMIT);
	assert_int_equal(find(f->acct, "INBOX").uidnext, 3);
	/* Defined ones still go; a full target refuses a COPY. */
	set_flags(f->acct, inbox, &two, 1, ADD, 0, "k7 work", 0, &log);
	append(f->acct, sent, "four", 0, "Fresh", NULL, 1);
	uint32_t four = 2;
	assert_int_equal(store_msg_copy(f->acct, sent, &four, 1, inbox, false,
					&to, &uv, &err), STORE_FAIL_LIMIT);
	assert_int_equal(find(f->acct, "INBOX").uidnext, 3);
	/* Too long, in a mailbox with room. */
	char longkw[STORE_KEYWORD_LEN_MAX + 2];
	memset(longkw, 'x', sizeof(longkw) - 1);
	longkw[sizeof(longkw) - 1] = '\0';
	assert_int_equal(store_msg_flags(f->acct, sent, &four, 1, ADD, 0,
					 longkw, 0, collect_change, &log, &err),
			 STORE_FAIL_LIMIT);
	longkw[STORE_KEYWORD_LEN_MAX] = '\0';
	set_flags(f->acct, sent, &four, 1, ADD, 0, longkw, 0, &log);
	/* A deleted mailbox's keywords go with it. */
	assert_int_equal(store_mailbox_delete(f->acct, "Sent", &err), 1);
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM keyword WHERE "
		 "mailbox_id = %lld", (long long)sent);
	assert_int_equal(db_int(f, f->bob, sql), 0);
}

static void test_recent(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct store_mailbox_status st;
	uint32_t mark = 0;
	int64_t inbox = find(f->acct, "INBOX").id;
	for (int i = 0; i < 3; i++)
		deliver(f->acct, inbox, "m");
	assert_int_equal(store_mailbox_status(f->acct, inbox, &st, &err), 1);
	assert_int_equal(st.recent, 3);
	/* A look claims nothing. */
	assert_int_equal(store_recent(f->acct, inbox, false, 0, 4, &mark,
				      &err), 0);
	assert_int_equal(mark, 1);
	/* The first claim takes [1, 3); the mark moves. */
	assert_int_equal(store_recent(f->acct, inbox, true, 0, 3, &mark, &err),
			 1);
	assert_int_equal(mark, 1);
	assert_int_equal(store_mailbox_status(f->acct, inbox, &st, &err), 1);
	assert_int_equal(st.recent, 1);
	/* Another session's claim right after: [3, 4). */
	assert_int_equal(store_recent(f->acct, inbox, true, 0, 4, &mark, &err),
			 1);
	assert_int_equal(mark, 3);
	/* The first session goes on from 3: someone claimed, it gets
	 * nothing, and the mark stays. */
	deliver(f->acct, inbox, "m");
	assert_int_equal(store_recent(f->acct, inbox, true, 3, 5, &mark, &err),
			 0);
	assert_int_equal(mark, 4);
	/* The second one goes on from 4. */
	assert_int_equal(store_recent(f->acct, inbox, true, 4, 5, &mark, &err),
			 1);
	assert_int_equal(mark, 4);
	/* Nothing left: no claim. */
	assert_int_equal(store_recent(f->acct, inbox, true, 0, 5, &mark, &err),
			 0);
	assert_int_equal(mark, 5);
	assert_int_equal(store_mailbox_status(f->acct, inbox, &st, &err), 1);
	assert_int_equal(st.recent, 0);
	/* A copy is recent in the target; a renamed INBOX keeps what no
	 * session claimed. */
	int64_t sent = find(f->acct, "Sent").id;
	uint32_t one = 1, to, uv;
	assert_int_equal(store_msg_copy(f->acct, inbox, &one, 1, sent, false,
					&to, &uv, &err), 1);
	assert_int_equal(store_mailbox_status(f->acct, sent, &st, &err), 1);
	assert_int_equal(st.recent, 1);
	deliver(f->acct, inbox, "m");
	assert_int_equal(store_mailbox_rename(f->acct, "INBOX", "Old", &err),
			 1);
	assert_int_equal(store_mailbox_status(f->acct, find(f->acct, "Old").id,
					      &st, &err), 1);
	assert_int_equal(st.messages, 5);
	assert_int_equal(st.recent, 1);
	assert_int_equal(store_recent(f->acct, find(f->acct, "Old").id, false,
				      0, 6, &mark, &err), 0);
	assert_int_equal(mark, 5);
}

int main(void)
{
#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T_(test_new_account),
		cmocka_unit_test(test_special_names),
		T_(test_create_delete),
		T_(test_delete_shared),
		T_(test_rename),
		T_(test_rename_inbox),
		T_(test_append_scan),
		T_(test_meta_gone),
		T_(test_flags),
		T_(test_flags_unchangedsince),
		T_(test_copy_move),
		T_(test_copy_quota),
		T_(test_changes),
		T_(test_status),
		T_(test_watch),
		T_(test_ids_never_reused),
		T_(test_upgrade),
		T_(test_trim_idle),
		T_(test_keywords),
		T_(test_recent),
	};
#undef T_
	return cmocka_run_group_tests(tests, NULL, NULL);
}
