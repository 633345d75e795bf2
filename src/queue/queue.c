/* The outbound queue's rules; the store keeps the messages. */
#include "queue/queue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"

int queue_put(struct store *store, const struct queue_msg *m,
	      const struct store_source *src, const char **err_r)
{
	int64_t now = (int64_t)time(NULL);
	struct store_queue_rcpt *rcpts = xcalloc(m->nrcpts ? m->nrcpts : 1,
						 sizeof(*rcpts));
	for (size_t i = 0; i < m->nrcpts; i++)
		rcpts[i] = (struct store_queue_rcpt){m->rcpts[i], "queued", ""};
	struct store_queue_entry e = {
		.id = m->id,
		.sender = m->sender,
		.user = m->user != NULL ? m->user : "",
		.arrival = now,
		.next_attempt = now,
		.last_error = "",
		.rcpts = rcpts,
		.nrcpts = m->nrcpts,
	};
	int rc = store_queue_put(store, &e, src, err_r);
	free(rcpts);
	return rc;
}

int64_t queue_retry_at(int64_t arrival, int64_t now, unsigned attempts)
{
	/* Doubling from 5 minutes: soon after a short outage, then rarely
	 * enough that a host that stays down costs little. */
	int64_t wait = 5 * 60;
	for (unsigned i = 1; i < attempts && wait < 4 * 3600; i++)
		wait *= 2;
	if (wait > 4 * 3600)
		wait = 4 * 3600;
	int64_t base = now > arrival ? now : arrival;
	return base + wait;
}

bool queue_id_valid(const char *text)
{
	size_t n = strlen(text);
	if (n == 0 || n > QUEUE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z')))
			return false;
	}
	return true;
}
