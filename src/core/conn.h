/* conn: a client connection's bytes, as the session core sees them.
 *
 * It hides the socket and TLS: its owner gets "input arrived", "output
 * drained", "no progress", "closed", "TLS is up", and reads lines or bytes
 * from the input buffer and writes into the output buffer, in clear text
 * whether the connection is TLS or not.  TLS starts with the connection
 * (implicit TLS) or later, on the owner's word (STARTTLS).  A conn belongs
 * to one loop and is used only on that loop's thread.  Protocols do not
 * use it directly: they stand on core/session.h. */
#ifndef POSTHORN_CONN_H
#define POSTHORN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/str.h"

struct loop;
struct conn;
struct tls_ctx;
struct tls_info;

enum conn_event {
	CONN_EOF,	/* the peer closed its sending side */
	CONN_ERROR,	/* a socket error: reset, broken pipe */
	CONN_TIMEOUT,	/* no byte moved either way for the timeout */
	CONN_FLUSHED,	/* conn_close_after_write() finished writing */
	CONN_TLS_READY,	/* the TLS handshake is done */
	CONN_BROKEN,	/* the peer's compressed stream is not DEFLATE or
			   ended (conn_compress()): nothing more is read;
			   what was inflated before is still there */
};

struct conn_handler {
	/* New input is buffered. */
	void (*input)(void *ctx);
	/* The output buffer fell to or below the low-water mark. */
	void (*drained)(void *ctx);
	/* Called from the loop, never from inside a conn_* call, so the
	 * owner may free the conn here.  On CONN_TIMEOUT an owner that does
	 * not close gets the timer re-armed for a whole period.  CONN_EOF
	 * and CONN_ERROR during a TLS handshake mean the handshake failed
	 * (conn_tls_failure() says why). */
	void (*event)(void *ctx, enum conn_event ev);
};

/* Takes ownership of fd.  input_max bounds the bytes buffered from the
 * socket that the owner has not consumed: past it the socket is not read,
 * so TCP pushes back on the client.  With tls (its reference taken), the
 * connection is TLS from the first byte: what is written before the
 * handshake is done waits for it, and input starts after it. */
struct conn *conn_new(struct loop *loop, int fd, const struct sockaddr *peer,
		      socklen_t peerlen, size_t input_max,
		      struct tls_ctx *tls, const struct conn_handler *handler,
		      void *ctx);
/* Closes the socket and calls the release hook, if any. */
void conn_free(struct conn **conn);
/* Called from conn_free(), e.g. to drop a per-address connection count. */
void conn_set_release(struct conn *conn, void (*fn)(void *arg), void *arg);

struct loop *conn_loop(struct conn *conn);
const struct sockaddr *conn_peer(const struct conn *conn);
/* "192.0.2.1" form, for logs and trace headers. */
const char *conn_peer_text(const struct conn *conn);
bool conn_peer_is_loopback(const struct conn *conn);
/* A short id for log lines, unique within this process run. */
const char *conn_id(const struct conn *conn);
/* The errno of the last CONN_ERROR, 0 if none. */
int conn_error(const struct conn *conn);

/* STARTTLS: start TLS with tls (its reference taken).  Every byte the
 * client sent that is still buffered is discarded and nothing more is read
 * in clear text (RFC 3207 4.2, RFC 2595 4, RFC 9051 6.2.1: commands sent
 * with the STARTTLS command must not run); what was written so far goes
 * out in clear text, then the handshake runs, and CONN_TLS_READY or
 * CONN_ERROR/CONN_EOF tells how it went.  Returns -1, dropping tls, when
 * the connection already uses TLS or is closing. */
int conn_starttls(struct conn *conn, struct tls_ctx *tls);
/* TLS was started (implicit or STARTTLS), whether or not its handshake
 * is done. */
bool conn_tls_started(const struct conn *conn);
/* The handshake is done; info_r, if not NULL, gets its parameters. */
bool conn_tls_ready(const struct conn *conn, struct tls_info *info_r);
/* The handshake is done and the connection has a tls-exporter channel
 * binding (core/tls.h tls_exporter()): 1 with it in out, else 0. */
int conn_tls_exporter(const struct conn *conn, unsigned char out[32]);
/* A handshake is under way (or waiting for the clear-text reply before
 * it): CONN_EOF or CONN_ERROR now means it failed. */
bool conn_tls_handshaking(const struct conn *conn);
/* After a failed handshake: why, e.g. "unsupported protocol", "eof". */
const char *conn_tls_failure(const struct conn *conn);

/* COMPRESS=DEFLATE (RFC 4978), after the owner wrote its "go ahead":
 * from here on what the peer sends is raw DEFLATE, inflated before the
 * owner sees it (never more than input_max of it at a time), and what
 * is written is deflated, with a sync flush once the loop is done with
 * the callback that wrote, so each response reaches the client whole.
 * What was written before goes out as it was; input still buffered is
 * taken as compressed.  Inside TLS when TLS is on.  A broken stream from
 * the peer is reported as CONN_BROKEN (after an input call for what came
 * before it); nothing more is read.
 * Returns -1 when compressing already, during a TLS handshake or when
 * closing. */
int conn_compress(struct conn *conn);
bool conn_compressed(const struct conn *conn);

/* Read one line ending in CRLF (only CRLF ends a line); the line is put in
 * line_r without the CRLF.  Returns 1 for a line, 0 when more input is
 * needed, -1 when the line exceeds max bytes: then the rest of that line is
 * discarded as it arrives, so its tail is never taken for a command. */
int conn_read_line(struct conn *conn, size_t max, struct str *line_r);

/* The next line as conn_read_line() would return it, left in the buffer:
 * 1 with a copy in line_r, 0 when no complete line of at most max bytes
 * is buffered.  conn_read_line() then takes it. */
int conn_peek_line(struct conn *conn, size_t max, struct str *line_r);

/* Move up to n buffered bytes to out; returns how many. */
size_t conn_read_bytes(struct conn *conn, size_t n, struct str *out);
/* Copy up to n buffered bytes to out, leaving them in the buffer; returns
 * how many.  conn_drop_input() then takes the first n of them. */
size_t conn_peek_bytes(struct conn *conn, size_t n, struct str *out);
void conn_drop_input(struct conn *conn, size_t n);
size_t conn_input_len(const struct conn *conn);

void conn_write(struct conn *conn, const void *p, size_t n);
size_t conn_output_len(const struct conn *conn);
/* Low-water mark at which handler->drained is called. */
void conn_set_drain_mark(struct conn *conn, size_t low);

/* The no-progress timeout, in seconds (0 = none): CONN_TIMEOUT comes when
 * no byte was read from or written to the socket for that long, so a slow
 * reader of a long reply is never cut and a silent client always is. */
void conn_set_timeout(struct conn *conn, unsigned seconds);
/* Write what is buffered, then report CONN_FLUSHED; input is discarded.
 * A peer that takes nothing for `seconds` gets CONN_TIMEOUT instead. */
void conn_close_after_write(struct conn *conn, unsigned seconds);

#endif
