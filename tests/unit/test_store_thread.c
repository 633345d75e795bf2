/* store: the thread of each message (RFC 8474 THREADID), against the
 * SQLite back end in a fresh directory per test.  Conversations stored
 * in every order (a reply chain, replies before their parent, parents
 * named only by In-Reply-To), mail that must not join (same subject, no
 * ids), ids that never change once given, copies and moves that keep
 * them, every way in (deliver, append, a spooled file), and the upgrade
 * of a version 5 database that fills them in. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include "store/store.h"

struct fixture {
	char dir[256];
	char data[300];
	struct store *store;
	int nusers;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;
	if (f == NULL || temp_dir(f->dir, sizeof(f->dir), "store-thread") < 0)
		return -1;
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->store, &err) < 0 ||
	    store_domain_add(f->store, "example.com", &err) != 1) {
		fprintf(stderr, "setup: %s\n", err ? err : "?");
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_free(&f->store);
	rm_tree(f->dir);
	free(f);
	return 0;
}

/* A new account of its own, so that the ids of one case never meet those
 * of another. */
static int64_t new_user(struct fixture *f)
{
	char address[64];
	snprintf(address, sizeof(address), "u%d@example.com", ++f->nusers);
	struct store_user u = {0, address, (char *)"$argon2id$x", 0,
			       (char *)"", NULL};
	const char *err = NULL;
	assert_int_equal(store_user_add(f->store, &u, &err), 1);
	struct store_user got;
	assert_int_equal(store_user_lookup(f->store, address, &got), 1);
	int64_t id = got.id;
	store_user_clear(&got);
	return id;
}

static int64_t mailbox(struct store_account *acct, const char *name)
{
	struct store_mailbox mb;
	const char *err = NULL;
	if (store_mailbox_find(acct, name, &mb, &err) != 1)
		fail_msg("mailbox %s: %s", name, err ? err : "");
	return mb.id;
}

/* How a message gets in. */
enum way { BY_DELIVER, BY_APPEND, BY_FILE };

/* A message file: the header from a temp file, as a spooled SMTP
 * delivery or a large APPEND gives it, after a Return-Path line. */
static int spooled(const struct fixture *f, const char *text)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/spool", f->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	unlink(path);
	return fd;
}

static uint32_t store_one(const struct fixture *f, struct store_account *acct,
			  int64_t mbox, const char *text, enum way way)
{
	static const char rp[] = "Return-Path: <a@example.org>\r\n";
	struct iovec iov[2] = {{(char *)rp, sizeof(rp) - 1},
			       {(char *)text, strlen(text)}};
	struct store_source src = {&iov[1], 1, -1, 0};
	const char *err = NULL;
	uint32_t uid = 0;
	int rc, fd = -1;
	if (way == BY_FILE) {
		fd = spooled(f, text);
		src = (struct store_source){iov, 1, fd, strlen(text)};
	}
	if (way == BY_APPEND)
		rc = store_msg_append(acct, mbox, &src, NULL, 0, NULL,
				      1700000000, &uid, &err);
	else
		rc = store_msg_deliver(acct, mbox, &src, 1700000000, &uid,
				       &err);
	if (fd >= 0)
		close(fd);
	if (rc != 1)
		fail_msg("store: %d %s", rc, err ? err : "");
	return uid;
}

struct threads {
	uint32_t uid[64];
	int64_t thread[64];
	int64_t email[64];
	size_t n;
};

static bool collect(const struct store_msginfo *m, void *ctx)
{
	struct threads *t = ctx;
	assert_true(t->n < 64);
	t->uid[t->n] = m->uid;
	t->thread[t->n] = m->thread_id;
	t->email[t->n++] = m->email_id;
	return true;
}

static void threads_of(struct store_account *acct, int64_t mbox,
		       struct threads *t)
{
	const char *err = NULL;
	memset(t, 0, sizeof(*t));
	if (store_msg_scan(acct, mbox, 1, UINT32_MAX, 0, collect, t, &err) !=
	    1)
		fail_msg("scan: %s", err ? err : "");
}

