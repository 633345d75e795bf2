#include "deliver/deliver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/str.h"
#include "core/xalloc.h"
#include "mime/mime_meta.h"
#include "queue/queue.h"
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

/* The cause of the worst refusal so far, kept apart from the store's
 * scratch buffer, which the next store call overwrites. */
static _Thread_local char cause[256];

static void keep_cause(const char *err)
{
	snprintf(cause, sizeof(cause), "%s", err != NULL ? err : "");
}

/* Which refusal of a recipient's accounts decides its reply: one that can
 * never fit is final; then store errors; then "full for now". */
static int refusal_rank(enum deliver_resolve_result r)
{
	switch (r) {
	case DELIVER_TOO_BIG_FOR_QUOTA: return 3;
	case DELIVER_TEMPFAIL: return 2;
	case DELIVER_OVER_QUOTA: return 1;
	default: return 0;
	}
}

/* Can each account of one recipient take the message now?  Keeps in
 * `mine` those that can; an account removed meanwhile is dropped, like an
 * alias target that does not exist. */
static enum deliver_resolve_result check_room(struct store *store,
					      struct deliver_targets *mine,
					      uint64_t size)
{
	enum deliver_resolve_result result = DELIVER_LOCAL;
	size_t kept = 0;
	for (size_t i = 0; i < mine->n; i++) {
		const char *err = NULL;
		int rc = store_account_room(store, mine->ids[i], size, &err);
		enum deliver_resolve_result r =
			rc == 1 || rc == STORE_FAIL_GONE ? DELIVER_LOCAL
			: rc == 0			 ? DELIVER_OVER_QUOTA
			: rc == STORE_FAIL_QUOTA_NEVER	 ? DELIVER_TOO_BIG_FOR_QUOTA
							 : DELIVER_TEMPFAIL;
		if (rc == 1)
			mine->ids[kept++] = mine->ids[i];
		if (refusal_rank(r) > refusal_rank(result)) {
			result = r;
			keep_cause(err);
		}
	}
	mine->n = kept;
	return result == DELIVER_LOCAL && kept == 0 ? DELIVER_UNKNOWN : result;
}

/* The accounts `rcpt` reaches, into mine: 1 some, 0 none, -1 on a store
 * error. */
static int resolve_accounts(struct store *store, const struct addr *rcpt,
			    const struct deliver_opts *opts,
			    struct deliver_targets *mine)
{
	char text[ADDR_TEXT_MAX];
	unsigned names_left = NAMES_MAX;
	struct walk w = {store, mine, &names_left, 0, 0, 0, STR_INIT};
	addr_format(rcpt, text);
	int rc = resolve_name(&w, text);
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
		return -1;
	return w.found > 0 ? 1 : 0;
}

enum deliver_resolve_result deliver_resolve(struct store *store,
					    const struct addr *rcpt,
					    const struct deliver_opts *opts,
					    struct deliver_targets *t,
					    const char **err_r)
{
	struct deliver_targets mine = {0};
	enum deliver_resolve_result result;
	cause[0] = '\0';
	if (rcpt->literal)
		return DELIVER_NOT_LOCAL;
	int rc = store_domain_exists(store, rcpt->domain);
	if (rc == 0)
		return DELIVER_NOT_LOCAL;
	if (rc > 0)
		rc = resolve_accounts(store, rcpt, opts, &mine);
	if (rc < 0) {
		keep_cause("cannot read accounts.db");
		result = DELIVER_TEMPFAIL;
	} else if (rc == 0) {
		result = DELIVER_UNKNOWN;
	} else {
		result = check_room(store, &mine, opts->size);
	}
	if (result == DELIVER_LOCAL)
		for (size_t i = 0; i < mine.n; i++)
			targets_add(t, mine.ids[i]);
	deliver_targets_clear(&mine);
	if (err_r != NULL)
		*err_r = cause;
	return result;
}

const char *deliver_status_name(int status)
{
	return status == DELIVER_STORED ? "stored" : store_fail_name(status);
}

