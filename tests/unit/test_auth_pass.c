/* auth_pass: our own argon2id hashes and crypt(3) hashes imported from
 * other servers.  Imported hashes are made here with libcrypt, as another
 * server would have made them, and must then verify. */
#include <crypt.h>

#include "unit.h"

#include "auth/auth_pass.h"

/* The cheapest argon2id libsodium allows: the tests check behaviour, not
 * cost. */
static const struct auth_pass_params cheap = {8, 1};

static int setup(void **state)
{
	return auth_pass_init() < 0 ? -1 : 0;
}

static void test_hash_verify(void **state)
{
	static const struct {
		const char *pw;
		size_t len;
	} pws[] = {
		{"secret", 6},
		{"", 0},
		{"with spaces and \xc3\xbc", 18},
		{"nul\0inside", 10},
		{"01234567890123456789012345678901234567890123456789"
		 "012345678901234567890123", 74},
	};
	for (size_t i = 0; i < sizeof(pws) / sizeof(pws[0]); i++) {
		char *h = auth_pass_hash(pws[i].pw, pws[i].len, &cheap);
		assert_non_null(h);
		assert_memory_equal(h, "$argon2id$", 10);
		assert_int_equal(auth_pass_verify(pws[i].pw, pws[i].len, h), 1);
		/* One byte more, one byte less, one byte changed. */
		char other[128];
		memcpy(other, pws[i].pw, pws[i].len);
		other[pws[i].len] = 'x';
		assert_int_equal(auth_pass_verify(other, pws[i].len + 1, h), 0);
		if (pws[i].len > 0) {
			assert_int_equal(auth_pass_verify(pws[i].pw,
							  pws[i].len - 1, h),
					 0);
			other[0] ^= 1;
			assert_int_equal(auth_pass_verify(other, pws[i].len, h),
					 0);
		}
		/* Salted: the same password hashes differently. */
		char *h2 = auth_pass_hash(pws[i].pw, pws[i].len, &cheap);
		assert_string_not_equal(h, h2);
		assert_int_equal(auth_pass_verify(pws[i].pw, pws[i].len, h2),
				 1);
		free(h);
		free(h2);
	}
}

/* The parameters given are the ones in the hash. */
static void test_hash_params(void **state)
{
	struct auth_pass_params p = {19456, 2};
	char *h = auth_pass_hash("pw", 2, &p);
	assert_non_null(h);
	assert_non_null(strstr(h, "$m=19456,t=2,"));
	assert_int_equal(auth_pass_verify("pw", 2, h), 1);
	free(h);
	/* Below libsodium's minimum: refused, not silently raised. */
	struct auth_pass_params tiny = {1, 1};
	assert_null(auth_pass_hash("pw", 2, &tiny));
}

/* A crypt(3) hash as another server would have stored it. */
static char *make_crypt(const char *prefix, unsigned long count,
			const char *pw)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data data;
	memset(&data, 0, sizeof(data));
	assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, setting,
					 sizeof(setting)));
	const char *h = crypt_r(pw, setting, &data);
	assert_non_null(h);
	assert_true(h[0] != '*');
	return strdup(h);
}

static void test_import_crypt(void **state)
{
	static const struct {
		const char *scheme, *prefix;
		unsigned long count;
	} t[] = {
		{"{SHA512-CRYPT}", "$6$", 1000},
		{"{SHA256-CRYPT}", "$5$", 1000},
		{"{BLF-CRYPT}", "$2b$", 4},
		{"{YESCRYPT}", "$y$", 0},
		{"{CRYPT}", "$6$", 1000},
		{"{CRYPT}", "$y$", 0},
		{"{CRYPT}", "$2b$", 4},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char field[512];
		const char *err = NULL;
		char *h = make_crypt(t[i].prefix, t[i].count, "hunter2");
		snprintf(field, sizeof(field), "%s%s", t[i].scheme, h);
		assert_true(auth_pass_is_scheme(field));
		char *stored = auth_pass_import(field, &err);
		if (stored == NULL)
			fail_msg("%s refused: %s", field, err);
		/* Stored as {CRYPT} + the hash, whatever the scheme name. */
		assert_memory_equal(stored, "{CRYPT}", 7);
		assert_string_equal(stored + 7, h);
		assert_int_equal(auth_pass_verify("hunter2", 7, stored), 1);
		assert_int_equal(auth_pass_verify("hunter3", 7, stored), 0);
		assert_int_equal(auth_pass_verify("hunter", 6, stored), 0);
		assert_int_equal(auth_pass_verify("", 0, stored), 0);
		/* A NUL in the password cannot reach crypt(3): never a
		 * match with the part before it. */
		assert_true(auth_pass_verify("hunter2\0x", 9, stored) != 1);
		free(stored);
		free(h);
	}
}

