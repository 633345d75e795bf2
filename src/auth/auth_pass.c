#include "auth/auth_pass.h"

#include <crypt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define CRYPT_TAG "{CRYPT}"

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
};

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
		/* Prove that libcrypt can use it before we store it: a hash
		 * nobody can verify would lock the user out silently. */
		struct crypt_data data;
		memset(&data, 0, sizeof(data));
		const char *out = crypt_r("x", hash, &data);
		if (out == NULL || out[0] == '*' ||
		    strlen(out) != strlen(hash)) {
			*err_r = "hash is not one crypt(3) here can verify "
				 "($6$, $5$, $y$, $2b$ are)";
			return NULL;
		}
		size_t n = strlen(CRYPT_TAG) + strlen(hash) + 1;
		char *stored = xmalloc(n);
		snprintf(stored, n, "%s%s", CRYPT_TAG, hash);
		return stored;
	}
	*err_r = "unknown password scheme (use {CRYPT}, {SHA512-CRYPT}, "
		 "{BLF-CRYPT}, {YESCRYPT} or {ARGON2ID})";
	return NULL;
}
