/* SASL exchanges: PLAIN, LOGIN, SCRAM-SHA-256(-PLUS), as one state
 * machine that every protocol drives the same way. */
#include "auth/auth_exchange.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "auth/auth_sasl.h"
#include "auth/auth_scram.h"
#include "core/xalloc.h"
#include "mime/addr.h"

enum mech { M_PLAIN, M_LOGIN, M_SCRAM, M_SCRAM_PLUS };

static const char *const mech_names[] = {
	[M_PLAIN] = "PLAIN",
	[M_LOGIN] = "LOGIN",
	[M_SCRAM] = "SCRAM-SHA-256",
	[M_SCRAM_PLUS] = "SCRAM-SHA-256-PLUS",
};

/* Where the exchange waits. */
enum step {
	S_PLAIN,	/* PLAIN's one response */
	S_LOGIN_USER,
	S_LOGIN_PASS,
	S_SCRAM_FIRST,	/* client-first-message */
	S_SCRAM_FINAL,	/* client-final-message */
	S_SCRAM_ACK,	/* the empty response to server-final */
	S_DONE,
};

/* What auth_exchange_run() does. */
enum work { W_NONE, W_LOGIN, W_SCRAM_LOOKUP, W_SCRAM_OK };

/* draft-murchison-sasl-login's prompts, as clients expect them. */
#define PROMPT_USER "VXNlcm5hbWU6"	/* "Username:" */
#define PROMPT_PASS "UGFzc3dvcmQ6"	/* "Password:" */

struct auth_exchange {
	struct auth *auth;
	enum mech mech;
	enum step step;
	enum work work;
	int status;
	const char *error;
	char username[ADDR_TEXT_MAX];
	struct auth_secret password;
	struct auth_scram *scram;
	bool scram_known;	/* the user exists and has a secret */
	struct str challenge;
	struct store_user user;
};

const char *auth_exchange_mechs(bool plus)
{
	return plus ? "PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS"
		    : "PLAIN LOGIN SCRAM-SHA-256";
}

struct auth_exchange *auth_exchange_new(struct auth *auth, const char *mech,
					size_t len, const unsigned char *cb)
{
	size_t m = 0;
	for (; m < sizeof(mech_names) / sizeof(*mech_names); m++)
		if (strlen(mech_names[m]) == len &&
		    strncasecmp(mech, mech_names[m], len) == 0)
			break;
	if (m == sizeof(mech_names) / sizeof(*mech_names) ||
	    (m == M_SCRAM_PLUS && cb == NULL))
		return NULL;
	struct auth_exchange *x = xcalloc(1, sizeof(*x));
	x->auth = auth;
	x->mech = (enum mech)m;
	x->step = m == M_PLAIN ? S_PLAIN
		  : m == M_LOGIN ? S_LOGIN_USER
				 : S_SCRAM_FIRST;
	if (m >= M_SCRAM)
		x->scram = auth_scram_new(m == M_SCRAM_PLUS, cb);
	return x;
}

void auth_exchange_free(struct auth_exchange **xp)
{
	struct auth_exchange *x = *xp;
	if (x == NULL)
		return;
	auth_secret_clear(&x->password);
	auth_scram_free(&x->scram);
	str_free(&x->challenge);
	store_user_clear(&x->user);
	sodium_memzero(x, sizeof(*x));
	free(x);
	*xp = NULL;
}

static int set_status(struct auth_exchange *x, int status)
{
	x->status = status;
	if (status != AUTH_EXCHANGE_CHALLENGE && status != AUTH_EXCHANGE_WORK)
		x->step = S_DONE;
	return status;
}

static int bad(struct auth_exchange *x, const char *why)
{
	x->error = why;
	return set_status(x, AUTH_EXCHANGE_BAD);
}

static int challenge(struct auth_exchange *x, const char *b64)
{
	str_clear(&x->challenge);
	str_appends(&x->challenge, b64);
	return set_status(x, AUTH_EXCHANGE_CHALLENGE);
}

