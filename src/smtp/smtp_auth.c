/* AUTH (RFC 4954) for submission: every mechanism of
 * auth/auth_exchange.h (PLAIN, LOGIN, SCRAM-SHA-256 and, over TLS,
 * SCRAM-SHA-256-PLUS), its challenges framed as "334 ", its checks on
 * the auth workers under the brute-force limits (auth/auth_limit.h). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/auth_exchange.h"
#include "auth/auth_limit.h"
#include "core/config.h"
#include "core/log.h"
#include "smtp/smtp_private.h"

/* The allowed-sender list of one user is at most this long: a user with
 * more aliases than fit loses the ones past it, never gains any. */
#define SENDERS_MAX (64 * 1024)

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
	auth_exchange_free(&s->sasl);
	s->sasl_wait = false;
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

/* On the worker, once the exchange said OK: the user's address and
 * what they may send as.  1, or -1 when the store failed. */
static int login_open(struct smtp_session *s, const struct store_user *u)
{
	struct store *store = s->env->store;
	snprintf(s->login, sizeof(s->login), "%s", u->address);
	s->user_id = u->id;
	str_clear(&s->senders);
	add_sender(u->address, &s->senders);
	if (store_alias_sources(store, u->address, add_sender, &s->senders) <
		    0 ||
	    store_sender_list(store, u->address, add_sender, &s->senders) < 0) {
		s->user_id = 0;
		str_free(&s->senders);
		return -1;
	}
	return 1;
}

static void sasl_run(void *arg)
{
	struct smtp_session *s = arg;
	auth_exchange_run(s->sasl);
	if (auth_exchange_status(s->sasl) == AUTH_EXCHANGE_OK)
		s->login_result = login_open(s, auth_exchange_user(s->sasl));
}

/* The login line; failures are counted and logged for fail2ban by
 * auth_limit_session_done. */
static void login_outcome(struct smtp_session *s, const char *result)
{
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "login");
	log_field(&line, "result", "%s", result);
	if (s->sasl != NULL)
		log_field(&line, "mech", "%s", auth_exchange_mech(s->sasl));
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
		break;
	case 0:
		login_outcome(s, "auth-failed");
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
		break;
	default:
		login_outcome(s, "tempfail");
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
	}
	auth_exchange_free(&s->sasl);
	if (s->login_result == 1)
		return;
	s->login[0] = '\0';
	s->user_id = 0;
	if (s->login_result == 0)
		smtp_count_error(s);
}

/* A failure's reply waits for its delay (auth/auth_limit.h). */
static void sasl_next(struct smtp_session *s, int st);

static void sasl_done(void *arg)
{
	struct smtp_session *s = arg;
	sasl_next(s, auth_exchange_status(s->sasl));
}

/* Logins wait in a queue of their own, so a flood of them slows only
 * logins, never mail; an address that logged in before has a lane of
 * its own.  Past the failure limits nothing is checked at all. */
static void sasl_work(struct smtp_session *s)
{
	struct worker_pool *pool = auth_limit_session_pool(
		s->env->limit, s->sess, s->login, s->env->auth_workers,
		s->env->auth_known);
	if (pool == NULL) {
		auth_exchange_free(&s->sasl);
		s->login[0] = '\0';
		smtp_reply(s, "454 4.7.0 Too many failed logins, try again "
			      "later");
		smtp_count_error(s);
		return;
	}
	if (session_run(s->sess, pool, sasl_run, sasl_done))
		return;
	login_outcome(s, "busy");
	auth_exchange_free(&s->sasl);
	s->login[0] = '\0';
	smtp_reply(s, "454 4.7.0 Too many logins at once, try again later");
}

/* Go on with the exchange after its last step said st. */
static void sasl_next(struct smtp_session *s, int st)
{
	/* For the log line; login_open() put the address as stored. */
	if (st != AUTH_EXCHANGE_OK)
		snprintf(s->login, sizeof(s->login), "%s",
			 auth_exchange_username(s->sasl));
	switch (st) {
	case AUTH_EXCHANGE_CHALLENGE:
		s->sasl_wait = true;
		smtp_reply(s, "334 %s", auth_exchange_challenge(s->sasl));
		return;
	case AUTH_EXCHANGE_WORK:
		sasl_work(s);
		return;
	case AUTH_EXCHANGE_OK:
		break; /* login_result is login_open()'s */
	case AUTH_EXCHANGE_FAIL:
		s->login_result = 0;
		break;
	case AUTH_EXCHANGE_TEMPFAIL:
		s->login_result = -1;
		break;
	case AUTH_EXCHANGE_CANCEL:
		auth_exchange_free(&s->sasl);
		s->login[0] = '\0';
		smtp_reply(s, "501 5.7.0 Authentication canceled");
		return;
	default:
		login_outcome(s, "bad-response");
		auth_exchange_free(&s->sasl);
		s->login[0] = '\0';
		smtp_reply(s, "501 5.5.2 Cannot decode the response");
		smtp_count_error(s);
		return;
	}
	auth_limit_session_done(s->env->limit, s->sess, s, s->login,
				s->login_result, login_reply);
}

void smtp_auth_line(struct smtp_session *s)
{
	struct str *l = &s->line;
	s->sasl_wait = false;
	sasl_next(s, auth_exchange_input(s->sasl, l->data, l->len));
	/* It may have held a password. */
	sodium_memzero(l->data, l->len);
}

/* The mechanisms for EHLO and AUTH: -PLUS only where TLS gives a
 * binding (cb filled). */
static bool has_binding(struct smtp_session *s, unsigned char cb[32])
{
	return session_tls_exporter(s->sess, cb) == 1;
}

const char *smtp_auth_mechs(struct smtp_session *s)
{
	unsigned char cb[32];
	bool plus = has_binding(s, cb);
	sodium_memzero(cb, sizeof(cb));
	return auth_exchange_mechs(plus);
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
	unsigned char cb[32];
	if (auth_refused(s))
		return;
	const char *arg = s->cmd.arg, *sp = memchr(arg, ' ', s->cmd.arglen);
	size_t nlen = sp != NULL ? (size_t)(sp - arg) : s->cmd.arglen;
	bool bound = has_binding(s, cb);
	s->sasl = auth_exchange_new(s->env->auth, arg, nlen, bound ? cb : NULL);
	sodium_memzero(cb, sizeof(cb));
	if (s->sasl == NULL) {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		smtp_count_error(s);
		return;
	}
	s->login[0] = '\0';
	const char *ir = sp != NULL ? sp + 1 : NULL;
	size_t irlen = sp != NULL ? s->cmd.arglen - nlen - 1 : 0;
	sasl_next(s, auth_exchange_start(s->sasl, ir, irlen));
	sodium_memzero(s->line.data, s->line.len);
}
