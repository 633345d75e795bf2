/* IDLE (RFC 2177): the command, the news it waits for (imap_notify.c
 * calls imap_idle_wake on the loop), and DONE. */
#include <strings.h>

#include "imap/imap_private.h"

static void idle_run(struct imap_session *s)
{
	struct store_account *acct = imap_account(s);
	if (acct == NULL) {
		str_clear(&s->tagged);
		return;
	}
	imap_view_sync(s, acct, true);
	store_account_unref(&acct);
}

void imap_cmd_idle(struct imap_session *s, struct imap_parser *p)
{
	if (imap_parse_end(p) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	/* Nothing of the command is needed until DONE: an IDLE can last
	 * days, so its arena and line go now (the tag is kept apart). */
	imap_parser_free(&s->parser);
	str_free(&s->cmd);
	s->idling = true;
	imap_idle_timeout(s, true);
	imap_write(s, "+ idling");
	if (s->changed)
		imap_idle_wake(s);
}

void imap_idle_wake(struct imap_session *s)
{
	s->changed = false;
	/* The command stays open: the job writes only untagged news. */
	if (s->view != NULL)
		imap_job(s, idle_run);
}

void imap_cmd_idle_done(struct imap_session *s)
{
	bool done = s->line.len == 4 &&
		    strncasecmp(s->line.data, "DONE", 4) == 0;
	s->idling = false;
	imap_idle_timeout(s, false);
	if (!done) {
		imap_reply(s, "BAD Expected DONE");
		imap_count_error(s);
	} else if (s->view != NULL && s->changed) {
		s->changed = false;
		imap_tagged(s, "OK IDLE terminated");
		imap_job(s, imap_run_sync);
		return;
	} else {
		imap_reply(s, "OK IDLE terminated");
	}
	imap_command_end(s);
}
