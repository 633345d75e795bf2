/* auth: auth_login against a real store in a fresh directory, above all
 * the rehash of imported and weaker hashes at the first successful login.
 * The verification cache is off (cache_ttl = 0), so each login really
 * checks the stored hash. */
#include <crypt.h>
#include <sqlite3.h>
#include <time.h>

#include "unit.h"

#include "auth/auth.h"
#include "auth/auth_app.h"
#include "auth/auth_pass.h"
#include "core/config.h"
#include "store/store.h"

static const struct auth_pass_params cheap_params = {8, 1};

#define USER "imported@example.com"
#define PW "old secret"

struct fixture {
	char dir[256];
	char data[300];
	struct store *store;
	struct config *cfg;
	struct auth *auth;
};

/* argon2_memory (KiB) and argon2_passes for new hashes. */
static void configure(struct fixture *f, unsigned memory, unsigned passes)
{
	char set[64];
	auth_free(&f->auth);
	snprintf(set, sizeof(set), "auth.argon2_memory=%u", memory);
	assert_int_equal(config_set(f->cfg, set, "test", stderr), 0);
	snprintf(set, sizeof(set), "auth.argon2_passes=%u", passes);
	assert_int_equal(config_set(f->cfg, set, "test", stderr), 0);
	f->auth = auth_new(f->store, f->cfg);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;
	if (f == NULL || auth_pass_init() < 0 ||
	    temp_dir(f->dir, sizeof(f->dir), "auth") < 0)
		return -1;
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->store, &err) < 0 ||
	    store_domain_add(f->store, "example.com", &err) < 0)
		return -1;
	f->cfg = config_new();
	if (config_set(f->cfg, "auth.cache_ttl=0", "test", stderr) < 0)
		return -1;
	configure(f, 8, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	auth_free(&f->auth);
	store_free(&f->store);
	config_free(&f->cfg);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static void add_user(struct fixture *f, const char *hash)
{
	const char *err = NULL;
	struct store_user u = {0, (char *)USER, (char *)hash, 0, (char *)"", NULL};
	assert_int_equal(store_user_add(f->store, &u, &err), 1);
}

/* The user's stored hash (malloc'ed). */
static char *stored(struct fixture *f)
{
	struct store_user u;
	assert_int_equal(store_user_lookup(f->store, USER, &u), 1);
	char *h = strdup(u.password);
	store_user_clear(&u);
	return h;
}

static int login(struct fixture *f, const char *user, const char *pw)
{
	struct store_user u;
	int rc = auth_login(f->auth, user, strlen(user), pw, strlen(pw), &u);
	if (rc == 1) {
		/* What the caller gets is what is stored now. */
		char *now = stored(f);
		assert_string_equal(u.password, now);
		free(now);
	}
	store_user_clear(&u);
	return rc;
}

/* "{CRYPT}" + a crypt(3) hash, as `user import` stores one. */
static char *crypt_hash(const char *prefix, const char *pw)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE], field[256];
	struct crypt_data data;
	const char *err = NULL;
	memset(&data, 0, sizeof(data));
	assert_non_null(crypt_gensalt_rn(prefix, 0, NULL, 0, setting,
					 sizeof(setting)));
	const char *h = crypt_r(pw, setting, &data);
	assert_true(h != NULL && h[0] != '*');
	snprintf(field, sizeof(field), "{CRYPT}%s", h);
	char *out = auth_pass_import(field, &err);
	assert_non_null(out);
	return out;
}

static void expect_argon2id(const char *hash, unsigned memory,
			    unsigned passes)
{
	char want[64];
	snprintf(want, sizeof(want), "$argon2id$v=19$m=%u,t=%u,p=1$", memory,
		 passes);
	if (strncmp(hash, want, strlen(want)) != 0)
		fail_msg("stored hash %s, want %s...", hash, want);
}

/* An imported crypt(3) hash becomes argon2id at the first successful
 * login, with the configured cost, and the password still works. */
