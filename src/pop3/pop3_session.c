/* The POP3 state machine.  Message bodies stream from the store in pieces
 * on worker threads and are dot-stuffed on the way out (pop3_retr.c). */
#include "pop3/pop3_session.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/auth_exchange.h"
#include "auth/auth_limit.h"
#include "auth/auth_sasl.h"
#include "core/config.h"
#include "core/log.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "pop3/pop3_private.h"

#define ST(x) (1u << POP3_S_##x)

struct pop3_command {
	void (*handler)(struct pop3_session *s);
	unsigned states;
};

static void cmd_user(struct pop3_session *s);
static void cmd_pass(struct pop3_session *s);
static void cmd_auth(struct pop3_session *s);
static void cmd_capa(struct pop3_session *s);
static void cmd_stat(struct pop3_session *s);
static void cmd_list(struct pop3_session *s);
static void cmd_retr(struct pop3_session *s);
static void cmd_dele(struct pop3_session *s);
static void cmd_rset(struct pop3_session *s);
static void cmd_noop(struct pop3_session *s);
static void cmd_quit(struct pop3_session *s);
static void cmd_stls(struct pop3_session *s);
static void cmd_not_here(struct pop3_session *s);

static const struct pop3_command commands[POP3_VERB_COUNT] = {
	[POP3_USER] = {cmd_user, ST(AUTH)},
	[POP3_PASS] = {cmd_pass, ST(AUTH)},
	[POP3_AUTH] = {cmd_auth, ST(AUTH)},
	[POP3_CAPA] = {cmd_capa, ST(AUTH) | ST(TRANS)},
	[POP3_STAT] = {cmd_stat, ST(TRANS)},
	[POP3_LIST] = {cmd_list, ST(TRANS)},
	[POP3_UIDL] = {cmd_list, ST(TRANS)},
	[POP3_RETR] = {cmd_retr, ST(TRANS)},
	[POP3_TOP] = {cmd_retr, ST(TRANS)},
	[POP3_DELE] = {cmd_dele, ST(TRANS)},
	[POP3_RSET] = {cmd_rset, ST(TRANS)},
	[POP3_NOOP] = {cmd_noop, ST(TRANS)},
	[POP3_QUIT] = {cmd_quit, ST(AUTH) | ST(TRANS)},
	[POP3_STLS] = {cmd_stls, ST(AUTH)},
	[POP3_APOP] = {cmd_not_here, ST(AUTH)},
};

static bool pop3_count_error(struct pop3_session *s)
{
	if (++s->errors < s->env->cfg->pop3.max_errors)
		return false;
	session_log_drop(s->sess, "too-many-errors");
	pop3_reply(s, "-ERR Too many errors, closing connection");
	session_close(s->sess);
	return true;
}

static bool pop3_run_job(struct pop3_session *s, void (*run)(void *),
		  void (*done)(void *))
{
	if (session_run(s->sess, s->env->workers, run, done))
		return true;
	pop3_reply(s, "-ERR [SYS/TEMP] Server busy, try again later");
	session_close(s->sess);
	return false;
}

/* ---- authorization ---- */

/* Over TLS a password may always be sent; without it, as the policy
 * says. */
static bool insecure_ok(struct pop3_session *s)
{
	int policy = s->env->cfg->auth.allow_insecure;
	return session_tls_active(s->sess) || policy == CONFIG_INSECURE_YES ||
	       (policy == CONFIG_INSECURE_LOOPBACK &&
		session_peer_is_loopback(s->sess));
}

static bool refuse_insecure(struct pop3_session *s)
{
	if (insecure_ok(s))
		return false;
	pop3_reply(s, "-ERR [AUTH] Plaintext authentication is not allowed "
		      "on this connection");
	pop3_count_error(s);
	return true;
}

/* -PLUS only where TLS gives a channel binding. */
static const char *mechs(struct pop3_session *s)
{
	unsigned char cb[32];
	const char *m = auth_exchange_mechs(session_tls_exporter(s->sess, cb));
	sodium_memzero(cb, sizeof(cb));
	return m;
}

