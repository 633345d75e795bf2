/* queue: the outbound queue, where messages for other domains wait until
 * they are sent.  It holds the queue's rules (what a new entry looks
 * like, when the next attempt is due, what an id may be); the bytes and
 * envelopes are kept by the store (store_queue_*).
 *
 * Sending over the Internet (MX lookup, the SMTP client, bounces) is not
 * built yet: until it is, queued messages wait, and `posthorn queue`
 * shows and removes them.  Functions that take a store block: call them
 * on a worker thread. */
#ifndef POSTHORN_QUEUE_H
#define POSTHORN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Longest id, without its NUL. */
#define QUEUE_ID_MAX 15

/* A message to queue: recipients are canonical addresses outside our
 * domains; user is who submitted it ("" for nobody). */
struct queue_msg {
	const char *id;
	const char *sender;
	const char *user;
	const char *const *rcpts;
	size_t nrcpts;
};

/* Put the message in the queue, due for its first attempt now.  Returns
 * 1 only once it is on disk, or a store_fail with the cause in err_r. */
int queue_put(struct store *store, const struct queue_msg *m,
	      const struct store_source *src, const char **err_r);

/* When the next attempt is due after `attempts` failed ones, for a
 * message that arrived at `arrival`: the wait grows from 5 minutes to
 * at most 4 hours.  Pure. */
int64_t queue_retry_at(int64_t arrival, int64_t now, unsigned attempts);

/* Whether text can be a queue id (1..QUEUE_ID_MAX letters and digits),
 * so that a mistyped one is refused before the store is asked.  Pure. */
bool queue_id_valid(const char *text);

#endif