static void test_crypt_rehashed(void **state)
{
	struct fixture *f = *state;
	static const char *const prefixes[] = {"$6$", "$5$", "$2b$", "$y$"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		const char *err = NULL;
		cur = prefixes[i];
		char *old = crypt_hash(prefixes[i], PW);
		add_user(f, old);
		/* A wrong password changes nothing. */
		EXPECT_INT(login(f, USER, PW "x"), 0);
		char *h = stored(f);
		EXPECT_STR(h, old);
		free(h);
		EXPECT_INT(login(f, "Imported@Example.COM", PW), 1);
		h = stored(f);
		expect_argon2id(h, 8, 1);
		EXPECT_INT(auth_pass_verify(PW, strlen(PW), h), 1);
		EXPECT_INT(login(f, USER, PW), 1);
		EXPECT_INT(login(f, USER, "other"), 0);
		/* Stable from now on. */
		char *again = stored(f);
		EXPECT_STR(again, h);
		free(again);
		free(h);
		free(old);
		EXPECT_INT(store_user_remove(f->store, USER, &err), 1);
	}
}

/* An argon2id hash weaker than configured (less memory or fewer passes)
 * is replaced; one as strong or stronger is kept. */
static void test_argon2id_cost(void **state)
{
	struct fixture *f = *state;
	static const struct {
		struct auth_pass_params have, want;
		int rehashed;
	} t[] = {
		{{8, 1}, {8, 1}, 0},   {{8, 1}, {16, 1}, 1},
		{{8, 1}, {8, 2}, 1},   {{16, 2}, {8, 1}, 0},
		{{16, 1}, {8, 2}, 1},  {{8, 3}, {16, 1}, 1},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *err = NULL;
		char name[64];
		snprintf(name, sizeof(name), "m=%u,t=%u -> m=%u,t=%u",
			 t[i].have.memory_kib, t[i].have.passes,
			 t[i].want.memory_kib, t[i].want.passes);
		cur = name;
		char *old = auth_pass_hash(PW, strlen(PW), &t[i].have);
		assert_non_null(old);
		add_user(f, old);
		configure(f, t[i].want.memory_kib, t[i].want.passes);
		EXPECT_INT(login(f, USER, PW), 1);
		char *h = stored(f);
		if (t[i].rehashed)
			expect_argon2id(h, t[i].want.memory_kib,
					t[i].want.passes);
		else
			EXPECT_STR(h, old);
		free(h);
		free(old);
		EXPECT_INT(store_user_remove(f->store, USER, &err), 1);
	}
}

/* The store's compare-and-set: a hash changed meanwhile is not
 * overwritten. */
static void test_replace_is_compare_and_set(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	add_user(f, "{CRYPT}$6$old");
	EXPECT_INT(store_user_replace_password(f->store, USER, "{CRYPT}$6$x",
					       "$argon2id$new", &err),
		   0);
	char *h = stored(f);
	EXPECT_STR(h, "{CRYPT}$6$old");
	free(h);
	/* An admin's `user passwd` got there first. */
	EXPECT_INT(store_user_set_password(f->store, USER, "$argon2id$admin"),
		   1);
	EXPECT_INT(store_user_replace_password(f->store, USER, "{CRYPT}$6$old",
					       "$argon2id$login", &err),
		   0);
	h = stored(f);
	EXPECT_STR(h, "$argon2id$admin");
	free(h);
	EXPECT_INT(store_user_replace_password(f->store, USER,
					       "$argon2id$admin",
					       "$argon2id$login", &err),
		   1);
	h = stored(f);
	EXPECT_STR(h, "$argon2id$login");
	free(h);
	EXPECT_INT(store_user_replace_password(f->store, "no@example.com",
					       "$argon2id$login", "x", &err),
		   0);
}

/* When the new hash cannot be stored, the login still succeeds, the old
 * hash stays, and the next login tries again. */
