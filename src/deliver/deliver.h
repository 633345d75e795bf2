/* deliver: the one path by which a message reaches mailboxes, whoever
 * submits it.  It resolves recipients (users, aliases, plus-addresses,
 * catch-alls) and writes the message, with its Return-Path, into each
 * account.
 *
 * Recipient resolution ends with a list of accounts; per-recipient actions
 * (forwarding, Sieve, vacation) will hang off deliver_message() per account.
 * All functions block (store access): call them on a worker thread. */
#ifndef POSTHORN_DELIVER_H
#define POSTHORN_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "mime/addr.h"

struct store;

enum deliver_resolve_result {
	DELIVER_TEMPFAIL = -1,	/* the store failed: try later (err_r says
				   why) */
	DELIVER_UNKNOWN = 0,	/* local domain, no such recipient */
	DELIVER_LOCAL = 1,	/* resolved to at least one account */
	DELIVER_NOT_LOCAL = 2,	/* not one of our domains */
	DELIVER_OVER_QUOTA = 3,	/* an account it reaches is over its quota
				   now: SMTP 452 4.2.2 */
	DELIVER_TOO_BIG_FOR_QUOTA = 4, /* the message (opts->size) is larger
					  than an account's whole quota:
					  552 5.2.2 */
};

/* The accounts a message goes to, without duplicates. */
struct deliver_targets {
	int64_t *ids;
	size_t n, cap;
};

void deliver_targets_clear(struct deliver_targets *t);

struct deliver_opts {
	/* Sub-address separators ("+"; "" for none). */
	const char *delimiter;
	/* Where postmaster@ a domain goes when the domain has no such user
	 * or alias and no catch-all: this address, or, when empty or not
	 * found, the domain's first user (RFC 5321 4.5.1 wants postmaster to
	 * work with no set-up). */
	const char *postmaster;
	/* The message's size as the sender declared it (SMTP SIZE=), 0 if
	 * unknown: checked against each account's quota. */
	uint64_t size;
};

/* The domain a bare RCPT TO:<postmaster> means: `host` if it is one of
 * ours, else our oldest domain.  Writes it to out (ADDR_DOMAIN_MAX + 1
 * bytes); returns 1, 0 if we have no domain, -1 on a store error. */
int deliver_postmaster_domain(struct store *store, const char *host,
			      char *out);

/* Resolve one recipient and add its accounts to t, after checking that
 * each can take the message now: its database opens and reads (a corrupt
 * one is a DELIVER_TEMPFAIL here, not a failure after the data) and it is
 * under its quota.  When any account of the recipient (an alias may reach
 * several) cannot take it, the result says why and no account of this
 * recipient is added.  For DELIVER_TEMPFAIL, DELIVER_OVER_QUOTA and
 * DELIVER_TOO_BIG_FOR_QUOTA, *err_r (when err_r is not NULL) is the cause,
 * valid until the next deliver or store call on this thread. */
enum deliver_resolve_result deliver_resolve(struct store *store,
					    const struct addr *rcpt,
					    const struct deliver_opts *opts,
					    struct deliver_targets *t,
					    const char **err_r);

/* The bytes of a message: first `len` bytes in memory at `data`, then,
 * when fd >= 0, fd_len more bytes read from fd (pread from offset 0).  A
 * large message is spooled to a file by the session and never held whole
 * in memory. */
struct deliver_source {
	const void *data;
	size_t len;
	int fd;
	uint64_t fd_len;
};

enum deliver_status {
	DELIVER_STORED = 1,
	DELIVER_FAIL_TEMP = -1,	       /* store error, e.g. I/O or locked:
					  SMTP 451 4.3.0 */
	DELIVER_FAIL_FULL = -2,	       /* disk or database full: 452 4.3.1 */
	DELIVER_FAIL_QUOTA = -3,       /* over the account's quota now:
					  452 4.2.2 */
	DELIVER_FAIL_QUOTA_NEVER = -4, /* larger than the whole quota:
					  552 5.2.2 */
	DELIVER_FAIL_GONE = -5,	       /* the account was removed meanwhile:
					  550 5.1.1 */
	DELIVER_FAIL_BROKEN = -6,      /* the account database is corrupt:
					  451 4.3.0 */
};

/* One target's outcome; reason is empty when stored. */
struct deliver_result {
	int status;	/* enum deliver_status */
	char reason[160];
};

/* A short name for a status ("stored", "full", "over-quota", ...). */
const char *deliver_status_name(int status);

/* Write the message into INBOX of every target, prefixed with a
 * Return-Path for `sender` ("" for the null sender), into several accounts
 * at once when there are several.  Every target's quota is checked before
 * anything is stored: when one cannot take the message, none is written
 * (so a sender's retry does not store it twice for the others), and the
 * others get the blocking target's status.  results[i] (targets->n of
 * them) is set for targets->ids[i]; each failure is logged.  Returns how
 * many were stored, durably. */
size_t deliver_message(struct store *store,
		       const struct deliver_targets *targets,
		       const char *sender, const struct deliver_source *src,
		       struct deliver_result *results);

/* Put a message for recipients outside our domains (canonical
 * addresses; the caller has decided they may be relayed: an
 * authenticated submission) into the outbound queue under `id`, with
 * `user` as who submitted it.  Returns 1 once it is on disk, else a
 * deliver_status, with the cause in err_r (valid until the next deliver or
 * store call on this thread). */
int deliver_queue(struct store *store, const char *id, const char *sender,
		  const char *user, const char *const *rcpts, size_t nrcpts,
		  const struct deliver_source *src, const char **err_r);

/* The store's view of a message's meta (pointers into m). */
struct mime_meta;
struct store_msg_meta;
void deliver_meta_view(const struct mime_meta *m, struct store_msg_meta *out);

#endif
