/* auth_app: the app passwords' own format.
 *
 * An app password is made by the server, never chosen: 16 characters from
 * a 32-letter alphabet (lowercase letters and digits without 0, 1, l, o),
 * 80 bits from libsodium's random generator, shown in four groups
 * ("abcd-efgh-jkmn-pqrs").  Users type it into a device, so a login
 * accepts it with or without the dashes or with spaces, in either case.
 *
 * The store keeps only a hash of its 16 characters, and a fast one
 * (BLAKE2b): a slow hash protects passwords that people choose, which a
 * stolen hash would give up to a guesser; 80 random bits are out of any
 * guesser's reach at any hash speed.  A fast hash lets a login try all of
 * a user's app passwords for the cost of one, so a device's login needs
 * no cache and a guesser gains nothing from a user having many. */
#ifndef POSTHORN_AUTH_APP_H
#define POSTHORN_AUTH_APP_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_APP_CHARS 16
/* Four groups of four, three dashes, a NUL. */
#define AUTH_APP_SHOWN_SIZE (AUTH_APP_CHARS + 3 + 1)
#define AUTH_APP_NAME_MAX 64

/* A new app password: its 16 characters (the form that is hashed) into
 * plain (NUL-terminated) and the form shown to the user into shown.
 * auth_pass_init() must have run. */
void auth_app_new(char plain[AUTH_APP_CHARS + 1],
		  char shown[AUTH_APP_SHOWN_SIZE]);

/* True when password, as a user may type it, is shaped like an app
 * password; its 16 characters then go into plain (NUL-terminated). */
bool auth_app_normalize(const char *password, size_t len,
			char plain[AUTH_APP_CHARS + 1]);

/* Stored form: "$app$" and 64 hex digits, NUL. */
#define AUTH_APP_HASH_SIZE (5 + 64 + 1)

/* The stored form of an app password's 16 characters. */
void auth_app_hash(const char plain[AUTH_APP_CHARS + 1],
		   char out[AUTH_APP_HASH_SIZE]);

/* Whether plain (16 characters, as auth_app_normalize gives) is the app
 * password stored as `stored`; in constant time. */
bool auth_app_verify(const char plain[AUTH_APP_CHARS + 1],
		     const char *stored);

/* True for a name an app password may have: 1 to AUTH_APP_NAME_MAX
 * letters, digits and "._-+@". */
bool auth_app_name_ok(const char *name);

#endif
