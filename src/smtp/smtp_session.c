/* The SMTP state machine: command dispatch, the envelope commands, and the
 * session's life.  Message data (DATA, BDAT) is in smtp_data.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "smtp/smtp_private.h"

#define ST(x) (1u << SMTP_S_##x)
#define ANY_STATE (ST(INIT) | ST(READY) | ST(MAIL) | ST(RCPT) | ST(BDAT))

struct smtp_command {
	void (*handler)(struct smtp_session *s);
	unsigned states;	/* where the verb is allowed */
};

static void cmd_helo(struct smtp_session *s);
static void cmd_mail(struct smtp_session *s);
static void cmd_rcpt(struct smtp_session *s);
static void cmd_rset(struct smtp_session *s);
static void cmd_noop(struct smtp_session *s);
static void cmd_quit(struct smtp_session *s);
static void cmd_help(struct smtp_session *s);
static void cmd_vrfy(struct smtp_session *s);
static void cmd_starttls(struct smtp_session *s);
static void cmd_not_here(struct smtp_session *s);

static const struct smtp_command commands[SMTP_VERB_COUNT] = {
	[SMTP_HELO] = {cmd_helo, ANY_STATE & ~ST(BDAT)},
	[SMTP_EHLO] = {cmd_helo, ANY_STATE & ~ST(BDAT)},
	[SMTP_MAIL] = {cmd_mail, ST(READY)},
	[SMTP_RCPT] = {cmd_rcpt, ST(MAIL) | ST(RCPT)},
	[SMTP_DATA] = {smtp_cmd_data, ST(RCPT)},
	/* BDAT checks state itself: it must read the chunk whatever. */
	[SMTP_BDAT] = {smtp_cmd_bdat, ANY_STATE},
	[SMTP_RSET] = {cmd_rset, ANY_STATE},
	[SMTP_NOOP] = {cmd_noop, ANY_STATE},
	[SMTP_QUIT] = {cmd_quit, ANY_STATE},
	[SMTP_HELP] = {cmd_help, ANY_STATE},
	[SMTP_VRFY] = {cmd_vrfy, ANY_STATE},
	[SMTP_EXPN] = {cmd_not_here, ANY_STATE},
	/* RFC 3207 4.2 resets the session, so not within a transaction. */
	[SMTP_STARTTLS] = {cmd_starttls, ST(INIT) | ST(READY)},
	/* AUTH checks state itself: the MX role refuses it in any. */
	[SMTP_AUTH] = {smtp_cmd_auth, ANY_STATE},
};







/* ---- envelope commands ---- */

static void cmd_helo(struct smtp_session *s)
{
	const struct config *cfg = s->env->cfg;
	size_t n = s->cmd.arglen < sizeof(s->helo) - 1 ? s->cmd.arglen
						       : sizeof(s->helo) - 1;
	memcpy(s->helo, s->cmd.arg, n);
	s->helo[n] = '\0';
	s->esmtp = s->cmd.verb == SMTP_EHLO;
	smtp_tx_reset(s);
	if (!s->esmtp) {
		smtp_reply(s, "250 %s", cfg->server.hostname);
		return;
	}
	bool auth = smtp_auth_offered(s);
	smtp_reply(s,
		   "250-%s\r\n"
		   "250-PIPELINING\r\n"
		   "250-SIZE %llu\r\n"
		   "250-8BITMIME\r\n"
		   "250-SMTPUTF8\r\n"
		   "250-ENHANCEDSTATUSCODES\r\n"
		   "%s%s%s%s"
		   "250 CHUNKING",
		   cfg->server.hostname,
		   (unsigned long long)cfg->smtp.max_message_size,
		   session_tls_available(s->sess) ? "250-STARTTLS\r\n" : "",
		   auth ? "250-AUTH " : "", auth ? smtp_auth_mechs(s) : "",
		   auth ? "\r\n" : "");
}

/* MAIL parameters: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531).
 * Returns false after replying to a bad one. */
