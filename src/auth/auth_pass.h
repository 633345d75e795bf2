/* auth_pass: password hashes as the store keeps them.
 *
 * Stored forms:
 *   $argon2id$...          our own hashes (libsodium), the default
 *   {CRYPT}$6$... / $y$... / $2b$...
 *                          crypt(3) hashes imported from another server,
 *                          verified with libcrypt, and replaced by
 *                          argon2id at the user's first login
 * Hashing and verifying are slow on purpose: call them on a worker
 * thread, never on an event loop. */
#ifndef POSTHORN_AUTH_PASS_H
#define POSTHORN_AUTH_PASS_H

#include <stdbool.h>
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

/* Read a password field of `user import`:
 *   "{PLAIN}text"        plain text, whatever it looks like: returns 0,
 *                        *plain_r = "text" (points into field)
 *   "{SCHEME}hash"       as auth_pass_import(): 1 with the malloc'ed
 *                        stored form in *hash_r, or -1
 *   "$6$..." "$5$..." "$y$..." "$2b$..." "$2y$..." "$2a$..." "$1$..."
 *                        a bare crypt(3) hash: 1 as above when libcrypt
 *                        here can verify it and its cost is sane; -1 with
 *                        a reason when it is not a whole usable hash (a
 *                        damaged hash is never taken for a password)
 *   anything else        plain text: 0, *plain_r = field
 * err_r is valid until the next call on the same thread. */
int auth_pass_import_field(const char *field, char **hash_r,
			   const char **plain_r, const char **err_r);

/* True for a stored hash of a kind known to be weak (MD5-crypt): import
 * warns about it; the first login replaces it anyway. */
bool auth_pass_is_weak(const char *stored);

#endif
