#include "auth/auth_pass.h"

#include <crypt.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define CRYPT_TAG "{CRYPT}"
#define PLAIN_TAG "{PLAIN}"

int auth_pass_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

char *auth_pass_hash(const char *password, size_t len,
		     const struct auth_pass_params *params)
{
	char out[crypto_pwhash_STRBYTES];
	if (crypto_pwhash_str_alg(out, password, len, params->passes,
				  (size_t)params->memory_kib * 1024,
				  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return NULL;
	return xstrdup(out);
}

static int verify_crypt(const char *password, size_t len, const char *hash)
{
	struct crypt_data data;
	char *pw = xstrndup(password, len);
	memset(&data, 0, sizeof(data));
	/* A NUL inside the password cannot be fed to crypt(3); such a
	 * password never matches rather than matching a shorter one. */
	const char *out = strlen(pw) == len ? crypt_r(pw, hash, &data) : NULL;
	sodium_memzero(pw, len);
	free(pw);
	if (out == NULL || out[0] == '*')
		return -1;
	size_t n = strlen(out);
	if (n != strlen(hash))
		return 0;
	return sodium_memcmp(out, hash, n) == 0 ? 1 : 0;
}

int auth_pass_verify(const char *password, size_t len, const char *stored)
{
	if (strncmp(stored, "$argon2id$", 10) == 0)
		return crypto_pwhash_str_verify(stored, password, len) == 0;
	if (strncmp(stored, CRYPT_TAG, strlen(CRYPT_TAG)) == 0)
		return verify_crypt(password, len, stored + strlen(CRYPT_TAG));
	return -1;
}

int auth_pass_needs_rehash(const char *stored,
			   const struct auth_pass_params *params)
{
	unsigned version, memory, passes, lanes;
	char end;
	if (strncmp(stored, "$argon2id$", 10) != 0)
		return 1;
	/* "$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH".  One we cannot read is
	 * left alone: it verified, so libsodium can read it. */
	if (sscanf(stored + 10, "v=%u$m=%u,t=%u,p=%u%c", &version, &memory,
		   &passes, &lanes, &end) != 5 ||
	    end != '$')
		return 0;
	return memory < params->memory_kib || passes < params->passes;
}

int auth_pass_is_scheme(const char *field)
{
	return field[0] == '{' && strchr(field, '}') != NULL;
}

/* Dovecot's scheme names for the crypt(3) families, so that a passwd-file
 * or SQL dump imports as it is. */
static const struct {
	const char *tag;
	const char *prefix;
} crypt_schemes[] = {
	{"{CRYPT}", "$"},
	{"{SHA512-CRYPT}", "$6$"},
	{"{SHA256-CRYPT}", "$5$"},
	{"{BLF-CRYPT}", "$2"},
	{"{YESCRYPT}", "$y$"},
	{"{MD5-CRYPT}", "$1$"},
};

/* The kinds a bare field is taken for a hash of, as /etc/shadow and SQL
 * dumps hold them.  Others ($7$, DES) need an explicit {CRYPT}: a short
 * plain-text password could pass for a DES hash. */
static const char *const bare_prefixes[] = {
	"$6$", "$5$", "$y$", "$2b$", "$2y$", "$2a$", "$1$",
};

/* Costs above these are refused: checking the hash at import, and every
 * login until the rehash, would tie up a worker for seconds or hold
 * gigabytes (a hostile import file, or a typo). */
#define BCRYPT_COST_MAX 15
#define SHA_CRYPT_ROUNDS_MAX 1000000ul
#define YESCRYPT_MEMORY_MAX (64ul << 20)

static const char crypt_alphabet[] =
	"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int itoa64(char c)
{
	const char *p = c != '\0' ? strchr(crypt_alphabet, c) : NULL;
	return p != NULL ? (int)(p - crypt_alphabet) : -1;
}

static const char *bcrypt_cost_err(const char *hash)
{
	/* "$2b$NN$": two decimal digits. */
	if (strlen(hash) < 7 || hash[4] < '0' || hash[4] > '9' ||
	    hash[5] < '0' || hash[5] > '9' || hash[6] != '$')
		return "malformed bcrypt cost";
	if ((hash[4] - '0') * 10 + (hash[5] - '0') > BCRYPT_COST_MAX)
		return "bcrypt cost above 15";
	return NULL;
}

static const char *sha_rounds_err(const char *hash)
{
	if (strncmp(hash + 3, "rounds=", 7) != 0)
		return NULL;
	char *end;
	errno = 0;
	unsigned long r = strtoul(hash + 10, &end, 10);
	if (errno != 0 || *end != '$' || hash[10] < '0' || hash[10] > '9')
		return "malformed rounds=";
	return r > SHA_CRYPT_ROUNDS_MAX ? "rounds above 1000000" : NULL;
}

/* "$y$jNr$": flavour, log2(N) - 1 and r - 1 in crypt's base-64 digits;
 * memory is 128 * r * N bytes. */
static const char *yescrypt_cost_err(const char *hash)
{
	const char *p = hash + 3;
	int n = p[0] == 'j' ? itoa64(p[1]) : -1;
	int r = n >= 0 ? itoa64(p[2]) : -1;
	if (r < 0 || p[3] != '$')
		return "yescrypt parameters other than N and r";
	if (n + 1 > 30 ||
	    (128ul * (unsigned long)(r + 1) << (n + 1)) > YESCRYPT_MEMORY_MAX)
		return "yescrypt memory above 64 MiB";
	return NULL;
}

static const char *cost_err(const char *hash)
{
	if (strncmp(hash, "$2", 2) == 0 && hash[2] != '\0' && hash[3] == '$')
		return bcrypt_cost_err(hash);
	if (strncmp(hash, "$5$", 3) == 0 || strncmp(hash, "$6$", 3) == 0)
		return sha_rounds_err(hash);
	if (strncmp(hash, "$y$", 3) == 0)
		return yescrypt_cost_err(hash);
	return NULL;
}

/* Whether libcrypt here can verify hash, proven by hashing a password
 * with it as the setting: the result must repeat the hash's setting (up to
 * its last '$') byte for byte, and have a checksum of the same length and
 * alphabet.  A hash nobody can verify would lock the user out silently. */
static const char *crypt_err(const char *hash)
{
	const char *err = cost_err(hash);
	if (err != NULL)
		return err;
#ifdef CRYPT_CHECKSALT_AVAILABLE
	int chk = crypt_checksalt(hash);
	if (chk == CRYPT_SALT_INVALID || chk == CRYPT_SALT_METHOD_DISABLED)
		return "not one crypt(3) here can verify";
#endif
	struct crypt_data data;
	memset(&data, 0, sizeof(data));
	const char *out = crypt_r("x", hash, &data);
	if (out == NULL || out[0] == '*' || strlen(out) != strlen(hash))
		return "not one crypt(3) here can verify";
	const char *dollar = strrchr(out, '$');
	size_t k = (size_t)(dollar - out) + 1;
	if (memcmp(out, hash, k) != 0 ||
	    strspn(hash + k, crypt_alphabet) != strlen(hash + k))
		return "not one crypt(3) here can verify";
	return NULL;
}

static char *crypt_stored(const char *hash)
{
	size_t n = strlen(CRYPT_TAG) + strlen(hash) + 1;
	char *stored = xmalloc(n);
	snprintf(stored, n, "%s%s", CRYPT_TAG, hash);
	return stored;
}

char *auth_pass_import(const char *field, const char **err_r)
{
	if (strncmp(field, "{ARGON2ID}", 10) == 0) {
		/* needs_rehash() parses the whole string: -1 means it is
		 * not a hash libsodium can verify. */
		if (strncmp(field + 10, "$argon2id$", 10) != 0 ||
		    crypto_pwhash_str_needs_rehash(
			    field + 10, crypto_pwhash_OPSLIMIT_MIN,
			    crypto_pwhash_MEMLIMIT_MIN) < 0) {
			*err_r = "{ARGON2ID} value is not a valid $argon2id$ hash";
			return NULL;
		}
		return xstrdup(field + 10);
	}
	for (size_t i = 0; i < sizeof(crypt_schemes) / sizeof(crypt_schemes[0]);
	     i++) {
		size_t tl = strlen(crypt_schemes[i].tag);
		if (strncmp(field, crypt_schemes[i].tag, tl) != 0)
			continue;
		const char *hash = field + tl;
		if (strncmp(hash, crypt_schemes[i].prefix,
			    strlen(crypt_schemes[i].prefix)) != 0) {
			*err_r = "hash does not match its scheme";
			return NULL;
		}
		if ((*err_r = crypt_err(hash)) != NULL) {
			if (strncmp(*err_r, "not ", 4) == 0)
				*err_r = "hash is not one crypt(3) here can "
					 "verify ($6$, $5$, $y$, $2b$ are)";
			return NULL;
		}
		return crypt_stored(hash);
	}
	*err_r = "unknown password scheme (use {CRYPT}, {SHA512-CRYPT}, "
		 "{BLF-CRYPT}, {YESCRYPT}, {MD5-CRYPT}, {ARGON2ID} or {PLAIN})";
	return NULL;
}

static bool bare_crypt_prefix(const char *field)
{
	for (size_t i = 0; i < sizeof(bare_prefixes) / sizeof(*bare_prefixes);
	     i++)
		if (strncmp(field, bare_prefixes[i],
			    strlen(bare_prefixes[i])) == 0)
			return true;
	return false;
}

int auth_pass_import_field(const char *field, char **hash_r,
			   const char **plain_r, const char **err_r)
{
	*hash_r = NULL;
	*plain_r = NULL;
	if (strncmp(field, PLAIN_TAG, strlen(PLAIN_TAG)) == 0) {
		const char *plain = field + strlen(PLAIN_TAG);
		if (*plain == '\0') {
			*err_r = "empty password after {PLAIN}";
			return -1;
		}
		*plain_r = plain;
		return 0;
	}
	if (auth_pass_is_scheme(field))
		return (*hash_r = auth_pass_import(field, err_r)) ? 1 : -1;
	if (!bare_crypt_prefix(field)) {
		*plain_r = field;
		return 0;
	}
	/* It looks like a hash: most likely a damaged one (a cut line, a
	 * lost character).  Taken as a password, it would let whoever saw
	 * the dump log in with the hash's text. */
	const char *why = crypt_err(field);
	if (why == NULL) {
		*hash_r = crypt_stored(field);
		return 1;
	}
	static _Thread_local char msg[160];
	snprintf(msg, sizeof(msg),
		 "starts like a crypt(3) hash but is not a usable one (%s); "
		 "write {PLAIN} before it if it is a plain-text password",
		 why);
	*err_r = msg;
	return -1;
}

bool auth_pass_is_weak(const char *stored)
{
	return strncmp(stored, CRYPT_TAG "$1$", strlen(CRYPT_TAG) + 3) == 0;
}
