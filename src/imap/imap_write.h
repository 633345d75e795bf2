/* imap_write: strings and other items of server responses in the form the
 * grammar requires (RFC 9051 9), for every string the server sends: an
 * atom where one is allowed and the text is one, a quoted string where
 * the text can be quoted, and a literal otherwise.  Pure: appends to a
 * struct str. */
#ifndef POSTHORN_IMAP_WRITE_H
#define POSTHORN_IMAP_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/imap_fetch_parse.h"
#include "imap/imap_parse.h"

struct str;

/* Longest text sent as a quoted string; longer goes as a literal. */
#define IMAP_WRITE_QUOTED_MAX 1024

/* An astring: the text itself when it is 1*ASTRING-CHAR and not "NIL"
 * (which a client could take for nil), else as imap_write_string.
 * utf8: UTF8=ACCEPT or IMAP4rev2 is on, so quoted strings may hold
 * UTF-8.  s must hold no NUL (no IMAP string can). */
void imap_write_astring(struct str *out, const char *s, size_t len,
			bool utf8);

/* A string: quoted ('"' and '\' escaped) when it holds no CR, LF or NUL,
 * is at most IMAP_WRITE_QUOTED_MAX bytes and is US-ASCII (or valid UTF-8
 * with utf8); else a literal "{len}\r\n" followed by the bytes. */
void imap_write_string(struct str *out, const char *s, size_t len,
		       bool utf8);

/* An nstring: NIL when s is NULL, else as imap_write_string. */
void imap_write_nstring(struct str *out, const char *s, size_t len,
		       bool utf8);

/* A mailbox name from the store (UTF-8) as an astring: in modified UTF-7
 * unless utf8 (UTF8=ACCEPT or IMAP4rev2 enabled). */
void imap_write_mailbox(struct str *out, const char *name, bool utf8);

/* A sequence set of ranges r[0..n) (n >= 1): "lo" or "lo:hi", joined
 * with ",", IMAP_SEQ_STAR written "*" and a saved range "$". */
void imap_write_seqset(struct str *out, const struct imap_seq_range *r,
		       unsigned n);

/* The name a FETCH response gives an item (RFC 9051 7.5.2): "FLAGS",
 * "RFC822.HEADER", "BODY[1.2.HEADER.FIELDS (From To)]<0>" (the origin of
 * a partial fetch only, the field names as astrings), "BINARY[1]<0>",
 * "BINARY.SIZE[1]"; BODY.PEEK and BINARY.PEEK are answered without
 * ".PEEK". */
void imap_write_fetch_name(struct str *out, const struct imap_fetch_att *a);

#endif
