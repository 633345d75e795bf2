/* imap_args: the arguments of the IMAP commands other than FETCH and
 * SEARCH/SORT/THREAD, each from the space after the command's name to
 * the end of the command (RFC 9051 6 and 9, with the extensions named at
 * each).  Each function returns 1, or -1 with the parser's error (BAD,
 * or NO where noted).  Everything points into the parser's arena
 * (imap_parse.h); mailbox names are read with imap_parse_mailbox. */
#ifndef POSTHORN_IMAP_ARGS_H
#define POSTHORN_IMAP_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_parse.h"

/* LOGIN: SP userid SP password (astrings). */
int imap_args_login(struct imap_parser *p, struct imap_string *user_r,
		    struct imap_string *pass_r);

/* AUTHENTICATE: SP auth-type [SP initial-response] (RFC 4959 SASL-IR).
 * The response is BASE64 or "=" (empty), left encoded; data NULL when
 * there is none. */
int imap_args_authenticate(struct imap_parser *p, struct imap_string *mech_r,
			   struct imap_string *initial_r);

/* SELECT, DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT...: SP mailbox. */
int imap_args_mailbox(struct imap_parser *p, struct imap_string *mbox_r);

/* RENAME: SP mailbox SP mailbox. */
int imap_args_rename(struct imap_parser *p, struct imap_string *from_r,
		     struct imap_string *to_r);

/* COPY and MOVE (RFC 6851): SP sequence-set SP mailbox. */
int imap_args_copy(struct imap_parser *p, struct imap_seqset *set_r,
		   struct imap_string *mbox_r);

/* --- STORE (RFC 9051 6.4.6, RFC 7162 UNCHANGEDSINCE) --- */

enum imap_store_op {
	IMAP_STORE_REPLACE,	/* FLAGS */
	IMAP_STORE_ADD,		/* +FLAGS */
	IMAP_STORE_REMOVE,	/* -FLAGS */
};

struct imap_store {
	struct imap_seqset set;
	enum imap_store_op op;
	bool silent;			/* .SILENT */
	struct imap_flags flags;	/* may be empty: FLAGS () */
	bool unchangedsince;		/* (UNCHANGEDSINCE n) was given */
	uint64_t unchangedsince_modseq;	/* mod-sequence-valzer */
};

/* SP sequence-set [SP "(" "UNCHANGEDSINCE" SP n ")"] SP store-att-flags,
 * the flags in parentheses or not. */
int imap_args_store(struct imap_parser *p, struct imap_store *s_r);

/* --- STATUS (RFC 9051 6.3.11, RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ,
 *     RFC 7889 APPENDLIMIT, RFC 8474 MAILBOXID) --- */

enum {
	IMAP_STATUS_MESSAGES = 1 << 0,
	IMAP_STATUS_UIDNEXT = 1 << 1,
	IMAP_STATUS_UIDVALIDITY = 1 << 2,
	IMAP_STATUS_UNSEEN = 1 << 3,
	IMAP_STATUS_DELETED = 1 << 4,
	IMAP_STATUS_SIZE = 1 << 5,
	IMAP_STATUS_RECENT = 1 << 6,
	IMAP_STATUS_HIGHESTMODSEQ = 1 << 7,
	IMAP_STATUS_APPENDLIMIT = 1 << 8,
	IMAP_STATUS_MAILBOXID = 1 << 9,
};

struct imap_status {
	struct imap_string mailbox;
	unsigned items;		/* IMAP_STATUS_* bits */
};

/* SP mailbox SP "(" status-att *(SP status-att) ")". */
int imap_args_status(struct imap_parser *p, struct imap_status *s_r);
/* "(" status-att *(SP status-att) ")" into IMAP_STATUS_* bits. */
int imap_args_status_items(struct imap_parser *p, unsigned *items_r);

/* --- LIST and LSUB (RFC 9051 6.3.9, RFC 5258 LIST-EXTENDED, RFC 6154
 *     SPECIAL-USE, RFC 5819 LIST-STATUS) --- */

enum {
	IMAP_LIST_SEL_SUBSCRIBED = 1 << 0,
	IMAP_LIST_SEL_REMOTE = 1 << 1,
	IMAP_LIST_SEL_RECURSIVEMATCH = 1 << 2,
	IMAP_LIST_SEL_SPECIAL_USE = 1 << 3,
};

enum {
	IMAP_LIST_RET_SUBSCRIBED = 1 << 0,
	IMAP_LIST_RET_CHILDREN = 1 << 1,
	IMAP_LIST_RET_SPECIAL_USE = 1 << 2,
	IMAP_LIST_RET_STATUS = 1 << 3,
};

