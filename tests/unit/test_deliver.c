/* deliver: recipient resolution against a real store, each case an
 * address and the accounts it must reach; then delivery, read back. */
#include <fcntl.h>
#include <unistd.h>

#include "unit.h"

#include "deliver/deliver.h"
#include "store/store.h"

struct fixture {
	char dir[256];
	struct store *store;
	int64_t bob, alice, carol, dave;
};


static int64_t add_user_quota(struct store *store, const char *address,
			      uint64_t quota)
{
	struct store_user u = {0, (char *)address, (char *)"$argon2id$x",
			       quota, (char *)"", NULL}, got;
	const char *err;
	assert_int_equal(store_user_add(store, &u, &err), 1);
	assert_int_equal(store_user_lookup(store, address, &got), 1);
	int64_t id = got.id;
	store_user_clear(&got);
	return id;
}

static int64_t add_user(struct store *store, const char *address)
{
	return add_user_quota(store, address, 0);
}

static void add_alias(struct store *store, const char *alias,
		      const char *t1, const char *t2)
{
	const char *targets[] = {t1, t2};
	const char *err;
	assert_int_equal(store_alias_add(store, alias, targets, t2 ? 2 : 1,
					 &err), 1);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;
	if (temp_dir(f->dir, sizeof(f->dir), "deliver") < 0 ||
	    store_open(f->dir, &f->store, &err) < 0)
		return -1;
	struct store *s = f->store;
	store_domain_add(s, "example.com", &err);
	store_domain_add(s, "catch.org", &err);
	store_domain_add(s, "xn--bcher-kva.example", &err);
	f->bob = add_user(s, "bob@example.com");
	f->alice = add_user(s, "alice@example.com");
	f->carol = add_user(s, "carol@catch.org");
	f->dave = add_user(s, "dave@xn--bcher-kva.example");
	add_alias(s, "info@example.com", "bob@example.com", NULL);
	add_alias(s, "team@example.com", "info@example.com",
		  "alice@example.com");
	add_alias(s, "all@example.com", "team@example.com", "info@example.com");
	add_alias(s, "dup@example.com", "bob@example.com", "info@example.com");
	add_alias(s, "loop-a@example.com", "loop-b@example.com", NULL);
	add_alias(s, "loop-b@example.com", "loop-a@example.com", NULL);
	add_alias(s, "loop-c@example.com", "loop-c@example.com",
		  "alice@example.com");
	add_alias(s, "away@example.com", "someone@remote.example", NULL);
	add_alias(s, "@catch.org", "carol@catch.org", NULL);
	add_alias(s, "sales@catch.org", "bob@example.com", NULL);
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

enum who { NOBODY, BOB, ALICE, CAROL, DAVE };

struct resolve_case {
	const char *rcpt;
	const char *delimiter;
	enum deliver_resolve_result result;
	enum who who[3];	/* accounts, in order, NOBODY-terminated */
};

static const struct resolve_case cases[] = {
	{"bob@example.com", "+", DELIVER_LOCAL, {BOB}},
	{"BOB@Example.COM", "+", DELIVER_LOCAL, {BOB}},
	{"info@example.com", "+", DELIVER_LOCAL, {BOB}},
	{"team@example.com", "+", DELIVER_LOCAL, {ALICE, BOB}},
	{"all@example.com", "+", DELIVER_LOCAL, {ALICE, BOB}},
	{"dup@example.com", "+", DELIVER_LOCAL, {BOB}},
	/* a loop ends; with nobody at the end of it, nobody gets it */
	{"loop-a@example.com", "+", DELIVER_UNKNOWN, {NOBODY}},
	{"loop-c@example.com", "+", DELIVER_LOCAL, {ALICE}},
	/* plus-addresses */
	{"bob+tag@example.com", "+", DELIVER_LOCAL, {BOB}},
	{"bob+tag+more@example.com", "+", DELIVER_LOCAL, {BOB}},
	{"info+lists@example.com", "+", DELIVER_LOCAL, {BOB}},
	{"bob-tag@example.com", "-+", DELIVER_LOCAL, {BOB}},
	{"bob+tag@example.com", "", DELIVER_UNKNOWN, {NOBODY}},
	{"bob+tag@example.com", "-", DELIVER_UNKNOWN, {NOBODY}},
	{"+tag@example.com", "+", DELIVER_UNKNOWN, {NOBODY}},
	{"nobody+bob@example.com", "+", DELIVER_UNKNOWN, {NOBODY}},
	{"\"bob+x y\"@example.com", "+", DELIVER_UNKNOWN, {NOBODY}},
	/* catch-all only when nothing matches exactly */
	{"carol@catch.org", "+", DELIVER_LOCAL, {CAROL}},
	{"sales@catch.org", "+", DELIVER_LOCAL, {BOB}},
	{"anything@catch.org", "+", DELIVER_LOCAL, {CAROL}},
	{"\"odd one\"@catch.org", "+", DELIVER_LOCAL, {CAROL}},
	/* unknown in a local domain, and not local at all */
	{"nobody@example.com", "+", DELIVER_UNKNOWN, {NOBODY}},
	{"away@example.com", "+", DELIVER_UNKNOWN, {NOBODY}},
	{"bob@elsewhere.net", "+", DELIVER_NOT_LOCAL, {NOBODY}},
	{"bob@sub.example.com", "+", DELIVER_NOT_LOCAL, {NOBODY}},
	{"bob@[192.0.2.1]", "+", DELIVER_NOT_LOCAL, {NOBODY}},
	{"bob@[IPv6:::1]", "+", DELIVER_NOT_LOCAL, {NOBODY}},
	/* international domain, by either spelling */
	{"dave@b\xc3\xbc" "cher.example", "+", DELIVER_LOCAL, {DAVE}},
	{"dave@XN--BCHER-KVA.example", "+", DELIVER_LOCAL, {DAVE}},
};

static int64_t id_of(const struct fixture *f, enum who w)
{
	const int64_t ids[] = {0, f->bob, f->alice, f->carol, f->dave};
	return ids[w];
}

static void test_resolve(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct resolve_case *c = &cases[i];
		struct addr a;
		const char *err;
		struct deliver_targets t = {0};
		if (addr_parse(c->rcpt, strlen(c->rcpt), ADDR_UTF8, &a, &err) <
		    0)
			fail_msg("%s: %s", c->rcpt, err);
		enum deliver_resolve_result r =
			deliver_resolve(f->store, &a, &(struct deliver_opts){.delimiter = c->delimiter, .postmaster = ""}, &t, NULL);
		if (r != c->result)
			fail_msg("%s (delimiter \"%s\"): result %d, want %d",
				 c->rcpt, c->delimiter, r, c->result);
		size_t n = 0;
		while (n < 3 && c->who[n] != NOBODY)
			n++;
		if (t.n != n)
			fail_msg("%s: %zu targets, want %zu", c->rcpt, t.n, n);
		/* Order is not part of the contract: compare as sets. */
		for (size_t k = 0; k < n; k++) {
			bool found = false;
			for (size_t j = 0; j < t.n; j++)
				found |= t.ids[j] == id_of(f, c->who[k]);
			if (!found)
				fail_msg("%s: account %d missing", c->rcpt,
					 c->who[k]);
		}
		deliver_targets_clear(&t);
		assert_null(t.ids);
		assert_int_equal(t.n, 0);
	}
}

