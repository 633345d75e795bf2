/* auth_limit: brute-force protection for logins, per client address and
 * per account.
 *
 * Each failed login is counted against the client's address (an IPv4
 * address whole, an IPv6 address by its /64, since one host usually holds
 * a whole /64) and against the account name as the client typed it,
 * lower-cased, whether or not such an account exists.  Counts leak away
 * over the window: a limit of N per window means N failures at once, then
 * one more each window/N.
 *
 * - Every failure is answered only after a delay that doubles with the
 *   failures counted (delay, 2 delay, 4 delay... up to delay_max).
 * - An address past its limit is refused at once, before any password is
 *   hashed, so a flood costs no CPU.
 * - An account past its limit is refused at once only to addresses that
 *   failed themselves recently; its owner, logging in from an address
 *   with no failures, goes through (auth_limit.c says why).
 * - A successful login clears its address's count, and makes the
 *   address known for 8 days: logins from known addresses without
 *   failures since may be checked in a queue of their own, so that a
 *   flood of guesses does not hold up the users' own clients.
 *
 * The counts live in two tables of fixed size, so memory stays bounded
 * whatever a flood does; when a table is full, the entries with the
 * fewest failures give way first, and known addresses last.
 * Thread-safe: logins finish on every loop.  Time is a parameter
 * (milliseconds of a monotonic clock), so tests need no sleeping.
 *
 * The auth_limit_session_* helpers put this on a session for a protocol:
 * they log each failure in one line for fail2ban and hold the failure
 * reply back for the delay with session_pause(). */
#ifndef POSTHORN_AUTH_LIMIT_H
#define POSTHORN_AUTH_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct session;
struct worker_pool;

/* Entries in each table (addresses, accounts) of auth_limit_new_config():
 * 64 Ki entries of 32 bytes: 2 MiB each. */
#define AUTH_LIMIT_ENTRIES 65536

struct auth_limit_policy {
	unsigned delay_ms;	/* after the first failure; 0 = none */
	unsigned delay_max_ms;	/* the delay never grows past this */
	unsigned limit_ip;	/* failures per window per address; 0 = off */
	unsigned limit_user;	/* failures per window per account; 0 = off */
	unsigned window_s;	/* seconds, at least 1 */
};

enum auth_limit_verdict {
	AUTH_LIMIT_OK,		/* go on and check the password */
	AUTH_LIMIT_KNOWN,	/* the same, from a known address */
	AUTH_LIMIT_IP,		/* refused: the address is past its limit */
	AUTH_LIMIT_USER,	/* refused: the account is past its limit */
};

/* entries per table: rounded up to a power of two, at least 64. */
struct auth_limit *auth_limit_new(const struct auth_limit_policy *policy,
				  size_t entries);
/* The policy of the [auth] fail_* keys, AUTH_LIMIT_ENTRIES entries. */
struct auth_limit *auth_limit_new_config(const struct config *cfg);
void auth_limit_free(struct auth_limit **limit);

/* Whether a login from peer for user (ulen bytes, as typed) may have its
 * password checked now.  Changes nothing. */
enum auth_limit_verdict auth_limit_check(struct auth_limit *limit,
					 const struct sockaddr *peer,
					 const char *user, size_t ulen,
					 uint64_t now_ms);
/* Count a failed login; returns the delay in ms before its reply. */
unsigned auth_limit_failed(struct auth_limit *limit,
			   const struct sockaddr *peer, const char *user,
			   size_t ulen, uint64_t now_ms);
/* A login from peer succeeded: forget the address's failures, and know
 * it.  The account's count stays (an attacker's guesses on it are not
 * undone by its owner logging in). */
void auth_limit_succeeded(struct auth_limit *limit,
			  const struct sockaddr *peer, uint64_t now_ms);

/* ---- for protocol sessions ---- */

/* Before a password check: the pool to check it on, known (if not NULL)
 * for an address that logged in before and has not failed since
 * (AUTH_LIMIT_KNOWN), else workers; NULL when refused, logged as
 * "auth[ID] fail proto=P client=ADDR reason=limit-ip|limit-user user=U":
 * the protocol answers with its temporary error at once (IMAP "NO
 * [UNAVAILABLE]", RFC 5530; POP3 "-ERR [SYS/TEMP]", RFC 3206; SMTP "454
 * 4.7.0", RFC 4954) and checks no password.  limit may be NULL (no
 * limits: workers). */
struct worker_pool *auth_limit_session_pool(struct auth_limit *limit,
					    struct session *s,
					    const char *user,
					    struct worker_pool *workers,
					    struct worker_pool *known);
/* After a password check with auth_login()'s result: on 0 (wrong user or
 * password) the failure is counted and logged (reason=password), and
 * reply(ctx) runs after the delay, with the session paused until then
 * (or at once if the session is closing; a session that ends while it
 * waits is freed as usual and reply never runs).  On 1 the address is
 * cleared, and on 1 or -1 reply(ctx) runs at once.  ctx is the
 * protocol's session state, as for the session hooks. */
void auth_limit_session_done(struct auth_limit *limit, struct session *s,
			     void *ctx, const char *user, int result,
			     void (*reply)(void *ctx));

#endif