static void cmd_capa(struct pop3_session *s)
{
	bool auth = s->state == POP3_S_AUTH;
	pop3_reply(s, "+OK Capability list follows\r\n"
		      "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
		      "PIPELINING\r\n%s%s%s%s"
		      "IMPLEMENTATION posthorn\r\n.",
		   auth && session_tls_available(s->sess) ? "STLS\r\n" : "",
		   auth && insecure_ok(s) ? "USER\r\nSASL " : "",
		   auth && insecure_ok(s) ? mechs(s) : "",
		   auth && insecure_ok(s) ? "\r\n" : "");
}

static void cmd_user(struct pop3_session *s)
{
	if (refuse_insecure(s))
		return;
	size_t n = s->cmd.arglens[0];
	if (n >= sizeof(s->user)) {
		pop3_reply(s, "-ERR User name too long");
		pop3_count_error(s);
		return;
	}
	memcpy(s->user, s->cmd.args[0], n);
	s->user[n] = '\0';
	pop3_reply(s, "+OK");
}

/* On a worker, once the credentials matched: claim the maildrop and
 * read its list.  Returns 1, 2 when another session holds it, -1 when
 * the store failed. */
static int login_open(struct pop3_session *s, const struct store_user *u)
{
	struct store *store = s->env->store;
	struct store_account *acct = NULL;
	struct store_mailbox mbox;
	int rc = 1;
	snprintf(s->user, sizeof(s->user), "%s", u->address);
	if (!store_account_claim(store, u->id)) {
		rc = 2;
	} else if (store_account_open(store, u->id, &acct, NULL) < 0 ||
		   store_mailbox_find(acct, "INBOX", &mbox, NULL) <= 0 ||
		   store_msg_list(acct, mbox.id, &s->msgs, &s->nmsgs, NULL) < 0) {
		store_account_release(store, u->id);
		rc = -1;
	} else {
		s->user_id = u->id;
		s->mailbox_id = mbox.id;
		s->uidvalidity = mbox.uidvalidity;
	}
	store_account_unref(&acct);
	return rc;
}

static void login_run(void *arg)
{
	struct pop3_session *s = arg;
	struct store_user u;
	s->login_result = auth_login(s->env->auth, s->user, strlen(s->user),
				     s->password.data, s->password.len, &u);
	auth_secret_clear(&s->password);
	if (s->login_result <= 0)
		return;
	s->login_result = login_open(s, &u);
	store_user_clear(&u);
}

static void login_reply(void *arg)
{
	struct pop3_session *s = arg;
	const char *result = "ok";
	switch (s->login_result) {
	case 1:
		s->deleted = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(bool));
		s->state = POP3_S_TRANS;
		pop3_reply(s, "+OK Logged in");
		break;
	case 2:
		result = "in-use";
		pop3_reply(s, "-ERR [IN-USE] Mailbox is locked by another "
			      "session");
		break;
	case 0:
		result = "auth-failed";
		pop3_reply(s, "-ERR [AUTH] Authentication failed");
		break;
	default:
		result = "tempfail";
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary failure, try again "
			      "later");
	}
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "login");
	log_field(&line, "result", "%s", result);
	if (s->sasl != NULL)
		log_field(&line, "mech", "%s", auth_exchange_mech(s->sasl));
	log_cvalue(&line, "user", s->user);
	log_put(LOG_INFO, &line);
	auth_exchange_free(&s->sasl);
	if (s->login_result != 1) {
		s->user[0] = '\0';
		if (s->login_result == 0)
			pop3_count_error(s);
	}
}

static void log_busy(struct pop3_session *s)
{
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "login");
	log_field(&line, "result", "busy");
	log_cvalue(&line, "user", s->user);
	log_put(LOG_INFO, &line);
	pop3_reply(s, "-ERR [SYS/TEMP] Too many logins at once, try again "
		      "later");
	s->user[0] = '\0';
}

