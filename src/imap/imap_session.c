/* The IMAP session: reading commands (lines and literals), the command
 * table and its dispatcher, IDLE's place in the loop, and the session's
 * start and end.  It stands on imap_core.c (replies, jobs, a command's
 * end), as the commands (imap_cmd_*.c and the others) do, so no file of
 * the session imports one that imports it back. */
#include "imap/imap_session.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "imap/imap_private.h"

static const struct imap_command commands[] = {
	{"CAPABILITY", imap_cmd_capability, 0xf, false},
	{"NOOP", imap_cmd_noop, 0xf, false},
	{"LOGOUT", imap_cmd_logout, 0xf, false},
	{"ID", imap_cmd_id, 0xf, false},
	{"STARTTLS", imap_cmd_starttls, IMAP_ST(NOTAUTH), false},
	{"LOGIN", imap_cmd_login, IMAP_ST(NOTAUTH), false},
	{"AUTHENTICATE", imap_cmd_authenticate, IMAP_ST(NOTAUTH), false},
	{"ENABLE", imap_cmd_enable, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"NAMESPACE", imap_cmd_namespace, IMAP_ST(AUTH) | IMAP_ST(SELECTED),
	 false},
	{"SELECT", imap_cmd_select, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"EXAMINE", imap_cmd_select, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"CREATE", imap_cmd_create, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"DELETE", imap_cmd_delete, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"RENAME", imap_cmd_rename, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"SUBSCRIBE", imap_cmd_subscribe, IMAP_ST(AUTH) | IMAP_ST(SELECTED),
	 false},
	{"UNSUBSCRIBE", imap_cmd_subscribe, IMAP_ST(AUTH) | IMAP_ST(SELECTED),
	 false},
	{"LIST", imap_cmd_list, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"LSUB", imap_cmd_list, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"STATUS", imap_cmd_status, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"APPEND", imap_cmd_append, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"IDLE", imap_cmd_idle, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"COMPRESS", imap_cmd_compress, IMAP_ST(AUTH) | IMAP_ST(SELECTED),
	 false},
	{"GETQUOTAROOT", imap_cmd_quota, IMAP_ST(AUTH) | IMAP_ST(SELECTED),
	 false},
	{"GETQUOTA", imap_cmd_quota, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"SETQUOTA", imap_cmd_quota, IMAP_ST(AUTH) | IMAP_ST(SELECTED), false},
	{"CHECK", imap_cmd_noop, IMAP_ST(SELECTED), false},
	{"CLOSE", imap_cmd_close, IMAP_ST(SELECTED), false},
	{"UNSELECT", imap_cmd_close, IMAP_ST(SELECTED), false},
	{"EXPUNGE", imap_cmd_expunge, IMAP_ST(SELECTED), true},
	{"SEARCH", imap_cmd_search, IMAP_ST(SELECTED), true},
	{"SORT", imap_cmd_search, IMAP_ST(SELECTED), true},
	{"THREAD", imap_cmd_search, IMAP_ST(SELECTED), true},
	{"FETCH", imap_cmd_fetch, IMAP_ST(SELECTED), true},
	{"STORE", imap_cmd_store, IMAP_ST(SELECTED), true},
	{"COPY", imap_cmd_copy, IMAP_ST(SELECTED), true},
	{"MOVE", imap_cmd_copy, IMAP_ST(SELECTED), true},
};

/* ---- dispatch ---- */

static const struct imap_command *command_find(const struct imap_string *n)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (imap_string_eq(n, commands[i].name))
			return &commands[i];
	return NULL;
}

