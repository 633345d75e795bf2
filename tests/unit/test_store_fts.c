/* store: the full-text index behind IMAP SEARCH, against the SQLite back
 * end in a fresh directory per test.  Substrings found by trigrams
 * anywhere in a word and never by trigrams that are merely all there,
 * needles too short for a trigram, FTS5 query syntax taken literally, one
 * row for a message and its copies that goes with the last of them,
 * messages stored without text found and indexed later, and a database
 * from before the index brought up to it. */
#include <sqlite3.h>
#include <stdbool.h>

#include "unit.h"

#include "store/store.h"

struct fixture {
	char dir[256];
	char data[300];
	struct store *store;
	int64_t bob;
	struct store_account *acct;
	int64_t inbox, archive;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;
	struct store_user u = {0, (char *)"bob@example.com",
			       (char *)"$argon2id$x", 0, (char *)"", NULL};
	struct store_mailbox mb;
	if (f == NULL || temp_dir(f->dir, sizeof(f->dir), "store-fts") < 0)
		return -1;
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->store, &err) < 0 ||
	    store_domain_add(f->store, "example.com", &err) != 1 ||
	    store_user_add(f->store, &u, &err) != 1 ||
	    store_user_lookup(f->store, "bob@example.com", &u) != 1) {
		fprintf(stderr, "setup: %s\n", err ? err : "?");
		return -1;
	}
	f->bob = u.id;
	store_user_clear(&u);
	if (store_account_open(f->store, f->bob, &f->acct, &err) != 1 ||
	    store_mailbox_find(f->acct, "INBOX", &mb, &err) != 1)
		return -1;
	f->inbox = mb.id;
	if (store_mailbox_find(f->acct, "Archive", &mb, &err) != 1)
		return -1;
	f->archive = mb.id;
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

/* Store a message with its text (already in the index's form); header
 * NULL stores it without. */
static uint32_t put(struct fixture *f, int64_t mbox, const char *header,
		    const char *body)
{
	static const char bytes[] = "Subject: x\r\n\r\nx\r\n";
	struct iovec iov = {(char *)bytes, sizeof(bytes) - 1};
	struct store_source src = {&iov, 1, -1, 0};
	struct store_msg_meta meta = {.header_text = header,
				      .body_text = body};
	const char *err = NULL;
	uint32_t uid = 0;
	int rc = store_msg_append(f->acct, mbox, &src,
				  header != NULL ? &meta : NULL, 0, NULL,
				  1700000000, &uid, &err);
	if (rc != 1)
		fail_msg("append: %d %s", rc, err ? err : "");
	return uid;
}

static int64_t db_int(const struct fixture *f, const char *sql)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;
	snprintf(path, sizeof(path), "%s/mail/%lld/index.db", f->data,
		 (long long)f->bob);
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

/* What a search found: "uid uid ..." and, with headers, "uid[header]". */
struct found {
	char text[1024];
};

static void found_one(uint32_t uid, const char *header_text, void *ctx)
{
	struct found *fd = ctx;
	size_t n = strlen(fd->text);
	snprintf(fd->text + n, sizeof(fd->text) - n, "%s%u", n ? " " : "",
		 uid);
	if (header_text != NULL) {
		n = strlen(fd->text);
		snprintf(fd->text + n, sizeof(fd->text) - n, "[%s]",
			 header_text);
	}
}

static void expect_search(struct fixture *f, int64_t mbox,
			  enum store_text_where where, const char *needle,
			  const char *want)
{
	struct found fd = {""};
	const char *err = NULL;
	cur = needle;
	int rc = store_msg_text_search(f->acct, mbox, needle, where,
				       found_one, &fd, &err);
	if (rc != 1)
		fail_msg("search \"%s\": %d %s", needle, rc, err ? err : "");
	if (strcmp(fd.text, want) != 0)
		fail_msg("search %d \"%s\": got \"%s\", want \"%s\"", where,
			 esc(needle), fd.text, want);
}