struct imap_list {
	unsigned select;	/* IMAP_LIST_SEL_* */
	unsigned ret;		/* IMAP_LIST_RET_* */
	unsigned status_items;	/* RETURN (STATUS (...)): IMAP_STATUS_* */
	/* The extended syntax was used (selection options, a list of
	 * patterns or return options): answer as RFC 5258 says. */
	bool extended;
	struct imap_string reference;	/* a mailbox name, maybe "" */
	bool reference_raw;		/* kept as sent: see below */
	struct imap_string *patterns;	/* imap_parse_list_mailbox */
	/* Per pattern: it did not decode and is kept as sent
	 * (imap_parse_list_mailbox). */
	bool *patterns_raw;
	unsigned n_patterns;		/* at least 1 */
};

/* LIST: [SP "(" selection options ")"] SP mailbox SP (list-mailbox /
 * "(" list-mailbox *(SP list-mailbox) ")") [SP "RETURN" SP "(" return
 * options ")"].  RECURSIVEMATCH without SUBSCRIBED or SPECIAL-USE, and
 * an unknown option, are BAD (RFC 5258 3). */
int imap_args_list(struct imap_parser *p, struct imap_list *l_r);
/* LSUB: SP mailbox SP list-mailbox, into the same struct. */
int imap_args_lsub(struct imap_parser *p, struct imap_list *l_r);

/* --- SELECT and EXAMINE (RFC 7162 CONDSTORE and QRESYNC) --- */

struct imap_select {
	struct imap_string mailbox;
	bool condstore;
	bool qresync;	/* QRESYNC (uidvalidity modseq [known-uids]
			 * [(known-sequence-set known-uid-set)]) */
	uint32_t uidvalidity;
	uint64_t modseq;
	/* Count 0 when not given; no "*" or "$" in them. */
	struct imap_seqset known_uids;
	struct imap_seqset match_seqs, match_uids;
};

/* SP mailbox [SP "(" select-param *(SP select-param) ")"]. */
int imap_args_select(struct imap_parser *p, struct imap_select *s_r);

/* --- APPEND (RFC 9051 6.3.12, RFC 3516 literal8, RFC 6855 UTF8) --- */

struct imap_append {
	struct imap_string mailbox;
	struct imap_flags flags;	/* empty without a flag list */
	bool has_date;
	int64_t date;			/* imap_parse_date_time */
	int zone;
	/* The message's literal announcement, which ends the buffer. */
	uint64_t size;
	bool nonsync;			/* {n+} */
	bool binary;			/* ~{n}: literal8, NULs allowed */
	/* UTF8 (~{n}) (RFC 6855 4): after the literal's bytes, the rest of
	 * the line must be ")"; otherwise it must be empty. */
	bool utf8;
};

/* The part of an APPEND command up to and including the message's
 * literal announcement, which must end the buffer (the session reads the
 * message itself): SP mailbox [SP flag-list] [SP date-time] SP (literal
 * / literal8 / "UTF8" SP "(" literal8).  An empty message ({0}) is
 * the session's to refuse or not. */
int imap_args_append(struct imap_parser *p, struct imap_append *a_r);

/* --- ENABLE (RFC 5161), ID (RFC 2971), CREATE (RFC 6154) --- */

/* 1*(SP capability), capability = atom, in the order given. */
int imap_args_enable(struct imap_parser *p, struct imap_string **caps_r,
		     unsigned *n_r);

#define IMAP_ID_PAIRS_MAX 30
#define IMAP_ID_FIELD_MAX 30
#define IMAP_ID_VALUE_MAX 1024

struct imap_id_param {
	struct imap_string field;
	struct imap_string value;	/* data NULL for NIL */
};

/* SP ("(" [string SP nstring *(SP string SP nstring)] ")" / NIL); NIL
 * and "()" give no pairs.  RFC 2971's limits (30 pairs, fields of 30
 * octets, values of 1024) are BAD past them. */
int imap_args_id(struct imap_parser *p, struct imap_id_param **params_r,
		 unsigned *n_r);

enum {
	IMAP_USE_ALL = 1 << 0,
	IMAP_USE_ARCHIVE = 1 << 1,
	IMAP_USE_DRAFTS = 1 << 2,
	IMAP_USE_FLAGGED = 1 << 3,
	IMAP_USE_JUNK = 1 << 4,
	IMAP_USE_SENT = 1 << 5,
	IMAP_USE_TRASH = 1 << 6,
};

struct imap_create {
	struct imap_string mailbox;
	unsigned use;		/* IMAP_USE_* from (USE (...)) */
};

/* SP mailbox [SP "(" create-param *(SP create-param) ")"] with
 * create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")".  An unknown
 * special-use attribute is answered NO [USEATTR]; another parameter is
 * BAD. */
int imap_args_create(struct imap_parser *p, struct imap_create *c_r);

#endif