/* The threads as letters, in UID order: the first thread met is "a",
 * the next new one "b", and so on, so that "aab" says the first two are
 * one thread and the third another. */
static void letters(const struct threads *t, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++) {
		size_t first = i;
		for (size_t j = 0; j < i; j++)
			if (t->thread[j] == t->thread[i]) {
				first = j;
				break;
			}
		out[i] = first == i ? (char)('a' + k++) : out[first];
		assert_true(t->thread[i] > 0);
	}
	out[t->n] = '\0';
}

/* ---- conversations, stored in order ---- */

#define ID(x) "Message-ID: <" x "@example.org>\r\n"
#define IRT(x) "In-Reply-To: <" x "@example.org>\r\n"
#define REFS(x) "References: " x "\r\n"
#define BODY "Subject: Re: lunch\r\n\r\nbody\r\n"

struct thread_case {
	const char *name;
	const char *msgs[8];
	const char *want;	/* letters(), see above */
};

static const struct thread_case cases[] = {
	{"a reply chain, and unrelated mail with the same subject",
	 {ID("a") BODY, ID("b") IRT("a") REFS("<a@example.org>") BODY,
	  ID("c") IRT("b") REFS("<a@example.org> <b@example.org>") BODY,
	  ID("d") BODY, "Subject: Re: lunch\r\n\r\nno ids\r\n"},
	 "aaabc"},
	{"a reply before its parent, and the parent after",
	 {ID("b") REFS("<a@example.org>") BODY, ID("a") BODY,
	  ID("c") REFS("<b@example.org>") BODY},
	 "aaa"},
	{"replies naming only In-Reply-To, the parent never stored",
	 {ID("b") IRT("a") BODY, ID("c") IRT("a") BODY,
	  ID("d") IRT("c") BODY},
	 "aaa"},
	{"a grandchild whose parent is missing joins by the root",
	 {ID("a") BODY,
	  ID("c") REFS("<a@example.org> <b@example.org>") BODY},
	 "aa"},
	{"ids written another way are the same ids",
	 {"Message-ID: < a@example.org > (home)\r\n" BODY,
	  "References: (x) <\"a\"@example.org>\r\n" BODY,
	  "In-Reply-To: Your mail <a@\r\n example.org>\r\n" BODY},
	 "aaa"},
	{"no ids, or only broken ones: each alone",
	 {BODY, BODY, "Message-ID: a@example.org\r\n" BODY,
	  "References: <no-at-sign>\r\n" BODY},
	 "abcd"},
	{"the same message twice (a copy in Sent and the one delivered)",
	 {ID("s") BODY, ID("s") BODY},
	 "aa"},
	{"a message naming itself",
	 {ID("x") REFS("<x@example.org>") BODY, ID("y") IRT("x") BODY},
	 "aa"},
	{"only the header counts, not a References line in the body",
	 {ID("a") BODY, "Subject: hi\r\n\r\n" REFS("<a@example.org>")},
	 "ab"},
	{"a bare LF header",
	 {"Message-ID: <lf@example.org>\nSubject: x\n\nbody\n",
	  "References: <lf@example.org>\n\nbody\n"},
	 "aa"},
};

static void run_case(struct fixture *f, const struct thread_case *c,
		     enum way way)
{
	struct store_account *acct;
	const char *err = NULL;
	struct threads t;
	char got[64];
	cur = c->name;
	assert_int_equal(store_account_open(f->store, new_user(f), &acct,
					    &err), 1);
	int64_t inbox = mailbox(acct, "INBOX");
	for (size_t i = 0; i < 8 && c->msgs[i] != NULL; i++)
		store_one(f, acct, inbox, c->msgs[i], way);
	threads_of(acct, inbox, &t);
	letters(&t, got);
	EXPECT_STR(got, c->want);
	store_account_unref(&acct);
}

