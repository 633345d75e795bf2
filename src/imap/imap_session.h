/* imap_session: one IMAP connection (IMAP4rev1, RFC 3501; IMAP4rev2, RFC
 * 9051; and the extensions listed in CAPABILITY).  It stands on
 * core/session.h, which owns the connection's life: the loop reads whole
 * commands (literals included; an APPEND's message goes to memory or a
 * spool file as it arrives), and commands that touch the store run on a
 * worker and write their answer back on the loop. */
#ifndef POSTHORN_IMAP_SESSION_H
#define POSTHORN_IMAP_SESSION_H

#include <sys/socket.h>

#include "core/session.h"

struct auth;
struct auth_limit;
struct budget;
struct config;
struct loop;
struct session;
struct session_list;
struct store;
struct worker_pool;

struct imap_env {
	const struct config *cfg;
	struct store *store;
	struct auth *auth;
	struct worker_pool *workers;
	struct worker_pool *auth_workers;	/* password checks only */
	struct budget *budget;			/* APPEND data in memory */
	const char *spool_dir;			/* APPEND data past it */
	struct session_tls tls;			/* STARTTLS, or IMAPS */
	struct auth_limit *limit;	/* failed logins; NULL: none */
	/* Password checks from addresses that logged in before and have
	 * not failed since (auth/auth_limit.h); NULL: auth_workers. */
	struct worker_pool *auth_known;
	/* Jobs that wait for a disk sync (imap_job_sync); NULL: workers. */
	struct worker_pool *sync_workers;
};

struct session *imap_session_start(struct loop *loop,
				   struct session_list *list, int fd,
				   const struct sockaddr *peer,
				   socklen_t peerlen,
				   const struct imap_env *env);

#endif
