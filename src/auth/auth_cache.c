#include "auth/auth_cache.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"

#define KEY_BYTES 32

struct entry {
	unsigned char key[KEY_BYTES];
	time_t expires;
};

struct auth_cache {
	pthread_mutex_t lock;
	unsigned ttl;
	size_t n;	/* slots; open addressing, overwrite on collision */
	struct entry *slots;
	unsigned char secret[crypto_generichash_KEYBYTES];
};

struct auth_cache *auth_cache_new(unsigned ttl, size_t max_entries)
{
	struct auth_cache *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->ttl = ttl;
	c->n = max_entries ? max_entries : 1;
	c->slots = xcalloc(c->n, sizeof(*c->slots));
	randombytes_buf(c->secret, sizeof(c->secret));
	return c;
}

void auth_cache_free(struct auth_cache **cp)
{
	struct auth_cache *c = *cp;
	if (c == NULL)
		return;
	sodium_memzero(c->secret, sizeof(c->secret));
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	free(c);
	*cp = NULL;
}

/* Fields are length-prefixed so that no two different triples hash the
 * same input. */
static void derive(const struct auth_cache *c, const char *user,
		   const char *pw, size_t pwlen, const char *stored,
		   unsigned char out[KEY_BYTES])
{
	crypto_generichash_state st;
	const char *parts[] = {user, pw, stored};
	size_t lens[] = {strlen(user), pwlen, strlen(stored)};
	crypto_generichash_init(&st, c->secret, sizeof(c->secret), KEY_BYTES);
	for (int i = 0; i < 3; i++) {
		unsigned char len[8];
		for (int b = 0; b < 8; b++)
			len[b] = (unsigned char)(lens[i] >> (8 * b));
		crypto_generichash_update(&st, len, sizeof(len));
		crypto_generichash_update(&st, (const unsigned char *)parts[i],
					  lens[i]);
	}
	crypto_generichash_final(&st, out, KEY_BYTES);
}

static size_t slot_of(const struct auth_cache *c,
		      const unsigned char key[KEY_BYTES])
{
	size_t h;
	memcpy(&h, key, sizeof(h));
	return h % c->n;
}

bool auth_cache_hit(struct auth_cache *c, const char *user,
		    const char *password, size_t pwlen, const char *stored)
{
	unsigned char key[KEY_BYTES];
	if (c->ttl == 0)
		return false;
	derive(c, user, password, pwlen, stored, key);
	pthread_mutex_lock(&c->lock);
	const struct entry *e = &c->slots[slot_of(c, key)];
	bool hit = e->expires > time(NULL) &&
		   sodium_memcmp(e->key, key, KEY_BYTES) == 0;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void auth_cache_add(struct auth_cache *c, const char *user,
		    const char *password, size_t pwlen, const char *stored)
{
	unsigned char key[KEY_BYTES];
	if (c->ttl == 0)
		return;
	derive(c, user, password, pwlen, stored, key);
	pthread_mutex_lock(&c->lock);
	struct entry *e = &c->slots[slot_of(c, key)];
	memcpy(e->key, key, KEY_BYTES);
	e->expires = time(NULL) + (time_t)c->ttl;
	pthread_mutex_unlock(&c->lock);
}