/* The tag, command name (and "UID"), then the command's own start. */
static void dispatch(struct imap_session *s)
{
	struct imap_string tag = {0}, name;
	struct imap_parser *p = imap_parser_new(s->cmd.data, s->cmd.len,
						imap_parse_flags(s));
	s->parser = p;
	s->tag[0] = '\0';
	int rc = imap_parse_tag(p, &tag);
	if (tag.data != NULL && tag.len < sizeof(s->tag))
		memcpy(s->tag, tag.data, tag.len + 1);
	if (rc > 0 && tag.len >= sizeof(s->tag))
		rc = imap_parser_fail(p, "Tag too long");
	if (rc > 0)
		rc = imap_parse_command_name(p, &name);
	if (rc > 0 && imap_string_eq(&name, "UID")) {
		s->uid = true;
		rc = imap_parse_sp(p);
		if (rc > 0)
			rc = imap_parse_command_name(p, &name);
	}
	if (rc < 0) {
		imap_reply_parse_error(s, p);
		imap_command_end(s);
		return;
	}
	const struct imap_command *c = command_find(&name);
	if (c == NULL || (s->uid && !c->uid_ok)) {
		imap_reply(s, "BAD Unknown command");
		imap_count_error(s);
	} else if (!(c->states & (1u << s->state))) {
		imap_reply(s, "BAD Command not valid in this state");
		imap_count_error(s);
	} else {
		/* Arguments start after one SP; commands without any
		 * check for the end themselves. */
		s->command = c;
		c->start(s, p);
	}
	if (!session_busy(s->sess) && !s->more && !s->idling &&
	    !s->sasl_wait)
		imap_command_end(s);
}

/* ---- reading ---- */

/* A literal too large: refused, and the command with it.  A synchronizing
 * one is never sent; a non-synchronizing one is on its way, and reading
 * gigabytes to skip them is what an attacker wants, so the connection
 * goes. */
static void literal_too_big(struct imap_session *s, bool nonsync)
{
	struct imap_parser *p = imap_parser_new(s->cmd.data, s->cmd.len, 0);
	struct imap_string tag = {0};
	imap_parse_tag(p, &tag);
	snprintf(s->tag, sizeof(s->tag), "%.*s",
		 tag.data != NULL && tag.len < sizeof(s->tag) ? (int)tag.len : 1,
		 tag.data != NULL && tag.len < sizeof(s->tag) ? tag.data : "*");
	imap_parser_free(&p);
	/* The command ends, but its answer still needs the tag. */
	char keep[sizeof(s->tag)];
	memcpy(keep, s->tag, sizeof(keep));
	imap_command_end(s);
	memcpy(s->tag, keep, sizeof(keep));
	if (nonsync) {
		imap_reply(s, "BAD [TOOBIG] Literal too large");
		imap_write(s, "* BYE Literal too large");
		session_log_drop(s->sess, "literal-too-big");
		session_close(s->sess);
	} else {
		imap_reply(s, "NO [TOOBIG] Literal too large");
		imap_count_error(s);
	}
	s->tag[0] = '\0';
}

/* A line ending in a literal announcement.  Returns false when the
 * command was refused. */
static bool literal_start(struct imap_session *s, uint64_t n, bool nonsync,
			  bool binary)
{
	/* Before login an APPEND is refused anyway: its message gets no
	 * more room than any literal, not smtp.max_message_size. */
	int kind = s->state == IMAP_S_NOTAUTH
			   ? 0
			   : imap_append_is_message(s->cmd.data, s->cmd.len,
						    imap_parse_flags(s));
	bool message = kind > 0;
	uint64_t limit = message ? s->env->cfg->smtp.max_message_size
				 : IMAP_COMMAND_MAX - s->cmd.len;
	if (n > limit || (binary && !message)) {
		literal_too_big(s, nonsync);
		return false;
	}
	if (message)
		imap_append_new(s, n, binary, kind == 2);
	else
		str_append(&s->cmd, "\r\n", 2);
	s->literal_left = n;
	if (!nonsync)
		imap_write(s, "+ Ready for literal data");
	return true;
}

/* The tag of the command being read, for an answer before dispatch(). */
static void tag_from_cmd(struct imap_session *s)
{
	struct imap_parser *p = imap_parser_new(s->cmd.data, s->cmd.len,
						imap_parse_flags(s));
	struct imap_string tag = {0};
	imap_parse_tag(p, &tag);
	if (tag.data != NULL && tag.len < sizeof(s->tag))
		memcpy(s->tag, tag.data, tag.len + 1);
	imap_parser_free(&p);
}

