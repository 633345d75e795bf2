/* What smtp_session.c and smtp_data.c share.  Private to src/smtp/. */
#ifndef POSTHORN_SMTP_PRIVATE_H
#define POSTHORN_SMTP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/session.h"
#include "core/spool.h"
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
	struct str rcpts;		/* "<a>\0<b>\0": for the log line */
	char first_rcpt[ADDR_TEXT_MAX];
	struct deliver_targets targets;
	/* The message as it arrives: our trace header, then the data.  The
	 * part in memory (msg) is at most about SMTP_SPOOL_AT bytes, charged
	 * to the server's budget (held); the rest is in the spool file. */
	struct str msg;
	size_t held;
	struct spool *spool;
	bool no_room;			/* the spool could not be written */
	char cause[160];		/* why the message failed, for the log */
	uint64_t data_bytes;		/* message bytes received */
	bool at_bol;			/* DATA: after a CRLF */
	bool last_cr;			/* DATA: the last byte taken was CR */
	bool too_big;
	uint64_t chunk_left;
	bool chunk_last;
	const char *chunk_reply;	/* error to give after the chunk */
	size_t stored;			/* accounts written, from the worker */
	int status;			/* deliver_status for the reply */
	uint64_t size_hint;		/* MAIL SIZE=, 0 if not given */
};

struct smtp_session {
	struct session *sess;
	const struct smtp_env *env;
	enum smtp_state state;
	enum smtp_mode mode;
	struct str line;
	struct smtp_cmd cmd;
	char helo[256];
	bool esmtp;
	unsigned errors;
	unsigned messages;
	struct smtp_tx tx;
	/* RCPT in flight on the worker */
	struct addr rcpt;
	bool bare_postmaster;	/* RCPT TO:<postmaster>, no domain */
	enum deliver_resolve_result resolved;
	char rcpt_cause[160];		/* why it was refused, for the log */
};

#define smtp_reply(s, ...) session_reply((s)->sess, __VA_ARGS__)

/* A message is held in memory up to this many bytes, then spooled. */
#define SMTP_SPOOL_AT (128 * 1024)

/* smtp_tx.c: the state shared by the command handlers. */
void smtp_set_state(struct smtp_session *s, enum smtp_state state);
void smtp_tx_reset(struct smtp_session *s);
void smtp_run_job(struct smtp_session *s, void (*run)(void *),
		  void (*done)(void *));
bool smtp_count_error(struct smtp_session *s);
/* Append the transaction's text fields to a log line: helo, from, and
 * each recipient as "to" (the first ones that fit, then to_more). */
void smtp_log_tx(const struct smtp_session *s, struct str *line);
/* Let go of the message data: memory, budget and spool. */
void smtp_msg_drop(struct smtp_session *s);

/* smtp_data.c: DATA and BDAT, called by smtp_session.c's dispatch. */
void smtp_cmd_data(struct smtp_session *s);
void smtp_cmd_bdat(struct smtp_session *s);
/* Consume message input; returns true when it made progress that may let
 * more input be processed, false when it must stop (needs more bytes, or
 * the session may not go on). */
bool smtp_read_data(struct smtp_session *s);
bool smtp_read_chunk(struct smtp_session *s);

#endif
