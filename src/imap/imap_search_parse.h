/* imap_search_parse: SEARCH programs (RFC 9051 6.4.4 and 9 search-key,
 * RFC 3501's NEW OLD RECENT, RFC 4731 ESEARCH and RFC 5182 SEARCHRES
 * RETURN options, RFC 7162 MODSEQ, RFC 8514 SAVED*, RFC 8474 EMAILID and
 * THREADID, RFC 5032 OLDER and YOUNGER) into a tree the session
 * evaluates, and the SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO,
 * RFC 5267 RETURN) and THREAD (RFC 5256) commands built on them.
 *
 * Every key of the grammar is a node type of its own, with its argument
 * as parsed; nothing is rewritten (NEW stays NEW, not RECENT UNSEEN).
 * Nesting of NOT, OR and parentheses is capped at IMAP_SEARCH_DEPTH_MAX.
 * Everything points into the parser's arena (imap_parse.h). */
#ifndef POSTHORN_IMAP_SEARCH_PARSE_H
#define POSTHORN_IMAP_SEARCH_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_parse.h"

#define IMAP_SEARCH_DEPTH_MAX 100

enum imap_search_key {
	/* Inner nodes: children holds their keys. */
	IMAP_SK_AND,	/* all match: a parenthesised list, or the program */
	IMAP_SK_OR,	/* either of exactly two */
	IMAP_SK_NOT,	/* exactly one does not match */
	/* No argument. */
	IMAP_SK_ALL, IMAP_SK_ANSWERED, IMAP_SK_DELETED, IMAP_SK_DRAFT,
	IMAP_SK_FLAGGED, IMAP_SK_NEW, IMAP_SK_OLD, IMAP_SK_RECENT,
	IMAP_SK_SEEN, IMAP_SK_UNANSWERED, IMAP_SK_UNDELETED,
	IMAP_SK_UNDRAFT, IMAP_SK_UNFLAGGED, IMAP_SK_UNSEEN,
	IMAP_SK_SAVEDATESUPPORTED,
	/* str: the string to look for (astring). */
	IMAP_SK_BCC, IMAP_SK_BODY, IMAP_SK_CC, IMAP_SK_FROM, IMAP_SK_SUBJECT,
	IMAP_SK_TEXT, IMAP_SK_TO,
	/* str: a keyword (an atom). */
	IMAP_SK_KEYWORD, IMAP_SK_UNKEYWORD,
	/* str: an objectid (1*255 of ALPHA DIGIT "_" "-"). */
	IMAP_SK_EMAILID, IMAP_SK_THREADID,
	/* header: a field name and the string to look for. */
	IMAP_SK_HEADER,
	/* date: midnight UTC of the day given (imap_parse_date). */
	IMAP_SK_BEFORE, IMAP_SK_ON, IMAP_SK_SINCE,
	IMAP_SK_SENTBEFORE, IMAP_SK_SENTON, IMAP_SK_SENTSINCE,
	IMAP_SK_SAVEDBEFORE, IMAP_SK_SAVEDON, IMAP_SK_SAVEDSINCE,
	/* number: a size in octets (number64). */
	IMAP_SK_LARGER, IMAP_SK_SMALLER,
	/* number: an interval in seconds (nz-number). */
	IMAP_SK_OLDER, IMAP_SK_YOUNGER,
	/* modseq. */
	IMAP_SK_MODSEQ,
	/* set: message sequence numbers, or UIDs. */
	IMAP_SK_SEQSET, IMAP_SK_UID,
};

struct imap_search_header {
	struct imap_string name, value;
};

/* RFC 7162 search-modsequence's optional entry. */
enum imap_modseq_entry {
	IMAP_MODSEQ_ENTRY_NONE,	/* MODSEQ n */
	IMAP_MODSEQ_ENTRY_PRIV,
	IMAP_MODSEQ_ENTRY_SHARED,
	IMAP_MODSEQ_ENTRY_ALL,
};

struct imap_search_modseq {
	uint64_t modseq;	/* mod-sequence-valzer */
	enum imap_modseq_entry type;
	/* The flag of "/flags/<flag>", as written ("\Seen", "$Junk");
	 * data NULL with IMAP_MODSEQ_ENTRY_NONE. */
	struct imap_string flag;
};

struct imap_search_node {
	enum imap_search_key key;
	struct imap_search_node *next;	/* next in the parent's list */
	union {
		struct imap_search_node *children;
		struct imap_string str;
		int64_t date;
		uint64_t number;
		struct imap_seqset set;
		const struct imap_search_header *header;
		const struct imap_search_modseq *modseq;
	};
};

/* RETURN options (RFC 4731, RFC 5182) as bits. */
enum {
	IMAP_SEARCH_RET_MIN = 1 << 0,
	IMAP_SEARCH_RET_MAX = 1 << 1,
	IMAP_SEARCH_RET_ALL = 1 << 2,
	IMAP_SEARCH_RET_COUNT = 1 << 3,
	IMAP_SEARCH_RET_SAVE = 1 << 4,
};

enum imap_search_charset {
	IMAP_CHARSET_NONE,	/* not given: US-ASCII, or UTF-8 (RFC 6855) */
	IMAP_CHARSET_US_ASCII,
	IMAP_CHARSET_UTF8,
};

struct imap_search {
	enum imap_search_charset charset;
	/* RETURN (...) was given: answer with ESEARCH.  "RETURN ()" is
	 * RETURN (ALL) (RFC 4731 3.1), so ret is then IMAP_SEARCH_RET_ALL. */
	bool esearch;
	unsigned ret;
	struct imap_search_node *root;	/* IMAP_SK_AND of the keys given */
};

/* SEARCH's arguments, from the space after "SEARCH" to the end of the
 * command: [SP "RETURN" SP "(" [option *(SP option)] ")"] SP ["CHARSET"
 * SP charset SP] search-key *(SP search-key).  A charset other than
 * US-ASCII and UTF-8 is answered NO [BADCHARSET (US-ASCII UTF-8)].
 * Returns 1, or -1 with the parser's error. */
int imap_search_parse(struct imap_parser *p, struct imap_search *s_r);

/* One search-key at the parser's position into *node_r. */
int imap_search_parse_key(struct imap_parser *p,
			  struct imap_search_node **node_r);

enum imap_sort_key {
	IMAP_SORT_ARRIVAL, IMAP_SORT_CC, IMAP_SORT_DATE, IMAP_SORT_FROM,
	IMAP_SORT_SIZE, IMAP_SORT_SUBJECT, IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM, IMAP_SORT_DISPLAYTO,
};

struct imap_sort_criterion {
	enum imap_sort_key key;
	bool reverse;
};

struct imap_sort {
	struct imap_sort_criterion *criteria;	/* in the order given */
	unsigned n_criteria;
	/* The keys, charset (always given) and RFC 5267 RETURN options. */
	struct imap_search search;
};

/* SORT's arguments after "SORT": [SP "RETURN" SP "(" ... ")"] SP "("
 * ["REVERSE" SP] sort-key *(SP ["REVERSE" SP] sort-key) ")" SP charset
 * 1*(SP search-key). */
int imap_search_parse_sort(struct imap_parser *p, struct imap_sort *s_r);

enum imap_thread_alg {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

struct imap_thread {
	enum imap_thread_alg alg;
	struct imap_search search;
};

/* THREAD's arguments after "THREAD": SP thread-alg SP charset
 * 1*(SP search-key).  An algorithm other than the two is BAD. */
int imap_search_parse_thread(struct imap_parser *p, struct imap_thread *t_r);

#endif