/* A failure's reply waits for its delay (auth/auth_limit.h); in-use
 * means the password was right. */
static void login_done(void *arg)
{
	struct pop3_session *s = arg;
	int rc = s->login_result == 2 ? 1 : s->login_result;
	auth_limit_session_done(s->env->limit, s->sess, s, s->user, rc,
				login_reply);
}

/* Logins have a queue of their own: a flood of them, failed or not,
 * waits there and slows only logins, never mail.  Past the failure
 * limits no password is checked at all (RFC 3206: SYS/TEMP, the client
 * may try again later with the same password). */
static void start_login(struct pop3_session *s)
{
	struct worker_pool *pool = auth_limit_session_pool(
		s->env->limit, s->sess, s->user, s->env->auth_workers,
		s->env->auth_known);
	if (pool == NULL) {
		auth_secret_clear(&s->password);
		s->user[0] = '\0';
		pop3_reply(s, "-ERR [SYS/TEMP] Too many failed logins, try "
			      "again later");
		pop3_count_error(s);
		return;
	}
	if (session_run(s->sess, pool, login_run, login_done))
		return;
	auth_secret_clear(&s->password);
	log_busy(s);
}

static void cmd_pass(struct pop3_session *s)
{
	if (refuse_insecure(s))
		return;
	if (s->user[0] == '\0') {
		pop3_reply(s, "-ERR USER first");
		pop3_count_error(s);
		return;
	}
	if (s->cmd.arglens[0] >= POP3_PASSWORD_MAX) {
		pop3_reply(s, "-ERR [AUTH] Authentication failed");
		pop3_count_error(s);
		return;
	}
	auth_secret_set(&s->password, s->cmd.args[0], s->cmd.arglens[0]);
	start_login(s);
}

/* ---- AUTH (RFC 5034): the exchange is auth/auth_exchange.h's ---- */

static void sasl_next(struct pop3_session *s, int st);

static void sasl_run(void *arg)
{
	struct pop3_session *s = arg;
	auth_exchange_run(s->sasl);
	if (auth_exchange_status(s->sasl) == AUTH_EXCHANGE_OK)
		s->login_result = login_open(s, auth_exchange_user(s->sasl));
}

static void sasl_done(void *arg)
{
	struct pop3_session *s = arg;
	sasl_next(s, auth_exchange_status(s->sasl));
}

static void sasl_bad(struct pop3_session *s)
{
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "auth-error");
	log_field(&line, "mech", "%s", auth_exchange_mech(s->sasl));
	log_cvalue(&line, "cause", auth_exchange_error(s->sasl));
	log_put(LOG_INFO, &line);
	pop3_reply(s, "-ERR Malformed authentication response");
	auth_exchange_free(&s->sasl);
	pop3_count_error(s);
}

/* A password or secret to check, as for USER/PASS (start_login). */
static void sasl_work(struct pop3_session *s)
{
	struct worker_pool *pool = auth_limit_session_pool(
		s->env->limit, s->sess, s->user, s->env->auth_workers,
		s->env->auth_known);
	if (pool == NULL) {
		auth_exchange_free(&s->sasl);
		s->user[0] = '\0';
		pop3_reply(s, "-ERR [SYS/TEMP] Too many failed logins, try "
			      "again later");
		pop3_count_error(s);
		return;
	}
	if (session_run(s->sess, pool, sasl_run, sasl_done))
		return;
	auth_exchange_free(&s->sasl);
	log_busy(s);
}

