/* store: the SQLite back end in a fresh directory per test.  Accounts,
 * aliases and mail as the CLI, SMTP and POP3 use them, including many
 * threads delivering into one mailbox at once. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include "store/store.h"

struct fixture {
	char dir[256];
	char data[300];
	struct store *store;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;
	if (temp_dir(f->dir, sizeof(f->dir), "store") < 0)
		return -1;
	/* store_open creates the data directory itself. */
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->store, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
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

static int add_user(struct store *store, const char *address)
{
	struct store_user u = {0, (char *)address, (char *)"$argon2id$x", 0,
			       (char *)"", NULL};
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

/* ---- domains ---- */

static void collect_line(const char *s, void *ctx)
{
	char *out = ctx;
	strcat(out, s);
	strcat(out, "\n");
}

static void test_domains(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char list[256] = "";

	assert_int_equal(store_domain_exists(f->store, "example.com"), 0);
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 0);
	assert_int_equal(store_domain_add(f->store, "b.example", &err), 1);
	assert_int_equal(store_domain_add(f->store, "a.example", &err), 1);
	assert_int_equal(store_domain_exists(f->store, "example.com"), 1);
	assert_int_equal(store_domain_exists(f->store, "Example.com"), 0);
	assert_int_equal(store_domain_exists(f->store, "example.co"), 0);
	assert_int_equal(store_domain_list(f->store, collect_line, list), 1);
	assert_string_equal(list, "a.example\nb.example\nexample.com\n");

	/* Refused while a user remains, then allowed. */
	assert_int_equal(add_user(f->store, "bob@a.example"), 1);
	assert_int_equal(store_domain_remove(f->store, "a.example", &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "a.example"));
	assert_int_equal(store_domain_exists(f->store, "a.example"), 1);
	assert_int_equal(store_user_remove(f->store, "bob@a.example", &err), 1);
	assert_int_equal(store_domain_remove(f->store, "a.example", &err), 1);
	assert_int_equal(store_domain_exists(f->store, "a.example"), 0);
	assert_int_equal(store_domain_remove(f->store, "a.example", &err), 0);

	/* Likewise while an alias remains. */
	const char *targets[] = {"x@example.com"};
	assert_int_equal(store_alias_add(f->store, "info@b.example", targets, 1,
					 &err), 1);
	assert_int_equal(store_domain_remove(f->store, "b.example", &err), -1);
	assert_int_equal(store_alias_remove(f->store, "info@b.example"), 1);
	assert_int_equal(store_domain_remove(f->store, "b.example", &err), 1);
}

/* ---- users ---- */

static void collect_user(const struct store_user *u, void *ctx)
{
	char *out = ctx;
	char line[256];
	snprintf(line, sizeof(line), "%s %llu %s\n", u->address,
		 (unsigned long long)u->quota, u->name);
	strcat(out, line);
}

