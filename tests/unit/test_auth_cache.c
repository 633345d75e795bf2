/* auth_cache: a remembered login must match user, password and stored
 * hash exactly, and only for ttl seconds. */
#include <unistd.h>

#include "unit.h"

#include "auth/auth_cache.h"
#include "auth/auth_pass.h"

static int setup(void **state)
{
	/* The cache's key comes from libsodium's random generator. */
	return auth_pass_init() < 0 ? -1 : 0;
}

struct login {
	const char *user, *pw;
	size_t pwlen;
	const char *stored;
};

static bool hit(struct auth_cache *c, const struct login *l)
{
	return auth_cache_hit(c, l->user, l->pw, l->pwlen, l->stored);
}

static void add(struct auth_cache *c, const struct login *l)
{
	auth_cache_add(c, l->user, l->pw, l->pwlen, l->stored);
}

/* After one login is cached, which others hit? */
static void test_hit_miss(void **state)
{
	static const struct login cached = {"bob@example.com", "secret", 6,
					    "$argon2id$v=19$old"};
	static const struct {
		struct login l;
		bool hit;
	} t[] = {
		{{"bob@example.com", "secret", 6, "$argon2id$v=19$old"}, true},
		{{"bob@example.com", "secreT", 6, "$argon2id$v=19$old"}, false},
		{{"bob@example.com", "secret", 5, "$argon2id$v=19$old"}, false},
		{{"bob@example.com", "secret!", 7, "$argon2id$v=19$old"},
		 false},
		{{"bob@example.com", "", 0, "$argon2id$v=19$old"}, false},
		{{"alice@example.com", "secret", 6, "$argon2id$v=19$old"},
		 false},
		{{"Bob@example.com", "secret", 6, "$argon2id$v=19$old"}, false},
		/* password changed: the stored hash differs */
		{{"bob@example.com", "secret", 6, "$argon2id$v=19$new"}, false},
		/* fields are length-prefixed: shifting bytes between them
		 * is a different login */
		{{"bob@example.coms", "ecret", 5, "$argon2id$v=19$old"}, false},
		{{"bob@example.com", "secret$", 7, "argon2id$v=19$old"}, false},
	};
	struct auth_cache *c = auth_cache_new(300, 1024);
	assert_false(hit(c, &cached));
	add(c, &cached);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (hit(c, &t[i].l) != t[i].hit)
			fail_msg("case %zu (%s, \"%.*s\", %s): want %s", i,
				 t[i].l.user, (int)t[i].l.pwlen, t[i].l.pw,
				 t[i].l.stored, t[i].hit ? "hit" : "miss");
	auth_cache_free(&c);
	assert_null(c);
	auth_cache_free(&c);
}

/* A NUL inside the password is part of it. */
static void test_binary_password(void **state)
{
	struct auth_cache *c = auth_cache_new(300, 64);
	static const struct login a = {"u@x", "ab\0cd", 5, "h"};
	static const struct login b = {"u@x", "ab\0ce", 5, "h"};
	add(c, &a);
	assert_true(hit(c, &a));
	assert_false(hit(c, &b));
	auth_cache_free(&c);
}

static void test_ttl_zero_disables(void **state)
{
	static const struct login l = {"bob@example.com", "pw", 2, "h"};
	struct auth_cache *c = auth_cache_new(0, 1024);
	add(c, &l);
	assert_false(hit(c, &l));
	auth_cache_free(&c);
}

static void test_expiry(void **state)
{
	static const struct login l = {"bob@example.com", "pw", 2, "h"};
	struct auth_cache *c = auth_cache_new(1, 16);
	add(c, &l);
	assert_true(hit(c, &l));
	sleep(2);
	assert_false(hit(c, &l));
	/* A new successful check caches it again. */
	add(c, &l);
	assert_true(hit(c, &l));
	auth_cache_free(&c);
}

/* One slot: a new entry replaces the old one, never mixes with it. */
static void test_overwrite(void **state)
{
	static const struct login a = {"a@x", "pw", 2, "h"};
	static const struct login b = {"b@x", "pw", 2, "h"};
	struct auth_cache *c = auth_cache_new(300, 1);
	add(c, &a);
	assert_true(hit(c, &a));
	add(c, &b);
	assert_true(hit(c, &b));
	assert_false(hit(c, &a));
	auth_cache_free(&c);
	/* max_entries 0 still works (one slot). */
	c = auth_cache_new(300, 0);
	add(c, &a);
	assert_true(hit(c, &a));
	auth_cache_free(&c);
}

/* Each process (cache) has its own key: nothing carries over. */
static void test_separate_caches(void **state)
{
	static const struct login l = {"bob@example.com", "pw", 2, "h"};
	struct auth_cache *c1 = auth_cache_new(300, 64);
	struct auth_cache *c2 = auth_cache_new(300, 64);
	add(c1, &l);
	assert_true(hit(c1, &l));
	assert_false(hit(c2, &l));
	auth_cache_free(&c1);
	auth_cache_free(&c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_miss),
		cmocka_unit_test(test_binary_password),
		cmocka_unit_test(test_ttl_zero_disables),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_overwrite),
		cmocka_unit_test(test_separate_caches),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
