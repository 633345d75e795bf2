/* session: the one core that every protocol session stands on.
 *
 * It owns the connection's life and the plumbing around the protocol's
 * state machine:
 * - every way a connection ends (QUIT, EOF, reset, timeout, shutdown), in
 *   every state (idle, a command on a worker, output pending), frees
 *   everything exactly once, through the protocol's free hook;
 * - running a command's blocking part on a worker and coming back;
 * - writing replies;
 * - flow control: no new command is read while more than
 *   SESSION_OUTPUT_HIGH bytes of output wait for the client, and reading
 *   resumes when they drain;
 * - one timeout that means "the client made no progress", in either
 *   direction;
 * - TLS, from the first byte or after STARTTLS, with the STARTTLS rules:
 *   what the client pipelined behind the command is never read, and the
 *   protocol goes on only once the handshake is done.
 *
 * A protocol keeps only its grammar and state machine: the core calls its
 * step hook whenever the session may go on, and the step reads commands
 * with session_read_*(), which say "stop" (0) as soon as the session must
 * wait: a job was started, the session is closing, or the output is above
 * the high-water mark.  A session belongs to one loop and is used only on
 * that loop's thread. */
#ifndef POSTHORN_SESSION_H
#define POSTHORN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/str.h"

struct loop;
struct session;
struct session_list;
struct tls;
struct tls_info;
struct worker_pool;

/* Input buffered ahead of the protocol, at least; more when a protocol's
 * longest line needs it. */
#define SESSION_INPUT_MIN (64 * 1024)
/* Output waiting for the client above which no new command is read. */
#define SESSION_OUTPUT_HIGH (64 * 1024)

enum session_end {
	SESSION_END_CLOSED,	/* we closed it: QUIT, too many errors */
	SESSION_END_EOF,	/* the client closed its side */
	SESSION_END_RESET,	/* a socket error, e.g. a reset */
	SESSION_END_TIMEOUT,	/* no progress for the timeout */
	SESSION_END_SHUTDOWN,	/* the server stopped */
	SESSION_END_TLS_FAILED,	/* the TLS handshake failed */
};

struct session_proto {
	const char *name;	/* "smtp": log prefix */
	/* Go on: called when input arrived, a job finished or output
	 * drained, and only while the session may go on. */
	void (*step)(void *ctx);
	/* The client made no progress for the timeout while we waited for
	 * it: write last words, if the protocol has any (optional).  The
	 * core closes the session afterwards. */
	void (*timeout)(void *ctx);
	/* Optional, asked first when the timeout strikes: return true to
	 * keep the session for another period (after writing something,
	 * e.g. an IMAP IDLE's keep-alive line), false to go on to timeout. */
	bool (*keepalive)(void *ctx);
	/* The session is over: log it and free the protocol's state.
	 * Called exactly once, never while a job runs; the session's
	 * getters still work here, writing does nothing. */
	void (*free)(void *ctx, enum session_end why);
	/* Answer what the client sent before closing its sending side (SMTP
	 * clients may half-close after their last pipelined command); if
	 * false, end of input ends the session at once. */
	bool answer_after_eof;
	/* Longest reply line session_reply() writes, without CRLF. */
	size_t max_reply;
};

/* The sessions of one loop, so that a shutdown can end them all. */
struct session_list *session_list_new(void);
/* Shutdown, once the loop is stopped: ends every session (free hooks run
 * with SESSION_END_SHUTDOWN); one whose job is still out is freed when
 * the job's done comes back (loop_run_posted()). */
void session_list_end_all(struct session_list *list);
/* Frees an empty list. */
void session_list_free(struct session_list **list);

/* "closed", "eof", "reset", "timeout", "shutdown", "tls-failed": for log
 * lines. */
const char *session_end_name(enum session_end why);

/* How a session may use TLS: part of a protocol's environment, one per
 * kind of listener (port 110 and port 995 differ only in implicit). */
struct session_tls {
	struct tls *tls;	/* the server's TLS; NULL: none (tests) */
	bool implicit;		/* TLS from the first byte (465, 993, 995);
				   else STARTTLS may start it */
};

/* Start a session on an accepted socket (takes fd).  ctx is the
 * protocol's state, handed to every hook.  input_max bounds the input
 * buffered ahead of the protocol; it must hold the longest line the
 * protocol accepts.  tls may be NULL (no TLS). */
struct session *session_new_tls(struct loop *loop, struct session_list *list,
				int fd, const struct sockaddr *peer,
				socklen_t peerlen, size_t input_max,
				const struct session_tls *tls,
				const struct session_proto *proto, void *ctx);
/* The same without TLS. */
struct session *session_new(struct loop *loop, struct session_list *list,
			    int fd, const struct sockaddr *peer,
			    socklen_t peerlen, size_t input_max,
			    const struct session_proto *proto, void *ctx);
/* Called when the session's connection is freed (after the free hook). */
void session_set_release(struct session *s, void (*fn)(void *arg),
			 void *arg);

