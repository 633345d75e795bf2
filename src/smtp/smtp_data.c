/* Message data: DATA (RFC 5321 4.1.1.4, dot-stuffing undone, only
 * CRLF.CRLF ends it) and BDAT (RFC 3030), the Received trace header, and
 * handing the message to deliver on a worker. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/budget.h"
#include "core/config.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/xalloc.h"
#include "smtp/smtp_private.h"

/* Move long lines into the message in pieces of this size, so no line of
 * any length waits in the input buffer whole.  Below the session's input
 * bound, or a long line could never be taken. */
#define DATA_PIECE (SESSION_INPUT_MIN / 2)

static void make_queue_id(char id[16])
{
	static const char digits[] = "0123456789BCDFGHJKLMNPQRSTVWXZ";
	unsigned char r[12];
	randombytes_buf(r, sizeof(r));
	for (int i = 0; i < 12; i++)
		id[i] = digits[r[i] % (sizeof(digits) - 1)];
	id[12] = '\0';
}

/* RFC 5321 4.4, with the protocol keywords of RFC 3848 / RFC 6531 ("S"
 * for TLS).  Over TLS, the version and cipher go in a comment, worded as
 * other mail servers word it, and the cipher suite in RFC 8314's "tls"
 * clause. */
static void add_received(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	struct tls_info tls;
	char tls_text[128];
	bool over_tls = session_tls_info(s->sess, &tls);
	if (over_tls)
		tls_info_text(&tls, tls_text, sizeof(tls_text));
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	const char *with = tx->utf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP";

	str_appends(&tx->msg, "Received: from ");
	str_append_sanitized(&tx->msg, s->helo, strlen(s->helo), 255);
	str_printf(&tx->msg, " (%s%s%s)",
		   strchr(session_peer_text(s->sess), ':') ? "[IPv6:" : "[",
		   session_peer_text(s->sess), "]");
	if (over_tls)
		str_printf(&tx->msg, "\r\n\t(using %s)", tls_text);
	str_printf(&tx->msg, "\r\n\tby %s (posthorn) with %s%s id %s",
		   s->env->cfg->server.hostname, with,
		   over_tls && s->esmtp ? "S" : "", tx->id);
	if (tx->nrcpt == 1)
		str_printf(&tx->msg, "\r\n\tfor <%s>", tx->first_rcpt);
	if (over_tls)
		str_printf(&tx->msg, "\r\n\ttls %s", tls.cipher_rfc);
	str_printf(&tx->msg, ";\r\n\t%s\r\n", date);
	tx->at_bol = true;
}

/* One reply for the message, from its targets' outcomes: a transient
 * failure wins over a permanent one, since the retry may go through for
 * every recipient. */
static const struct {
	int status;
	const char *reply;
	const char *result;
} deliver_replies[] = {
	{DELIVER_FAIL_TEMP, "451 4.3.0 Error storing message, try again later",
	 "tempfail"},
	{DELIVER_FAIL_BROKEN, "451 4.3.0 Error storing message, try again "
			      "later", "tempfail"},
	{DELIVER_FAIL_FULL, "452 4.3.1 Insufficient system storage, try "
			    "again later", "full"},
	{DELIVER_FAIL_QUOTA, "452 4.2.2 Mailbox full, try again later",
	 "over-quota"},
	{DELIVER_FAIL_QUOTA_NEVER, "552 5.2.2 Message larger than the "
				   "mailbox quota", "too-big-for-quota"},
	{DELIVER_FAIL_GONE, "550 5.1.1 Recipient no longer exists", "gone"},
};

static int reply_rank(int status)
{
	for (size_t i = 0; i < sizeof(deliver_replies) / sizeof(*deliver_replies);
	     i++)
		if (deliver_replies[i].status == status)
			return (int)i;
	return 0;
}

/* ---- the message's bytes: memory, then the spool ---- */