/* The challenge: a SCRAM server message, in base64. */
static void challenge_of(struct auth_exchange *x, const struct str *msg)
{
	size_t cap = sodium_base64_ENCODED_LEN(msg->len,
					       sodium_base64_VARIANT_ORIGINAL);
	str_clear(&x->challenge);
	char *dst = str_reserve(&x->challenge, cap);
	sodium_bin2base64(dst, cap, (const unsigned char *)msg->data, msg->len,
			  sodium_base64_VARIANT_ORIGINAL);
	str_commit(&x->challenge, strlen(dst));
}

static int plain(struct auth_exchange *x, const char *b64, size_t len)
{
	char pass[AUTH_SASL_PASSWORD_MAX];
	size_t plen;
	int rc = auth_sasl_plain_parse(b64, len, x->username,
				       sizeof(x->username), pass, &plen);
	if (rc < 0)
		return bad(x, "malformed PLAIN response");
	if (rc == 0)
		return set_status(x, AUTH_EXCHANGE_FAIL);
	auth_secret_set(&x->password, pass, plen);
	sodium_memzero(pass, sizeof(pass));
	x->work = W_LOGIN;
	return set_status(x, AUTH_EXCHANGE_WORK);
}

/* One LOGIN value: the user name, then the password. */
static int login(struct auth_exchange *x, const char *b64, size_t len)
{
	char buf[AUTH_SASL_PASSWORD_MAX + 1];
	size_t n;
	if (!auth_sasl_base64(b64, len, buf, sizeof(buf), &n) ||
	    memchr(buf, '\0', n) != NULL) {
		sodium_memzero(buf, sizeof(buf));
		return bad(x, "malformed LOGIN response");
	}
	if (x->step == S_LOGIN_USER) {
		if (n >= sizeof(x->username))
			return bad(x, "user name too long");
		memcpy(x->username, buf, n + 1);
		x->step = S_LOGIN_PASS;
		return challenge(x, PROMPT_PASS);
	}
	auth_secret_set(&x->password, buf, n);
	sodium_memzero(buf, sizeof(buf));
	x->work = W_LOGIN;
	return set_status(x, AUTH_EXCHANGE_WORK);
}

static int scram_first(struct auth_exchange *x, const char *b64, size_t len)
{
	char msg[AUTH_SCRAM_MESSAGE_MAX + 1];
	size_t n;
	const char *err = NULL;
	if (!auth_sasl_base64(b64, len, msg, sizeof(msg), &n))
		return bad(x, "malformed SCRAM response");
	if (auth_scram_client_first(x->scram, msg, n, &err) < 0)
		return bad(x, err);
	const char *user = auth_scram_user(x->scram);
	/* A name SCRAM cannot take is logged, as it came, in clean form. */
	snprintf(x->username, sizeof(x->username), "%s",
		 user != NULL ? user : "(not SASLprep'able)");
	x->work = W_SCRAM_LOOKUP;
	return set_status(x, AUTH_EXCHANGE_WORK);
}

/* The proof takes a few hashes with the stored keys: cheap enough for
 * the loop. */
static int scram_final(struct auth_exchange *x, const char *b64, size_t len)
{
	char msg[AUTH_SCRAM_MESSAGE_MAX + 1];
	size_t n;
	const char *err = NULL;
	struct str out = STR_INIT;
	if (!auth_sasl_base64(b64, len, msg, sizeof(msg), &n))
		return bad(x, "malformed SCRAM response");
	int rc = auth_scram_client_final(x->scram, msg, n, &out, &err);
	if (rc < 0) {
		str_free(&out);
		return bad(x, err);
	}
	if (rc == 0 || !x->scram_known) {
		str_free(&out);
		return set_status(x, AUTH_EXCHANGE_FAIL);
	}
	challenge_of(x, &out);
	str_free(&out);
	x->step = S_SCRAM_ACK;
	return set_status(x, AUTH_EXCHANGE_CHALLENGE);
}

