/* Token buckets in integer units: a message costs 3600 units and a user
 * gets per_hour units back each second, up to a full hour's worth. */
#include "smtp/smtp_rate.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/xalloc.h"

#define BUCKETS 256
/* Past this many users in the table, the full buckets are dropped: a
 * full bucket is what a user who is not there starts with anyway. */
#define PRUNE_AT 4096

struct rate_entry {
	struct rate_entry *next;
	int64_t user;
	uint64_t units;
	int64_t last;
};

struct smtp_rate {
	pthread_mutex_t lock;
	uint64_t full;		/* per_hour * 3600 */
	unsigned per_hour;
	size_t n;
	struct rate_entry *b[BUCKETS];
};

struct smtp_rate *smtp_rate_new(unsigned per_hour)
{
	struct smtp_rate *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->per_hour = per_hour;
	r->full = (uint64_t)per_hour * 3600;
	return r;
}

void smtp_rate_free(struct smtp_rate **rp)
{
	struct smtp_rate *r = *rp;
	if (r == NULL)
		return;
	for (size_t i = 0; i < BUCKETS; i++) {
		while (r->b[i] != NULL) {
			struct rate_entry *e = r->b[i];
			r->b[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
	*rp = NULL;
}

static void refill(const struct smtp_rate *r, struct rate_entry *e,
		   int64_t now)
{
	if (now <= e->last)
		return;
	uint64_t secs = (uint64_t)(now - e->last);
	/* Past an hour the bucket is full whatever it held. */
	uint64_t add = secs >= 3600 ? r->full : secs * r->per_hour;
	e->units = r->full - e->units <= add ? r->full : e->units + add;
	e->last = now;
}

static void prune(struct smtp_rate *r, int64_t now)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct rate_entry **pp = &r->b[i]; *pp != NULL;) {
			struct rate_entry *e = *pp;
			refill(r, e, now);
			if (e->units == r->full) {
				*pp = e->next;
				free(e);
				r->n--;
			} else {
				pp = &e->next;
			}
		}
	}
}

/* The user's entry, made full when new; caller holds the lock. */
static struct rate_entry *entry(struct smtp_rate *r, int64_t user,
				int64_t now, bool create)
{
	size_t b = (size_t)((uint64_t)user * 2654435761u % BUCKETS);
	for (struct rate_entry *e = r->b[b]; e != NULL; e = e->next) {
		if (e->user == user) {
			refill(r, e, now);
			return e;
		}
	}
	if (!create)
		return NULL;
	if (r->n >= PRUNE_AT)
		prune(r, now);
	struct rate_entry *e = xcalloc(1, sizeof(*e));
	*e = (struct rate_entry){r->b[b], user, r->full, now};
	r->b[b] = e;
	r->n++;
	return e;
}

bool smtp_rate_allows(struct smtp_rate *r, int64_t user, int64_t now)
{
	if (r == NULL || r->per_hour == 0)
		return true;
	pthread_mutex_lock(&r->lock);
	struct rate_entry *e = entry(r, user, now, false);
	bool ok = e == NULL || e->units >= 3600;
	pthread_mutex_unlock(&r->lock);
	return ok;
}

void smtp_rate_count(struct smtp_rate *r, int64_t user, int64_t now)
{
	if (r == NULL || r->per_hour == 0)
		return;
	pthread_mutex_lock(&r->lock);
	struct rate_entry *e = entry(r, user, now, true);
	e->units = e->units >= 3600 ? e->units - 3600 : 0;
	pthread_mutex_unlock(&r->lock);
}