/* On a worker: move what is in memory to the spool. */
static void spool_out(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	const char *err = NULL;
	if ((tx->spool == NULL &&
	     spool_new(s->env->spool_dir, &tx->spool, &err) < 0) ||
	    spool_write(tx->spool, tx->msg.data, tx->msg.len, &err) < 0) {
		tx->no_room = true;
		snprintf(tx->cause, sizeof(tx->cause), "spool: %s", err);
	}
}

static void spool_run(void *arg)
{
	spool_out(arg);
}

static void spool_done(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = &s->tx;
	str_free(&tx->msg);
	budget_give(s->env->budget, tx->held);
	tx->held = 0;
	if (tx->no_room)
		spool_free(&tx->spool);
}

/* Account for n new bytes in memory.  Past SMTP_SPOOL_AT, or when the
 * server's budget is spent, they go to the spool on a worker; returns
 * false when that job was started (the session waits for it). */
static bool hold(struct smtp_session *s, size_t n)
{
	struct smtp_tx *tx = &s->tx;
	if (budget_take(s->env->budget, n)) {
		tx->held += n;
		if (tx->msg.len < SMTP_SPOOL_AT)
			return true;
	}
	smtp_run_job(s, spool_run, spool_done);
	return false;
}

/* ---- delivery ---- */

/* Submission, on the worker: the header checked and completed (head, in
 * front of the message in src from now on), and the copy for other
 * domains queued, before the local recipients get theirs.  Returns false
 * when the message goes no further (tx->refusal or tx->status says why). */
static bool submit_run(struct smtp_session *s, struct deliver_source *src,
		       struct str *head)
{
	struct smtp_tx *tx = &s->tx;
	if (!smtp_submit_prepare(s, src, head))
		return false;
	if (src->fd < 0) {
		str_append(head, src->data, src->len);
		*src = (struct deliver_source){head->data, head->len, -1, 0};
	} else {
		src->data = head->data;
		src->len = head->len;
	}
	if (tx->nremote == 0)
		return true;
	int rc = smtp_submit_queue(s, src);
	if (rc != 1) {
		tx->status = rc;
		return false;
	}
	return true;
}

static void deliver_run(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = &s->tx;
	size_t n = tx->targets.n ? tx->targets.n : 1;
	struct deliver_source src = {tx->msg.data, tx->msg.len, -1, 0};
	struct deliver_result *results = xcalloc(n, sizeof(*results));
	struct str head = STR_INIT;
	tx->status = DELIVER_STORED;
	if (tx->spool != NULL) {
		spool_out(s);
		src = (struct deliver_source){NULL, 0, spool_fd(tx->spool),
					      spool_len(tx->spool)};
	}
	if (tx->no_room) {
		tx->status = DELIVER_FAIL_FULL;
		free(results);
		return;
	}
	if (s->env->role == SMTP_ROLE_SUBMISSION &&
	    !submit_run(s, &src, &head)) {
		str_free(&head);
		free(results);
		return;
	}
	if (tx->targets.n > 0)
		tx->stored = deliver_message(s->env->store, &tx->targets,
					     tx->sender, &src, results);
	for (size_t i = 0; i < tx->targets.n; i++) {
		const struct deliver_result *r = &results[i];
		if (r->status != DELIVER_STORED &&
		    (tx->status == DELIVER_STORED ||
		     reply_rank(r->status) < reply_rank(tx->status))) {
			tx->status = r->status;
			snprintf(tx->cause, sizeof(tx->cause), "%s", r->reason);
		}
	}
	str_free(&head);
	free(results);
}

