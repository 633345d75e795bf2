/* STORE, COPY and MOVE (RFC 9051 6.4.6-6.4.8, RFC 6851 MOVE, RFC 4315
 * UIDPLUS's COPYUID). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_args.h"
#include "imap/imap_private.h"

/* ---- STORE ---- */

struct store_args {
	uint32_t *uids;
	size_t n;
	enum store_flag_op op;
	bool silent;
	unsigned flags;		/* STORE_FLAG_* */
	struct str keywords;	/* space-separated */
	uint64_t unchangedsince;
	bool has_unchangedsince;
	uint32_t *refused;	/* UNCHANGEDSINCE failures (UIDs) */
	size_t nrefused;
	uint64_t modseq;	/* of this change */
};

static void keywords_of(const struct imap_flags *fl, struct str *out)
{
	for (unsigned i = 0; i < fl->n_keywords; i++) {
		if (out->len > 0)
			str_appendc(out, ' ');
		str_append(out, fl->keywords[i].data, fl->keywords[i].len);
	}
}

static void store_changed(const struct store_flag_change *c, void *ctx)
{
	struct store_args *a = ctx;
	if (c->refused) {
		a->refused[a->nrefused++] = c->uid;
		return;
	}
	a->modseq = c->modseq;
}

struct store_echo {
	struct imap_session *s;
	struct store_args *a;
	size_t i;
	bool keywords;	/* an answer names keywords */
};

