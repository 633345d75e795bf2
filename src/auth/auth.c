#include "auth/auth.h"

#include <semaphore.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth_cache.h"
#include "auth/auth_pass.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "mime/addr.h"

#define AUTH_CACHE_SLOTS 4096

struct auth {
	struct store *store;
	struct auth_cache *cache;
	/* Verified against when the user does not exist, so that a wrong
	 * address costs as much time as a wrong password. */
	char *dummy_hash;
	/* Hashes run at once at most one per CPU: they are CPU-bound, and
	 * each holds argon2_memory. */
	sem_t slots;
	struct auth_pass_params params;	/* for new hashes */
	unsigned scram_iterations;
	/* Makes the salts of SCRAM answers for users without a secret. */
	unsigned char scram_key[AUTH_SCRAM_KEY_LEN];
};

struct auth *auth_new(struct store *store, const struct config *cfg)
{
	struct auth *a = xcalloc(1, sizeof(*a));
	a->store = store;
	a->cache = auth_cache_new(cfg->auth.cache_ttl, AUTH_CACHE_SLOTS);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	sem_init(&a->slots, 0, ncpu > 0 ? (unsigned)ncpu : 1);
	a->params = (struct auth_pass_params){cfg->auth.argon2_memory,
					      cfg->auth.argon2_passes};
	a->dummy_hash = auth_pass_hash("posthorn", 8, &a->params);
	a->scram_iterations = cfg->auth.scram_iterations;
	randombytes_buf(a->scram_key, sizeof(a->scram_key));
	return a;
}

void auth_free(struct auth **ap)
{
	struct auth *a = *ap;
	if (a == NULL)
		return;
	auth_cache_free(&a->cache);
	sem_destroy(&a->slots);
	free(a->dummy_hash);
	sodium_memzero(a->scram_key, sizeof(a->scram_key));
	free(a);
	*ap = NULL;
}

static int verify(struct auth *a, const char *password, size_t plen,
		  const char *stored)
{
	sem_wait(&a->slots);
	int rc = auth_pass_verify(password, plen, stored);
	sem_post(&a->slots);
	return rc;
}

static void log_rehash(const char *address, const char *result,
		       const char *err)
{
	struct str line = STR_INIT;
	log_begin(&line, "auth", NULL, "rehash");
	log_field(&line, "result", "%s", result);
	if (err != NULL)
		log_field(&line, "error", "%s", err);
	log_cvalue(&line, "user", address);
	log_put(err != NULL ? LOG_WARN : LOG_INFO, &line);
}

/* The password just matched user->password.  If that is an imported
 * crypt(3) hash or a weaker argon2id than configured, store a new hash,
 * so that old hashes fade out and the time a login takes no longer tells
 * which users were imported.  Only if the stored hash is still the one we
 * verified: a password changed meanwhile wins.  A failure here costs the
 * user nothing; the next login tries again. */
static void rehash(struct auth *a, const char *address, const char *password,
		   size_t plen, struct store_user *user)
{
	if (!auth_pass_needs_rehash(user->password, &a->params))
		return;
	const char *err = "cannot hash (not enough memory for "
			  "auth.argon2_memory?)";
	sem_wait(&a->slots);
	char *hash = auth_pass_hash(password, plen, &a->params);
	sem_post(&a->slots);
	int rc = hash == NULL ? -1
			      : store_user_replace_password(a->store, address,
							    user->password,
							    hash, &err);
	log_rehash(address, rc < 0 ? "failed"
			       : rc == 0 ? "changed-meanwhile" : "argon2id",
		   rc < 0 ? err : NULL);
	if (rc > 0) {
		auth_cache_add(a->cache, address, password, plen, hash);
		free(user->password);
		user->password = hash;
		hash = NULL;
	}
	free(hash);
}

/* The password just matched and the user has no SCRAM secret: one made
 * now lets the user's next login use SCRAM.  Stored only if the hash is
 * still the one that matched, so a password changed meanwhile wins. */
static void scram_upgrade(struct auth *a, const char *address,
			  const char *password, size_t plen,
			  const struct store_user *user)
{
	if (user->scram != NULL && user->scram[0] != '\0')
		return;
	char *secret = auth_scram_secret_new(password, plen,
					     a->scram_iterations);
	if (secret == NULL)
		return;
	const char *err = NULL;
	int rc = store_user_set_scram(a->store, address, user->password,
				      secret, &err);
	struct str line = STR_INIT;
	log_begin(&line, "auth", NULL, "scram-secret");
	log_field(&line, "result", "%s", rc < 0 ? "failed"
					 : rc == 0 ? "changed-meanwhile"
						   : "stored");
	if (rc < 0)
		log_field(&line, "error", "%s", err ? err : "");
	log_cvalue(&line, "user", address);
	log_put(rc < 0 ? LOG_WARN : LOG_INFO, &line);
	free(secret);
}

int auth_lookup_scram(struct auth *a, const char *username,
		      struct store_user *user_r,
		      struct auth_scram_secret *sec_r)
{
	struct addr addr;
	const char *err;
	char canon[ADDR_TEXT_MAX];
	memset(user_r, 0, sizeof(*user_r));
	int rc = 0;
	if (username != NULL &&
	    addr_parse(username, strlen(username), ADDR_UTF8, &addr,
		       &err) >= 0 &&
	    !addr.literal) {
		addr_format(&addr, canon);
		rc = store_user_lookup(a->store, canon, user_r);
	}
	if (rc > 0 && auth_scram_secret_parse(user_r->scram, sec_r) == 1)
		return 1;
	if (rc > 0)
		store_user_clear(user_r);
	auth_scram_secret_fake(a->scram_key, username ? username : "",
			       a->scram_iterations, sec_r);
	return rc < 0 ? -1 : 0;
}

int auth_login(struct auth *a, const char *username, size_t ulen,
	       const char *password, size_t plen, struct store_user *user_r)
{
	struct addr addr;
	const char *err;
	char canon[ADDR_TEXT_MAX];
	memset(user_r, 0, sizeof(*user_r));
	if (addr_parse(username, ulen, ADDR_UTF8, &addr, &err) < 0 ||
	    addr.literal)
		return 0;
	addr_format(&addr, canon);
	int rc = store_user_lookup(a->store, canon, user_r);
	if (rc == 0 && a->dummy_hash != NULL)
		verify(a, password, plen, a->dummy_hash);
	if (rc <= 0)
		return rc;
	if (auth_cache_hit(a->cache, canon, password, plen,
			   user_r->password)) {
		scram_upgrade(a, canon, password, plen, user_r);
		return 1;
	}
	if (verify(a, password, plen, user_r->password) == 1) {
		auth_cache_add(a->cache, canon, password, plen,
			       user_r->password);
		rehash(a, canon, password, plen, user_r);
		scram_upgrade(a, canon, password, plen, user_r);
		return 1;
	}
	store_user_clear(user_r);
	return 0;
}