static void test_users(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct store_user got;
	char list[512] = "";

	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(store_domain_add(f->store, "other.org", &err), 1);
	struct store_user bob = {0, "bob@example.com", "$argon2id$bob",
				 1000000, "Bob Smith", NULL};
	assert_int_equal(store_user_add(f->store, &bob, &err), 1);
	assert_int_equal(store_user_add(f->store, &bob, &err), 0);
	struct store_user nodomain = {0, "x@nowhere.net", "h", 0, "", NULL};
	assert_int_equal(store_user_add(f->store, &nodomain, &err), -1);
	assert_non_null(strstr(err, "nowhere.net"));
	assert_int_equal(add_user(f->store, "alice@example.com"), 1);
	assert_int_equal(add_user(f->store, "carol@other.org"), 1);

	assert_int_equal(store_user_lookup(f->store, "bob@example.com", &got),
			 1);
	assert_true(got.id > 0);
	assert_string_equal(got.address, "bob@example.com");
	assert_string_equal(got.password, "$argon2id$bob");
	assert_int_equal(got.quota, 1000000);
	assert_string_equal(got.name, "Bob Smith");
	int64_t bob_id = got.id;
	store_user_clear(&got);
	assert_null(got.address);
	assert_int_equal(store_user_lookup(f->store, "nobody@example.com",
					   &got), 0);
	assert_null(got.address);
	store_user_clear(&got);

	assert_int_equal(store_user_list(f->store, NULL, collect_user, list),
			 1);
	assert_string_equal(list, "alice@example.com 0 \n"
				  "bob@example.com 1000000 Bob Smith\n"
				  "carol@other.org 0 \n");
	list[0] = '\0';
	assert_int_equal(store_user_list(f->store, "other.org", collect_user,
					 list), 1);
	assert_string_equal(list, "carol@other.org 0 \n");

	assert_int_equal(store_user_set_password(f->store, "bob@example.com",
						 "$argon2id$new"), 1);
	assert_int_equal(store_user_lookup(f->store, "bob@example.com", &got),
			 1);
	assert_string_equal(got.password, "$argon2id$new");
	assert_int_equal(got.id, bob_id);
	store_user_clear(&got);
	assert_int_equal(store_user_set_password(f->store, "no@example.com",
						 "x"), 0);

	/* Removing takes the mail with it. */
	struct store_account *acct;
	char maildir[512];
	struct stat st;
	assert_int_equal(store_account_open(f->store, bob_id, &acct, NULL), 1);
	store_account_unref(&acct);
	snprintf(maildir, sizeof(maildir), "%s/mail/%lld", f->data,
		 (long long)bob_id);
	assert_int_equal(stat(maildir, &st), 0);
	assert_int_equal(store_user_remove(f->store, "bob@example.com", &err),
			 1);
	assert_int_equal(stat(maildir, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(store_user_lookup(f->store, "bob@example.com", &got),
			 0);
	assert_int_equal(store_user_remove(f->store, "bob@example.com", &err),
			 0);

	/* A new user never gets a removed user's id. */
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	assert_true(user_id(f->store, "bob@example.com") > bob_id);
}

static void test_import(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	size_t bad = 99;
	struct store_user u;

	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "taken@example.com"), 1);
	const char *targets[] = {"taken@example.com"};
	assert_int_equal(store_alias_add(f->store, "alias@example.com",
					 targets, 1, &err), 1);

	static const struct {
		const char *addr[3];
		size_t bad;	/* 3: all imported */
		const char *why;
	} t[] = {
		{{"a@example.com", "b@example.com", "taken@example.com"}, 2,
		 "already exists"},
		{{"a@example.com", "alias@example.com", "b@example.com"}, 1,
		 "already exists"},
		{{"a@example.com", "a@example.com", "b@example.com"}, 1,
		 "already exists"},
		{{"a@example.com", "b@nowhere.net", "c@example.com"}, 1,
		 "nowhere.net"},
		{{"a@example.com", "b@example.com", "c@example.com"}, 3, NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct store_user users[3];
		for (int k = 0; k < 3; k++)
			users[k] = (struct store_user){0, (char *)t[i].addr[k],
						       (char *)"h", 0,
						       (char *)"", NULL};
		int rc = store_user_import(f->store, users, 3, &bad, &err);
		if (t[i].bad == 3) {
			assert_int_equal(rc, 1);
			for (int k = 0; k < 3; k++) {
				assert_int_equal(store_user_lookup(
					f->store, t[i].addr[k], &u), 1);
				store_user_clear(&u);
			}
			continue;
		}
		assert_int_equal(rc, -1);
		assert_int_equal(bad, t[i].bad);
		assert_non_null(strstr(err, t[i].why));
		/* All or nothing: not even the entries before the bad one. */
		assert_int_equal(store_user_lookup(f->store, "a@example.com",
						   &u), 0);
		assert_int_equal(store_user_lookup(f->store, "b@example.com",
						   &u), 0);
	}
}

/* ---- aliases ---- */

static void collect_target(const char *target, void *ctx)
{
	collect_line(target, ctx);
}

static void collect_alias(const char *alias, const char *target, void *ctx)
{
	char *out = ctx;
	strcat(out, alias);
	strcat(out, " ");
	strcat(out, target);
	strcat(out, "\n");
}

static void test_aliases(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char list[512] = "";

	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	const char *two[] = {"bob@example.com", "alice@remote.example"};
	assert_int_equal(store_alias_add(f->store, "info@example.com", two, 2,
					 &err), 1);
	/* All targets already there: nothing new. */
	assert_int_equal(store_alias_add(f->store, "info@example.com", two, 2,
					 &err), 0);
	const char *three[] = {"carol@example.com"};
	assert_int_equal(store_alias_add(f->store, "info@example.com", three,
					 1, &err), 1);
	assert_int_equal(store_alias_targets(f->store, "info@example.com",
					     collect_target, list), 1);
	assert_string_equal(list, "alice@remote.example\nbob@example.com\n"
				  "carol@example.com\n");
	list[0] = '\0';
	assert_int_equal(store_alias_targets(f->store, "none@example.com",
					     collect_target, list), 0);
	assert_string_equal(list, "");

	/* An alias may not shadow a user, nor live in a foreign domain. */
	assert_int_equal(store_alias_add(f->store, "bob@example.com", three, 1,
					 &err), -1);
	assert_non_null(strstr(err, "is a user"));
	assert_int_equal(store_alias_add(f->store, "x@nowhere.net", three, 1,
					 &err), -1);
	assert_non_null(strstr(err, "nowhere.net"));
	/* A user may not shadow an alias either. */
	assert_int_equal(add_user(f->store, "info@example.com"), 0);

	/* The domain's catch-all. */
	const char *catchall[] = {"bob@example.com"};
	assert_int_equal(store_alias_add(f->store, "@example.com", catchall, 1,
					 &err), 1);
	list[0] = '\0';
	assert_int_equal(store_alias_targets(f->store, "@example.com",
					     collect_target, list), 1);
	assert_string_equal(list, "bob@example.com\n");

	list[0] = '\0';
	assert_int_equal(store_alias_list(f->store, collect_alias, list), 1);
	assert_string_equal(list,
			    "@example.com bob@example.com\n"
			    "info@example.com alice@remote.example\n"
			    "info@example.com bob@example.com\n"
			    "info@example.com carol@example.com\n");

	assert_int_equal(store_alias_remove(f->store, "info@example.com"), 1);
	assert_int_equal(store_alias_remove(f->store, "info@example.com"), 0);
	assert_int_equal(store_alias_targets(f->store, "info@example.com",
					     collect_target, list), 0);
}

/* ---- mail ---- */

/* Store the pieces as one message, all from memory. */
static int deliver_iov(struct store_account *acct, int64_t mbox,
		       const struct iovec *iov, int iovcnt, uint32_t *uid_r)
{
	struct store_source src = {iov, iovcnt, -1, 0};
	return store_msg_deliver(acct, mbox, &src, 1, uid_r, NULL);
}

#define THREADS 8
#define PER_THREAD 50
#define TOTAL (THREADS * PER_THREAD)

/* The message thread t delivers as its i-th: a header and a body of a
 * size that varies (0 included), so pieces and lengths differ. */
static size_t message(int t, int i, char *head, size_t *headlen,
		      char *body)
{
	int n = t * PER_THREAD + i;
	*headlen = (size_t)snprintf(head, 128,
				    "From: t%d@example.com\r\n"
				    "Subject: %d of %d\r\n\r\n", t, i, n);
	size_t bodylen = (size_t)(n * 37) % 301;
	for (size_t k = 0; k < bodylen; k++)
		body[k] = (char)(' ' + (k * 7 + (size_t)n) % 94);
	return bodylen;
}

struct deliverer {
	struct store *store;
	int64_t user_id;
	int t;
	int rc[PER_THREAD];
	uint32_t uid[PER_THREAD];
};

static void *deliver_thread(void *arg)
{
	struct deliverer *d = arg;
	struct store_account *acct;
	struct store_mailbox mbox;
	if (store_account_open(d->store, d->user_id, &acct, NULL) != 1)
		return NULL;
	if (store_mailbox_find(acct, "INBOX", &mbox, NULL) == 1) {
		for (int i = 0; i < PER_THREAD; i++) {
			char head[128], body[512];
			size_t headlen;
			size_t bodylen = message(d->t, i, head, &headlen, body);
			struct iovec iov[2] = {{head, headlen},
					       {body, bodylen}};
			struct store_source src = {iov, 2, -1, 0};
			d->rc[i] = store_msg_deliver(acct, mbox.id, &src,
						     1700000000 + i,
						     &d->uid[i], NULL);
		}
	}
	store_account_unref(&acct);
	return NULL;
}

/* Read a whole message in pieces of `piece` bytes. */
static size_t read_all(struct store_account *acct, int64_t mbox,
		       uint32_t uid, size_t piece, char *out, size_t cap)
{
	size_t off = 0, got;
	for (;;) {
		assert_true(off + piece <= cap);
		assert_int_equal(store_msg_read(acct, mbox, uid, off, out + off,
						piece, &got, NULL), 1);
		if (got == 0)
			return off;
		assert_true(got <= piece);
		off += got;
	}
}

static void check_messages(struct store_account *acct, int64_t mbox,
			   const int (*who)[2], size_t expect_n)
{
	struct store_msg *msgs;
	size_t n;
	assert_int_equal(store_msg_list(acct, mbox, &msgs, &n, NULL), 1);
	assert_int_equal(n, expect_n);
	for (size_t k = 0; k < n; k++) {
		char head[128], body[512], want[640], got[700];
		size_t headlen;
		uint32_t uid = msgs[k].uid;
		assert_true(k == 0 || uid > msgs[k - 1].uid);
		assert_true(uid >= 1 && uid <= TOTAL);
		size_t bodylen = message(who[uid][0], who[uid][1], head,
					 &headlen, body);
		memcpy(want, head, headlen);
		memcpy(want + headlen, body, bodylen);
		assert_int_equal(msgs[k].size, headlen + bodylen);
		size_t len = read_all(acct, mbox, uid, 7, got, sizeof(got));
		assert_int_equal(len, headlen + bodylen);
		assert_memory_equal(got, want, len);
	}
	free(msgs);
}

static void test_mail_concurrent(void **state)
{
	struct fixture *f = *state;
	const char *err;
	struct store_account *acct;
	struct store_mailbox mbox, mbox2;
	static struct deliverer d[THREADS];
	pthread_t th[THREADS];
	static int who[TOTAL + 2][2];	/* uid -> thread, index */

	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	int64_t id = user_id(f->store, "bob@example.com");
	assert_int_equal(store_account_open(f->store, id, &acct, NULL), 1);
	assert_int_equal(store_mailbox_find(acct, "INBOX", &mbox, NULL), 1);
	assert_int_equal(mbox.uidnext, 1);
	assert_true(mbox.uidvalidity != 0);
	assert_int_equal(store_mailbox_find(acct, "Nope", &mbox2, NULL), 0);

	for (int t = 0; t < THREADS; t++) {
		d[t] = (struct deliverer){f->store, id, t, {0}, {0}};
		assert_int_equal(pthread_create(&th[t], NULL, deliver_thread,
						&d[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);

	/* Every delivery stored, UIDs unique and dense 1..400. */
	memset(who, 0xff, sizeof(who));
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < PER_THREAD; i++) {
			uint32_t uid = d[t].uid[i];
			assert_int_equal(d[t].rc[i], 1);
			assert_true(uid >= 1 && uid <= TOTAL);
			if (who[uid][0] != -1)
				fail_msg("uid %u given twice", uid);
			who[uid][0] = t;
			who[uid][1] = i;
			/* One thread's messages get rising UIDs. */
			assert_true(i == 0 || uid > d[t].uid[i - 1]);
		}
	}
	assert_int_equal(store_mailbox_find(acct, "INBOX", &mbox2, NULL), 1);
	assert_int_equal(mbox2.uidnext, TOTAL + 1);
	assert_int_equal(mbox2.uidvalidity, mbox.uidvalidity);
	assert_true(mbox2.highestmodseq > mbox.highestmodseq);
	check_messages(acct, mbox.id, (const int (*)[2])who, TOTAL);

	/* Reading past the end gives nothing; a missing UID is gone. */
	char buf[16];
	size_t got = 99;
	assert_int_equal(store_msg_read(acct, mbox.id, 1, 100000, buf,
					sizeof(buf), &got, NULL), 1);
	assert_int_equal(got, 0);
	assert_int_equal(store_msg_read(acct, mbox.id, TOTAL + 5, 0, buf,
					sizeof(buf), &got, NULL), 0);

	/* Expunge, then deliver: UIDs go on, never reused. */
	const uint32_t gone[] = {1, 200, TOTAL};
	uint64_t modseq = mbox2.highestmodseq;
	assert_int_equal(store_msg_expunge(acct, mbox.id, gone, 3, NULL), 1);
	assert_int_equal(store_msg_read(acct, mbox.id, 200, 0, buf,
					sizeof(buf), &got, NULL), 0);
	assert_int_equal(store_mailbox_find(acct, "INBOX", &mbox2, NULL), 1);
	assert_true(mbox2.highestmodseq > modseq);
	check_messages(acct, mbox.id, (const int (*)[2])who, TOTAL - 3);
	char head[128], body[512];
	size_t headlen;
	size_t bodylen = message(0, 0, head, &headlen, body);
	struct iovec one = {head, headlen};
	uint32_t uid = 0;
	assert_int_equal(deliver_iov(acct, mbox.id, &one, 1, &uid), 1);
	assert_int_equal(uid, TOTAL + 1);
	struct iovec two[2] = {{head, headlen}, {body, bodylen}};
	assert_int_equal(deliver_iov(acct, mbox.id, two, 2, &uid), 1);
	assert_int_equal(uid, TOTAL + 2);
	assert_int_equal(deliver_iov(acct, mbox.id, two, 0, &uid), -1);
	store_account_unref(&acct);
	assert_null(acct);

	/* Reopen the whole store: same UIDVALIDITY, same UIDNEXT, mail
	 * still there. */
	store_free(&f->store);
	assert_null(f->store);
	assert_true(store_open(f->data, &f->store, &err) >= 0);
	assert_int_equal(store_account_open(f->store, id, &acct, NULL), 1);
	assert_int_equal(store_mailbox_find(acct, "INBOX", &mbox2, NULL), 1);
	assert_int_equal(mbox2.uidvalidity, mbox.uidvalidity);
	assert_int_equal(mbox2.uidnext, TOTAL + 3);
	struct store_msg *msgs;
	size_t n;
	assert_int_equal(store_msg_list(acct, mbox.id, &msgs, &n, NULL), 1);
	assert_int_equal(n, TOTAL - 3 + 2);
	assert_int_equal(msgs[n - 2].uid, TOTAL + 1);
	assert_int_equal(msgs[n - 2].size, headlen);
	assert_int_equal(msgs[n - 1].size, headlen + bodylen);
	free(msgs);
	store_account_unref(&acct);
}

/* A message read into a buffer bigger than itself, and in pieces of
 * every size from 1 up. */
static void test_mail_read_pieces(void **state)
{
	struct fixture *f = *state;
	const char *err;
	struct store_account *acct;
	struct store_mailbox mbox;
	static const char text[] = "Subject: x\r\n\r\nline one\r\nline two\r\n";
	char out[256];
	uint32_t uid;

	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	int64_t id = user_id(f->store, "bob@example.com");
	assert_int_equal(store_account_open(f->store, id, &acct, NULL), 1);
	assert_int_equal(store_mailbox_find(acct, "INBOX", &mbox, NULL), 1);
	struct iovec iov[3] = {{(char *)text, 5}, {(char *)text + 5, 0},
			       {(char *)text + 5, sizeof(text) - 6}};
	assert_int_equal(deliver_iov(acct, mbox.id, iov, 3, &uid), 1);
	for (size_t piece = 1; piece <= sizeof(text) + 1; piece++) {
		size_t len = read_all(acct, mbox.id, uid, piece, out,
				      sizeof(out));
		assert_int_equal(len, sizeof(text) - 1);
		assert_memory_equal(out, text, len);
	}
	/* An empty message is a message. */
	struct iovec empty = {(char *)"", 0};
	assert_int_equal(deliver_iov(acct, mbox.id, &empty, 1, &uid), 1);
	size_t got = 9;
	assert_int_equal(store_msg_read(acct, mbox.id, uid, 0, out, 8, &got, NULL),
			 1);
	assert_int_equal(got, 0);
	store_account_unref(&acct);
}

static void test_account_handles(void **state)
{
	struct fixture *f = *state;
	const char *err;
	struct store_account *a, *b;
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	assert_int_equal(add_user(f->store, "alice@example.com"), 1);
	int64_t bob = user_id(f->store, "bob@example.com");
	int64_t alice = user_id(f->store, "alice@example.com");
	assert_int_equal(store_account_open(f->store, bob, &a, NULL), 1);
	assert_int_equal(store_account_open(f->store, bob, &b, NULL), 1);
	assert_ptr_equal(a, b);	/* one shared handle per account */
	store_account_unref(&a);
	store_account_unref(&b);
	assert_null(a);

	/* The maildrop claim: one holder per account, no handle needed. */
	static const struct {
		int op;		/* 1 claim, 0 release */
		int alice_not_bob;
		int want;
	} t[] = {
		{1, 0, 1}, {1, 0, 0}, {1, 1, 1}, {1, 1, 0}, {0, 0, 0},
		{1, 0, 1}, {1, 1, 0}, {0, 1, 0}, {0, 1, 0}, {1, 1, 1},
		{0, 0, 0}, {0, 1, 0}, {1, 0, 1}, {1, 1, 1},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t id = t[i].alice_not_bob ? alice : bob;
		if (t[i].op == 0) {
			store_account_release(f->store, id);
			continue;
		}
		if (store_account_claim(f->store, id) != t[i].want)
			fail_msg("step %zu: claim of %s, want %d", i,
				 t[i].alice_not_bob ? "alice" : "bob",
				 t[i].want);
	}
}


/* ---- messages from a file ---- */

/* A message given as a memory prefix and a file tail, of sizes around the
 * store's 64 KiB piece, read back whole. */
static void test_mail_from_file(void **state)
{
	struct fixture *f = *state;
	static const struct {
		size_t head, tail;
	} t[] = {
		{0, 1}, {5, 0}, {5, 1}, {100, 65535}, {1, 65536}, {0, 65537},
		{7, 200001}, {70000, 70000},
	};
	const char *err;
	struct store_account *acct;
	struct store_mailbox mbox;
	char path[400];
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	int64_t id = user_id(f->store, "bob@example.com");
	assert_int_equal(store_account_open(f->store, id, &acct, NULL), 1);
	assert_int_equal(store_mailbox_find(acct, "INBOX", &mbox, NULL), 1);
	snprintf(path, sizeof(path), "%s/spool", f->dir);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = t[i].head + t[i].tail;
		char *want = malloc(len + 1), *got = malloc(len + 70000);
		for (size_t k = 0; k < len; k++)
			want[k] = (char)('a' + (k * 31 + i) % 26);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, want + t[i].head, t[i].tail),
				 (ssize_t)t[i].tail);
		/* The store reads with pread: the file offset is not its
		 * business. */
		struct iovec iov = {want, t[i].head};
		struct store_source src = {&iov, 1, fd, t[i].tail};
		uint32_t uid;
		const char *why = NULL;
		int rc = store_msg_deliver(acct, mbox.id, &src, 1, &uid, &why);
		if (rc != 1)
			fail_msg("case %zu: %d %s", i, rc, why);
		assert_int_equal(read_all(acct, mbox.id, uid, 65536, got,
					  len + 70000), len);
		assert_memory_equal(got, want, len);
		close(fd);
		free(want);
		free(got);
	}
	/* A file shorter than it was said to be stores nothing. */
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, "abc", 3), 3);
	struct store_source src = {NULL, 0, fd, 10};
	uint32_t uid;
	assert_int_equal(store_msg_deliver(acct, mbox.id, &src, 1, &uid, &err),
			 STORE_FAIL_TEMP);
	assert_non_null(strstr(err, "reading the message"));
	close(fd);
	store_account_unref(&acct);
}

