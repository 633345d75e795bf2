/* pop3_session: one POP3 connection (RFC 1939, CAPA RFC 2449, SASL PLAIN
 * RFC 5034).  Deletions take effect only at QUIT; a maildrop is held by one
 * session at a time.  The session owns its conn and frees itself. */
#ifndef POSTHORN_POP3_SESSION_H
#define POSTHORN_POP3_SESSION_H

#include <sys/socket.h>

struct auth;
struct config;
struct loop;
struct store;
struct worker_pool;

struct pop3_env {
	const struct config *cfg;
	struct store *store;
	struct auth *auth;
	struct worker_pool *workers;
};

struct conn *pop3_session_start(struct loop *loop, int fd,
				const struct sockaddr *peer, socklen_t peerlen,
				const struct pop3_env *env);

#endif