/* The new flags of every message of the set (unless .SILENT). */
static bool store_echo_one(const struct store_msginfo *m, void *ctx)
{
	struct store_echo *e = ctx;
	struct store_args *a = e->a;
	while (e->i < a->n && a->uids[e->i] < m->uid)
		e->i++;
	if (e->i == a->n)
		return false;
	if (a->uids[e->i] != m->uid)
		return true;
	uint32_t seq = imap_view_seq(e->s->view, m->uid);
	if (seq == 0)
		return true;
	struct str *o = &e->s->out;
	str_printf(o, "* %u FETCH (", seq);
	imap_flags_write(e->s, o, m->uid, m->flags, m->keywords);
	if (m->keywords[0] != '\0')
		e->keywords = true;
	if (e->s->uid)
		str_printf(o, " UID %u", m->uid);
	if (e->s->enabled & IMAP_EN_CONDSTORE)
		str_printf(o, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	str_appends(o, ")\r\n");
	return true;
}

static void store_run(struct imap_session *s)
{
	struct store_args *a = s->args;
	struct store_account *acct = imap_account(s);
	const char *err = NULL;
	if (acct == NULL)
		return;
	uint64_t before = s->view->modseq;
	size_t mark = s->out.len;
	a->refused = xcalloc(a->n ? a->n : 1, sizeof(*a->refused));
	int rc = store_msg_flags(acct, s->view->id, a->uids, a->n, a->op,
				 a->flags, a->keywords.len ? a->keywords.data
							   : NULL,
				 a->unchangedsince, store_changed, a, &err);
	struct store_echo e = {s, a, 0, false};
	if (rc > 0 && !a->silent && a->n > 0)
		rc = store_msg_scan(acct, s->view->id, a->uids[0],
				    a->uids[a->n - 1], 0, store_echo_one, &e,
				    &err);
	/* A keyword new to the mailbox: FLAGS says so before the FETCH
	 * that shows it, .SILENT or not. */
	if (rc > 0 && (e.keywords || (a->op != STORE_FLAGS_REMOVE &&
				      a->keywords.len > 0)))
		rc = imap_flags_keywords(s, acct, mark);
	/* Our own change need not come back as news, when it was the
	 * only one. */
	if (rc > 0 && a->modseq == before + 1)
		s->view->modseq = a->modseq;
	if (rc > 0)
		rc = imap_view_sync_if_changed(s, acct, s->uid);
	store_account_unref(&acct);
	if (rc == STORE_FAIL_LIMIT) {
		imap_tagged_limit(s, "STORE");
		return;
	}
	if (rc < 0) {
		imap_tagged_fail(s, rc, "STORE", err);
		return;
	}
	if (a->nrefused > 0) {
		struct str set = STR_INIT;
		imap_write_uid_set(&set, a->refused, a->nrefused);
		imap_tagged(s, "OK [MODIFIED %.*s] Conditional STORE failed",
			    (int)set.len, set.data);
		str_free(&set);
		return;
	}
	imap_tagged(s, "OK %sSTORE completed", s->uid ? "UID " : "");
}

static void store_finish(struct imap_session *s)
{
	struct store_args *a = s->args;
	free(a->uids);
	free(a->refused);
	str_free(&a->keywords);
}

void imap_cmd_store(struct imap_session *s, struct imap_parser *p)
{
	struct store_args *a = xcalloc(1, sizeof(*a));
	struct imap_store st;
	s->args = a;
	s->finish = store_finish;
	if (imap_args_store(p, &st) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	a->op = st.op == IMAP_STORE_ADD	     ? STORE_FLAGS_ADD
		: st.op == IMAP_STORE_REMOVE ? STORE_FLAGS_REMOVE
					     : STORE_FLAGS_SET;
	a->silent = st.silent;
	a->flags = imap_store_flags(st.flags.system);
	keywords_of(&st.flags, &a->keywords);
	a->has_unchangedsince = st.unchangedsince;
	a->unchangedsince = st.unchangedsince_modseq;
	const struct imap_seqset set = st.set;
	if (s->view->readonly) {
		imap_reply(s, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	if (a->has_unchangedsince)
		imap_condstore_enable(s);
	if (!imap_check_seqset(s, &set))
		return;
	imap_view_resolve(s, &set, s->uid, &a->uids, &a->n);
	/* UNCHANGEDSINCE 0 fails for every message (RFC 7162 3.1.3): no
	 * MODSEQ is that small. */
	if (a->has_unchangedsince && a->unchangedsince == 0) {
		struct str set_text = STR_INIT;
		imap_write_uid_set(&set_text, a->uids, a->n);
		if (a->n > 0)
			imap_reply(s, "OK [MODIFIED %s] Conditional STORE failed",
				   set_text.data);
		else
			imap_reply(s, "OK STORE completed");
		str_free(&set_text);
		return;
	}
	imap_take_changed(s);
	imap_job(s, store_run);
}

/* ---- COPY / MOVE ---- */

struct copy_args {
	uint32_t *uids;
	size_t n;
	char *to;
	bool move;
};

static void copy_run(struct imap_session *s)
{
	struct copy_args *a = s->args;
	struct store_account *acct = imap_account(s);
	struct store_mailbox mb;
	const char *err = NULL;
	const char *what = a->move ? "MOVE" : "COPY";
	if (acct == NULL)
		return;
	int rc = store_mailbox_find(acct, a->to, &mb, &err);
	if (rc == 0) {
		store_account_unref(&acct);
		imap_tagged(s, "NO [TRYCREATE] Mailbox does not exist");
		return;
	}
	uint32_t *new_uids = xcalloc(a->n ? a->n : 1, sizeof(*new_uids));
	uint32_t uidvalidity = mb.uidvalidity;
	if (rc > 0 && a->n > 0)
		rc = store_msg_copy(acct, s->view->id, a->uids, a->n, mb.id,
				    a->move, new_uids, &uidvalidity, &err);
	if (rc < 0) {
		store_account_unref(&acct);
		free(new_uids);
		if (rc == STORE_FAIL_LIMIT)
			imap_tagged_limit(s, what);
		else
			imap_tagged_fail(s, rc, what, err);
		return;
	}
	/* COPYUID's two sets pair up in order: only the messages copied. */
	struct str src = STR_INIT, dst = STR_INIT, code = STR_INIT;
	size_t k = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (new_uids[i] == 0)
			continue;
		a->uids[k] = a->uids[i];
		new_uids[k++] = new_uids[i];
	}
	imap_write_uid_set(&src, a->uids, k);
	imap_write_uid_set(&dst, new_uids, k);
	free(new_uids);
	if (k > 0)
		str_printf(&code, "[COPYUID %u %.*s %.*s] ", uidvalidity,
			   (int)src.len, src.data, (int)dst.len, dst.data);
	/* MOVE: COPYUID comes before the expunges it explains (RFC 6851
	 * 4.3). */
	if (a->move) {
		if (k > 0)
			str_printf(&s->out, "* OK %.*sMoved\r\n",
				   (int)code.len, code.data);
		imap_view_expunged(s, a->uids, k);
		imap_tagged(s, "OK MOVE completed");
	} else {
		imap_tagged(s, "OK %.*sCOPY completed", (int)code.len,
			    code.len ? code.data : "");
	}
	imap_view_sync(s, acct, true);
	store_account_unref(&acct);
	str_free(&src);
	str_free(&dst);
	str_free(&code);
}

static void copy_finish(struct imap_session *s)
{
	struct copy_args *a = s->args;
	free(a->uids);
	free(a->to);
}

void imap_cmd_copy(struct imap_session *s, struct imap_parser *p)
{
	struct copy_args *a = xcalloc(1, sizeof(*a));
	struct imap_seqset set;
	struct imap_string to;
	s->args = a;
	s->finish = copy_finish;
	a->move = imap_command_is(s, "MOVE");
	if (imap_args_copy(p, &set, &to) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (a->move && s->view->readonly) {
		imap_reply(s, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	if (!imap_check_seqset(s, &set))
		return;
	a->to = xstrndup(to.data, to.len);
	imap_view_resolve(s, &set, s->uid, &a->uids, &a->n);
	imap_job_sync(s, copy_run);
}
