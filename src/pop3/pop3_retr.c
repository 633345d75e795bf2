/* RETR and TOP: the message streams from the store in pieces, each read
 * on a worker, and the next piece is read only once the client has taken
 * most of the previous one, so a session never holds a whole message. */
#include <string.h>

#include "core/log.h"
#include "pop3/pop3_private.h"

#define PIECE (64 * 1024)

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
	if (store_account_open(s->env->store, s->user_id, &acct) < 0)
		return;
	st->read_result = store_msg_read(acct, s->mailbox_id,
					 s->msgs[st->index].uid, st->offset,
					 buf, PIECE, &st->got);
	store_account_unref(&acct);
	if (st->read_result > 0)
		str_commit(&s->piece, st->got);
}

/* Dot-stuff (RFC 1939 3) one piece into out.  Only CRLF ends a line.
 * Returns true when TOP has sent all the lines it was asked for. */
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
		bool cr = seg >= 2 ? p[end - 2] == '\r' : st->last_cr;
		st->line_bytes += seg;
		if (nl != NULL && cr) {
			if (st->top && !st->in_body)
				st->in_body = st->line_bytes == 2;
			else if (st->top)
				st->lines_left--;
			st->bol = true;
			st->line_bytes = 0;
		}
		st->last_cr = p[end - 1] == '\r';
		i = end;
	}
	return false;
}

static void finish(struct pop3_session *s)
{
	struct pop3_stream *st = &s->stream;
	if (st->offset > 0 && !st->bol)
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

void pop3_cmd_retr(struct pop3_session *s)
{
	struct pop3_msg_ref r = pop3_lookup(s, s->cmd.msg);
	if (!r.ok) {
		pop3_count_error(s);
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
