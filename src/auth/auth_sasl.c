/* SASL responses, decoded.  Every buffer that held a password is wiped. */
#include "auth/auth_sasl.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

int auth_sasl_base64(const char *b64, size_t len, char *out, size_t size,
		     size_t *n_r)
{
	size_t n = 0;
	if (size == 0 ||
	    sodium_base642bin((unsigned char *)out, size - 1, b64, len, NULL,
			      &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		if (size > 0)
			sodium_memzero(out, size);
		return 0;
	}
	out[n] = '\0';
	*n_r = n;
	return 1;
}

int auth_sasl_plain_parse(const char *b64, size_t len, char *user,
			  size_t usize, char *pass, size_t *plen_r)
{
	/* authzid and authcid as long as a user name, and the password. */
	unsigned char buf[2 * 320 + AUTH_SASL_PASSWORD_MAX + 3];
	size_t n;
	int ok = -1;
	if (sodium_base642bin(buf, sizeof(buf), b64, len, NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		goto out;
	unsigned char *nul1 = memchr(buf, '\0', n);
	if (nul1 == NULL)
		goto out;
	unsigned char *authc = nul1 + 1;
	unsigned char *nul2 = memchr(authc, '\0', n - (size_t)(authc - buf));
	if (nul2 == NULL)
		goto out;
	size_t zlen = (size_t)(nul1 - buf), clen = (size_t)(nul2 - authc);
	size_t plen = n - (size_t)(nul2 + 1 - buf);
	if (clen == 0 || clen >= usize || plen > AUTH_SASL_PASSWORD_MAX ||
	    memchr(nul2 + 1, '\0', plen) != NULL)
		goto out;
	if (zlen != 0 && (zlen != clen || memcmp(buf, authc, clen) != 0)) {
		/* Named for the log; no proxy logins. */
		memcpy(user, authc, clen);
		user[clen] = '\0';
		ok = 0;
		goto out;
	}
	memcpy(user, authc, clen);
	user[clen] = '\0';
	memcpy(pass, nul2 + 1, plen);
	*plen_r = plen;
	ok = 1;
out:
	sodium_memzero(buf, sizeof(buf));
	return ok;
}

void auth_secret_set(struct auth_secret *sec, const void *p, size_t n)
{
	auth_secret_clear(sec);
	sec->data = xmalloc(AUTH_SASL_PASSWORD_MAX);
	memcpy(sec->data, p, n);
	sec->len = n;
}

void auth_secret_clear(struct auth_secret *sec)
{
	if (sec->data != NULL) {
		sodium_memzero(sec->data, AUTH_SASL_PASSWORD_MAX);
		free(sec->data);
	}
	sec->data = NULL;
	sec->len = 0;
}
