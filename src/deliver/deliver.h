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
	DELIVER_TEMPFAIL = -1,	/* the store failed: try later */
	DELIVER_UNKNOWN = 0,	/* local domain, no such recipient */
	DELIVER_LOCAL = 1,	/* resolved to at least one account */
	DELIVER_NOT_LOCAL = 2,	/* not one of our domains */
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
};

/* The domain a bare RCPT TO:<postmaster> means: `host` if it is one of
 * ours, else our oldest domain.  Writes it to out (ADDR_DOMAIN_MAX + 1
 * bytes); returns 1, 0 if we have no domain, -1 on a store error. */
int deliver_postmaster_domain(struct store *store, const char *host,
			      char *out);

/* Resolve one recipient and add its accounts to t. */
enum deliver_resolve_result deliver_resolve(struct store *store,
					    const struct addr *rcpt,
					    const struct deliver_opts *opts,
					    struct deliver_targets *t);

/* Write the message into INBOX of every target, prefixed with a
 * Return-Path for `sender` ("" for the null sender), into several accounts
 * at once when there are several.  results[i] is set to
 * 1 (stored, durably) or -1 for targets->ids[i].  Returns how many were
 * stored. */
size_t deliver_message(struct store *store,
		       const struct deliver_targets *targets,
		       const char *sender, const void *data, size_t len,
		       int *results);

#endif
