/* zlayer: raw DEFLATE both ways, checked against zlib used directly (the
 * peer's side, with its own window and memory settings): round trips fed
 * whole and a byte at a time, what a sync flush makes decodable, the
 * deflate state given back between bursts, and input that expands far
 * past the bound. */
#include "unit.h"

#include <event2/buffer.h>
#include <zlib.h>

#include "core/zlayer.h"

/* The peer's compressor: zlib's defaults, raw. */
static size_t peer_deflate(const void *in, size_t n, unsigned char *out,
			   size_t cap, int flush)
{
	z_stream z = {0};
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, flush);
	assert_true(rc == Z_OK || rc == Z_STREAM_END);
	assert_int_equal(z.avail_in, 0);
	size_t len = cap - z.avail_out;
	deflateEnd(&z);
	return len;
}

static struct evbuffer *take(struct evbuffer *b, char **data_r, size_t *len_r)
{
	*len_r = evbuffer_get_length(b);
	*data_r = malloc(*len_r + 1);
	evbuffer_remove(b, *data_r, *len_r);
	(*data_r)[*len_r] = '\0';
	return b;
}

static const char *const texts[] = {
	"",
	"a1 CAPABILITY\r\n",
	"a2 FETCH 1:* (FLAGS UID)\r\na3 NOOP\r\n",
	"a4 LOGIN {5}\r\nhello x\r\n",
	"\0\0\0binary\xff\xfe\r\n",
};

/* The peer's stream inflated whole, then one byte at a time. */
static void test_inflate_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		cur = texts[i];
		size_t n = strlen(texts[i]) + (i == 4 ? 13 : 0);
		unsigned char packed[512];
		size_t plen = peer_deflate(texts[i], n, packed, sizeof(packed),
					   Z_SYNC_FLUSH);
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			struct zlayer *z = zlayer_new();
			struct evbuffer *in = evbuffer_new();
			struct evbuffer *out = evbuffer_new();
			size_t step = bytewise ? 1 : plen;
			for (size_t off = 0; off < plen; off += step) {
				evbuffer_add(in, packed + off, step);
				assert_true(zlayer_inflate(z, in, out,
							   1 << 20) >= 0);
				assert_int_equal(evbuffer_get_length(in), 0);
			}
			char *got;
			size_t len;
			take(out, &got, &len);
			assert_int_equal(len, n);
			assert_memory_equal(got, texts[i], n);
			free(got);
			evbuffer_free(in);
			evbuffer_free(out);
			zlayer_free(&z);
			assert_null(z);
		}
	}
}

/* What the peer sees of our output, by its own inflater. */
struct peer {
	z_stream z;
	char buf[1 << 16];
	size_t len;
};

static void peer_take(struct peer *p, struct evbuffer *wire)
{
	size_t n = evbuffer_get_length(wire);
	unsigned char *data = evbuffer_pullup(wire, -1);
	p->z.next_in = data;
	p->z.avail_in = (uInt)n;
	p->z.next_out = (Bytef *)p->buf + p->len;
	p->z.avail_out = (uInt)(sizeof(p->buf) - p->len);
	int rc = inflate(&p->z, Z_SYNC_FLUSH);
	assert_true(rc == Z_OK || (rc == Z_BUF_ERROR && n == 0));
	assert_int_equal(p->z.avail_in, 0);
	p->len = sizeof(p->buf) - p->z.avail_out;
	evbuffer_drain(wire, n);
}

/* Each flush makes all written so far decodable, and nothing before it
 * is promised; with nothing written a flush adds nothing. */