/* ---- quota ---- */

static int add_user_quota(struct store *store, const char *address,
			  uint64_t quota)
{
	struct store_user u = {0, (char *)address, (char *)"$argon2id$x",
			       quota, (char *)"", NULL};
	const char *err = NULL;
	return store_user_add(store, &u, &err);
}

/* n bytes as a message into the user's INBOX. */
static int deliver_bytes(struct store *store, int64_t id, size_t n,
			 uint32_t *uid_r, const char **err_r)
{
	struct store_account *acct;
	struct store_mailbox mbox;
	char *buf = calloc(1, n + 1);
	int rc = store_account_open(store, id, &acct, err_r);
	if (rc > 0)
		rc = store_mailbox_find(acct, "INBOX", &mbox, err_r);
	if (rc > 0) {
		struct iovec iov = {buf, n};
		struct store_source src = {&iov, 1, -1, 0};
		rc = store_msg_deliver(acct, mbox.id, &src, 1, uid_r, err_r);
	}
	store_account_unref(&acct);
	free(buf);
	return rc;
}

static void test_quota(void **state)
{
	struct fixture *f = *state;
	enum { ROOM, DELIVER, EXPUNGE_FIRST };
	static const struct {
		int op;
		uint64_t size;
		int want;
		const char *why; /* in err_r when it fails */
	} t[] = {
		{ROOM, 0, 1, NULL},
		{ROOM, 1000, 1, NULL},
		{ROOM, 1001, STORE_FAIL_QUOTA_NEVER, "larger than the quota"},
		{DELIVER, 1001, STORE_FAIL_QUOTA_NEVER, "larger than the quota"},
		{DELIVER, 600, 1, NULL},
		{ROOM, 400, 1, NULL},
		{ROOM, 401, 0, "600 of 1000 bytes used"},
		{DELIVER, 401, STORE_FAIL_QUOTA, "600 of 1000 bytes used"},
		{DELIVER, 400, 1, NULL},
		{ROOM, 0, 0, "1000 of 1000 bytes used"},
		{ROOM, 1, 0, "over quota"},
		{EXPUNGE_FIRST, 0, 1, NULL},
		{ROOM, 0, 1, NULL},
		{ROOM, 600, 1, NULL},
		{ROOM, 601, 0, "400 of 1000"},
	};
	const char *err;
	uint32_t first = 0, uid;
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user_quota(f->store, "q@example.com", 1000), 1);
	assert_int_equal(add_user(f->store, "free@example.com"), 1);
	int64_t id = user_id(f->store, "q@example.com");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = 1;
		err = NULL;
		if (t[i].op == ROOM)
			rc = store_account_room(f->store, id, t[i].size, &err);
		else if (t[i].op == DELIVER)
			rc = deliver_bytes(f->store, id, t[i].size, &uid, &err);
		if (t[i].op == DELIVER && rc == 1 && first == 0)
			first = uid;
		if (t[i].op == EXPUNGE_FIRST) {
			struct store_account *acct;
			struct store_mailbox mbox;
			assert_int_equal(store_account_open(f->store, id, &acct,
							    NULL), 1);
			assert_int_equal(store_mailbox_find(acct, "INBOX",
							    &mbox, NULL), 1);
			rc = store_msg_expunge(acct, mbox.id, &first, 1, &err);
			store_account_unref(&acct);
		}
		if (rc != t[i].want)
			fail_msg("step %zu: %d, want %d (%s)", i, rc, t[i].want,
				 err ? err : "");
		if (t[i].why != NULL && (err == NULL ||
					 strstr(err, t[i].why) == NULL))
			fail_msg("step %zu: reason \"%s\", want \"%s\"", i,
				 err ? err : "", t[i].why);
	}
	/* No quota, no limit. */
	int64_t free_id = user_id(f->store, "free@example.com");
	assert_int_equal(store_account_room(f->store, free_id, 1ull << 40,
					    &err), 1);
}

