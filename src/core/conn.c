/* A connection: a libevent bufferevent on the socket, in clear text or
 * over TLS (libevent's OpenSSL bufferevent on the same socket: one buffer
 * pair, OpenSSL reading and writing the socket itself), the no-progress
 * timer, and, after COMPRESS, a DEFLATE layer inside TLS: our own rather
 * than a bufferevent filter, because a filter is a second buffer pair
 * whose watermarks and deferred callbacks would have to be kept in step
 * with the first for flow control, where ours is one more buffer (the
 * inflated input) and a flush at the end of each burst of writes. */
#include "core/conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/net.h"
#include "core/tls.h"
#include "core/xalloc.h"
#include "core/zlayer.h"

enum conn_tls {
	CONN_TLS_NONE,
	CONN_TLS_FLUSHING,	/* STARTTLS: its reply leaves in clear text */
	CONN_TLS_HANDSHAKE,
	CONN_TLS_ON,
	CONN_TLS_FAILED,
};

struct conn {
	struct bufferevent *bev;
	struct event *timer;
	int fd;
	struct loop *loop;
	const struct conn_handler *handler;
	void *ctx;
	void (*release)(void *arg);
	void *release_arg;
	uint64_t last_progress;	/* ms, CLOCK_MONOTONIC_COARSE */
	int outq;		/* the kernel's unsent bytes when last looked,
				   -1 after we handed it more */
	unsigned timeout;	/* seconds, 0 = none */
	int error;
	size_t input_max;
	size_t drain_low;
	struct tls_ctx *tls;	/* what TLS was started with */
	const char *tls_failure; /* static text, after a failed handshake */
	enum conn_tls tls_state;
	union {			/* not sockaddr_storage: 100 bytes less */
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;
	char peer_text[46];
	char id[12];
	bool closing;
	bool skipping; /* discarding the rest of an over-long line */
	bool read_paused; /* the input is full: not read until the owner
			     takes some */
	bool zflush_due;  /* zflush is active: a burst of writes to end */
	bool zbroken;	  /* the peer's compressed stream went bad */
	struct zlayer *z;	  /* COMPRESS=DEFLATE, once started */
	struct evbuffer *zin;	  /* inflated input, what the owner reads */
	struct event *zflush;	  /* ends a burst of compressed writes */
};

static atomic_uint_fast64_t conn_counter;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What the owner reads: the socket's input, or its inflated form. */
static struct evbuffer *conn_in(const struct conn *conn)
{
	return conn->z != NULL ? conn->zin : bufferevent_get_input(conn->bev);
}

static void arm_timer(struct conn *conn, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(conn->timer, &tv);
}

/* Whether the client took bytes from the kernel's send queue since we
 * last looked.  Our own buffer may have been empty for long while the
 * kernel still holds megabytes that a slow reader takes bit by bit; that
 * is progress too, and so is the moment the queue runs empty. */
static bool kernel_queue_moved(struct conn *conn)
{
	int unsent = 0;
	if (ioctl(conn->fd, SIOCOUTQ, &unsent) < 0)
		return false;
	bool moved = conn->outq < 0 ? unsent > 0 : unsent < conn->outq;
	conn->outq = unsent;
	return moved;
}

/* While the kernel holds output the client has yet to take, the timer
 * looks at it every KERNEL_LOOK_MS: looked at only once a period, a queue
 * that ran empty just after one look would count as idle for the whole
 * period, and a client that read everything, then took a moment before
 * its next command, would be cut. */
#define KERNEL_LOOK_MS 1000u

static uint64_t next_look(const struct conn *conn, uint64_t ms)
{
	return conn->outq > 0 && ms > KERNEL_LOOK_MS ? KERNEL_LOOK_MS : ms;
}

/* The timer is not moved on every byte: it fires once per period (more
 * often while the kernel drains, see above) and looks at when bytes last
 * moved, which costs a clock read per event instead of a timer update.
 * A stuck client is cut after one to two periods. */
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;
	(void)fd;
	(void)what;
	if (conn->timeout == 0)
		return;
	uint64_t period = (uint64_t)conn->timeout * 1000u;
	if (kernel_queue_moved(conn))
		conn->last_progress = now_ms();
	uint64_t idle = now_ms() - conn->last_progress;
	if (idle < period) {
		arm_timer(conn, next_look(conn, period - idle));
		return;
	}
	conn->last_progress = now_ms();
	arm_timer(conn, period);
	conn->handler->event(conn->ctx, CONN_TIMEOUT);
}

