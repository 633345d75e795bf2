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
int store_user_set_password(struct store *store, const char *address,
			    const char *password);
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

/* domain may be NULL for all users. */
int store_user_list(struct store *store, const char *domain,
		    void (*fn)(const struct store_user *user, void *ctx),
		    void *ctx);

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

/* Close the cached handles of accounts whose database another process
 * removed (`posthorn user remove` while the server runs), so the space of
 * the deleted files is given back; a handle in use is closed when its
 * last user lets go.  Blocks briefly (a stat per cached handle): call it
 * from a worker, now and then. */
void store_release_removed(struct store *store);

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
 * transaction.  Returns 1 or a store_fail. */
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
