/* store: accounts, mailboxes and messages, behind one interface.
 *
 * Nothing outside src/store/ sees SQL or file layout.  The embedded back end
 * (SQLite + one database per account) implements this today; a PostgreSQL
 * back end will implement the same functions, selected by store.backend.
 *
 * Threads: every function may be called from any thread.  Functions that
 * touch the disk block, so protocol sessions call them from worker threads,
 * never from an event loop.
 *
 * Addresses passed in are canonical (see mime/addr.h): the store compares
 * them byte for byte.
 *
 * Return convention: -1 error, 0 not found / already there, 1 done.  Where
 * an `err_r` is given, an error comes with a sentence for the admin, valid
 * until the next call on the same thread. */
#ifndef POSTHORN_STORE_H
#define POSTHORN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct store;
struct store_account;

/* Open (creating if needed) the store under data_dir.  Returns 1, or -1
 * with the reason in err_r. */
int store_open(const char *data_dir, struct store **store_r,
	       const char **err_r);
void store_free(struct store **store);

/* ---- domains ---- */

int store_domain_add(struct store *store, const char *domain,
		     const char **err_r);
/* Refuses (-1) while users or aliases of the domain remain. */
int store_domain_remove(struct store *store, const char *domain,
			const char **err_r);
int store_domain_exists(struct store *store, const char *domain);
/* Calls fn for each domain in sorted order; returns -1 or 1. */
int store_domain_list(struct store *store,
		      void (*fn)(const char *domain, void *ctx), void *ctx);

/* ---- users ---- */

struct store_user {
	int64_t id;	  /* assigned by the store, never reused */
	char *address;	  /* canonical local@domain */
	char *password;	  /* a hash string, see auth/auth_pass.h */
	uint64_t quota;	  /* bytes, 0 = none */
	char *name;	  /* display name, may be empty */
	/* SCRAM-SHA-256 secret (auth/auth_scram.h's stored form); NULL or
	 * "" for none.  Written by add and import, filled by lookup. */
	char *scram;
};

void store_user_clear(struct store_user *user);

/* The user's domain must exist.  Returns 1, 0 if the address is already a
 * user or an alias, -1 on error. */
int store_user_add(struct store *store, const struct store_user *user,
		   const char **err_r);
/* All or nothing, in one transaction.  On a conflict returns -1 with the
 * index of the offending entry in *bad_r. */
int store_user_import(struct store *store, const struct store_user *users,
		      size_t n, size_t *bad_r, const char **err_r);
/* Removes the user and all its mail.  A delivery to it in flight, in this
 * process or another, fails (STORE_FAIL_GONE) rather than end in a 250
 * for a message written into a database about to be deleted. */
int store_user_remove(struct store *store, const char *address,
		      const char **err_r);
/* Fills *user_r (caller clears it). */
int store_user_lookup(struct store *store, const char *address,
		      struct store_user *user_r);
/* Also drops the SCRAM secret, which belongs to the old password: set
 * the new one with store_user_set_scram(). */
int store_user_set_password(struct store *store, const char *address,
			    const char *password);
/* Compare-and-set: store the SCRAM secret only if the password hash is
 * still `password` (the one the secret was made with).  Returns 1 when
 * stored, 0 when the hash changed meanwhile or the user is gone, -1 with
 * the reason in err_r. */
int store_user_set_scram(struct store *store, const char *address,
			 const char *password, const char *scram,
			 const char **err_r);
/* Compare-and-set: replace the user's password hash with `password` only
 * if it is still `old`.  Returns 1 when replaced, 0 when the stored hash
 * is no longer `old` (changed meanwhile) or the user is gone, -1 with the
 * reason in err_r. */
int store_user_replace_password(struct store *store, const char *address,
				const char *old, const char *password,
				const char **err_r);
/* The domain's first user (lowest id) into *id_r; 1, 0 if none, -1. */
int store_domain_first_user(struct store *store, const char *domain,
			    int64_t *id_r);
/* The oldest domain's name into out (size bytes); 1, 0 if none, -1. */
int store_domain_first(struct store *store, char *out, size_t size);
/* The store's only domain into out (size bytes): 1, 0 when there are
 * none or several, -1. */
int store_domain_only(struct store *store, char *out, size_t size);

