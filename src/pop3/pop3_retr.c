/* RETR and TOP: one path for every message, small or large.  The
 * message is read in pieces of PIECE bytes on a worker, which also
 * dot-stuffs the piece; the loop only writes it out.  The core steps the
 * session again once the client has taken most of the output, and the
 * step reads the next piece, so a session never holds more than about
 * one piece plus the output high-water mark, whatever the message size
 * and however slowly the client reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "pop3/pop3_private.h"

#define PIECE (64 * 1024)

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

static void read_piece(struct pop3_session *s, char *buf, size_t *got_r)
{
	struct pop3_stream *st = &s->stream;
	struct store_account *acct;
	st->read_result = -1;
	*got_r = 0;
	if (store_account_open(s->env->store, s->user_id, &acct) < 0)
		return;
	st->read_result = store_msg_read(acct, s->mailbox_id,
					 s->msgs[st->index].uid, st->offset,
					 buf, PIECE, got_r);
	store_account_unref(&acct);
}

/* On a worker: the next piece of the response, ready to send. */
static void retr_run(void *arg)
{
	struct pop3_session *s = arg;
	struct pop3_stream *st = &s->stream;
	uint64_t size = s->msgs[st->index].size;
	size_t got;
	char *buf = xmalloc(PIECE);
	str_clear(&st->out);
	read_piece(s, buf, &got);
	if (st->read_result <= 0) {
		free(buf);
		return;
	}
	if (!st->started)
		str_printf(&st->out, "+OK %llu octets\r\n",
			   (unsigned long long)size);
	bool top_done = stuff(st, buf, got, &st->out);
	free(buf);
	st->offset += got;
	if (top_done || got == 0 || st->offset >= size) {
		if (needs_crlf(st, st->offset))
			str_append(&st->out, "\r\n", 2);
		str_append(&st->out, ".\r\n", 3);
		st->finished = true;
	}
}

static void retr_done(void *arg)
{
	struct pop3_session *s = arg;
	struct pop3_stream *st = &s->stream;
	if (st->read_result <= 0) {
		log_error("pop3[%s] user=%s cannot read message uid=%u",
			  session_id(s->sess), s->user,
			  s->msgs[st->index].uid);
		s->streaming = false;
		if (!st->started) {
			pop3_reply(s, "-ERR [SYS/TEMP] Cannot read message");
		} else {
			/* Half a message was sent: only closing tells. */
			session_close(s->sess);
		}
		str_free(&st->out);
		return;
	}
	st->started = true;
	session_write(s->sess, st->out.data, st->out.len);
	if (st->finished) {
		if (!st->top)
			s->retrieved++;
		s->streaming = false;
		str_free(&st->out);
	}
}

void pop3_retr_next(struct pop3_session *s)
{
	pop3_run_job(s, retr_run, retr_done);
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
	pop3_retr_next(s);
}
