/* cli_mailfmt: the mail formats `posthorn import` reads and `posthorn
 * export` writes, as Dovecot, mutt and Thunderbird lay them out:
 *
 * - Maildir file names "unique:2,FLAGS": S Seen, R Answered, F Flagged,
 *   T Deleted, D Draft, and a-z for keywords numbered in the folder's
 *   dovecot-keywords file ("0 $Junk" lines).
 * - Dovecot's dovecot-uidlist (which UID each file has) and subscriptions
 *   file (version 2: "V\t2\n\n", then one name a line, levels separated by
 *   tabs; version 1: one name a line).
 * - Folder names on disk: levels joined by "." (Maildir++) or "/" (LAYOUT=fs),
 *   each level in modified UTF-7; in Maildir++ names, "." and "\" inside
 *   a level are written "\2e" and "\5c" (the escaping of Dovecot's
 *   listescape plugin).
 * - mbox: messages separated by "From " lines that follow an empty line (or
 *   open the file), body lines quoted as mboxrd does (">From " for "From ",
 *   ">>From " for ">From "), flags in Status, X-Status, X-Keywords,
 *   X-Mozilla-Status and X-Mozilla-Keys.
 *
 * Everything here is pure: bytes in, results out; the input is untrusted
 * (tests/fuzz/fuzz_mailfmt.c). */
#ifndef POSTHORN_CLI_MAILFMT_H
#define POSTHORN_CLI_MAILFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct str;

/* Longest mailbox name, in bytes of UTF-8, as IMAP CREATE allows. */
#define MAILFMT_NAME_MAX 512
/* Keyword letters a Maildir file name can carry. */
#define MAILFMT_KEYWORDS 26

/* A mailbox name IMAP could have created: valid UTF-8 without control
 * characters, no empty level, no "%" or "*", at most MAILFMT_NAME_MAX. */
bool mailfmt_name_ok(const char *name, size_t len);
/* An IMAP keyword (flag-keyword: an atom, no "\"), at most 100 bytes. */
bool mailfmt_keyword_ok(const char *kw, size_t len);

/* ---- Maildir ---- */

/* The length of a file name's unique part, up to its ":" (the key of
 * dovecot-uidlist). */
size_t mailfmt_maildir_base(const char *name, size_t len);
/* The flags of a file name (STORE_FLAG_*) and its keyword letters (bit i
 * for 'a' + i).  No ":2," means none. */
void mailfmt_maildir_info(const char *name, size_t len, unsigned *flags_r,
			  uint32_t *letters_r);
/* ":2," then the flag letters (in ASCII order, as Dovecot writes them),
 * then the keyword letters, NUL-terminated. */
void mailfmt_maildir_info_write(unsigned flags, uint32_t letters,
				char out[40]);

/* dovecot-keywords: names[i] (malloc'ed, NULL where unset) for each
 * "i name" line with i < MAILFMT_KEYWORDS and a valid keyword.  Other lines
 * are ignored. */
void mailfmt_keywords_parse(const char *text, size_t len,
			    char *names_r[MAILFMT_KEYWORDS]);
void mailfmt_keywords_clear(char *names[MAILFMT_KEYWORDS]);

struct mailfmt_uid {
	uint32_t uid;
	char *base;	/* the file name's unique part, malloc'ed */
};
/* dovecot-uidlist (versions 1 to 3): the entries, sorted by base (for
 * mailfmt_uid_find); lines that do not parse are skipped.  *r is
 * malloc'ed, free it with mailfmt_uids_free. */
void mailfmt_uidlist_parse(const char *text, size_t len,
			   struct mailfmt_uid **r, size_t *n_r);
/* The UID of a base name, 0 if it has none. */
uint32_t mailfmt_uid_find(const struct mailfmt_uid *uids, size_t n,
			  const char *base, size_t len);
void mailfmt_uids_free(struct mailfmt_uid **uids, size_t n);

/* A folder's name on disk, its levels separated by sep ('.' for Maildir++,
 * where "\XX" escapes are undone, '/' or '\t'), to the UTF-8 mailbox
 * name, appended to out ("INBOX" in any case as the first level becomes
 * "INBOX").  Returns 1, or -1 when it does not make a
 * valid name (out is then left as it was). */
int mailfmt_folder_decode(const char *s, size_t len, char sep,
			  struct str *out);
/* The other way: a mailbox name to its Maildir++ directory name without
 * the leading "." (levels joined by "."). Returns 1 or -1 (not a valid
 * name). */
int mailfmt_folder_encode(const char *name, struct str *out);

/* Dovecot's subscriptions file: fn(name) for each name that decodes to a
 * valid mailbox name (version 1 lines are split on "/" when they hold
 * one, else on `sep`). */
void mailfmt_subscriptions_parse(const char *text, size_t len, char sep,
				 void (*fn)(const char *name, void *ctx),
				 void *ctx);
/* One version 2 line for a mailbox name (levels joined by tabs, each in
 * modified UTF-7, and the newline).  Returns 1 or -1 (invalid name). */
int mailfmt_subscription_write(const char *name, struct str *out);

/* ---- mbox ---- */

struct mailfmt_mbox_msg {
	size_t from, from_len;	/* the From_ line, without its newline */
	size_t off, len;	/* the message, without the separating
				   empty line */
};

/* Whether data looks like an mbox: empty, or its first line a From_
 * line. */
bool mailfmt_mbox_is(const char *data, size_t len);
/* The message whose From_ line starts at *pos; *pos moves to the next
 * one.  Returns 1, or 0 at the end. */
int mailfmt_mbox_next(const char *data, size_t len, size_t *pos,
		      struct mailfmt_mbox_msg *m_r);
/* The date of a From_ line ("From sender Wed Jan  3 10:00:00 2024", with
 * or without seconds, a numeric zone before or after the year).  Without
 * a zone it is local time (mktime).  Returns 1, or 0 when there is none. */
int mailfmt_mbox_date(const char *line, size_t len, int64_t *t_r);

/* The flags and keywords in a message's header (up to its first empty
 * line).  Keywords (space-separated, valid ones only, no repeats) are
 * appended to kw.  *gone_r: Thunderbird marked it expunged (a deleted
 * message waiting for the folder's compaction). */
void mailfmt_mbox_flags(const char *msg, size_t len, unsigned *flags_r,
			struct str *kw, bool *gone_r);

/* ---- message bytes ---- */

enum {
	MAILFMT_CRLF = 1 << 0,	  /* a bare LF becomes CRLF */
	MAILFMT_UNQUOTE = 1 << 1, /* ">From " (one level) loses its ">" */
};

/* Whether mailfmt_convert would change anything. */
bool mailfmt_convert_needed(const char *in, size_t len, unsigned how);
/* Feed the converted bytes to out, in pieces.  Returns their total
 * length, at most 2 * len. */
uint64_t mailfmt_convert(const char *in, size_t len, unsigned how,
			 void (*out)(const char *p, size_t n, void *ctx),
			 void *ctx);

#endif
