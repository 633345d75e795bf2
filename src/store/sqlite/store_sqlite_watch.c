/* Change events of the embedded store.
 *
 * Every commit that changes an account's mailboxes writes one byte to
 * DATA/mail/<id>/changes, whichever process made it (the server, the
 * CLI, a second server on the same data).  A watcher thread, started at
 * the first watch, waits on inotify for those writes and calls the
 * account's watches.  The write comes after the commit, so a session
 * woken by it always finds the change; the file's content means
 * nothing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "store/sqlite/store_sqlite.h"

struct store_watch {
	struct store_watch *next;
	struct sqlite_watcher *w;
	int64_t account;
	int wd;
	void (*fn)(void *ctx);
	void *ctx;
};

/* Watches by inotify descriptor: an event wakes the sessions of one
 * account without walking those of all the others. */
#define WATCH_BUCKETS 1024

struct sqlite_watcher {
	pthread_mutex_t lock;
	char *data_dir;
	int ifd;
	int stop[2];
	pthread_t thread;
	bool running;
	struct store_watch *buckets[WATCH_BUCKETS];
};

static struct store_watch **bucket(struct sqlite_watcher *w, int wd)
{
	return &w->buckets[(unsigned)wd % WATCH_BUCKETS];
}

static char *changes_path(const char *data_dir, int64_t account)
{
	size_t n = strlen(data_dir) + 48;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/mail/%lld/changes", data_dir, (long long)account);
	return p;
}

void sqlite_account_changed(struct store_account *a)
{
	char *path = changes_path(a->store->data_dir, a->id);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	if (fd >= 0) {
		if (pwrite(fd, "", 1, 0) < 0)
			log_debug("store: %s: %s", path, strerror(errno));
		close(fd);
	}
	free(path);
}

static void dispatch(struct sqlite_watcher *w, int wd)
{
	pthread_mutex_lock(&w->lock);
	for (struct store_watch *x = *bucket(w, wd); x != NULL; x = x->next)
		if (x->wd == wd)
			x->fn(x->ctx);
	pthread_mutex_unlock(&w->lock);
}

static void *watch_thread(void *arg)
{
	struct sqlite_watcher *w = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		struct pollfd p[2] = {{w->ifd, POLLIN, 0}, {w->stop[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents != 0)
			break;
		ssize_t n = read(w->ifd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const void *)q;
			if ((ev->mask & (IN_MODIFY | IN_ATTRIB)) != 0)
				dispatch(w, ev->wd);
			q += sizeof(*ev) + ev->len;
		}
	}
	return NULL;
}

struct sqlite_watcher *sqlite_watcher_new(const char *data_dir)
{
	struct sqlite_watcher *w = xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	w->data_dir = xstrdup(data_dir);
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0 || pipe2(w->stop, O_CLOEXEC) < 0) {
		log_error("store: change events: %s", strerror(errno));
	} else if (pthread_create(&w->thread, NULL, watch_thread, w) == 0) {
		w->running = true;
	}
	return w;
}

void sqlite_watcher_free(struct sqlite_watcher **wp)
{
	struct sqlite_watcher *w = *wp;
	if (w == NULL)
		return;
	if (w->running) {
		if (write(w->stop[1], "", 1) < 0)
			log_debug("store: stopping change events: %s",
				  strerror(errno));
		pthread_join(w->thread, NULL);
	}
	if (w->ifd >= 0)
		close(w->ifd);
	if (w->running) {
		close(w->stop[0]);
		close(w->stop[1]);
	}
	for (size_t i = 0; i < WATCH_BUCKETS; i++) {
		while (w->buckets[i] != NULL) {
			struct store_watch *x = w->buckets[i];
			w->buckets[i] = x->next;
			free(x);
		}
	}
	pthread_mutex_destroy(&w->lock);
	free(w->data_dir);
	free(w);
	*wp = NULL;
}

struct store_watch *store_watch_add(struct store *store, int64_t user_id,
				    void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&store->watch_lock);
	if (store->watcher == NULL)
		store->watcher = sqlite_watcher_new(store->data_dir);
	struct sqlite_watcher *w = store->watcher;
	pthread_mutex_unlock(&store->watch_lock);

	struct store_watch *x = xcalloc(1, sizeof(*x));
	x->w = w;
	x->account = user_id;
	x->fn = fn;
	x->ctx = ctx;
	x->wd = -1;
	char *path = changes_path(store->data_dir, user_id);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		close(fd);
	/* Under the lock: a removal of the same file's last watch must not
	 * take down the wd this add is about to share. */
	pthread_mutex_lock(&w->lock);
	if (w->ifd >= 0)
		x->wd = inotify_add_watch(w->ifd, path, IN_MODIFY | IN_ATTRIB);
	if (x->wd < 0)
		log_warn("store: no change events for %s: %s", path,
			    strerror(errno));
	free(path);
	struct store_watch **b = bucket(w, x->wd);
	x->next = *b;
	*b = x;
	pthread_mutex_unlock(&w->lock);
	return x;
}

void store_watch_remove(struct store_watch **xp)
{
	struct store_watch *x = *xp;
	if (x == NULL)
		return;
	struct sqlite_watcher *w = x->w;
	bool last = true;
	pthread_mutex_lock(&w->lock);
	for (struct store_watch **pp = bucket(w, x->wd); *pp != NULL;) {
		if (*pp == x) {
			*pp = x->next;
			continue;
		}
		if ((*pp)->wd == x->wd)
			last = false;
		pp = &(*pp)->next;
	}
	/* inotify gives one wd per file: the last watch of an account
	 * takes it down. */
	if (last && x->wd >= 0)
		inotify_rm_watch(w->ifd, x->wd);
	pthread_mutex_unlock(&w->lock);
	free(x);
	*xp = NULL;
}