static void test_cases(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		run_case(f, &cases[i], BY_DELIVER);
		run_case(f, &cases[i], BY_APPEND);
		run_case(f, &cases[i], BY_FILE);
	}
}

/* ---- what never changes ---- */

/* A parent that arrives after a reply that named it, and that itself
 * names an older thread: it joins the older thread, by its References;
 * the reply stays where it was (RFC 8474: a THREADID never changes); and
 * later mail naming the root finds the older thread. */
static void test_ids_never_change(void **state)
{
	struct fixture *f = *state;
	struct store_account *acct;
	const char *err = NULL;
	struct threads before, after;
	char got[64];
	assert_int_equal(store_account_open(f->store, new_user(f), &acct,
					    &err), 1);
	int64_t inbox = mailbox(acct, "INBOX");
	store_one(f, acct, inbox, ID("r") IRT("p") BODY, BY_DELIVER);
	store_one(f, acct, inbox, ID("g") BODY, BY_DELIVER);
	threads_of(acct, inbox, &before);
	store_one(f, acct, inbox, ID("p") REFS("<g@example.org>") BODY,
		  BY_DELIVER);
	store_one(f, acct, inbox,
		  ID("q") REFS("<g@example.org> <p@example.org>") BODY,
		  BY_DELIVER);
	threads_of(acct, inbox, &after);
	letters(&after, got);
	assert_string_equal(got, "abbb");
	assert_int_equal(after.thread[0], before.thread[0]);
	assert_int_equal(after.thread[1], before.thread[1]);
	/* A new thread is numbered after the message that began it. */
	assert_int_equal(after.thread[0], after.email[0]);
	assert_int_equal(after.thread[1], after.email[1]);
	store_account_unref(&acct);
}

/* COPY and MOVE keep the thread (and the EMAILID); a reply to the moved
 * message still finds it; expunging every message of a thread leaves
 * its id to the mail that comes later in the conversation. */
static void test_copy_move(void **state)
{
	struct fixture *f = *state;
	struct store_account *acct;
	const char *err = NULL;
	struct threads in, arch, trash;
	uint32_t to[2], uv;
	assert_int_equal(store_account_open(f->store, new_user(f), &acct,
					    &err), 1);
	int64_t inbox = mailbox(acct, "INBOX");
	int64_t archive = mailbox(acct, "Archive");
	int64_t tr = mailbox(acct, "Trash");
	uint32_t a = store_one(f, acct, inbox, ID("a") BODY, BY_DELIVER);
	uint32_t b = store_one(f, acct, inbox, ID("b") BODY, BY_DELIVER);
	threads_of(acct, inbox, &in);
	assert_true(in.thread[0] != in.thread[1]);
	uint32_t both[2] = {a, b};
	assert_int_equal(store_msg_copy(acct, inbox, both, 2, archive, false,
					to, &uv, &err), 1);
	assert_int_equal(store_msg_copy(acct, inbox, &a, 1, tr, true, to,
					&uv, &err), 1);
	threads_of(acct, archive, &arch);
	threads_of(acct, tr, &trash);
	assert_int_equal(arch.n, 2);
	assert_int_equal(arch.thread[0], in.thread[0]);
	assert_int_equal(arch.thread[1], in.thread[1]);
	assert_int_equal(arch.email[0], in.email[0]);
	assert_int_equal(trash.n, 1);
	assert_int_equal(trash.thread[0], in.thread[0]);

	/* The reply lands in INBOX, its parent only in Archive and Trash. */
	store_one(f, acct, inbox, ID("c") IRT("a") BODY, BY_DELIVER);
	struct threads now;
	threads_of(acct, inbox, &now);
	assert_int_equal(now.n, 2);
	assert_int_equal(now.thread[1], in.thread[0]);

	/* Every copy of b gone; a reply to b still gets b's thread. */
	assert_int_equal(store_msg_expunge(acct, inbox, &b, 1, &err), 1);
	uint32_t arch_b = arch.uid[1];
	assert_int_equal(store_msg_expunge(acct, archive, &arch_b, 1, &err), 1);
	store_one(f, acct, inbox, ID("d") IRT("b") BODY, BY_APPEND);
	threads_of(acct, inbox, &now);
	assert_int_equal(now.thread[now.n - 1], in.thread[1]);
	store_account_unref(&acct);
}

