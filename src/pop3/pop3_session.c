/* The POP3 state machine.  Message bodies stream from the store in pieces
 * on worker threads and are dot-stuffed on the way out (pop3_retr.c). */
#include "pop3/pop3_session.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
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
static void cmd_dele(struct pop3_session *s);
static void cmd_rset(struct pop3_session *s);
static void cmd_noop(struct pop3_session *s);
static void cmd_quit(struct pop3_session *s);
static void cmd_not_here(struct pop3_session *s);

static const struct pop3_command commands[POP3_VERB_COUNT] = {
	[POP3_USER] = {cmd_user, ST(AUTH)},
	[POP3_PASS] = {cmd_pass, ST(AUTH)},
	[POP3_AUTH] = {cmd_auth, ST(AUTH)},
	[POP3_CAPA] = {cmd_capa, ST(AUTH) | ST(TRANS)},
	[POP3_STAT] = {cmd_stat, ST(TRANS)},
	[POP3_LIST] = {cmd_list, ST(TRANS)},
	[POP3_UIDL] = {cmd_list, ST(TRANS)},
	[POP3_RETR] = {pop3_cmd_retr, ST(TRANS)},
	[POP3_TOP] = {pop3_cmd_retr, ST(TRANS)},
	[POP3_DELE] = {cmd_dele, ST(TRANS)},
	[POP3_RSET] = {cmd_rset, ST(TRANS)},
	[POP3_NOOP] = {cmd_noop, ST(TRANS)},
	[POP3_QUIT] = {cmd_quit, ST(AUTH) | ST(TRANS)},
	[POP3_STLS] = {cmd_not_here, ST(AUTH)},
	[POP3_APOP] = {cmd_not_here, ST(AUTH)},
};

static void pop3_process(struct pop3_session *s);

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	char r[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(r, sizeof(r) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(r) - 3)
		n = (int)sizeof(r) - 3;
	r[n] = '\r';
	r[n + 1] = '\n';
	conn_write(s->conn, r, (size_t)n + 2);
}

bool pop3_count_error(struct pop3_session *s)
{
	if (++s->errors < s->env->cfg->pop3.max_errors)
		return false;
	log_info("pop3[%s] client=%s result=too-many-errors",
		 conn_id(s->conn), conn_peer_text(s->conn));
	pop3_reply(s, "-ERR Too many errors, closing connection");
	s->quitting = true;
	conn_close_after_write(s->conn);
	return true;
}

static void forget_password(struct pop3_session *s)
{
	if (s->password != NULL) {
		sodium_memzero(s->password, POP3_PASSWORD_MAX);
		free(s->password);
		s->password = NULL;
	}
}

static void keep_password(struct pop3_session *s, const void *p, size_t n)
{
	forget_password(s);
	s->password = xmalloc(POP3_PASSWORD_MAX);
	memcpy(s->password, p, n);
	s->password_len = n;
}

static void session_free(struct pop3_session *s)
{
	log_info("pop3[%s] disconnect client=%s user=%s retrieved=%u "
		 "deleted=%u",
		 conn_id(s->conn), conn_peer_text(s->conn),
		 s->user[0] ? s->user : "-", s->retrieved, s->expunged);
	if (s->user_id != 0)
		store_account_release(s->env->store, s->user_id);
	forget_password(s);
	free(s->msgs);
	free(s->deleted);
	str_free(&s->line);
	str_free(&s->held);
	str_free(&s->piece);
	str_free(&s->ahead);
	pop3_batch_free(s);
	conn_free(&s->conn);
	free(s);
}

void pop3_run_job(struct pop3_session *s, void (*run)(void *),
		  void (*done)(void *))
{
	s->busy = true;
	conn_pause(s->conn);
	s->job.run = run;
	s->job.done = done;
	s->job.arg = s;
	worker_submit(s->env->workers, conn_loop(s->conn), &s->job);
}

/* Returns false when the session was freed. */
bool pop3_job_finished(struct pop3_session *s)
{
	s->busy = false;
	if (s->gone) {
		session_free(s);
		return false;
	}
	conn_resume(s->conn);
	return true;
}

void pop3_continue(struct pop3_session *s)
{
	pop3_process(s);
}