int auth_exchange_input(struct auth_exchange *x, const char *line,
			size_t len)
{
	if (x->step == S_DONE || x->status == AUTH_EXCHANGE_WORK)
		return bad(x, "out of order");
	if (len == 1 && line[0] == '*')
		return set_status(x, AUTH_EXCHANGE_CANCEL);
	switch (x->step) {
	case S_PLAIN:
		return plain(x, line, len);
	case S_LOGIN_USER:
	case S_LOGIN_PASS:
		return login(x, line, len);
	case S_SCRAM_FIRST:
		return scram_first(x, line, len);
	case S_SCRAM_FINAL:
		return scram_final(x, line, len);
	case S_SCRAM_ACK:
		/* RFC 4422 3: the client answers the server's last data
		 * with an empty response. */
		if (len != 0)
			return bad(x, "expected an empty response");
		x->work = W_SCRAM_OK;
		return set_status(x, AUTH_EXCHANGE_WORK);
	case S_DONE:
		break;
	}
	return bad(x, "out of order");
}

int auth_exchange_start(struct auth_exchange *x, const char *ir, size_t len)
{
	if (ir == NULL)
		return challenge(x, x->mech == M_LOGIN ? PROMPT_USER : "");
	/* RFC 4959 / RFC 5034 / RFC 4954: "=" is an empty response. */
	if (len == 1 && ir[0] == '=')
		len = 0;
	return auth_exchange_input(x, ir, len);
}

const char *auth_exchange_challenge(const struct auth_exchange *x)
{
	return x->challenge.data != NULL ? x->challenge.data : "";
}

static void run_scram_lookup(struct auth_exchange *x)
{
	struct auth_scram_secret sec;
	struct str out = STR_INIT;
	int rc = auth_lookup_scram(x->auth, auth_scram_user(x->scram),
				   &x->user, &sec);
	if (rc < 0) {
		set_status(x, AUTH_EXCHANGE_TEMPFAIL);
		return;
	}
	x->scram_known = rc > 0;
	auth_scram_server_first(x->scram, &sec, NULL, &out);
	sodium_memzero(&sec, sizeof(sec));
	challenge_of(x, &out);
	str_free(&out);
	x->step = S_SCRAM_FINAL;
	set_status(x, AUTH_EXCHANGE_CHALLENGE);
}

void auth_exchange_run(struct auth_exchange *x)
{
	enum work w = x->work;
	x->work = W_NONE;
	switch (w) {
	case W_LOGIN: {
		int rc = auth_login(x->auth, x->username, strlen(x->username),
				    x->password.data, x->password.len,
				    &x->user);
		auth_secret_clear(&x->password);
		set_status(x, rc > 0    ? AUTH_EXCHANGE_OK
			      : rc == 0 ? AUTH_EXCHANGE_FAIL
					: AUTH_EXCHANGE_TEMPFAIL);
		break;
	}
	case W_SCRAM_LOOKUP:
		run_scram_lookup(x);
		break;
	case W_SCRAM_OK:
		set_status(x, AUTH_EXCHANGE_OK);
		break;
	case W_NONE:
		bad(x, "out of order");
		break;
	}
}

int auth_exchange_status(const struct auth_exchange *x)
{
	return x->status;
}

const struct store_user *auth_exchange_user(const struct auth_exchange *x)
{
	return x->status == AUTH_EXCHANGE_OK ? &x->user : NULL;
}

const char *auth_exchange_username(const struct auth_exchange *x)
{
	return x->username;
}

const char *auth_exchange_mech(const struct auth_exchange *x)
{
	return mech_names[x->mech];
}

const char *auth_exchange_error(const struct auth_exchange *x)
{
	return x->error != NULL ? x->error : "";
}
