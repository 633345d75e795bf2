/* AUTH (RFC 4954) for submission: PLAIN (RFC 4616) and LOGIN, the
 * password checked by auth_login on the auth workers.
 *
 * A mechanism is a step function over the client's responses, so
 * another (SCRAM) is one more entry in the table: it gets each response
 * and either answers with a 334 challenge or says the credentials are
 * complete. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "auth/auth_limit.h"
#include "core/config.h"
#include "core/log.h"
#include "smtp/smtp_private.h"

/* The allowed-sender list of one user is at most this long: a user with
 * more aliases than fit loses the ones past it, never gains any. */
#define SENDERS_MAX (64 * 1024)

struct smtp_mech {
	const char *name;
	/* The client's response, decoded from base64 by the mechanism
	 * (NULL when AUTH came without an initial response).  Returns 1
	 * when login and password are complete, 0 after writing a 334
	 * challenge, -1 after replying to a bad response. */
	int (*step)(struct smtp_session *s, const char *resp, size_t len);
};

static int plain_step(struct smtp_session *s, const char *resp, size_t len)
{
	char pass[AUTH_SASL_PASSWORD_MAX];
	size_t plen;
	if (resp == NULL) {
		smtp_reply(s, "334 ");
		return 0;
	}
	if (!auth_sasl_plain(resp, len, s->login, sizeof(s->login), pass,
			     &plen)) {
		s->login[0] = '\0';
		smtp_reply(s, "501 5.5.2 Cannot decode the PLAIN response");
		return -1;
	}
	auth_secret_set(&s->password, pass, plen);
	sodium_memzero(pass, sizeof(pass));
	return 1;
}

/* LOGIN: "Username:" then "Password:", base64 both ways; an initial
 * response is the user name. */
static int login_step(struct smtp_session *s, const char *resp, size_t len)
{
	char pass[AUTH_SASL_PASSWORD_MAX + 1];
	size_t n;
	if (resp == NULL) {
		s->sasl_step = 1;
		smtp_reply(s, "334 VXNlcm5hbWU6");
		return 0;
	}
	if (s->sasl_step <= 1) {
		if (!auth_sasl_base64(resp, len, s->login, sizeof(s->login),
				      &n) ||
		    n == 0 || memchr(s->login, '\0', n) != NULL) {
			s->login[0] = '\0';
			smtp_reply(s, "501 5.5.2 Cannot decode the user name");
			return -1;
		}
		s->sasl_step = 2;
		smtp_reply(s, "334 UGFzc3dvcmQ6");
		return 0;
	}
	if (!auth_sasl_base64(resp, len, pass, sizeof(pass), &n)) {
		sodium_memzero(pass, sizeof(pass));
		smtp_reply(s, "501 5.5.2 Cannot decode the password");
		return -1;
	}
	auth_secret_set(&s->password, pass, n);
	sodium_memzero(pass, sizeof(pass));
	return 1;
}

static const struct smtp_mech mechs[] = {
	{"PLAIN", plain_step},
	{"LOGIN", login_step},
};

bool smtp_auth_offered(const struct smtp_session *s)
{
	if (s->env->role != SMTP_ROLE_SUBMISSION || s->env->auth == NULL)
		return false;
	int policy = s->env->cfg->auth.allow_insecure;
	return session_tls_active(s->sess) || policy == CONFIG_INSECURE_YES ||
	       (policy == CONFIG_INSECURE_LOOPBACK &&
		session_peer_is_loopback(s->sess));
}

void smtp_auth_forget(struct smtp_session *s)
{
	auth_secret_clear(&s->password);
	s->mech = NULL;
	s->sasl_step = 0;
	s->user_id = 0;
	s->login[0] = '\0';
	str_free(&s->senders);
}

/* ---- the password check, on the auth workers ---- */

static void add_sender(const char *address, void *ctx)
{
	struct str *list = ctx;
	size_t n = strlen(address);
	if (list->len + n + 1 <= SENDERS_MAX) {
		str_append(list, address, n);
		str_appendc(list, '\0');
	}
}

static void login_run(void *arg)
{
	struct smtp_session *s = arg;
	struct store *store = s->env->store;
	struct store_user u;
	s->login_result = auth_login(s->env->auth, s->login, strlen(s->login),
				     s->password.data, s->password.len, &u);
	auth_secret_clear(&s->password);
	if (s->login_result <= 0)
		return;
	snprintf(s->login, sizeof(s->login), "%s", u.address);
	s->user_id = u.id;
	str_clear(&s->senders);
	add_sender(u.address, &s->senders);
	if (store_alias_sources(store, u.address, add_sender, &s->senders) < 0 ||
	    store_sender_list(store, u.address, add_sender, &s->senders) < 0) {
		s->login_result = -1;
		s->user_id = 0;
		str_free(&s->senders);
	}
	store_user_clear(&u);
}