const char *session_id(const struct session *s);
/* The protocol's name ("imap"), for log lines written on its behalf. */
const char *session_proto_name(const struct session *s);
/* The loop the session belongs to, e.g. to post news to it. */
struct loop *session_loop(const struct session *s);
const char *session_peer_text(const struct session *s);
const struct sockaddr *session_peer(const struct session *s);
bool session_peer_is_loopback(const struct session *s);
/* Start an event line (see log.h) in *line: "proto[id] event client=ADDR". */
void session_log_begin(const struct session *s, struct str *line,
		       const char *event);
/* The line for a session we end for a reason of ours:
 * "proto[id] drop client=ADDR result=RESULT" ("timeout", "too-many-errors").
 * fail2ban filters match it (docs/admin.md). */
void session_log_drop(const struct session *s, const char *result);

/* STARTTLS may be offered: the server has TLS and this connection does
 * not use it yet. */
bool session_tls_available(const struct session *s);
/* The connection uses TLS (implicit, or STARTTLS was given).  Commands are
 * read only once the handshake is done, so for a protocol this means "the
 * client's commands come over TLS". */
bool session_tls_active(const struct session *s);
/* STARTTLS, after the protocol wrote its "go ahead" reply: the reply goes
 * out in clear text, everything the client sent after the command is
 * discarded unread, the handshake runs, and the step is called again once
 * it is done (a failed handshake ends the session with a log line).  The
 * protocol resets its own state as its RFC says.  Returns false, doing
 * nothing, unless session_tls_available(). */
bool session_starttls(struct session *s);
/* Once the handshake is done: true, with what it agreed on in info_r (if
 * not NULL) for Received headers and logs; tls_info_text() (core/tls.h)
 * makes "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" of
 * it.  False without TLS. */
bool session_tls_info(const struct session *s, struct tls_info *info_r);

/* The connection's tls-exporter channel binding (RFC 9266, 32 bytes)
 * for SCRAM-SHA-256-PLUS: 1 with it in out, 0 without TLS or when the
 * TLS version cannot give one (TLS 1.2 without extended master secret). */
int session_tls_exporter(const struct session *s, unsigned char out[32]);

/* COMPRESS=DEFLATE (RFC 4978), after the protocol wrote its OK: that
 * reply leaves as it is, everything after it is compressed both ways
 * (inside TLS), with what the client sent after the command taken as
 * compressed.  Input limits stay what they are, on the inflated bytes.
 * A broken compressed stream from the client is its end of input: the
 * commands before it are answered, then the session closes, with a
 * "compress-failed" log line.  Returns false,
 * doing nothing, when it is on already or the session is closing. */
bool session_compress(struct session *s);
bool session_compressed(const struct session *s);

/* Seconds without progress before the timeout hook; 0 = none. */
void session_set_timeout(struct session *s, unsigned seconds);

/* Whether the protocol may go on now: no job runs, the session is not
 * closing and the output is below the high-water mark. */
bool session_may_go_on(const struct session *s);

/* The input functions of conn.h, returning 0 ("stop") whenever the
 * session may not go on. */
int session_read_line(struct session *s, size_t max, struct str *line_r);
size_t session_read_bytes(struct session *s, size_t n, struct str *out);
/* The next command line, left in the buffer, so a protocol can look at
 * what is pipelined behind the current command before taking it. */
int session_peek_line(struct session *s, size_t max, struct str *line_r);
/* Input in blocks, for a protocol that must scan before it knows how much
 * is its own (SMTP DATA): copy up to n bytes, then drop what was used. */
size_t session_peek_bytes(struct session *s, size_t n, struct str *out);
void session_drop_input(struct session *s, size_t n);
size_t session_input_len(const struct session *s);

/* Writing does nothing once the session is closing or gone. */
void session_write(struct session *s, const void *p, size_t n);
/* One reply line, CRLF added, cut at the protocol's max_reply. */
void session_reply(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
size_t session_output_len(const struct session *s);

/* Run run(ctx) on a worker of pool, then done(ctx) on the loop; the
 * protocol's step is not called in between, and is called again after
 * done.  done runs even when the connection ended while run ran (writes
 * then do nothing), so it can log and release what run produced; when
 * it ended before run started, neither runs.  Returns
 * false, running nothing, when the pool's queue is full or the session
 * is gone. */
bool session_run(struct session *s, struct worker_pool *pool,
		 void (*run)(void *ctx), void (*done)(void *ctx));
/* A job is out, or the session is paused (session_pause): either way,
 * what ends the current command comes later. */
bool session_busy(const struct session *s);

/* Hold the session for ms milliseconds without reading or stepping (a
 * failed login's reply waits so), then call fn(ctx) on the loop and go on
 * stepping.  Only from the loop's thread, outside a job.  A session that
 * ends meanwhile is freed as usual and fn never runs.  Returns false,
 * doing nothing, when the session is closing, gone, busy or already
 * paused. */
bool session_pause(struct session *s, unsigned ms, void (*fn)(void *ctx));

/* Flush what was written, then end the session (SESSION_END_CLOSED). */
void session_close(struct session *s);

#endif
