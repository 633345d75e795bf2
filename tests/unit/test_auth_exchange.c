/* auth_exchange: whole SASL exchanges against a real store in a fresh
 * directory, driven as a protocol drives them (run on "a worker" is a
 * plain call here): PLAIN, LOGIN, SCRAM-SHA-256 with a client computed
 * with OpenSSL alone, what counts as malformed (BAD) and what as a failed
 * login (FAIL), the made-up answer for a user without a secret, and the
 * secret made at a password login and dropped with a password change. */
#include <crypt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "unit.h"

#include "auth/auth.h"
#include "auth/auth_exchange.h"
#include "auth/auth_pass.h"
#include "auth/auth_scram.h"
#include "core/config.h"
#include "store/store.h"

#define USER "alice@example.com"
#define PW "pencil"

struct fixture {
	char dir[256];
	char data[300];
	struct store *store;
	struct config *cfg;
	struct auth *auth;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;
	if (f == NULL || auth_pass_init() < 0 ||
	    temp_dir(f->dir, sizeof(f->dir), "exchange") < 0)
		return -1;
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->store, &err) < 0 ||
	    store_domain_add(f->store, "example.com", &err) < 0)
		return -1;
	f->cfg = config_new();
	if (config_set(f->cfg, "auth.cache_ttl=0", "test", stderr) < 0 ||
	    config_set(f->cfg, "auth.argon2_memory=8", "test", stderr) < 0 ||
	    config_set(f->cfg, "auth.argon2_passes=1", "test", stderr) < 0)
		return -1;
	f->auth = auth_new(f->store, f->cfg);
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

/* A user with a hash and, when with_scram, its SCRAM secret. */
static void add_user(struct fixture *f, const char *hash, bool with_scram)
{
	const char *err = NULL;
	char *scram = with_scram ? auth_scram_secret_new(PW, strlen(PW), 4096)
				 : NULL;
	struct store_user u = {0, (char *)USER, (char *)hash, 0, (char *)"",
			       scram};
	assert_int_equal(store_user_add(f->store, &u, &err), 1);
	free(scram);
}

static char *argon(const char *pw)
{
	struct auth_pass_params p = {8, 1};
	char *h = auth_pass_hash(pw, strlen(pw), &p);
	assert_non_null(h);
	return h;
}

static char *b64(const char *p, size_t n)
{
	char *out = calloc(1, n * 2 + 8);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
	return out;
}

static char *unb64(const char *p)
{
	size_t n = strlen(p);
	unsigned char *out = calloc(1, n + 8);
	int len = EVP_DecodeBlock(out, (const unsigned char *)p, (int)n);
	assert_true(len >= 0);
	while (n > 0 && p[--n] == '=')
		len--;
	out[len] = '\0';
	return (char *)out;
}

/* Drive x: each WORK runs at once; returns the first status that is not
 * WORK. */
static int drive(struct auth_exchange *x, int st)
{
	while (st == AUTH_EXCHANGE_WORK) {
		auth_exchange_run(x);
		st = auth_exchange_status(x);
	}
	return st;
}

static int feed(struct auth_exchange *x, const char *raw)
{
	char *e = b64(raw, strlen(raw));
	int st = drive(x, auth_exchange_input(x, e, strlen(e)));
	free(e);
	return st;
}

static struct auth_exchange *start(struct fixture *f, const char *mech)
{
	struct auth_exchange *x =
		auth_exchange_new(f->auth, mech, strlen(mech), NULL);
	assert_non_null(x);
	return x;
}

/* A SCRAM-SHA-256 exchange as RFC 5802 3's client; returns the end
 * status, and the salt's length in *salt_len_r. */
