/* Commands of any state and of the not-authenticated state: CAPABILITY,
 * NOOP, LOGOUT, ID, ENABLE, NAMESPACE, LOGIN, AUTHENTICATE. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
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

void imap_capabilities(struct imap_session *s, struct str *out)
{
	str_appends(out, caps_common);
	if (s->state == IMAP_S_NOTAUTH && session_tls_available(s->sess))
		str_appends(out, " STARTTLS");
	if (s->state == IMAP_S_NOTAUTH) {
		str_appends(out, imap_login_allowed(s) ? " AUTH=PLAIN"
						       : " LOGINDISABLED");
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
		for (unsigned i = 0; i < n; i++)
			if (params[i].value.data != NULL)
				log_value(&line, params[i].field.data,
					  params[i].value.data,
					  params[i].value.len);
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

static void login_run(void *arg)
{
	struct imap_session *s = arg;
	struct store_user u;
	s->login_result = auth_login(s->env->auth, s->user, strlen(s->user),
				     s->password.data, s->password.len, &u);
	auth_secret_clear(&s->password);
	if (s->login_result <= 0)
		return;
	snprintf(s->user, sizeof(s->user), "%s", u.address);
	s->user_id = u.id;
	store_user_clear(&u);
	/* The account's directory exists once it has been opened, and the
	 * watch needs it: an account that never had mail has none yet. */
	struct store_account *acct = NULL;
	if (store_account_open(s->env->store, s->user_id, &acct, NULL) < 0) {
		s->login_result = -1;
		return;
	}
	store_account_unref(&acct);
	s->notify = imap_notify_new(s);
}

static void login_done(void *arg)
{
	struct imap_session *s = arg;
	const char *result = s->login_result > 0    ? "ok"
			     : s->login_result == 0 ? "auth-failed"
						    : "tempfail";
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "login");
	log_field(&line, "result", "%s", result);
	log_cvalue(&line, "user", s->user);
	log_put(LOG_INFO, &line);
	if (s->login_result > 0) {
		imap_set_state(s, IMAP_S_AUTH);
		struct str caps = STR_INIT;
		imap_capabilities(s, &caps);
		imap_reply(s, "OK [CAPABILITY %.*s] Logged in", (int)caps.len,
			   caps.data);
		str_free(&caps);
	} else {
		s->user[0] = '\0';
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
	imap_command_end(s);
}

/* Password checks have their own queue: a flood of logins waits there,
 * or is refused, and never delays other sessions' commands. */
static void start_login(struct imap_session *s, const char *user,
			size_t ulen, const char *pass, size_t plen)
{
	auth_secret_clear(&s->password);
	if (ulen >= sizeof(s->user) || plen > AUTH_SASL_PASSWORD_MAX) {
		imap_reply(s, "NO [AUTHENTICATIONFAILED] Authentication failed");
		imap_count_error(s);
		return;
	}
	memcpy(s->user, user, ulen);
	s->user[ulen] = '\0';
	auth_secret_set(&s->password, pass, plen);
	if (session_run(s->sess, s->env->auth_workers, login_run, login_done))
		return;
	auth_secret_clear(&s->password);
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "login");
	log_field(&line, "result", "busy");
	log_cvalue(&line, "user", s->user);
	log_put(LOG_INFO, &line);
	s->user[0] = '\0';
	imap_reply(s, "NO [UNAVAILABLE] Too many logins at once, try again "
		      "later");
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

static void sasl_plain(struct imap_session *s, const char *b64, size_t len)
{
	char user[ADDR_TEXT_MAX], pass[AUTH_SASL_PASSWORD_MAX];
	size_t plen;
	if (len == 1 && b64[0] == '=')
		len = 0;
	if (!auth_sasl_plain(b64, len, user, sizeof(user), pass, &plen)) {
		imap_reply(s, "NO [AUTHENTICATIONFAILED] Authentication failed");
		imap_count_error(s);
		return;
	}
	start_login(s, user, strlen(user), pass, plen);
	sodium_memzero(pass, sizeof(pass));
}

void imap_cmd_authenticate(struct imap_session *s, struct imap_parser *p)
{
	struct imap_string mech, ir;
	if (imap_args_authenticate(p, &mech, &ir) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (refuse_insecure(s))
		return;
	if (!imap_string_eq(&mech, "PLAIN")) {
		imap_reply(s, "NO Unsupported authentication mechanism");
		imap_count_error(s);
		return;
	}
	if (ir.data != NULL) {
		sasl_plain(s, ir.data, ir.len);
		sodium_memzero(s->cmd.data, s->cmd.len);
		return;
	}
	/* The response comes on a line of its own (imap_session.c), and
	 * the command stays open until then. */
	s->sasl_wait = true;
	imap_write(s, "+ ");
}

void imap_cmd_sasl_response(struct imap_session *s)
{
	s->sasl_wait = false;
	if (s->line.len == 1 && s->line.data[0] == '*')
		imap_reply(s, "BAD Authentication canceled");
	else
		sasl_plain(s, s->line.data, s->line.len);
	sodium_memzero(s->line.data, s->line.len);
	if (!session_busy(s->sess))
		imap_command_end(s);
}