struct quota_writer {
	struct store *store;
	int64_t id;
	int stored, refused, other;
};

static void *quota_thread(void *arg)
{
	struct quota_writer *w = arg;
	for (int i = 0; i < 10; i++) {
		uint32_t uid;
		int rc = deliver_bytes(w->store, w->id, 100, &uid, NULL);
		if (rc == 1)
			w->stored++;
		else if (rc == STORE_FAIL_QUOTA)
			w->refused++;
		else
			w->other++;
	}
	return NULL;
}

/* Deliveries racing for the last room: the check inside the write
 * transaction lets exactly as many in as fit, group commit or not. */
static void test_quota_concurrent(void **state)
{
	struct fixture *f = *state;
	const char *err;
	struct quota_writer w[THREADS];
	pthread_t th[THREADS];
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user_quota(f->store, "q@example.com", 2500), 1);
	int64_t id = user_id(f->store, "q@example.com");
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct quota_writer){f->store, id, 0, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, quota_thread,
						&w[i]), 0);
	}
	int stored = 0, refused = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		stored += w[i].stored;
		refused += w[i].refused;
		assert_int_equal(w[i].other, 0);
	}
	assert_int_equal(stored, 25);
	assert_int_equal(refused, THREADS * 10 - 25);
	assert_int_equal(store_account_room(f->store, id, 0, &err), 0);
}