#define BODY STORE_TEXT_BODY
#define ALL STORE_TEXT_ALL
#define HDR STORE_TEXT_HEADER

static void test_search(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(put(f, f->inbox, "FROM: A <A@X>\nSUBJECT: HI\n",
			     "THE QUICK BROWN FOX\n"), 1);
	assert_int_equal(put(f, f->inbox, "FROM: B\nSUBJECT: QUICK NOTE\n",
			     "LAZY DOGS SLEEP\n"), 2);
	assert_int_equal(put(f, f->inbox, "SUBJECT: X\n",
			     "ZZ \"QUOTED\" TEXT*\n"), 3);
	assert_int_equal(put(f, f->inbox, "SUBJECT: Y\n",
			     "ABCXBCD AND NEAR(A B) {BODY}: -Z\n"), 4);
	/* Another mailbox is not looked into. */
	put(f, f->archive, "SUBJECT: QUICK\n", "QUICK\n");

	static const struct {
		enum store_text_where where;
		const char *needle, *want;
	} t[] = {
		{BODY, "QUICK", "1"},
		{ALL, "QUICK", "1 2"},
		/* Substrings anywhere, across words. */
		{BODY, "UICK BRO", "1"},
		{BODY, "OWN FOX\n", "1"},
		{BODY, "AZY", "2"},
		{BODY, "XYZ", ""},
		/* Every trigram of ABCD is in message 4, not in a row. */
		{BODY, "ABCD", ""},
		{BODY, "ABCX", "4"},
		/* Query syntax is text. */
		{BODY, "\"QUOTED\"", "3"},
		{BODY, "\"", "3"},
		{BODY, "TEXT*", "3"},
		{BODY, "AND", "4"},
		{BODY, "NEAR(A B)", "4"},
		{BODY, "{BODY}: -Z", "4"},
		{BODY, "OR", ""},
		/* Short needles: each message's text. */
		{BODY, "ZZ", "3"},
		{BODY, "Q", "1 3"},
		{BODY, "X", "1 3 4"},
		{ALL, "X", "1 3 4"},
		/* "SUBJECT" has a B. */
		{ALL, "B", "1 2 3 4"},
		{BODY, "\xc3\xa9", ""},
		/* Header candidates come with the header. */
		{HDR, "QUICK", "2[FROM: B\nSUBJECT: QUICK NOTE\n]"},
		{HDR, "A@X", "1[FROM: A <A@X>\nSUBJECT: HI\n]"},
		{HDR, "Y", "4[SUBJECT: Y\n]"},
		{HDR, "", "1[FROM: A <A@X>\nSUBJECT: HI\n] "
			  "2[FROM: B\nSUBJECT: QUICK NOTE\n] "
			  "3[SUBJECT: X\n] 4[SUBJECT: Y\n]"},
		{HDR, "LAZY", ""},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		expect_search(f, f->inbox, t[i].where, t[i].needle, t[i].want);
	expect_search(f, f->archive, BODY, "QUICK", "1");
}

static void test_non_ascii(void **state)
{
	struct fixture *f = *state;
	/* As mime_text keeps "Größe in Köln". */
	put(f, f->inbox, "SUBJECT: GRO\xcc\x88\xc3\x9f" "E\n",
	    "GRO\xcc\x88\xc3\x9f" "E IN KO\xcc\x88LN\n");
	put(f, f->inbox, "SUBJECT: GROSSE\n", "GROSSE\n");
	expect_search(f, f->inbox, BODY, "KO\xcc\x88LN", "1");
	expect_search(f, f->inbox, BODY, "O\xcc\x88\xc3\x9f", "1");
	/* Two characters, four bytes: a short needle. */
	expect_search(f, f->inbox, BODY, "\xc3\x9f" "E", "1");
	expect_search(f, f->inbox, BODY, "SS", "2");
	expect_search(f, f->inbox, BODY, "GROSS", "2");
}

static void copy(struct fixture *f, uint32_t uid, uint32_t *to_r)
{
	uint32_t uv;
	const char *err = NULL;
	if (store_msg_copy(f->acct, f->inbox, &uid, 1, f->archive, false,
			   to_r, &uv, &err) != 1)
		fail_msg("copy: %s", err ? err : "");
}

static void expunge(struct fixture *f, int64_t mbox, uint32_t uid)
{
	const char *err = NULL;
	if (store_msg_expunge(f->acct, mbox, &uid, 1, &err) != 1)
		fail_msg("expunge: %s", err ? err : "");
}

/* A copy shares the row; it goes with the last message that has it. */
static void test_copies_expunge(void **state)
{
	struct fixture *f = *state;
	uint32_t one = put(f, f->inbox, "SUBJECT: A\n", "SHARED TEXT\n");
	uint32_t two = put(f, f->inbox, "SUBJECT: B\n", "OTHER TEXT\n");
	uint32_t c1, c2;
	copy(f, one, &c1);
	copy(f, one, &c2);
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext"), 2);
	expect_search(f, f->archive, BODY, "SHARED", "1 2");
	expect_search(f, f->inbox, BODY, "SHARED", "1");
	expunge(f, f->inbox, one);
	expect_search(f, f->inbox, BODY, "SHARED", "");
	expect_search(f, f->inbox, BODY, "TEXT", "2");
	expect_search(f, f->archive, BODY, "SHARED", "1 2");
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext"), 2);
	expunge(f, f->archive, c1);
	expunge(f, f->archive, c2);
	expect_search(f, f->archive, BODY, "SHARED", "");
	expect_search(f, f->archive, ALL, "S", "");
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext"), 1);
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext WHERE "
				   "msgtext MATCH '\"SHARED\"'"), 0);
	/* Deleting a mailbox takes its text too. */
	const char *err = NULL;
	assert_int_equal(store_mailbox_create(f->acct, "Tmp", 0, &err), 1);
	struct store_mailbox tmp;
	assert_int_equal(store_mailbox_find(f->acct, "Tmp", &tmp, &err), 1);
	put(f, tmp.id, "SUBJECT: T\n", "TEMPORARY\n");
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext"), 2);
	assert_int_equal(store_mailbox_delete(f->acct, "Tmp", &err), 1);
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext"), 1);
	(void)two;
}