/* Each account has threads of its own: the same ids in two accounts give
 * threads numbered by each account's own messages. */
static void test_accounts_apart(void **state)
{
	struct fixture *f = *state;
	struct store_account *one, *two;
	const char *err = NULL;
	struct threads t1, t2;
	assert_int_equal(store_account_open(f->store, new_user(f), &one, &err),
			 1);
	assert_int_equal(store_account_open(f->store, new_user(f), &two, &err),
			 1);
	store_one(f, one, mailbox(one, "INBOX"), "Subject: filler\r\n\r\n",
		  BY_DELIVER);
	store_one(f, one, mailbox(one, "INBOX"), ID("a") BODY, BY_DELIVER);
	store_one(f, two, mailbox(two, "INBOX"), IRT("a") BODY, BY_DELIVER);
	threads_of(one, mailbox(one, "INBOX"), &t1);
	threads_of(two, mailbox(two, "INBOX"), &t2);
	assert_int_equal(t1.thread[1], t1.email[1]);
	assert_int_equal(t2.thread[0], t2.email[0]);
	store_account_unref(&one);
	store_account_unref(&two);
}

/* ---- bounds ---- */

/* References of 300 ids: the root and the last few count.  A header
 * past the 64 KiB that are read gives what its first 64 KiB say. */
static void test_long_header(void **state)
{
	struct fixture *f = *state;
	struct store_account *acct;
	const char *err = NULL;
	struct threads t;
	char got[64];
	assert_int_equal(store_account_open(f->store, new_user(f), &acct,
					    &err), 1);
	int64_t inbox = mailbox(acct, "INBOX");
	size_t cap = 300 * 32 + 200 * 1024;
	char *m = malloc(cap);
	assert_non_null(m);
	store_one(f, acct, inbox, ID("root") BODY, BY_DELIVER);
	store_one(f, acct, inbox, ID("mid150") BODY, BY_DELIVER);
	store_one(f, acct, inbox, ID("last") BODY, BY_DELIVER);
	/* Root first, then 298 others, none stored, then none: joins by the
	 * root. */
	size_t n = (size_t)snprintf(m, cap, "References: <root@example.org>");
	for (int i = 1; i < 299; i++)
		n += (size_t)snprintf(m + n, cap - n, "\r\n <x%d@example.org>",
				      i);
	snprintf(m + n, cap - n, "\r\n" BODY);
	store_one(f, acct, inbox, m, BY_DELIVER);
	/* Only one in the middle stored: too far from both ends to count. */
	n = (size_t)snprintf(m, cap, "References:");
	for (int i = 1; i < 299; i++)
		n += (size_t)snprintf(m + n, cap - n, "\r\n <%s%d@example.org>",
				      i == 150 ? "mid" : "y", i);
	snprintf(m + n, cap - n, "\r\n" BODY);
	store_one(f, acct, inbox, m, BY_FILE);
	/* The nearest ancestor last, after 298 unknown ones. */
	n = (size_t)snprintf(m, cap, "References:");
	for (int i = 1; i < 299; i++)
		n += (size_t)snprintf(m + n, cap - n, "\r\n <z%d@example.org>",
				      i);
	snprintf(m + n, cap - n, "\r\n <last@example.org>\r\n" BODY);
	store_one(f, acct, inbox, m, BY_APPEND);
	/* 100 KiB of other fields before References: not read. */
	n = 0;
	while (n < 100 * 1024)
		n += (size_t)snprintf(m + n, cap - n, "X-Junk: %0100d\r\n", 0);
	snprintf(m + n, cap - n, IRT("root") BODY);
	store_one(f, acct, inbox, m, BY_FILE);
	threads_of(acct, inbox, &t);
	letters(&t, got);
	assert_string_equal(got, "abcadce");
	free(m);
	store_account_unref(&acct);
}

