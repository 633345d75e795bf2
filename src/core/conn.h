/* conn: a client connection as protocol code sees it.
 *
 * It hides the socket (and, later, TLS): sessions get "a line", "n bytes",
 * "the output drained", "timeout", "closed", and write replies into an
 * output buffer.  A conn belongs to one loop and is used only on that loop's
 * thread. */
#ifndef POSTHORN_CONN_H
#define POSTHORN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/str.h"

struct loop;
struct conn;

enum conn_event {
	CONN_EOF,	/* the peer closed its side */
	CONN_ERROR,	/* a socket error */
	CONN_TIMEOUT,	/* no input within the timeout */
	CONN_FLUSHED,	/* conn_close_after_write() finished writing */
};

struct conn_handler {
	/* New input is buffered. */
	void (*input)(void *ctx);
	/* The output buffer fell to or below the low-water mark (optional). */
	void (*drained)(void *ctx);
	/* The connection is over (or timed out); the handler decides when to
	 * conn_free().  On CONN_TIMEOUT it may still write a last reply and
	 * call conn_close_after_write(), or ignore it: the timer runs again. */
	void (*event)(void *ctx, enum conn_event ev);
};

/* Takes ownership of fd. */
struct conn *conn_new(struct loop *loop, int fd, const struct sockaddr *peer,
		      socklen_t peerlen, const struct conn_handler *handler,
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

/* Read one line ending in CRLF (only CRLF ends a line); the line is put in
 * line_r without the CRLF.  Returns 1 for a line, 0 when more input is
 * needed, -1 when the line exceeds max bytes: then the rest of that line is
 * discarded as it arrives, so its tail is never taken for a command. */
int conn_read_line(struct conn *conn, size_t max, struct str *line_r);

/* For message bodies: append to out the next complete line including its
 * CRLF and return 1; or, when no CRLF is buffered but more than `chunk`
 * bytes are, append a piece of a long line (never splitting a CRLF) and
 * return 2; else return 0.  *appended_r is the number of bytes appended. */
int conn_read_body_line(struct conn *conn, size_t chunk, struct str *out,
			size_t *appended_r);

/* Move up to n buffered bytes to out; returns how many. */
size_t conn_read_bytes(struct conn *conn, size_t n, struct str *out);
size_t conn_input_len(const struct conn *conn);

void conn_write(struct conn *conn, const void *p, size_t n);
size_t conn_output_len(const struct conn *conn);
/* Low-water mark at which handler->drained is called. */
void conn_set_drain_mark(struct conn *conn, size_t low);

/* Idle timeout for reading, in seconds (0 = none). */
void conn_set_timeout(struct conn *conn, unsigned seconds);
/* Stop and restart handing input to the session, e.g. while one of its
 * commands runs on a worker.  The socket is still read up to a limit. */
void conn_pause(struct conn *conn);
void conn_resume(struct conn *conn);
/* Write what is buffered, then report CONN_FLUSHED; input is ignored. */
void conn_close_after_write(struct conn *conn);

#endif