static void test_deflate_flush(void **state)
{
	(void)state;
	struct zlayer *z = zlayer_new();
	struct evbuffer *wire = evbuffer_new();
	struct peer *p = calloc(1, sizeof(*p));
	assert_int_equal(inflateInit2(&p->z, -15), Z_OK);
	zlayer_flush(z, wire);
	assert_int_equal(evbuffer_get_length(wire), 0);
	const char *lines[] = {"* OK [CAPABILITY IMAP4rev1] ready\r\n",
			       "* 1 FETCH (FLAGS (\\Seen) UID 1)\r\n",
			       "a1 OK FETCH completed\r\n"};
	size_t want = 0;
	for (size_t i = 0; i < 3; i++) {
		zlayer_deflate(z, lines[i], strlen(lines[i]), wire);
		assert_true(zlayer_unflushed(z));
		zlayer_flush(z, wire);
		assert_false(zlayer_unflushed(z));
		/* A sync flush ends in 00 00 ff ff. */
		size_t n = evbuffer_get_length(wire);
		unsigned char *w = evbuffer_pullup(wire, -1);
		assert_true(n >= 4);
		assert_memory_equal(w + n - 4, "\0\0\xff\xff", 4);
		peer_take(p, wire);
		want += strlen(lines[i]);
		assert_int_equal(p->len, want);
		/* Given back between bursts, made anew after: the stream
		 * goes on. */
		if (i == 1)
			assert_true(zlayer_release(z));
	}
	assert_memory_equal(p->buf, "* OK [CAPABILITY IMAP4rev1] ready\r\n"
			    "* 1 FETCH (FLAGS (\\Seen) UID 1)\r\n"
			    "a1 OK FETCH completed\r\n", want);
	zlayer_deflate(z, "x", 1, wire);
	assert_false(zlayer_release(z));	/* unflushed: kept */
	zlayer_flush(z, wire);
	assert_true(zlayer_release(z));
	unsigned long long a, b, c, d;
	zlayer_totals(z, &a, &b, &c, &d);
	assert_int_equal(c, want + 1);
	inflateEnd(&p->z);
	free(p);
	evbuffer_free(wire);
	zlayer_free(&z);
}

/* 64 MiB of one byte, 64 KiB packed: never more than the bound comes
 * out at a time, and the rest waits in the input. */
static void test_inflate_bomb(void **state)
{
	(void)state;
	size_t n = 64u << 20;
	char *big = malloc(n);
	memset(big, 'A', n);
	size_t cap = 256u << 10;
	unsigned char *packed = malloc(cap);
	size_t plen = peer_deflate(big, n, packed, cap, Z_SYNC_FLUSH);
	free(big);
	assert_true(plen < 128u << 10);
	struct zlayer *z = zlayer_new();
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	evbuffer_add(in, packed, plen);
	size_t bound = 64u << 10, total = 0;
	for (int round = 0; round < 8; round++) {
		ssize_t got = zlayer_inflate(z, in, out, bound);
		assert_true(got > 0);
		assert_true(evbuffer_get_length(out) <= bound);
		assert_int_equal(evbuffer_get_length(out), bound);
		assert_true(evbuffer_get_length(in) > 0 ||
			    zlayer_inflate_pending(z));
		/* Full: nothing more until the owner takes some. */
		assert_int_equal(zlayer_inflate(z, in, out, bound), 0);
		total += evbuffer_get_length(out);
		evbuffer_drain(out, evbuffer_get_length(out));
	}
	assert_int_equal(total, 8 * bound);
	free(packed);
	evbuffer_free(in);
	evbuffer_free(out);
	zlayer_free(&z);
}

/* Not DEFLATE, or a stream the peer ended: -1, and it stays. */
static void test_inflate_bad(void **state)
{
	(void)state;
	struct zlayer *z = zlayer_new();
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	/* BTYPE 11 is reserved. */
	evbuffer_add(in, "\xff\xff\xff\xff", 4);
	assert_int_equal(zlayer_inflate(z, in, out, 4096), -1);
	evbuffer_drain(in, evbuffer_get_length(in));
	unsigned char packed[64];
	size_t plen = peer_deflate("a1 NOOP\r\n", 9, packed, sizeof(packed),
				   Z_SYNC_FLUSH);
	evbuffer_add(in, packed, plen);
	assert_int_equal(zlayer_inflate(z, in, out, 4096), -1);
	zlayer_free(&z);

	z = zlayer_new();
	plen = peer_deflate("a1 NOOP\r\n", 9, packed, sizeof(packed), Z_FINISH);
	evbuffer_add(in, packed, plen);
	assert_int_equal(zlayer_inflate(z, in, out, 4096), -1);
	zlayer_free(&z);
	evbuffer_free(in);
	evbuffer_free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflate_table),
		cmocka_unit_test(test_deflate_flush),
		cmocka_unit_test(test_inflate_bomb),
		cmocka_unit_test(test_inflate_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