static void test_import_argon2(void **state)
{
	char field[256];
	const char *err;
	char *h = auth_pass_hash("pw", 2, &cheap);
	snprintf(field, sizeof(field), "{ARGON2ID}%s", h);
	char *stored = auth_pass_import(field, &err);
	assert_non_null(stored);
	assert_string_equal(stored, h);
	assert_int_equal(auth_pass_verify("pw", 2, stored), 1);
	assert_int_equal(auth_pass_verify("pW", 2, stored), 0);
	free(stored);
	free(h);
}

static void test_import_refused(void **state)
{
	char *sha512 = make_crypt("$6$", 1000, "x");
	char *bad_len = strdup(sha512);
	bad_len[strlen(bad_len) - 1] = '\0';
	char mismatch[256], truncated[256], junk[256];
	snprintf(mismatch, sizeof(mismatch), "{BLF-CRYPT}%s", sha512);
	snprintf(truncated, sizeof(truncated), "{SHA512-CRYPT}%s", bad_len);
	snprintf(junk, sizeof(junk), "{SHA512-CRYPT}%s!", sha512);
	const struct {
		const char *field, *why;
	} t[] = {
		{"{MD5}1bc29b36f623ba82aaf6724fd3b16718", "unknown"},
		{"{PLAIN}secret", "unknown"},
		{"{SSHA}abc", "unknown"},
		{"{sha512-crypt}$6$abc", "unknown"},
		{mismatch, "does not match"},
		{"{SHA512-CRYPT}$5$rounds=1000$abc$def", "does not match"},
		{"{YESCRYPT}$6$abc", "does not match"},
		{"{CRYPT}", "does not match"},
		{"{CRYPT}abcdefghijklm", "does not match"},
		{truncated, "not one crypt(3)"},
		{junk, "not one crypt(3)"},
		{"{SHA512-CRYPT}$6$salt$", "not one crypt(3)"},
		{"{SHA512-CRYPT}$6$", "not one crypt(3)"},
		{"{CRYPT}$1x$abc", "not one crypt(3)"},
		{"{ARGON2ID}", "$argon2id$"},
		{"{ARGON2ID}$argon2i$v=19$m=8,t=1,p=1$abc$def", "$argon2id$"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *err = NULL;
		char *stored = auth_pass_import(t[i].field, &err);
		if (stored != NULL)
			fail_msg("%s accepted as %s", t[i].field, stored);
		if (err == NULL || strstr(err, t[i].why) == NULL)
			fail_msg("%s: err \"%s\", want \"%s\"", t[i].field, err,
				 t[i].why);
	}
	free(sha512);
	free(bad_len);
}

static void test_verify_unknown(void **state)
{
	/* Not a kind we verify: -1, so the caller can tell it apart. */
	static const char *const unknown[] = {
		"secret", "", "{PLAIN}secret", "$6$abc$def", "{crypt}$6$x$y",
		"{CRYPT}*", "{CRYPT}",
	};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		int rc = auth_pass_verify("secret", 6, unknown[i]);
		if (rc != -1)
			fail_msg("\"%s\" gave %d, want -1", unknown[i], rc);
	}
	/* Broken hashes of a known kind never match. */
	static const char *const broken[] = {
		"{CRYPT}$6$", "{CRYPT}$6$salt$", "{CRYPT}$2b$04$",
		"$argon2id$garbage", "$argon2id$",
	};
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		if (auth_pass_verify("secret", 6, broken[i]) == 1)
			fail_msg("\"%s\" verified", broken[i]);
}

