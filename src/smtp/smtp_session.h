/* smtp_session: one inbound SMTP connection (RFC 5321) with PIPELINING,
 * 8BITMIME, SMTPUTF8, SIZE, ENHANCEDSTATUSCODES, CHUNKING and STARTTLS,
 * in one of two roles:
 * - MX (port 25): mail for our domains from anyone, no AUTH, no relay;
 * - submission (587 with STARTTLS, 465 with implicit TLS; RFC 6409): AUTH
 *   (RFC 4954) before MAIL, the sender checked against the user's
 *   addresses, missing Message-ID and Date added, and mail for other
 *   domains put in the outbound queue.
 *
 * It stands on core/session.h, which ends and frees it. */
#ifndef POSTHORN_SMTP_SESSION_H
#define POSTHORN_SMTP_SESSION_H

#include <sys/socket.h>

#include "core/session.h"

struct auth;
struct auth_limit;
struct budget;
struct config;
struct loop;
struct session;
struct session_list;
struct smtp_rate;
struct store;
struct worker_pool;

enum smtp_role {
	SMTP_ROLE_MX,
	SMTP_ROLE_SUBMISSION,
};

/* What sessions share, read-only. */
struct smtp_env {
	const struct config *cfg;
	struct store *store;
	struct worker_pool *workers;
	struct budget *budget;	/* message data held in memory */
	const char *spool_dir;	/* where larger messages go as they arrive */
	struct session_tls tls;	/* STARTTLS (RFC 3207), or implicit TLS */
	enum smtp_role role;
	/* Submission only (may be NULL for the MX role): */
	struct auth *auth;
	struct worker_pool *auth_workers;	/* password checks only */
	struct smtp_rate *rate;			/* messages per hour per user */
	struct auth_limit *limit;	/* failed logins; NULL: none */
	/* Password checks for addresses that logged in before and have
	 * not failed since (auth/auth_limit.h); NULL: auth_workers. */
	struct worker_pool *auth_known;
};

/* Start a session on an accepted socket (takes fd); the greeting is sent
 * at once.  Returns the session so the caller can hook its release. */
struct session *smtp_session_start(struct loop *loop,
				   struct session_list *list, int fd,
				   const struct sockaddr *peer,
				   socklen_t peerlen,
				   const struct smtp_env *env);

#endif
