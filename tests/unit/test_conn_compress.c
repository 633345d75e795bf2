/* conn with COMPRESS: a real connection on a loop, over a socket pair,
 * whose other end is zlib used directly (raw DEFLATE, its defaults):
 * what was written before the switch stays clear text, the writes of one
 * callback leave as one burst ending in one sync flush, a compressed
 * input far larger than the bound never fills more than the bound and
 * arrives whole as it is taken, and a broken stream is CONN_BROKEN after
 * what came before it. */
#include "unit.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "core/conn.h"
#include "core/loop.h"

#define BOUND 4096

struct side {
	struct loop *loop;
	struct conn *conn;
	int peer;		/* the client's end */
	z_stream tx, rx;	/* the client's compressor and decompressor */
	bool echo;		/* answer each line with two writes */
	int events[8];
	size_t n_events;
	struct str line;
};

static void on_input(void *ctx)
{
	struct side *s = ctx;
	if (!s->echo)
		return;
	while (conn_read_line(s->conn, BOUND, &s->line) > 0) {
		conn_write(s->conn, "x ", 2);
		conn_write(s->conn, s->line.data, s->line.len);
		conn_write(s->conn, "\r\n", 2);
	}
}

static void on_drained(void *ctx)
{
	(void)ctx;
}

static void on_event(void *ctx, enum conn_event ev)
{
	struct side *s = ctx;
	if (s->n_events < 8)
		s->events[s->n_events++] = (int)ev;
}

static const struct conn_handler handler = {on_input, on_drained, on_event};

static int setup(void **state)
{
	struct side *s = calloc(1, sizeof(*s));
	int fds[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	s->loop = loop_new();
	s->conn = conn_new(s->loop, fds[0], (struct sockaddr *)&sin,
			   sizeof(sin), BOUND, NULL, &handler, s);
	s->peer = fds[1];
	assert_int_equal(deflateInit2(&s->tx, 6, Z_DEFLATED, -15, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	assert_int_equal(inflateInit2(&s->rx, -15), Z_OK);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct side *s = *state;
	conn_free(&s->conn);
	/* libevent frees a bufferevent with callbacks pending from the
	 * loop. */
	for (int i = 0; i < 3; i++)
		event_base_loop(loop_base(s->loop), EVLOOP_NONBLOCK);
	loop_free(&s->loop);
	close(s->peer);
	deflateEnd(&s->tx);
	inflateEnd(&s->rx);
	str_free(&s->line);
	free(s);
	return 0;
}

/* Run the loop until it has nothing to do for a moment. */
static void pump(struct side *s)
{
	for (int idle = 0; idle < 5;) {
		if (event_base_loop(loop_base(s->loop), EVLOOP_NONBLOCK) != 0)
			idle++;
		struct pollfd p = {s->peer, POLLIN, 0};
		if (poll(&p, 1, 5) == 0)
			idle++;
		else
			idle = 0;
		if (p.revents & POLLIN)
			return;
	}
}

/* All the client can read now. */
static size_t peer_read(struct side *s, unsigned char *buf, size_t cap)
{
	size_t n = 0;
	for (int tries = 0; tries < 200 && n < cap; tries++) {
		pump(s);
		ssize_t got = read(s->peer, buf + n, cap - n);
		if (got > 0) {
			n += (size_t)got;
			tries = 0;
			continue;
		}
		if (got < 0 && errno != EAGAIN)
			break;
		if (n > 0 && tries > 20)
			break;
	}
	return n;
}

static void peer_send(struct side *s, const void *p, size_t n, int flush)
{
	unsigned char out[1 << 16];
	s->tx.next_in = (Bytef *)p;
	s->tx.avail_in = (uInt)n;
	do {
		s->tx.next_out = out;
		s->tx.avail_out = sizeof(out);
		assert_true(deflate(&s->tx, flush) != Z_STREAM_ERROR);
		size_t len = sizeof(out) - s->tx.avail_out;
		for (size_t off = 0; off < len;) {
			ssize_t w = write(s->peer, out + off, len - off);
			if (w < 0) {
				assert_int_equal(errno, EAGAIN);
				pump(s);
				continue;
			}
			off += (size_t)w;
		}
	} while (s->tx.avail_out == 0);
}

static void test_burst_is_flushed_once(void **state)
{
	struct side *s = *state;
	s->echo = true;
	conn_write(s->conn, "z OK DEFLATE active\r\n", 21);
	assert_int_equal(conn_compress(s->conn), 0);
	assert_int_equal(conn_compress(s->conn), -1);
	assert_true(conn_compressed(s->conn));
	peer_send(s, "a NOOP\r\n", 8, Z_SYNC_FLUSH);
	unsigned char buf[4096];
	size_t n = peer_read(s, buf, sizeof(buf));
	assert_true(n > 21 + 4);
	assert_memory_equal(buf, "z OK DEFLATE active\r\n", 21);
	/* One burst (three writes), one sync flush, at its end. */
	assert_memory_equal(buf + n - 4, "\0\0\xff\xff", 4);
	assert_null(memmem(buf + 21, n - 21 - 4, "\0\0\xff\xff", 4));
	char plain[256];
	s->rx.next_in = buf + 21;
	s->rx.avail_in = (uInt)(n - 21);
	s->rx.next_out = (Bytef *)plain;
	s->rx.avail_out = sizeof(plain);
	assert_int_equal(inflate(&s->rx, Z_SYNC_FLUSH), Z_OK);
	assert_int_equal(sizeof(plain) - s->rx.avail_out, 10);
	assert_memory_equal(plain, "x a NOOP\r\n", 10);
}

/* 1 MiB of one byte, a few KiB packed: the input never holds more than
 * the bound, and all of it arrives as it is taken. */
static void test_input_bounded_and_whole(void **state)
{
	struct side *s = *state;
	assert_int_equal(conn_compress(s->conn), 0);
	size_t total = 1u << 20, taken = 0;
	char *big = malloc(total);
	memset(big, 'A', total);
	peer_send(s, big, total, Z_SYNC_FLUSH);
	free(big);
	struct str got = STR_INIT;
	for (int rounds = 0; rounds < 100000 && taken < total; rounds++) {
		pump(s);
		size_t have = conn_input_len(s->conn);
		assert_true(have <= BOUND);
		str_clear(&got);
		size_t n = conn_read_bytes(s->conn, have, &got);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(got.data[i], 'A');
		taken += n;
	}
	str_free(&got);
	assert_int_equal(taken, total);
	assert_int_equal(s->n_events, 0);
}

static void test_broken_stream(void **state)
{
	struct side *s = *state;
	s->echo = true;
	assert_int_equal(conn_compress(s->conn), 0);
	peer_send(s, "a NOOP\r\n", 8, Z_SYNC_FLUSH);
	assert_int_equal(write(s->peer, "\xff\xff\xff\xff", 4), 4);
	unsigned char buf[512];
	size_t n = peer_read(s, buf, sizeof(buf));
	/* The line before the bad bytes was answered, then the owner was
	 * told. */
	assert_true(n > 0);
	assert_int_equal(s->n_events, 1);
	assert_int_equal(s->events[0], CONN_BROKEN);
}

int main(void)
{
#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T_(test_burst_is_flushed_once),
		T_(test_input_bounded_and_whole),
		T_(test_broken_stream),
	};
#undef T_
	return cmocka_run_group_tests(tests, NULL, NULL);
}
