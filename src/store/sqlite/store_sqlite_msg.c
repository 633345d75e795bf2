/* Messages for IMAP: scanning the index, catching up on changes, flags,
 * copy and move.  Every change takes a new MODSEQ of its mailbox in the
 * same transaction, so a session that remembers the last MODSEQ it saw
 * finds exactly what changed since. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "core/xalloc.h"
#include "store/sqlite/store_sqlite.h"

/* ---- reading ---- */

static const char *text_or_empty(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t != NULL ? (const char *)t : "";
}

static const char *text_or_null(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

static void row_info(sqlite3_stmt *st, bool meta, struct store_msginfo *m)
{
	memset(m, 0, sizeof(*m));
	m->uid = (uint32_t)sqlite3_column_int64(st, 0);
	m->flags = (unsigned)sqlite3_column_int(st, 1);
	m->keywords = text_or_empty(st, 2);
	m->modseq = (uint64_t)sqlite3_column_int64(st, 3);
	m->internaldate = sqlite3_column_int64(st, 4);
	m->savedate = sqlite3_column_int64(st, 5);
	m->size = (uint64_t)sqlite3_column_int64(st, 6);
	m->email_id = sqlite3_column_int64(st, 7);
	m->thread_id = sqlite3_column_int64(st, 8);
	if (!meta)
		return;
	struct store_msg_meta *x = &m->meta;
	x->envelope = text_or_null(st, 9);
	x->bodystructure = text_or_null(st, 10);
	x->body = text_or_null(st, 11);
	x->layout = sqlite3_column_blob(st, 12);
	x->layout_len = (size_t)sqlite3_column_bytes(st, 12);
	x->sentdate = sqlite3_column_int64(st, 13);
	x->subject = text_or_null(st, 14);
	x->from = text_or_null(st, 15);
	x->to = text_or_null(st, 16);
	x->cc = text_or_null(st, 17);
	x->preview = text_or_null(st, 18);
}

int store_msg_scan(struct store_account *a, int64_t mailbox_id,
		   uint32_t uid_lo, uint32_t uid_hi, unsigned what,
		   bool (*fn)(const struct store_msginfo *m, void *ctx),
		   void *ctx, const char **err_r)
{
	bool meta = (what & (STORE_INFO_META | STORE_INFO_KEYS)) != 0;
	struct store_msginfo m;
	int rc = SQLITE_OK;
	pthread_mutex_lock(&a->rlock);
	sqlite3_stmt *st = sqlite_reader_stmt(
		a, (what & STORE_INFO_META) ? RT_SCAN_META
		   : meta		    ? RT_SCAN_KEYS
					    : RT_SCAN);
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uid_lo);
		sqlite3_bind_int64(st, 3, uid_hi);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			row_info(st, meta, &m);
			if (!fn(&m, ctx)) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	return sqlite_reader_done(a, st, rc, err_r);
}

int store_msg_changes(struct store_account *a, int64_t mailbox_id,
		      uint64_t since,
		      bool (*fn_changed)(const struct store_msginfo *m,
					 void *ctx),
		      void (*fn_expunged)(uint32_t uid, void *ctx), void *ctx,
		      uint64_t *highestmodseq_r, const char **err_r)
{
	struct store_msginfo m;
	int rc = SQLITE_OK;
	pthread_mutex_lock(&a->rlock);
	/* One read transaction for both, so what is seen is one state. */
	sqlite3_exec(a->rdb, "BEGIN", NULL, NULL, NULL);
	sqlite3_stmt *st = sqlite_reader_stmt(a, RT_CHANGES);
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, (int64_t)since);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			row_info(st, false, &m);
			if (!fn_changed(&m, ctx))
				break;
		}
		sqlite3_reset(st);
	}
	if (st != NULL && (rc == SQLITE_DONE || rc == SQLITE_ROW)) {
		st = sqlite_reader_stmt(a, RT_EXPUNGED);
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, mailbox_id);
			sqlite3_bind_int64(st, 2, (int64_t)since);
			while ((rc = sqlite3_step(st)) == SQLITE_ROW)
				fn_expunged((uint32_t)sqlite3_column_int64(st, 0),
					    ctx);
			sqlite3_reset(st);
		}
	}
	*highestmodseq_r = 0;
	if (st != NULL && rc == SQLITE_DONE) {
		st = sqlite_reader_stmt(a, RT_MODSEQ);
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, mailbox_id);
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW)
				*highestmodseq_r =
					(uint64_t)sqlite3_column_int64(st, 0);
			rc = rc == SQLITE_ROW ? SQLITE_DONE : rc;
			sqlite3_reset(st);
		}
	}
	int result = st != NULL && rc == SQLITE_DONE
			     ? 1
			     : sqlite_fail(a->rdb, st != NULL ? rc : SQLITE_OK,
					   a->name, err_r);
	sqlite3_exec(a->rdb, "COMMIT", NULL, NULL, NULL);
	pthread_mutex_unlock(&a->rlock);
	return result;
}