/* Several recipients of one message add up, without duplicates. */
static void test_accumulate(void **state)
{
	struct fixture *f = *state;
	static const char *const rcpts[] = {
		"bob@example.com", "info@example.com", "team@example.com",
		"bob+x@example.com", "nobody@example.com", "x@catch.org",
	};
	struct deliver_targets t = {0};
	for (size_t i = 0; i < sizeof(rcpts) / sizeof(rcpts[0]); i++) {
		struct addr a;
		const char *err;
		assert_int_equal(addr_parse(rcpts[i], strlen(rcpts[i]), 0, &a,
					    &err), 1);
		deliver_resolve(f->store, &a, &(struct deliver_opts){.delimiter = "+", .postmaster = ""}, &t, NULL);
	}
	assert_int_equal(t.n, 3);
	assert_int_equal(t.ids[0], f->bob);
	assert_int_equal(t.ids[1], f->alice);
	assert_int_equal(t.ids[2], f->carol);
	deliver_targets_clear(&t);
}

/* The bytes of the newest message in the account's INBOX. */
static size_t read_newest(struct store *store, int64_t id, char *out,
			  size_t cap)
{
	struct store_account *acct;
	struct store_mailbox mbox;
	struct store_msg *msgs;
	size_t n, off = 0, got;
	assert_int_equal(store_account_open(store, id, &acct, NULL), 1);
	assert_int_equal(store_mailbox_find(acct, "INBOX", &mbox, NULL), 1);
	assert_int_equal(store_msg_list(acct, mbox.id, &msgs, &n, NULL), 1);
	assert_true(n > 0);
	do {
		assert_int_equal(store_msg_read(acct, mbox.id, msgs[n - 1].uid,
						off, out + off, 5, &got, NULL),
				 1);
		off += got;
		assert_true(off + 5 <= cap);
	} while (got > 0);
	assert_int_equal(msgs[n - 1].size, off);
	free(msgs);
	store_account_unref(&acct);
	return off;
}