static void handle_line(struct imap_session *s)
{
	uint64_t n;
	bool nonsync, binary;
	if (s->idling) {
		imap_cmd_idle_done(s);
		return;
	}
	if (s->sasl_wait) {
		imap_cmd_sasl_response(s);
		return;
	}
	if (s->append != NULL) {
		/* The line after an APPEND message: the command's end.  Any
		 * more there goes with the command, whose parse refuses it
		 * with the APPEND's tag, which is what its client waits for. */
		if (!imap_append_end_ok(s, s->line.data, s->line.len))
			str_append(&s->cmd, s->line.data, s->line.len);
		dispatch(s);
		return;
	}
	if (s->cmd.len + s->line.len > IMAP_COMMAND_MAX) {
		literal_too_big(s, false);
		return;
	}
	str_append(&s->cmd, s->line.data, s->line.len);
	int rc = imap_parse_literal_end(s->line.data, s->line.len, &n,
					&nonsync, &binary);
	if (rc < 0) {
		literal_too_big(s, true);
		return;
	}
	if (rc > 0) {
		literal_start(s, n, nonsync, binary);
		return;
	}
	dispatch(s);
}

/* Literal bytes into the command, or into the APPEND message. */
static bool read_literal(struct imap_session *s)
{
	if (s->append != NULL)
		return imap_append_read(s);
	size_t got = session_read_bytes(s->sess, (size_t)s->literal_left,
					&s->cmd);
	s->literal_left -= got;
	return s->literal_left == 0;
}

static void imap_step(void *ctx)
{
	struct imap_session *s = ctx;
	if (s->more) {
		imap_job(s, s->run);
		return;
	}
	if (s->changed && s->idling && session_may_go_on(s->sess)) {
		imap_idle_wake(s);
		if (session_busy(s->sess))
			return;
	}
	while (session_may_go_on(s->sess)) {
		if (s->literal_left > 0) {
			if (!read_literal(s))
				break;
			continue;
		}
		int rc = session_read_line(s->sess, IMAP_LINE_MAX, &s->line);
		if (rc == 0)
			break;
		if (rc < 0) {
			/* The line ends the command it belongs to: IDLE's,
			 * AUTHENTICATE's, or one whose start (and tag) came
			 * before; a first line has no tag to answer ("*"). */
			if (s->idling)
				imap_idle_timeout(s, false);
			if (s->tag[0] == '\0' && s->cmd.len > 0)
				tag_from_cmd(s);
			imap_reply(s, "BAD Line too long");
			s->idling = s->sasl_wait = false;
			imap_command_end(s);
			imap_count_error(s);
			continue;
		}
		handle_line(s);
	}
	/* An idle session keeps no buffers. */
	if (!session_busy(s->sess) && s->cmd.len == 0 && s->literal_left == 0) {
		str_free(&s->line);
		str_free(&s->cmd);
	}
}

static bool imap_keepalive(void *ctx)
{
	struct imap_session *s = ctx;
	if (!s->idling)
		return false;
	imap_write(s, "* OK Still here");
	return true;
}

static void imap_timeout(void *ctx)
{
	struct imap_session *s = ctx;
	session_log_drop(s->sess, "timeout");
	imap_write(s, "* BYE Autologout; idle for too long");
}

static void imap_free(void *ctx, enum session_end why)
{
	struct imap_session *s = ctx;
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "disconnect");
	log_field(&line, "end", "%s", session_end_name(why));
	if (s->user != NULL)
		log_cvalue(&line, "user", s->user);
	log_put(LOG_INFO, &line);
	imap_notify_free(&s->notify);
	imap_view_free(&s->view);
	free(s->saved);
	auth_secret_clear(&s->password);
	free(s->user);
	imap_command_end(s);
	str_free(&s->line);
	str_free(&s->cmd);
	free(s);
}

static const struct session_proto imap_proto = {
	.name = "imap",
	.step = imap_step,
	.timeout = imap_timeout,
	.keepalive = imap_keepalive,
	.free = imap_free,
	.answer_after_eof = false,
	.max_reply = 8190,
};

struct session *imap_session_start(struct loop *loop,
				   struct session_list *list, int fd,
				   const struct sockaddr *peer,
				   socklen_t peerlen,
				   const struct imap_env *env)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	s->env = env;
	s->sess = session_new_tls(loop, list, fd, peer, peerlen,
				  SESSION_INPUT_MIN + IMAP_LINE_MAX, &env->tls,
				  &imap_proto, s);
	session_set_timeout(s->sess, env->cfg->imap.timeout);
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "connect");
	log_put(LOG_INFO, &line);
	struct str caps = STR_INIT;
	imap_capabilities(s, &caps);
	imap_write(s, "* OK [CAPABILITY %.*s] posthorn IMAP ready",
		   (int)caps.len, caps.data);
	str_free(&caps);
	return s->sess;
}

