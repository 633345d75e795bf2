/* auth: checking a user's credentials against the store, with the
 * verification cache in front of the slow hash.  Blocks: call it on a
 * worker thread. */
#ifndef POSTHORN_AUTH_H
#define POSTHORN_AUTH_H

#include <stddef.h>

#include "auth/auth_scram.h"
#include "store/store.h"

struct auth;
struct config;

struct auth *auth_new(struct store *store, const struct config *cfg);
void auth_free(struct auth **auth);

/* Returns 1 and fills *user_r (caller clears) when the address and
 * password match, 0 when they do not, -1 when the store failed.
 *
 * username is an address, or with auth.login_local_part and exactly one
 * domain in the store, a bare local part of that domain.  The password is
 * the user's own or one of the user's app passwords (auth/auth_app.h); a
 * removed app password fails at once, cache or not.  An app password's
 * last use is recorded, at most once a minute.
 *
 * After a match of the main password against an imported crypt(3) hash or
 * a weaker argon2id than configured, it stores a new argon2id hash
 * (user_r->password is then the new one); failing to store it is logged
 * and does not fail the login. */
int auth_login(struct auth *auth, const char *username, size_t ulen,
	       const char *password, size_t plen, struct store_user *user_r);
/* Also, after a match, a user without a SCRAM secret gets one made from
 * the password (a hash cannot give one), when SCRAM can take it. */

/* SCRAM: who the client says it is (NULL when the name is one SCRAM
 * cannot take) and the secret to answer with.  Returns 1 with *user_r
 * filled (caller clears) and the user's secret in *sec_r; 0 when there
 * is no such user or it has no secret yet, with a made-up secret in
 * *sec_r that stays the same for that name while the server runs; -1
 * when the store failed.  Blocks (the store): call it on a worker. */
int auth_lookup_scram(struct auth *auth, const char *username,
		      struct store_user *user_r,
		      struct auth_scram_secret *sec_r);

#endif
