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
	/* Submission: recipients outside our domains, for the queue
	 * ("a\0b\0"), and what the worker found wrong with the header. */
	struct str remote;
	unsigned nremote;
	struct str trace;		/* our Received header, made at DATA */
	const char *refusal;		/* a static reply, or NULL */
};

struct auth_exchange;

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
	/* AUTH (smtp_auth.c): the exchange in progress (sasl_wait: its
	 * next line is the client's response); login is the name given,
	 * then the user's address once authenticated (user_id != 0), and
	 * senders what the user may send as (smtp/smtp_sender.h). */
	struct auth_exchange *sasl;
	bool sasl_wait;
	char login[ADDR_TEXT_MAX];
	int login_result;
	int64_t user_id;
	struct str senders;
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

/* smtp_auth.c: AUTH (RFC 4954), submission only. */
void smtp_cmd_auth(struct smtp_session *s);
/* A line sent while an AUTH exchange waits for the client's response. */
void smtp_auth_line(struct smtp_session *s);
/* Whether EHLO lists AUTH: submission, over TLS or where
 * auth.allow_insecure allows a password in clear text. */
bool smtp_auth_offered(const struct smtp_session *s);
/* Forget the login (STARTTLS, the end of the session). */
void smtp_auth_forget(struct smtp_session *s);
/* The mechanisms EHLO lists, space-separated. */
const char *smtp_auth_mechs(struct smtp_session *s);

/* smtp_submit.c: what submission adds to the MX role's commands. */
/* MAIL: authenticated, an allowed sender, under the hourly rate; replies
 * and returns false when not.  sender is canonical, NULL for <>. */
bool smtp_submit_mail(struct smtp_session *s, const struct addr *sender);
/* The most recipients a message may have in this session. */
unsigned smtp_submit_max_rcpts(const struct smtp_session *s);
/* RCPT of a recipient outside our domains, once authenticated: keep it
 * for the queue. */
void smtp_submit_remote(struct smtp_session *s, const char *rcpt);
/* DATA or BDAT: our Received header into tx->trace (on the loop, which
 * owns the TLS state it records). */
void smtp_submit_received(struct smtp_session *s);
/* On the worker, the whole message in src: check its header, and write
 * what goes in front of it (our Received header, and Message-ID and Date
 * where missing) to head_r.  Returns false (tx->refusal and tx->cause
 * set) when the message is refused. */
bool smtp_submit_prepare(struct smtp_session *s,
			 const struct deliver_source *src, struct str *head_r);
/* On the worker, after prepare: queue the message for the remote
 * recipients.  Returns 1 or a deliver_status (tx->cause says why). */
int smtp_submit_queue(struct smtp_session *s, const struct deliver_source *src);
/* On the loop, once the message is accepted: count it for the rate. */
void smtp_submit_sent(struct smtp_session *s);

/* smtp_data.c: DATA and BDAT, called by smtp_session.c's dispatch. */
void smtp_cmd_data(struct smtp_session *s);
void smtp_cmd_bdat(struct smtp_session *s);
/* Consume message input; returns true when it made progress that may let
 * more input be processed, false when it must stop (needs more bytes, or
 * the session may not go on). */
bool smtp_read_data(struct smtp_session *s);
bool smtp_read_chunk(struct smtp_session *s);

#endif