/* ---- authorization ---- */

static bool insecure_ok(struct pop3_session *s)
{
	int policy = s->env->cfg->auth.allow_insecure;
	return policy == CONFIG_INSECURE_YES ||
	       (policy == CONFIG_INSECURE_LOOPBACK &&
		conn_peer_is_loopback(s->conn));
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

static void cmd_capa(struct pop3_session *s)
{
	pop3_reply(s, "+OK Capability list follows\r\n"
		      "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
		      "PIPELINING\r\n%s"
		      "IMPLEMENTATION posthorn\r\n.",
		   s->state == POP3_S_AUTH && insecure_ok(s)
			   ? "USER\r\nSASL PLAIN\r\n"
			   : "");
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

static void login_run(void *arg)
{
	struct pop3_session *s = arg;
	struct store *store = s->env->store;
	struct store_account *acct = NULL;
	struct store_mailbox mbox;
	struct store_user u;
	s->login_result = auth_login(s->env->auth, s->user, strlen(s->user),
				     s->password, s->password_len, &u);
	forget_password(s);
	if (s->login_result <= 0)
		return;
	snprintf(s->user, sizeof(s->user), "%s", u.address);
	if (!store_account_claim(store, u.id)) {
		s->login_result = 2;	/* in use */
	} else if (store_account_open(store, u.id, &acct, NULL) < 0 ||
		   store_mailbox_find(acct, "INBOX", &mbox, NULL) <= 0 ||
		   store_msg_list(acct, mbox.id, &s->msgs, &s->nmsgs, NULL) < 0) {
		store_account_release(store, u.id);
		s->login_result = -1;
	} else {
		s->user_id = u.id;
		s->mailbox_id = mbox.id;
		s->uidvalidity = mbox.uidvalidity;
	}
	store_account_unref(&acct);
	store_user_clear(&u);
}

static void login_done(void *arg)
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
	struct str user = STR_INIT;
	str_append_sanitized(&user, s->user, strlen(s->user), 128);
	log_info("pop3[%s] login client=%s user=%s result=%s",
		 conn_id(s->conn), conn_peer_text(s->conn), user.data, result);
	str_free(&user);
	if (s->login_result != 1) {
		s->user[0] = '\0';
		if (s->login_result == 0)
			pop3_count_error(s);
	}
	if (pop3_job_finished(s))
		pop3_process(s);
}

static void start_login(struct pop3_session *s)
{
	pop3_run_job(s, login_run, login_done);
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
	keep_password(s, s->cmd.args[0], s->cmd.arglens[0]);
	start_login(s);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static void auth_plain_response(struct pop3_session *s, const char *b64,
				size_t len)
{
	unsigned char buf[POP3_LINE_MAX];
	size_t n;
	if (len == 1 && b64[0] == '*') {
		pop3_reply(s, "-ERR Authentication canceled");
		return;
	}
	if (sodium_base642bin(buf, sizeof(buf), b64, len, NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		goto bad;
	unsigned char *nul1 = memchr(buf, '\0', n);
	if (nul1 == NULL)
		goto bad;
	unsigned char *authc = nul1 + 1;
	unsigned char *nul2 = memchr(authc, '\0', n - (size_t)(authc - buf));
	if (nul2 == NULL)
		goto bad;
	size_t zlen = (size_t)(nul1 - buf), clen = (size_t)(nul2 - authc);
	size_t plen = n - (size_t)(nul2 + 1 - buf);
	if ((zlen != 0 && (zlen != clen || memcmp(buf, authc, clen) != 0)) ||
	    clen == 0 || clen >= sizeof(s->user) ||
	    plen >= POP3_PASSWORD_MAX)
		goto bad;
	memcpy(s->user, authc, clen);
	s->user[clen] = '\0';
	keep_password(s, nul2 + 1, plen);
	sodium_memzero(buf, sizeof(buf));
	start_login(s);
	return;
bad:
	sodium_memzero(buf, sizeof(buf));
	pop3_reply(s, "-ERR [AUTH] Authentication failed");
	pop3_count_error(s);
}

static void cmd_auth(struct pop3_session *s)
{
	if (s->cmd.nargs == 0) {
		pop3_reply(s, "+OK\r\n%s.", insecure_ok(s) ? "PLAIN\r\n" : "");
		return;
	}
	if (refuse_insecure(s))
		return;
	if (s->cmd.arglens[0] != 5 ||
	    strncasecmp(s->cmd.args[0], "PLAIN", 5) != 0) {
		pop3_reply(s, "-ERR Unsupported authentication mechanism");
		pop3_count_error(s);
		return;
	}
	if (s->cmd.nargs == 2) {
		/* RFC 5034: "=" is an empty initial response. */
		bool empty = s->cmd.arglens[1] == 1 && s->cmd.args[1][0] == '=';
		auth_plain_response(s, s->cmd.args[1],
				    empty ? 0 : s->cmd.arglens[1]);
		return;
	}
	s->sasl_wait = true;
	pop3_reply(s, "+ ");
}

/* ---- transaction ---- */

/* The message for a client's number, or NULL after replying -ERR. */
struct pop3_msg_ref pop3_lookup(struct pop3_session *s, uint32_t n)
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
	conn_write(s->conn, out.data, out.len);
	str_free(&out);
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
		if (s->update_result < 0)
			log_error("pop3[%s] expunge user=%s result=failed "
				  "cause=\"%s\"", conn_id(s->conn), s->user,
				  err);
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
	if (pop3_job_finished(s)) {
		s->quitting = true;
		conn_close_after_write(s->conn);
	}
}

static void cmd_quit(struct pop3_session *s)
{
	if (s->state == POP3_S_TRANS) {
		s->state = POP3_S_UPDATE;
		pop3_run_job(s, update_run, update_done);
		return;
	}
	pop3_reply(s, "+OK Bye");
	s->quitting = true;
	conn_close_after_write(s->conn);
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
		auth_plain_response(s, s->line.data, s->line.len);
		sodium_memzero(s->line.data, s->line.len);
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

int pop3_next_line(struct pop3_session *s)
{
	if (s->held_rc != 0) {
		int rc = s->held_rc;
		struct str tmp = s->line;
		s->line = s->held;
		s->held = tmp;
		s->held_rc = 0;
		return rc;
	}
	return conn_read_line(s->conn, POP3_LINE_MAX, &s->line);
}

static void pop3_process(struct pop3_session *s)
{
	while (!s->busy && !s->quitting && !s->streaming) {
		int rc = pop3_next_line(s);
		if (rc == 0)
			break;
		if (rc < 0) {
			pop3_reply(s, "-ERR Line too long");
			pop3_count_error(s);
			continue;
		}
		handle_line(s);
	}
	if (!s->busy && !s->streaming) {
		str_free(&s->line);
		str_free(&s->held);
	}
}

static void on_input(void *ctx)
{
	pop3_process(ctx);
}

static void on_event(void *ctx, enum conn_event ev)
{
	struct pop3_session *s = ctx;
	/* Busy means the client waits for us, not the other way round. */
	if (ev == CONN_TIMEOUT && s->busy)
		return;
	/* End of input ends the session (without QUIT nothing is deleted).
	 * Unlike SMTP we do not go on answering after a half-close: a RETR
	 * may be megabytes, and a client that stopped reading would hold its
	 * maildrop until the write timeout. */
	/* RFC 1939 3: on the autologout timer the server closes without a
	 * response (and without removing messages). */
	if (ev == CONN_TIMEOUT)
		log_info("pop3[%s] client=%s result=timeout", conn_id(s->conn),
			 conn_peer_text(s->conn));
	if (s->busy) {
		s->gone = true;
		return;
	}
	session_free(s);
}

static const struct conn_handler pop3_handler = {on_input, pop3_drained,
						 on_event};

struct conn *pop3_session_start(struct loop *loop, int fd,
				const struct sockaddr *peer, socklen_t peerlen,
				const struct pop3_env *env)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	s->env = env;
	s->conn = conn_new(loop, fd, peer, peerlen, &pop3_handler, s);
	conn_set_timeout(s->conn, env->cfg->pop3.timeout);
	log_info("pop3[%s] connect client=%s", conn_id(s->conn),
		 conn_peer_text(s->conn));
	pop3_reply(s, "+OK posthorn POP3 ready");
	return s->conn;
}
