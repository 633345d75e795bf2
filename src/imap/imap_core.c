/* What every IMAP command stands on: writing responses, counting errors,
 * running a command's work on a worker and answering on the loop, the
 * account of a job, and the end of a command.  The dispatcher
 * (imap_session.c) and the commands use it; it uses neither. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/worker.h"
#include "imap/imap_private.h"

/* Seconds between "* OK Still here" lines during IDLE: a dead client
 * is found when they stop draining, and NAT boxes keep the mapping. */
#define IDLE_KEEPALIVE 120

static void vwrite_line(struct imap_session *s, const char *prefix,
			const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vwrite_line(struct imap_session *s, const char *prefix,
			const char *fmt, va_list ap)
{
	struct str line = STR_INIT;
	if (prefix != NULL) {
		str_appends(&line, prefix);
		str_appendc(&line, ' ');
	}
	str_vprintf(&line, fmt, ap);
	str_append(&line, "\r\n", 2);
	session_write(s->sess, line.data, line.len);
	str_free(&line);
}

void imap_write(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwrite_line(s, NULL, fmt, ap);
	va_end(ap);
}

void imap_reply(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwrite_line(s, s->tag[0] ? s->tag : "*", fmt, ap);
	va_end(ap);
}

void imap_tagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	str_clear(&s->tagged);
	str_vprintf(&s->tagged, fmt, ap);
	va_end(ap);
}

bool imap_count_error(struct imap_session *s)
{
	if (++s->errors < s->env->cfg->imap.max_errors)
		return false;
	session_log_drop(s->sess, "too-many-errors");
	imap_write(s, "* BYE Too many errors");
	session_close(s->sess);
	return true;
}

void imap_reply_parse_error(struct imap_session *s, struct imap_parser *p)
{
	const char *err = imap_parser_error(p);
	bool no = imap_parser_error_reply(p) == IMAP_REPLY_NO;
	imap_reply(s, "%s %s", no ? "NO" : "BAD",
		   err != NULL ? err : "Invalid arguments");
	if (!no)
		imap_count_error(s);
}

void imap_set_state(struct imap_session *s, enum imap_state state)
{
	s->state = state;
}

/* The command is over: everything it held goes, its buffers too. */
void imap_command_end(struct imap_session *s)
{
	/* A command that ends without its job's done (refused after its
	 * arguments were read, or the session went while the job waited or
	 * between FETCH pieces) frees what its args hold too. */
	if (s->finish != NULL)
		s->finish(s);
	str_clear(&s->cmd);
	s->literal_left = 0;
	imap_append_free(s);
	imap_parser_free(&s->parser);
	free(s->args);
	s->args = NULL;
	s->run = NULL;
	s->finish = NULL;
	s->more = false;
	s->uid = false;
	s->command = NULL;
	s->tag[0] = '\0';
	str_free(&s->out);
	str_free(&s->tagged);
}

static void job_run(void *arg)
{
	struct imap_session *s = arg;
	s->run(s);
}

static void job_done(void *arg)
{
	struct imap_session *s = arg;
	if (s->out.len > 0)
		session_write(s->sess, s->out.data, s->out.len);
	str_clear(&s->out);
	/* Expunges this command could not tell are news for the next. */
	if (s->sync_deferred) {
		s->sync_deferred = false;
		s->changed = true;
	}
	/* More to come, or news during IDLE: the command stays open. */
	if ((s->more || s->idling) && !s->mailbox_gone)
		return;
	if (s->finish != NULL)
		s->finish(s);
	s->finish = NULL;
	if (s->tagged.len > 0)
		imap_reply(s, "%.*s", (int)s->tagged.len, s->tagged.data);
	imap_command_end(s);
	if (s->mailbox_gone) {
		session_log_drop(s->sess, "mailbox-deleted");
		imap_write(s, "* BYE The selected mailbox was deleted");
		session_close(s->sess);
	}
}