/* Bytes left the output buffer for the socket: the peer is reading. */
static void conn_output_cb(struct evbuffer *buf,
			   const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *conn = arg;
	if (info->n_deleted > 0) {
		conn->last_progress = now_ms();
		conn->outq = -1;
		/* All out: a compressed connection gives back its deflate
		 * state until it writes again. */
		if (conn->z != NULL && evbuffer_get_length(buf) == 0)
			zlayer_release(conn->z);
	}
}

/* Inflate what arrived, up to the input bound: a small input that
 * expands to gigabytes waits, compressed, until the owner takes what is
 * inflated, and the socket is not read while it waits.  Returns -1 on a
 * broken stream. */
static int conn_inflate(struct conn *conn)
{
	if (conn->z == NULL)
		return 0;
	ssize_t n = zlayer_inflate(conn->z, bufferevent_get_input(conn->bev),
				   conn->zin, conn->input_max);
	return n < 0 ? -1 : n > 0;
}

/* Nothing more the client sends can be understood, and nothing more is
 * read; what it sent before the bad bytes is its owner's to answer. */
static void conn_inflate_failed(struct conn *conn)
{
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_disable(conn->bev, EV_READ);
	conn->zbroken = true;
	conn->handler->input(conn->ctx);
	conn->handler->event(conn->ctx, CONN_BROKEN);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	(void)bev;
	conn->last_progress = now_ms();
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	if (conn->closing) {
		evbuffer_drain(in, evbuffer_get_length(in));
		if (conn->z != NULL)
			evbuffer_drain(conn->zin,
				       evbuffer_get_length(conn->zin));
		return;
	}
	if (conn_inflate(conn) < 0) {
		conn_inflate_failed(conn);
		return;
	}
	conn->handler->input(conn->ctx);
	/* An owner that cannot take input now (a job runs, the client does
	 * not read its replies) leaves the input at its bound; libevent 2.1
	 * then calls us again and again until it falls below it
	 * (bufferevent_inbuf_wm_check), a loop that burns a CPU.  So stop
	 * reading until the owner takes some (conn_consumed()). */
	if (evbuffer_get_length(in) >= conn->input_max && !conn->read_paused &&
	    conn->tls_state != CONN_TLS_FLUSHING) {
		conn->read_paused = true;
		bufferevent_disable(conn->bev, EV_READ);
	}
}

static void conn_attach(struct conn *conn, struct bufferevent *bev);

/* TLS from here on: at once for implicit TLS; for STARTTLS once its reply
 * is out of our buffer.  The TLS bufferevent takes the socket over; the
 * clear-text one stops first, so no event of its can fire on the socket
 * (libevent frees it later, when its callbacks are done). */
