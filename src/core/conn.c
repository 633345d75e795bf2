#include "core/conn.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/loop.h"
#include "core/net.h"
#include "core/xalloc.h"

struct conn {
	struct bufferevent *bev;
	struct event *timer;
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
	struct sockaddr_storage peer;
	char peer_text[46];
	char id[12];
	bool closing;
	bool skipping; /* discarding the rest of an over-long line */
};

static atomic_uint_fast64_t conn_counter;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void arm_timer(struct conn *conn, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(conn->timer, &tv);
}

/* Whether the client took bytes from the kernel's send queue since we
 * last looked.  Our own buffer may have been empty for long while the
 * kernel still holds megabytes that a slow reader takes bit by bit; that
 * is progress too.  Looked at only when the timer finds no other, so a
 * stuck client is cut after one to two periods. */
static bool kernel_queue_moved(struct conn *conn)
{
	int unsent = 0;
	if (ioctl(bufferevent_getfd(conn->bev), SIOCOUTQ, &unsent) < 0)
		return false;
	bool moved = unsent > 0 && (conn->outq < 0 || unsent < conn->outq);
	conn->outq = unsent;
	return moved;
}

/* The timer is not moved on every byte: it fires once per period and
 * looks at when bytes last moved, which costs a clock read per event
 * instead of a timer update. */
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;
	(void)fd;
	(void)what;
	if (conn->timeout == 0)
		return;
	uint64_t period = (uint64_t)conn->timeout * 1000u;
	uint64_t idle = now_ms() - conn->last_progress;
	if (idle < period) {
		arm_timer(conn, period - idle);
		return;
	}
	if (kernel_queue_moved(conn)) {
		conn->last_progress = now_ms();
		arm_timer(conn, period);
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
	(void)buf;
	if (info->n_deleted > 0) {
		conn->last_progress = now_ms();
		conn->outq = -1;
	}
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	(void)bev;
	conn->last_progress = now_ms();
	if (conn->closing) {
		struct evbuffer *in = bufferevent_get_input(conn->bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	conn->handler->input(conn->ctx);
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
	conn->handler->drained(conn->ctx);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *conn = arg;
	(void)bev;
	/* An error wins over end-of-file: a reset after a half-close must
	 * end the session, not look like a client still reading. */
	if (what & BEV_EVENT_ERROR) {
		conn->error = EVUTIL_SOCKET_ERROR();
		conn->handler->event(conn->ctx, CONN_ERROR);
	} else if (what & BEV_EVENT_EOF) {
		conn->handler->event(conn->ctx, CONN_EOF);
	}
}

struct conn *conn_new(struct loop *loop, int fd, const struct sockaddr *peer,
		      socklen_t peerlen, size_t input_max,
		      const struct conn_handler *handler, void *ctx)
{
	struct conn *conn = xcalloc(1, sizeof(*conn));
	conn->loop = loop;
	conn->handler = handler;
	conn->ctx = ctx;
	if (peerlen > sizeof(conn->peer))
		peerlen = sizeof(conn->peer);
	memcpy(&conn->peer, peer, peerlen);
	net_addr_text(peer, conn->peer_text, sizeof(conn->peer_text));
	snprintf(conn->id, sizeof(conn->id), "%06llx",
		 (unsigned long long)atomic_fetch_add(&conn_counter, 1) + 1);
	/* Deferred callbacks run from the loop, never from inside our own
	 * calls, so an owner may free the conn in any callback. */
	conn->bev = bufferevent_socket_new(loop_base(loop), fd,
					   BEV_OPT_CLOSE_ON_FREE |
						   BEV_OPT_DEFER_CALLBACKS);
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb,
			  conn);
	bufferevent_setwatermark(conn->bev, EV_READ, 0, input_max);
	evbuffer_add_cb(bufferevent_get_output(conn->bev), conn_output_cb,
			conn);
	conn->timer = evtimer_new(loop_base(loop), conn_timer_cb, conn);
	conn->last_progress = now_ms();
	conn->outq = -1;
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	return conn;
}

void conn_free(struct conn **connp)
{
	struct conn *conn = *connp;
	if (conn == NULL)
		return;
	event_free(conn->timer);
	bufferevent_free(conn->bev);
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

int conn_read_line(struct conn *conn, size_t max, struct str *line_r)
{
	struct evbuffer *in = bufferevent_get_input(conn->bev);
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

int conn_peek_line(struct conn *conn, size_t max, struct str *line_r)
{
	struct evbuffer *in = bufferevent_get_input(conn->bev);
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
	struct evbuffer *in = bufferevent_get_input(conn->bev);
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
	evbuffer_drain(bufferevent_get_input(conn->bev), n);
}

size_t conn_input_len(const struct conn *conn)
{
	return evbuffer_get_length(bufferevent_get_input(conn->bev));
}

void conn_write(struct conn *conn, const void *p, size_t n)
{
	if (!conn->closing)
		bufferevent_write(conn->bev, p, n);
}

size_t conn_output_len(const struct conn *conn)
{
	return evbuffer_get_length(bufferevent_get_output(conn->bev));
}

void conn_set_drain_mark(struct conn *conn, size_t low)
{
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
	conn->closing = true;
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
	conn_set_timeout(conn, seconds);
	bufferevent_trigger(conn->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}
