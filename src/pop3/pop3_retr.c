/* RETR and TOP: one way to answer every message, small or large.
 *
 * A command (with the RETR/TOPs pipelined right behind it, when their
 * messages are small) becomes a list of items, answered by jobs on a
 * worker: each job reads and dot-stuffs up to PIECE bytes of answers and
 * the loop only writes them out.  The core steps the session again once
 * the client has taken most of the output, and the step runs the next
 * job, so a session never holds more than about one piece plus the
 * output high-water mark, whatever the message size and however slowly
 * the client reads.  Batching the pipelined commands makes one worker
 * round trip answer many; a message wanted before its predecessor's
 * answer is out can thus never be held up by a large one.
 *
 * A client that fetches one message at a time waits for each answer
 * before it asks for the next, so the job that answers RETR n also reads
 * the next few small messages ahead, and the RETRs for them are answered
 * from memory on the loop, with no round trip to a worker; the last of
 * them starts the job that reads the next few.  What was read ahead is
 * dropped as soon as the client asks for something else. */
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
/* Largest message read ahead, and most bytes read ahead at once (held
 * while the session waits). */
#define AHEAD_MAX (32 * 1024)
#define AHEAD_BYTES (64 * 1024)

struct pop3_retr_item {
	size_t index;
	bool top;
	uint32_t lines;
};

struct pop3_retr {
	struct pop3_retr_item items[BATCH_MAX];
	size_t n;		/* items */
	size_t done;		/* items answered in full */
	uint64_t bytes;		/* message bytes of the items */
	struct pop3_stream st;	/* of items[done] */
	bool read_ahead;	/* after the items, read the next message */
	size_t last;		/* the message read ahead follows this one */
	bool broken;		/* a read failed halfway through an answer */
	unsigned retrieved;	/* RETRs answered by the last job */
	struct str out;		/* the last job's answers, to send */
};

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

/* Answer part of a message from the bytes at p (the next n of it):
 * "+OK" first, then dot-stuffed lines, then the terminator.  Returns
 * true when the answer is complete. */
static bool answer(struct pop3_stream *st, uint64_t size, const char *p,
		   size_t n, struct str *out)
{
	if (!st->started) {
		st->started = true;
		str_printf(out, "+OK %llu octets\r\n",
			   (unsigned long long)size);
	}
	bool top_done = stuff(st, p, n, out);
	st->offset += n;
	if (!top_done && n > 0 && st->offset < size)
		return false;
	if (needs_crlf(st, st->offset))
		str_append(out, "\r\n", 2);
	str_append(out, ".\r\n", 3);
	return true;
}

static void stream_init(struct pop3_stream *st, const struct pop3_retr_item *it)
{
	memset(st, 0, sizeof(*st));
	st->top = it->top;
	st->lines_left = it->lines;
	st->bol = true;
}

static int read_at(struct pop3_session *s, struct store_account *acct,
		   size_t index, uint64_t offset, char *buf, size_t n,
		   size_t *got_r)
{
	*got_r = 0;
	if (acct == NULL)
		return -1;
	return store_msg_read(acct, s->mailbox_id, s->msgs[index].uid, offset,
			      buf, n, got_r, NULL);
}

/* The next messages the client is likely to RETR, while they are small. */
static void read_ahead(struct pop3_session *s, struct store_account *acct,
		       size_t after)
{
	struct pop3_ahead *ah = &s->ahead;
	size_t got;
	ah->n = ah->next = 0;
	str_clear(&ah->bytes);
	for (size_t i = after + 1; i < s->nmsgs && ah->n < POP3_AHEAD_COUNT;
	     i++) {
		uint64_t size = s->msgs[i].size;
		if (s->deleted[i])
			continue;
		if (size > AHEAD_MAX || ah->bytes.len + size > AHEAD_BYTES)
			break;
		char *buf = str_reserve(&ah->bytes, size);
		if (read_at(s, acct, i, 0, buf, size, &got) <= 0)
			break;
		str_commit(&ah->bytes, got);
		ah->index[ah->n] = i;
		ah->end[ah->n++] = ah->bytes.len;
	}
}

/* Answer items[done] as far as this job goes; false when it must stop. */
static bool run_item(struct pop3_session *s, struct store_account *acct,
		     char *buf)
{
	struct pop3_retr *r = s->retr;
	const struct pop3_retr_item *it = &r->items[r->done];
	uint64_t size = s->msgs[it->index].size;
	size_t got;
	if (read_at(s, acct, it->index, r->st.offset, buf, PIECE, &got) <= 0) {
		if (r->st.started) {
			r->broken = true;
			return false;
		}
		str_appends(&r->out, "-ERR [SYS/TEMP] Cannot read message\r\n");
	} else if (!answer(&r->st, size, buf, got, &r->out)) {
		return false;	/* a large message: its next piece later */
	} else if (!it->top) {
		r->retrieved++;
	}
	if (++r->done < r->n)
		stream_init(&r->st, &r->items[r->done]);
	return r->out.len < PIECE;
}