struct missing {
	char text[256];
	int64_t ids[8];
	size_t n;
};

static void missing_one(uint32_t uid, int64_t email_id, void *ctx)
{
	struct missing *m = ctx;
	size_t n = strlen(m->text);
	snprintf(m->text + n, sizeof(m->text) - n, "%s%u", n ? " " : "", uid);
	assert_true(m->n < 8);
	m->ids[m->n++] = email_id;
}

static void list_missing(struct fixture *f, int64_t mbox, struct missing *m)
{
	const char *err = NULL;
	memset(m, 0, sizeof(*m));
	if (store_msg_text_missing(f->acct, mbox, missing_one, m, &err) != 1)
		fail_msg("missing: %s", err ? err : "");
}

/* Stored without text: listed, then indexed by store_msg_text_set or
 * store_msg_set_meta; text set again replaces the old. */
static void test_missing(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct missing m;
	put(f, f->inbox, "SUBJECT: A\n", "INDEXED\n");
	put(f, f->inbox, NULL, NULL);
	put(f, f->inbox, NULL, NULL);
	list_missing(f, f->inbox, &m);
	assert_string_equal(m.text, "2 3");
	expect_search(f, f->inbox, ALL, "SUBJECT", "1");

	struct store_msg_text t[] = {
		{m.ids[0], "SUBJECT: LATE\n", "FOUND LATER\n"},
		{m.ids[0] + 1000, "SUBJECT: NONE\n", "NO SUCH BODY\n"},
	};
	assert_int_equal(store_msg_text_set(f->acct, t, 2, &err), 1);
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext"), 2);
	list_missing(f, f->inbox, &m);
	assert_string_equal(m.text, "3");
	int64_t third = m.ids[0];
	expect_search(f, f->inbox, BODY, "LATER", "2");
	expect_search(f, f->inbox, BODY, "SUCH", "");

	struct store_msg_meta meta = {.header_text = "SUBJECT: META\n",
				      .body_text = "FROM THE META\n"};
	assert_int_equal(store_msg_set_meta(f->acct, third, &meta, &err), 1);
	list_missing(f, f->inbox, &m);
	assert_string_equal(m.text, "");
	expect_search(f, f->inbox, BODY, "META", "3");

	/* Meta without text leaves the text alone; new text replaces. */
	struct store_msg_meta bare = {.subject = "x"};
	assert_int_equal(store_msg_set_meta(f->acct, third, &bare, &err), 1);
	expect_search(f, f->inbox, BODY, "META", "3");
	struct store_msg_text again = {third, "SUBJECT: NEW\n", "REPLACED\n"};
	assert_int_equal(store_msg_text_set(f->acct, &again, 1, &err), 1);
	expect_search(f, f->inbox, BODY, "META", "");
	expect_search(f, f->inbox, BODY, "REPLACED", "3");
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext"), 3);
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext_docsize"),
			 3);
}

