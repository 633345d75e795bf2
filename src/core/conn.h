/* conn: a client connection's bytes, as the session core sees them.
 *
 * It hides the socket (and, later, TLS): its owner gets "input arrived",
 * "output drained", "no progress", "closed", and reads lines or bytes from
 * the input buffer and writes into the output buffer.  A conn belongs to
 * one loop and is used only on that loop's thread.  Protocols do not use
 * it directly: they stand on core/session.h. */
#ifndef POSTHORN_CONN_H
#define POSTHORN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/str.h"

struct loop;
struct conn;

enum conn_event {
	CONN_EOF,	/* the peer closed its sending side */
	CONN_ERROR,	/* a socket error: reset, broken pipe */
	CONN_TIMEOUT,	/* no byte moved either way for the timeout */
	CONN_FLUSHED,	/* conn_close_after_write() finished writing */
};

struct conn_handler {
	/* New input is buffered. */
	void (*input)(void *ctx);
	/* The output buffer fell to or below the low-water mark. */
	void (*drained)(void *ctx);
	/* Called from the loop, never from inside a conn_* call, so the
	 * owner may free the conn here.  On CONN_TIMEOUT an owner that does
	 * not close gets the timer re-armed for a whole period. */
	void (*event)(void *ctx, enum conn_event ev);
};

/* Takes ownership of fd.  input_max bounds the bytes buffered from the
 * socket that the owner has not consumed: past it the socket is not read,
 * so TCP pushes back on the client. */
struct conn *conn_new(struct loop *loop, int fd, const struct sockaddr *peer,
		      socklen_t peerlen, size_t input_max,
		      const struct conn_handler *handler, void *ctx);
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
