/* What pop3_session.c and pop3_retr.c share.  Private to src/pop3/. */
#ifndef POSTHORN_POP3_PRIVATE_H
#define POSTHORN_POP3_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/loop.h"
#include "core/str.h"
#include "mime/addr.h"
#include "pop3/pop3_parse.h"
#include "pop3/pop3_session.h"
#include "store/store.h"

enum pop3_state {
	POP3_S_AUTH,	/* AUTHORIZATION */
	POP3_S_TRANS,	/* TRANSACTION */
	POP3_S_UPDATE,	/* after QUIT, while deletions are applied */
};

/* A RETR or TOP being sent. */
struct pop3_stream {
	size_t index;
	uint64_t offset;
	bool top;
	bool in_body;		/* TOP: past the header's blank line */
	uint32_t lines_left;	/* TOP: body lines still to send */
	bool bol;		/* at the start of a line */
	bool last_cr;		/* last byte sent was CR */
	bool crlf;		/* the last line ended in CRLF */
	uint64_t line_bytes;	/* bytes of the current line so far */
	bool started;		/* "+OK" sent */
	int read_result;
	size_t got;
};

struct pop3_session {
	struct conn *conn;
	const struct pop3_env *env;
	enum pop3_state state;
	struct str line;
	struct pop3_cmd cmd;
	unsigned errors;
	bool busy, gone, quitting;
	bool sasl_wait;		/* AUTH PLAIN sent "+ ", response next */
	struct job job;

	char user[ADDR_TEXT_MAX];
	char *password;		/* only while a login is being checked */
	size_t password_len;
	int login_result;

	/* The claim on the maildrop is held from login to the end; the
	 * account handle is taken only around each store call, so an idle
	 * session holds no database connection. */
	int64_t user_id;	/* 0 before login */
	int64_t mailbox_id;
	uint32_t uidvalidity;
	struct store_msg *msgs;	/* the maildrop as of login */
	bool *deleted;
	size_t nmsgs;
	unsigned retrieved, expunged;
	int update_result;

	bool streaming;
	bool wait_drain;
	struct pop3_stream stream;
	struct str piece;

	/* Pipelined RETR/TOP of small messages, answered by one worker job;
	 * see pop3_retr.c. */
	struct pop3_batch *batch;
	/* A line read ahead while batching that was not for the batch: it is
	 * the next command.  held_rc is conn_read_line()'s result for it. */
	struct str held;
	int held_rc;

	/* Read-ahead: the message after the last one RETR'd, read on a
	 * worker while the client takes in the reply, so a client fetching
	 * one message at a time is answered from memory.  Only small
	 * messages; dropped as soon as the client asks for something else. */
	struct str ahead;
	size_t ahead_index;
	bool ahead_ok;
};

struct pop3_msg_ref {
	size_t index;
	bool ok;
};

/* pop3_session.c: the next command line into s->line (1), none (0), or
 * an over-long one (-1); takes a held line first. */
int pop3_next_line(struct pop3_session *s);

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool pop3_count_error(struct pop3_session *s);
void pop3_run_job(struct pop3_session *s, void (*run)(void *),
		  void (*done)(void *));
bool pop3_job_finished(struct pop3_session *s);
void pop3_continue(struct pop3_session *s);
struct pop3_msg_ref pop3_lookup(struct pop3_session *s, uint32_t n);

#define POP3_PASSWORD_MAX 1024
/* RFC 1939 allows 512-octet lines; AUTH PLAIN with a long password in
 * base64 needs a little more. */
#define POP3_LINE_MAX 2048

/* pop3_retr.c */
void pop3_cmd_retr(struct pop3_session *s);
void pop3_batch_free(struct pop3_session *s);
void pop3_drained(void *ctx);

#endif
