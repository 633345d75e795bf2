/* auth_exchange: one SASL authentication (RFC 4422) with any of our
 * mechanisms, for every protocol that offers it (IMAP AUTHENTICATE, POP3
 * AUTH, SMTP AUTH).  The protocol feeds the client's base64 lines and
 * writes the challenges in its own framing ("+ ", "334 "); the exchange
 * says when a step must run on an auth worker (a password check, a store
 * lookup) and how it ended.
 *
 *   x = auth_exchange_new(auth, mech, len, cb)    NULL: not offered
 *   st = auth_exchange_start(x, ir, irlen)        ir NULL: none given
 *   loop:
 *     CHALLENGE: send auth_exchange_challenge(x), then
 *                st = auth_exchange_input(x, line, len)
 *     WORK:      auth_exchange_run(x) on an auth worker, then
 *                st = auth_exchange_status(x) on the loop
 *     OK:        logged in as auth_exchange_user(x)
 *     FAIL:      wrong credentials: a failed login of
 *                auth_exchange_username(x)
 *     TEMPFAIL:  the store failed
 *     BAD:       malformed (bad base64, broken SCRAM grammar): a protocol
 *                error, not a login attempt; auth_exchange_error(x) says
 *                why, for the log
 *     CANCEL:    the client sent "*"
 *
 * Passwords are held only between the line that carries them and the
 * check, in wiped buffers; nothing here logs. */
#ifndef POSTHORN_AUTH_EXCHANGE_H
#define POSTHORN_AUTH_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

struct auth;
struct auth_exchange;

enum auth_exchange_status {
	AUTH_EXCHANGE_CHALLENGE,
	AUTH_EXCHANGE_WORK,
	AUTH_EXCHANGE_OK,
	AUTH_EXCHANGE_FAIL,
	AUTH_EXCHANGE_TEMPFAIL,
	AUTH_EXCHANGE_BAD,
	AUTH_EXCHANGE_CANCEL,
};

/* The mechanisms we offer, space-separated, for CAPABILITY, CAPA and
 * EHLO: "PLAIN LOGIN SCRAM-SHA-256", and SCRAM-SHA-256-PLUS after them
 * when the connection has a channel binding (plus). */
const char *auth_exchange_mechs(bool plus);

/* An exchange with mechanism mech[0..len) (any case).  cb: the
 * connection's tls-exporter binding (32 bytes, session_tls_exporter()),
 * NULL without one.  NULL when the mechanism is not one of ours, or is
 * -PLUS without cb. */
struct auth_exchange *auth_exchange_new(struct auth *auth, const char *mech,
					size_t len, const unsigned char *cb);
/* Wipes and frees; safe on NULL.  Not while auth_exchange_run() runs. */
void auth_exchange_free(struct auth_exchange **x);

/* The first step: with the initial response (SASL-IR, "=" for an empty
 * one) or without (ir NULL). */
int auth_exchange_start(struct auth_exchange *x, const char *ir, size_t len);
/* The client's answer to a challenge: base64, or "*" to cancel. */
int auth_exchange_input(struct auth_exchange *x, const char *line,
			size_t len);
/* After CHALLENGE: the base64 text to send (may be empty). */
const char *auth_exchange_challenge(const struct auth_exchange *x);
/* After WORK, on an auth worker: blocks on the password hash or the
 * store. */
void auth_exchange_run(struct auth_exchange *x);
/* After auth_exchange_run(): what now (never WORK). */
int auth_exchange_status(const struct auth_exchange *x);

/* After OK: the user (address canonical, as stored). */
const struct store_user *auth_exchange_user(const struct auth_exchange *x);
/* Who the client said it is, for the log ("" before it said). */
const char *auth_exchange_username(const struct auth_exchange *x);
/* The mechanism's name ("SCRAM-SHA-256"). */
const char *auth_exchange_mech(const struct auth_exchange *x);
/* After BAD: why. */
const char *auth_exchange_error(const struct auth_exchange *x);

#endif