/* domain may be NULL for all users. */
int store_user_list(struct store *store, const char *domain,
		    void (*fn)(const struct store_user *user, void *ctx),
		    void *ctx);

/* ---- app passwords ----
 * Extra passwords of a user, one per device, each with a name unique for
 * that user; only a hash is kept (see auth/auth_pass.h).  Removing the
 * user removes them. */

#define STORE_APP_PASSWORDS_MAX 20	/* per user */

struct store_app_password {
	const char *name;
	const char *hash;
	int64_t created;	/* unix time */
	int64_t last_used;	/* unix time, 0 = never */
};

/* Returns 1, 0 when the user already has one by that name, -1 with the
 * reason in err_r (no such user, STORE_APP_PASSWORDS_MAX reached). */
int store_app_password_add(struct store *store, int64_t user_id,
			   const char *name, const char *hash,
			   const char **err_r);
/* Calls fn for each of the user's app passwords, newest first (the
 * strings are valid during the call; fn must not call the store).
 * Returns 1 or -1. */
int store_app_password_list(struct store *store, int64_t user_id,
			    void (*fn)(const struct store_app_password *ap,
				       void *ctx),
			    void *ctx, const char **err_r);
/* Returns 1, 0 when the user has none by that name, -1. */
int store_app_password_remove(struct store *store, int64_t user_id,
			      const char *name, const char **err_r);
/* Record a login with it at `when`.  Returns 1, 0 when it is gone, -1. */
int store_app_password_used(struct store *store, int64_t user_id,
			    const char *name, int64_t when,
			    const char **err_r);

/* ---- aliases ----
 * An alias is "local@domain", or "@domain" for the domain's catch-all. */

int store_alias_add(struct store *store, const char *alias,
		    const char *const *targets, size_t ntargets,
		    const char **err_r);
int store_alias_remove(struct store *store, const char *alias);
/* Calls fn for each target; returns 1 if the alias exists, 0 if not. */
int store_alias_targets(struct store *store, const char *alias,
			void (*fn)(const char *target, void *ctx), void *ctx);
int store_alias_list(struct store *store,
		     void (*fn)(const char *alias, const char *target,
				void *ctx),
		     void *ctx);

/* Calls fn for each alias (not catch-all) whose target is `target`
 * itself, in sorted order; returns 1 or -1. */
int store_alias_sources(struct store *store, const char *target,
			void (*fn)(const char *alias, void *ctx), void *ctx);

/* ---- sender exceptions ----
 * Addresses a user may send as besides their own and their aliases (see
 * smtp/smtp_sender.h for the patterns: "a@b", "*@b", "*").  They go with
 * the user when it is removed. */

/* Returns 1 when added, 0 when it was there, -1 with the reason in err_r
 * (no such user, store error). */
int store_sender_add(struct store *store, const char *address,
		     const char *pattern, const char **err_r);
/* Returns 1 when removed, 0 when it was not there, -1 (err_r). */
int store_sender_remove(struct store *store, const char *address,
			const char *pattern, const char **err_r);
/* Calls fn for each of the user's patterns, sorted; returns 1, 0 if there
 * is no such user, -1 on error. */
int store_sender_list(struct store *store, const char *address,
		      void (*fn)(const char *pattern, void *ctx), void *ctx);

/* ---- mail ----
 * An account handle is shared by all sessions of that account in this
 * process and ref-counted.
 *
 * Mail functions fail with a class as well as a sentence: they return one
 * of these (never plain -1 outside this set) and, when err_r is not NULL,
 * set *err_r to the cause as SQLite or the OS gave it ("database or disk is
 * full", "file is not a database"), valid until the next store call on the
 * same thread.  A caller that only wants "it failed" tests `< 0`. */
enum store_fail {
	STORE_FAIL_TEMP = -1,	     /* I/O error, locked: try again later */
	STORE_FAIL_FULL = -2,	     /* the disk or the database is full */
	STORE_FAIL_QUOTA = -3,	     /* the account is over its quota */
	STORE_FAIL_QUOTA_NEVER = -4, /* larger than the account's quota */
	STORE_FAIL_GONE = -5,	     /* the account was removed meanwhile */
	STORE_FAIL_BROKEN = -6,	     /* its database is corrupt or unreadable */
	STORE_FAIL_EXISTS = -7,	     /* the name is taken (mailboxes) */
	STORE_FAIL_LIMIT = -8,	     /* a keyword past STORE_KEYWORDS_MAX */
};

