/* Raw DEFLATE over evbuffers, with zlib.
 *
 * Sizes: the inflate side must take whatever window the peer chose, so
 * it gets zlib's largest (32 KiB, allocated by zlib on first output).
 * The deflate side is ours to choose: a 4 KiB window and memLevel 5 take
 * about 32 KiB instead of zlib's default 256 KiB, and IMAP responses
 * (header fields, FLAGS, ENVELOPEs) repeat within a few KiB, so they lose
 * little by it.  It lives only while output flows (zlayer_release()).
 * Level 1: deflating runs on the event loop, next to TLS, and zlib's
 * fast levels take a fraction of the time of its default for a few per
 * cent more bytes; a long FETCH must not hold up the loop's other
 * sessions. */
#include "core/zlayer.h"

#include <event2/buffer.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/log.h"
#include "core/xalloc.h"

#define DEFLATE_LEVEL 1
#define DEFLATE_WBITS 12
#define DEFLATE_MEMLEVEL 5
#define INFLATE_WBITS 15
/* Output space asked of an evbuffer per zlib call. */
#define CHUNK (16 * 1024)

struct zlayer {
	z_stream inf;
	z_stream def;
	bool def_on;		/* def holds a live deflate state */
	bool unflushed;		/* bytes went into def since the last flush */
	bool inf_pending;	/* inflate stopped with its output full */
	bool broken;		/* the peer's stream was bad or ended */
	unsigned long long in_plain, in_packed, out_plain, out_packed;
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return xreallocarray(NULL, items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	free(p);
}

struct zlayer *zlayer_new(void)
{
	struct zlayer *z = xcalloc(1, sizeof(*z));
	z->inf.zalloc = z_alloc;
	z->inf.zfree = z_free;
	if (inflateInit2(&z->inf, -INFLATE_WBITS) != Z_OK)
		log_panic("zlib: inflateInit2 failed");
	return z;
}

void zlayer_free(struct zlayer **zp)
{
	struct zlayer *z = *zp;
	if (z == NULL)
		return;
	inflateEnd(&z->inf);
	if (z->def_on)
		deflateEnd(&z->def);
	free(z);
	*zp = NULL;
}

/* One inflate call from the first chain of in into fresh space of out. */
static int inflate_step(struct zlayer *z, struct evbuffer *in,
			struct evbuffer *out, size_t room, size_t *made_r,
			size_t *took_r)
{
	struct evbuffer_iovec src = {NULL, 0}, dst;
	if (evbuffer_peek(in, -1, NULL, &src, 1) < 1)
		src.iov_len = 0;
	if (src.iov_len > UINT_MAX)
		src.iov_len = UINT_MAX;
	if (evbuffer_reserve_space(out, (ev_ssize_t)room, &dst, 1) < 1)
		log_panic("out of memory for inflated input");
	z->inf.next_in = src.iov_base;
	z->inf.avail_in = (uInt)src.iov_len;
	z->inf.next_out = dst.iov_base;
	z->inf.avail_out = (uInt)room;
	int rc = inflate(&z->inf, Z_SYNC_FLUSH);
	*took_r = src.iov_len - z->inf.avail_in;
	*made_r = room - z->inf.avail_out;
	z->inf_pending = z->inf.avail_out == 0;
	if (*made_r > 0) {
		dst.iov_len = *made_r;
		evbuffer_commit_space(out, &dst, 1);
	}
	evbuffer_drain(in, *took_r);
	return rc;
}

ssize_t zlayer_inflate(struct zlayer *z, struct evbuffer *in,
		       struct evbuffer *out, size_t out_max)
{
	size_t added = 0;
	while (!z->broken) {
		size_t have = evbuffer_get_length(out);
		if (have >= out_max ||
		    (evbuffer_get_length(in) == 0 && !z->inf_pending))
			break;
		size_t room = out_max - have < CHUNK ? out_max - have : CHUNK;
		size_t made, took;
		int rc = inflate_step(z, in, out, room, &made, &took);
		added += made;
		z->in_plain += made;
		z->in_packed += took;
		/* The peer may not end its stream while the connection
		 * lives (RFC 4978 4): a final block is as bad as garbage. */
		if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR))
			z->broken = true;
		else if (made == 0 && took == 0)
			break;
	}
	return z->broken ? -1 : (ssize_t)added;
}

bool zlayer_inflate_pending(const struct zlayer *z)
{
	return z->inf_pending && !z->broken;
}

static void deflate_start(struct zlayer *z)
{
	if (z->def_on)
		return;
	memset(&z->def, 0, sizeof(z->def));
	z->def.zalloc = z_alloc;
	z->def.zfree = z_free;
	if (deflateInit2(&z->def, DEFLATE_LEVEL, Z_DEFLATED, -DEFLATE_WBITS,
			 DEFLATE_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
		log_panic("zlib: deflateInit2 failed");
	z->def_on = true;
}

/* Feed p[0..n) with `flush`, taking all output zlib has for it. */
static void deflate_run(struct zlayer *z, const unsigned char *p, size_t n,
			struct evbuffer *out, int flush)
{
	do {
		size_t part = n > UINT_MAX ? UINT_MAX : n;
		struct evbuffer_iovec dst;
		if (evbuffer_reserve_space(out, CHUNK, &dst, 1) < 1)
			log_panic("out of memory for deflated output");
		z->def.next_in = (Bytef *)p;
		z->def.avail_in = (uInt)part;
		z->def.next_out = dst.iov_base;
		z->def.avail_out = CHUNK;
		int rc = deflate(&z->def, flush);
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			log_panic("zlib: deflate failed: %d", rc);
		size_t took = part - z->def.avail_in;
		size_t made = CHUNK - z->def.avail_out;
		p += took;
		n -= took;
		z->out_packed += made;
		if (made > 0) {
			dst.iov_len = made;
			evbuffer_commit_space(out, &dst, 1);
		}
		if (z->def.avail_out != 0 && n == 0)
			break;
	} while (1);
}

void zlayer_deflate(struct zlayer *z, const void *p, size_t n,
		    struct evbuffer *out)
{
	if (n == 0)
		return;
	deflate_start(z);
	deflate_run(z, p, n, out, Z_NO_FLUSH);
	z->out_plain += n;
	z->unflushed = true;
}

bool zlayer_unflushed(const struct zlayer *z)
{
	return z->unflushed;
}

void zlayer_flush(struct zlayer *z, struct evbuffer *out)
{
	if (!z->unflushed)
		return;
	deflate_run(z, NULL, 0, out, Z_SYNC_FLUSH);
	z->unflushed = false;
}

bool zlayer_release(struct zlayer *z)
{
	if (z->unflushed)
		return false;
	if (z->def_on) {
		deflateEnd(&z->def);
		z->def_on = false;
	}
	return true;
}

void zlayer_totals(const struct zlayer *z, unsigned long long *in_plain_r,
		   unsigned long long *in_packed_r,
		   unsigned long long *out_plain_r,
		   unsigned long long *out_packed_r)
{
	*in_plain_r = z->in_plain;
	*in_packed_r = z->in_packed;
	*out_plain_r = z->out_plain;
	*out_packed_r = z->out_packed;
}