static bool mail_params(struct smtp_session *s)
{
	const struct smtp_cmd *c = &s->cmd;
	s->tx.size_hint = 0;
	for (unsigned i = 0; i < c->nparams; i++) {
		const struct smtp_param *p = &c->params[i];
		if (smtp_param_is(p, "SIZE") && p->value != NULL) {
			uint64_t size = 0;
			size_t k;
			for (k = 0; k < p->valuelen && k < 19; k++) {
				if (p->value[k] < '0' || p->value[k] > '9')
					break;
				size = size * 10 + (uint64_t)(p->value[k] - '0');
			}
			if (k != p->valuelen) {
				smtp_reply(s, "501 5.5.4 Bad SIZE value");
				return false;
			}
			s->tx.size_hint = size;
			if (size > s->env->cfg->smtp.max_message_size) {
				smtp_reply(s, "552 5.3.4 Message size exceeds "
					      "fixed maximum message size");
				return false;
			}
		} else if (smtp_param_is(p, "BODY") && p->value != NULL &&
			   ((p->valuelen == 4 &&
			     strncasecmp(p->value, "7BIT", 4) == 0) ||
			    (p->valuelen == 8 &&
			     strncasecmp(p->value, "8BITMIME", 8) == 0))) {
			continue;
		} else if (smtp_param_is(p, "SMTPUTF8") && p->value == NULL) {
			s->tx.utf8 = true;
		} else {
			smtp_reply(s, "555 5.5.4 Unsupported parameter %.*s",
				   (int)p->keylen, p->key);
			return false;
		}
	}
	return true;
}

static void cmd_mail(struct smtp_session *s)
{
	struct addr a;
	const char *err;
	if (!s->esmtp && s->cmd.nparams > 0) {
		smtp_reply(s, "555 5.5.4 Parameters need EHLO");
		return;
	}
	if (!mail_params(s)) {
		s->tx.utf8 = false;
		smtp_count_error(s);
		return;
	}
	unsigned flags = s->tx.utf8 ? ADDR_UTF8 : 0;
	if (s->cmd.pathlen > 0) {
		if (s->cmd.pathlen >= sizeof(s->tx.sender))
			err = "address too long";
		else if (addr_parse(s->cmd.path, s->cmd.pathlen, flags, &a,
				    &err) > 0)
			err = NULL;
		if (err != NULL) {
			bool u8 = addr_is_utf8(s->cmd.path, s->cmd.pathlen);
			smtp_reply(s, "553 %s Bad sender address: %s",
				   u8 && !s->tx.utf8 ? "5.6.7" : "5.1.7", err);
			s->tx.utf8 = false;
			smtp_count_error(s);
			return;
		}
		/* The local part as the client wrote it: a remote local
		 * part is case-sensitive (RFC 5321 2.4) and bounces must
		 * reach it.  No domain contains '@', so the last one ends
		 * the local part. */
		const char *at = memrchr(s->cmd.path, '@', s->cmd.pathlen);
		snprintf(s->tx.sender, sizeof(s->tx.sender), "%.*s@%s",
			 (int)(at - s->cmd.path), s->cmd.path, a.domain);
	}
	if (s->env->role == SMTP_ROLE_SUBMISSION &&
	    !smtp_submit_mail(s, s->cmd.pathlen > 0 ? &a : NULL)) {
		s->tx.utf8 = false;
		s->tx.sender[0] = '\0';
		return;
	}
	smtp_set_state(s, SMTP_S_MAIL);
	smtp_reply(s, "250 2.1.0 Ok");
}

static void rcpt_run(void *arg)
{
	struct smtp_session *s = arg;
	const struct config *cfg = s->env->cfg;
	struct deliver_opts opts = {cfg->delivery.recipient_delimiter,
				    cfg->delivery.postmaster, s->tx.size_hint};
	const char *cause = "cannot read accounts.db";
	if (s->bare_postmaster &&
	    deliver_postmaster_domain(s->env->store, cfg->server.hostname,
				      s->rcpt.domain) < 0)
		s->resolved = DELIVER_TEMPFAIL;
	else
		s->resolved = deliver_resolve(s->env->store, &s->rcpt, &opts,
					      &s->tx.targets, &cause);
	snprintf(s->rcpt_cause, sizeof(s->rcpt_cause), "%s", cause);
}