/* A short name for a class ("temp", "full", ...), for logs. */
const char *store_fail_name(int fail);

/* Returns 1 or a store_fail: STORE_FAIL_GONE when the user no longer
 * exists, STORE_FAIL_BROKEN when its database cannot be read. */
int store_account_open(struct store *store, int64_t user_id,
		       struct store_account **acct_r, const char **err_r);
void store_account_unref(struct store_account **acct);

/* Whether a message of `size` bytes fits in the account's quota now; size
 * 0 asks whether the account is under its quota at all.  This opens the
 * account and reads its usage row, so a broken database is found here.
 * Returns 1 if it fits (always, without a quota), 0 if not now (over
 * quota; *err_r says by how much), STORE_FAIL_QUOTA_NEVER if size is above
 * the whole quota, or another store_fail. */
int store_account_room(struct store *store, int64_t user_id, uint64_t size,
		       const char **err_r);

/* The account's usage (bytes and messages in all its mailboxes) and its
 * quota in bytes (0 = none).  Returns 1 or a store_fail. */
int store_account_usage(struct store *store, int64_t user_id,
			uint64_t *bytes_r, uint64_t *messages_r,
			uint64_t *quota_r, const char **err_r);

/* Close the cached handles of accounts whose database another process
 * removed (`posthorn user remove` while the server runs), so the space of
 * the deleted files is given back; a handle in use is closed when its
 * last user lets go.  Blocks briefly (a stat per cached handle): call it
 * from a worker, now and then. */
void store_release_removed(struct store *store);

/* How long the server leaves an account handle unused before
 * store_trim_idle() takes its caches. */
#define STORE_TRIM_IDLE_SECONDS 30

/* Give back the page caches of account handles nobody has used for
 * idle_seconds (once per quiet spell), so that the accounts a server has
 * served cost little memory once they are quiet; a handle in use keeps
 * them.  Blocks briefly (waits for a handle's writer if one runs at that
 * moment): call it from a worker, now and then. */
void store_trim_idle(struct store *store, unsigned idle_seconds);

/* An in-process exclusive claim on an account, e.g. for a POP3 maildrop.
 * It is kept apart from account handles, so a session can hold the claim
 * without holding a handle (and its database connection) while idle.
 * Returns 1 when taken, 0 when someone else holds it. */
int store_account_claim(struct store *store, int64_t user_id);
void store_account_release(struct store *store, int64_t user_id);

/* IMAP system flags as bits; keywords are kept apart. */
enum {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
};

struct store_mailbox {
	int64_t id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};

/* A mailbox's identity and counters (cheap: no message is looked at).
 * Returns 1, 0 if there is no such mailbox, or a store_fail. */
int store_mailbox_find(struct store_account *acct, const char *name,
		       struct store_mailbox *mbox_r, const char **err_r);

struct store_msg {
	uint32_t uid;
	uint64_t size;
};

/* The mailbox's messages in UID order; *msgs_r is malloc'ed (caller
 * frees).  Returns 1 or a store_fail. */
int store_msg_list(struct store_account *acct, int64_t mailbox_id,
		   struct store_msg **msgs_r, size_t *n_r, const char **err_r);

/* The bytes of a message to store: the pieces in iov, joined, then, when
 * fd >= 0, fd_len bytes read from fd at offset 0 (pread: the file offset is
 * left alone).  The store reads them in pieces, so a large message never
 * has to be in memory whole. */
struct store_source {
	const struct iovec *iov;
	int iovcnt;
	int fd;
	uint64_t fd_len;
};

/* Store a message durably: returns 1 only after the transaction holding
 * its bytes and index row is on disk.  Deliveries to one account that
 * arrive while a commit is syncing share the next commit.  The quota and
 * whether the account was removed are checked again inside that
 * transaction.  The message joins the thread (thread_id) of the
 * account's messages its References or In-Reply-To name, or of those
 * that name its Message-ID, else starts one; subjects are not compared.
 * Returns 1 or a store_fail. */