static int scram(struct fixture *f, const char *user, const char *pw,
		 size_t *salt_len_r)
{
	struct auth_exchange *x = start(f, "scram-sha-256");
	char first[256], final[512], am[1024];
	unsigned char salted[32], ckey[32], stored[32], sig[32], salt[64];
	unsigned len;
	snprintf(first, sizeof(first), "n,,n=%s,r=clientnonce", user);
	int st = feed(x, first);
	if (st != AUTH_EXCHANGE_CHALLENGE) {
		auth_exchange_free(&x);
		return st;
	}
	char *sf = unb64(auth_exchange_challenge(x));
	char r[128], s[128];
	unsigned iter;
	assert_int_equal(sscanf(sf, "r=%127[^,],s=%127[^,],i=%u", r, s, &iter),
			 3);
	EXPECT(strncmp(r, "clientnonce", 11) == 0 && strlen(r) > 11);
	EXPECT_INT(iter, 4096);
	int slen = EVP_DecodeBlock(salt, (unsigned char *)s, (int)strlen(s));
	slen -= (int)(strchr(s, '=') ? strlen(strchr(s, '=')) : 0);
	*salt_len_r = (size_t)slen;
	PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, slen, (int)iter,
			  EVP_sha256(), 32, salted);
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10,
	     ckey, &len);
	SHA256(ckey, 32, stored);
	snprintf(final, sizeof(final), "c=biws,r=%s", r);
	snprintf(am, sizeof(am), "%s,%s,%s", first + 3, sf, final);
	HMAC(EVP_sha256(), stored, 32, (unsigned char *)am, strlen(am), sig,
	     &len);
	for (int i = 0; i < 32; i++)
		sig[i] ^= ckey[i];
	char *proof = b64((char *)sig, 32);
	snprintf(final + strlen(final), sizeof(final) - strlen(final), ",p=%s",
		 proof);
	st = feed(x, final);
	if (st == AUTH_EXCHANGE_CHALLENGE) {
		char *v = unb64(auth_exchange_challenge(x));
		EXPECT(strncmp(v, "v=", 2) == 0);
		free(v);
		st = drive(x, auth_exchange_input(x, "", 0));
		if (st == AUTH_EXCHANGE_OK)
			EXPECT_STR(auth_exchange_user(x)->address, USER);
	}
	free(proof);
	free(sf);
	auth_exchange_free(&x);
	return st;
}

static void test_plain_and_login(void **state)
{
	struct fixture *f = *state;
	char *h = argon(PW);
	add_user(f, h, true);
	free(h);
	static const char good[] = "\0" USER "\0" PW;
	static const char wrong[] = "\0" USER "\0nope";
	static const char other[] = "bob@example.com\0" USER "\0" PW;
	struct {
		const char *raw;
		size_t len;
		int want;
	} plain[] = {
		{good, sizeof(good) - 1, AUTH_EXCHANGE_OK},
		{wrong, sizeof(wrong) - 1, AUTH_EXCHANGE_FAIL},
		{other, sizeof(other) - 1, AUTH_EXCHANGE_FAIL},
		{"no nuls", 7, AUTH_EXCHANGE_BAD},
		{"", 0, AUTH_EXCHANGE_BAD},
	};
	for (size_t i = 0; i < sizeof(plain) / sizeof(*plain); i++) {
		cur = "PLAIN";
		struct auth_exchange *x = start(f, "PLAIN");
		char *e = b64(plain[i].raw, plain[i].len);
		EXPECT_INT(drive(x, auth_exchange_start(x, e, strlen(e))),
			   plain[i].want);
		free(e);
		auth_exchange_free(&x);
	}
	cur = "PLAIN, bad base64 and cancel";
	struct auth_exchange *x = start(f, "PLAIN");
	EXPECT_INT(auth_exchange_start(x, "=", 1), AUTH_EXCHANGE_BAD);
	EXPECT(auth_exchange_error(x)[0] != '\0');
	auth_exchange_free(&x);
	x = start(f, "PLAIN");
	EXPECT_INT(auth_exchange_start(x, NULL, 0), AUTH_EXCHANGE_CHALLENGE);
	EXPECT_STR(auth_exchange_challenge(x), "");
	EXPECT_INT(auth_exchange_input(x, "*", 1), AUTH_EXCHANGE_CANCEL);
	auth_exchange_free(&x);
	cur = "LOGIN";
	x = start(f, "login");
	EXPECT_STR(auth_exchange_mech(x), "LOGIN");
	EXPECT_INT(auth_exchange_start(x, NULL, 0), AUTH_EXCHANGE_CHALLENGE);
	EXPECT_STR(auth_exchange_challenge(x), "VXNlcm5hbWU6");
	EXPECT_INT(feed(x, USER), AUTH_EXCHANGE_CHALLENGE);
	EXPECT_STR(auth_exchange_challenge(x), "UGFzc3dvcmQ6");
	EXPECT_INT(feed(x, PW), AUTH_EXCHANGE_OK);
	EXPECT_STR(auth_exchange_user(x)->address, USER);
	auth_exchange_free(&x);
	x = start(f, "LOGIN");
	EXPECT_INT(auth_exchange_start(x, "YWxpY2U=", 8), AUTH_EXCHANGE_CHALLENGE);
	EXPECT_STR(auth_exchange_username(x), "alice");
	EXPECT_INT(auth_exchange_input(x, "!!", 2), AUTH_EXCHANGE_BAD);
	auth_exchange_free(&x);
	cur = "mechanisms";
	EXPECT(auth_exchange_new(f->auth, "CRAM-MD5", 8, NULL) == NULL);
	EXPECT(auth_exchange_new(f->auth, "SCRAM-SHA-256-PLUS", 18, NULL) ==
	       NULL);
	EXPECT(auth_exchange_new(f->auth, "PLAINX", 6, NULL) == NULL);
	EXPECT_STR(auth_exchange_mechs(false), "PLAIN LOGIN SCRAM-SHA-256");
}

