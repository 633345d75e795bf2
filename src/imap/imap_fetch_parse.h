/* imap_fetch_parse: the arguments of FETCH (RFC 9051 6.4.5 and 9, RFC
 * 3501's RFC822 items, RFC 3516 BINARY, RFC 7162 MODSEQ and CHANGEDSINCE /
 * VANISHED, RFC 8970 PREVIEW, RFC 8474 EMAILID / THREADID, RFC 8514
 * SAVEDATE) into a plain list of items the session walks.
 *
 * Everything points into the parser's arena (imap_parse.h). */
#ifndef POSTHORN_IMAP_FETCH_PARSE_H
#define POSTHORN_IMAP_FETCH_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_parse.h"

enum imap_fetch_item {
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY,	  /* BODY: the structure, no extension data */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,
	/* RFC822, RFC822.HEADER and RFC822.TEXT are BODY[], BODY.PEEK[HEADER]
	 * and BODY[TEXT] answered under their own names: section and peek
	 * are set to say so.  RFC822.PEEK is RFC822 with peek set. */
	IMAP_FETCH_RFC822,
	IMAP_FETCH_RFC822_HEADER,
	IMAP_FETCH_RFC822_TEXT,
	IMAP_FETCH_BODY_SECTION,  /* BODY[section]<partial>, BODY.PEEK[...] */
	IMAP_FETCH_BINARY,	  /* BINARY[part]<partial>, BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,	  /* BINARY.SIZE[part] */
	IMAP_FETCH_PREVIEW,
	IMAP_FETCH_EMAILID,
	IMAP_FETCH_THREADID,
	IMAP_FETCH_SAVEDATE,
};

/* What a section names inside its part (RFC 9051 6.4.5). */
enum imap_section_text {
	IMAP_SECTION_ALL,		 /* [] or [1.2]: the whole part */
	IMAP_SECTION_HEADER,		 /* [HEADER], [1.2.HEADER] */
	IMAP_SECTION_HEADER_FIELDS,	 /* [HEADER.FIELDS (A B)] */
	IMAP_SECTION_HEADER_FIELDS_NOT,	 /* [HEADER.FIELDS.NOT (A B)] */
	IMAP_SECTION_TEXT,		 /* [TEXT], [1.2.TEXT] */
	IMAP_SECTION_MIME,		 /* [1.2.MIME]: only after a part */
};

struct imap_section {
	uint32_t *part;		/* 1.2.3 is {1, 2, 3}; each >= 1 */
	unsigned depth;		/* 0: the message itself */
	enum imap_section_text text;
	/* HEADER.FIELDS[.NOT]: the field names as given (astrings). */
	struct imap_string *fields;
	unsigned n_fields;
};

struct imap_fetch_att {
	enum imap_fetch_item item;
	bool peek;		/* BODY.PEEK / BINARY.PEEK / RFC822.HEADER /
				 * RFC822.PEEK: \Seen is not set */
	bool lazy;		/* PREVIEW (LAZY) */
	bool partial;		/* <start.count> was given */
	uint64_t partial_start, partial_count;	/* count >= 1 */
	struct imap_section section;	/* body, binary and RFC822 items */
};

struct imap_fetch {
	struct imap_seqset set;
	/* In the order given; ALL, FAST and FULL expanded (RFC 9051
	 * 6.4.5); duplicates kept. */
	struct imap_fetch_att *atts;
	unsigned n_atts;
	bool changedsince;		/* (CHANGEDSINCE n) */
	uint64_t changedsince_modseq;
	bool vanished;			/* (VANISHED): UID FETCH only */
};

/* FETCH's arguments, from the space after "FETCH" to the end of the
 * command: SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
 * "(" fetch-att *(SP fetch-att) ")") [SP "(" fetch-modifier *(SP
 * fetch-modifier) ")"].  uid: this is UID FETCH (VANISHED needs it, and
 * it needs CHANGEDSINCE).  Returns 1, or -1 with the parser's error. */
int imap_fetch_parse(struct imap_parser *p, bool uid, struct imap_fetch *f_r);

/* One fetch-att at the parser's position, into *att_r. */
int imap_fetch_parse_att(struct imap_parser *p, struct imap_fetch_att *att_r);

#endif
