#include "auth/auth.h"

#include <semaphore.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_app.h"
#include "auth/auth_cache.h"
#include "auth/auth_pass.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "mime/addr.h"

#define AUTH_CACHE_SLOTS 4096
/* Seconds: an app password's last use is written at most this often. */
#define APP_USED_EVERY 60

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
	bool local_part;		/* auth.login_local_part */
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
	a->local_part = cfg->auth.login_local_part == 1;
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

/* The user's app passwords, read for one login. */
struct apps {
	size_t n;
	struct app {
		char name[AUTH_APP_NAME_MAX + 1];
		char *hash;
		int64_t last_used;
	} v[STORE_APP_PASSWORDS_MAX];
};

static void apps_add(const struct store_app_password *ap, void *ctx)
{
	struct apps *apps = ctx;
	/* Bounded by the store's limit; a row past it (written by a newer
	 * version?) is not worth an unbounded login. */
	if (apps->n == STORE_APP_PASSWORDS_MAX)
		return;
	struct app *app = &apps->v[apps->n++];
	snprintf(app->name, sizeof(app->name), "%s", ap->name);
	app->hash = xstrdup(ap->hash);
	app->last_used = ap->last_used;
}

static void apps_clear(struct apps *apps)
{
	for (size_t i = 0; i < apps->n; i++)
		free(apps->v[i].hash);
	apps->n = 0;
}

/* Best effort, and at most once per APP_USED_EVERY per app password, so
 * that a client logging in every minute does not cost a write each
 * time. */
static void app_used(struct auth *a, const struct store_user *user,
		     const struct app *app)
{
	const char *err = NULL;
	time_t now = time(NULL);
	if (now - app->last_used < APP_USED_EVERY)
		return;
	if (store_app_password_used(a->store, user->id, app->name, now,
				    &err) < 0) {
		struct str line = STR_INIT;
		log_begin(&line, "auth", NULL, "app-password-used");
		log_field(&line, "error", "%s", err ? err : "store error");
		log_cvalue(&line, "user", user->address);
		log_put(LOG_WARN, &line);
	}
}

/* Which of the user's app passwords `plain` is, if any: each is one
 * fast hash (auth_app.h), so all are tried. */
static const struct app *app_match(const char *plain, const struct apps *apps)
{
	const struct app *found = NULL;
	for (size_t i = 0; i < apps->n; i++)
		if (auth_app_verify(plain, apps->v[i].hash) && found == NULL)
			found = &apps->v[i];
	return found;
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

/* username as a canonical address into canon: 1, 0 when it cannot be a
 * user's, -1 when the store failed.  A bare local part means the user of
 * that name in the only domain, when auth.login_local_part allows. */
static int resolve(struct auth *a, const char *username, size_t ulen,
		   char canon[ADDR_TEXT_MAX])
{
	struct addr addr;
	const char *err;
	char full[ADDR_TEXT_MAX], domain[ADDR_DOMAIN_MAX + 1];
	if (memchr(username, '@', ulen) == NULL) {
		int rc = a->local_part ? store_domain_only(a->store, domain,
							   sizeof(domain))
				       : 0;
		if (rc <= 0)
			return rc;
		if (ulen + 1 + strlen(domain) >= sizeof(full) ||
		    memchr(username, '\0', ulen) != NULL)
			return 0;
		snprintf(full, sizeof(full), "%.*s@%s", (int)ulen, username,
			 domain);
		username = full;
		ulen = strlen(full);
	}
	if (addr_parse(username, ulen, ADDR_UTF8, &addr, &err) < 0 ||
	    addr.literal)
		return 0;
	addr_format(&addr, canon);
	return 1;
}

/* The user exists; does the password match the main one or an app
 * password?  1 or 0. */
static int check(struct auth *a, const char *canon, const char *password,
		 size_t plen, struct store_user *user)
{
	char plain[AUTH_APP_CHARS + 1];
	struct apps apps = {0};
	const char *err = NULL;
	const struct app *app = NULL;
	int rc = 0;
	if (auth_cache_hit(a->cache, canon, password, plen, user->password)) {
		scram_upgrade(a, canon, password, plen, user);
		return 1;
	}
	bool shaped = auth_app_normalize(password, plen, plain);
	/* A store failure here leaves the main password to check. */
	if (shaped)
		store_app_password_list(a->store, user->id, apps_add, &apps,
					&err);
	if (shaped && (app = app_match(plain, &apps)) != NULL) {
		rc = 1;
	} else if (verify(a, password, plen, user->password) == 1) {
		auth_cache_add(a->cache, canon, password, plen, user->password);
		rehash(a, canon, password, plen, user);
		scram_upgrade(a, canon, password, plen, user);
		rc = 1;
	}
	if (app != NULL)
		app_used(a, user, app);
	apps_clear(&apps);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

int auth_lookup_scram(struct auth *a, const char *username,
		      struct store_user *user_r,
		      struct auth_scram_secret *sec_r)
{
	char canon[ADDR_TEXT_MAX];
	memset(user_r, 0, sizeof(*user_r));
	int rc = username == NULL ? 0
				  : resolve(a, username, strlen(username),
					    canon);
	if (rc > 0)
		rc = store_user_lookup(a->store, canon, user_r);
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
	char canon[ADDR_TEXT_MAX];
	memset(user_r, 0, sizeof(*user_r));
	int rc = resolve(a, username, ulen, canon);
	if (rc <= 0)
		return rc;
	rc = store_user_lookup(a->store, canon, user_r);
	if (rc == 0 && a->dummy_hash != NULL)
		verify(a, password, plen, a->dummy_hash);
	if (rc <= 0)
		return rc;
	if (check(a, canon, password, plen, user_r) == 1)
		return 1;
	store_user_clear(user_r);
	return 0;
}