static void test_store_failure_does_not_fail_login(void **state)
{
	struct fixture *f = *state;
	char path[400], *errmsg = NULL;
	sqlite3 *db;
	char *old = crypt_hash("$6$", PW);
	add_user(f, old);
	/* A second connection, as another process would have, makes every
	 * password update fail. */
	snprintf(path, sizeof(path), "%s/accounts.db", f->data);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db,
			     "CREATE TRIGGER no_pw BEFORE UPDATE OF password "
			     "ON user BEGIN SELECT RAISE(ABORT, 'no'); END",
			     NULL, NULL, &errmsg),
		SQLITE_OK);
	EXPECT_INT(login(f, USER, PW), 1);
	char *h = stored(f);
	EXPECT_STR(h, old);
	free(h);
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER no_pw", NULL, NULL,
				      &errmsg),
			 SQLITE_OK);
	sqlite3_close(db);
	EXPECT_INT(login(f, USER, PW), 1);
	h = stored(f);
	expect_argon2id(h, 8, 1);
	free(h);
	free(old);
}

/* ---- app passwords ---- */

struct app {
	char plain[AUTH_APP_CHARS + 1];
	char shown[AUTH_APP_SHOWN_SIZE];
};

static int64_t user_id(struct fixture *f)
{
	struct store_user u;
	assert_int_equal(store_user_lookup(f->store, USER, &u), 1);
	int64_t id = u.id;
	store_user_clear(&u);
	return id;
}

/* A new app password of USER, as `user app-password add` makes one. */
static void add_app(struct fixture *f, const char *name, struct app *app)
{
	const char *err = NULL;
	char h[AUTH_APP_HASH_SIZE];
	auth_app_new(app->plain, app->shown);
	auth_app_hash(app->plain, h);
	assert_int_equal(store_app_password_add(f->store, user_id(f), name, h,
						&err),
			 1);
}

static void last_used_of(const struct store_app_password *ap, void *ctx)
{
	int64_t *v = ctx;
	if (strcmp(ap->name, "phone") == 0)
		*v = ap->last_used;
}

static int64_t phone_last_used(struct fixture *f)
{
	const char *err = NULL;
	int64_t v = -1;
	assert_int_equal(store_app_password_list(f->store, user_id(f),
						 last_used_of, &v, &err),
			 1);
	return v;
}

/* The main password and each app password log in, typed with or without
 * dashes, in either case; a removed one stops at once. */
