/* imapresp: framing and checking of IMAP server responses, for the load
 * generator of the benchmark.
 *
 * A response is one or more lines joined by literals ("{n}" CRLF and n
 * bytes).  imapresp_frame finds where a response ends, incrementally, so
 * the caller can keep reading until it has one whole; imapresp_parse then
 * checks it against the response grammar of RFC 3501 / RFC 9051 (tagged
 * and untagged status responses, continuation requests, FETCH, SEARCH and
 * every other untagged response as a well-formed sequence of atoms,
 * strings, literals and lists) and pulls out what a client needs to follow
 * the mailbox: the tag and status, the message number and keyword, a
 * FETCH's UID and flags, how many numbers a SEARCH or SORT returned.
 *
 * Pure: bytes in, results out; no I/O and no allocation.  The pointers in
 * a struct imapresp point into the caller's buffer. */
#ifndef IMAPRESP_H
#define IMAPRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Larger literals or lines than these are taken as a broken server, not
 * waited for.  A line is the text between two literals. */
#define IMAPRESP_MAX_LITERAL ((uint64_t)1 << 31)
#define IMAPRESP_MAX_LINE ((size_t)1 << 20)
/* Deepest list nesting accepted (BODYSTRUCTURE of nested multiparts). */
#define IMAPRESP_MAX_DEPTH 100

/* Framing state of the response being read; all zero for a new one. */
struct imapresp_frame {
	size_t pos;        /* where the search for the next LF resumes */
	size_t line_start; /* start of the current line (after a literal) */
};

/* Finds the end of the response that starts at buf[0].  Returns its length
 * (through its final CRLF), -2 when more bytes are needed (call again with
 * the same state and a longer buffer; the bytes already seen are not
 * scanned again), -1 when the bytes cannot be a response (LF without CR,
 * a literal or line over the limits).  After a return >= 0 the state is
 * reset for the next response. */
long imapresp_frame(struct imapresp_frame *f, const char *buf, size_t len);

enum imapresp_kind {
	IMAPRESP_TAGGED,
	IMAPRESP_UNTAGGED,
	IMAPRESP_CONTINUE,
};

enum imapresp_status {
	IMAPRESP_NONE, /* not a status response (e.g. "* 3 EXISTS") */
	IMAPRESP_OK,
	IMAPRESP_NO,
	IMAPRESP_BAD,
	IMAPRESP_BYE,
	IMAPRESP_PREAUTH,
};

/* System flags seen in a FETCH's FLAGS list. */
#define IMAPRESP_F_SEEN 0x01u
#define IMAPRESP_F_DELETED 0x02u
#define IMAPRESP_F_ANSWERED 0x04u
#define IMAPRESP_F_FLAGGED 0x08u
#define IMAPRESP_F_DRAFT 0x10u

#define IMAPRESP_KEYWORD_MAX 15

struct imapresp {
	enum imapresp_kind kind;
	enum imapresp_status status;
	const char *tag; /* tagged only */
	size_t tag_len;
	bool has_number; /* "* 12 EXISTS": number = 12 */
	uint32_t number;
	/* Upper-cased response keyword ("EXISTS", "FETCH", "SEARCH", "OK"),
	 * truncated to IMAPRESP_KEYWORD_MAX characters. */
	char keyword[IMAPRESP_KEYWORD_MAX + 1];
	/* resp-text-code without its brackets, and the text after it, of a
	 * status response or a continuation request. */
	const char *code;
	size_t code_len;
	const char *text;
	size_t text_len;
	/* FETCH */
	bool has_uid;
	uint32_t uid;
	bool has_flags;
	unsigned flags;      /* IMAPRESP_F_* */
	unsigned fetch_items; /* name/value pairs in the FETCH */
	/* SEARCH and SORT: numbers returned (at the top level). */
	uint32_t numbers;
	/* Bytes inside all literals of the response. */
	uint64_t literal_bytes;
};

/* Checks one response as framed by imapresp_frame (len includes the final
 * CRLF) and fills *r.  Returns 1 if it is well-formed, -1 if not, with a
 * static description of the first fault in *err_r and the offset where it
 * was found in *at_r. */
int imapresp_parse(const char *buf, size_t len, struct imapresp *r,
		   const char **err_r, size_t *at_r);

#endif
