/* mime: the MIME structure of one message (RFC 5322, RFC 2045, RFC 2046),
 * exact to the byte, for what IMAP FETCH needs: ENVELOPE, BODY,
 * BODYSTRUCTURE and the byte ranges of BODY[section] (see mime_imap.h and
 * mime_layout.h).
 *
 * mime_parse() reads one contiguous buffer (a message of any size, e.g.
 * mmap'ed) in one pass, line by line, with a line being the bytes up to and
 * including LF (CRLF and bare LF both end a line; a bare CR does not).  It
 * never fails: a malformed, non-MIME or truncated message still gives a
 * tree whose ranges cover the message.  It keeps no copy of the message:
 * the tree points into the caller's buffer, which must outlive it.  Memory
 * is proportional to the number of parts only (at most MIME_MAX_PARTS, plus
 * one fixed parser stack of MIME_MAX_DEPTH entries), time is linear in the
 * message size, and nothing recurses.
 *
 * Rules, and where we chose among readings:
 * - A multipart's body is split on lines that begin with "--" boundary
 *   (RFC 2046 5.1.1: the boundary may not begin any line of the enclosed
 *   parts, so a line that merely begins with it counts).  The CRLF (or LF)
 *   before such a line belongs to the delimiter, not to the part before
 *   it.  A line is checked against every enclosing boundary, innermost
 *   first, preferring a line where the boundary is followed by "--",
 *   white space or the line end over one where it is merely a prefix; an
 *   outer delimiter also ends every part inside it (a missing close
 *   delimiter).  Preamble and epilogue belong to the multipart's body and
 *   to no child.
 * - A part's header ends at its first empty line (CRLF or LF alone), which
 *   belongs to the header; or, without one, at the end of its content (a
 *   header without a body and without the blank line).  A blank line
 *   right before a delimiter line ends the header and also serves as the
 *   line end the delimiter takes: the body is empty and the header keeps
 *   its blank line (as Dovecot reads it).
 * - Defaults (RFC 2045 5.2, RFC 2046 5.1.5): no Content-Type is
 *   text/plain; charset=us-ascii, or message/rfc822 in a multipart/digest;
 *   a Content-Type that does not parse as type "/" subtype, or a multipart
 *   without a usable boundary parameter, is text/plain; charset=us-ascii.
 *   No Content-Transfer-Encoding is 7bit.  MIME-Version is not required.
 * - message/rfc822 and message/global are parsed as encapsulated messages
 *   when their Content-Transfer-Encoding is 7bit, 8bit or binary (RFC 2046
 *   5.2.1 allows no other); an encoded one is a leaf marked
 *   MIME_PART_OPAQUE.
 * - Limits: a part at depth MIME_MAX_DEPTH (the top-level message is depth
 *   0) is not looked into: a multipart or message there is a leaf marked
 *   MIME_PART_OPAQUE, and its content is opaque text.  After MIME_MAX_PARTS
 *   parts no new part is made: later delimiters still end the parts they
 *   close, and the bytes after them belong to the enclosing multipart's
 *   body (a multipart left without any child is marked MIME_PART_OPAQUE).
 *   A boundary longer than MIME_BOUNDARY_MAX bytes (RFC 2046 allows 70) is
 *   not usable.
 * - When a header field occurs more than once, the first one counts.
 * - Sizes and line counts are of the bytes as they are in the buffer (no
 *   CRLF normalisation): parse what you serve.  Lines are counted as LF
 *   bytes, so a last line without a line end is not counted (as Dovecot
 *   counts; RFC 3501 says only "the size of the body in text lines").
 * - RFC 2231 parameter continuations and charsets are not joined or
 *   decoded: "name*0", "name*1*" come out as separate parameters, as
 *   written.  Header values are never decoded (RFC 2047 words stay). */
#ifndef POSTHORN_MIME_H
#define POSTHORN_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

#define MIME_MAX_DEPTH 100
#define MIME_MAX_PARTS 10000
#define MIME_BOUNDARY_MAX 200
#define MIME_NONE UINT32_MAX	/* no such part */

enum mime_kind {
	MIME_LEAF,	/* a body of bytes (also every opaque part) */
	MIME_MULTIPART,	/* children are its body parts */
	MIME_MESSAGE,	/* one child: the encapsulated message */
};

/* Content-Transfer-Encoding.  7bit, 8bit and binary are identities. */
enum mime_cte {
	MIME_CTE_7BIT,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_QP,
	MIME_CTE_BASE64,
	MIME_CTE_OTHER,	/* an unknown token (x-uuencode...) */
};

enum mime_part_flags {
	/* A multipart or message/rfc822 left unparsed (depth or part limit,
	 * or an encoded message/rfc822): IMAP shows it as
	 * application/octet-stream. */
	MIME_PART_OPAQUE = 1 << 0,
	/* No usable Content-Type: type and subtype are the default. */
	MIME_PART_DEFAULT_TYPE = 1 << 1,
	/* A multipart/digest: children without Content-Type are
	 * message/rfc822. */
	MIME_PART_DIGEST = 1 << 2,
};

/* Bytes of the message; p == NULL when absent. */
struct mime_span {
	const char *p;
	size_t len;
};

