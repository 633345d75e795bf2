/* Commands of any state and of the not-authenticated state: CAPABILITY,
 * NOOP, LOGOUT, ID, ENABLE, NAMESPACE, LOGIN, AUTHENTICATE. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/auth_exchange.h"
#include "auth/auth_limit.h"
#include "auth/auth_sasl.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "imap/imap_args.h"
#include "imap/imap_private.h"

/* What every state offers, then what only a logged-in session has. */
static const char caps_common[] =
	"IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE";
static const char caps_auth[] =
	" NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE CONDSTORE"
	" QRESYNC ESEARCH BINARY PREVIEW STATUS=SIZE SORT"
	" THREAD=ORDEREDSUBJECT THREAD=REFERENCES LIST-EXTENDED LIST-STATUS"
	" QUOTA QUOTA=RES-STORAGE SEARCHRES UTF8=ACCEPT"
	" COMPRESS=DEFLATE OBJECTID SAVEDATE";

bool imap_login_allowed(struct imap_session *s)
{
	int policy = s->env->cfg->auth.allow_insecure;
	return session_tls_active(s->sess) || policy == CONFIG_INSECURE_YES ||
	       (policy == CONFIG_INSECURE_LOOPBACK &&
		session_peer_is_loopback(s->sess));
}

/* " AUTH=PLAIN AUTH=LOGIN ..."; -PLUS where TLS gives a channel
 * binding.  The greeting of an IMAPS connection is written before its
 * handshake: it offers -PLUS, which every client that does RFC 9266 can
 * use (TLS 1.3, or 1.2 with the extended master secret); CAPABILITY then
 * tells the truth for a connection that ended up without a binding. */
static void mechs(struct imap_session *s, struct str *out)
{
	unsigned char cb[32];
	bool plus = session_tls_exporter(s->sess, cb) == 1 ||
		    (session_tls_active(s->sess) &&
		     !session_tls_info(s->sess, NULL));
	const char *m = auth_exchange_mechs(plus);
	sodium_memzero(cb, sizeof(cb));
	while (*m != '\0') {
		size_t n = strcspn(m, " ");
		str_printf(out, " AUTH=%.*s", (int)n, m);
		m += n + (m[n] == ' ');
	}
}

void imap_capabilities(struct imap_session *s, struct str *out)
{
	str_appends(out, caps_common);
	if (s->state == IMAP_S_NOTAUTH && session_tls_available(s->sess))
		str_appends(out, " STARTTLS");
	if (s->state == IMAP_S_NOTAUTH) {
		if (imap_login_allowed(s))
			mechs(s, out);
		else
			str_appends(out, " LOGINDISABLED");
		return;
	}
	str_appends(out, caps_auth);
	str_printf(out, " APPENDLIMIT=%llu",
		   (unsigned long long)s->env->cfg->smtp.max_message_size);
}

/* A command without arguments must end here. */
static bool no_args(struct imap_session *s, struct imap_parser *p)
{
	if (imap_parse_end(p) > 0)
		return true;
	imap_reply_parse_error(s, p);
	return false;
}

void imap_cmd_capability(struct imap_session *s, struct imap_parser *p)
{
	if (!no_args(s, p))
		return;
	struct str caps = STR_INIT;
	imap_capabilities(s, &caps);
	imap_write(s, "* CAPABILITY %.*s", (int)caps.len, caps.data);
	str_free(&caps);
	imap_reply(s, "OK CAPABILITY completed");
}

void imap_cmd_noop(struct imap_session *s, struct imap_parser *p)
{
	if (!no_args(s, p))
		return;
	/* Outside a mailbox, or when the store said nothing changed,
	 * there is nothing to look up. */
	if (s->view == NULL || !s->changed) {
		imap_reply(s, "OK %s completed", s->command->name);
		return;
	}
	s->changed = false;
	imap_tagged(s, "OK %s completed", s->command->name);
	imap_job(s, imap_run_sync);
}

void imap_cmd_logout(struct imap_session *s, struct imap_parser *p)
{
	if (!no_args(s, p))
		return;
	imap_write(s, "* BYE Logging out");
	imap_reply(s, "OK LOGOUT completed");
	imap_set_state(s, IMAP_S_LOGOUT);
	session_close(s->sess);
}

/* The log key for an ID field: RFC 2971's fields and the "event" of iOS
 * Mail, under keys of our own.  Field names come from the client ("os-version"
 * has a dash no log key may have, and log.c takes a bad key for our bug), so
 * none is ever used as a key itself; other fields are not logged. */