/* A database from before the index (schema 3, made here by taking the
 * index out of a new one): opened, it gets the index, empty, and its
 * messages are found missing, then searchable once indexed; the trigger
 * works for them as for new ones. */
static void test_upgrade(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char path[512];
	sqlite3 *db;
	put(f, f->inbox, "SUBJECT: OLD\n", "OLD TEXT\n");
	put(f, f->inbox, "SUBJECT: OLDER\n", "OLDER TEXT\n");
	store_account_unref(&f->acct);
	store_free(&f->store);
	snprintf(path, sizeof(path), "%s/mail/%lld/index.db", f->data,
		 (long long)f->bob);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* Back to version 3: without the text index, and without what
	 * versions 5, 6 and 7 added. */
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER keyword_added;"
					  "DROP TRIGGER "
					  "mailbox_keywords_removed;"
					  "DROP TABLE keyword;"
					  "ALTER TABLE mailbox DROP COLUMN "
					  "recent_uid;"
					  "ALTER TABLE mailbox DROP COLUMN "
					  "keyword_count;"
					  "DROP TRIGGER body_text_removed;"
					  "DROP TABLE msgtext;"
					  "DROP TRIGGER body_id_kept;"
					  "DROP TRIGGER mailbox_id_kept;"
					  "ALTER TABLE account DROP COLUMN "
					  "last_body_id;"
					  "ALTER TABLE account DROP COLUMN "
					  "last_mailbox_id;"
					  "ALTER TABLE message DROP COLUMN "
					  "thread_id;"
					  "DROP TABLE thread_ref;"
					  "PRAGMA user_version=3;",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(f->data, &f->store, &err), 1);
	assert_int_equal(store_account_open(f->store, f->bob, &f->acct, &err),
			 1);
	assert_int_equal(db_int(f, "PRAGMA user_version"), 7);
	expect_search(f, f->inbox, BODY, "TEXT", "");
	struct missing m;
	list_missing(f, f->inbox, &m);
	assert_string_equal(m.text, "1 2");
	struct store_msg_text t = {m.ids[1], "SUBJECT: OLDER\n", "OLDER\n"};
	assert_int_equal(store_msg_text_set(f->acct, &t, 1, &err), 1);
	expect_search(f, f->inbox, BODY, "OLDER", "2");
	list_missing(f, f->inbox, &m);
	assert_string_equal(m.text, "1");
	expunge(f, f->inbox, 2);
	assert_int_equal(db_int(f, "SELECT count(*) FROM msgtext"), 0);
}

int main(void)
{
#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T_(test_search),
		T_(test_non_ascii),
		T_(test_copies_expunge),
		T_(test_missing),
		T_(test_upgrade),
	};
#undef T_
	return cmocka_run_group_tests(tests, NULL, NULL);
}