int store_msg_deliver(struct store_account *acct, int64_t mailbox_id,
		      const struct store_source *src, int64_t internaldate,
		      uint32_t *uid_r, const char **err_r);

/* Read up to n bytes of a message from offset; *got_r = 0 at the end.
 * Returns 1, 0 if the message is gone, or a store_fail. */
int store_msg_read(struct store_account *acct, int64_t mailbox_id,
		   uint32_t uid, uint64_t offset, void *buf, size_t n,
		   size_t *got_r, const char **err_r);

/* Remove messages for good (POP3 DELE at QUIT, IMAP EXPUNGE).  This works
 * on a full disk too: the store keeps a reserve of space that it gives up
 * for deleting (and logs that it did).  Returns 1 or a store_fail. */
int store_msg_expunge(struct store_account *acct, int64_t mailbox_id,
		      const uint32_t *uids, size_t n, const char **err_r);

/* ---- IMAP: mailboxes ----
 * Mailbox names are UTF-8 with "/" as the hierarchy delimiter; "INBOX" is
 * always spelt so (the caller maps any case of it).  Every change to a
 * mailbox or its messages raises its HIGHESTMODSEQ; UIDs are never reused
 * and a name created again gets a new UIDVALIDITY. */

enum store_special {
	STORE_SPECIAL_NONE,
	STORE_SPECIAL_DRAFTS,
	STORE_SPECIAL_SENT,
	STORE_SPECIAL_TRASH,
	STORE_SPECIAL_JUNK,
	STORE_SPECIAL_ARCHIVE,
	STORE_SPECIAL_ALL,
	STORE_SPECIAL_FLAGGED,
	STORE_SPECIAL_COUNT
};
/* "\\Sent" etc. (RFC 6154), NULL for NONE; and back (case-insensitive),
 * STORE_SPECIAL_NONE when unknown. */
const char *store_special_name(enum store_special use);
enum store_special store_special_parse(const char *name, size_t len);

struct store_mailbox_info {
	int64_t id;
	const char *name;
	enum store_special special;
	bool subscribed;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};

/* Every mailbox, sorted by name; and the names subscribed to that no
 * longer exist (id 0).  The strings are valid during the call. */
int store_mailbox_list(struct store_account *acct,
		       void (*fn)(const struct store_mailbox_info *mb,
				  void *ctx),
		       void *ctx, const char **err_r);

/* Returns 1, 0 when the name exists already, or a store_fail. */
int store_mailbox_create(struct store_account *acct, const char *name,
			 enum store_special special, const char **err_r);
/* Deletes the mailbox and its messages (not INBOX).  Returns 1, 0 when it
 * does not exist, or a store_fail. */
int store_mailbox_delete(struct store_account *acct, const char *name,
			 const char **err_r);
/* Renames the mailbox and the mailboxes below it ("a" also renames
 * "a/b").  Renaming INBOX moves its messages to the new mailbox and
 * leaves INBOX empty (RFC 9051 6.3.6).  Returns 1, 0 when `from` does not
 * exist, STORE_FAIL_EXISTS when `to` does, or a store_fail. */
int store_mailbox_rename(struct store_account *acct, const char *from,
			 const char *to, const char **err_r);
int store_mailbox_subscribe(struct store_account *acct, const char *name,
			    bool on, const char **err_r);

/* ---- IMAP: keywords and \Recent of a mailbox ----
 * The keywords defined in a mailbox are every keyword a message of it has
 * carried since it was created (compared without regard to ASCII case):
 * the set only grows, and STORE, APPEND, COPY and MOVE that would take it
 * past STORE_KEYWORDS_MAX, or bring a keyword longer than
 * STORE_KEYWORD_LEN_MAX bytes, fail with STORE_FAIL_LIMIT and change
 * nothing. */
#define STORE_KEYWORDS_MAX 256
#define STORE_KEYWORD_LEN_MAX 100

/* How many keywords the mailbox defines (cheap: one row).  Returns 1, 0
 * if the mailbox is gone, or a store_fail. */
int store_keyword_count(struct store_account *acct, int64_t mailbox_id,
			uint32_t *count_r, const char **err_r);
/* Calls fn for each keyword of the mailbox, and sets *count_r to how
 * many there were (one read, so the list and the count agree).  fn must
 * not call the store.  Returns 1 or a store_fail. */