static void test_app_passwords(void **state)
{
	struct fixture *f = *state;
	struct app phone, laptop;
	const char *err = NULL;
	char *main_hash = auth_pass_hash(PW, strlen(PW), &cheap_params);
	add_user(f, main_hash);
	add_app(f, "phone", &phone);
	add_app(f, "laptop", &laptop);
	EXPECT_INT(phone_last_used(f), 0);
	EXPECT_INT(login(f, USER, PW), 1);
	EXPECT_INT(login(f, USER, phone.plain), 1);
	EXPECT_INT(login(f, USER, phone.shown), 1);
	EXPECT_INT(login(f, USER, laptop.shown), 1);
	char typed[64];
	snprintf(typed, sizeof(typed), "%.4s %.4s %.4s %.4s", phone.plain,
		 phone.plain + 4, phone.plain + 8, phone.plain + 12);
	for (char *p = typed; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	EXPECT_INT(login(f, USER, typed), 1);
	/* Its last use is recorded, and the main hash is not touched. */
	assert_true(phone_last_used(f) > 0);
	char *h = stored(f);
	EXPECT_STR(h, main_hash);
	free(h);
	/* One character off, one too many, one too few. */
	char wrong[AUTH_APP_CHARS + 2];
	snprintf(wrong, sizeof(wrong), "%s", phone.plain);
	wrong[5] = wrong[5] == 'a' ? 'b' : 'a';
	EXPECT_INT(login(f, USER, wrong), 0);
	snprintf(wrong, sizeof(wrong), "%sa", phone.plain);
	EXPECT_INT(login(f, USER, wrong), 0);
	EXPECT_INT(login(f, USER, phone.plain + 1), 0);
	/* Not another user's. */
	struct store_user bob = {.address = (char *)"bob@example.com",
				 .password = main_hash, .name = (char *)""};
	assert_int_equal(store_user_add(f->store, &bob, &err), 1);
	EXPECT_INT(login(f, "bob@example.com", phone.plain), 0);
	EXPECT_INT(store_app_password_remove(f->store, user_id(f), "phone",
					     &err),
		   1);
	EXPECT_INT(login(f, USER, phone.shown), 0);
	EXPECT_INT(login(f, USER, laptop.shown), 1);
	EXPECT_INT(login(f, USER, PW), 1);
	free(main_hash);
}

/* The verification cache never keeps a removed app password working. */
static void test_app_password_removed_while_cached(void **state)
{
	struct fixture *f = *state;
	struct app phone;
	const char *err = NULL;
	assert_int_equal(config_set(f->cfg, "auth.cache_ttl=300", "test",
				    stderr),
			 0);
	configure(f, 8, 1);
	char *main_hash = auth_pass_hash(PW, strlen(PW), &cheap_params);
	add_user(f, main_hash);
	add_app(f, "phone", &phone);
	EXPECT_INT(login(f, USER, phone.shown), 1);
	EXPECT_INT(login(f, USER, phone.shown), 1);
	EXPECT_INT(store_app_password_remove(f->store, user_id(f), "phone",
					     &err),
		   1);
	EXPECT_INT(login(f, USER, phone.shown), 0);
	/* Added again under the same name, the old password stays out. */
	struct app again;
	add_app(f, "phone", &again);
	EXPECT_INT(login(f, USER, phone.shown), 0);
	EXPECT_INT(login(f, USER, again.shown), 1);
	free(main_hash);
}

/* Logins within a minute of the recorded use write nothing. */
static void test_app_password_last_used_throttled(void **state)
{
	struct fixture *f = *state;
	struct app phone;
	const char *err = NULL;
	char *main_hash = auth_pass_hash(PW, strlen(PW), &cheap_params);
	add_user(f, main_hash);
	add_app(f, "phone", &phone);
	int64_t recent = (int64_t)time(NULL) - 30;
	EXPECT_INT(store_app_password_used(f->store, user_id(f), "phone",
					   recent, &err),
		   1);
	EXPECT_INT(login(f, USER, phone.shown), 1);
	EXPECT_INT(phone_last_used(f), recent);
	int64_t old = recent - 60;
	EXPECT_INT(store_app_password_used(f->store, user_id(f), "phone", old,
					   &err),
		   1);
	int64_t before = (int64_t)time(NULL);
	EXPECT_INT(login(f, USER, phone.shown), 1);
	assert_true(phone_last_used(f) >= before);
	free(main_hash);
}

/* ---- login by local part ---- */

static void test_local_part(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char *main_hash = auth_pass_hash(PW, strlen(PW), &cheap_params);
	add_user(f, main_hash);
	struct store_user u;
	EXPECT_INT(auth_login(f->auth, "Imported", 8, PW, strlen(PW), &u), 1);
	EXPECT_STR(u.address, USER);
	store_user_clear(&u);
	EXPECT_INT(login(f, "imported", PW "x"), 0);
	EXPECT_INT(login(f, "nobody", PW), 0);
	EXPECT_INT(login(f, "", PW), 0);
	EXPECT_INT(auth_login(f->auth, "imported\0x", 10, PW, strlen(PW), &u),
		   0);
	char huge[600];
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	EXPECT_INT(login(f, huge, PW), 0);
	/* Off by config. */
	assert_int_equal(config_set(f->cfg, "auth.login_local_part=no", "test",
				    stderr),
			 0);
	configure(f, 8, 1);
	EXPECT_INT(login(f, "imported", PW), 0);
	EXPECT_INT(login(f, USER, PW), 1);
	assert_int_equal(config_set(f->cfg, "auth.login_local_part=yes",
				    "test", stderr),
			 0);
	configure(f, 8, 1);
	EXPECT_INT(login(f, "imported", PW), 1);
	/* With a second domain, "imported" could be either. */
	assert_int_equal(store_domain_add(f->store, "example.org", &err), 1);
	EXPECT_INT(login(f, "imported", PW), 0);
	EXPECT_INT(login(f, USER, PW), 1);
	free(main_hash);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crypt_rehashed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_argon2id_cost, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replace_is_compare_and_set,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_store_failure_does_not_fail_login, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_app_passwords, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_app_password_removed_while_cached, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_app_password_last_used_throttled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_part, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
