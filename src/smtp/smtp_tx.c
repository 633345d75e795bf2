/* The SMTP session's shared state: its state changes, the transaction
 * and its message data, error counting and jobs.  The command handlers in
 * smtp_session.c and smtp_data.c stand on this; it calls neither. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/budget.h"
#include "core/config.h"
#include "core/log.h"
#include "smtp/smtp_private.h"

static const char *const state_names[SMTP_S_STATE_COUNT] = {
	"init", "ready", "mail", "rcpt", "bdat"};

void smtp_set_state(struct smtp_session *s, enum smtp_state state)
{
	if (s->state != state && log_enabled(LOG_DEBUG)) {
		struct str line = STR_INIT;
		log_begin(&line, "smtp", session_id(s->sess), "state");
		log_field(&line, "old", "%s", state_names[s->state]);
		log_field(&line, "new", "%s", state_names[state]);
		log_put(LOG_DEBUG, &line);
	}
	s->state = state;
}

void smtp_tx_reset(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	str_free(&tx->rcpts);
	str_free(&tx->remote);
	str_free(&tx->trace);
	smtp_msg_drop(s);
	deliver_targets_clear(&tx->targets);
	memset(tx, 0, sizeof(*tx));
	smtp_set_state(s, s->helo[0] ? SMTP_S_READY : SMTP_S_INIT);
}

/* Counts a client error; after too many the session ends.  Returns true
 * when the session is over. */
bool smtp_count_error(struct smtp_session *s)
{
	if (++s->errors < s->env->cfg->smtp.max_errors)
		return false;
	session_log_drop(s->sess, "too-many-errors");
	smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
		   s->env->cfg->server.hostname);
	session_close(s->sess);
	return true;
}

void smtp_run_job(struct smtp_session *s, void (*run)(void *),
		  void (*done)(void *))
{
	if (!session_run(s->sess, s->env->workers, run, done)) {
		smtp_reply(s, "421 4.3.2 %s Service busy, closing connection",
			   s->env->cfg->server.hostname);
		session_close(s->sess);
	}
}

void smtp_log_tx(const struct smtp_session *s, struct str *line)
{
	struct str from = STR_INIT;
	size_t dropped = 0;
	if (s->helo[0])
		log_cvalue(line, "helo", s->helo);
	str_printf(&from, "<%s>", s->tx.sender);
	log_value(line, "from", from.data, from.len);
	str_free(&from);
	/* Entries end in NUL: an address never holds one. */
	const struct str *r = &s->tx.rcpts;
	for (size_t at = 0; at < r->len;) {
		size_t n = strlen(r->data + at);
		log_item(line, "to", r->data + at, n, &dropped);
		at += n + 1;
	}
	log_more(line, "to", dropped);
}

void smtp_msg_drop(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	str_free(&tx->msg);
	if (tx->held > 0)
		budget_give(s->env->budget, tx->held);
	tx->held = 0;
	spool_free(&tx->spool);
}