static void deliver_done(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = &s->tx;
	/* All or nothing: a retry that duplicates mail for some recipients
	 * beats silently losing it for the others. */
	bool ok = tx->refusal == NULL && tx->stored == tx->targets.n &&
		  tx->status == DELIVER_STORED;
	int k = ok ? 0 : reply_rank(tx->status);
	/* The fields we make first: a long recipient list never pushes the
	 * size or the result out of the line. */
	struct str line = STR_INIT;
	log_begin(&line, "smtp", session_id(s->sess), "message");
	log_field(&line, "id", "%s", tx->id);
	log_field(&line, "client", "%s", session_peer_text(s->sess));
	log_field(&line, "size", "%llu", (unsigned long long)tx->data_bytes);
	log_field(&line, "result", "%s",
		  ok ? "delivered"
		  : tx->refusal != NULL ? "refused"
					: deliver_replies[k].result);
	if (s->user_id != 0)
		log_cvalue(&line, "user", s->login);
	if (tx->nremote > 0)
		log_field(&line, "queued", "%u", tx->nremote);
	if (!ok && tx->cause[0])
		log_cvalue(&line, "cause", tx->cause);
	smtp_log_tx(s, &line);
	log_put(LOG_INFO, &line);
	if (ok) {
		s->messages++;
		if (s->user_id != 0)
			smtp_submit_sent(s);
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", tx->id);
	} else if (tx->refusal != NULL) {
		smtp_reply(s, "%s", tx->refusal);
	} else {
		smtp_reply(s, "%s", deliver_replies[k].reply);
	}
	smtp_tx_reset(s);
}

/* The whole message is in; store it or refuse it. */
static void finish_message(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	s->mode = SMTP_M_COMMAND;
	session_set_timeout(s->sess, s->env->cfg->smtp.timeout);
	if (tx->too_big) {
		struct str line = STR_INIT;
		session_log_begin(s->sess, &line, "reject");
		log_field(&line, "code", "552");
		log_field(&line, "size", "%llu",
			  (unsigned long long)tx->data_bytes);
		smtp_log_tx(s, &line);
		log_put(LOG_INFO, &line);
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum "
			      "message size");
		smtp_tx_reset(s);
		return;
	}
	/* A spool that failed is answered by the delivery job: one place
	 * for the reply and the log line with its cause. */
	smtp_run_job(s, deliver_run, deliver_done);
}

/* Our trace header: in front of the data for the MX role; kept apart for
 * submission, which checks the header first and adds fields of its own. */
static void start_message(struct smtp_session *s)
{
	make_queue_id(s->tx.id);
	if (s->env->role == SMTP_ROLE_SUBMISSION) {
		smtp_submit_received(s);
		s->tx.at_bol = true;
	} else {
		add_received(s);
	}
}

