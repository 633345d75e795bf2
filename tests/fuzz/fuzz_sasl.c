/* Fuzz the SASL decoders: PLAIN, LOGIN's base64 values, and SCRAM's
 * client-first and client-final messages.  The first byte picks one.
 *
 * Invariants:
 * - PLAIN: 1 gives a non-empty user without NUL and a password without
 *   NUL; encoding them again parses to the same; 0 names the authcid.
 * - base64: what decodes encodes and decodes again to the same bytes.
 * - SCRAM client-first: -1 comes with a reason; 1 gives a user that is
 *   printable ASCII (or none, when it is not), and the server-first that
 *   follows carries the client's nonce first.  The rest of the input as a
 *   client-final never passes without the right proof: 1 only with a
 *   server-final "v=".
 * - SCRAM round trip: for the client-first in the input, a client-final
 *   computed here as RFC 5802 says is accepted, and the same with one
 *   proof bit flipped is refused. */
#include <openssl/evp.h>
#include <sodium.h>

#include "fuzz.h"

#include "auth/auth_sasl.h"
#include "auth/auth_scram.h"

static struct auth_scram_secret secret;
static unsigned char salted[32];

static void init(void)
{
	static int done;
	if (done++)
		return;
	if (sodium_init() < 0)
		abort();
	static const unsigned char salt[] = "fuzzsalt";
	CHECK(auth_scram_secret_make("pencil", 6, 4096, salt, 8, &secret) == 1);
	CHECK(PKCS5_PBKDF2_HMAC("pencil", 6, salt, 8, 4096, EVP_sha256(), 32,
				salted) == 1);
}

static void b64(struct str *out, const void *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *dst = str_reserve(out, cap);
	sodium_bin2base64(dst, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	str_commit(out, strlen(dst));
}

static void fuzz_plain(const char *in, size_t len)
{
	char user[400], pass[AUTH_SASL_PASSWORD_MAX], user2[400];
	char pass2[AUTH_SASL_PASSWORD_MAX];
	size_t plen = 0, plen2 = 0;
	int rc = auth_sasl_plain_parse(in, len, user, sizeof(user), pass, &plen);
	CHECK(rc >= -1 && rc <= 1);
	if (rc < 0)
		return;
	CHECK(user[0] != '\0' && strlen(user) < sizeof(user));
	if (rc == 0)
		return;
	CHECK(plen <= AUTH_SASL_PASSWORD_MAX && memchr(pass, '\0', plen) == NULL);
	struct str raw = STR_INIT, enc = STR_INIT;
	str_appendc(&raw, '\0');
	str_appends(&raw, user);
	str_appendc(&raw, '\0');
	str_append(&raw, pass, plen);
	b64(&enc, raw.data, raw.len);
	CHECK(auth_sasl_plain_parse(enc.data, enc.len, user2, sizeof(user2),
				    pass2, &plen2) == 1);
	CHECK(strcmp(user, user2) == 0 && plen == plen2 &&
	      memcmp(pass, pass2, plen) == 0);
	str_free(&raw);
	str_free(&enc);
}

static void fuzz_base64(const char *in, size_t len)
{
	char out[600], again[600];
	size_t n, n2;
	if (auth_sasl_base64(in, len, out, sizeof(out), &n) != 1)
		return;
	CHECK(n < sizeof(out) && out[n] == '\0');
	struct str enc = STR_INIT;
	b64(&enc, out, n);
	CHECK(auth_sasl_base64(enc.data, enc.len, again, sizeof(again), &n2) ==
	      1);
	CHECK(n == n2 && memcmp(out, again, n) == 0);
	str_free(&enc);
}

static void hmac(const unsigned char *key, size_t klen, const void *p,
		 size_t n, unsigned char out[32])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, p, n);
	crypto_auth_hmacsha256_final(&st, out);
}

/* The client-final for client-first "n,,<bare>", proof bit `flip`
 * flipped (-1: none). */
