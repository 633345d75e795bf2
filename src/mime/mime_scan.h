/* mime_scan: the text keys of an IMAP SEARCH (BODY, TEXT, and header
 * fields such as FROM or HEADER name) looked for in all of the text of one
 * message at a time, as mime_text_walk() gives it, for a message the
 * full-text index does not hold: its text was past the index's bounds
 * (mime_text_indexable), or it was not indexed yet.  Every byte of the
 * text is looked into, in memory bounded by the walk's and by the longest
 * needle, whatever the size of the message: a needle is found across the
 * edges of the pieces the walk cuts the text into, as it would be in the
 * whole text.  The same scan can keep the text for the index on the way
 * (mime_text_extract's form and bound), so that a message not yet indexed
 * is read once.
 *
 * Needles and field names are given in the form mime_text_key() makes;
 * matching is plain byte comparison, as in mime_text_contains() and
 * mime_text_field_has(). */
#ifndef POSTHORN_MIME_SCAN_H
#define POSTHORN_MIME_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct mime_msg;

enum mime_scan_in {
	MIME_SCAN_BODY,		/* the body text */
	MIME_SCAN_TEXT,		/* the header text or the body text */
	MIME_SCAN_FIELD,	/* a field of the top-level header */
};

struct mime_scan;

struct mime_scan *mime_scan_new(void);
void mime_scan_free(struct mime_scan **sc);

/* Add a key; returns its number (0 for the first, then 1, ...).  name
 * (MIME_SCAN_FIELD only) NULL means any field.  An empty needle is in any
 * text (and in any field of that name).  Both are copied. */
size_t mime_scan_add(struct mime_scan *sc, enum mime_scan_in in,
		     const char *name, size_t name_len, const char *needle,
		     size_t needle_len);

/* Look for every key in msg's text; the body is read only if some key or
 * keeping needs it, and the walk ends as soon as every key is found and
 * nothing is kept.  chunk as for mime_text_walk (0: the default).  With
 * header_r and body_r (both or neither), the text is also appended to them
 * as mime_text_extract() would, but at most keep_max bytes together;
 * returns false when it had to be cut there (then it is not the whole
 * text), true otherwise. */
bool mime_scan_run(struct mime_scan *sc, const struct mime_msg *msg,
		   size_t chunk, size_t keep_max, struct str *header_r,
		   struct str *body_r);

/* Whether key was found by the last mime_scan_run(). */
bool mime_scan_hit(const struct mime_scan *sc, size_t key);

#endif
