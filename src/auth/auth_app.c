#include "auth/auth_app.h"

#include <sodium.h>
#include <string.h>

/* 32 letters, so one random byte gives one letter without bias (256 is a
 * multiple of 32); none that a reader confuses with another. */
static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";

void auth_app_new(char plain[AUTH_APP_CHARS + 1],
		  char shown[AUTH_APP_SHOWN_SIZE])
{
	unsigned char rnd[AUTH_APP_CHARS];
	size_t o = 0;
	randombytes_buf(rnd, sizeof(rnd));
	for (size_t i = 0; i < AUTH_APP_CHARS; i++) {
		plain[i] = alphabet[rnd[i] % 32];
		if (i > 0 && i % 4 == 0)
			shown[o++] = '-';
		shown[o++] = plain[i];
	}
	plain[AUTH_APP_CHARS] = '\0';
	shown[o] = '\0';
	sodium_memzero(rnd, sizeof(rnd));
}

bool auth_app_normalize(const char *password, size_t len,
			char plain[AUTH_APP_CHARS + 1])
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = password[i];
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '\0' || strchr(alphabet, c) == NULL ||
		    n == AUTH_APP_CHARS)
			return false;
		plain[n++] = c;
	}
	plain[n] = '\0';
	return n == AUTH_APP_CHARS;
}

bool auth_app_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > AUTH_APP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._-+@", c) != NULL))
			return false;
	}
	return true;
}

void auth_app_hash(const char plain[AUTH_APP_CHARS + 1],
		   char out[AUTH_APP_HASH_SIZE])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)plain,
			   AUTH_APP_CHARS, NULL, 0);
	memcpy(out, "$app$", 5);
	sodium_bin2hex(out + 5, AUTH_APP_HASH_SIZE - 5, h, sizeof(h));
}

bool auth_app_verify(const char plain[AUTH_APP_CHARS + 1],
		     const char *stored)
{
	char mine[AUTH_APP_HASH_SIZE];
	if (strlen(stored) != AUTH_APP_HASH_SIZE - 1)
		return false;
	auth_app_hash(plain, mine);
	bool same = sodium_memcmp(mine, stored, AUTH_APP_HASH_SIZE - 1) == 0;
	sodium_memzero(mine, sizeof(mine));
	return same;
}