static void test_scram(void **state)
{
	struct fixture *f = *state;
	size_t salt_len = 0, fake_len = 0;
	char *h = argon(PW);
	add_user(f, h, true);
	free(h);
	cur = "right password";
	EXPECT_INT(scram(f, USER, PW, &salt_len), AUTH_EXCHANGE_OK);
	EXPECT_INT(salt_len, AUTH_SCRAM_SALT_LEN);
	cur = "wrong password";
	EXPECT_INT(scram(f, USER, "pencils", &salt_len), AUTH_EXCHANGE_FAIL);
	cur = "no such user";
	EXPECT_INT(scram(f, "nobody@example.com", PW, &fake_len),
		   AUTH_EXCHANGE_FAIL);
	EXPECT_INT(fake_len, salt_len);
	cur = "malformed";
	struct auth_exchange *x = start(f, "SCRAM-SHA-256");
	EXPECT_INT(feed(x, "n,,r=abc"), AUTH_EXCHANGE_BAD);
	auth_exchange_free(&x);
	x = start(f, "SCRAM-SHA-256");
	EXPECT_INT(auth_exchange_start(x, "#", 1), AUTH_EXCHANGE_BAD);
	auth_exchange_free(&x);
	/* A password change drops the secret with the old password. */
	cur = "password changed";
	char *h2 = argon("other");
	EXPECT_INT(store_user_set_password(f->store, USER, h2), 1);
	free(h2);
	EXPECT_INT(scram(f, USER, PW, &salt_len), AUTH_EXCHANGE_FAIL);
}

/* An imported crypt hash has no secret; a password login makes one. */
static void test_secret_at_login(void **state)
{
	struct fixture *f = *state;
	char setting[CRYPT_GENSALT_OUTPUT_SIZE], field[256];
	struct crypt_data data;
	const char *err = NULL;
	size_t salt_len;
	memset(&data, 0, sizeof(data));
	assert_non_null(crypt_gensalt_rn("$6$", 0, NULL, 0, setting,
					 sizeof(setting)));
	snprintf(field, sizeof(field), "{CRYPT}%s", crypt_r(PW, setting, &data));
	char *h = auth_pass_import(field, &err);
	assert_non_null(h);
	add_user(f, h, false);
	free(h);
	cur = "before";
	EXPECT_INT(scram(f, USER, PW, &salt_len), AUTH_EXCHANGE_FAIL);
	struct store_user u;
	EXPECT_INT(auth_login(f->auth, USER, strlen(USER), PW "x", 7, &u), 0);
	store_user_clear(&u);
	cur = "after a wrong password";
	EXPECT_INT(scram(f, USER, PW, &salt_len), AUTH_EXCHANGE_FAIL);
	EXPECT_INT(auth_login(f->auth, USER, strlen(USER), PW, 6, &u), 1);
	store_user_clear(&u);
	cur = "after a login";
	EXPECT_INT(scram(f, USER, PW, &salt_len), AUTH_EXCHANGE_OK);
	EXPECT_INT(store_user_lookup(f->store, USER, &u), 1);
	EXPECT(strncmp(u.scram, "SCRAM-SHA-256$4096:", 19) == 0);
	store_user_clear(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_and_login, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_scram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_at_login, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
