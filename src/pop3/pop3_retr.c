/* RETR and TOP: the message streams from the store in pieces, each read
 * on a worker, and the next piece is read only once the client has taken
 * most of the previous one, so a session never holds a whole message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "pop3/pop3_private.h"

#define PIECE (64 * 1024)
/* A batch stops at this many commands or this many message bytes. */
#define BATCH_MAX 64
#define BATCH_BYTES (256 * 1024)
/* Largest message read ahead (held while the session waits). */
#define AHEAD_MAX (32 * 1024)

struct pop3_batch {
	struct {
		size_t index;
		bool top;
		uint32_t lines;
	} items[BATCH_MAX];
	size_t n;
	uint64_t bytes;
	unsigned retrieved;
	struct str out;
};

static void read_run(void *arg);
static void read_done(void *arg);

static void read_next(struct pop3_session *s)
{
	s->wait_drain = false;
	pop3_run_job(s, read_run, read_done);
}

static void read_run(void *arg)
{
	struct pop3_session *s = arg;
	struct pop3_stream *st = &s->stream;
	struct store_account *acct;
	str_clear(&s->piece);
	char *buf = str_reserve(&s->piece, PIECE);
	st->read_result = -1;
	if (store_account_open(s->env->store, s->user_id, &acct, NULL) < 0)
		return;
	st->read_result = store_msg_read(acct, s->mailbox_id,
					 s->msgs[st->index].uid, st->offset,
					 buf, PIECE, &st->got, NULL);
	store_account_unref(&acct);
	if (st->read_result > 0)
		str_commit(&s->piece, st->got);
}

/* Dot-stuff (RFC 1939 3) one piece into out.  A line here ends at any LF,
 * not only CRLF: a stored message can hold a bare-LF "." line (an SMTP
 * smuggling attempt leaves one), and clients that take LF as a line end
 * would otherwise stop reading there and take what follows for our
 * replies.  Returns true when TOP has sent all the lines asked for. */
static bool stuff(struct pop3_stream *st, const char *p, size_t n,
		  struct str *out)
{
	size_t i = 0;
	while (i < n) {
		if (st->bol) {
			if (st->top && st->in_body && st->lines_left == 0)
				return true;
			if (p[i] == '.')
				str_appendc(out, '.');
			st->bol = false;
		}
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) + 1 : n;
		size_t seg = end - i;
		str_append(out, p + i, seg);
		st->line_bytes += seg;
		if (nl != NULL) {
			bool cr = seg >= 2 ? p[end - 2] == '\r' : st->last_cr;
			if (st->top && !st->in_body)
				st->in_body = st->line_bytes == (cr ? 2u : 1u);
			else if (st->top)
				st->lines_left--;
			st->bol = true;
			st->crlf = cr;
			st->line_bytes = 0;
		}
		st->last_cr = p[end - 1] == '\r';
		i = end;
	}
	return false;
}

/* The terminator must follow a CRLF (RFC 1939 3). */
static bool needs_crlf(const struct pop3_stream *st, uint64_t sent)
{
	return sent > 0 && !(st->bol && st->crlf);
}

static void finish(struct pop3_session *s)
{
	struct pop3_stream *st = &s->stream;
	if (needs_crlf(st, st->offset))
		conn_write(s->conn, "\r\n", 2);
	conn_write(s->conn, ".\r\n", 3);
	if (!st->top)
		s->retrieved++;
	s->streaming = false;
	str_free(&s->piece);
	pop3_continue(s);
}