static void retr_run(void *arg)
{
	struct pop3_session *s = arg;
	struct pop3_retr *r = s->retr;
	struct store_account *acct = NULL;
	if (store_account_open(s->env->store, s->user_id, &acct, NULL) < 0)
		acct = NULL;
	char *buf = xmalloc(PIECE);
	str_clear(&r->out);
	r->retrieved = 0;
	while (r->done < r->n && run_item(s, acct, buf))
		;
	free(buf);
	if (r->done == r->n && r->read_ahead)
		read_ahead(s, acct, r->last);
	store_account_unref(&acct);
}

static void retr_done(void *arg)
{
	struct pop3_session *s = arg;
	struct pop3_retr *r = s->retr;
	session_write(s->sess, r->out.data, r->out.len);
	s->retrieved += r->retrieved;
	if (r->broken) {
		/* Half an answer was sent: only closing tells the client. */
		struct str line = STR_INIT;
		session_log_begin(s->sess, &line, "retr");
		log_field(&line, "uid", "%u",
			  s->msgs[r->items[r->done].index].uid);
		log_field(&line, "result", "failed");
		log_cvalue(&line, "user", s->user);
		log_put(LOG_ERROR, &line);
		session_close(s->sess);
		pop3_retr_free(s);
	} else if (r->done == r->n) {
		pop3_retr_free(s);
	}
}

void pop3_retr_next(struct pop3_session *s)
{
	/* The general pool queues without bound: this fails only for a
	 * session that is gone. */
	if (!session_run(s->sess, s->env->workers, retr_run, retr_done))
		pop3_retr_free(s);
}

void pop3_retr_free(struct pop3_session *s)
{
	if (s->retr != NULL) {
		str_free(&s->retr->out);
		free(s->retr);
		s->retr = NULL;
	}
}

/* The RETR/TOP in cmd, when it can join a batch. */
static bool batchable(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_retr *r = s->retr;
	if ((cmd->verb != POP3_RETR && cmd->verb != POP3_TOP) ||
	    cmd->msg == 0 || cmd->msg > s->nmsgs || s->deleted[cmd->msg - 1])
		return false;
	uint64_t size = s->msgs[cmd->msg - 1].size;
	return size <= PIECE && r->n < BATCH_MAX &&
	       r->bytes + size <= BATCH_BYTES;
}

static void add_item(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_retr *r = s->retr;
	r->items[r->n] = (struct pop3_retr_item){cmd->msg - 1,
						 cmd->verb == POP3_TOP,
						 cmd->lines};
	r->bytes += s->msgs[cmd->msg - 1].size;
	r->n++;
}

/* Take the small RETR/TOPs pipelined behind the first into the batch;
 * the first line that does not fit stays in the input for the step. */
static void take_pipelined(struct pop3_session *s)
{
	struct str line = STR_INIT;
	struct pop3_cmd next;
	while (session_peek_line(s->sess, POP3_LINE_MAX, &line) > 0 &&
	       pop3_parse_command(line.data, line.len, &next) > 0 &&
	       batchable(s, &next)) {
		add_item(s, &next);
		session_read_line(s->sess, POP3_LINE_MAX, &line);
	}
	str_free(&line);
}

/* RETR of a message read ahead: answered here, on the loop.  Returns
 * false when index is not the one read ahead next. */
static bool answer_from_ahead(struct pop3_session *s, size_t index)
{
	struct pop3_ahead *ah = &s->ahead;
	if (s->cmd.verb != POP3_RETR || ah->next >= ah->n ||
	    ah->index[ah->next] != index) {
		ah->n = ah->next = 0;
		str_free(&ah->bytes);
		return false;
	}
	size_t start = ah->next > 0 ? ah->end[ah->next - 1] : 0;
	struct pop3_stream st;
	struct pop3_retr_item it = {index, false, 0};
	struct str out = STR_INIT;
	stream_init(&st, &it);
	answer(&st, s->msgs[index].size, ah->bytes.data + start,
	       ah->end[ah->next] - start, &out);
	session_write(s->sess, out.data, out.len);
	str_free(&out);
	s->retrieved++;
	ah->next++;
	return true;
}

void pop3_retr_start(struct pop3_session *s, size_t index)
{
	bool ahead = answer_from_ahead(s, index);
	/* Read on while the client goes on fetching in order. */
	if (ahead && s->ahead.next < s->ahead.n)
		return;
	s->retr = xcalloc(1, sizeof(*s->retr));
	if (!ahead) {
		add_item(s, &s->cmd);
		if (s->msgs[index].size <= PIECE)
			take_pipelined(s);
		stream_init(&s->retr->st, &s->retr->items[0]);
	}
	/* One RETR with nothing behind it looks like a client fetching
	 * in order; pipelined commands are better served by batches. */
	s->retr->last = index;
	s->retr->read_ahead = s->retr->n <= 1 && s->cmd.verb == POP3_RETR &&
			      session_input_len(s->sess) == 0;
	if (s->retr->n == 0 && !s->retr->read_ahead) {
		pop3_retr_free(s);
		return;
	}
	pop3_retr_next(s);
}
