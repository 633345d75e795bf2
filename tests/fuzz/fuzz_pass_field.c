/* Fuzz the password field of `user import` (auth_pass_import_field) and
 * the app-password shape (auth_app_normalize): any bytes, as a line of an
 * import file or a password a client sends.
 *
 * Invariants: the field is a hash (1), a plain-text password (0) or
 * refused (-1), never two of these: a hash comes with its stored form and
 * no password, stored as {CRYPT} + the field itself when the field was a
 * bare crypt(3) hash, and of a kind auth_pass_verify() knows; a password
 * is the field or what follows {PLAIN}, never empty; a refusal always
 * has a reason.  A normalized app password is 16 letters of the alphabet
 * and normalizes to itself. */
#include "fuzz.h"

#include "auth/auth_app.h"
#include "auth/auth_pass.h"

static void check_field(const char *field)
{
	char *stored = (char *)"unset";
	const char *plain = "unset", *err = NULL;
	int rc = auth_pass_import_field(field, &stored, &plain, &err);
	CHECK(rc >= -1 && rc <= 1);
	if (rc < 0) {
		CHECK(err != NULL && stored == NULL && plain == NULL);
		return;
	}
	if (rc == 0) {
		CHECK(stored == NULL && plain != NULL && *plain != '\0');
		CHECK(plain == field ||
		      (strncmp(field, "{PLAIN}", 7) == 0 && plain == field + 7));
		CHECK(plain != field || !auth_pass_is_scheme(field));
		return;
	}
	CHECK(plain == NULL && stored != NULL);
	CHECK(strncmp(stored, "{CRYPT}$", 8) == 0 ||
	      strncmp(stored, "$argon2id$", 10) == 0);
	if (field[0] == '$')
		CHECK(strcmp(stored + 7, field) == 0);
	free(stored);
}

static void check_app(const char *pw, size_t len)
{
	char plain[AUTH_APP_CHARS + 1], again[AUTH_APP_CHARS + 1];
	if (!auth_app_normalize(pw, len, plain))
		return;
	CHECK(strlen(plain) == AUTH_APP_CHARS);
	CHECK(strspn(plain, "abcdefghijkmnpqrstuvwxyz23456789") ==
	      AUTH_APP_CHARS);
	CHECK(auth_app_normalize(plain, AUTH_APP_CHARS, again));
	CHECK(strcmp(plain, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		CHECK(auth_pass_init() == 0);
		ready = 1;
	}
	char *buf = fuzz_copy(data, size);
	check_app(buf, size);
	free(buf);
	/* As an import field: a string, at most the field limit. */
	if (size == 0 || size > 1023 || memchr(data, '\0', size) != NULL)
		return 0;
	char *field = malloc(size + 1);
	memcpy(field, data, size);
	field[size] = '\0';
	check_field(field);
	free(field);
	return 0;
}