/* Go on with the exchange after its last step said st. */
static void sasl_next(struct pop3_session *s, int st)
{
	/* For the log line; login_open() put the address as stored. */
	if (st != AUTH_EXCHANGE_OK)
		snprintf(s->user, sizeof(s->user), "%s",
			 auth_exchange_username(s->sasl));
	switch (st) {
	case AUTH_EXCHANGE_CHALLENGE:
		s->sasl_wait = true;
		pop3_reply(s, "+ %s", auth_exchange_challenge(s->sasl));
		return;
	case AUTH_EXCHANGE_WORK:
		sasl_work(s);
		return;
	case AUTH_EXCHANGE_OK:
		break;	/* login_result is login_open()'s */
	case AUTH_EXCHANGE_FAIL:
		s->login_result = 0;
		break;
	case AUTH_EXCHANGE_TEMPFAIL:
		s->login_result = -1;
		break;
	case AUTH_EXCHANGE_CANCEL:
		s->user[0] = '\0';
		auth_exchange_free(&s->sasl);
		pop3_reply(s, "-ERR Authentication canceled");
		return;
	default:
		s->user[0] = '\0';
		sasl_bad(s);
		return;
	}
	login_done(s);
}

static void cmd_auth(struct pop3_session *s)
{
	unsigned char cb[32];
	if (s->cmd.nargs == 0) {
		/* One mechanism a line, as clients of RFC 1734 read it. */
		struct str list = STR_INIT;
		for (const char *m = insecure_ok(s) ? mechs(s) : ""; *m;) {
			size_t n = strcspn(m, " ");
			str_append(&list, m, n);
			str_append(&list, "\r\n", 2);
			m += n + (m[n] == ' ');
		}
		pop3_reply(s, "+OK\r\n%s.", list.data ? list.data : "");
		str_free(&list);
		return;
	}
	if (refuse_insecure(s))
		return;
	bool bound = session_tls_exporter(s->sess, cb) == 1;
	s->sasl = auth_exchange_new(s->env->auth, s->cmd.args[0],
				    s->cmd.arglens[0], bound ? cb : NULL);
	sodium_memzero(cb, sizeof(cb));
	if (s->sasl == NULL) {
		pop3_reply(s, "-ERR Unsupported authentication mechanism");
		pop3_count_error(s);
		return;
	}
	int st = auth_exchange_start(s->sasl,
				     s->cmd.nargs == 2 ? s->cmd.args[1] : NULL,
				     s->cmd.nargs == 2 ? s->cmd.arglens[1] : 0);
	sodium_memzero(s->line.data, s->line.len);
	sasl_next(s, st);
}

/* ---- transaction ---- */

/* The message for a client's number, or NULL after replying -ERR. */
struct pop3_msg_ref {
	size_t index;
	bool ok;
};

static struct pop3_msg_ref pop3_lookup(struct pop3_session *s, uint32_t n)
{
	struct pop3_msg_ref r = {0, false};
	if (n == 0 || n > s->nmsgs) {
		pop3_reply(s, "-ERR No such message");
		return r;
	}
	if (s->deleted[n - 1]) {
		pop3_reply(s, "-ERR Message %u already deleted", n);
		return r;
	}
	r.index = n - 1;
	r.ok = true;
	return r;
}

static void cmd_stat(struct pop3_session *s)
{
	uint64_t count = 0, octets = 0;
	for (size_t i = 0; i < s->nmsgs; i++) {
		if (!s->deleted[i]) {
			count++;
			octets += s->msgs[i].size;
		}
	}
	pop3_reply(s, "+OK %llu %llu", (unsigned long long)count,
		   (unsigned long long)octets);
}

/* UIDs are never reused within a UIDVALIDITY, so this is stable
 * forever (RFC 1939 7: unique-id). */
static void list_line(struct pop3_session *s, size_t i, bool uidl,
		      struct str *out)
{
	if (uidl)
		str_printf(out, "%zu %08x%08x", i + 1, s->uidvalidity,
			   s->msgs[i].uid);
	else
		str_printf(out, "%zu %llu", i + 1,
			   (unsigned long long)s->msgs[i].size);
}