static void client_final(const char *bare, size_t blen, const struct str *sf,
			 int flip, struct str *out)
{
	unsigned char ckey[32], stored[32], sig[32];
	struct str am = STR_INIT;
	const char *r = sf->data + 2;
	size_t rlen = strcspn(r, ",");
	str_clear(out);
	str_printf(out, "c=biws,r=%.*s", (int)rlen, r);
	str_append(&am, bare, blen);
	str_appendc(&am, ',');
	str_append(&am, sf->data, sf->len);
	str_appendc(&am, ',');
	str_append(&am, out->data, out->len);
	hmac(salted, 32, "Client Key", 10, ckey);
	crypto_hash_sha256(stored, ckey, 32);
	hmac(stored, 32, am.data, am.len, sig);
	for (int i = 0; i < 32; i++)
		sig[i] ^= ckey[i];
	if (flip >= 0)
		sig[(flip / 8) % 32] ^= (unsigned char)(1u << (flip % 8));
	str_appends(out, ",p=");
	b64(out, sig, 32);
	str_free(&am);
}

/* Bytes of s[0..n) before the first ','. */
static size_t strcspn_n(const char *s, size_t n)
{
	const char *c = memchr(s, ',', n);
	return c ? (size_t)(c - s) : n;
}

/* Input: flags byte, then client-first, NUL, client-final. */
static void fuzz_scram(const unsigned char *data, size_t len)
{
	static const unsigned char cb[AUTH_SCRAM_CB_LEN] = {1, 2, 3};
	if (len < 1)
		return;
	bool plus = data[0] & 1, bind = (data[0] & 2) || plus;
	const char *in = (const char *)data + 1;
	len--;
	const char *nul = memchr(in, '\0', len);
	size_t flen = nul ? (size_t)(nul - in) : len;
	struct auth_scram *x = auth_scram_new(plus, bind ? cb : NULL);
	const char *err = NULL;
	char *first = fuzz_copy(in, flen);
	int rc = auth_scram_client_first(x, first, flen, &err);
	CHECK(rc == 1 || (rc == -1 && err != NULL));
	if (rc == 1) {
		const char *u = auth_scram_user(x);
		for (; u != NULL && *u; u++)
			CHECK(*u >= 0x20 && *u <= 0x7e);
		struct str sf = STR_INIT, sfin = STR_INIT;
		auth_scram_server_first(x, &secret, NULL, &sf);
		CHECK(strncmp(sf.data, "r=", 2) == 0);
		/* The nonce follows the user name, which has no ','. */
		const char *cn = memmem(first, flen, ",r=", 3);
		CHECK(cn != NULL);
		cn += 3;
		size_t cnlen = strcspn_n(cn, (size_t)(first + flen - cn));
		CHECK(sf.len > 2 + cnlen && memcmp(sf.data + 2, cn, cnlen) == 0);
		if (nul != NULL) {
			size_t rest = len - flen - 1;
			char *fin = fuzz_copy(nul + 1, rest);
			rc = auth_scram_client_final(x, fin, rest, &sfin, &err);
			CHECK(rc >= -1 && rc <= 1);
			CHECK(rc != 1 || strncmp(sfin.data, "v=", 2) == 0);
			CHECK(rc == 1 || sfin.len == 0);
			free(fin);
		}
		str_free(&sf);
		str_free(&sfin);
	}
	auth_scram_free(&x);
	/* Round trip, when the input was a plain "n,," exchange start. */
	if (rc == 1 && flen > 3 && memcmp(first, "n,,", 3) == 0 && !bind) {
		for (int flip = -1; flip < 1; flip++) {
			struct str sf = STR_INIT, fin = STR_INIT, v = STR_INIT;
			x = auth_scram_new(false, NULL);
			CHECK(auth_scram_client_first(x, first, flen, &err) == 1);
			auth_scram_server_first(x, &secret, NULL, &sf);
			client_final(first + 3, flen - 3, &sf,
				     flip < 0 ? -1 : data[0], &fin);
			int want = flip < 0 ? 1 : 0;
			CHECK(auth_scram_client_final(x, fin.data, fin.len, &v,
						      &err) == want);
			auth_scram_free(&x);
			str_free(&sf);
			str_free(&fin);
			str_free(&v);
		}
	}
	free(first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size < 1)
		return 0;
	char *in = fuzz_copy(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		fuzz_plain(in, size - 1);
		break;
	case 1:
		fuzz_base64(in, size - 1);
		break;
	default:
		fuzz_scram((const unsigned char *)in, size - 1);
		break;
	}
	free(in);
	return 0;
}