/* Which stored hashes a successful login replaces, for argon2id with
 * 19456 KiB and 2 passes configured. */
static void test_needs_rehash(void **state)
{
	static const struct auth_pass_params conf = {19456, 2};
	static const struct {
		const char *stored;
		int want;
	} t[] = {
		{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", 0},
		{"$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA", 0},
		{"$argon2id$v=19$m=19456,t=1,p=1$c2FsdHNhbHQ$aGFzaA", 1},
		{"$argon2id$v=19$m=8,t=2,p=1$c2FsdHNhbHQ$aGFzaA", 1},
		{"$argon2id$v=19$m=8,t=9,p=1$c2FsdHNhbHQ$aGFzaA", 1},
		{"$argon2id$v=19$m=65536,t=1,p=1$c2FsdHNhbHQ$aGFzaA", 1},
		{"{CRYPT}$6$salt$hash", 1},
		{"{CRYPT}$y$j9T$salt$hash", 1},
		{"{CRYPT}$2b$05$saltsaltsaltsaltsaltsuhashhashhashhashhashhashh", 1},
		{"$argon2i$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA", 1},
		/* Verified, so libsodium read it; we could not: keep it. */
		{"$argon2id$garbled", 0},
		{"$argon2id$v=19$m=8,t=1,p=1", 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cur = t[i].stored;
		EXPECT_INT(auth_pass_needs_rehash(t[i].stored, &conf),
			   t[i].want);
	}
	/* Our own hashes never need it with the parameters they were made
	 * with. */
	char *h = auth_pass_hash("pw", 2, &cheap);
	assert_non_null(h);
	cur = h;
	EXPECT_INT(auth_pass_needs_rehash(h, &cheap), 0);
	free(h);
}

static void test_is_scheme(void **state)
{
	static const struct {
		const char *field;
		int is;
	} t[] = {
		{"{SHA512-CRYPT}$6$x", 1}, {"{}", 1}, {"{X}", 1},
		{"plain", 0}, {"", 0}, {"{unclosed", 0}, {" {X}", 0},
		{"x{X}", 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if ((auth_pass_is_scheme(t[i].field) != 0) != t[i].is)
			fail_msg("\"%s\": want %d", t[i].field, t[i].is);
}

/* A bare crypt(3) hash of each kind is a hash, stored as {CRYPT} + the
 * hash, and verifies; {PLAIN} and anything not shaped like a hash are
 * plain text. */
static void test_field_bare(void **state)
{
	static const struct {
		const char *prefix;
		unsigned long count;
		bool weak;
	} t[] = {
		{"$6$", 1000, false}, {"$5$", 1000, false}, {"$y$", 0, false},
		{"$2b$", 4, false},   {"$2y$", 4, false},   {"$2a$", 4, false},
		{"$1$", 0, true},     {"$6$", 0, false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *h = make_crypt(t[i].prefix, t[i].count, "hunter2");
		char *stored = NULL;
		const char *plain = "unset", *err = NULL;
		int rc = auth_pass_import_field(h, &stored, &plain, &err);
		if (rc != 1)
			fail_msg("%s: rc %d err %s", h, rc, err);
		assert_null(plain);
		assert_memory_equal(stored, "{CRYPT}", 7);
		assert_string_equal(stored + 7, h);
		assert_int_equal(auth_pass_is_weak(stored), t[i].weak);
		assert_int_equal(auth_pass_verify("hunter2", 7, stored), 1);
		assert_int_equal(auth_pass_verify("hunter3", 7, stored), 0);
		free(stored);
		free(h);
	}
}

static void test_field_plain(void **state)
{
	char *h = make_crypt("$6$", 0, "x");
	char forced[256];
	snprintf(forced, sizeof(forced), "{PLAIN}%s", h);
	static const struct {
		const char *field, *plain;
	} fixed[] = {
		{"secret", "secret"},
		{"{PLAIN}secret", "secret"},
		{"{PLAIN}{SHA512-CRYPT}x", "{SHA512-CRYPT}x"},
		{"{PLAIN}$6$abc", "$6$abc"},
		{"$argon2id$x", "$argon2id$x"},
		{"$7$abc", "$7$abc"},
		{"6$abc$def", "6$abc$def"},
		{"$$", "$$"},
		{"$", "$"},
		{"x$6$", "x$6$"},
		{"abcdefghijklm", "abcdefghijklm"},
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		char *stored = (char *)"unset";
		const char *plain = NULL, *err = NULL;
		int rc = auth_pass_import_field(fixed[i].field, &stored, &plain,
						&err);
		if (rc != 0)
			fail_msg("%s: rc %d err %s", fixed[i].field, rc, err);
		assert_null(stored);
		assert_string_equal(plain, fixed[i].plain);
	}
	/* A whole valid hash after {PLAIN} is still a password. */
	char *stored = NULL;
	const char *plain = NULL, *err = NULL;
	assert_int_equal(auth_pass_import_field(forced, &stored, &plain, &err),
			 0);
	assert_null(stored);
	assert_string_equal(plain, h);
	free(h);
}

/* Shaped like a crypt hash but not a usable one: refused, never taken as
 * a password (a damaged hash's text must not become the password). */
static void test_field_refused(void **state)
{
	char *sha = make_crypt("$6$", 0, "x");
	char *bf = make_crypt("$2b$", 4, "x");
	char cut[256], junk[256], longer[256], bf_cost[256];
	snprintf(cut, sizeof(cut), "%.*s", (int)strlen(sha) - 1, sha);
	snprintf(junk, sizeof(junk), "%.*s!", (int)strlen(sha) - 1, sha);
	snprintf(longer, sizeof(longer), "%sA", sha);
	/* Cost 31: days per check. */
	snprintf(bf_cost, sizeof(bf_cost), "$2b$31%s", bf + 6);
	const struct {
		const char *field, *why;
	} t[] = {
		{"$6$", "not one crypt(3)"},
		{"$6$salt$", "not one crypt(3)"},
		{cut, "not one crypt(3)"},
		{junk, "not one crypt(3)"},
		{longer, "not one crypt(3)"},
		{"$1$abc", "not one crypt(3)"},
		{"$2b$", "bcrypt cost"},
		{"$2b$xx$abc", "bcrypt cost"},
		{bf_cost, "cost above 15"},
		{"$6$rounds=999999999$salt$abc", "rounds above"},
		{"$5$rounds=$salt$abc", "rounds="},
		{"$y$", "yescrypt parameters"},
		{"$y$j", "yescrypt parameters"},
		{"$y$jFT$salt$hash", "above 64 MiB"},
		{"$y$j9T.$salt$hash", "yescrypt parameters"},
		{"{PLAIN}", "empty password"},
		{"{MD5}abc", "unknown password scheme"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *stored = NULL;
		const char *plain = NULL, *err = NULL;
		int rc = auth_pass_import_field(t[i].field, &stored, &plain,
						&err);
		if (rc != -1)
			fail_msg("%s: rc %d", t[i].field, rc);
		assert_null(stored);
		if (err == NULL || strstr(err, t[i].why) == NULL)
			fail_msg("%s: err \"%s\", want \"%s\"", t[i].field, err,
				 t[i].why);
	}
	free(sha);
	free(bf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_hash_params),
		cmocka_unit_test(test_import_crypt),
		cmocka_unit_test(test_import_argon2),
		cmocka_unit_test(test_import_refused),
		cmocka_unit_test(test_verify_unknown),
		cmocka_unit_test(test_needs_rehash),
		cmocka_unit_test(test_is_scheme),
		cmocka_unit_test(test_field_bare),
		cmocka_unit_test(test_field_plain),
		cmocka_unit_test(test_field_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
