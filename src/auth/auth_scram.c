/* SCRAM-SHA-256 server steps.  The grammar is RFC 5802 section 7; every
 * message is taken whole and refused at the first byte that does not fit
 * it, since a lenient SCRAM parser is where downgrades hide. */
#include "auth/auth_scram.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define PREFIX "SCRAM-SHA-256$"
/* Server nonce: 18 random bytes are 24 base64 characters, no padding. */
#define SNONCE_BYTES 18

enum scram_state { SCRAM_START, SCRAM_FIRST, SCRAM_SENT, SCRAM_DONE };

struct auth_scram {
	enum scram_state state;
	bool plus;
	bool have_cb;
	unsigned char cb[AUTH_SCRAM_CB_LEN];
	char gs2[AUTH_SCRAM_USER_MAX * 3 + 32];	/* the gs2-header as sent */
	size_t gs2_len;
	char user[AUTH_SCRAM_USER_MAX + 1];
	bool user_ok;		/* user survives SASLprep unchanged */
	char nonce[AUTH_SCRAM_NONCE_MAX + 64];	/* client's, then both */
	struct str auth_message;
	struct auth_scram_secret sec;
};

static void hmac(const unsigned char *key, size_t klen, const void *data,
		 size_t dlen, unsigned char out[AUTH_SCRAM_KEY_LEN])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, data, dlen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static void b64_append(struct str *out, const unsigned char *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *dst = str_reserve(out, cap);
	sodium_bin2base64(dst, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	str_commit(out, strlen(dst));
}

/* Strict base64 (padding required) of exactly text[0..n); the decoded
 * length into *len_r.  Returns 1, or 0 when not base64 or too long. */
static int b64_decode(const char *text, size_t n, unsigned char *out,
		      size_t size, size_t *len_r)
{
	const char *end = NULL;
	if (sodium_base642bin(out, size, text, n, NULL, len_r, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != text + n)
		return 0;
	return 1;
}

/* SASLprep (RFC 4013) leaves printable ASCII and the space unchanged and
 * refuses controls; what lies beyond ASCII would need its tables, so it
 * is refused too rather than hashed unnormalised. */
static bool ascii_prepped(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

int auth_scram_secret_make(const char *password, size_t plen,
			   unsigned iterations, const unsigned char *salt,
			   size_t salt_len, struct auth_scram_secret *sec_r)
{
	unsigned char salted[AUTH_SCRAM_KEY_LEN], client_key[AUTH_SCRAM_KEY_LEN];
	memset(sec_r, 0, sizeof(*sec_r));
	if (!ascii_prepped(password, plen) || plen > 4096 ||
	    iterations < AUTH_SCRAM_ITER_MIN ||
	    iterations > AUTH_SCRAM_ITER_MAX || salt_len > AUTH_SCRAM_SALT_MAX)
		return 0;
	if (salt != NULL) {
		memcpy(sec_r->salt, salt, salt_len);
		sec_r->salt_len = salt_len;
	} else {
		randombytes_buf(sec_r->salt, AUTH_SCRAM_SALT_LEN);
		sec_r->salt_len = AUTH_SCRAM_SALT_LEN;
	}
	sec_r->iterations = iterations;
	if (PKCS5_PBKDF2_HMAC(password, (int)plen, sec_r->salt,
			      (int)sec_r->salt_len, (int)iterations,
			      EVP_sha256(), sizeof(salted), salted) != 1)
		return 0;
	hmac(salted, sizeof(salted), "Client Key", 10, client_key);
	crypto_hash_sha256(sec_r->stored_key, client_key, sizeof(client_key));
	hmac(salted, sizeof(salted), "Server Key", 10, sec_r->server_key);
	sodium_memzero(salted, sizeof(salted));
	sodium_memzero(client_key, sizeof(client_key));
	return 1;
}

char *auth_scram_secret_new(const char *password, size_t plen,
			    unsigned iterations)
{
	struct auth_scram_secret sec;
	struct str text = STR_INIT;
	if (auth_scram_secret_make(password, plen, iterations, NULL, 0,
				   &sec) != 1)
		return NULL;
	auth_scram_secret_format(&sec, &text);
	sodium_memzero(&sec, sizeof(sec));
	return text.data;
}

void auth_scram_secret_format(const struct auth_scram_secret *sec,
			      struct str *out)
{
	str_printf(out, PREFIX "%u:", sec->iterations);
	b64_append(out, sec->salt, sec->salt_len);
	str_appendc(out, '$');
	b64_append(out, sec->stored_key, AUTH_SCRAM_KEY_LEN);
	str_appendc(out, ':');
	b64_append(out, sec->server_key, AUTH_SCRAM_KEY_LEN);
}

/* One base64 field of the stored form, ending at `stop` or the end. */
static const char *parse_key(const char *p, char stop, unsigned char *out,
			     size_t size, size_t *len_r)
{
	const char *e = stop ? strchr(p, stop) : p + strlen(p);
	if (e == NULL || !b64_decode(p, (size_t)(e - p), out, size, len_r))
		return NULL;
	return stop ? e + 1 : e;
}

int auth_scram_secret_parse(const char *text, struct auth_scram_secret *sec_r)
{
	memset(sec_r, 0, sizeof(*sec_r));
	if (text == NULL || strncmp(text, PREFIX, strlen(PREFIX)) != 0)
		return 0;
	const char *p = text + strlen(PREFIX);
	unsigned long iter = 0;
	for (; *p >= '0' && *p <= '9' && iter <= AUTH_SCRAM_ITER_MAX; p++)
		iter = iter * 10 + (unsigned long)(*p - '0');
	size_t n1, n2, n3;
	if (*p++ != ':' || iter < AUTH_SCRAM_ITER_MIN ||
	    iter > AUTH_SCRAM_ITER_MAX ||
	    (p = parse_key(p, '$', sec_r->salt, sizeof(sec_r->salt), &n1)) ==
		    NULL ||
	    (p = parse_key(p, ':', sec_r->stored_key, AUTH_SCRAM_KEY_LEN,
			   &n2)) == NULL ||
	    (p = parse_key(p, 0, sec_r->server_key, AUTH_SCRAM_KEY_LEN,
			   &n3)) == NULL ||
	    n1 == 0 || n2 != AUTH_SCRAM_KEY_LEN || n3 != AUTH_SCRAM_KEY_LEN) {
		memset(sec_r, 0, sizeof(*sec_r));
		return 0;
	}
	sec_r->iterations = (unsigned)iter;
	sec_r->salt_len = n1;
	return 1;
}

void auth_scram_secret_fake(const unsigned char key[AUTH_SCRAM_KEY_LEN],
			    const char *user, unsigned iterations,
			    struct auth_scram_secret *sec_r)
{
	unsigned char buf[AUTH_SCRAM_KEY_LEN];
	struct str in = STR_INIT;
	memset(sec_r, 0, sizeof(*sec_r));
	str_printf(&in, "salt\n%s", user);
	hmac(key, AUTH_SCRAM_KEY_LEN, in.data, in.len, buf);
	memcpy(sec_r->salt, buf, AUTH_SCRAM_SALT_LEN);
	sec_r->salt_len = AUTH_SCRAM_SALT_LEN;
	str_clear(&in);
	str_printf(&in, "keys\n%s", user);
	hmac(key, AUTH_SCRAM_KEY_LEN, in.data, in.len, sec_r->stored_key);
	hmac(sec_r->stored_key, AUTH_SCRAM_KEY_LEN, "server", 6,
	     sec_r->server_key);
	sec_r->iterations = iterations;
	str_free(&in);
}

struct auth_scram *auth_scram_new(bool plus, const unsigned char *cb_data)
{
	if (plus && cb_data == NULL)
		return NULL;
	struct auth_scram *x = xcalloc(1, sizeof(*x));
	x->plus = plus;
	if (cb_data != NULL) {
		x->have_cb = true;
		memcpy(x->cb, cb_data, AUTH_SCRAM_CB_LEN);
	}
	return x;
}

void auth_scram_free(struct auth_scram **xp)
{
	struct auth_scram *x = *xp;
	if (x == NULL)
		return;
	str_free(&x->auth_message);
	sodium_memzero(x, sizeof(*x));
	free(x);
	*xp = NULL;
}

/* ---- client-first-message ---- */

/* saslname = 1*(value-safe-char / "=2C" / "=3D"), up to the next ','
 * (or the end).  Unescaped into out (size bytes with the NUL); returns
 * the bytes taken from s, or -1. */
static long saslname(const char *s, size_t n, char *out, size_t size)
{
	size_t i = 0, o = 0;
	for (; i < n && s[i] != ','; o++) {
		if (o + 1 >= size || s[i] == '\0')
			return -1;
		if (s[i] != '=') {
			out[o] = s[i++];
			continue;
		}
		bool comma = i + 3 <= n && s[i + 1] == '2' && s[i + 2] == 'C';
		bool equals = i + 3 <= n && s[i + 1] == '3' && s[i + 2] == 'D';
		if (!comma && !equals)
			return -1;
		out[o] = equals ? '=' : ',';
		i += 3;
	}
	if (o == 0)
		return -1;
	out[o] = '\0';
	return (long)i;
}

/* attr-val = ALPHA "=" value, value = 1*(any byte but ',' and NUL). */
static bool attr_val(const char *s, size_t n)
{
	if (n < 3 || s[1] != '=' ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	return memchr(s, '\0', n) == NULL && memchr(s, ',', n) == NULL;
}

/* Optional extensions after the nonce: "," attr-val, to the end. */
static bool extensions(const char *s, size_t n)
{
	while (n > 0) {
		if (s[0] != ',')
			return false;
		const char *next = memchr(s + 1, ',', n - 1);
		size_t len = next ? (size_t)(next - s - 1) : n - 1;
		if (!attr_val(s + 1, len))
			return false;
		s += len + 1;
		n -= len + 1;
	}
	return true;
}

/* gs2-header: gs2-cbind-flag "," [authzid] ","; bytes taken, or -1. */
static long gs2_header(struct auth_scram *x, const char *m, size_t n,
		       char *authzid, const char **err_r)
{
	size_t i;
	if (n >= 2 && (m[0] == 'n' || m[0] == 'y') && m[1] == ',') {
		i = 2;
		if (x->plus) {
			*err_r = "-PLUS without channel binding";
			return -1;
		}
		if (m[0] == 'y' && x->have_cb) {
			*err_r = "channel binding downgrade (y)";
			return -1;
		}
	} else if (n >= 2 && m[0] == 'p' && m[1] == '=') {
		static const char name[] = "tls-exporter,";
		if (!x->plus || n < 2 + strlen(name) ||
		    memcmp(m + 2, name, strlen(name)) != 0) {
			*err_r = "unsupported channel binding";
			return -1;
		}
		i = 2 + strlen(name);
	} else {
		*err_r = "bad gs2 header";
		return -1;
	}
	authzid[0] = '\0';
	if (i + 2 <= n && m[i] == 'a' && m[i + 1] == '=') {
		long k = saslname(m + i + 2, n - i - 2, authzid,
				  AUTH_SCRAM_USER_MAX + 1);
		if (k < 0) {
			*err_r = "bad authzid";
			return -1;
		}
		i += 2 + (size_t)k;
	}
	if (i >= n || m[i] != ',') {
		*err_r = "bad gs2 header";
		return -1;
	}
	return (long)i + 1;
}

/* client-first-message-bare, without extensions' meaning: we know none,
 * and refuse a mandatory one (m=). */
static int first_bare(struct auth_scram *x, const char *m, size_t n,
		      const char **err_r)
{
	*err_r = "bad client-first-message";
	if (n >= 2 && m[0] == 'm' && m[1] == '=') {
		*err_r = "mandatory extension";
		return -1;
	}
	if (n < 2 || m[0] != 'n' || m[1] != '=')
		return -1;
	long k = saslname(m + 2, n - 2, x->user, sizeof(x->user));
	if (k < 0)
		return -1;
	size_t i = 2 + (size_t)k;
	if (i + 3 > n || memcmp(m + i, ",r=", 3) != 0)
		return -1;
	i += 3;
	size_t start = i;
	while (i < n && m[i] != ',' && m[i] >= 0x21 && m[i] <= 0x7e)
		i++;
	if (i == start || i - start > AUTH_SCRAM_NONCE_MAX ||
	    (i < n && m[i] != ',') || !extensions(m + i, n - i))
		return -1;
	memcpy(x->nonce, m + start, i - start);
	x->nonce[i - start] = '\0';
	x->user_ok = ascii_prepped(x->user, strlen(x->user));
	return 1;
}

int auth_scram_client_first(struct auth_scram *x, const char *msg,
			    size_t len, const char **err_r)
{
	char authzid[AUTH_SCRAM_USER_MAX + 1];
	if (x->state != SCRAM_START) {
		*err_r = "out of order";
		return -1;
	}
	if (len > AUTH_SCRAM_MESSAGE_MAX || memchr(msg, '\0', len) != NULL) {
		*err_r = "bad client-first-message";
		return -1;
	}
	long g = gs2_header(x, msg, len, authzid, err_r);
	if (g < 0 || (size_t)g > sizeof(x->gs2))
		return -1;
	if (first_bare(x, msg + g, len - (size_t)g, err_r) < 0)
		return -1;
	if (authzid[0] != '\0' && strcmp(authzid, x->user) != 0) {
		*err_r = "authzid differs from the user";
		return -1;
	}
	memcpy(x->gs2, msg, (size_t)g);
	x->gs2_len = (size_t)g;
	str_append(&x->auth_message, msg + g, len - (size_t)g);
	x->state = SCRAM_FIRST;
	return 1;
}

const char *auth_scram_user(const struct auth_scram *x)
{
	return x->state != SCRAM_START && x->user_ok ? x->user : NULL;
}

void auth_scram_server_first(struct auth_scram *x,
			     const struct auth_scram_secret *sec,
			     const char *snonce, struct str *out)
{
	char mine[sodium_base64_ENCODED_LEN(SNONCE_BYTES,
					    sodium_base64_VARIANT_ORIGINAL)];
	if (snonce == NULL) {
		unsigned char raw[SNONCE_BYTES];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(mine, sizeof(mine), raw, sizeof(raw),
				  sodium_base64_VARIANT_ORIGINAL);
		snonce = mine;
	}
	size_t have = strlen(x->nonce);
	size_t room = sizeof(x->nonce) - have - 1;
	size_t add = strlen(snonce) < room ? strlen(snonce) : room;
	memcpy(x->nonce + have, snonce, add);
	x->nonce[have + add] = '\0';
	x->sec = *sec;
	size_t from = out->len;
	str_printf(out, "r=%s,s=", x->nonce);
	b64_append(out, sec->salt, sec->salt_len);
	str_printf(out, ",i=%u", sec->iterations);
	str_appendc(&x->auth_message, ',');
	str_append(&x->auth_message, out->data + from, out->len - from);
	x->state = SCRAM_SENT;
}

/* ---- client-final-message ---- */

/* Whether c= carries our gs2-header and, for -PLUS, our binding. */
static bool binding_ok(const struct auth_scram *x, const char *b64, size_t n)
{
	unsigned char got[sizeof(x->gs2) + AUTH_SCRAM_CB_LEN];
	unsigned char want[sizeof(got)];
	size_t glen, wlen = x->gs2_len;
	if (!b64_decode(b64, n, got, sizeof(got), &glen))
		return false;
	memcpy(want, x->gs2, x->gs2_len);
	if (x->plus) {
		memcpy(want + wlen, x->cb, AUTH_SCRAM_CB_LEN);
		wlen += AUTH_SCRAM_CB_LEN;
	}
	return glen == wlen && sodium_memcmp(got, want, wlen) == 0;
}

/* The proof against the stored key: H(proof XOR HMAC(StoredKey, AM)). */
static bool proof_ok(struct auth_scram *x, const unsigned char *proof)
{
	unsigned char sig[AUTH_SCRAM_KEY_LEN], stored[AUTH_SCRAM_KEY_LEN];
	hmac(x->sec.stored_key, AUTH_SCRAM_KEY_LEN, x->auth_message.data,
	     x->auth_message.len, sig);
	for (size_t i = 0; i < AUTH_SCRAM_KEY_LEN; i++)
		sig[i] ^= proof[i];
	crypto_hash_sha256(stored, sig, sizeof(sig));
	bool ok = sodium_memcmp(stored, x->sec.stored_key,
				AUTH_SCRAM_KEY_LEN) == 0;
	sodium_memzero(sig, sizeof(sig));
	return ok;
}

/* Splits "c=...,r=...[,ext...],p=..." into its fields; -1 if it is not
 * that shape. */
static int final_fields(const char *m, size_t n, size_t *c_end,
			size_t *r_end, size_t *p_start)
{
	const char *c = memchr(m, ',', n);
	const char *last = memrchr(m, ',', n);
	if (n < 2 || memcmp(m, "c=", 2) != 0 || c == NULL || c == last)
		return -1;
	*c_end = (size_t)(c - m);
	*p_start = (size_t)(last - m) + 1;
	const char *r = c + 1;
	size_t rest = *p_start - 1 - (size_t)(r - m);
	const char *r2 = memchr(r, ',', rest);
	*r_end = r2 ? (size_t)(r2 - m) : *p_start - 1;
	if (rest < 2 || memcmp(r, "r=", 2) != 0 || n - *p_start < 2 ||
	    memcmp(m + *p_start, "p=", 2) != 0 ||
	    !extensions(m + *r_end, *p_start - 1 - *r_end))
		return -1;
	return 1;
}

int auth_scram_client_final(struct auth_scram *x, const char *msg,
			    size_t len, struct str *out, const char **err_r)
{
	size_t c_end, r_end, p_start, plen;
	unsigned char proof[AUTH_SCRAM_KEY_LEN + 3];
	*err_r = "bad client-final-message";
	if (x->state != SCRAM_SENT) {
		*err_r = "out of order";
		return -1;
	}
	if (len > AUTH_SCRAM_MESSAGE_MAX || memchr(msg, '\0', len) != NULL ||
	    final_fields(msg, len, &c_end, &r_end, &p_start) < 0 ||
	    !b64_decode(msg + p_start + 2, len - p_start - 2, proof,
			sizeof(proof), &plen) ||
	    plen != AUTH_SCRAM_KEY_LEN)
		return -1;
	x->state = SCRAM_DONE;
	size_t rlen = r_end - c_end - 3;
	bool nonce_ok = rlen == strlen(x->nonce) &&
			memcmp(msg + c_end + 3, x->nonce, rlen) == 0;
	if (!nonce_ok || !binding_ok(x, msg + 2, c_end - 2))
		return 0;
	str_appendc(&x->auth_message, ',');
	str_append(&x->auth_message, msg, p_start - 1);
	if (!proof_ok(x, proof))
		return 0;
	unsigned char sig[AUTH_SCRAM_KEY_LEN];
	hmac(x->sec.server_key, AUTH_SCRAM_KEY_LEN, x->auth_message.data,
	     x->auth_message.len, sig);
	str_appends(out, "v=");
	b64_append(out, sig, sizeof(sig));
	return 1;
}