static void test_deliver_message(void **state)
{
	struct fixture *f = *state;
	static const char data[] = "Subject: hello\r\n\r\nbody\r\n";
	static const struct {
		const char *sender;
		const char *want_head;
	} t[] = {
		{"sender@remote.example",
		 "Return-Path: <sender@remote.example>\r\n"},
		{"", "Return-Path: <>\r\n"},
		{"\"a b\"@x.example", "Return-Path: <\"a b\"@x.example>\r\n"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct deliver_targets targets = {0};
		struct addr a;
		const char *err;
		struct deliver_result results[2];
		char got[256], want[256];
		assert_int_equal(addr_parse("team@example.com", 16, 0, &a,
					    &err), 1);
		assert_int_equal(deliver_resolve(f->store, &a, &(struct deliver_opts){.delimiter = "+", .postmaster = ""}, &targets, NULL),
				 DELIVER_LOCAL);
		assert_int_equal(targets.n, 2);
		struct deliver_source src = {data, sizeof(data) - 1, -1, 0};
		assert_int_equal(deliver_message(f->store, &targets,
						 t[i].sender, &src, results),
				 2);
		assert_int_equal(results[0].status, DELIVER_STORED);
		assert_int_equal(results[1].status, DELIVER_STORED);
		int wl = snprintf(want, sizeof(want), "%s%s", t[i].want_head,
				  data);
		for (size_t k = 0; k < targets.n; k++) {
			size_t n = read_newest(f->store, targets.ids[k], got,
					       sizeof(got));
			assert_int_equal(n, (size_t)wl);
			assert_memory_equal(got, want, n);
		}
		deliver_targets_clear(&targets);
	}
}

/* Binary-safe: the message is len bytes, NULs included. */
static void test_deliver_binary(void **state)
{
	struct fixture *f = *state;
	static const char data[] = "X: 1\r\n\r\n\0\x01\xff\0end";
	struct deliver_targets targets = {0};
	struct deliver_result results[1];
	struct deliver_source src = {data, sizeof(data) - 1, -1, 0};
	char got[128];
	struct addr a;
	const char *err;
	assert_int_equal(addr_parse("bob@example.com", 15, 0, &a, &err), 1);
	assert_int_equal(deliver_resolve(f->store, &a, &(struct deliver_opts){.delimiter = "+", .postmaster = ""}, &targets, NULL),
			 DELIVER_LOCAL);
	assert_int_equal(deliver_message(f->store, &targets, "s@x", &src,
					 results), 1);
	size_t n = read_newest(f->store, f->bob, got, sizeof(got));
	size_t head = strlen("Return-Path: <s@x>\r\n");
	assert_int_equal(n, head + sizeof(data) - 1);
	assert_memory_equal(got + head, data, sizeof(data) - 1);
	deliver_targets_clear(&targets);
	/* No targets: nothing stored, nothing to report. */
	src.len = 3;
	assert_int_equal(deliver_message(f->store, &targets, "s@x", &src,
					 results), 0);
}


/* ---- quota and broken accounts ---- */


static size_t count_messages(struct store *store, int64_t id)
{
	struct store_account *acct;
	struct store_mailbox mbox;
	struct store_msg *msgs;
	size_t n;
	assert_int_equal(store_account_open(store, id, &acct, NULL), 1);
	assert_int_equal(store_mailbox_find(acct, "INBOX", &mbox, NULL), 1);
	assert_int_equal(store_msg_list(acct, mbox.id, &msgs, &n, NULL), 1);
	free(msgs);
	store_account_unref(&acct);
	return n;
}

static enum deliver_resolve_result resolve(struct store *store,
					   const char *rcpt, uint64_t size,
					   struct deliver_targets *t,
					   const char **err_r)
{
	struct addr a;
	const char *err;
	assert_int_equal(addr_parse(rcpt, strlen(rcpt), 0, &a, &err), 1);
	struct deliver_opts opts = {.delimiter = "+", .postmaster = "",
				    .size = size};
	return deliver_resolve(store, &a, &opts, t, err_r);
}

/* Accounts with quotas: "roomy" (1000 bytes, empty), "tight" (1000
 * bytes, 900 used), and aliases over them. */
static void setup_quota(struct fixture *f, int64_t *roomy, int64_t *tight)
{
	*roomy = add_user_quota(f->store, "roomy@example.com", 1000);
	*tight = add_user_quota(f->store, "tight@example.com", 1000);
	add_alias(f->store, "pair@example.com", "roomy@example.com",
		  "tight@example.com");
	add_alias(f->store, "withbob@example.com", "roomy@example.com",
		  "bob@example.com");
	struct deliver_targets t = {0};
	struct deliver_result r[1];
	char *fill = calloc(1, 900);
	/* 900 bytes with the Return-Path: "Return-Path: <s@x>\r\n" is 20. */
	struct deliver_source src = {fill, 880, -1, 0};
	assert_int_equal(resolve(f->store, "tight@example.com", 0, &t, NULL),
			 DELIVER_LOCAL);
	assert_int_equal(deliver_message(f->store, &t, "s@x", &src, r), 1);
	deliver_targets_clear(&t);
	free(fill);
}

/* At RCPT: each recipient against the quotas of all its accounts, with
 * the size the sender declared. */
static void test_resolve_quota(void **state)
{
	struct fixture *f = *state;
	int64_t roomy, tight;
	setup_quota(f, &roomy, &tight);
	static const struct {
		const char *rcpt;
		uint64_t size;
		enum deliver_resolve_result want;
		size_t targets;
		const char *why;
	} t[] = {
		{"roomy@example.com", 0, DELIVER_LOCAL, 1, NULL},
		{"roomy@example.com", 1000, DELIVER_LOCAL, 1, NULL},
		{"roomy@example.com", 1001, DELIVER_TOO_BIG_FOR_QUOTA, 0,
		 "larger than the quota of 1000"},
		{"tight@example.com", 0, DELIVER_LOCAL, 1, NULL},
		{"tight@example.com", 100, DELIVER_LOCAL, 1, NULL},
		{"tight@example.com", 101, DELIVER_OVER_QUOTA, 0,
		 "900 of 1000 bytes used"},
		{"tight+tag@example.com", 101, DELIVER_OVER_QUOTA, 0, NULL},
		/* an alias is refused whole: neither account is added */
		{"pair@example.com", 101, DELIVER_OVER_QUOTA, 0, NULL},
		{"pair@example.com", 100, DELIVER_LOCAL, 2, NULL},
		/* never fitting wins over "full for now" */
		{"pair@example.com", 5000, DELIVER_TOO_BIG_FOR_QUOTA, 0, NULL},
		{"withbob@example.com", 5000, DELIVER_TOO_BIG_FOR_QUOTA, 0,
		 NULL},
		{"bob@example.com", 5000, DELIVER_LOCAL, 1, NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct deliver_targets targets = {0};
		const char *err = NULL;
		cur = t[i].rcpt;
		enum deliver_resolve_result r =
			resolve(f->store, t[i].rcpt, t[i].size, &targets, &err);
		if (r != t[i].want)
			fail_msg("%s size %llu: %d, want %d (%s)", t[i].rcpt,
				 (unsigned long long)t[i].size, r, t[i].want,
				 err ? err : "");
		EXPECT_INT(targets.n, t[i].targets);
		if (t[i].why != NULL)
			EXPECT(err != NULL && strstr(err, t[i].why) != NULL);
		deliver_targets_clear(&targets);
	}
}

/* At the end of data: one target over its quota means nothing is stored
 * for any, so the sender's retry stores no duplicates. */
static void test_deliver_quota(void **state)
{
	struct fixture *f = *state;
	int64_t roomy, tight;
	setup_quota(f, &roomy, &tight);
	struct deliver_targets t = {0};
	struct deliver_result r[3];
	char body[300];
	memset(body, 'x', sizeof(body));
	/* Resolved without a size, as when the client gave no SIZE=. */
	assert_int_equal(resolve(f->store, "bob@example.com", 0, &t, NULL),
			 DELIVER_LOCAL);
	assert_int_equal(resolve(f->store, "pair@example.com", 0, &t, NULL),
			 DELIVER_LOCAL);
	assert_int_equal(t.n, 3);
	size_t bob_before = count_messages(f->store, f->bob);
	struct deliver_source src = {body, sizeof(body), -1, 0};
	assert_int_equal(deliver_message(f->store, &t, "s@x", &src, r), 0);
	for (size_t i = 0; i < t.n; i++) {
		EXPECT_INT(r[i].status, DELIVER_FAIL_QUOTA);
		EXPECT(r[i].reason[0] != '\0');
		if (t.ids[i] == tight)
			EXPECT(strstr(r[i].reason, "900 of 1000") != NULL);
		else
			EXPECT(strstr(r[i].reason, "not stored") != NULL);
	}
	assert_int_equal(count_messages(f->store, f->bob), bob_before);
	assert_int_equal(count_messages(f->store, roomy), 0);
	/* One that fits them all goes to all. */
	src.len = 50;
	assert_int_equal(deliver_message(f->store, &t, "s@x", &src, r), 3);
	for (size_t i = 0; i < t.n; i++)
		EXPECT_INT(r[i].status, DELIVER_STORED);
	/* Larger than a whole quota: permanent, for all. */
	char *big = calloc(1, 2000);
	src = (struct deliver_source){big, 2000, -1, 0};
	assert_int_equal(deliver_message(f->store, &t, "s@x", &src, r), 0);
	for (size_t i = 0; i < t.n; i++)
		EXPECT_INT(r[i].status, DELIVER_FAIL_QUOTA_NEVER);
	free(big);
	deliver_targets_clear(&t);
	assert_string_equal(deliver_status_name(DELIVER_STORED), "stored");
	assert_string_equal(deliver_status_name(DELIVER_FAIL_FULL), "full");
	assert_string_equal(deliver_status_name(DELIVER_FAIL_QUOTA),
			    "over-quota");
}

/* A corrupt account database is found at RCPT, with SQLite's words. */
static void test_resolve_broken(void **state)
{
	struct fixture *f = *state;
	struct deliver_targets t = {0};
	struct deliver_result r[1];
	const char *err = NULL;
	char path[600];
	assert_int_equal(count_messages(f->store, f->alice), 0);
	store_free(&f->store);
	snprintf(path, sizeof(path), "%s/mail/%lld/index.db", f->dir,
		 (long long)f->alice);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "not a database, not at all", 26, 0), 26);
	close(fd);
	assert_int_equal(store_open(f->dir, &f->store, &err), 1);

	assert_int_equal(resolve(f->store, "alice@example.com", 0, &t, &err),
			 DELIVER_TEMPFAIL);
	assert_non_null(strstr(err, "file is not a database"));
	assert_int_equal(t.n, 0);
	/* team@ reaches alice and bob: refused whole. */
	assert_int_equal(resolve(f->store, "team@example.com", 0, &t, &err),
			 DELIVER_TEMPFAIL);
	assert_int_equal(t.n, 0);
	/* Had it broken after RCPT: nothing stored, the cause given. */
	t.ids = calloc(1, sizeof(*t.ids));
	t.ids[0] = f->alice;
	t.n = t.cap = 1;
	struct deliver_source src = {"x\r\n", 3, -1, 0};
	assert_int_equal(deliver_message(f->store, &t, "s@x", &src, r), 0);
	assert_int_equal(r[0].status, DELIVER_FAIL_BROKEN);
	assert_non_null(strstr(r[0].reason, "file is not a database"));
	deliver_targets_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accumulate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deliver_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deliver_binary, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resolve_quota, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deliver_quota, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resolve_broken, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