/* ---- the upgrade from version 5 ---- */

static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static int64_t query_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* A database as version 5 left it: no thread column, no thread_ref, and
 * none of version 7's keywords and \Recent mark. */
static const char to_v5[] =
	"DROP TRIGGER keyword_added;"
	"DROP TRIGGER mailbox_keywords_removed;"
	"DROP TABLE keyword;"
	"ALTER TABLE mailbox DROP COLUMN recent_uid;"
	"ALTER TABLE mailbox DROP COLUMN keyword_count;"
	"ALTER TABLE message DROP COLUMN thread_id;"
	"DROP TABLE thread_ref;"
	"PRAGMA user_version=5;";

static void test_upgrade(void **state)
{
	struct fixture *f = *state;
	struct store_account *acct;
	const char *err = NULL;
	struct threads before, in, arch;
	char path[512], got[64];
	int64_t id = new_user(f);
	snprintf(path, sizeof(path), "%s/mail/%lld/index.db", f->data,
		 (long long)id);
	assert_int_equal(store_account_open(f->store, id, &acct, &err), 1);
	int64_t inbox = mailbox(acct, "INBOX");
	int64_t archive = mailbox(acct, "Archive");
	/* Stored in this order: a reply before its parent, the parent, an
	 * unrelated message, a reply to the parent, a copy in Archive. */
	store_one(f, acct, inbox, ID("b") IRT("a") BODY, BY_DELIVER);
	store_one(f, acct, inbox, ID("a") BODY, BY_DELIVER);
	store_one(f, acct, inbox, ID("x") BODY, BY_DELIVER);
	uint32_t c = store_one(f, acct, inbox,
			       ID("c") REFS("<a@example.org>") BODY,
			       BY_DELIVER);
	uint32_t to, uv;
	assert_int_equal(store_msg_copy(acct, inbox, &c, 1, archive, false,
					&to, &uv, &err), 1);
	threads_of(acct, inbox, &before);
	store_account_unref(&acct);
	store_free(&f->store);

	exec_sql(path, to_v5);
	assert_int_equal(query_int(path, "PRAGMA user_version"), 5);
	assert_int_equal(store_open(f->data, &f->store, &err), 1);
	assert_int_equal(store_account_open(f->store, id, &acct, &err), 1);
	assert_int_equal(query_int(path, "PRAGMA user_version"), 7);
	assert_int_equal(query_int(path, "SELECT count(*) FROM message "
					 "WHERE thread_id = 0"), 0);
	threads_of(acct, inbox, &in);
	threads_of(acct, archive, &arch);
	letters(&in, got);
	assert_string_equal(got, "aaba");
	/* The same ids as the store gave when they arrived. */
	for (size_t i = 0; i < in.n; i++)
		assert_int_equal(in.thread[i], before.thread[i]);
	assert_int_equal(arch.thread[0], in.thread[3]);
	/* And mail after the upgrade finds them. */
	store_one(f, acct, inbox, ID("d") IRT("x") BODY, BY_DELIVER);
	store_one(f, acct, inbox, ID("e") IRT("b") BODY, BY_DELIVER);
	threads_of(acct, inbox, &in);
	assert_int_equal(in.thread[4], in.thread[2]);
	assert_int_equal(in.thread[5], in.thread[0]);
	store_account_unref(&acct);
}

int main(void)
{
#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T_(test_cases),
		T_(test_ids_never_change),
		T_(test_copy_move),
		T_(test_accounts_apart),
		T_(test_long_header),
		T_(test_upgrade),
	};
#undef T_
	return cmocka_run_group_tests(tests, NULL, NULL);
}