static void cmd_list(struct pop3_session *s)
{
	bool uidl = s->cmd.verb == POP3_UIDL;
	struct str out = STR_INIT;
	if (s->cmd.nargs == 1) {
		struct pop3_msg_ref r = pop3_lookup(s, s->cmd.msg);
		if (!r.ok) {
			pop3_count_error(s);
			return;
		}
		str_appends(&out, "+OK ");
		list_line(s, r.index, uidl, &out);
		pop3_reply(s, "%s", out.data);
		str_free(&out);
		return;
	}
	str_appends(&out, "+OK\r\n");
	for (size_t i = 0; i < s->nmsgs; i++) {
		if (s->deleted[i])
			continue;
		list_line(s, i, uidl, &out);
		str_append(&out, "\r\n", 2);
	}
	str_append(&out, ".\r\n", 3);
	session_write(s->sess, out.data, out.len);
	str_free(&out);
}

static void cmd_retr(struct pop3_session *s)
{
	struct pop3_msg_ref r = pop3_lookup(s, s->cmd.msg);
	if (!r.ok) {
		pop3_count_error(s);
		return;
	}
	pop3_retr_start(s, r.index);
}

static void cmd_dele(struct pop3_session *s)
{
	struct pop3_msg_ref r = pop3_lookup(s, s->cmd.msg);
	if (!r.ok) {
		pop3_count_error(s);
		return;
	}
	s->deleted[r.index] = true;
	pop3_reply(s, "+OK Message %u deleted", s->cmd.msg);
}

static void cmd_rset(struct pop3_session *s)
{
	memset(s->deleted, 0, s->nmsgs * sizeof(*s->deleted));
	pop3_reply(s, "+OK");
}

static void cmd_noop(struct pop3_session *s)
{
	pop3_reply(s, "+OK");
}

/* UPDATE state (RFC 1939 6): remove what was deleted, durably. */
static void update_run(void *arg)
{
	struct pop3_session *s = arg;
	uint32_t *uids = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(*uids));
	size_t n = 0;
	for (size_t i = 0; i < s->nmsgs; i++)
		if (s->deleted[i])
			uids[n++] = s->msgs[i].uid;
	s->update_result = 1;
	if (n > 0) {
		struct store_account *acct;
		const char *err = NULL;
		s->update_result = store_account_open(s->env->store,
						      s->user_id, &acct, &err);
		if (s->update_result > 0) {
			s->update_result = store_msg_expunge(
				acct, s->mailbox_id, uids, n, &err);
			store_account_unref(&acct);
		}
		if (s->update_result < 0) {
			struct str line = STR_INIT;
			session_log_begin(s->sess, &line, "expunge");
			log_field(&line, "result", "failed");
			log_cvalue(&line, "user", s->user);
			log_cvalue(&line, "cause", err != NULL ? err : "");
			log_put(LOG_ERROR, &line);
		}
	}
	if (s->update_result > 0)
		s->expunged = (unsigned)n;
	free(uids);
}

static void update_done(void *arg)
{
	struct pop3_session *s = arg;
	/* Release the maildrop before saying goodbye: a client that logs in
	 * again the moment it reads "+OK" must not find it still taken. */
	store_account_release(s->env->store, s->user_id);
	s->user_id = 0;
	if (s->update_result > 0)
		pop3_reply(s, "+OK Bye");
	else
		pop3_reply(s, "-ERR [SYS/TEMP] Deleted messages were not "
			      "removed");
	session_close(s->sess);
}

static void cmd_quit(struct pop3_session *s)
{
	if (s->state == POP3_S_TRANS) {
		s->state = POP3_S_UPDATE;
		pop3_run_job(s, update_run, update_done);
		return;
	}
	pop3_reply(s, "+OK Bye");
	session_close(s->sess);
}

/* RFC 2595 4: the client starts over after the handshake, so a USER
 * given in clear text before it is forgotten, and what it sent after STLS
 * is dropped unread (the session core does that). */