int store_keyword_list(struct store_account *acct, int64_t mailbox_id,
		       void (*fn)(const char *keyword, void *ctx), void *ctx,
		       uint32_t *count_r, const char **err_r);

/* \Recent (RFC 3501 2.3.2): a mailbox keeps the first UID that no
 * session has claimed; messages from it on are recent for the session
 * that claims them.  Reads that mark into *mark_r.  With claim, in the
 * same transaction, moves it up to `upto` when it is below, but when
 * `from` is not 0 only if the mark is still `from` (no other session
 * claimed since the caller's last claim, so what a session claims stays
 * one range).  Returns 1 when [*mark_r, upto) was claimed, 0 when nothing
 * was (or !claim, or the mailbox is gone), or a store_fail.  A claim is
 * not worth a disk sync: lost in a power cut, messages are recent again. */
int store_recent(struct store_account *acct, int64_t mailbox_id, bool claim,
		 uint32_t from, uint32_t upto, uint32_t *mark_r,
		 const char **err_r);

struct store_mailbox_status {
	/* recent: messages no session has claimed yet (store_recent) */
	uint32_t messages, unseen, deleted, recent;
	uint64_t size;
};
int store_mailbox_status(struct store_account *acct, int64_t mailbox_id,
			 struct store_mailbox_status *st_r,
			 const char **err_r);

/* ---- IMAP: messages ---- */

/* What the MIME parser found, computed once when a message is stored so
 * that FETCH, SEARCH and SORT need not read the message.  Any pointer may
 * be NULL: then FETCH parses the message when asked. */
struct store_msg_meta {
	const char *envelope;		/* IMAP ENVELOPE text */
	const char *bodystructure;	/* IMAP BODYSTRUCTURE text */
	const char *body;		/* IMAP BODY text (no extension data) */
	const void *layout;		/* byte ranges of the parts */
	size_t layout_len;
	int64_t sentdate;		/* Date: header, 0 if none */
	const char *subject;		/* base subject (RFC 5256), UTF-8 */
	const char *from, *to, *cc;	/* SORT keys */
	const char *preview;		/* RFC 8970, UTF-8 */
	/* The searchable text (mime/mime_text.h): header and body text,
	 * normalised.  Kept in the full-text index with the bytes, both or
	 * neither; NULL when not computed.  Never filled by a scan. */
	const char *header_text, *body_text;
};

/* What the index holds about a message.  Only the fields asked for with
 * STORE_INFO_* are filled; the strings are valid during the call. */
struct store_msginfo {
	uint32_t uid;
	unsigned flags;		/* STORE_FLAG_* */
	const char *keywords;	/* space-separated, "" if none */
	uint64_t modseq;
	int64_t internaldate;
	int64_t savedate;
	uint64_t size;
	int64_t email_id;	/* RFC 8474: the same for copies */
	int64_t thread_id;	/* RFC 8474: the same for every message of
				 * its thread and for copies; never
				 * changes */
	/* STORE_INFO_META: NULL where not cached */
	struct store_msg_meta meta;
};

enum {
	STORE_INFO_META = 1 << 0,
	/* Of the meta, only what SEARCH and SORT look at: sentdate,
	 * subject, from, to, cc and layout (the rest stays NULL).  A scan
	 * of a big mailbox then leaves the long strings in the pages. */
	STORE_INFO_KEYS = 1 << 1,
};

/* The mailbox's messages with uid_lo <= UID <= uid_hi, in UID order;
 * fn returns false to stop early.  Holds the account's reader: fn must
 * not call the store. */
int store_msg_scan(struct store_account *acct, int64_t mailbox_id,
		   uint32_t uid_lo, uint32_t uid_hi, unsigned what,
		   bool (*fn)(const struct store_msginfo *m, void *ctx),
		   void *ctx, const char **err_r);

/* Store a message in any mailbox, with its flags (STORE_FLAG_*), keywords
 * (space-separated, may be NULL) and cached meta (may be NULL), under the
 * same group commit and rules as store_msg_deliver().  Returns 1 or a
 * store_fail. */
