#include "deliver/deliver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/str.h"
#include "core/xalloc.h"
#include "store/store.h"

/* Aliases may point at aliases; these bound the chain and the whole walk,
 * so an alias loop with many targets cannot cost k^depth lookups. */
#define ALIAS_DEPTH_MAX 8
#define NAMES_MAX 1000

void deliver_targets_clear(struct deliver_targets *t)
{
	free(t->ids);
	memset(t, 0, sizeof(*t));
}

static void targets_add(struct deliver_targets *t, int64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->ids[i] == id)
			return;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4;
		t->ids = xreallocarray(t->ids, t->cap, sizeof(*t->ids));
	}
	t->ids[t->n++] = id;
}

struct walk {
	struct store *store;
	struct deliver_targets *t;
	unsigned *names_left;	/* shared by the whole walk */
	int depth;
	int found;	/* accounts reached */
	int failed;	/* store errors */
	struct str names; /* alias targets collected, NUL-separated */
};

static int resolve_name(struct walk *w, const char *address);

static void collect_target(const char *target, void *ctx)
{
	struct walk *w = ctx;
	str_append(&w->names, target, strlen(target) + 1);
}

/* Resolve an exact canonical address: a user, or an alias whose targets
 * are resolved in turn.  Returns 1 if the name exists, 0 if not, -1. */
static int resolve_name(struct walk *w, const char *address)
{
	struct store_user u;
	if (*w->names_left == 0)
		return 0;
	(*w->names_left)--;
	int rc = store_user_lookup(w->store, address, &u);
	if (rc != 0) {
		if (rc > 0) {
			targets_add(w->t, u.id);
			w->found++;
			store_user_clear(&u);
		}
		return rc;
	}
	if (w->depth >= ALIAS_DEPTH_MAX)
		return 0;
	struct walk sub = {w->store, w->t, w->names_left, w->depth + 1, 0, 0,
			   STR_INIT};
	rc = store_alias_targets(w->store, address, collect_target, &sub);
	for (size_t off = 0; rc > 0 && off < sub.names.len;) {
		const char *name = sub.names.data + off;
		off += strlen(name) + 1;
		if (resolve_name(&sub, name) < 0)
			sub.failed++;
	}
	str_free(&sub.names);
	w->found += sub.found;
	w->failed += sub.failed;
	return rc;
}

/* The last resort for postmaster@domain.  Returns like resolve_name. */
static int resolve_postmaster(struct walk *w, const char *domain,
			      const char *postmaster)
{
	int64_t id;
	if (postmaster[0] != '\0') {
		int rc = resolve_name(w, postmaster);
		if (rc != 0)
			return rc;
	}
	int rc = store_domain_first_user(w->store, domain, &id);
	if (rc > 0) {
		targets_add(w->t, id);
		w->found++;
	}
	return rc;
}

int deliver_postmaster_domain(struct store *store, const char *host,
			      char *out)
{
	const char *err;
	if (addr_domain_canon(host, strlen(host), 0, out, &err) > 0 &&
	    store_domain_exists(store, out) == 1)
		return 1;
	return store_domain_first(store, out, ADDR_DOMAIN_MAX + 1);
}

enum deliver_resolve_result deliver_resolve(struct store *store,
					    const struct addr *rcpt,
					    const struct deliver_opts *opts,
					    struct deliver_targets *t)
{
	char text[ADDR_TEXT_MAX];
	if (rcpt->literal)
		return DELIVER_NOT_LOCAL;
	int rc = store_domain_exists(store, rcpt->domain);
	if (rc <= 0)
		return rc < 0 ? DELIVER_TEMPFAIL : DELIVER_NOT_LOCAL;

	unsigned names_left = NAMES_MAX;
	struct walk w = {store, t, &names_left, 0, 0, 0, STR_INIT};
	addr_format(rcpt, text);
	rc = resolve_name(&w, text);
	if (rc == 0 && !rcpt->quoted && opts->delimiter[0] != '\0') {
		/* user+tag@domain reaches user@domain. */
		char *sep = strpbrk(rcpt->local, opts->delimiter);
		if (sep != NULL && sep != rcpt->local) {
			struct addr base = *rcpt;
			base.local[sep - rcpt->local] = '\0';
			addr_format(&base, text);
			rc = resolve_name(&w, text);
		}
	}
	if (rc == 0) {
		snprintf(text, sizeof(text), "@%s", rcpt->domain);
		rc = resolve_name(&w, text);
	}
	if (rc == 0 && !rcpt->quoted && strcmp(rcpt->local, "postmaster") == 0)
		rc = resolve_postmaster(&w, rcpt->domain, opts->postmaster);
	if (rc < 0 || w.failed > 0)
		return DELIVER_TEMPFAIL;
	return w.found > 0 ? DELIVER_LOCAL : DELIVER_UNKNOWN;
}

static int deliver_one(struct store *store, int64_t id,
		       const struct iovec *iov, int iovcnt)
{
	struct store_account *acct;
	struct store_mailbox mbox;
	uint32_t uid;
	int rc = -1;
	if (store_account_open(store, id, &acct) < 0)
		return -1;
	if (store_mailbox_find(acct, "INBOX", &mbox) > 0)
		rc = store_msg_deliver(acct, mbox.id, iov, iovcnt, time(NULL),
				       &uid);
	store_account_unref(&acct);
	return rc > 0 ? 1 : -1;
}

/* Writers for one message to several accounts: each account commits on
 * its own, so they can sync at the same time. */
#define FANOUT_MAX 8

struct fanout {
	struct store *store;
	const struct deliver_targets *targets;
	const struct iovec *iov;
	int *results;
	pthread_mutex_t lock;
	size_t next;
};

static void *fanout_worker(void *arg)
{
	struct fanout *f = arg;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		size_t i = f->next++;
		pthread_mutex_unlock(&f->lock);
		if (i >= f->targets->n)
			return NULL;
		f->results[i] = deliver_one(f->store, f->targets->ids[i],
					    f->iov, 2);
	}
}

size_t deliver_message(struct store *store,
		       const struct deliver_targets *targets,
		       const char *sender, const void *data, size_t len,
		       int *results)
{
	struct str rp = STR_INIT;
	pthread_t threads[FANOUT_MAX - 1];
	size_t stored = 0, nthreads = 0;
	/* RFC 5321 4.4: the final delivery adds Return-Path. */
	str_printf(&rp, "Return-Path: <%s>\r\n", sender);
	struct iovec iov[2] = {{rp.data, rp.len}, {(void *)data, len}};
	struct fanout f = {store, targets, iov, results,
			   PTHREAD_MUTEX_INITIALIZER, 0};
	/* This thread writes too; helpers only when there is more than one
	 * account, so the common single-recipient case costs nothing. */
	size_t want = targets->n < FANOUT_MAX ? targets->n : FANOUT_MAX;
	while (nthreads + 1 < want &&
	       pthread_create(&threads[nthreads], NULL, fanout_worker, &f) == 0)
		nthreads++;
	fanout_worker(&f);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	for (size_t i = 0; i < targets->n; i++) {
		if (results[i] > 0) {
			stored++;
		} else {
			struct str line = STR_INIT;
			log_begin(&line, "deliver", NULL, "store");
			log_field(&line, "account", "%lld",
				  (long long)targets->ids[i]);
			log_field(&line, "result", "failed");
			log_put(LOG_ERROR, &line);
		}
	}
	str_free(&rp);
	return stored;
}
