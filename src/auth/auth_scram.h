/* auth_scram: the server side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS
 * (RFC 5802, RFC 7677), with the tls-exporter channel binding (RFC 9266).
 *
 * Pure: messages in (already base64-decoded), messages out; no I/O, no
 * store, no logging.  The slow part, PBKDF2 of a password into a stored
 * secret, is auth_scram_secret_make(): call it on a worker.  The steps of
 * an exchange only take a few SHA-256 computations.
 *
 * An exchange: auth_scram_new(), auth_scram_client_first() (who the
 * client says it is), auth_scram_server_first() with that user's secret
 * (or a fake one, auth_scram_secret_fake(), when there is none, so that
 * the answer does not tell), auth_scram_client_final() (the proof). */
#ifndef POSTHORN_AUTH_SCRAM_H
#define POSTHORN_AUTH_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

#define AUTH_SCRAM_KEY_LEN 32	/* SHA-256 */
#define AUTH_SCRAM_SALT_MAX 64
#define AUTH_SCRAM_SALT_LEN 16	/* of new secrets */
/* Bounds on what a client sends. */
#define AUTH_SCRAM_USER_MAX 320
#define AUTH_SCRAM_NONCE_MAX 256
#define AUTH_SCRAM_MESSAGE_MAX 2048
/* Iterations accepted from a stored secret (config has its own bounds). */
#define AUTH_SCRAM_ITER_MIN 4096
#define AUTH_SCRAM_ITER_MAX 10000000
/* The channel binding data of tls-exporter: 32 bytes. */
#define AUTH_SCRAM_CB_LEN 32

/* What the server keeps per user: plain data. */
struct auth_scram_secret {
	unsigned iterations;
	unsigned char salt[AUTH_SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned char stored_key[AUTH_SCRAM_KEY_LEN];
	unsigned char server_key[AUTH_SCRAM_KEY_LEN];
};

/* The secret for a password: PBKDF2-HMAC-SHA-256 with `iterations`
 * over salt (salt_len <= AUTH_SCRAM_SALT_MAX; NULL: AUTH_SCRAM_SALT_LEN
 * random bytes).  The password must stay the same under SASLprep (RFC
 * 4013): printable ASCII and spaces.  Returns 1, or 0 for a password
 * that is not (such a user cannot use SCRAM; PLAIN still works).  Slow:
 * call it on a worker. */
int auth_scram_secret_make(const char *password, size_t plen,
			   unsigned iterations, const unsigned char *salt,
			   size_t salt_len, struct auth_scram_secret *sec_r);
/* The stored form of a new secret for password with a random salt
 * (malloc'ed), or NULL for a password auth_scram_secret_make() refuses.
 * Slow: call it on a worker. */
char *auth_scram_secret_new(const char *password, size_t plen,
			    unsigned iterations);
/* The stored form, as RFC 5803 writes it:
 * "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", base64. */
void auth_scram_secret_format(const struct auth_scram_secret *sec,
			      struct str *out);
/* Returns 1, or 0 when text is not that form. */
int auth_scram_secret_parse(const char *text, struct auth_scram_secret *sec_r);
/* A made-up secret for a user without one, the same for the same user
 * and key every time (RFC 5802 9: a client must not learn whether an
 * account exists from the salt it gets). */
void auth_scram_secret_fake(const unsigned char key[AUTH_SCRAM_KEY_LEN],
			    const char *user, unsigned iterations,
			    struct auth_scram_secret *sec_r);

struct auth_scram;

/* A server exchange.  plus: the client chose SCRAM-SHA-256-PLUS.
 * cb_data: the connection's tls-exporter value (AUTH_SCRAM_CB_LEN
 * bytes), or NULL when it has none; with it the server offers -PLUS,
 * and a client that says it could have bound but thought we cannot
 * ("y") is refused as a downgrade (RFC 5802 6).  NULL for -PLUS without
 * cb_data. */
struct auth_scram *auth_scram_new(bool plus, const unsigned char *cb_data);
/* Wipes keys and frees; safe on NULL. */
void auth_scram_free(struct auth_scram **x);

/* The client-first-message.  Returns 1, or -1 when it breaks the
 * grammar or asks for what we do not do (an authzid other than the user,
 * a mandatory extension, a channel binding that does not fit the
 * mechanism); *err_r then says why, for the log. */
int auth_scram_client_first(struct auth_scram *x, const char *msg,
			    size_t len, const char **err_r);
/* The user name the client gave (saslname unescaped), or NULL when it
 * cannot be SASLprep'ed here (non-ASCII, controls): such a user fails
 * the proof like a wrong password. */
const char *auth_scram_user(const struct auth_scram *x);
/* The server-first-message for the user's secret into out.  snonce: the
 * server's part of the nonce (printable, no ','; tests), NULL for a
 * random one.  After auth_scram_client_first() returned 1. */
void auth_scram_server_first(struct auth_scram *x,
			     const struct auth_scram_secret *sec,
			     const char *snonce, struct str *out);
/* The client-final-message.  Returns 1 when the proof is right, with the
 * server-final-message (v=...) in out; 0 when the proof, the nonce or
 * the channel binding is wrong; -1 when the message breaks the grammar
 * (*err_r says why). */
int auth_scram_client_final(struct auth_scram *x, const char *msg,
			    size_t len, struct str *out, const char **err_r);

#endif
