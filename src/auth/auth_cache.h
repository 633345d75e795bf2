/* auth_cache: remembers successful password checks for a short time, so
 * clients that log in often (POP3 pollers, IMAP clients opening several
 * connections) do not pay for argon2id each time.
 *
 * An entry is keyed by a keyed hash (random key per process) of user,
 * password and stored hash: the password itself is never kept, a failed
 * check is never cached, and a changed stored hash (password change) simply
 * never matches the old entry. */
#ifndef POSTHORN_AUTH_CACHE_H
#define POSTHORN_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>

struct auth_cache;

/* ttl in seconds; 0 disables the cache. */
struct auth_cache *auth_cache_new(unsigned ttl, size_t max_entries);
void auth_cache_free(struct auth_cache **cache);

/* Thread-safe. */
bool auth_cache_hit(struct auth_cache *cache, const char *user,
		    const char *password, size_t pwlen, const char *stored);
void auth_cache_add(struct auth_cache *cache, const char *user,
		    const char *password, size_t pwlen, const char *stored);

#endif
