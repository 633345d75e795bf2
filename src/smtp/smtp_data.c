/* Message data: DATA (RFC 5321 4.1.1.4, dot-stuffing undone, only
 * CRLF.CRLF ends it) and BDAT (RFC 3030), the Received trace header, and
 * handing the message to deliver on a worker. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "smtp/smtp_private.h"

/* Move long lines into the message in pieces of this size, so no line of
 * any length waits in the input buffer whole. */
#define DATA_PIECE (64 * 1024)

static void make_queue_id(char id[16])
{
	static const char digits[] = "0123456789BCDFGHJKLMNPQRSTVWXZ";
	unsigned char r[12];
	randombytes_buf(r, sizeof(r));
	for (int i = 0; i < 12; i++)
		id[i] = digits[r[i] % (sizeof(digits) - 1)];
	id[12] = '\0';
}

/* RFC 5321 4.4, with the protocol keywords of RFC 3848 / RFC 6531. */
static void add_received(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	const char *with = tx->utf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP";

	str_appends(&tx->msg, "Received: from ");
	str_append_sanitized(&tx->msg, s->helo, strlen(s->helo), 255);
	str_printf(&tx->msg, " (%s%s%s)\r\n\tby %s (posthorn) with %s id %s",
		   strchr(conn_peer_text(s->conn), ':') ? "[IPv6:" : "[",
		   conn_peer_text(s->conn), "]", s->env->cfg->server.hostname,
		   with, tx->id);
	if (tx->nrcpt == 1)
		str_printf(&tx->msg, "\r\n\tfor <%s>", tx->first_rcpt);
	str_printf(&tx->msg, ";\r\n\t%s\r\n", date);
	tx->header_len = tx->msg.len;
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

static void deliver_run(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = &s->tx;
	size_t n = tx->targets.n ? tx->targets.n : 1;
	struct deliver_result *results = xcalloc(n, sizeof(*results));
	struct deliver_source src = {tx->msg.data, tx->msg.len, -1, 0};
	tx->stored = deliver_message(s->env->store, &tx->targets, tx->sender,
				     &src, results);
	tx->status = DELIVER_STORED;
	for (size_t i = 0; i < tx->targets.n; i++)
		if (results[i].status != DELIVER_STORED &&
		    (tx->status == DELIVER_STORED ||
		     reply_rank(results[i].status) < reply_rank(tx->status)))
			tx->status = results[i].status;
	free(results);
}

static void deliver_done(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = &s->tx;
	/* All or nothing: a retry that duplicates mail for some recipients
	 * beats silently losing it for the others. */
	bool ok = tx->stored == tx->targets.n && tx->status == DELIVER_STORED;
	int k = ok ? 0 : reply_rank(tx->status);
	log_info("smtp[%s] message id=%s client=%s from=<%s> to=%s size=%llu "
		 "result=%s",
		 conn_id(s->conn), tx->id, conn_peer_text(s->conn), tx->sender,
		 tx->rcpts.data, (unsigned long long)tx->data_bytes,
		 ok ? "delivered" : deliver_replies[k].result);
	if (ok) {
		s->messages++;
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", tx->id);
	} else {
		smtp_reply(s, "%s", deliver_replies[k].reply);
	}
	smtp_tx_reset(s);
	smtp_job_finished(s);
}

/* The whole message is in; store it or refuse it. */
static void finish_message(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	s->mode = SMTP_M_COMMAND;
	conn_set_timeout(s->conn, s->env->cfg->smtp.timeout);
	if (tx->too_big) {
		log_info("smtp[%s] reject client=%s from=<%s> to=%s code=552 "
			 "size=%llu",
			 conn_id(s->conn), conn_peer_text(s->conn), tx->sender,
			 tx->rcpts.data, (unsigned long long)tx->data_bytes);
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum "
			      "message size");
		smtp_tx_reset(s);
		return;
	}
	smtp_run_job(s, deliver_run, deliver_done);
}

void smtp_cmd_data(struct smtp_session *s)
{
	make_queue_id(s->tx.id);
	add_received(s);
	s->mode = SMTP_M_DATA;
	conn_set_timeout(s->conn, s->env->cfg->smtp.data_timeout);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* Account for n new message bytes; past the limit keep reading (to stay
 * in step) but drop them. */
static void count_bytes(struct smtp_session *s, size_t n)
{
	struct smtp_tx *tx = &s->tx;
	tx->data_bytes += n;
	if (tx->data_bytes > s->env->cfg->smtp.max_message_size)
		tx->too_big = true;
	if (tx->too_big)
		str_truncate(&tx->msg, tx->header_len);
}

bool smtp_read_data(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	for (;;) {
		size_t before = tx->msg.len, n;
		int rc = conn_read_body_line(s->conn, DATA_PIECE, &tx->msg, &n);
		if (rc == 0)
			return false;
		char *p = tx->msg.data + before;
		if (tx->at_bol && rc == 1 && n == 3 && p[0] == '.') {
			str_truncate(&tx->msg, before);
			finish_message(s);
			return true;
		}
		if (tx->at_bol && p[0] == '.') {
			memmove(p, p + 1, n - 1);
			str_truncate(&tx->msg, tx->msg.len - 1);
			n--;
		}
		tx->at_bol = rc == 1;
		count_bytes(s, n);
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
		make_queue_id(tx->id);
		add_received(s);
		smtp_set_state(s, SMTP_S_BDAT);
	}
	tx->chunk_left = s->cmd.bdat_size;
	tx->chunk_last = s->cmd.bdat_last;
	tx->chunk_reply = bad;
	s->mode = SMTP_M_CHUNK;
	conn_set_timeout(s->conn, s->env->cfg->smtp.data_timeout);
}

bool smtp_read_chunk(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	while (tx->chunk_left > 0) {
		size_t want = tx->chunk_left > DATA_PIECE ? DATA_PIECE
							  : (size_t)tx->chunk_left;
		size_t got = conn_read_bytes(s->conn, want, &tx->msg);
		if (got == 0)
			return false;
		tx->chunk_left -= got;
		if (tx->chunk_reply != NULL)
			str_truncate(&tx->msg, tx->header_len);
		else
			count_bytes(s, got);
	}
	if (tx->chunk_reply != NULL) {
		s->mode = SMTP_M_COMMAND;
		conn_set_timeout(s->conn, s->env->cfg->smtp.timeout);
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
	conn_set_timeout(s->conn, s->env->cfg->smtp.timeout);
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