/* The deliver status for a store result: the classes are the same. */
static int status_of(int store_rc)
{
	switch (store_rc) {
	case STORE_FAIL_FULL: return DELIVER_FAIL_FULL;
	case STORE_FAIL_QUOTA: return DELIVER_FAIL_QUOTA;
	case STORE_FAIL_QUOTA_NEVER: return DELIVER_FAIL_QUOTA_NEVER;
	case STORE_FAIL_GONE: return DELIVER_FAIL_GONE;
	case STORE_FAIL_BROKEN: return DELIVER_FAIL_BROKEN;
	default: return store_rc > 0 ? DELIVER_STORED : DELIVER_FAIL_TEMP;
	}
}

static void set_result(struct deliver_result *r, int status,
		       const char *reason)
{
	r->status = status;
	snprintf(r->reason, sizeof(r->reason), "%s",
		 reason != NULL && status != DELIVER_STORED ? reason : "");
}

static void deliver_one(struct store *store, int64_t id,
			const struct store_source *src,
			const struct store_msg_meta *meta,
			struct deliver_result *result)
{
	struct store_account *acct;
	struct store_mailbox mbox;
	const char *err = NULL;
	uint32_t uid;
	int rc = store_account_open(store, id, &acct, &err);
	if (rc > 0) {
		rc = store_mailbox_find(acct, "INBOX", &mbox, &err);
		if (rc == 0) {
			rc = STORE_FAIL_BROKEN;
			err = "the account has no INBOX";
		}
	}
	if (rc > 0)
		rc = store_msg_append(acct, mbox.id, src, meta, 0, NULL,
				      time(NULL), &uid, &err);
	store_account_unref(&acct);
	set_result(result, status_of(rc), err);
}

/* Writers for one message to several accounts: each account commits on
 * its own, so they can sync at the same time. */
#define FANOUT_MAX 8

struct fanout {
	struct store *store;
	const struct deliver_targets *targets;
	const struct store_source *src;
	const struct store_msg_meta *meta;
	struct deliver_result *results;
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
		deliver_one(f->store, f->targets->ids[i], f->src, f->meta,
			    &f->results[i]);
	}
}

static int status_rank(int status)
{
	switch (status) {
	case DELIVER_FAIL_QUOTA_NEVER: return 4;
	case DELIVER_FAIL_GONE: return 3;
	case DELIVER_FAIL_QUOTA: return 1;
	case DELIVER_STORED: return 0;
	default: return 2;
	}
}

/* Before anything is written: can every target take `size` bytes?  If
 * not, nothing is stored, each target that could have taken it gets the
 * status of the one that blocks it, and this returns false. */
static bool precheck(struct store *store,
		     const struct deliver_targets *targets, uint64_t size,
		     struct deliver_result *results)
{
	int block = DELIVER_STORED;
	int64_t blocker = 0;
	for (size_t i = 0; i < targets->n; i++) {
		const char *err = NULL;
		int rc = store_account_room(store, targets->ids[i], size, &err);
		int status = rc == 0 ? DELIVER_FAIL_QUOTA : status_of(rc);
		set_result(&results[i], status, err);
		if (status_rank(status) > status_rank(block)) {
			block = status;
			blocker = targets->ids[i];
		}
	}
	if (block == DELIVER_STORED)
		return true;
	for (size_t i = 0; i < targets->n; i++) {
		if (results[i].status != DELIVER_STORED)
			continue;
		results[i].status = block;
		snprintf(results[i].reason, sizeof(results[i].reason),
			 "not stored: account %lld cannot take the message",
			 (long long)blocker);
	}
	return false;
}

static void log_failure(int64_t id, const struct deliver_result *r)
{
	struct str line = STR_INIT;
	log_begin(&line, "deliver", NULL, "store");
	log_field(&line, "account", "%lld", (long long)id);
	log_field(&line, "result", "%s", deliver_status_name(r->status));
	log_value(&line, "cause", r->reason, strlen(r->reason));
	/* Quota and removal are the account's state, not trouble. */
	bool state = r->status == DELIVER_FAIL_QUOTA ||
		     r->status == DELIVER_FAIL_QUOTA_NEVER ||
		     r->status == DELIVER_FAIL_GONE;
	log_put(state ? LOG_INFO : LOG_ERROR, &line);
}