static void job_start(struct imap_session *s, struct worker_pool *pool,
		      void (*run)(struct imap_session *s))
{
	s->run = run;
	if (session_run(s->sess, pool, job_run, job_done))
		return;
	imap_write(s, "* BYE [UNAVAILABLE] Server busy, try again later");
	session_close(s->sess);
}

void imap_job(struct imap_session *s, void (*run)(struct imap_session *s))
{
	job_start(s, s->env->workers, run);
}

/* A commit that waits for fsync holds its thread for as long as the disk
 * takes, tens of milliseconds when it is busy.  On a pool of their own,
 * such jobs queue behind each other only, and a FETCH or a flag change of
 * another session never waits for somebody's APPEND to reach the disk. */
void imap_job_sync(struct imap_session *s,
		   void (*run)(struct imap_session *s))
{
	struct worker_pool *pool = s->env->sync_workers;
	job_start(s, pool != NULL ? pool : s->env->workers, run);
}

const char *imap_user(const struct imap_session *s)
{
	return s->user != NULL ? s->user : "";
}

struct store_account *imap_account(struct imap_session *s)
{
	struct store_account *acct = NULL;
	const char *err = NULL;
	int rc = store_account_open(s->env->store, s->user_id, &acct, &err);
	if (rc < 0) {
		imap_tagged_fail(s, rc, "open", err);
		return NULL;
	}
	return acct;
}

void imap_tagged_fail(struct imap_session *s, int fail, const char *what,
		      const char *err)
{
	const char *code;
	switch (fail) {
	case STORE_FAIL_QUOTA:
	case STORE_FAIL_QUOTA_NEVER: code = "OVERQUOTA"; break;
	case STORE_FAIL_FULL: code = "LIMIT"; break;
	case STORE_FAIL_EXISTS: code = "ALREADYEXISTS"; break;
	case STORE_FAIL_BROKEN: code = "CORRUPTION"; break;
	default: code = "UNAVAILABLE"; break;
	}
	imap_tagged(s, "NO [%s] %s failed: %s", code, what,
		    fail == STORE_FAIL_QUOTA || fail == STORE_FAIL_QUOTA_NEVER
			    ? "over quota"
			    : fail == STORE_FAIL_EXISTS ? "name taken"
							: "temporary failure");
	if (fail != STORE_FAIL_QUOTA && fail != STORE_FAIL_QUOTA_NEVER &&
	    fail != STORE_FAIL_EXISTS) {
		struct str line = STR_INIT;
		session_log_begin(s->sess, &line, "store-failed");
		log_field(&line, "what", "%s", what);
		log_field(&line, "result", "%s", store_fail_name(fail));
		log_cvalue(&line, "user", imap_user(s));
		if (err != NULL)
			log_cvalue(&line, "cause", err);
		log_put(LOG_WARN, &line);
	}
}

unsigned imap_parse_flags(const struct imap_session *s)
{
	return (s->enabled & (IMAP_EN_UTF8 | IMAP_EN_REV2)) ? IMAP_PARSE_UTF8
							   : 0;
}

void imap_idle_timeout(struct imap_session *s, bool idling)
{
	session_set_timeout(s->sess, idling ? IDLE_KEEPALIVE
					    : s->env->cfg->imap.timeout);
}

bool imap_command_is(const struct imap_session *s, const char *name)
{
	return s->command != NULL && strcmp(s->command->name, name) == 0;
}

bool imap_check_seqset(struct imap_session *s, const struct imap_seqset *set)
{
	if (s->uid || imap_view_seqset_valid(s, set))
		return true;
	imap_reply(s, "BAD Invalid message sequence number");
	imap_count_error(s);
	return false;
}

void imap_run_sync(struct imap_session *s)
{
	struct store_account *acct = imap_account(s);
	if (acct == NULL)
		return;
	int rc = imap_view_sync(s, acct, true);
	store_account_unref(&acct);
	if (rc < 0)
		imap_tagged_fail(s, rc, s->command->name, NULL);
}
