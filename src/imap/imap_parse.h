/* imap_parse: the IMAP4rev1 and IMAP4rev2 command grammar (RFC 3501
 * section 9, RFC 9051 section 9): the reader the session walks over one
 * assembled command, and the typed readers every command's arguments are
 * made of (atoms, strings, numbers, sequence sets, flags, dates, mailbox
 * names).  The commands with more structure have modules of their own:
 * imap_fetch_parse (FETCH), imap_search_parse (SEARCH, SORT, THREAD) and
 * imap_args (STORE, LIST, STATUS, SELECT, APPEND, ENABLE, ID, CREATE).
 *
 * The session reads a line; while the line ends with a literal
 * announcement (imap_parse_literal_end) it reads the literal's bytes and
 * the next line.  It hands over the whole command as one buffer with the
 * literals inline exactly as sent and the final CRLF removed:
 *
 *	A1 LOGIN {5}\r\nalice {6+}\r\nsecret
 *
 * Pure: no I/O.  What a parser reads is allocated from an arena that the
 * parser owns, freed with it, and bounded by a small multiple of the
 * command's length (imap_parser_allocated), so a hostile command costs no
 * more than its own size; nesting is capped (IMAP_PARSE_DEPTH_MAX for
 * parenthesised lists, IMAP_SEARCH_DEPTH_MAX for search keys).
 *
 * Convention: every reader returns 1 when it read its item, or -1 with an
 * error set (imap_parser_error), after which the position is unspecified
 * and the only sensible thing is to answer BAD (or NO, see
 * imap_parser_error_reply) and drop the command.  Readers do not consume
 * the spaces around their item: imap_parse_sp() does.  Names of commands
 * and keywords are case-insensitive, as everywhere in the grammar. */
#ifndef POSTHORN_IMAP_PARSE_H
#define POSTHORN_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of parenthesised lists a command may use. */
#define IMAP_PARSE_DEPTH_MAX 64

/* Flags of imap_parser_new(). */
enum {
	/* UTF8=ACCEPT or IMAP4rev2 was enabled (RFC 6855, RFC 9051):
	 * quoted strings may hold UTF-8, and mailbox names are UTF-8
	 * instead of modified UTF-7. */
	IMAP_PARSE_UTF8 = 1 << 0,
};

/* How a refused command is answered. */
enum imap_parse_reply {
	IMAP_REPLY_BAD,	/* a syntax error: "tag BAD text" */
	IMAP_REPLY_NO,	/* valid syntax, refused: "tag NO text" */
};

struct imap_parser;

/* A string read from the command: always a NUL-terminated copy in the
 * parser's arena (no string read here holds a NUL byte), valid until the
 * parser is freed.  data is NULL only for NIL in an nstring. */
struct imap_string {
	const char *data;
	size_t len;
};

/* Sequence sets (RFC 9051 9 sequence-set, RFC 5182 "$"): the ranges in
 * the order the client wrote them, each lo:hi as written (lo may be
 * greater than hi).  IMAP_SEQ_STAR stands for "*"; a range with saved set
 * is "$", the result saved by SEARCH RETURN (SAVE), and its lo/hi are 0.
 * A single number n is n:n. */
#define IMAP_SEQ_STAR 0u

struct imap_seq_range {
	uint32_t lo, hi;
	bool saved;
};

struct imap_seqset {
	struct imap_seq_range *ranges;	/* in the parser's arena */
	unsigned count;			/* at least 1 */
};

/* System flags (RFC 9051 2.3.2) as bits.  \Recent is never accepted from
 * a client (IMAP4rev1 lets no command set it). */
enum imap_flag {
	IMAP_FLAG_ANSWERED = 1 << 0,
	IMAP_FLAG_FLAGGED = 1 << 1,
	IMAP_FLAG_DELETED = 1 << 2,
	IMAP_FLAG_SEEN = 1 << 3,
	IMAP_FLAG_DRAFT = 1 << 4,
};

/* A set of flags: system flags as bits, keywords as atoms in the order
 * given (duplicates kept; keywords are case-insensitive). */
struct imap_flags {
	unsigned system;
	struct imap_string *keywords;
	unsigned n_keywords;
};

/* --- the parser --- */

/* A parser over buf[0..len), the assembled command; buf must outlive it.
 * flags: IMAP_PARSE_*.  Never NULL (allocation aborts). */
struct imap_parser *imap_parser_new(const char *buf, size_t len,
				    unsigned flags);
void imap_parser_free(struct imap_parser **p);

/* The first error's text, or NULL if there was none.  It is static text
 * for the response, and may begin with a response code such as
 * "[BADCHARSET (US-ASCII UTF-8)]". */
const char *imap_parser_error(const struct imap_parser *p);
/* Whether that error is answered BAD or NO. */
enum imap_parse_reply imap_parser_error_reply(const struct imap_parser *p);

