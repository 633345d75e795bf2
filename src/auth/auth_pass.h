/* auth_pass: password hashes as the store keeps them.
 *
 * Stored forms:
 *   $argon2id$...          our own hashes (libsodium), the default
 *   {CRYPT}$6$... / $y$... / $2b$...
 *                          crypt(3) hashes imported from another server,
 *                          verified with libcrypt
 * Hashing and verifying are slow on purpose: call them on a worker
 * thread, never on an event loop. */
#ifndef POSTHORN_AUTH_PASS_H
#define POSTHORN_AUTH_PASS_H

#include <stddef.h>

struct auth_pass_params {
	unsigned memory_kib;
	unsigned passes;
};

/* Must run once before threads start (initializes libsodium). */
int auth_pass_init(void);

/* Returns a malloc'ed argon2id hash, or NULL on failure. */
char *auth_pass_hash(const char *password, size_t len,
		     const struct auth_pass_params *params);

/* Returns 1 on a match, 0 on a mismatch, -1 if the stored hash is of a
 * kind we cannot verify. */
int auth_pass_verify(const char *password, size_t len, const char *stored);

/* Whether a stored hash that just verified should be replaced by a fresh
 * argon2id hash with params: 1 for anything but argon2id (imported crypt(3)
 * hashes) and for an argon2id hash with less memory or fewer passes than
 * params, else 0.  A stronger argon2id hash is kept. */
int auth_pass_needs_rehash(const char *stored,
			   const struct auth_pass_params *params);

/* Check a hash offered for import ("{CRYPT}$6$...", "{SHA512-CRYPT}...",
 * "{BLF-CRYPT}...", "{ARGON2ID}$argon2id$...").  Returns the malloc'ed
 * stored form, or NULL with a reason in err_r. */
char *auth_pass_import(const char *field, const char **err_r);

/* True if the field names a hash scheme ("{...}") rather than being a
 * plain-text password. */
int auth_pass_is_scheme(const char *field);

#endif