/* ---- broken, old and removed databases ---- */

static void index_path(const struct fixture *f, int64_t id, char *out,
		       size_t size)
{
	snprintf(out, size, "%s/mail/%lld/index.db", f->data, (long long)id);
}

/* A database that is not one is found when the account is opened, with
 * SQLite's words for it, and classed as broken. */
static void test_broken(void **state)
{
	struct fixture *f = *state;
	const char *err;
	char path[512];
	uint32_t uid;
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	int64_t id = user_id(f->store, "bob@example.com");
	assert_int_equal(deliver_bytes(f->store, id, 10, &uid, &err), 1);
	/* Closed first, so no cached page hides the damage. */
	store_free(&f->store);
	index_path(f, id, path, sizeof(path));
	int fd = open(path, O_WRONLY);
	assert_int_equal(pwrite(fd, "this is no database at all!", 27, 0), 27);
	close(fd);
	assert_int_equal(store_open(f->data, &f->store, &err), 1);

	struct store_account *acct = NULL;
	err = NULL;
	assert_int_equal(store_account_open(f->store, id, &acct, &err),
			 STORE_FAIL_BROKEN);
	assert_null(acct);
	assert_non_null(strstr(err, "file is not a database"));
	assert_non_null(strstr(err, "index.db"));
	err = NULL;
	assert_int_equal(store_account_room(f->store, id, 0, &err),
			 STORE_FAIL_BROKEN);
	assert_non_null(strstr(err, "file is not a database"));
	assert_int_equal(deliver_bytes(f->store, id, 10, &uid, &err),
			 STORE_FAIL_BROKEN);
	assert_int_equal(store_fail_name(STORE_FAIL_BROKEN)[0], 'b');
}

