/* smtp_session: one inbound SMTP connection (RFC 5321, the MX role) with
 * PIPELINING, 8BITMIME, SMTPUTF8, SIZE, ENHANCEDSTATUSCODES, CHUNKING and
 * STARTTLS.
 *
 * It stands on core/session.h, which ends and frees it. */
#ifndef POSTHORN_SMTP_SESSION_H
#define POSTHORN_SMTP_SESSION_H

#include <sys/socket.h>

#include "core/session.h"

struct budget;
struct config;
struct loop;
struct session;
struct session_list;
struct store;
struct worker_pool;

/* What sessions share, read-only. */
struct smtp_env {
	const struct config *cfg;
	struct store *store;
	struct worker_pool *workers;
	struct budget *budget;	/* message data held in memory */
	const char *spool_dir;	/* where larger messages go as they arrive */
	struct session_tls tls;	/* STARTTLS (RFC 3207), or implicit TLS */
};

/* Start a session on an accepted socket (takes fd); the greeting is sent
 * at once.  Returns the session so the caller can hook its release. */
struct session *smtp_session_start(struct loop *loop,
				   struct session_list *list, int fd,
				   const struct sockaddr *peer,
				   socklen_t peerlen,
				   const struct smtp_env *env);

#endif