static void conn_switch_to_tls(struct conn *conn)
{
	if (conn->bev != NULL) {
		bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
		bufferevent_free(conn->bev);
		conn->bev = NULL;
	}
	SSL *ssl = tls_ctx_new_ssl(conn->tls);
	struct bufferevent *bev =
		ssl == NULL ? NULL
			    : bufferevent_openssl_socket_new(
				      loop_base(conn->loop), conn->fd, ssl,
				      BUFFEREVENT_SSL_ACCEPTING,
				      BEV_OPT_CLOSE_ON_FREE |
					      BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL)
		log_panic("out of memory for a TLS connection");
	/* A client that closes without TLS's close_notify ends the session
	 * as a plain close would; the data it sent is whole either way. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	conn->tls_state = CONN_TLS_HANDSHAKE;
	conn_attach(conn, bev);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	(void)bev;
	if (conn->closing) {
		if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
			conn->handler->event(conn->ctx, CONN_FLUSHED);
		return;
	}
	if (conn->tls_state == CONN_TLS_FLUSHING) {
		if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
			conn_switch_to_tls(conn);
		return;
	}
	conn->handler->drained(conn->ctx);
}

/* Why a handshake failed, for the log: OpenSSL's reason when there is
 * one (libevent collected the error codes), else what the socket said. */
static const char *tls_failure_reason(struct conn *conn, short what)
{
	unsigned long errs[8];
	size_t n = 0;
	unsigned long e;
	while ((e = bufferevent_get_openssl_error(conn->bev)) != 0)
		if (n < sizeof(errs) / sizeof(errs[0]))
			errs[n++] = e;
	const char *reason = tls_error_reason(errs, n);
	if (reason != NULL)
		return reason;
	if (what & BEV_EVENT_EOF)
		return "eof";
	return conn->error != 0 ? strerror(conn->error) : "reset";
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *conn = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		conn->tls_state = CONN_TLS_ON;
		conn->handler->event(conn->ctx, CONN_TLS_READY);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		conn->error = EVUTIL_SOCKET_ERROR();
	if (conn_tls_handshaking(conn) &&
	    (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) {
		conn->tls_failure = tls_failure_reason(conn, what);
		conn->tls_state = CONN_TLS_FAILED;
	}
	/* An error wins over end-of-file: a reset after a half-close must
	 * end the session, not look like a client still reading. */
	if (what & BEV_EVENT_ERROR)
		conn->handler->event(conn->ctx, CONN_ERROR);
	else if (what & BEV_EVENT_EOF)
		conn->handler->event(conn->ctx, CONN_EOF);
}

static void conn_attach(struct conn *conn, struct bufferevent *bev)
{
	conn->bev = bev;
	conn->read_paused = false;
	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb,
			  conn);
	bufferevent_setwatermark(bev, EV_READ, 0, conn->input_max);
	bufferevent_setwatermark(bev, EV_WRITE, conn->drain_low, 0);
	evbuffer_add_cb(bufferevent_get_output(bev), conn_output_cb, conn);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct conn *conn_new(struct loop *loop, int fd, const struct sockaddr *peer,
		      socklen_t peerlen, size_t input_max,
		      struct tls_ctx *tls, const struct conn_handler *handler,
		      void *ctx)
{
	struct conn *conn = xcalloc(1, sizeof(*conn));
	conn->loop = loop;
	conn->fd = fd;
	conn->handler = handler;
	conn->ctx = ctx;
	conn->input_max = input_max;
	if (peerlen > sizeof(conn->peer))
		peerlen = sizeof(conn->peer);
	memcpy(&conn->peer, peer, peerlen);
	net_addr_text(peer, conn->peer_text, sizeof(conn->peer_text));
	snprintf(conn->id, sizeof(conn->id), "%06llx",
		 (unsigned long long)atomic_fetch_add(&conn_counter, 1) + 1);
	conn->timer = evtimer_new(loop_base(loop), conn_timer_cb, conn);
	conn->last_progress = now_ms();
	conn->outq = -1;
	if (tls != NULL) {
		conn->tls = tls;
		conn_switch_to_tls(conn);
		return conn;
	}
	/* Deferred callbacks run from the loop, never from inside our own
	 * calls, so an owner may free the conn in any callback.  The socket
	 * is ours to close: STARTTLS hands it to another bufferevent. */
	conn_attach(conn, bufferevent_socket_new(loop_base(loop), fd,
						 BEV_OPT_DEFER_CALLBACKS));
	return conn;
}

void conn_free(struct conn **connp)
{
	struct conn *conn = *connp;
	if (conn == NULL)
		return;
	event_free(conn->timer);
	if (conn->zflush != NULL)
		event_free(conn->zflush);
	if (conn->zin != NULL)
		evbuffer_free(conn->zin);
	zlayer_free(&conn->z);
	if (conn->tls_state == CONN_TLS_ON && conn->error == 0 &&
	    conn_output_len(conn) == 0) {
		/* close_notify says the client has every byte: only then.
		 * One try; the socket may be full or gone. */
		SSL_shutdown(bufferevent_openssl_get_ssl(conn->bev));
	}
	bool tls_owns_fd = conn->tls_state >= CONN_TLS_HANDSHAKE;
	bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
	bufferevent_free(conn->bev);
	if (!tls_owns_fd)
		close(conn->fd);
	tls_ctx_unref(&conn->tls);
	if (conn->release != NULL)
		conn->release(conn->release_arg);
	free(conn);
	*connp = NULL;
}

void conn_set_release(struct conn *conn, void (*fn)(void *arg), void *arg)
{
	conn->release = fn;
	conn->release_arg = arg;
}

int conn_error(const struct conn *conn)
{
	return conn->error;
}

struct loop *conn_loop(struct conn *conn)
{
	return conn->loop;
}

const struct sockaddr *conn_peer(const struct conn *conn)
{
	return (const struct sockaddr *)&conn->peer;
}

const char *conn_peer_text(const struct conn *conn)
{
	return conn->peer_text;
}

bool conn_peer_is_loopback(const struct conn *conn)
{
	return net_is_loopback(conn_peer(conn));
}

int conn_starttls(struct conn *conn, struct tls_ctx *tls)
{
	if (conn->tls_state != CONN_TLS_NONE || conn->closing ||
	    conn->z != NULL) {
		tls_ctx_unref(&tls);
		return -1;
	}
	conn->tls = tls;
	conn->tls_state = CONN_TLS_FLUSHING;
	/* What the client sent with the command must never be read as
	 * commands, and its handshake must reach OpenSSL, not our buffer. */
	bufferevent_disable(conn->bev, EV_READ);
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	conn->skipping = false;
	/* The switch happens in the write callback once the reply is out:
	 * at once (deferred) if it already is. */
	bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
	bufferevent_trigger(conn->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}

bool conn_tls_started(const struct conn *conn)
{
	return conn->tls_state != CONN_TLS_NONE;
}

bool conn_tls_ready(const struct conn *conn, struct tls_info *info_r)
{
	if (conn->tls_state != CONN_TLS_ON)
		return false;
	if (info_r != NULL)
		tls_info_get(bufferevent_openssl_get_ssl(conn->bev), info_r);
	return true;
}

int conn_tls_exporter(const struct conn *conn, unsigned char out[32])
{
	if (conn->tls_state != CONN_TLS_ON)
		return 0;
	return tls_exporter(bufferevent_openssl_get_ssl(conn->bev), out);
}

bool conn_tls_handshaking(const struct conn *conn)
{
	return conn->tls_state == CONN_TLS_FLUSHING ||
	       conn->tls_state == CONN_TLS_HANDSHAKE;
}

const char *conn_tls_failure(const struct conn *conn)
{
	return conn->tls_failure;
}

const char *conn_id(const struct conn *conn)
{
	return conn->id;
}

static size_t last_is_cr(struct evbuffer *in)
{
	struct evbuffer_ptr at;
	unsigned char last;
	size_t have = evbuffer_get_length(in);
	if (have == 0 ||
	    evbuffer_ptr_set(in, &at, have - 1, EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_copyout_from(in, &at, &last, 1) != 1)
		return 0;
	return last == '\r';
}

/* The owner took input: once there is room, read again.  libevent stops
 * reading a TLS connection at the bound even when OpenSSL holds the rest
 * of a record it already took from the socket, and when reading resumes
 * it only waits for the socket: a client that sent all it had and waits
 * for our answer would wait for ever.  So what OpenSSL holds is read at
 * once. */
static void conn_consumed(struct conn *conn)
{
	if (conn->tls_state == CONN_TLS_FLUSHING || conn->zbroken)
		return;
	/* Compressed input waits for room: inflate it now, and since the
	 * owner may have stopped asking, tell it from the loop. */
	if (conn->z != NULL && !conn->closing &&
	    evbuffer_get_length(conn->zin) < conn->input_max &&
	    (evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0 ||
	     zlayer_inflate_pending(conn->z)))
		bufferevent_trigger(conn->bev, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS |
					    BEV_TRIG_DEFER_CALLBACKS);
	if (evbuffer_get_length(bufferevent_get_input(conn->bev)) >=
	    conn->input_max)
		return;
	if (conn->read_paused) {
		conn->read_paused = false;
		bufferevent_enable(conn->bev, EV_READ);
	}
	if (conn->tls_state == CONN_TLS_ON &&
	    SSL_has_pending(bufferevent_openssl_get_ssl(conn->bev)))
		event_active(&conn->bev->ev_read, EV_READ, 1);
}

static int read_line(struct conn *conn, size_t max, struct str *line_r)
{
	struct evbuffer *in = conn_in(conn);
	size_t eol_len;
	for (;;) {
		struct evbuffer_ptr p = evbuffer_search_eol(
			in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
		if (p.pos < 0) {
			size_t have = evbuffer_get_length(in);
			/* A trailing CR may be the first half of the CRLF
			 * that ends a line of exactly max bytes. */
			if (have - last_is_cr(in) > max) {
				/* Keep a trailing CR: it may start the CRLF. */
				evbuffer_drain(in, have - 1);
				if (!conn->skipping) {
					conn->skipping = true;
					return -1;
				}
			}
			return 0;
		}
		if (conn->skipping) {
			evbuffer_drain(in, (size_t)p.pos + eol_len);
			conn->skipping = false;
			continue;
		}
		if ((size_t)p.pos > max) {
			evbuffer_drain(in, (size_t)p.pos + eol_len);
			return -1;
		}
		str_clear(line_r);
		char *dst = str_reserve(line_r, (size_t)p.pos);
		evbuffer_remove(in, dst, (size_t)p.pos);
		str_commit(line_r, (size_t)p.pos);
		evbuffer_drain(in, eol_len);
		return 1;
	}
}

int conn_read_line(struct conn *conn, size_t max, struct str *line_r)
{
	int rc = read_line(conn, max, line_r);
	conn_consumed(conn);
	return rc;
}

int conn_peek_line(struct conn *conn, size_t max, struct str *line_r)
{
	struct evbuffer *in = conn_in(conn);
	size_t eol_len;
	if (conn->skipping)
		return 0;
	struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len,
						    EVBUFFER_EOL_CRLF_STRICT);
	if (p.pos < 0 || (size_t)p.pos > max)
		return 0;
	str_clear(line_r);
	char *dst = str_reserve(line_r, (size_t)p.pos);
	evbuffer_copyout(in, dst, (size_t)p.pos);
	str_commit(line_r, (size_t)p.pos);
	return 1;
}

size_t conn_read_bytes(struct conn *conn, size_t n, struct str *out)
{
	n = conn_peek_bytes(conn, n, out);
	conn_drop_input(conn, n);
	return n;
}

size_t conn_peek_bytes(struct conn *conn, size_t n, struct str *out)
{
	struct evbuffer *in = conn_in(conn);
	size_t have = evbuffer_get_length(in);
	if (n > have)
		n = have;
	if (n == 0)
		return 0;
	char *dst = str_reserve(out, n);
	evbuffer_copyout(in, dst, n);
	str_commit(out, n);
	return n;
}

void conn_drop_input(struct conn *conn, size_t n)
{
	evbuffer_drain(conn_in(conn), n);
	conn_consumed(conn);
}

size_t conn_input_len(const struct conn *conn)
{
	return evbuffer_get_length(conn_in(conn));
}

void conn_write(struct conn *conn, const void *p, size_t n)
{
	if (conn->closing)
		return;
	if (conn->z == NULL) {
		bufferevent_write(conn->bev, p, n);
		return;
	}
	zlayer_deflate(conn->z, p, n, bufferevent_get_output(conn->bev));
	if (!conn->zflush_due) {
		conn->zflush_due = true;
		event_active(conn->zflush, EV_TIMEOUT, 1);
	}
}

/* The end of a burst: every write of the callback that wrote goes out
 * decodable.  One flush per burst, not per write: a FETCH of many lines
 * costs one empty block, not one per line. */
static void conn_zflush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;
	(void)fd;
	(void)what;
	conn->zflush_due = false;
	zlayer_flush(conn->z, bufferevent_get_output(conn->bev));
}

int conn_compress(struct conn *conn)
{
	if (conn->z != NULL || conn->closing || conn_tls_handshaking(conn))
		return -1;
	conn->z = zlayer_new();
	conn->zin = evbuffer_new();
	conn->zflush = event_new(loop_base(conn->loop), -1, 0,
				 conn_zflush_cb, conn);
	if (conn->zin == NULL || conn->zflush == NULL)
		log_panic("out of memory for a compressed connection");
	/* What the client sent after the command is compressed already:
	 * inflate it from the loop. */
	if (evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0)
		bufferevent_trigger(conn->bev, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS |
					    BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}

bool conn_compressed(const struct conn *conn)
{
	return conn->z != NULL;
}

size_t conn_output_len(const struct conn *conn)
{
	return evbuffer_get_length(bufferevent_get_output(conn->bev));
}

void conn_set_drain_mark(struct conn *conn, size_t low)
{
	conn->drain_low = low;
	if (!conn->closing && conn->tls_state != CONN_TLS_FLUSHING)
		bufferevent_setwatermark(conn->bev, EV_WRITE, low, 0);
}

void conn_set_timeout(struct conn *conn, unsigned seconds)
{
	conn->timeout = seconds;
	conn->last_progress = now_ms();
	if (seconds == 0)
		evtimer_del(conn->timer);
	else
		arm_timer(conn, (uint64_t)seconds * 1000u);
}

void conn_close_after_write(struct conn *conn, unsigned seconds)
{
	if (conn->closing)
		return;
	if (conn->z != NULL) {
		zlayer_flush(conn->z, bufferevent_get_output(conn->bev));
		evbuffer_drain(conn->zin, evbuffer_get_length(conn->zin));
	}
	conn->closing = true;
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	/* Before the handshake is done nothing can reach the client. */
	if (conn->tls_state == CONN_TLS_HANDSHAKE) {
		struct evbuffer *out = bufferevent_get_output(conn->bev);
		evbuffer_drain(out, evbuffer_get_length(out));
	}
	bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
	conn_consumed(conn); /* read on, to discard and to see the end */
	conn_set_timeout(conn, seconds);
	bufferevent_trigger(conn->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}
