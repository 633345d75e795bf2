/* mime_text: the text of a message as IMAP SEARCH looks at it (FROM, TO,
 * CC, BCC, SUBJECT, HEADER, BODY, TEXT), computed once when the message is
 * stored and kept in the store's full-text index.
 *
 * All text is UTF-8 in the i;unicode-casemap form of mime_text_normalize()
 * (RFC 5051), so a search string put through mime_text_key() matches it
 * case-insensitively when it is a plain substring.  Beforehand:
 *   - CR LF and a lone CR become LF, NUL becomes a space (the index stores
 *     C strings; a line end is one byte on both sides);
 *   - header text: each field of the top-level header, in order, as one
 *     line "NAME: value\n": the value unfolded (mime_unfold) and RFC 2047
 *     decoded (mime_decode_header), its CR, LF and NUL bytes turned into
 *     spaces so that a field stays one line; the name as written, before
 *     normalisation (so ASCII names come out in capitals); a From, To,
 *     Cc or Bcc field with an address not written in one piece (a
 *     comment or white space inside it) is followed by a second line of
 *     the same name with its addresses as ENVELOPE has them
 *     (mime_imap_addresses), which SEARCH FROM and the like look in;
 *   - body text: every part of type text, in order (text/html with its
 *     tags, comments, scripts and styles dropped and its character
 *     references decoded), with its Content-Transfer-Encoding undone (a
 *     part in an unknown encoding is skipped) and converted from its
 *     charset (none or an unknown one: UTF-8 where valid, else
 *     windows-1252), each part that gives any text followed by "\n";
 *     inside a message/rfc822 part, the encapsulated header's fields come
 *     first, as header lines; parts of any other type are skipped, and so
 *     is a message/rfc822 that the MIME parser left opaque.
 *
 * mime_text_walk() gives all of that text, piece by piece, for SEARCH to
 * look into every byte of it, in memory bounded whatever the size of the
 * message (besides the message itself and one header field at a time): a
 * chunk of MIME_TEXT_CHUNK bytes of content, what its decoding and
 * normalising make of it (at most a few MiB for hostile input), and what
 * waits for the next chunk (at most a few hundred KiB).  mime_text_extract() keeps at most
 * MIME_TEXT_MAX bytes of it, for the full-text index: the header first, in
 * whole lines; the body gets the rest, cut between two code points. */
#ifndef POSTHORN_MIME_TEXT_H
#define POSTHORN_MIME_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

#define MIME_TEXT_MAX (1024 * 1024)

struct mime_msg;

/* What mime_text_walk() gives its callback. */
enum mime_text_piece {
	MIME_TEXT_HEADER_LINE,	/* a line of the header text, whole */
	MIME_TEXT_BODY_LINE,	/* a header line of an encapsulated message,
				   whole: body text */
	MIME_TEXT_BODY,		/* body text, cut anywhere between two code
				   points (a part's closing "\n" alone) */
};

/* Called with each piece of text (p[0..n), n > 0, not NUL-terminated,
 * valid during the call); returns false to end the walk. */
typedef bool mime_text_fn(void *ctx, enum mime_text_piece kind,
			  const char *p, size_t n);

/* A text part's content is read this many bytes at a time. */
#define MIME_TEXT_CHUNK (64 * 1024)

/* Give the header text and (with body) the body text of a parsed message
 * to fn, in order, without any bound on their length.  chunk: bytes of
 * a part's content read at a time (0: MIME_TEXT_CHUNK; the text does not
 * depend on it, except where hostile input makes a stage cut a tag or a
 * run of combining marks that it would rather have kept whole, past a
 * few hundred KiB).  Time is linear in the message. */
void mime_text_walk(const struct mime_msg *msg, bool body, size_t chunk,
		    mime_text_fn *fn, void *ctx);

/* Append the header text and the body text of a parsed message to
 * header_r and body_r (both are NUL-terminated after the call, even when
 * empty), at most MIME_TEXT_MAX bytes together.  body_r may be NULL: then
 * only the header is looked at.  Returns true when all of the text was
 * kept, false when it was cut at the bound. */
bool mime_text_extract(const struct mime_msg *msg, struct str *header_r,
		       struct str *body_r);

/* Header bytes past which mime_text_header_fields() declines. */
#define MIME_TEXT_FIELDS_MAX (16 * 1024)

/* The lines of the header text (as mime_text_extract() makes it) of a
 * top-level header hdr[0..len) (its fields and the blank line after them,
 * as the message's part layout gives it) whose field names are among
 * names[0..n) (each of lens[i] bytes, as mime_text_key() gives it),
 * appended to out and NUL-terminated; a field whose name is not all
 * printable ASCII is kept too.  mime_text_field_has() with any of those
 * names answers on out exactly as on the whole header text, for a
 * fraction of the work when a message is searched for a few fields.
 * Returns false, appending nothing, for a header longer than
 * MIME_TEXT_FIELDS_MAX: the whole text of such a header may be cut short
 * at MIME_TEXT_MAX, and only the whole extraction knows where. */
bool mime_text_header_fields(const char *hdr, size_t len,
			     const char *const *names, const size_t *lens,
			     size_t n, struct str *out);

/* A search string in the form the text is kept in (line ends and NUL as
 * above, then mime_text_normalize), appended to out. */
void mime_text_key(const char *in, size_t len, struct str *out);

/* Whether text holds needle (both normalised); an empty needle is in any
 * text. */
bool mime_text_contains(const char *text, size_t len, const char *needle,
			size_t needle_len);

/* Bounds of a text the full-text index takes: FTS5's trigram index costs
 * time that grows faster than linearly with a document's length and its
 * number of distinct trigrams (2 MiB of random characters took minutes
 * of CPU, as much natural text well under a second), so a text past
 * either bound is left out of the index and searched by reading the
 * message instead: slower for that message, never wrong. */
#define MIME_TEXT_INDEX_MAX (256 * 1024)
#define MIME_TEXT_INDEX_TRIGRAMS 16384

/* Whether the header and body text (normalised, as above) are within the
 * index's bounds: at most MIME_TEXT_INDEX_MAX bytes together and
 * MIME_TEXT_INDEX_TRIGRAMS distinct trigrams of code points.  Linear,
 * with a fixed-size table. */
bool mime_text_indexable(const char *header, size_t hlen, const char *body,
			 size_t blen);

/* Whether header text (as mime_text_extract makes it) has a field whose
 * name is `name` (normalised with mime_text_key; NULL: any field) and
 * whose value holds needle.  An empty needle matches any field of that
 * name (RFC 9051 6.4.4, HEADER). */
bool mime_text_field_has(const char *hdr, size_t len, const char *name,
			 size_t name_len, const char *needle,
			 size_t needle_len);

/* Append the text of an HTML document (UTF-8) to out: tags, comments,
 * <script> and <style> content dropped, a tag that breaks a line (any but
 * the inline ones: a, b, i, span, font...) replaced by a space, character
 * references (&amp; &#233; &#xE9; and the common named ones) decoded,
 * anything malformed kept as it is.  Linear; output <= len. */
void mime_text_html(const char *in, size_t len, struct str *out);

#endif