/* What IMAP will ask of the message, computed once for every target.  A
 * message held in memory is parsed here; a spooled one (past 128 KiB) is
 * parsed at its first FETCH instead, so delivery never maps a large file
 * in one piece.  The full-text index is not filled here: it cost half the
 * delivery rate (an FTS5 insert is 1-2 ms a message), so SEARCH indexes
 * what is missing when it first looks, in batches. */
static bool meta_of(const struct str *rp, const struct deliver_source *src,
		    struct mime_meta *mm, struct store_msg_meta *meta)
{
	struct str whole = STR_INIT;
	str_append(&whole, rp->data, rp->len);
	str_append(&whole, src->data, src->len);
	mime_meta_compute(whole.data, whole.len, 0, mm);
	str_free(&whole);
	deliver_meta_view(mm, meta);
	return true;
}

void deliver_meta_view(const struct mime_meta *m, struct store_msg_meta *out)
{
	*out = (struct store_msg_meta){
		.envelope = m->envelope.data,
		.bodystructure = m->bodystructure.data,
		.body = m->body.data,
		.layout = m->layout.data,
		.layout_len = m->layout.len,
		.sentdate = m->sentdate,
		.subject = m->subject.data,
		.from = m->from.data,
		.to = m->to.data,
		.cc = m->cc.data,
		.preview = m->preview.data,
		.header_text = m->header_text.data,
		.body_text = m->body_text.data,
	};
}

size_t deliver_message(struct store *store,
		       const struct deliver_targets *targets,
		       const char *sender, const struct deliver_source *src,
		       struct deliver_result *results)
{
	struct str rp = STR_INIT;
	pthread_t threads[FANOUT_MAX - 1];
	size_t stored = 0, nthreads = 0;
	/* RFC 5321 4.4: the final delivery adds Return-Path. */
	str_printf(&rp, "Return-Path: <%s>\r\n", sender);
	struct iovec iov[2] = {{rp.data, rp.len},
			       {(void *)src->data, src->len}};
	struct store_source ssrc = {iov, 2, src->fd, src->fd_len};
	uint64_t size = rp.len + src->len + (src->fd >= 0 ? src->fd_len : 0);
	struct mime_meta mm = MIME_META_INIT;
	struct store_msg_meta meta;
	bool have_meta = src->fd < 0 && meta_of(&rp, src, &mm, &meta);
	struct fanout f = {store, targets, &ssrc, have_meta ? &meta : NULL,
			   results, PTHREAD_MUTEX_INITIALIZER, 0};
	if (precheck(store, targets, size, results)) {
		/* This thread writes too; helpers only when there is more
		 * than one account, so the common single-recipient case
		 * costs nothing. */
		size_t want = targets->n < FANOUT_MAX ? targets->n : FANOUT_MAX;
		while (nthreads + 1 < want &&
		       pthread_create(&threads[nthreads], NULL, fanout_worker,
				      &f) == 0)
			nthreads++;
		fanout_worker(&f);
		for (size_t i = 0; i < nthreads; i++)
			pthread_join(threads[i], NULL);
	}
	for (size_t i = 0; i < targets->n; i++) {
		if (results[i].status == DELIVER_STORED)
			stored++;
		else
			log_failure(targets->ids[i], &results[i]);
	}
	str_free(&rp);
	mime_meta_clear(&mm);
	return stored;
}

int deliver_queue(struct store *store, const char *id, const char *sender,
		  const char *user, const char *const *rcpts, size_t nrcpts,
		  const struct deliver_source *src, const char **err_r)
{
	/* No Return-Path: that is for the final delivery, at the far end. */
	struct iovec iov = {(void *)src->data, src->len};
	struct store_source ssrc = {&iov, 1, src->fd, src->fd_len};
	struct queue_msg m = {id, sender, user, rcpts, nrcpts};
	const char *err = NULL;
	int rc = queue_put(store, &m, &ssrc, &err);
	if (rc > 0)
		return 1;
	keep_cause(err);
	if (err_r != NULL)
		*err_r = cause;
	return status_of(rc);
}
