/* What pop3_session.c and pop3_retr.c share.  Private to src/pop3/. */
#ifndef POSTHORN_POP3_PRIVATE_H
#define POSTHORN_POP3_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/auth_sasl.h"
#include "core/session.h"
#include "core/str.h"
#include "mime/addr.h"
#include "pop3/pop3_parse.h"
#include "pop3/pop3_session.h"
#include "store/store.h"

struct auth_exchange;

enum pop3_state {
	POP3_S_AUTH,	/* AUTHORIZATION */
	POP3_S_TRANS,	/* TRANSACTION */
	POP3_S_UPDATE,	/* after QUIT, while deletions are applied */
};

/* Where a RETR or TOP answer stands: dot-stuffing state across the
 * pieces of one message (pop3_retr.c). */
struct pop3_stream {
	uint64_t offset;	/* message bytes sent so far */
	bool top;
	bool in_body;		/* TOP: past the header's blank line */
	uint32_t lines_left;	/* TOP: body lines still to send */
	bool bol;		/* at the start of a line */
	bool last_cr;		/* last byte sent was CR */
	bool crlf;		/* the last line ended in CRLF */
	uint64_t line_bytes;	/* bytes of the current line so far */
	bool started;		/* "+OK" sent */
};

/* Messages read ahead for a client that fetches one at a time: the next
 * few after the last one asked for, one after another in bytes. */
#define POP3_AHEAD_COUNT 8
struct pop3_ahead {
	struct str bytes;
	size_t index[POP3_AHEAD_COUNT];	/* which message each is */
	size_t end[POP3_AHEAD_COUNT];	/* where each ends in bytes */
	size_t n;			/* messages held */
	size_t next;			/* the one the client should want next */
};

struct pop3_session {
	struct session *sess;
	const struct pop3_env *env;
	enum pop3_state state;
	struct str line;
	struct pop3_cmd cmd;
	unsigned errors;
	bool sasl_wait;		/* AUTH sent "+ ", a response next */
	struct auth_exchange *sasl;	/* AUTH under way */

	char user[ADDR_TEXT_MAX];
	struct auth_secret password; /* only while a login is checked */
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

	/* RETR/TOP being answered (NULL when none), and the message after
	 * the last one retrieved, read ahead for a client that fetches one
	 * at a time (see pop3_retr.c). */
	struct pop3_retr *retr;
	struct pop3_ahead ahead;
};

#define pop3_reply(s, ...) session_reply((s)->sess, __VA_ARGS__)

#define POP3_PASSWORD_MAX AUTH_SASL_PASSWORD_MAX
/* RFC 1939 allows 512-octet lines; AUTH PLAIN with a long password in
 * base64 needs a little more. */
#define POP3_LINE_MAX 2048

/* pop3_retr.c: answering RETR and TOP, standing only on the core and
 * the session's state (pop3_session.c calls in, never the reverse). */
/* Answer s->cmd (RETR or TOP) for the message at index, which exists and
 * is not deleted. */
void pop3_retr_start(struct pop3_session *s, size_t index);
/* Answer the next part of the RETR/TOP under way (s->retr). */
void pop3_retr_next(struct pop3_session *s);
void pop3_retr_free(struct pop3_session *s);

#endif