int store_msg_append(struct store_account *acct, int64_t mailbox_id,
		     const struct store_source *src,
		     const struct store_msg_meta *meta, unsigned flags,
		     const char *keywords, int64_t internaldate,
		     uint32_t *uid_r, const char **err_r);

/* Keep the meta for a message that was stored without it. */
int store_msg_set_meta(struct store_account *acct, int64_t email_id,
		       const struct store_msg_meta *meta, const char **err_r);

/* ---- IMAP: full-text search ----
 * The text of each message's bytes (shared by copies) is kept in a
 * full-text index, in the same transaction as the message when its meta
 * comes with it (store_msg_append, store_msg_set_meta), and goes with the
 * bytes.  Messages stored without it (before the index existed, or
 * spooled deliveries not parsed yet) are found with
 * store_msg_text_missing() and indexed with store_msg_text_set().
 *
 * A search is for a plain substring of the normalised text: the needle
 * must be in the same form (mime_text_key).  Needles of three characters
 * or more are looked up in the index (trigrams); shorter ones are looked
 * for in the kept text of every message of the mailbox, still without
 * reading the messages. */

enum store_text_where {
	STORE_TEXT_BODY,	/* the body text */
	STORE_TEXT_ALL,		/* the header or the body text */
	STORE_TEXT_HEADER,	/* candidates for a header field: fn gets
				   the header text, to check the field */
};

/* Calls fn in UID order for each message of the mailbox whose text holds
 * needle (a non-empty needle; with STORE_TEXT_HEADER an empty one gives
 * every indexed message).  header_text is NULL but with
 * STORE_TEXT_HEADER, and valid during the call.  Messages without text in
 * the index are not seen.  Holds the account's reader: fn must not call
 * the store.  Returns 1 or a store_fail. */
int store_msg_text_search(struct store_account *acct, int64_t mailbox_id,
			  const char *needle, enum store_text_where where,
			  void (*fn)(uint32_t uid, const char *header_text,
				     void *ctx),
			  void *ctx, const char **err_r);

/* Calls fn in UID order for each message of the mailbox that has no text
 * in the index, with its email_id.  Same rules as above. */
int store_msg_text_missing(struct store_account *acct, int64_t mailbox_id,
			   void (*fn)(uint32_t uid, int64_t email_id,
				      void *ctx),
			   void *ctx, const char **err_r);

struct store_msg_text {
	int64_t email_id;
	const char *header_text, *body_text;
};

/* Put the text of these messages in the index, in one transaction
 * (replacing what was there; messages gone meanwhile are skipped).
 * Returns 1 or a store_fail. */
int store_msg_text_set(struct store_account *acct,
		       const struct store_msg_text *texts, size_t n,
		       const char **err_r);

