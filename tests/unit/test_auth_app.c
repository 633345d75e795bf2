/* auth_app: the app passwords' format, as made and as typed back. */
#include "unit.h"

#include "auth/auth_app.h"
#include "auth/auth_pass.h"

static int setup(void **state)
{
	return auth_pass_init() < 0 ? -1 : 0;
}

static void test_new(void **state)
{
	char seen[64][AUTH_APP_CHARS + 1];
	for (int i = 0; i < 64; i++) {
		char plain[AUTH_APP_CHARS + 1], shown[AUTH_APP_SHOWN_SIZE];
		char again[AUTH_APP_CHARS + 1];
		auth_app_new(plain, shown);
		cur = shown;
		EXPECT_INT(strlen(plain), AUTH_APP_CHARS);
		EXPECT_INT(strlen(shown), AUTH_APP_SHOWN_SIZE - 1);
		EXPECT_INT(strspn(plain, "abcdefghijkmnpqrstuvwxyz23456789"),
			   AUTH_APP_CHARS);
		for (int g = 1; g < 4; g++)
			EXPECT_INT(shown[g * 5 - 1], '-');
		assert_true(auth_app_normalize(shown, strlen(shown), again));
		EXPECT_STR(again, plain);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(seen[k], plain);
		memcpy(seen[i], plain, sizeof(plain));
	}
}

static void test_normalize(void **state)
{
	static const struct {
		const char *typed, *plain;
	} t[] = {
		{"abcd-efgh-ijkm-npqr", "abcdefghijkmnpqr"},
		{"abcdefghijkmnpqr", "abcdefghijkmnpqr"},
		{"ABCD EFGH IJKM NPQR", "abcdefghijkmnpqr"},
		{"ab-cd efgh--ijkmnp qr", "abcdefghijkmnpqr"},
		{"23456789stuvwxyz", "23456789stuvwxyz"},
		/* Not shaped like one: */
		{"abcd-efgh-ijkm-npq", NULL},
		{"abcd-efgh-ijkm-npqrs", NULL},
		{"abcd-efgh-ijkm-npq0", NULL},	/* 0, 1, l, o are not used */
		{"abcd-efgh-ijkm-npq1", NULL},
		{"abcd-efgh-ijkm-npql", NULL},
		{"abcd-efgh-ijkm-npqo", NULL},
		{"abcd_efgh_ijkm_npqr", NULL},
		{"abcd-efgh-ijkm-npq\xc3\xa4", NULL},
		{"", NULL},
		{"----", NULL},
		{"secret pass", NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char plain[AUTH_APP_CHARS + 1];
		cur = t[i].typed;
		bool ok = auth_app_normalize(t[i].typed, strlen(t[i].typed),
					     plain);
		EXPECT_INT(ok, t[i].plain != NULL);
		if (ok)
			EXPECT_STR(plain, t[i].plain);
	}
	/* A NUL inside is not skipped over. */
	char plain[AUTH_APP_CHARS + 1];
	assert_false(auth_app_normalize("abcdefgh\0ijkmnpqr", 17, plain));
}

static void test_names(void **state)
{
	char max[AUTH_APP_NAME_MAX + 2];
	memset(max, 'a', sizeof(max));
	max[AUTH_APP_NAME_MAX] = '\0';
	static const struct {
		const char *name;
		bool ok;
	} t[] = {
		{"phone", true}, {"Alice-iPhone.2", true}, {"t+b@home_1", true},
		{"", false}, {"a b", false}, {"a/b", false}, {"a\nb", false},
		{"caf\xc3\xa9", false}, {"a\"b", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cur = t[i].name;
		EXPECT_INT(auth_app_name_ok(t[i].name), t[i].ok);
	}
	cur = "64 letters";
	EXPECT_INT(auth_app_name_ok(max), true);
	max[AUTH_APP_NAME_MAX] = 'a';
	max[AUTH_APP_NAME_MAX + 1] = '\0';
	cur = "65 letters";
	EXPECT_INT(auth_app_name_ok(max), false);
}

/* The stored form: "$app$" and BLAKE2b-256 in hex (checked against the
 * hash of Python's hashlib.blake2b(b"abcdefghijkmnpqr",
 * digest_size=32)); verified only by the same 16 characters. */
static void test_hash(void **state)
{
	(void)state;
	char h[AUTH_APP_HASH_SIZE];
	auth_app_hash("abcdefghijkmnpqr", h);
	assert_int_equal(strlen(h), AUTH_APP_HASH_SIZE - 1);
	assert_string_equal(h, "$app$20b0e9d6cfbebf5f7fb9d3dc83b4773c"
			       "b38db679b55d599f82185b2d9e83a5b7");
	assert_true(auth_app_verify("abcdefghijkmnpqr", h));
	assert_false(auth_app_verify("abcdefghijkmnpqs", h));
	assert_false(auth_app_verify("abcdefghijkmnpqr", "$app$00"));
	assert_false(auth_app_verify("abcdefghijkmnpqr", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_hash),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
