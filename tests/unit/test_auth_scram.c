/* auth_scram: RFC 7677's example exchange byte for byte, the stored form,
 * the fake secret, and the messages a server must refuse: broken grammar
 * (-1), and a wrong proof, nonce or channel binding (0). */
#include <sodium.h>

#include "unit.h"

#include "auth/auth_scram.h"

/* RFC 7677 section 3, user "user", password "pencil". */
#define SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define CFIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SFIRST "r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=" SALT_B64 ",i=4096"
#define CFINAL_NP "c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE
#define PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define CFINAL CFINAL_NP ",p=" PROOF
#define SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void rfc_secret(struct auth_scram_secret *sec)
{
	unsigned char salt[32];
	size_t n;
	assert_int_equal(sodium_base642bin(salt, sizeof(salt), SALT_B64,
					   strlen(SALT_B64), NULL, &n, NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(auth_scram_secret_make("pencil", 6, 4096, salt, n,
						sec),
			 1);
}

/* Runs client-first and server-first; returns the exchange. */
static struct auth_scram *started(const struct auth_scram_secret *sec,
				  const char *cfirst, bool plus,
				  const unsigned char *cb)
{
	const char *err = NULL;
	struct str out = STR_INIT;
	struct auth_scram *x = auth_scram_new(plus, cb);
	assert_non_null(x);
	cur = cfirst;
	EXPECT_INT(auth_scram_client_first(x, cfirst, strlen(cfirst), &err),
		   1);
	auth_scram_server_first(x, sec, SNONCE, &out);
	str_free(&out);
	return x;
}

static void test_rfc7677(void **state)
{
	(void)state;
	struct auth_scram_secret sec;
	const char *err = NULL;
	struct str out = STR_INIT;
	rfc_secret(&sec);
	struct auth_scram *x = auth_scram_new(false, NULL);
	cur = "rfc 7677";
	EXPECT_INT(auth_scram_client_first(x, CFIRST, strlen(CFIRST), &err), 1);
	EXPECT_STR(auth_scram_user(x), "user");
	auth_scram_server_first(x, &sec, SNONCE, &out);
	EXPECT_STR(out.data, SFIRST);
	str_clear(&out);
	EXPECT_INT(auth_scram_client_final(x, CFINAL, strlen(CFINAL), &out,
					   &err),
		   1);
	EXPECT_STR(out.data, SFINAL);
	/* One exchange, one proof: a replay on it is out of order. */
	EXPECT_INT(auth_scram_client_final(x, CFINAL, strlen(CFINAL), &out,
					   &err),
		   -1);
	auth_scram_free(&x);
	EXPECT(x == NULL);
	str_free(&out);
}

static void test_secret_form(void **state)
{
	(void)state;
	struct auth_scram_secret sec, back;
	struct str text = STR_INIT;
	rfc_secret(&sec);
	auth_scram_secret_format(&sec, &text);
	cur = text.data;
	EXPECT(strncmp(text.data, "SCRAM-SHA-256$4096:" SALT_B64 "$", 44) == 0);
	EXPECT_INT(auth_scram_secret_parse(text.data, &back), 1);
	EXPECT(memcmp(&sec, &back, sizeof(sec)) == 0);
	static const char *const bad[] = {
		"",
		"SCRAM-SHA-1$4096:" SALT_B64 "$AAAA:AAAA",
		"SCRAM-SHA-256$4095:" SALT_B64 "$",
		"SCRAM-SHA-256$99999999999999999999:" SALT_B64 "$",
		"SCRAM-SHA-256$4096:" SALT_B64 "$AAAA:AAAA",
		"SCRAM-SHA-256$4096:$",
		"$argon2id$v=19$m=19456,t=2,p=1$abc$def",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cur = bad[i];
		EXPECT_INT(auth_scram_secret_parse(bad[i], &back), 0);
	}
	/* Cut anywhere, the stored form is refused. */
	for (size_t n = 0; n < text.len; n++) {
		char *cut = strndup(text.data, n);
		cur = cut;
		EXPECT_INT(auth_scram_secret_parse(cut, &back), 0);
		free(cut);
	}
	str_free(&text);
}

static void test_secret_refused(void **state)
{
	(void)state;
	struct auth_scram_secret sec;
	static const char *const bad[] = {"caf\xc3\xa9", "tab\there",
					  "nul\x7f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cur = bad[i];
		EXPECT_INT(auth_scram_secret_make(bad[i], strlen(bad[i]), 4096,
						  NULL, 0, &sec),
			   0);
	}
	cur = "few iterations";
	EXPECT_INT(auth_scram_secret_make("pencil", 6, 1000, NULL, 0, &sec), 0);
	cur = "random salt";
	struct auth_scram_secret a, b;
	EXPECT_INT(auth_scram_secret_make("pencil", 6, 4096, NULL, 0, &a), 1);
	EXPECT_INT(auth_scram_secret_make("pencil", 6, 4096, NULL, 0, &b), 1);
	EXPECT_INT(a.salt_len, AUTH_SCRAM_SALT_LEN);
	EXPECT(memcmp(a.salt, b.salt, a.salt_len) != 0);
}

static void test_fake(void **state)
{
	(void)state;
	unsigned char key[AUTH_SCRAM_KEY_LEN] = {1, 2, 3};
	struct auth_scram_secret a, b, c;
	auth_scram_secret_fake(key, "nobody@example.com", 4096, &a);
	auth_scram_secret_fake(key, "nobody@example.com", 4096, &b);
	auth_scram_secret_fake(key, "other@example.com", 4096, &c);
	cur = "fake";
	EXPECT(memcmp(&a, &b, sizeof(a)) == 0);
	EXPECT(memcmp(a.salt, c.salt, AUTH_SCRAM_SALT_LEN) != 0);
	EXPECT_INT(a.iterations, 4096);
	EXPECT_INT(a.salt_len, AUTH_SCRAM_SALT_LEN);
	/* RFC 7677's right proof fails against it. */
	struct auth_scram *x = started(&a, CFIRST, false, NULL);
	struct str out = STR_INIT;
	const char *err;
	EXPECT_INT(auth_scram_client_final(x, CFINAL, strlen(CFINAL), &out,
					   &err),
		   0);
	EXPECT_INT(out.len, 0);
	auth_scram_free(&x);
}

static void test_client_first(void **state)
{
	(void)state;
	static const unsigned char cb[AUTH_SCRAM_CB_LEN] = {9};
	static const struct {
		const char *in;
		bool plus, cb;
		int rc;
		const char *user;
	} cases[] = {
		{CFIRST, false, false, 1, "user"},
		{"y,,n=user,r=abc", false, false, 1, "user"},
		{"n,a=user,n=user,r=abc", false, false, 1, "user"},
		{"n,,n=us=2Cer=3D,r=abc", false, false, 1, "us,er="},
		{"n,,n=user,r=abc,x=ext,y=more", false, false, 1, "user"},
		{"p=tls-exporter,,n=user,r=abc", true, true, 1, "user"},
		{"n,,n=caf\xc3\xa9,r=abc", false, false, 1, NULL},
		/* -1: grammar and what we do not do. */
		{"", false, false, -1, NULL},
		{"n", false, false, -1, NULL},
		{"n,,", false, false, -1, NULL},
		{"x,,n=user,r=abc", false, false, -1, NULL},
		{"n,n=user,r=abc", false, false, -1, NULL},
		{"n,,n=,r=abc", false, false, -1, NULL},
		{"n,,n=user,r=", false, false, -1, NULL},
		{"n,,n=user", false, false, -1, NULL},
		{"n,,r=abc,n=user", false, false, -1, NULL},
		{"n,,n=us=2Xer,r=abc", false, false, -1, NULL},
		{"n,,n=user=,r=abc", false, false, -1, NULL},
		{"n,,n=us=2cer,r=abc", false, false, -1, NULL},
		{"n,,n=user,r=a b", false, false, -1, NULL},
		{"n,,n=user,r=abc,", false, false, -1, NULL},
		{"n,,n=user,r=abc,x", false, false, -1, NULL},
		{"n,,n=user,r=abc,1=x", false, false, -1, NULL},
		{"n,,m=ext,n=user,r=abc", false, false, -1, NULL},
		{"n,a=other,n=user,r=abc", false, false, -1, NULL},
		{"n,a=,n=user,r=abc", false, false, -1, NULL},
		/* Channel binding that does not fit the mechanism. */
		{"p=tls-exporter,,n=user,r=abc", false, false, -1, NULL},
		{"p=tls-unique,,n=user,r=abc", true, true, -1, NULL},
		{"p=tls-server-end-point,,n=user,r=abc", true, true, -1, NULL},
		{"n,,n=user,r=abc", true, true, -1, NULL},
		{"y,,n=user,r=abc", true, true, -1, NULL},
		/* "y" where the server could bind: a downgrade. */
		{"y,,n=user,r=abc", false, true, -1, NULL},
		{"n,,n=user,r=abc", false, true, 1, "user"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *err = NULL;
		cur = cases[i].in;
		struct auth_scram *x =
			auth_scram_new(cases[i].plus, cases[i].cb ? cb : NULL);
		assert_non_null(x);
		EXPECT_INT(auth_scram_client_first(x, cases[i].in,
						   strlen(cases[i].in), &err),
			   cases[i].rc);
		if (cases[i].rc < 0)
			EXPECT(err != NULL);
		if (cases[i].user == NULL)
			EXPECT(auth_scram_user(x) == NULL);
		else
			EXPECT_STR(auth_scram_user(x), cases[i].user);
		auth_scram_free(&x);
	}
	cur = "-PLUS without binding data";
	EXPECT(auth_scram_new(true, NULL) == NULL);
	/* A NUL inside is refused, wherever it is. */
	for (size_t i = 0; i < strlen(CFIRST); i++) {
		char m[64];
		memcpy(m, CFIRST, sizeof(CFIRST));
		m[i] = '\0';
		const char *err;
		struct auth_scram *x = auth_scram_new(false, NULL);
		cur = "NUL";
		EXPECT_INT(auth_scram_client_first(x, m, strlen(CFIRST), &err),
			   -1);
		auth_scram_free(&x);
	}
}

static void test_client_final(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
	} cases[] = {
		{CFINAL, 1},
		/* 0: wrong proof, nonce or binding (the extensions are
		 * fine, but the proof covers them). */
		{CFINAL_NP ",x=ext,y=ext2,p=" PROOF, 0},
		{CFINAL_NP ",p=AHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", 0},
		{"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" PROOF, 0},
		{"c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE "x,p=" PROOF, 0},
		{"c=eSws,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",p=" PROOF, 0},
		{"c=bixh,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",p=" PROOF, 0},
		/* -1: grammar. */
		{"", -1},
		{CFINAL_NP, -1},
		{"r=rOprNGfwEbeRWgbNEkqO" SNONCE ",c=biws,p=" PROOF, -1},
		{"c=biws,p=" PROOF, -1},
		{CFINAL_NP ",p=" PROOF ",x=ext", -1},
		{CFINAL_NP ",p=dHzbZapWIk4jUhN", -1},
		{CFINAL_NP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", -1},
		{CFINAL_NP ",p=" PROOF "AAAA", -1},
		{CFINAL_NP ",p=*HzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", -1},
		{CFINAL_NP ",,p=" PROOF, -1},
		{CFINAL_NP ",1=x,p=" PROOF, -1},
		{"c=biws,x=y,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",p=" PROOF, -1},
	};
	struct auth_scram_secret sec;
	rfc_secret(&sec);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct auth_scram *x = started(&sec, CFIRST, false, NULL);
		struct str out = STR_INIT;
		const char *err = NULL;
		cur = cases[i].in;
		int rc = auth_scram_client_final(x, cases[i].in,
						 strlen(cases[i].in), &out,
						 &err);
		EXPECT_INT(rc, cases[i].rc);
		if (rc <= 0)
			EXPECT_INT(out.len, 0);
		auth_scram_free(&x);
		str_free(&out);
	}
	/* Every proper prefix of the right message is refused. */
	for (size_t n = 0; n < strlen(CFINAL); n++) {
		struct auth_scram *x = started(&sec, CFIRST, false, NULL);
		struct str out = STR_INIT;
		const char *err = NULL;
		char *cut = strndup(CFINAL, n);
		cur = cut;
		EXPECT_INT(auth_scram_client_final(x, cut, n, &out, &err), -1);
		free(cut);
		auth_scram_free(&x);
		str_free(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677),
		cmocka_unit_test(test_secret_form),
		cmocka_unit_test(test_secret_refused),
		cmocka_unit_test(test_fake),
		cmocka_unit_test(test_client_first),
		cmocka_unit_test(test_client_final),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