/* ---- meta ---- */

/* 1 if the body is there, 0 if not, -1 on error. */
static int body_exists(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM body WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_msg_set_meta(struct store_account *a, int64_t email_id,
		       const struct store_msg_meta *meta, const char **err_r)
{
	sqlite_writer_enter(a);
	int rc = sqlite_writer_db(a, err_r);
	if (rc == 0) {
		/* The body may have gone meanwhile (in one transaction, as
		 * another process may expunge too): then nothing to keep.
		 * A row kept for it would be found by the next body that
		 * gets its id. */
		rc = sqlite_begin(a->wdb) < 0 ? -1 : body_exists(a->wdb,
								  email_id);
		if (rc > 0 && sqlite_meta_insert(a->wdb, email_id, meta) < 0)
			rc = -1;
		if (rc >= 0 && sqlite_commit(a->wdb) < 0)
			rc = -1;
		if (rc < 0)
			rc = sqlite_fail(a->wdb, SQLITE_OK, a->name, err_r);
		sqlite_rollback(a->wdb);
	}
	sqlite_writer_leave(a);
	return rc;
}

/* ---- flags ---- */

/* Keywords are kept as one space-separated string per message. */
static bool kw_has(const char *list, const char *kw, size_t len)
{
	for (const char *p = list; *p != '\0';) {
		const char *end = strchr(p, ' ');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == len && strncasecmp(p, kw, len) == 0)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* Whether every keyword of `a` is in `b`. */
static bool kw_subset(const char *a, const char *b)
{
	for (const char *p = a; *p != '\0';) {
		size_t n = strcspn(p, " ");
		if (n > 0 && !kw_has(b, p, n))
			return false;
		p += n;
		p += strspn(p, " ");
	}
	return true;
}

static void kw_add_word(struct str *out, const char *w, size_t n)
{
	if (out->len > 0)
		str_appendc(out, ' ');
	str_append(out, w, n);
}

/* The message's new keyword list after `op` with `change`. */
static void kw_apply(const char *old, enum store_flag_op op,
		     const char *change, struct str *out)
{
	str_clear(out);
	if (op == STORE_FLAGS_SET)
		old = "";
	for (const char *p = old; *p != '\0';) {
		size_t n = strcspn(p, " ");
		if (n > 0 && !(op == STORE_FLAGS_REMOVE &&
			       kw_has(change, p, n)))
			kw_add_word(out, p, n);
		p += n;
		p += strspn(p, " ");
	}
	if (op == STORE_FLAGS_REMOVE)
		return;
	for (const char *p = change; *p != '\0';) {
		size_t n = strcspn(p, " ");
		if (n > 0 && !kw_has(out->data != NULL ? out->data : "", p, n))
			kw_add_word(out, p, n);
		p += n;
		p += strspn(p, " ");
	}
}

struct flag_result {
	struct store_flag_change c;
	char *keywords;
};

struct flags_txn {
	int64_t mailbox_id;
	const uint32_t *uids;
	size_t n;
	enum store_flag_op op;
	unsigned flags;
	const char *keywords;
	uint64_t unchangedsince;
	struct flag_result *out;
	size_t nout;
	size_t changed;
	bool limit;		/* a keyword past the mailbox's limits */
};

static unsigned flags_apply(unsigned old, enum store_flag_op op,
			    unsigned change)
{
	switch (op) {
	case STORE_FLAGS_ADD: return old | change;
	case STORE_FLAGS_REMOVE: return old & ~change;
	default: return change;
	}
}

static int flags_one(sqlite3_stmt *get, sqlite3_stmt *set,
		     struct flags_txn *t, uint32_t uid, uint64_t modseq,
		     struct str *kw)
{
	sqlite3_bind_int64(get, 1, t->mailbox_id);
	sqlite3_bind_int64(get, 2, uid);
	int rc = sqlite3_step(get);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(get);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	unsigned old = (unsigned)sqlite3_column_int(get, 0);
	uint64_t old_modseq = (uint64_t)sqlite3_column_int64(get, 2);
	kw_apply(text_or_empty(get, 1), t->op, t->keywords ? t->keywords : "",
		 kw);
	/* As sets: STORE FLAGS (b a) on "a b" changes nothing. */
	const char *now_kw = kw->data != NULL ? kw->data : "";
	bool same_kw = kw_subset(text_or_empty(get, 1), now_kw) &&
		       kw_subset(now_kw, text_or_empty(get, 1));
	sqlite3_reset(get);
	unsigned now = flags_apply(old, t->op, t->flags);
	struct flag_result *r = &t->out[t->nout];
	if (t->unchangedsince > 0 && old_modseq > t->unchangedsince) {
		r->c = (struct store_flag_change){.uid = uid, .refused = true,
						  .modseq = old_modseq};
		t->nout++;
		return 0;
	}
	if (now == old && same_kw)
		return 0;
	sqlite3_bind_int64(set, 1, now);
	sqlite3_bind_text(set, 2, kw->data != NULL ? kw->data : "", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(set, 3, (int64_t)modseq);
	sqlite3_bind_int64(set, 4, t->mailbox_id);
	sqlite3_bind_int64(set, 5, uid);
	if (sqlite_step_reset(set, SQLITE_DONE) < 0)
		return -1;
	r->c = (struct store_flag_change){.uid = uid, .flags = now,
					  .modseq = modseq};
	r->keywords = xstrdup(kw->data != NULL ? kw->data : "");
	t->nout++;
	return 0;
}

static int flags_body(struct store_account *a, struct flags_txn *t)
{
	sqlite3_stmt *get = NULL, *set = NULL;
	struct str kw = STR_INIT;
	int rc = -1;
	if (sqlite3_prepare_v2(a->wdb, "SELECT flags, keywords, modseq FROM "
				       "message WHERE mailbox_id=? AND uid=?",
			       -1, &get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(a->wdb, "UPDATE message SET flags=?, "
				       "keywords=?, modseq=? WHERE "
				       "mailbox_id=? AND uid=?",
			       -1, &set, NULL) != SQLITE_OK)
		goto out;
	sqlite3_stmt *hm;
	if (sqlite3_prepare_v2(a->wdb, "SELECT highestmodseq FROM mailbox "
				       "WHERE id=?", -1, &hm, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(hm, 1, t->mailbox_id);
	/* The change's MODSEQ, taken only if something changes: a STORE
	 * that changes nothing must not look like news to other sessions. */
	uint64_t modseq = sqlite3_step(hm) == SQLITE_ROW
				  ? (uint64_t)sqlite3_column_int64(hm, 0) + 1
				  : 0;
	sqlite3_finalize(hm);
	if (modseq == 0)
		goto out;
	if (t->op != STORE_FLAGS_REMOVE && t->n > 0) {
		int kw_rc = sqlite_keywords_define(a->wdb, t->mailbox_id,
						   t->keywords);
		t->limit = kw_rc == 0;
		if (kw_rc <= 0)
			goto out;
	}
	for (size_t i = 0; i < t->n; i++)
		if (flags_one(get, set, t, t->uids[i], modseq, &kw) < 0)
			goto out;
	for (size_t i = 0; i < t->nout; i++)
		t->changed += !t->out[i].c.refused;
	if (t->changed > 0 &&
	    sqlite_exec(a->wdb, "UPDATE mailbox SET highestmodseq = "
				"highestmodseq + 1 WHERE id = ?",
			t->mailbox_id) < 0)
		goto out;
	rc = 1;
out:
	str_free(&kw);
	sqlite3_finalize(get);
	sqlite3_finalize(set);
	return rc;
}

static int limit_fail(struct store_account *a, const char **err_r)
{
	sqlite_set_err(err_r, sqlite_errf("%s: too many keywords in the "
					  "mailbox, or one too long", a->name));
	return STORE_FAIL_LIMIT;
}

int store_msg_flags(struct store_account *a, int64_t mailbox_id,
		    const uint32_t *uids, size_t n, enum store_flag_op op,
		    unsigned flags, const char *keywords,
		    uint64_t unchangedsince,
		    void (*fn)(const struct store_flag_change *c, void *ctx),
		    void *ctx, const char **err_r)
{
	struct flags_txn t = {mailbox_id, uids, n, op, flags, keywords,
			      unchangedsince, NULL, 0, 0, false};
	t.out = xcalloc(n ? n : 1, sizeof(*t.out));
	sqlite_writer_enter(a);
	int rc = sqlite_writer_db(a, err_r);
	/* A flag change is not worth a disk sync of its own: the WAL keeps
	 * it in order and the next synced commit (a delivery, an expunge, a
	 * checkpoint) makes it durable with everything before it.  A power
	 * cut may lose the last few flag changes, never a message, and the
	 * database stays whole (Dovecot's mail_fsync=optimized makes the
	 * same trade). */
	if (rc == 0)
		sqlite3_exec(a->wdb, "PRAGMA synchronous=NORMAL", NULL, NULL,
			     NULL);
	if (rc == 0) {
		if (sqlite_begin(a->wdb) < 0 || flags_body(a, &t) < 0 ||
		    sqlite_commit(a->wdb) < 0) {
			rc = t.limit ? limit_fail(a, err_r)
				     : sqlite_fail(a->wdb, SQLITE_OK, a->name,
						   err_r);
			sqlite_rollback(a->wdb);
			for (size_t i = 0; i < t.nout; i++)
				free(t.out[i].keywords);
			t.nout = 0;
		} else {
			rc = 1;
		}
		sqlite3_exec(a->wdb, "PRAGMA synchronous=FULL", NULL, NULL,
			     NULL);
	}
	sqlite_writer_leave(a);
	if (rc == 1 && t.changed > 0)
		sqlite_account_changed(a);
	for (size_t i = 0; i < t.nout; i++) {
		t.out[i].c.keywords = t.out[i].keywords ? t.out[i].keywords
							: "";
		fn(&t.out[i].c, ctx);
		free(t.out[i].keywords);
	}
	free(t.out);
	return rc;
}

/* ---- copy and move ---- */

struct copy_txn {
	int64_t from, to;
	const uint32_t *uids;
	size_t n;
	bool move;
	uint32_t *new_uids;
	uint32_t uidvalidity;
	bool limit;		/* a keyword past the target's limits */
};

/* The copied messages' keywords, defined in the target.  Copies of many
 * messages mostly carry the same few lists: each list is defined once in
 * a row. */
static int copy_keywords(sqlite3 *db, struct copy_txn *t)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT keywords FROM message WHERE "
				   "mailbox_id = ?1 AND uid = ?2 AND "
				   "keywords != ''", -1, &st, NULL) != SQLITE_OK)
		return -1;
	char *last = NULL;
	int rc = 1;
	for (size_t i = 0; i < t->n && rc > 0; i++) {
		sqlite3_bind_int64(st, 1, t->from);
		sqlite3_bind_int64(st, 2, t->uids[i]);
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			const char *kw = text_or_empty(st, 0);
			if (last == NULL || strcmp(last, kw) != 0) {
				rc = sqlite_keywords_define(db, t->to, kw);
				free(last);
				last = xstrdup(kw);
			}
		} else if (step != SQLITE_DONE) {
			rc = -1;
		}
		sqlite3_reset(st);
	}
	free(last);
	sqlite3_finalize(st);
	t->limit = rc == 0;
	return rc > 0 ? 0 : -1;
}

static int copy_target(sqlite3 *db, int64_t to, uint32_t *uidnext_r,
		       uint64_t *modseq_r, uint32_t *uidvalidity_r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT uidnext, highestmodseq + 1, "
				   "uidvalidity FROM mailbox WHERE id=?", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, to);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*uidnext_r = (uint32_t)sqlite3_column_int64(st, 0);
		*modseq_r = (uint64_t)sqlite3_column_int64(st, 1);
		*uidvalidity_r = (uint32_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static const char copy_sql[] =
	"INSERT INTO message(mailbox_id, uid, modseq, flags, keywords, "
	"internaldate, size, body_id, savedate, thread_id) SELECT ?1, ?2, "
	"?3, flags, keywords, internaldate, size, body_id, "
	"CAST(strftime('%s','now') AS INTEGER), thread_id FROM message "
	"WHERE mailbox_id = ?4 AND uid = ?5";

static int copy_body(struct store_account *a, struct copy_txn *t)
{
	uint32_t uid;
	uint64_t modseq;
	sqlite3_stmt *ins = NULL, *ref = NULL;
	int rc = -1;
	if (copy_target(a->wdb, t->to, &uid, &modseq, &t->uidvalidity) < 0 ||
	    copy_keywords(a->wdb, t) < 0 ||
	    sqlite3_prepare_v2(a->wdb, copy_sql, -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(a->wdb, "UPDATE body SET refs = refs + 1 "
				       "WHERE id = (SELECT body_id FROM message "
				       "WHERE mailbox_id = ?1 AND uid = ?2)",
			       -1, &ref, NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < t->n; i++) {
		sqlite3_bind_int64(ins, 1, t->to);
		sqlite3_bind_int64(ins, 2, uid);
		sqlite3_bind_int64(ins, 3, (int64_t)modseq);
		sqlite3_bind_int64(ins, 4, t->from);
		sqlite3_bind_int64(ins, 5, t->uids[i]);
		if (sqlite_step_reset(ins, SQLITE_DONE) < 0)
			goto out;
		t->new_uids[i] = 0;
		if (sqlite3_changes(a->wdb) == 0)
			continue;
		sqlite3_bind_int64(ref, 1, t->from);
		sqlite3_bind_int64(ref, 2, t->uids[i]);
		if (sqlite_step_reset(ref, SQLITE_DONE) < 0)
			goto out;
		t->new_uids[i] = uid++;
	}
	sqlite3_finalize(ref);
	ref = NULL;
	if (sqlite3_prepare_v2(a->wdb, "UPDATE mailbox SET uidnext = ?1, "
				       "highestmodseq = ?2 WHERE id = ?3",
			       -1, &ref, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(ref, 1, uid);
	sqlite3_bind_int64(ref, 2, (int64_t)modseq);
	sqlite3_bind_int64(ref, 3, t->to);
	if (sqlite_step_reset(ref, SQLITE_DONE) < 0)
		goto out;
	if (t->move && sqlite_expunge_in_txn(a, t->from, t->uids, t->n) < 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(ref);
	return rc;
}

/* The quota, for copies: what the copied messages add to the usage. */
static int copy_quota(struct store_account *a, struct copy_txn *t,
		      const char **err_r)
{
	uint64_t quota = 0, used = 0, add = 0;
	int rc = sqlite_user_quota(a->store, a->id, &quota, err_r);
	if (rc <= 0 || quota == 0)
		return rc == 0 ? STORE_FAIL_GONE : rc;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(a->wdb, "SELECT size FROM message WHERE "
				       "mailbox_id = ? AND uid = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		sqlite3_bind_int64(st, 1, t->from);
		sqlite3_bind_int64(st, 2, t->uids[i]);
		if (sqlite3_step(st) == SQLITE_ROW)
			add += (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(a->wdb, "SELECT bytes FROM account", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		used = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return add == 0 ? 1 : sqlite_quota_verdict(quota, used, add, err_r);
}

int store_msg_copy(struct store_account *a, int64_t from_id,
		   const uint32_t *uids, size_t n, int64_t to_id, bool move,
		   uint32_t *new_uids_r, uint32_t *uidvalidity_r,
		   const char **err_r)
{
	struct copy_txn t = {from_id, to_id, uids, n, move, new_uids_r, 0,
			     false};
	sqlite_writer_enter(a);
	int rc = sqlite_writer_db(a, err_r);
	if (rc == 0 && sqlite_begin(a->wdb) < 0)
		rc = sqlite_fail(a->wdb, SQLITE_OK, a->name, err_r);
	if (rc == 0 && !move)
		rc = copy_quota(a, &t, err_r);
	if (rc == -1 && a->wdb != NULL)
		rc = sqlite_fail(a->wdb, SQLITE_OK, a->name, err_r);
	if (rc >= 0) {
		if (copy_body(a, &t) < 0 || sqlite_commit(a->wdb) < 0)
			rc = t.limit ? limit_fail(a, err_r)
				     : sqlite_fail(a->wdb, SQLITE_OK, a->name,
						   err_r);
		else
			rc = 1;
	}
	if (rc != 1 && a->wdb != NULL)
		sqlite_rollback(a->wdb);
	sqlite_writer_leave(a);
	if (rc == 1) {
		*uidvalidity_r = t.uidvalidity;
		sqlite_account_changed(a);
	}
	return rc;
}
