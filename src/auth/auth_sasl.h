/* auth_sasl: decoding what SASL clients send (RFC 4422), for every
 * protocol that offers AUTH/AUTHENTICATE.  Pure: no I/O, no store. */
#ifndef POSTHORN_AUTH_SASL_H
#define POSTHORN_AUTH_SASL_H

#include <stddef.h>

/* Longest password taken, in bytes. */
#define AUTH_SASL_PASSWORD_MAX 1024

/* PLAIN (RFC 4616): base64 of [authzid] NUL authcid NUL passwd.  An
 * authzid other than the authcid is refused (no proxy logins).  On
 * success the user (NUL-terminated, at most usize - 1 bytes) and the
 * password (pass, *plen_r bytes, at most AUTH_SASL_PASSWORD_MAX) are
 * filled; returns 1, 0 when it is well-formed but names an authzid
 * other than the authcid (a login that fails), -1 when it is malformed
 * or too long (a protocol error).  The decoded buffer is wiped before
 * returning. */
int auth_sasl_plain_parse(const char *b64, size_t len, char *user,
			  size_t usize, char *pass, size_t *plen_r);

/* LOGIN (draft-murchison-sasl-login): one base64 value, the user name or
 * the password.  Returns 1 with out[0..*n_r) (NUL-terminated), 0 if it
 * is not base64 or longer than size - 1. */
int auth_sasl_base64(const char *b64, size_t len, char *out, size_t size,
		     size_t *n_r);

/* A password held between a command and its check on the auth workers:
 * in a buffer of its own, wiped when let go. */
struct auth_secret {
	char *data;
	size_t len;
};

/* Keep a copy of p[0..n) (n <= AUTH_SASL_PASSWORD_MAX), wiping what was
 * held before. */
void auth_secret_set(struct auth_secret *sec, const void *p, size_t n);
/* Wipe and free; safe on an empty one. */
void auth_secret_clear(struct auth_secret *sec);

#endif