/* A database from before usage figures gets its figure once, from its
 * messages. */
static void test_usage_upgrade(void **state)
{
	struct fixture *f = *state;
	const char *err;
	char path[512], dir[512];
	sqlite3 *db;
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user_quota(f->store, "bob@example.com", 1000), 1);
	int64_t id = user_id(f->store, "bob@example.com");
	snprintf(dir, sizeof(dir), "%s/mail/%lld", f->data, (long long)id);
	assert_int_equal(mkdir(dir, 0700), 0);
	index_path(f, id, path, sizeof(path));
	/* What the first posthorn made: schema version 1, two messages. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"CREATE TABLE mailbox (id INTEGER PRIMARY KEY, name TEXT NOT "
		"NULL UNIQUE, uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT "
		"NULL, highestmodseq INTEGER NOT NULL, subscribed INTEGER NOT "
		"NULL DEFAULT 1, special_use TEXT);"
		"CREATE TABLE message (mailbox_id INTEGER NOT NULL REFERENCES "
		"mailbox(id), uid INTEGER NOT NULL, modseq INTEGER NOT NULL, "
		"flags INTEGER NOT NULL DEFAULT 0, keywords TEXT NOT NULL "
		"DEFAULT '', internaldate INTEGER NOT NULL, size INTEGER NOT "
		"NULL, body_id INTEGER NOT NULL, PRIMARY KEY (mailbox_id, uid)) "
		"WITHOUT ROWID;"
		"CREATE TABLE body (id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
		"INSERT INTO mailbox VALUES(1, 'INBOX', 7, 3, 3, 1, NULL);"
		"INSERT INTO body VALUES(1, zeroblob(300)), (2, zeroblob(450));"
		"INSERT INTO message VALUES(1, 1, 2, 0, '', 1, 300, 1),"
		" (1, 2, 3, 0, '', 1, 450, 2);"
		"PRAGMA user_version=1;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_account_room(f->store, id, 250, &err), 1);
	assert_int_equal(store_account_room(f->store, id, 251, &err), 0);
	assert_non_null(strstr(err, "750 of 1000"));
}

/* Whether this process holds a deleted file open whose name ends with
 * `suffix`. */
