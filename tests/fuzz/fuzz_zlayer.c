/* Fuzz the DEFLATE layer of IMAP COMPRESS (core/zlayer.h), whose inflate
 * side reads what a client sends.
 *
 * The first byte picks the input bound (1 byte to 64 KiB) and the size
 * of the pieces the input arrives in; the rest is the client's stream.
 * Invariants: the inflated buffer never holds more than the bound;
 * with room to inflate into, nothing comes out only when all the input
 * is taken and nothing is pending; once the stream is broken it stays
 * broken;
 * and the same bytes, deflated by the layer and flushed after each
 * piece, inflate back to themselves through a second layer. */
#include <event2/buffer.h>

#include "fuzz.h"

#include "core/zlayer.h"

static void inflate_client(const uint8_t *data, size_t len, size_t bound,
			   size_t piece)
{
	struct zlayer *z = zlayer_new();
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	bool broken = false;
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		evbuffer_add(in, data + off, n);
		/* The owner takes everything each time: at most a few
		 * rounds per piece, each bounded. */
		for (int round = 0; round < 64; round++) {
			ssize_t got = zlayer_inflate(z, in, out, bound);
			CHECK(evbuffer_get_length(out) <= bound);
			if (got < 0) {
				broken = true;
				break;
			}
			/* With room, nothing more comes out only when all
			 * the input is taken. */
			if (got == 0) {
				CHECK(evbuffer_get_length(in) == 0);
				CHECK(!zlayer_inflate_pending(z));
				break;
			}
			evbuffer_drain(out, evbuffer_get_length(out));
		}
		if (broken) {
			CHECK(zlayer_inflate(z, in, out, bound) == -1);
			CHECK(!zlayer_inflate_pending(z));
			break;
		}
	}
	zlayer_free(&z);
	CHECK(z == NULL);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void round_trip(const uint8_t *data, size_t len, size_t piece)
{
	struct zlayer *tx = zlayer_new(), *rx = zlayer_new();
	struct evbuffer *wire = evbuffer_new(), *out = evbuffer_new();
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		zlayer_deflate(tx, data + off, n, wire);
		zlayer_flush(tx, wire);
		CHECK(!zlayer_unflushed(tx));
		if (data[off] & 1)
			CHECK(zlayer_release(tx));
		/* Everything so far is decodable after each flush. */
		CHECK(zlayer_inflate(rx, wire, out, len + 1) >= 0);
		CHECK(evbuffer_get_length(wire) == 0);
		CHECK(evbuffer_get_length(out) == off + n);
	}
	CHECK(evbuffer_get_length(out) == len);
	CHECK(len == 0 || memcmp(evbuffer_pullup(out, -1), data, len) == 0);
	zlayer_free(&tx);
	zlayer_free(&rx);
	evbuffer_free(wire);
	evbuffer_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t bound = (size_t)1 << (data[0] & 15);
	size_t piece = 1 + (size_t)(data[0] >> 4) * 97;
	char *copy = fuzz_copy(data + 1, size - 1);
	inflate_client((const uint8_t *)copy, size - 1, bound, piece);
	round_trip((const uint8_t *)copy, size - 1, piece);
	free(copy);
	return 0;
}