static const char *id_log_key(const struct imap_string *field)
{
	static const struct {
		const char *upper, *key;
	} keys[] = {
		{"NAME", "name"},	  {"VERSION", "version"},
		{"OS", "os"},		  {"OS-VERSION", "os_version"},
		{"VENDOR", "vendor"},	  {"SUPPORT-URL", "support_url"},
		{"ADDRESS", "address"},	  {"DATE", "date"},
		{"COMMAND", "command"},	  {"ARGUMENTS", "arguments"},
		{"ENVIRONMENT", "environment"}, {"EVENT", "event"},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (imap_string_eq(field, keys[i].upper))
			return keys[i].key;
	return NULL;
}

/* RFC 2971: the client's parameters are logged; ours are answered. */
void imap_cmd_id(struct imap_session *s, struct imap_parser *p)
{
	struct imap_id_param *params;
	unsigned n;
	if (imap_args_id(p, &params, &n) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (n > 0) {
		struct str line = STR_INIT;
		session_log_begin(s->sess, &line, "id");
		for (unsigned i = 0; i < n; i++) {
			const char *key = id_log_key(&params[i].field);
			if (key != NULL && params[i].value.data != NULL)
				log_value(&line, key, params[i].value.data,
					  params[i].value.len);
		}
		log_put(LOG_INFO, &line);
	}
	imap_write(s, "* ID (\"name\" \"posthorn\" \"vendor\" \"posthorn\")");
	imap_reply(s, "OK ID completed");
}

/* RFC 5161; only what is implemented whole is enabled. */
void imap_cmd_enable(struct imap_session *s, struct imap_parser *p)
{
	static const struct {
		const char *upper, *name;
		unsigned bit;
	} known[] = {
		{"CONDSTORE", "CONDSTORE", IMAP_EN_CONDSTORE},
		{"QRESYNC", "QRESYNC", IMAP_EN_QRESYNC | IMAP_EN_CONDSTORE},
		{"UTF8=ACCEPT", "UTF8=ACCEPT", IMAP_EN_UTF8},
		{"IMAP4REV2", "IMAP4rev2", IMAP_EN_REV2},
	};
	struct imap_string *caps;
	unsigned n;
	if (imap_args_enable(p, &caps, &n) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	struct str on = STR_INIT;
	for (unsigned c = 0; c < n; c++) {
		for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++) {
			if (!imap_string_eq(&caps[c], known[i].upper) ||
			    (s->enabled & known[i].bit) == known[i].bit)
				continue;
			s->enabled |= known[i].bit;
			str_printf(&on, " %s", known[i].name);
		}
	}
	imap_write(s, "* ENABLED%s", on.len ? on.data : "");
	str_free(&on);
	imap_reply(s, "OK ENABLE completed");
}

void imap_cmd_namespace(struct imap_session *s, struct imap_parser *p)
{
	if (!no_args(s, p))
		return;
	imap_write(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_reply(s, "OK NAMESPACE completed");
}

/* RFC 9051 6.2.1: after the handshake the client starts over; what it
 * pipelined behind STARTTLS is dropped unread (the session core does
 * that), and it must ask for the capabilities again. */
void imap_cmd_starttls(struct imap_session *s, struct imap_parser *p)
{
	if (!no_args(s, p))
		return;
	if (session_tls_active(s->sess)) {
		imap_reply(s, "BAD TLS is already active");
		imap_count_error(s);
		return;
	}
	if (!session_tls_available(s->sess)) {
		imap_reply(s, "NO [UNAVAILABLE] TLS is not available");
		return;
	}
	imap_reply(s, "OK Begin TLS negotiation now");
	imap_command_end(s);
	session_starttls(s->sess);
}

/* ---- login ---- */

/* The name is kept on the heap: an address may take ADDR_TEXT_MAX bytes,
 * and most sessions idle for hours holding a short one. */
static void user_set(struct imap_session *s, const char *name, size_t len)
{
	free(s->user);
	s->user = xstrndup(name, len);
}

static void user_clear(struct imap_session *s)
{
	free(s->user);
	s->user = NULL;
}

/* On a worker, once the credentials matched: the session is the user's,
 * and the account is opened once (its directory exists from then on,
 * and the watch needs it: an account that never had mail has none
 * yet).  Returns 1, or -1 when the store failed. */
static int login_open(struct imap_session *s, const struct store_user *u)
{
	user_set(s, u->address, strlen(u->address));
	s->user_id = u->id;
	struct store_account *acct = NULL;
	if (store_account_open(s->env->store, s->user_id, &acct, NULL) < 0)
		return -1;
	store_account_unref(&acct);
	s->notify = imap_notify_new(s);
	return 1;
}

static void login_run(void *arg)
{
	struct imap_session *s = arg;
	struct store_user u;
	s->login_result = auth_login(s->env->auth, imap_user(s),
				     strlen(imap_user(s)),
				     s->password.data, s->password.len, &u);
	auth_secret_clear(&s->password);
	if (s->login_result <= 0)
		return;
	s->login_result = login_open(s, &u);
	store_user_clear(&u);
}

/* The answer to LOGIN or AUTHENTICATE, by s->login_result. */
static void login_answer(struct imap_session *s)
{
	const char *result = s->login_result > 0    ? "ok"
			     : s->login_result == 0 ? "auth-failed"
						    : "tempfail";
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "login");
	log_field(&line, "result", "%s", result);
	if (s->sasl != NULL)
		log_field(&line, "mech", "%s", auth_exchange_mech(s->sasl));
	log_cvalue(&line, "user", imap_user(s));
	log_put(LOG_INFO, &line);
	if (s->login_result > 0) {
		imap_set_state(s, IMAP_S_AUTH);
		struct str caps = STR_INIT;
		imap_capabilities(s, &caps);
		imap_reply(s, "OK [CAPABILITY %.*s] Logged in", (int)caps.len,
			   caps.data);
		str_free(&caps);
	} else {
		user_clear(s);
		s->user_id = 0;
		if (s->login_result == 0) {
			imap_reply(s, "NO [AUTHENTICATIONFAILED] "
				      "Authentication failed");
			imap_count_error(s);
		} else {
			imap_reply(s, "NO [UNAVAILABLE] Temporary failure, "
				      "try again later");
		}
	}
}

static void log_busy(struct imap_session *s)
{
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "login");
	log_field(&line, "result", "busy");
	log_cvalue(&line, "user", imap_user(s));
	log_put(LOG_INFO, &line);
	user_clear(s);
	imap_reply(s, "NO [UNAVAILABLE] Too many logins at once, try again "
		      "later");
}

/* After a failure's delay (auth/auth_limit.h), or at once. */
static void login_reply(void *arg)
{
	struct imap_session *s = arg;
	login_answer(s);
	imap_command_end(s);
}

static void login_done(void *arg)
{
	struct imap_session *s = arg;
	auth_limit_session_done(s->env->limit, s->sess, s, imap_user(s),
				s->login_result, login_reply);
}

/* Password checks have their own queue: a flood of logins waits there,
 * or is refused, and never delays other sessions' commands.  Past the
 * failure limits no password is checked at all (RFC 5530: UNAVAILABLE,
 * a temporary refusal, not AUTHENTICATIONFAILED). */
static void start_login(struct imap_session *s, const char *user,
			size_t ulen, const char *pass, size_t plen)
{
	auth_secret_clear(&s->password);
	if (ulen >= ADDR_TEXT_MAX || memchr(user, '\0', ulen) != NULL ||
	    plen > AUTH_SASL_PASSWORD_MAX) {
		imap_reply(s, "NO [AUTHENTICATIONFAILED] Authentication failed");
		imap_count_error(s);
		return;
	}
	user_set(s, user, ulen);
	struct worker_pool *pool = auth_limit_session_pool(
		s->env->limit, s->sess, imap_user(s), s->env->auth_workers,
		s->env->auth_known);
	if (pool == NULL) {
		user_clear(s);
		imap_reply(s, "NO [UNAVAILABLE] Too many failed logins, try "
			      "again later");
		imap_count_error(s);
		return;
	}
	auth_secret_set(&s->password, pass, plen);
	if (session_run(s->sess, pool, login_run, login_done))
		return;
	auth_secret_clear(&s->password);
	log_busy(s);
}

static bool refuse_insecure(struct imap_session *s)
{
	if (imap_login_allowed(s))
		return false;
	imap_reply(s, "NO [PRIVACYREQUIRED] Login is not allowed on this "
		      "connection");
	imap_count_error(s);
	return true;
}

void imap_cmd_login(struct imap_session *s, struct imap_parser *p)
{
	struct imap_string user, pass;
	if (imap_args_login(p, &user, &pass) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (refuse_insecure(s))
		return;
	start_login(s, user.data, user.len, pass.data, pass.len);
	sodium_memzero((char *)pass.data, pass.len);
	sodium_memzero(s->cmd.data, s->cmd.len);
}

/* ---- AUTHENTICATE: the exchange is auth/auth_exchange.h's ---- */

static void sasl_next(struct imap_session *s, int st);

static void sasl_run(void *arg)
{
	struct imap_session *s = arg;
	auth_exchange_run(s->sasl);
	if (auth_exchange_status(s->sasl) == AUTH_EXCHANGE_OK)
		s->login_result = login_open(s, auth_exchange_user(s->sasl));
}

static void sasl_done(void *arg)
{
	struct imap_session *s = arg;
	sasl_next(s, auth_exchange_status(s->sasl));
	if (!s->sasl_wait && !session_busy(s->sess))
		imap_command_end(s);
}

/* The command's end frees the exchange, however it ends. */
static void sasl_finish(struct imap_session *s)
{
	auth_exchange_free(&s->sasl);
}

static void sasl_bad(struct imap_session *s, const char *reply)
{
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "auth-error");
	log_field(&line, "mech", "%s", auth_exchange_mech(s->sasl));
	log_cvalue(&line, "cause", auth_exchange_error(s->sasl));
	log_put(LOG_INFO, &line);
	imap_reply(s, "%s", reply);
	imap_count_error(s);
}

/* The answer, at once or after a failure's delay (auth/auth_limit.h);
 * only after a delay is the command still to be ended here (else its
 * caller ends it). */
static void sasl_reply(void *arg)
{
	struct imap_session *s = arg;
	login_answer(s);
	if (s->login_paused) {
		s->login_paused = false;
		imap_command_end(s);
	}
}

/* A password or secret to check: past the failure limits none is
 * (RFC 5530 UNAVAILABLE); an address that logged in before has a lane
 * of its own, so a flood of guesses does not queue in front of it. */
static void sasl_work(struct imap_session *s)
{
	user_set(s, auth_exchange_username(s->sasl),
		 strlen(auth_exchange_username(s->sasl)));
	struct worker_pool *pool = auth_limit_session_pool(
		s->env->limit, s->sess, imap_user(s), s->env->auth_workers,
		s->env->auth_known);
	if (pool == NULL) {
		user_clear(s);
		imap_reply(s, "NO [UNAVAILABLE] Too many failed logins, try "
			      "again later");
		imap_count_error(s);
		return;
	}
	if (!session_run(s->sess, pool, sasl_run, sasl_done))
		log_busy(s);
}

/* Go on with the exchange after its last step said st. */
static void sasl_next(struct imap_session *s, int st)
{
	/* For the log line; login_open() put the address as stored. */
	if (st != AUTH_EXCHANGE_OK)
		user_set(s, auth_exchange_username(s->sasl),
		 strlen(auth_exchange_username(s->sasl)));
	switch (st) {
	case AUTH_EXCHANGE_CHALLENGE:
		s->sasl_wait = true;
		imap_write(s, "+ %s", auth_exchange_challenge(s->sasl));
		return;
	case AUTH_EXCHANGE_WORK:
		sasl_work(s);
		return;
	case AUTH_EXCHANGE_OK:
		/* login_result is login_open()'s. */
		break;
	case AUTH_EXCHANGE_FAIL:
		s->login_result = 0;
		break;
	case AUTH_EXCHANGE_TEMPFAIL:
		s->login_result = -1;
		break;
	case AUTH_EXCHANGE_CANCEL:
		user_clear(s);
		imap_reply(s, "BAD Authentication canceled");
		return;
	default:
		user_clear(s);
		sasl_bad(s, "BAD Malformed authentication response");
		return;
	}
	auth_limit_session_done(s->env->limit, s->sess, s, imap_user(s),
				s->login_result, sasl_reply);
	/* Paused for a failure's delay: sasl_reply ends the command. */
	s->login_paused = session_busy(s->sess);
}

/* The mechanisms offered here: -PLUS only where TLS gives a binding. */
static bool has_binding(struct imap_session *s, unsigned char cb[32])
{
	return session_tls_exporter(s->sess, cb) == 1;
}

void imap_cmd_authenticate(struct imap_session *s, struct imap_parser *p)
{
	struct imap_string mech, ir;
	unsigned char cb[32];
	if (imap_args_authenticate(p, &mech, &ir) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (refuse_insecure(s))
		return;
	bool bound = has_binding(s, cb);
	s->sasl = auth_exchange_new(s->env->auth, mech.data, mech.len,
				    bound ? cb : NULL);
	sodium_memzero(cb, sizeof(cb));
	if (s->sasl == NULL) {
		imap_reply(s, "NO Unsupported authentication mechanism");
		imap_count_error(s);
		return;
	}
	s->finish = sasl_finish;
	int st = auth_exchange_start(s->sasl, ir.data, ir.len);
	if (ir.data != NULL)
		sodium_memzero(s->cmd.data, s->cmd.len);
	sasl_next(s, st);
}

/* A line of the exchange (imap_session.c reads it while sasl_wait). */
void imap_cmd_sasl_response(struct imap_session *s)
{
	s->sasl_wait = false;
	int st = auth_exchange_input(s->sasl, s->line.data, s->line.len);
	sodium_memzero(s->line.data, s->line.len);
	sasl_next(s, st);
	if (!s->sasl_wait && !session_busy(s->sess))
		imap_command_end(s);
}