static void rcpt_reject_log(struct smtp_session *s, const char *code,
			    const char *rcpt)
{
	struct str line = STR_INIT, addr = STR_INIT;
	session_log_begin(s->sess, &line, "reject");
	log_field(&line, "code", "%s", code);
	if (s->helo[0])
		log_cvalue(&line, "helo", s->helo);
	str_printf(&addr, "<%s>", s->tx.sender);
	log_value(&line, "from", addr.data, addr.len);
	str_clear(&addr);
	str_printf(&addr, "<%s>", rcpt);
	log_value(&line, "to", addr.data, addr.len);
	str_free(&addr);
	if (s->rcpt_cause[0])
		log_cvalue(&line, "cause", s->rcpt_cause);
	log_put(LOG_INFO, &line);
}

static void rcpt_done(void *arg)
{
	struct smtp_session *s = arg;
	char text[ADDR_TEXT_MAX];
	addr_format(&s->rcpt, text);
	if (s->resolved == DELIVER_NOT_LOCAL && s->user_id != 0) {
		/* Submission: an authenticated user's mail to other domains
		 * waits in the queue. */
		smtp_submit_remote(s, text);
		s->resolved = DELIVER_LOCAL;
	}
	switch (s->resolved) {
	case DELIVER_LOCAL:
		if (s->tx.nrcpt++ == 0)
			memcpy(s->tx.first_rcpt, text, sizeof(text));
		str_printf(&s->tx.rcpts, "<%s>", text);
		str_appendc(&s->tx.rcpts, '\0');
		smtp_set_state(s, SMTP_S_RCPT);
		smtp_reply(s, "250 2.1.5 Ok");
		break;
	case DELIVER_UNKNOWN:
		rcpt_reject_log(s, "550", text);
		smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: "
			      "User unknown", text);
		smtp_count_error(s);
		break;
	case DELIVER_NOT_LOCAL:
		rcpt_reject_log(s, "554", text);
		smtp_reply(s, "554 5.7.1 <%s>: Relay access denied", text);
		smtp_count_error(s);
		break;
	case DELIVER_TEMPFAIL:
		rcpt_reject_log(s, "451", text);
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure, try "
			      "again later", text);
		break;
	case DELIVER_OVER_QUOTA:
		rcpt_reject_log(s, "452", text);
		smtp_reply(s, "452 4.2.2 <%s>: Mailbox full, try again later",
			   text);
		break;
	case DELIVER_TOO_BIG_FOR_QUOTA:
		rcpt_reject_log(s, "552", text);
		smtp_reply(s, "552 5.2.2 <%s>: Message larger than the mailbox "
			      "quota", text);
		break;
	}
}