static void read_done(void *arg)
{
	struct pop3_session *s = arg;
	struct pop3_stream *st = &s->stream;
	if (!pop3_job_finished(s))
		return;
	if (st->read_result <= 0) {
		log_error("pop3[%s] user=%s cannot read message uid=%u",
			  conn_id(s->conn), s->user, s->msgs[st->index].uid);
		if (!st->started) {
			s->streaming = false;
			pop3_reply(s, "-ERR [SYS/TEMP] Cannot read message");
			pop3_continue(s);
			return;
		}
		/* Half a message was sent: only closing tells the client. */
		s->quitting = true;
		conn_close_after_write(s->conn);
		return;
	}
	if (!st->started) {
		st->started = true;
		pop3_reply(s, "+OK %llu octets",
			   (unsigned long long)s->msgs[st->index].size);
	}
	struct str out = STR_INIT;
	bool top_done = stuff(st, s->piece.data, st->got, &out);
	conn_write(s->conn, out.data, out.len);
	str_free(&out);
	st->offset += st->got;
	if (top_done || st->got == 0 || st->offset >= s->msgs[st->index].size) {
		finish(s);
		return;
	}
	if (conn_output_len(s->conn) <= PIECE)
		read_next(s);
	else
		s->wait_drain = true;
}

void pop3_drained(void *ctx)
{
	struct pop3_session *s = ctx;
	if (s->streaming && s->wait_drain && !s->busy)
		read_next(s);
}

void pop3_batch_free(struct pop3_session *s)
{
	if (s->batch != NULL) {
		str_free(&s->batch->out);
		free(s->batch);
		s->batch = NULL;
	}
}

/* The whole response to RETR or TOP of a message held in memory. */
static void respond_whole(const char *buf, size_t got, uint64_t size,
			  bool top, uint32_t lines, struct str *out)
{
	struct pop3_stream st = {0};
	str_printf(out, "+OK %llu octets\r\n", (unsigned long long)size);
	st.top = top;
	st.lines_left = lines;
	st.bol = true;
	stuff(&st, buf, got, out);
	if (needs_crlf(&st, got))
		str_append(out, "\r\n", 2);
	str_append(out, ".\r\n", 3);
}

static int read_whole(struct pop3_session *s, struct store_account *acct,
		      size_t index, struct str *into)
{
	const struct store_msg *m = &s->msgs[index];
	size_t got = 0;
	str_clear(into);
	char *buf = str_reserve(into, m->size);
	if (acct == NULL || store_msg_read(acct, s->mailbox_id, m->uid, 0, buf,
					   m->size, &got, NULL) <= 0)
		return -1;
	str_commit(into, got);
	return 1;
}

static void batch_item_run(struct pop3_session *s, struct store_account *acct,
			   size_t k)
{
	struct pop3_batch *b = s->batch;
	size_t index = b->items[k].index;
	if (read_whole(s, acct, index, &s->piece) < 0) {
		str_appends(&b->out, "-ERR [SYS/TEMP] Cannot read message\r\n");
		return;
	}
	respond_whole(s->piece.data, s->piece.len, s->msgs[index].size,
		      b->items[k].top, b->items[k].lines, &b->out);
	if (!b->items[k].top)
		b->retrieved++;
}

/* The next message the client is likely to RETR, if it is small. */
static void read_ahead(struct pop3_session *s, struct store_account *acct,
		       size_t after)
{
	size_t i = after + 1;
	while (i < s->nmsgs && s->deleted[i])
		i++;
	s->ahead_ok = i < s->nmsgs && s->msgs[i].size <= AHEAD_MAX &&
		      read_whole(s, acct, i, &s->ahead) > 0;
	s->ahead_index = i;
	if (!s->ahead_ok)
		str_free(&s->ahead);
}

static void batch_run(void *arg)
{
	struct pop3_session *s = arg;
	struct store_account *acct = NULL;
	if (store_account_open(s->env->store, s->user_id, &acct, NULL) < 0)
		acct = NULL;
	for (size_t k = 0; k < s->batch->n; k++)
		batch_item_run(s, acct, k);
	/* One RETR at a time looks like a client fetching in order. */
	if (s->batch->n == 1 && !s->batch->items[0].top && s->held_rc == 0)
		read_ahead(s, acct, s->batch->items[0].index);
	store_account_unref(&acct);
	str_free(&s->piece);
}

static void ahead_run(void *arg)
{
	struct pop3_session *s = arg;
	struct store_account *acct = NULL;
	if (store_account_open(s->env->store, s->user_id, &acct, NULL) < 0)
		acct = NULL;
	read_ahead(s, acct, s->ahead_index);
	store_account_unref(&acct);
}