void smtp_cmd_data(struct smtp_session *s)
{
	start_message(s);
	s->mode = SMTP_M_DATA;
	session_set_timeout(s->sess, s->env->cfg->smtp.data_timeout);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* Account for n new message bytes at the end of msg.  Past the limit, or
 * once the spool failed, keep reading (to stay in step) but drop them.
 * Returns false when the bytes are kept. */
static bool dropped(struct smtp_session *s, size_t n)
{
	struct smtp_tx *tx = &s->tx;
	tx->data_bytes += n;
	if (tx->data_bytes > s->env->cfg->smtp.max_message_size &&
	    !tx->too_big) {
		tx->too_big = true;
		smtp_msg_drop(s);
	}
	if (tx->too_big || tx->no_room) {
		str_free(&tx->msg);
		return true;
	}
	return false;
}

/* The same, then hold the bytes; returns false when the session must
 * wait (they are being spooled). */
static bool count_bytes(struct smtp_session *s, size_t n)
{
	return dropped(s, n) || hold(s, n);
}

/* The last bytes of a message: the delivery job takes them from memory
 * (to the spool first, if there is one), so they are not spooled now. */
static void count_last_bytes(struct smtp_session *s, size_t n)
{
	if (!dropped(s, n) && budget_take(s->env->budget, n))
		s->tx.held += n;
}

/* What one pass over a block of DATA input found. */
struct scan {
	size_t taken;	/* input bytes used, the end marker included */
	size_t kept;	/* message bytes left at the start of the block */
	bool end;	/* the CRLF.CRLF that ends the message was seen */
};

/* Undo dot-stuffing in place in the block p[0..n) and find the end of
 * the message: a line that is only "." after a CRLF.  Only CRLF ends a
 * line (RFC 5321 2.3.8), so a bare LF or CR is message data; a CRLF split
 * between blocks is followed through tx->last_cr.  A block that ends in a
 * line start that may still become the end marker (".", ".\r") is taken
 * only up to that line, which waits for more input. */
static struct scan scan_block(struct smtp_tx *tx, char *p, size_t n)
{
	size_t i = 0, w = 0;
	bool prev_cr = tx->last_cr;
	while (i < n) {
		if (tx->at_bol && p[i] == '.') {
			if (n - i >= 3 && p[i + 1] == '\r' && p[i + 2] == '\n')
				return (struct scan){i + 3, w, true};
			if (n - i == 1 || (n - i == 2 && p[i + 1] == '\r'))
				break;
			i++;	/* the stuffed dot */
			prev_cr = false;
		}
		tx->at_bol = false;
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (nl != NULL)
			tx->at_bol = end - i >= 2 ? p[end - 2] == '\r' : prev_cr;
		prev_cr = p[end - 1] == '\r';
		if (w != i)
			memmove(p + w, p + i, end - i);
		w += end - i;
		i = end;
	}
	tx->last_cr = prev_cr;
	return (struct scan){i, w, false};
}

/* DATA: the buffered input is taken in blocks, not line by line, and only
 * up to the end of the message, so pipelined commands behind it stay in
 * the input. */
bool smtp_read_data(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	for (;;) {
		size_t before = tx->msg.len;
		size_t n = session_peek_bytes(s->sess, DATA_PIECE, &tx->msg);
		if (n == 0)
			return false;
		struct scan r = scan_block(tx, tx->msg.data + before, n);
		session_drop_input(s->sess, r.taken);
		str_truncate(&tx->msg, before + r.kept);
		if (r.end) {
			count_last_bytes(s, r.kept);
			finish_message(s);
			return true;
		}
		if (r.taken == 0)
			return false;
		if (!count_bytes(s, r.kept))
			return false;
	}
}

void smtp_cmd_bdat(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	const char *bad = NULL;
	if (s->state == SMTP_S_INIT || s->state == SMTP_S_READY)
		bad = "503 5.5.1 Need MAIL and RCPT commands first";
	else if (s->state == SMTP_S_MAIL)
		bad = "554 5.5.1 No valid recipients";
	/* RFC 3030 2: the chunk's bytes follow whatever we think of the
	 * command, so read them before replying. */
	if (bad == NULL && s->state == SMTP_S_RCPT) {
		start_message(s);
		smtp_set_state(s, SMTP_S_BDAT);
	}
	tx->chunk_left = s->cmd.bdat_size;
	tx->chunk_last = s->cmd.bdat_last;
	tx->chunk_reply = bad;
	s->mode = SMTP_M_CHUNK;
	session_set_timeout(s->sess, s->env->cfg->smtp.data_timeout);
}

bool smtp_read_chunk(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	while (tx->chunk_left > 0) {
		size_t want = tx->chunk_left > DATA_PIECE ? DATA_PIECE
							  : (size_t)tx->chunk_left;
		size_t got = session_read_bytes(s->sess, want, &tx->msg);
		if (got == 0)
			return false;
		tx->chunk_left -= got;
		if (tx->chunk_reply != NULL)
			str_truncate(&tx->msg, tx->msg.len - got);
		else if (!count_bytes(s, got))
			return false;
	}
	if (tx->chunk_reply != NULL) {
		s->mode = SMTP_M_COMMAND;
		session_set_timeout(s->sess, s->env->cfg->smtp.timeout);
		smtp_reply(s, "%s", tx->chunk_reply);
		tx->chunk_reply = NULL;
		smtp_count_error(s);
		return true;
	}
	if (tx->chunk_last) {
		finish_message(s);
		return true;
	}
	s->mode = SMTP_M_COMMAND;
	session_set_timeout(s->sess, s->env->cfg->smtp.timeout);
	if (tx->too_big) {
		/* RFC 3030 4.2: a failed chunk fails the transaction. */
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum "
			      "message size");
		smtp_tx_reset(s);
		return true;
	}
	smtp_reply(s, "250 2.0.0 %llu octets received",
		   (unsigned long long)s->cmd.bdat_size);
	return true;
}
