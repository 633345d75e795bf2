/* What smtp_session.c and smtp_data.c share.  Private to src/smtp/. */
#ifndef POSTHORN_SMTP_PRIVATE_H
#define POSTHORN_SMTP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/loop.h"
#include "core/str.h"
#include "deliver/deliver.h"
#include "mime/addr.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_session.h"

enum smtp_state {
	SMTP_S_INIT,	/* no HELO/EHLO yet */
	SMTP_S_READY,	/* greeted, no transaction */
	SMTP_S_MAIL,	/* MAIL accepted */
	SMTP_S_RCPT,	/* at least one RCPT accepted */
	SMTP_S_BDAT,	/* between BDAT chunks */
	SMTP_S_STATE_COUNT
};

enum smtp_mode {
	SMTP_M_COMMAND,
	SMTP_M_DATA,	/* reading DATA up to CRLF.CRLF */
	SMTP_M_CHUNK,	/* reading a BDAT chunk's bytes */
};

struct smtp_tx {
	char id[16];			/* queue id, for logs and Received */
	char sender[ADDR_TEXT_MAX];	/* canonical, "" for <> */
	bool utf8;			/* SMTPUTF8 given */
	unsigned nrcpt;
	struct str rcpts;		/* "<a>,<b>" for the log line */
	char first_rcpt[ADDR_TEXT_MAX];
	struct deliver_targets targets;
	struct str msg;			/* trace header + message */
	size_t header_len;		/* bytes of our trace header in msg */
	uint64_t data_bytes;		/* message bytes received */
	bool at_bol;
	bool too_big;
	uint64_t chunk_left;
	bool chunk_last;
	const char *chunk_reply;	/* error to give after the chunk */
	size_t stored;			/* accounts written, from the worker */
	int status;			/* deliver_status for the reply */
	uint64_t size_hint;		/* MAIL SIZE=, 0 if not given */
};

struct smtp_session {
	struct conn *conn;
	const struct smtp_env *env;
	enum smtp_state state;
	enum smtp_mode mode;
	struct str line;
	struct smtp_cmd cmd;
	char helo[256];
	bool esmtp;
	unsigned errors;
	unsigned messages;
	bool busy;		/* a job runs on a worker */
	bool gone;		/* conn ended while busy: free when it returns */
	bool peer_eof;		/* client sent all it will send */
	bool quitting;
	struct job job;
	struct smtp_tx tx;
	/* RCPT in flight on the worker */
	struct addr rcpt;
	bool bare_postmaster;	/* RCPT TO:<postmaster>, no domain */
	enum deliver_resolve_result resolved;
	char rcpt_cause[160];		/* why it was refused, for the log */
};

/* smtp_session.c */
void smtp_reply(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void smtp_set_state(struct smtp_session *s, enum smtp_state state);
void smtp_tx_reset(struct smtp_session *s);
void smtp_run_job(struct smtp_session *s, void (*run)(void *),
		  void (*done)(void *));
void smtp_job_finished(struct smtp_session *s);
bool smtp_count_error(struct smtp_session *s);

/* smtp_data.c */
void smtp_cmd_data(struct smtp_session *s);
void smtp_cmd_bdat(struct smtp_session *s);
/* Consume message input; returns true when it made progress that may let
 * more input be processed, false when it needs more bytes. */
bool smtp_read_data(struct smtp_session *s);
bool smtp_read_chunk(struct smtp_session *s);

#endif