static void ahead_done(void *arg)
{
	struct pop3_session *s = arg;
	if (pop3_job_finished(s))
		pop3_continue(s);
}

/* Answer a RETR from the read-ahead buffer, on the loop: no disk is
 * touched here.  Then read the next one. */
static void answer_from_ahead(struct pop3_session *s, size_t index)
{
	struct str out = STR_INIT;
	respond_whole(s->ahead.data, s->ahead.len, s->msgs[index].size, false,
		      0, &out);
	conn_write(s->conn, out.data, out.len);
	str_free(&out);
	s->retrieved++;
	s->ahead_ok = false;
	if (s->held_rc != 0 || conn_input_len(s->conn) > 0) {
		/* Pipelined commands are waiting: they are batched, which
		 * beats reading ahead one message at a time. */
		str_free(&s->ahead);
		return;
	}
	pop3_run_job(s, ahead_run, ahead_done);
}

static void batch_done(void *arg)
{
	struct pop3_session *s = arg;
	if (!pop3_job_finished(s))
		return;
	conn_write(s->conn, s->batch->out.data, s->batch->out.len);
	s->retrieved += s->batch->retrieved;
	pop3_batch_free(s);
	pop3_continue(s);
}

/* Whether the parsed command is a RETR/TOP the batch can take. */
static bool batchable(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_batch *b = s->batch;
	if ((cmd->verb != POP3_RETR && cmd->verb != POP3_TOP) ||
	    cmd->msg == 0 || cmd->msg > s->nmsgs || s->deleted[cmd->msg - 1])
		return false;
	uint64_t size = s->msgs[cmd->msg - 1].size;
	return size <= PIECE && b->n < BATCH_MAX &&
	       b->bytes + size <= BATCH_BYTES;
}

static void batch_add(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_batch *b = s->batch;
	b->items[b->n].index = cmd->msg - 1;
	b->items[b->n].top = cmd->verb == POP3_TOP;
	b->items[b->n].lines = cmd->lines;
	b->bytes += s->msgs[cmd->msg - 1].size;
	b->n++;
}

/* Answer this small RETR/TOP and the ones pipelined right behind it with
 * one worker job: one round trip to a worker instead of one per message.
 * The first line that does not fit is held as the next command. */
static void start_batch(struct pop3_session *s)
{
	struct pop3_cmd next;
	s->batch = xcalloc(1, sizeof(*s->batch));
	batch_add(s, &s->cmd);
	while (s->held_rc == 0 && s->batch->n < BATCH_MAX) {
		int rc = conn_read_line(s->conn, POP3_LINE_MAX, &s->held);
		if (rc == 0)
			break;
		if (rc == 1 && pop3_parse_command(s->held.data, s->held.len,
						  &next) > 0 &&
		    batchable(s, &next)) {
			batch_add(s, &next);
			continue;
		}
		s->held_rc = rc;
	}
	pop3_run_job(s, batch_run, batch_done);
}

void pop3_cmd_retr(struct pop3_session *s)
{
	struct pop3_msg_ref r = pop3_lookup(s, s->cmd.msg);
	if (!r.ok) {
		pop3_count_error(s);
		return;
	}
	if (s->cmd.verb == POP3_RETR && s->ahead_ok &&
	    s->ahead_index == r.index) {
		answer_from_ahead(s, r.index);
		return;
	}
	s->ahead_ok = false;
	str_free(&s->ahead);
	if (s->msgs[r.index].size <= PIECE) {
		start_batch(s);
		return;
	}
	memset(&s->stream, 0, sizeof(s->stream));
	s->stream.index = r.index;
	s->stream.top = s->cmd.verb == POP3_TOP;
	s->stream.lines_left = s->cmd.lines;
	s->stream.bol = true;
	s->streaming = true;
	conn_set_drain_mark(s->conn, PIECE);
	read_next(s);
}
