/* Change events for a session: the store's watch fires on its own thread;
 * the news is posted to the session's loop, at most once at a time, and
 * there an IDLE catches up at once while any other state waits for the
 * next command.  The notify outlives its session while a post is on its
 * way, so a late post never touches freed memory. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/loop.h"
#include "core/xalloc.h"
#include "imap/imap_private.h"

struct imap_notify {
	struct job job;
	struct store_watch *watch;
	atomic_bool posted;
	bool dead;		/* the session is gone: free at the post */
	struct imap_session *s;
};

/* On the store's thread. */
static void on_change(void *ctx)
{
	struct imap_notify *n = ctx;
	if (!atomic_exchange(&n->posted, true))
		loop_post(n->job.loop, &n->job);
}

/* On the loop. */
static void on_posted(void *arg)
{
	struct imap_notify *n = arg;
	atomic_store(&n->posted, false);
	if (n->dead) {
		free(n);
		return;
	}
	struct imap_session *s = n->s;
	s->changed = true;
	if (s->idling && session_may_go_on(s->sess))
		imap_idle_wake(s);
}

struct imap_notify *imap_notify_new(struct imap_session *s)
{
	struct imap_notify *n = xcalloc(1, sizeof(*n));
	n->s = s;
	n->job.done = on_posted;
	n->job.arg = n;
	n->job.loop = session_loop(s->sess);
	atomic_init(&n->posted, false);
	n->watch = store_watch_add(s->env->store, s->user_id, on_change, n);
	return n;
}

void imap_notify_free(struct imap_notify **np)
{
	struct imap_notify *n = *np;
	if (n == NULL)
		return;
	/* After this, on_change neither runs nor will: only a post already
	 * made can still arrive. */
	store_watch_remove(&n->watch);
	if (atomic_load(&n->posted))
		n->dead = true;
	else
		free(n);
	*np = NULL;
}