static void cmd_rcpt(struct smtp_session *s)
{
	const char *err;
	if (s->cmd.nparams > 0) {
		smtp_reply(s, "555 5.5.4 Unsupported parameter %.*s",
			   (int)s->cmd.params[0].keylen, s->cmd.params[0].key);
		smtp_count_error(s);
		return;
	}
	if (s->tx.nrcpt >= smtp_submit_max_rcpts(s)) {
		if (s->user_id != 0) {
			struct str line = STR_INIT;
			session_log_begin(s->sess, &line, "reject");
			log_field(&line, "code", "452");
			log_cvalue(&line, "user", s->login);
			log_field(&line, "cause", "recipient-limit");
			log_put(LOG_INFO, &line);
		}
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	unsigned flags = s->tx.utf8 ? ADDR_UTF8 : 0;
	int rc;
	s->bare_postmaster = false;
	if (s->cmd.pathlen == 10 &&
	    strncasecmp(s->cmd.path, "postmaster", 10) == 0) {
		/* RFC 5321 4.5.1: <postmaster> without a domain must work;
		 * the worker picks the domain. */
		memset(&s->rcpt, 0, sizeof(s->rcpt));
		memcpy(s->rcpt.local, "postmaster", 11);
		s->bare_postmaster = true;
		rc = 1;
	} else {
		rc = addr_parse(s->cmd.path, s->cmd.pathlen, flags, &s->rcpt,
				&err);
	}
	if (rc < 0) {
		bool u8 = addr_is_utf8(s->cmd.path, s->cmd.pathlen);
		smtp_reply(s, "553 %s Bad recipient address: %s",
			   u8 && !s->tx.utf8 ? "5.6.7" : "5.1.3", err);
		smtp_count_error(s);
		return;
	}
	smtp_run_job(s, rcpt_run, rcpt_done);
}

static void cmd_rset(struct smtp_session *s)
{
	smtp_tx_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct smtp_session *s)
{
	smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct smtp_session *s)
{
	smtp_reply(s, "221 2.0.0 Bye");
	session_close(s->sess);
}

static void cmd_help(struct smtp_session *s)
{
	smtp_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT "
		      "RSET NOOP QUIT HELP VRFY STARTTLS%s",
		   s->env->role == SMTP_ROLE_SUBMISSION ? " AUTH" : "");
}

static void cmd_vrfy(struct smtp_session *s)
{
	/* Never tell who has an account (RFC 5321 3.5.3 allows 252). */
	smtp_reply(s, "252 2.0.0 Cannot VRFY user, but will accept message "
		      "and attempt delivery");
}

/* RFC 3207 4.2: after the handshake the client starts over with EHLO,
 * and nothing it said before counts; what it sent after STARTTLS is
 * dropped unread (the session core does that). */