/* One part: plain data.  Offsets are from the start of the message, with
 * hdr <= body <= end; [hdr, body) is the header (with its blank line),
 * [body, end) the body.  The top-level message is part 0.  Parts are in
 * pre-order, so a part's descendants follow it. */
struct mime_part {
	size_t hdr, body, end;
	size_t lines;		/* LF bytes in [body, end) */
	uint32_t parent;	/* MIME_NONE for the top-level message */
	uint32_t child;		/* first child, or MIME_NONE */
	uint32_t next;		/* next sibling, or MIME_NONE */
	uint32_t nchildren;
	uint16_t depth;		/* 0 for the top-level message */
	uint8_t kind;		/* enum mime_kind */
	uint8_t cte;		/* enum mime_cte */
	uint8_t flags;		/* enum mime_part_flags */
	/* Media type and subtype as written (any case), or the default's
	 * static text when MIME_PART_DEFAULT_TYPE is set. */
	struct mime_span type, subtype;
	/* Raw values of header fields, from after the colon to the end of
	 * the field without its last line end (folding kept), or absent. */
	struct mime_span content_type, cte_raw, id, description,
		disposition, language, location, md5;
};

struct mime_msg;

/* Parse data[0, len).  Never fails; free with mime_free(). */
struct mime_msg *mime_parse(const char *data, size_t len);
void mime_free(struct mime_msg **msg);

/* The buffer and length given to mime_parse(). */
const char *mime_data(const struct mime_msg *msg);
size_t mime_size(const struct mime_msg *msg);
/* Number of parts (at least 1) and part i (0 <= i < count). */
uint32_t mime_part_count(const struct mime_msg *msg);
const struct mime_part *mime_part(const struct mime_msg *msg, uint32_t i);
/* Whether the parser stopped looking into something at a limit. */
bool mime_truncated(const struct mime_msg *msg);

/* Header fields of a header [hdr, hdr + len), in order.  A field is its
 * first line and the continuation lines after it (those that begin with
 * space or tab).  A line without a colon is a field with an empty value
 * whose name is the whole line.  Iteration stops at the blank line, which
 * is then in blank_r (absent if the header has none). */
struct mime_field {
	struct mime_span name;	/* without trailing white space */
	struct mime_span value;	/* after the colon, folding kept, no last line end */
	struct mime_span raw;	/* the whole field with its line ends */
};
struct mime_hdr_iter {
	const char *p, *end;
	struct mime_span blank;
};
void mime_hdr_init(struct mime_hdr_iter *it, const char *hdr, size_t len);
/* 1 with the next field in f, 0 at the end. */
int mime_hdr_next(struct mime_hdr_iter *it, struct mime_field *f);
/* Whether name is field name want (ASCII case-insensitive). */
bool mime_name_is(struct mime_span name, const char *want);

/* Append v unfolded (every CR LF and LF removed: in a field value they
 * are all followed by white space), without leading or trailing space and
 * tab.  NUL bytes are kept. */
void mime_unfold(struct mime_span v, struct str *out);

/* Tokens of a structured value (RFC 2045 tokens, or RFC 5322 atoms with
 * rfc5322 set), skipping white space, line ends and comments.  Bytes
 * 0x80-0xff and control characters are token bytes (lenient). */
enum mime_tok_type {
	MIME_TOK_END,
	MIME_TOK_ATOM,		/* text: a token or atom */
	MIME_TOK_QUOTED,	/* text: with the quotes; unquote with mime_unquote */
	MIME_TOK_LITERAL,	/* text: a domain literal "[...]" with brackets */
	MIME_TOK_SPECIAL,	/* c: one special character */
};
struct mime_tok {
	enum mime_tok_type type;
	struct mime_span text;
	char c;
	bool space_before;	/* white space or a comment came before it */
	struct mime_span comment; /* the last comment before it, without
				    its outer parentheses, or absent */
};
struct mime_lex {
	const char *p, *end;
	bool rfc5322;
};
void mime_lex_init(struct mime_lex *lx, struct mime_span v, bool rfc5322);
/* Next token (type MIME_TOK_END at the end; an unclosed quote, comment
 * or literal runs to the end). */
void mime_lex_next(struct mime_lex *lx, struct mime_tok *t);
/* Append a quoted string's content: quotes removed, quoted pairs undone,
 * line ends removed. */
void mime_unquote(struct mime_span quoted, struct str *out);

/* Parameters after the first ';' of a Content-Type or
 * Content-Disposition value: name = token, value = token or quoted string
 * (an unquoted value runs to ';' or white space, so the common
 * boundary=----=_Part_1 works).  Parameters without a name or '=' are
 * skipped. */
struct mime_param_iter {
	struct mime_lex lx;
};
void mime_params_init(struct mime_param_iter *it, struct mime_span value);
/* 1 with the name as written and the value unquoted appended to name_r
 * and value_r (cleared first), or 0 at the end. */
int mime_params_next(struct mime_param_iter *it, struct str *name_r,
		     struct str *value_r);
/* The first token of a value (a disposition type, a transfer encoding),
 * or absent. */
struct mime_span mime_first_token(struct mime_span value);

#endif