/* Offset of the next unread byte. */
size_t imap_parser_pos(const struct imap_parser *p);
/* The next unread byte, or -1 at the end of the command. */
int imap_parser_peek(const struct imap_parser *p);
/* The byte `ahead` bytes after the next one, or -1 past the end. */
int imap_parser_peek_at(const struct imap_parser *p, size_t ahead);
/* Bytes the arena holds: the fuzzer checks the bound of the header. */
size_t imap_parser_allocated(const struct imap_parser *p);

/* For the modules built on this reader: record an error (the first one
 * wins) and return -1; imap_parser_fail_no is answered NO. */
int imap_parser_fail(struct imap_parser *p, const char *text);
int imap_parser_fail_no(struct imap_parser *p, const char *text);
/* n bytes of zeroed memory in the arena, freed with the parser. */
void *imap_parser_alloc(struct imap_parser *p, size_t n);
/* Room for element n of an array of elem-sized elements in the arena:
 * returns arr while n < *cap, else a copy twice as large (*cap updated);
 * the old array stays in the arena, so the total is at most twice the
 * final array. */
void *imap_parser_grow(struct imap_parser *p, void *arr, unsigned n,
		       unsigned *cap, size_t elem);
/* Count one level of parenthesis nesting in (enter) and out (leave);
 * enter fails past IMAP_PARSE_DEPTH_MAX. */
int imap_parser_enter(struct imap_parser *p);
void imap_parser_leave(struct imap_parser *p);

/* --- the start of every command --- */

/* The tag and the space after it: tag = 1*<ASTRING-CHAR except "+">.
 * *tag_r is set as soon as the tag is read, so a command refused for its
 * "Missing space after tag" is still answered with its tag; when it is
 * left with data NULL the answer is untagged ("* BAD"). */
int imap_parse_tag(struct imap_parser *p, struct imap_string *tag_r);

/* A command name (an atom of letters, as "UID" and "FETCH" are); for
 * "UID FETCH" call imap_parse_sp() and this again. */
int imap_parse_command_name(struct imap_parser *p, struct imap_string *name_r);

/* --- separators and lists --- */

/* Exactly one SP. */
int imap_parse_sp(struct imap_parser *p);
/* The end of the command: nothing may follow ("Extra arguments"). */
int imap_parse_end(struct imap_parser *p);
/* Whether the command is at its end (no error either way). */
bool imap_parse_at_end(const struct imap_parser *p);
/* "(" (counted against IMAP_PARSE_DEPTH_MAX) and ")". */
int imap_parse_list_open(struct imap_parser *p);
int imap_parse_list_close(struct imap_parser *p);
/* If the next byte is c, consume it and return true; no error if not. */
bool imap_parse_skip(struct imap_parser *p, char c);

/* A word of letters, digits, ".", "-" and "_" (keywords such as
 * "BODY.PEEK", "HEADER.FIELDS", "X-GM-EXT-1"); fails if there is none. */
int imap_parse_word(struct imap_parser *p, struct imap_string *word_r);
/* If the next word is exactly `upper` (case-insensitive) and not followed
 * by a further word character, consume it and return true. */
bool imap_parse_skip_word(struct imap_parser *p, const char *upper);

/* Whether the bytes ahead begin with `upper` (letters compared without
 * case); nothing is consumed. */
bool imap_parse_ahead(const struct imap_parser *p, const char *upper);

/* --- strings --- */

/* atom = 1*ATOM-CHAR. */
int imap_parse_atom(struct imap_parser *p, struct imap_string *atom_r);
/* astring = 1*ASTRING-CHAR / string. */
int imap_parse_astring(struct imap_parser *p, struct imap_string *s_r);
/* string = quoted / literal.  Quoted strings take backslash escapes of
 * '"' and '\' only and no CR, LF or NUL; 8-bit only as UTF-8 and only
 * with IMAP_PARSE_UTF8.  Literals take any byte but NUL. */
int imap_parse_string(struct imap_parser *p, struct imap_string *s_r);
/* nstring = string / NIL; for NIL s_r->data is NULL. */
int imap_parse_nstring(struct imap_parser *p, struct imap_string *s_r);

/* A mailbox name (astring) as the store knows it: UTF-8, decoded from
 * modified UTF-7 unless IMAP_PARSE_UTF8, and "INBOX" in any case spelled
 * "INBOX", also as the first level of a longer name ("inbox/x").  A name that is not valid modified UTF-7 (or UTF-8), or that
 * holds a control character, is answered NO. */