static void cmd_stls(struct pop3_session *s)
{
	if (session_tls_active(s->sess)) {
		pop3_reply(s, "-ERR Command not permitted when TLS active");
		pop3_count_error(s);
		return;
	}
	if (!session_tls_available(s->sess)) {
		pop3_reply(s, "-ERR [SYS/TEMP] TLS not available");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation");
	s->user[0] = '\0';
	session_starttls(s->sess);
}

static void cmd_not_here(struct pop3_session *s)
{
	pop3_reply(s, "-ERR %s not available", pop3_verb_name(s->cmd.verb));
	pop3_count_error(s);
}

/* ---- dispatch ---- */

static void handle_line(struct pop3_session *s)
{
	if (s->sasl_wait) {
		s->sasl_wait = false;
		int st = auth_exchange_input(s->sasl, s->line.data,
					     s->line.len);
		sodium_memzero(s->line.data, s->line.len);
		sasl_next(s, st);
		return;
	}
	if (pop3_parse_command(s->line.data, s->line.len, &s->cmd) < 0) {
		pop3_reply(s, "-ERR %s", s->cmd.reason);
		pop3_count_error(s);
		return;
	}
	const struct pop3_command *c = &commands[s->cmd.verb];
	if (!(c->states & (1u << s->state))) {
		pop3_reply(s, "-ERR Command not valid in this state");
		pop3_count_error(s);
		return;
	}
	c->handler(s);
	if (s->cmd.verb == POP3_PASS)
		sodium_memzero(s->line.data, s->line.len);
}

static void pop3_step(void *ctx)
{
	struct pop3_session *s = ctx;
	if (s->retr != NULL) {
		pop3_retr_next(s);
		return;
	}
	for (;;) {
		int rc = session_read_line(s->sess, POP3_LINE_MAX, &s->line);
		if (rc == 0)
			break;
		if (rc < 0) {
			pop3_reply(s, "-ERR Line too long");
			pop3_count_error(s);
			continue;
		}
		handle_line(s);
	}
	/* An idle session keeps no line buffer. */
	if (!session_busy(s->sess))
		str_free(&s->line);
}

/* RFC 1939 3: on the autologout timer the server closes without a
 * response (and without removing messages). */
static void pop3_timeout(void *ctx)
{
	struct pop3_session *s = ctx;
	session_log_drop(s->sess, "timeout");
}

static void pop3_free(void *ctx, enum session_end why)
{
	struct pop3_session *s = ctx;
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "disconnect");
	log_field(&line, "retrieved", "%u", s->retrieved);
	log_field(&line, "deleted", "%u", s->expunged);
	log_field(&line, "end", "%s", session_end_name(why));
	if (s->user[0])
		log_cvalue(&line, "user", s->user);
	log_put(LOG_INFO, &line);
	if (s->user_id != 0)
		store_account_release(s->env->store, s->user_id);
	auth_secret_clear(&s->password);
	auth_exchange_free(&s->sasl);
	free(s->msgs);
	free(s->deleted);
	str_free(&s->line);
	pop3_retr_free(s);
	str_free(&s->ahead.bytes);
	free(s);
}

/* End of input ends the session (without QUIT nothing is deleted).
 * Unlike SMTP we do not go on answering after a half-close: a RETR may
 * be megabytes, and a client that stopped reading would hold its
 * maildrop until the timeout. */
static const struct session_proto pop3_proto = {
	.name = "pop3",
	.step = pop3_step,
	.timeout = pop3_timeout,
	.free = pop3_free,
	.answer_after_eof = false,
	.max_reply = 1022,
};

struct session *pop3_session_start(struct loop *loop,
				   struct session_list *list, int fd,
				   const struct sockaddr *peer,
				   socklen_t peerlen,
				   const struct pop3_env *env)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	s->env = env;
	s->sess = session_new_tls(loop, list, fd, peer, peerlen,
				  SESSION_INPUT_MIN, &env->tls, &pop3_proto, s);
	session_set_timeout(s->sess, env->cfg->pop3.timeout);
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "connect");
	log_put(LOG_INFO, &line);
	pop3_reply(s, "+OK posthorn POP3 ready");
	return s->sess;
}