static bool holds_deleted(const char *suffix)
{
	char link[64], target[1024];
	for (int fd = 0; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, suffix) != NULL &&
		    strstr(target, "(deleted)") != NULL)
			return true;
	}
	return false;
}

/* A user removed by another process (here: another store on the same
 * files) while this one holds the account: the next delivery fails as
 * gone instead of writing into the deleted file, and the handle lets go
 * of the file at once. */
static void test_removed_meanwhile(void **state)
{
	struct fixture *f = *state;
	const char *err;
	struct store *other;
	struct store_account *acct;
	struct store_mailbox mbox;
	uint32_t uid;
	char suffix[64];
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	int64_t id = user_id(f->store, "bob@example.com");
	assert_int_equal(deliver_bytes(f->store, id, 10, &uid, &err), 1);
	assert_int_equal(store_account_open(f->store, id, &acct, NULL), 1);
	assert_int_equal(store_mailbox_find(acct, "INBOX", &mbox, NULL), 1);

	assert_int_equal(store_open(f->data, &other, &err), 1);
	assert_int_equal(store_user_remove(other, "bob@example.com", &err), 1);
	store_free(&other);

	struct iovec iov = {(char *)"x", 1};
	struct store_source src = {&iov, 1, -1, 0};
	err = NULL;
	assert_int_equal(store_msg_deliver(acct, mbox.id, &src, 1, &uid, &err),
			 STORE_FAIL_GONE);
	assert_non_null(strstr(err, "removed"));
	snprintf(suffix, sizeof(suffix), "/mail/%lld/index.db", (long long)id);
	assert_true(holds_deleted(suffix));
	store_account_unref(&acct);
	assert_false(holds_deleted(suffix));
	/* Opening it again does not bring the directory back. */
	assert_int_equal(store_account_open(f->store, id, &acct, &err),
			 STORE_FAIL_GONE);
	assert_int_equal(store_account_room(f->store, id, 0, &err),
			 STORE_FAIL_GONE);
	char dir[512];
	struct stat st;
	snprintf(dir, sizeof(dir), "%s/mail/%lld", f->data, (long long)id);
	assert_int_equal(stat(dir, &st), -1);
}

/* ---- store_check ---- */

struct problems {
	int n, repaired;
	char text[2048];
};

static void collect_problem(const struct store_problem *p, void *ctx)
{
	struct problems *out = ctx;
	out->n++;
	out->repaired += p->repaired;
	size_t len = strlen(out->text);
	snprintf(out->text + len, sizeof(out->text) - len, "%s: %s\n",
		 p->where, p->what);
	assert_true(p->todo[0] != '\0');
}

static void test_check(void **state)
{
	struct fixture *f = *state;
	const char *err;
	char path[512];
	uint32_t uid;
	sqlite3 *db;
	struct problems p = {0};
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	assert_int_equal(add_user(f->store, "alice@example.com"), 1);
	int64_t bob = user_id(f->store, "bob@example.com");
	assert_int_equal(deliver_bytes(f->store, bob, 10, &uid, &err), 1);
	assert_int_equal(store_check(f->store, NULL, 0, collect_problem, &p,
				     &err), 1);
	assert_int_equal(p.n, 0);

	/* A wrong usage figure and a body nobody owns. */
	index_path(f, bob, path, sizeof(path));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "UPDATE account SET bytes=5;"
					  "INSERT INTO body(data) VALUES(x'00')",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_check(f->store, "bob@example.com",
				     STORE_CHECK_FULL, collect_problem, &p,
				     &err), 0);
	assert_int_equal(p.n, 2);
	assert_non_null(strstr(p.text, "usage figure (5 bytes"));
	assert_non_null(strstr(p.text, "belong to no message"));
	assert_non_null(strstr(p.text, "(bob@example.com)"));
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_check(f->store, NULL, STORE_CHECK_REPAIR,
				     collect_problem, &p, &err), 1);
	assert_int_equal(p.repaired, 2);
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_check(f->store, NULL, 0, collect_problem, &p,
				     &err), 1);

	/* A directory no user owns. */
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/mail/999", f->data);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(store_check(f->store, NULL, 0, collect_problem, &p,
				     &err), 0);
	assert_non_null(strstr(p.text, "mail/999: no user owns"));
	assert_int_equal(store_check(f->store, "nobody@example.com", 0,
				     collect_problem, &p, &err), -1);
	assert_non_null(strstr(err, "no user nobody@example.com"));
}

/* ---- app passwords ---- */