/* The login line; failures are counted and logged for fail2ban by
 * auth_limit_session_done. */
static void login_outcome(struct smtp_session *s, const char *result)
{
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "login");
	log_field(&line, "result", "%s", result);
	log_cvalue(&line, "user", s->login);
	log_put(LOG_INFO, &line);
}

static void login_reply(void *arg)
{
	struct smtp_session *s = arg;
	switch (s->login_result) {
	case 1:
		login_outcome(s, "ok");
		smtp_reply(s, "235 2.7.0 Authentication successful");
		return;
	case 0:
		login_outcome(s, "auth-failed");
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
		break;
	default:
		login_outcome(s, "tempfail");
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
	}
	s->login[0] = '\0';
	s->user_id = 0;
	if (s->login_result == 0)
		smtp_count_error(s);
}

/* A failure's reply waits for its delay (auth/auth_limit.h). */
static void login_done(void *arg)
{
	struct smtp_session *s = arg;
	auth_limit_session_done(s->env->limit, s->sess, s, s->login,
				s->login_result, login_reply);
}

/* Logins wait in a queue of their own, so a flood of them slows only
 * logins, never mail; an address that logged in before has a lane of
 * its own.  Past the failure limits no password is checked at all. */
static void start_login(struct smtp_session *s)
{
	struct worker_pool *pool = auth_limit_session_pool(
		s->env->limit, s->sess, s->login, s->env->auth_workers,
		s->env->auth_known);
	if (pool == NULL) {
		auth_secret_clear(&s->password);
		s->login[0] = '\0';
		smtp_reply(s, "454 4.7.0 Too many failed logins, try again "
			      "later");
		smtp_count_error(s);
		return;
	}
	if (session_run(s->sess, pool, login_run, login_done))
		return;
	auth_secret_clear(&s->password);
	login_outcome(s, "busy");
	s->login[0] = '\0';
	smtp_reply(s, "454 4.7.0 Too many logins at once, try again later");
}

/* ---- the exchange ---- */

static void sasl_response(struct smtp_session *s, const char *resp,
			  size_t len)
{
	int rc = s->mech->step(s, resp, len);
	if (rc == 0)
		return;
	s->mech = NULL;
	s->sasl_step = 0;
	if (rc > 0) {
		start_login(s);
		return;
	}
	login_outcome(s, "bad-response");
	s->login[0] = '\0';
	smtp_count_error(s);
}

void smtp_auth_line(struct smtp_session *s)
{
	struct str *l = &s->line;
	if (l->len == 1 && l->data[0] == '*') {
		s->mech = NULL;
		s->sasl_step = 0;
		s->login[0] = '\0';
		smtp_reply(s, "501 5.7.0 Authentication canceled");
		return;
	}
	sasl_response(s, l->data, l->len);
	/* It may have held a password. */
	sodium_memzero(l->data, l->len);
}

/* Refuse AUTH where it cannot be: returns true after replying. */
static bool auth_refused(struct smtp_session *s)
{
	if (s->env->role != SMTP_ROLE_SUBMISSION || s->env->auth == NULL) {
		smtp_reply(s, "502 5.5.1 AUTH not available");
	} else if (s->user_id != 0) {
		smtp_reply(s, "503 5.5.1 Already authenticated");
	} else if (s->state != SMTP_S_READY || !s->esmtp) {
		smtp_reply(s, "503 5.5.1 %s",
			   s->esmtp ? "AUTH not allowed during a mail "
				      "transaction"
				    : "Send EHLO first");
	} else if (!smtp_auth_offered(s)) {
		smtp_reply(s, "538 5.7.11 Encryption required for requested "
			      "authentication mechanism");
	} else {
		return false;
	}
	smtp_count_error(s);
	return true;
}

void smtp_cmd_auth(struct smtp_session *s)
{
	if (auth_refused(s))
		return;
	const char *arg = s->cmd.arg, *sp = memchr(arg, ' ', s->cmd.arglen);
	size_t nlen = sp != NULL ? (size_t)(sp - arg) : s->cmd.arglen;
	const struct smtp_mech *m = NULL;
	for (size_t i = 0; i < sizeof(mechs) / sizeof(*mechs); i++)
		if (strlen(mechs[i].name) == nlen &&
		    strncasecmp(mechs[i].name, arg, nlen) == 0)
			m = &mechs[i];
	if (m == NULL) {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		smtp_count_error(s);
		return;
	}
	s->mech = m;
	s->sasl_step = 0;
	s->login[0] = '\0';
	if (sp == NULL) {
		sasl_response(s, NULL, 0);
		return;
	}
	const char *ir = sp + 1;
	size_t irlen = s->cmd.arglen - nlen - 1;
	/* RFC 4954 4: "=" is an empty initial response. */
	if (irlen == 1 && ir[0] == '=')
		irlen = 0;
	sasl_response(s, ir, irlen);
	sodium_memzero(s->line.data, s->line.len);
}