int imap_parse_mailbox(struct imap_parser *p, struct imap_string *mbox_r);
/* A LIST pattern: list-mailbox = 1*list-char / string (list-char adds the
 * wildcards "%" and "*" to ASTRING-CHAR), decoded as imap_parse_mailbox
 * does but without the INBOX spelling.  A pattern is not a name, and
 * RFC 3501 6.3.8 only asks that the names returned match it: one that
 * does not decode (not valid modified UTF-7, or not UTF-8 or holding a
 * control character under IMAP_PARSE_UTF8) is no error but is kept as
 * sent, with *raw_r true, to be matched against names as they are
 * written on the wire. */
int imap_parse_list_mailbox(struct imap_parser *p, struct imap_string *pat_r,
			    bool *raw_r);
/* LIST's and LSUB's reference: a mailbox name (astring), decoded, or
 * kept as sent with *raw_r true, as imap_parse_list_mailbox does. */
int imap_parse_list_reference(struct imap_parser *p,
			      struct imap_string *ref_r, bool *raw_r);

/* Whether a mailbox name is INBOX (case-insensitive, RFC 9051 5.1). */
bool imap_mailbox_is_inbox(const char *name, size_t len);
/* Case-insensitive comparison of s with an upper-case ASCII word. */
bool imap_string_eq(const struct imap_string *s, const char *upper);

/* --- numbers --- */

/* number: 0..4294967295; nz-number: 1..4294967295 without leading
 * zeros; number64: 0..2^63-1; nz-number64 (mod-sequence-value):
 * 1..2^63-1 without leading zeros. */
int imap_parse_number(struct imap_parser *p, uint32_t *n_r);
int imap_parse_nz_number(struct imap_parser *p, uint32_t *n_r);
int imap_parse_number64(struct imap_parser *p, uint64_t *n_r);
int imap_parse_nz_number64(struct imap_parser *p, uint64_t *n_r);
/* RFC 7162 mod-sequence-value (1*DIGIT, 1..2^63-1), or with zero_ok
 * mod-sequence-valzer (0 too). */
int imap_parse_modseq(struct imap_parser *p, bool zero_ok, uint64_t *n_r);

/* --- sequence sets --- */

/* sequence-set, including "$" as a member.  The array has exactly as many
 * entries as the set has members. */
int imap_parse_seqset(struct imap_parser *p, struct imap_seqset *set_r);

/* Put the ranges r[0..n) (none of them "$": the caller replaces those
 * with the saved set first) in normal form in place: "*" becomes max,
 * each lo <= hi, sorted, overlapping and adjacent ranges merged.  With
 * max 0 (an empty mailbox) "*" matches nothing: a range "*" goes, "n:*"
 * becomes "1:n".  Returns the new count. */
unsigned imap_seqset_normalize(struct imap_seq_range *r, unsigned n,
			       uint32_t max);
/* Whether v is in the normalized ranges r[0..n) (binary search). */
bool imap_seqset_contains(const struct imap_seq_range *r, unsigned n,
			  uint32_t v);

/* --- flags --- */

/* flag-list = "(" [flag *(SP flag)] ")" into *flags_r.  A flag is
 * "\Answered" "\Flagged" "\Deleted" "\Seen" "\Draft" or a keyword (an
 * atom); \Recent ("cannot be set") and other "\" flags are refused. */
int imap_parse_flag_list(struct imap_parser *p, struct imap_flags *flags_r);
/* flag *(SP flag) without parentheses, as STORE also takes them. */
int imap_parse_flag_seq(struct imap_parser *p, struct imap_flags *flags_r);

/* --- dates --- */

/* date = date-text / DQUOTE date-text DQUOTE, "1-Feb-1994": midnight UTC
 * of that day in seconds since the epoch (SEARCH ignores time zones). */
int imap_parse_date(struct imap_parser *p, int64_t *t_r);
/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time
 * SP zone DQUOTE, "17-Jul-1996 02:44:25 -0700": the moment in seconds
 * since the epoch (UTC) and the zone's offset east of UTC in minutes. */
int imap_parse_date_time(struct imap_parser *p, int64_t *t_r, int *zone_r);

/* --- literals --- */

/* Whether the physical line line[0..len) (no CRLF; it starts at the
 * command's start or right after a literal's bytes) ends with a literal
 * announcement outside a quoted string: "{n}", "{n+}" (LITERAL+ and
 * LITERAL-, *nonsync_r) or "~{n}" / "~{n+}" (BINARY literal8,
 * *binary_r).  Returns 1 with the size in *n_r, 0 if the line does not
 * end so, or -1 if the size is past 2^63-1 (answer BAD, read nothing).
 * The caller compares n with its own limits. */
int imap_parse_literal_end(const char *line, size_t len, uint64_t *n_r,
			   bool *nonsync_r, bool *binary_r);

/* A literal announcement that ends the command (APPEND's message, which
 * the session reads itself): "{n}", "{n+}", "~{n}" or "~{n+}" with
 * nothing after it. */
int imap_parse_final_literal(struct imap_parser *p, uint64_t *n_r,
			     bool *nonsync_r, bool *binary_r);

#endif
