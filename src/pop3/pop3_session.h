/* pop3_session: one POP3 connection (RFC 1939, CAPA RFC 2449, SASL PLAIN
 * RFC 5034, STLS RFC 2595), on port 110 or over implicit TLS (995).  Deletions take effect only at QUIT; a maildrop is held by one
 * session at a time.  It stands on core/session.h, which ends and frees
 * it. */
#ifndef POSTHORN_POP3_SESSION_H
#define POSTHORN_POP3_SESSION_H

#include <sys/socket.h>

#include "core/session.h"

struct auth;
struct auth_limit;
struct config;
struct loop;
struct session;
struct session_list;
struct store;
struct worker_pool;

struct pop3_env {
	const struct config *cfg;
	struct store *store;
	struct auth *auth;
	struct worker_pool *workers;
	struct worker_pool *auth_workers;	/* password checks only */
	struct session_tls tls;	/* STLS (RFC 2595), or implicit (995) */
	struct auth_limit *limit;	/* failed logins; NULL: none */
	/* Password checks from addresses that logged in before and have
	 * not failed since (auth/auth_limit.h); NULL: auth_workers. */
	struct worker_pool *auth_known;
};

struct session *pop3_session_start(struct loop *loop,
				   struct session_list *list, int fd,
				   const struct sockaddr *peer,
				   socklen_t peerlen,
				   const struct pop3_env *env);

#endif