enum store_flag_op { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

struct store_flag_change {
	uint32_t uid;
	unsigned flags;
	const char *keywords;
	uint64_t modseq;
	bool refused;		/* UNCHANGEDSINCE: modified since */
};

/* Change the flags of the messages with these UIDs (sorted ascending;
 * those that are gone are skipped).  keywords is space-separated (NULL =
 * none).  With unchangedsince > 0, a message whose MODSEQ is above it is
 * left alone and reported refused (RFC 7162).  fn is called after the
 * commit for each message changed or refused (not for those already so).
 * Returns 1 or a store_fail. */
int store_msg_flags(struct store_account *acct, int64_t mailbox_id,
		    const uint32_t *uids, size_t n, enum store_flag_op op,
		    unsigned flags, const char *keywords,
		    uint64_t unchangedsince,
		    void (*fn)(const struct store_flag_change *c, void *ctx),
		    void *ctx, const char **err_r);

/* Copy (or move) messages to another mailbox, keeping flags, keywords and
 * internal dates; the bytes are shared, not copied.  new_uids_r[i] gets
 * the new UID of uids[i] (0 if it was gone).  A move expunges them from
 * the source in the same transaction.  Quota applies to copies.  Returns 1
 * or a store_fail. */
int store_msg_copy(struct store_account *acct, int64_t from_id,
		   const uint32_t *uids, size_t n, int64_t to_id, bool move,
		   uint32_t *new_uids_r, uint32_t *uidvalidity_r,
		   const char **err_r);

/* What changed in a mailbox after modseq `since`: fn_changed for each
 * message added or changed (uid, flags, keywords, modseq), then
 * fn_expunged for each UID expunged, in UID order, and the mailbox's
 * HIGHESTMODSEQ as of the same moment (0 if the mailbox is gone). */
int store_msg_changes(struct store_account *acct, int64_t mailbox_id,
		      uint64_t since,
		      bool (*fn_changed)(const struct store_msginfo *m,
					 void *ctx),
		      void (*fn_expunged)(uint32_t uid, void *ctx), void *ctx,
		      uint64_t *highestmodseq_r, const char **err_r);

/* ---- change events ----
 * A watch calls fn (on a store thread; it must only hand the news on, e.g.
 * with loop_post) soon after a change to any mailbox of the account is
 * committed, by this process or another one sharing the data. */
struct store_watch;
struct store_watch *store_watch_add(struct store *store, int64_t user_id,
				    void (*fn)(void *ctx), void *ctx);
/* After this returns, fn is not running and will not be called. */
void store_watch_remove(struct store_watch **watch);

/* ---- outbound queue ----
 * Messages for other domains wait here until they are sent (DATA/queue/
 * in the embedded back end: a database of its own, durable like the
 * mailboxes).  Functions return 1 or a store_fail, as the mail functions
 * do; ids are the SMTP transaction's queue id (letters and digits). */

struct store_queue_rcpt {
	const char *address;	/* canonical */
	const char *status;	/* "queued" */
	const char *last_error;	/* "" if none */
};

struct store_queue_entry {
	const char *id;
	const char *sender;	/* "" for the null sender */
	const char *user;	/* who submitted it, "" if nobody */
	uint64_t size;		/* bytes; store_queue_put sets it */
	int64_t arrival;	/* Unix time */
	int64_t next_attempt;	/* Unix time */
	unsigned attempts;
	const char *last_error;	/* "" if none */
	const struct store_queue_rcpt *rcpts;
	size_t nrcpts;
};

/* Put a message (envelope e, bytes src) in the queue: returns 1 only
 * after the transaction holding its bytes and its envelope is on disk
 * (synchronous=FULL); STORE_FAIL_EXISTS if the id is taken; a crash
 * leaves the whole message or nothing.  e->size is ignored. */
int store_queue_put(struct store *store, const struct store_queue_entry *e,
		    const struct store_source *src, const char **err_r);
/* Calls fn for each queued message, oldest first (the strings are valid
 * during the call; fn must not call the store).  Returns 1 or a
 * store_fail. */
int store_queue_list(struct store *store,
		     void (*fn)(const struct store_queue_entry *e, void *ctx),
		     void *ctx, const char **err_r);
/* Returns 1, 0 if there is no such message, or a store_fail. */
int store_queue_remove(struct store *store, const char *id,
		       const char **err_r);
/* Read up to n bytes of a queued message from offset; *got_r = 0 at its
 * end.  Returns 1, 0 if there is no such message, or a store_fail. */
int store_queue_read(struct store *store, const char *id, uint64_t offset,
		     void *buf, size_t n, size_t *got_r, const char **err_r);

/* ---- integrity ---- */

struct store_problem {
	const char *where;	/* "accounts.db", "mail/7/index.db (bob@x)" */
	const char *what;	/* what is wrong, one sentence */
	const char *todo;	/* what to do about it, one sentence or two */
	bool repaired;		/* STORE_CHECK_REPAIR fixed it: told for
				   the record, not counted */
};

enum {
	STORE_CHECK_FULL = 1 << 0,   /* integrity_check, not quick_check */
	STORE_CHECK_REPAIR = 1 << 1, /* fix what is safe to fix (usage
					figures, bodies without a message,
					messages without their bytes) */
};

/* Check accounts.db and every account database (or only the one of
 * `address`, when not NULL): SQLite's own check of each file, then that
 * every message has its bytes and each account's usage figure matches its
 * messages.  fn is called once per problem (the strings are valid during
 * the call).  Returns 1 if all is well, 0 if problems were reported, -1 if
 * the check could not run (err_r).  Repaired problems do not count. */
int store_check(struct store *store, const char *address, unsigned flags,
		void (*fn)(const struct store_problem *p, void *ctx),
		void *ctx, const char **err_r);

#endif