static void cmd_starttls(struct smtp_session *s)
{
	if (session_tls_active(s->sess)) {
		smtp_reply(s, "503 5.5.1 TLS already active");
		smtp_count_error(s);
		return;
	}
	if (!session_tls_available(s->sess)) {
		smtp_reply(s, "454 4.7.0 TLS not available due to temporary "
			      "reason");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	s->helo[0] = '\0';
	s->esmtp = false;
	smtp_tx_reset(s);
	smtp_auth_forget(s);
	session_starttls(s->sess);
}

static void cmd_not_here(struct smtp_session *s)
{
	smtp_reply(s, "502 5.5.1 %s not available",
		   smtp_verb_name(s->cmd.verb));
	smtp_count_error(s);
}

/* ---- dispatch ---- */

static void bad_sequence(struct smtp_session *s)
{
	const char *why = "Bad sequence of commands";
	if (s->state == SMTP_S_INIT)
		why = "Send HELO/EHLO first";
	else if (s->cmd.verb == SMTP_MAIL)
		why = "Nested MAIL command";
	else if (s->cmd.verb == SMTP_RCPT)
		why = "Need MAIL command first";
	else if (s->cmd.verb == SMTP_DATA && s->state == SMTP_S_MAIL)
		why = "No valid recipients";
	else if (s->cmd.verb == SMTP_DATA)
		why = "Need RCPT command first";
	else if (s->state == SMTP_S_BDAT)
		why = "Only BDAT, RSET, NOOP or QUIT within a BDAT sequence";
	if (s->cmd.verb == SMTP_DATA && s->state == SMTP_S_MAIL)
		smtp_reply(s, "554 5.5.1 %s", why);
	else
		smtp_reply(s, "503 5.5.1 %s", why);
	smtp_count_error(s);
}

static void handle_line(struct smtp_session *s)
{
	if (s->sasl_wait) {
		smtp_auth_line(s);
		return;
	}
	if (smtp_parse_command(s->line.data, s->line.len, &s->cmd) < 0) {
		switch (s->cmd.error) {
		case SMTP_PARSE_UNKNOWN:
			smtp_reply(s, "500 5.5.2 Command unrecognized");
			break;
		case SMTP_PARSE_PARAM:
			smtp_reply(s, "555 5.5.4 %s", s->cmd.reason);
			break;
		default:
			if (s->cmd.verb == SMTP_BDAT) {
				/* Without a size we cannot stay in step
				 * with the client's bytes; RFC 5321 3.8
				 * wants a 421 before we close. */
				smtp_reply(s, "501 5.5.4 %s", s->cmd.reason);
				smtp_reply(s, "421 4.5.0 %s Cannot tell where "
					   "the BDAT chunk ends, closing "
					   "connection",
					   s->env->cfg->server.hostname);
				session_close(s->sess);
				return;
			}
			smtp_reply(s, "501 5.5.4 %s", s->cmd.reason);
		}
		smtp_count_error(s);
		return;
	}
	const struct smtp_command *c = &commands[s->cmd.verb];
	if (!(c->states & (1u << s->state))) {
		bad_sequence(s);
		return;
	}
	c->handler(s);
}

static void smtp_step(void *ctx)
{
	struct smtp_session *s = ctx;
	const struct config *cfg = s->env->cfg;
	for (;;) {
		if (s->mode == SMTP_M_DATA) {
			if (!smtp_read_data(s))
				break;
			continue;
		}
		if (s->mode == SMTP_M_CHUNK) {
			if (!smtp_read_chunk(s))
				break;
			continue;
		}
		int rc = session_read_line(s->sess, cfg->smtp.max_line_length,
					   &s->line);
		if (rc == 0)
			break;
		if (rc < 0) {
			/* An AUTH response too long to take ends the
			 * exchange: the client's next line is a command. */
			if (s->sasl_wait)
				smtp_auth_forget(s);
			smtp_reply(s, "500 5.5.2 Line too long");
			smtp_count_error(s);
			continue;
		}
		handle_line(s);
	}
	/* An idle session keeps no line buffer. */
	if (!session_busy(s->sess) && s->mode == SMTP_M_COMMAND)
		str_free(&s->line);
}

static void smtp_timeout(void *ctx)
{
	struct smtp_session *s = ctx;
	session_log_drop(s->sess, "timeout");
	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		   s->env->cfg->server.hostname);
}

static void smtp_free(void *ctx, enum session_end why)
{
	struct smtp_session *s = ctx;
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "disconnect");
	log_field(&line, "messages", "%u", s->messages);
	log_field(&line, "errors", "%u", s->errors);
	log_field(&line, "end", "%s", session_end_name(why));
	log_put(LOG_INFO, &line);
	smtp_tx_reset(s);
	smtp_auth_forget(s);
	str_free(&s->line);
	free(s);
}

static const struct session_proto smtp_proto = {
	.name = "smtp",
	.step = smtp_step,
	.timeout = smtp_timeout,
	.free = smtp_free,
	.answer_after_eof = true,
	/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its
	 * CRLF.  Our longest (an ADDR_TEXT_MAX address in a rejection) fits;
	 * anything longer, e.g. an echoed parameter name, is cut. */
	.max_reply = 510,
};

struct session *smtp_session_start(struct loop *loop,
				   struct session_list *list, int fd,
				   const struct sockaddr *peer,
				   socklen_t peerlen,
				   const struct smtp_env *env)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	size_t input_max = env->cfg->smtp.max_line_length + 2;
	s->env = env;
	s->sess = session_new_tls(loop, list, fd, peer, peerlen,
				  input_max > SESSION_INPUT_MIN
					  ? input_max
					  : SESSION_INPUT_MIN,
				  &env->tls, &smtp_proto, s);
	session_set_timeout(s->sess, env->cfg->smtp.timeout);
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "connect");
	log_put(LOG_INFO, &line);
	smtp_reply(s, "220 %s ESMTP posthorn", env->cfg->server.hostname);
	return s->sess;
}