static void collect_app(const struct store_app_password *ap, void *ctx)
{
	char *out = ctx;
	char line[256];
	snprintf(line, sizeof(line), "%s %s %s\n", ap->name, ap->hash,
		 ap->last_used ? "used" : "never");
	strcat(out, line);
}

static void test_app_passwords(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char list[4096];
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "alice@example.com"), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	int64_t alice = user_id(f->store, "alice@example.com");
	int64_t bob = user_id(f->store, "bob@example.com");
	EXPECT_INT(store_app_password_add(f->store, alice, "phone", "h1", &err),
		   1);
	EXPECT_INT(store_app_password_add(f->store, alice, "laptop", "h2",
					  &err),
		   1);
	/* Names are per user. */
	EXPECT_INT(store_app_password_add(f->store, alice, "phone", "h3", &err),
		   0);
	EXPECT_INT(store_app_password_add(f->store, bob, "phone", "h4", &err),
		   1);
	/* No such user. */
	EXPECT_INT(store_app_password_add(f->store, 9999, "x", "h", &err), -1);
	assert_non_null(strstr(err, "no longer exists"));
	list[0] = '\0';
	EXPECT_INT(store_app_password_list(f->store, alice, collect_app, list,
					   &err),
		   1);
	/* Made in the same second: by name. */
	EXPECT_STR(list, "laptop h2 never\nphone h1 never\n");
	EXPECT_INT(store_app_password_used(f->store, alice, "phone", 1000,
					   &err),
		   1);
	EXPECT_INT(store_app_password_used(f->store, alice, "gone", 1000,
					   &err),
		   0);
	list[0] = '\0';
	store_app_password_list(f->store, alice, collect_app, list, &err);
	EXPECT_STR(list, "laptop h2 never\nphone h1 used\n");
	EXPECT_INT(store_app_password_remove(f->store, alice, "phone", &err),
		   1);
	EXPECT_INT(store_app_password_remove(f->store, alice, "phone", &err),
		   0);
	list[0] = '\0';
	store_app_password_list(f->store, bob, collect_app, list, &err);
	EXPECT_STR(list, "phone h4 never\n");
	/* Removing a user removes theirs; a new user never sees them. */
	EXPECT_INT(store_user_remove(f->store, "bob@example.com", &err), 1);
	assert_int_equal(add_user(f->store, "bob@example.com"), 1);
	list[0] = '\0';
	store_app_password_list(f->store, bob, collect_app, list, &err);
	store_app_password_list(f->store, user_id(f->store, "bob@example.com"),
				collect_app, list, &err);
	EXPECT_STR(list, "");
}

static void test_app_password_limit(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char name[32];
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "alice@example.com"), 1);
	int64_t alice = user_id(f->store, "alice@example.com");
	for (int i = 0; i < STORE_APP_PASSWORDS_MAX; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		EXPECT_INT(store_app_password_add(f->store, alice, name, "h",
						  &err),
			   1);
	}
	EXPECT_INT(store_app_password_add(f->store, alice, "one-more", "h",
					  &err),
		   -1);
	assert_non_null(strstr(err, "remove one first"));
	/* A name it has is still "already there", not an error. */
	EXPECT_INT(store_app_password_add(f->store, alice, "d0", "h", &err), 0);
	EXPECT_INT(store_app_password_remove(f->store, alice, "d0", &err), 1);
	EXPECT_INT(store_app_password_add(f->store, alice, "one-more", "h",
					  &err),
		   1);
}

/* An accounts.db of schema version 1 (before app passwords, SCRAM
 * secrets and sender exceptions) gains them when opened, its users
 * intact. */
static void test_accounts_upgrade(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char path[512];
	sqlite3 *db;
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	assert_int_equal(add_user(f->store, "alice@example.com"), 1);
	store_free(&f->store);
	snprintf(path, sizeof(path), "%s/accounts.db", f->data);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TABLE app_password;"
				      "ALTER TABLE user DROP COLUMN scram;"
				      "DROP TABLE sender;"
				      "DROP INDEX alias_target;"
				      "PRAGMA user_version=1;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->data, &f->store, &err), 1);
	int64_t alice = user_id(f->store, "alice@example.com");
	EXPECT_INT(store_app_password_add(f->store, alice, "phone", "h", &err),
		   1);
	EXPECT_INT(store_user_set_scram(f->store, "alice@example.com",
					"$argon2id$x", "s", &err),
		   1);
	EXPECT_INT(store_sender_add(f->store, "alice@example.com",
				    "*@example.com", &err),
		   1);
}

static void test_domain_only(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char out[64] = "unset";
	EXPECT_INT(store_domain_only(f->store, out, sizeof(out)), 0);
	assert_int_equal(store_domain_add(f->store, "example.com", &err), 1);
	EXPECT_INT(store_domain_only(f->store, out, sizeof(out)), 1);
	EXPECT_STR(out, "example.com");
	assert_int_equal(store_domain_add(f->store, "example.org", &err), 1);
	EXPECT_INT(store_domain_only(f->store, out, sizeof(out)), 0);
	assert_int_equal(store_domain_remove(f->store, "example.com", &err), 1);
	EXPECT_INT(store_domain_only(f->store, out, sizeof(out)), 1);
	EXPECT_STR(out, "example.org");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_app_passwords, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_app_password_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_domain_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_accounts_upgrade, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mail_concurrent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mail_read_pieces, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_account_handles, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mail_from_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_concurrent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_upgrade, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_removed_meanwhile, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
