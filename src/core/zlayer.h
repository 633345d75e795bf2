/* zlayer: raw DEFLATE (RFC 1951, no zlib header) in both directions of a
 * connection, as IMAP COMPRESS=DEFLATE (RFC 4978) wants it.
 *
 * It works on libevent buffers: compressed bytes from the peer are
 * inflated into a clear-text buffer up to a bound the caller gives, so a
 * small input that expands to gigabytes never takes more memory than
 * that bound; what we send is deflated into the output buffer, and a
 * flush (a sync flush: an empty stored block) makes everything written
 * so far decodable by the peer at once.  The deflate state is freed
 * after a flush when the caller says the connection is idle, and made
 * anew on the next write, so an idle connection keeps only the inflate
 * side (whose 32 KiB window the peer's next bytes may refer to).  Used on
 * one thread at a time; no I/O of its own. */
#ifndef POSTHORN_ZLAYER_H
#define POSTHORN_ZLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct evbuffer;
struct zlayer;

struct zlayer *zlayer_new(void);
void zlayer_free(struct zlayer **z);

/* Inflate from `in` into `out` until `in` is empty or `out` holds
 * out_max bytes (a little more at most: one inflate step); what was
 * taken is drained from `in`.  Returns the bytes added to out, or -1
 * when the input is not valid raw DEFLATE or ends the stream (a final
 * block: the peer may not end the stream while the connection lives);
 * what was inflated before the bad bytes is in out all the same.  The
 * error stays. */
ssize_t zlayer_inflate(struct zlayer *z, struct evbuffer *in,
		       struct evbuffer *out, size_t out_max);
/* Whether zlayer_inflate() would give more output without more input
 * (it stopped at out_max). */
bool zlayer_inflate_pending(const struct zlayer *z);

/* Compress n bytes into out, without a flush: the peer may not see them
 * until zlayer_flush(). */
void zlayer_deflate(struct zlayer *z, const void *p, size_t n,
		    struct evbuffer *out);
/* Whether bytes were deflated since the last flush. */
bool zlayer_unflushed(const struct zlayer *z);
/* Sync flush: everything deflated so far goes to out, ending on a byte
 * boundary.  Does nothing when nothing is unflushed. */
void zlayer_flush(struct zlayer *z, struct evbuffer *out);
/* Free the deflate state if everything is flushed (it is made anew on
 * the next write; the stream stays valid, the next block merely refers
 * to no earlier bytes).  Returns true when it was freed or absent. */
bool zlayer_release(struct zlayer *z);

/* Inflated and deflated byte counts, for the log. */
void zlayer_totals(const struct zlayer *z, unsigned long long *in_plain_r,
		   unsigned long long *in_packed_r,
		   unsigned long long *out_plain_r,
		   unsigned long long *out_packed_r);

#endif
