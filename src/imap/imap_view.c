/* The selected mailbox as one session sees it: the UIDs in sequence
 * order, and the MODSEQ up to which it has told the client what changed.
 * Catching up asks the store only for what changed after that MODSEQ, so
 * it costs nothing when nothing changed, whatever the mailbox's size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_private.h"

static void view_push(struct imap_view *v, uint32_t uid)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->uids = xreallocarray(v->uids, v->cap, sizeof(*v->uids));
	}
	v->uids[v->n++] = uid;
}

struct load {
	struct imap_view *v;
	uint32_t unseen;	/* first unseen message's number, 0 if none */
};

static bool load_one(const struct store_msginfo *m, void *ctx)
{
	struct load *l = ctx;
	view_push(l->v, m->uid);
	if (l->unseen == 0 && !(m->flags & STORE_FLAG_SEEN))
		l->unseen = l->v->n;
	return true;
}

int imap_view_load(struct store_account *acct, const struct store_mailbox *mb,
		   bool readonly, const char *name, struct imap_view **view_r,
		   uint32_t *unseen_r, const char **err_r)
{
	struct imap_view *v = xcalloc(1, sizeof(*v));
	v->id = mb->id;
	v->name = xstrdup(name);
	v->uidvalidity = mb->uidvalidity;
	v->readonly = readonly;
	/* The counters first: a message arriving during the scan is then
	 * caught up with at the next sync, never missed. */
	v->uidnext = mb->uidnext;
	v->modseq = mb->highestmodseq;
	struct load l = {v, 0};
	int rc = store_msg_scan(acct, mb->id, 1, mb->uidnext - 1, 0, load_one,
				&l, err_r);
	if (rc < 0) {
		imap_view_free(&v);
		return rc;
	}
	*view_r = v;
	*unseen_r = l.unseen;
	return 1;
}

void imap_view_free(struct imap_view **vp)
{
	struct imap_view *v = *vp;
	if (v == NULL)
		return;
	free(v->uids);
	free(v->name);
	free(v);
	*vp = NULL;
}

uint32_t imap_view_lower_bound(const struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	uint32_t i = imap_view_lower_bound(v, uid);
	return i < v->n && v->uids[i] == uid ? i + 1 : 0;
}

unsigned imap_store_flags(unsigned imap)
{
	unsigned f = 0;
	f |= imap & IMAP_FLAG_SEEN ? STORE_FLAG_SEEN : 0;
	f |= imap & IMAP_FLAG_ANSWERED ? STORE_FLAG_ANSWERED : 0;
	f |= imap & IMAP_FLAG_FLAGGED ? STORE_FLAG_FLAGGED : 0;
	f |= imap & IMAP_FLAG_DELETED ? STORE_FLAG_DELETED : 0;
	f |= imap & IMAP_FLAG_DRAFT ? STORE_FLAG_DRAFT : 0;
	return f;
}

void imap_write_flags(struct str *out, unsigned flags, const char *keywords)
{
	imap_write_flags_recent(out, flags, keywords, false);
}

void imap_write_flags_recent(struct str *out, unsigned flags,
			     const char *keywords, bool recent)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{STORE_FLAG_SEEN, "\\Seen"},
		{STORE_FLAG_ANSWERED, "\\Answered"},
		{STORE_FLAG_FLAGGED, "\\Flagged"},
		{STORE_FLAG_DELETED, "\\Deleted"},
		{STORE_FLAG_DRAFT, "\\Draft"},
	};
	bool first = !recent;
	str_appends(out, recent ? "FLAGS (\\Recent" : "FLAGS (");
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		if (!(flags & names[i].bit))
			continue;
		if (!first)
			str_appendc(out, ' ');
		str_appends(out, names[i].name);
		first = false;
	}
	if (keywords != NULL && keywords[0] != '\0') {
		if (!first)
			str_appendc(out, ' ');
		str_appends(out, keywords);
	}
	str_appendc(out, ')');
}

/* ---- catching up ---- */

struct sync {
	struct imap_session *s;
	struct imap_view *v;
	uint32_t *gone;
	size_t ngone, capgone;
	uint32_t old_n, old_next;
	uint64_t top;	/* highest MODSEQ seen */
	bool keywords;	/* a message seen has keywords */
};

static bool sync_changed(const struct store_msginfo *m, void *ctx)
{
	struct sync *y = ctx;
	struct imap_view *v = y->v;
	if (m->modseq > y->top)
		y->top = m->modseq;
	if (m->keywords[0] != '\0')
		y->keywords = true;
	if (m->uid >= v->uidnext) {
		view_push(v, m->uid);
		v->uidnext = m->uid + 1;
		return true;
	}
	/* A flag change of a message the client knows. */
	uint32_t seq = imap_view_seq(v, m->uid);
	if (seq == 0 || seq > y->old_n)
		return true;
	struct str *out = &y->s->out;
	str_printf(out, "* %u FETCH (UID %u ", seq, m->uid);
	imap_flags_write(y->s, out, m->uid, m->flags, m->keywords);
	if (y->s->enabled & (IMAP_EN_CONDSTORE | IMAP_EN_QRESYNC))
		str_printf(out, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	str_appends(out, ")\r\n");
	return true;
}

static void sync_expunged(uint32_t uid, void *ctx)
{
	struct sync *y = ctx;
	/* Not in the view: the session's own EXPUNGE told it already, or the
	 * client never heard of it.  Counted, it would hold the view's MODSEQ
	 * back until a command that may tell expunges, and every command
	 * until then would tell all flag changes since again. */
	if (imap_view_seq(y->v, uid) == 0)
		return;
	if (y->ngone == y->capgone) {
		y->capgone = y->capgone ? y->capgone * 2 : 16;
		y->gone = xreallocarray(y->gone, y->capgone, sizeof(*y->gone));
	}
	y->gone[y->ngone++] = uid;
}

/* Drop the UIDs (ascending) from the view in one pass, answering for each
 * one the view held: EXPUNGE with its sequence number, highest first so
 * each number is right when said; or one VANISHED under QRESYNC (RFC
 * 7162 3.2.10).  One pass, not a move per message: expunging all of a
 * 100,000-message mailbox must not cost 10^10 moves. */
static void view_drop(struct imap_session *s, const uint32_t *uids, size_t n)
{
	struct imap_view *v = s->view;
	uint32_t *seqs = xreallocarray(NULL, n ? n : 1, sizeof(*seqs));
	uint32_t *gone = xreallocarray(NULL, n ? n : 1, sizeof(*gone));
	size_t ng = 0, j = 0, w = 0;
	for (uint32_t r = 0; r < v->n; r++) {
		while (j < n && uids[j] < v->uids[r])
			j++;
		if (j < n && uids[j] == v->uids[r]) {
			seqs[ng] = r + 1;
			gone[ng++] = v->uids[r];
			continue;
		}
		v->uids[w++] = v->uids[r];
	}
	v->n = w;
	if (ng > 0 && (s->enabled & IMAP_EN_QRESYNC)) {
		str_appends(&s->out, "* VANISHED ");
		imap_write_uid_set(&s->out, gone, ng);
		str_appends(&s->out, "\r\n");
	} else {
		for (size_t i = ng; i-- > 0;)
			str_printf(&s->out, "* %u EXPUNGE\r\n", seqs[i]);
	}
	free(seqs);
	free(gone);
}

void imap_view_expunged(struct imap_session *s, const uint32_t *uids,
			size_t n)
{
	view_drop(s, uids, n);
}

/* After a sync's answers from mark on: RECENT after a new EXISTS, and
 * FLAGS before the answers when they name a keyword new to the client. */
static int sync_flags(struct imap_session *s, struct store_account *acct,
		      const struct sync *y, size_t mark)
{
	/* New messages (some may be gone again already). */
	if (s->view->uidnext > y->old_next)
		imap_flags_sync_recent(s, acct);
	return y->keywords ? imap_flags_keywords(s, acct, mark) : 1;
}

int imap_view_sync(struct imap_session *s, struct store_account *acct,
		   bool expunges)
{
	struct imap_view *v = s->view;
	if (v == NULL)
		return 1;
	size_t mark = s->out.len;
	struct sync y = {.s = s, .v = v, .old_n = v->n,
			 .old_next = v->uidnext, .top = v->modseq};
	const char *err;
	uint64_t top = 0;
	int rc = store_msg_changes(acct, v->id, v->modseq, sync_changed,
				   sync_expunged, &y, &top, &err);
	if (rc < 0) {
		free(y.gone);
		return rc;
	}
	/* The mailbox was deleted under us (by another session or the
	 * CLI): nothing this session holds means anything any more. */
	if (top == 0) {
		free(y.gone);
		s->mailbox_gone = true;
		return 1;
	}
	/* Expunges are not told during FETCH, STORE and SEARCH (RFC 9051
	 * 7.5.1): then the view stays where it was, to be caught up by the
	 * next command that may tell them. */
	if (y.ngone > 0 && !expunges) {
		s->sync_deferred = true;
		free(y.gone);
		if (v->n != y.old_n)
			str_printf(&s->out, "* %u EXISTS\r\n", v->n);
		return sync_flags(s, acct, &y, mark);
	}
	if (y.ngone > 0)
		view_drop(s, y.gone, y.ngone);
	free(y.gone);
	if (v->n != y.old_n || y.ngone > 0)
		str_printf(&s->out, "* %u EXISTS\r\n", v->n);
	/* Every change up to the mailbox's MODSEQ as read with them is
	 * told now. */
	v->modseq = top > y.top ? top : y.top;
	return sync_flags(s, acct, &y, mark);
}

bool imap_seqset_has(const struct imap_seqset *set, uint32_t v, uint32_t star)
{
	for (unsigned i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		uint32_t lo = r->lo == IMAP_SEQ_STAR ? star : r->lo;
		uint32_t hi = r->hi == IMAP_SEQ_STAR ? star : r->hi;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (!r->saved && v >= lo && v <= hi)
			return true;
	}
	return false;
}

int imap_read_message(const struct imap_session *s,
		      struct store_account *acct, uint32_t uid, uint64_t size,
		      struct str *out)
{
	str_clear(out);
	char *buf = str_reserve(out, size + 1);
	size_t got = 0, n;
	while (got < size) {
		int rc = store_msg_read(acct, s->view->id, uid, got, buf + got,
					size - got, &n, NULL);
		if (rc <= 0 || n == 0)
			return rc < 0 ? rc : 0;
		got += n;
	}
	str_commit(out, got);
	return 1;
}

bool imap_saved_has(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->nsaved;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->saved[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nsaved && s->saved[lo] == uid;
}

bool imap_view_seqset_valid(const struct imap_session *s,
			    const struct imap_seqset *set)
{
	uint32_t n = s->view->n;
	for (unsigned i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		if (r->saved)
			continue;
		bool lo_star = r->lo == IMAP_SEQ_STAR;
		bool hi_star = r->hi == IMAP_SEQ_STAR;
		/* "1:*" of an empty mailbox is what many clients send to
		 * ask for everything: nothing, not an error. */
		if (n == 0 && (lo_star || hi_star))
			return !(lo_star && hi_star) &&
			       (lo_star ? r->hi : r->lo) == 1;
		if ((!lo_star && r->lo > n) || (!hi_star && r->hi > n))
			return false;
	}
	return true;
}

void imap_view_resolve(const struct imap_session *s,
		       const struct imap_seqset *set, bool uid,
		       uint32_t **uids_r, size_t *n_r)
{
	const struct imap_view *v = s->view;
	struct imap_seq_range *r = xreallocarray(NULL, set->count, sizeof(*r));
	unsigned nr = 0;
	bool saved = false;
	for (unsigned i = 0; i < set->count; i++) {
		if (set->ranges[i].saved)
			saved = true;
		else
			r[nr++] = set->ranges[i];
	}
	uint32_t max = uid ? (v->n ? v->uids[v->n - 1] : 0) : v->n;
	nr = nr > 0 ? imap_seqset_normalize(r, nr, max) : 0;
	uint32_t *out = NULL;
	size_t n = 0;
	if (v->n > 0)
		out = xreallocarray(NULL, v->n, sizeof(*out));
	for (uint32_t i = 0; i < v->n; i++)
		if (imap_seqset_contains(r, nr, uid ? v->uids[i] : i + 1) ||
		    (saved && imap_saved_has(s, v->uids[i])))
			out[n++] = v->uids[i];
	free(r);
	*uids_r = out;
	*n_r = n;
}

static bool skip_changed(const struct store_msginfo *m, void *ctx)
{
	(void)m;
	(void)ctx;
	return true;
}

struct resync {
	struct imap_session *s;
	const struct imap_seqset *known;
	uint32_t *gone;
	size_t ngone, cap;
	bool keywords;	/* a FETCH written names keywords */
};

static bool resync_changed(const struct store_msginfo *m, void *ctx)
{
	struct resync *r = ctx;
	uint32_t seq = imap_view_seq(r->s->view, m->uid);
	if (seq == 0)
		return true;
	struct str *out = &r->s->out;
	str_printf(out, "* %u FETCH (UID %u ", seq, m->uid);
	imap_flags_write(r->s, out, m->uid, m->flags, m->keywords);
	if (m->keywords[0] != '\0')
		r->keywords = true;
	str_printf(out, " MODSEQ (%llu))\r\n", (unsigned long long)m->modseq);
	return true;
}

static void resync_expunged(uint32_t uid, void *ctx)
{
	struct resync *r = ctx;
	if (r->known != NULL && !imap_seqset_has(r->known, uid, UINT32_MAX))
		return;
	if (r->ngone == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->gone = xreallocarray(r->gone, r->cap, sizeof(*r->gone));
	}
	r->gone[r->ngone++] = uid;
}

void imap_write_uid_set(struct str *out, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (i)
			str_appendc(out, ',');
		if (j > i)
			str_printf(out, "%u:%u", uids[i], uids[j]);
		else
			str_printf(out, "%u", uids[i]);
		i = j + 1;
	}
}

int imap_view_vanished_since(struct imap_session *s,
			     struct store_account *acct, uint64_t modseq,
			     const struct imap_seqset *known, bool changed)
{
	struct resync r = {s, known, NULL, 0, 0, false};
	uint64_t top;
	size_t mark = s->out.len;
	int rc = store_msg_changes(acct, s->view->id, modseq,
				   changed ? resync_changed : skip_changed,
				   resync_expunged, &r, &top, NULL);
	if (rc > 0 && r.keywords)
		rc = imap_flags_keywords(s, acct, mark);
	if (rc > 0 && r.ngone > 0) {
		str_appends(&s->out, "* VANISHED (EARLIER) ");
		imap_write_uid_set(&s->out, r.gone, r.ngone);
		str_appends(&s->out, "\r\n");
	}
	free(r.gone);
	return rc;
}

int imap_view_resync(struct imap_session *s, struct store_account *acct,
		     uint64_t modseq, const struct imap_seqset *known)
{
	return imap_view_vanished_since(s, acct, modseq, known, true);
}

int imap_view_sync_if_changed(struct imap_session *s,
			      struct store_account *acct, bool expunges)
{
	return s->sync_wanted ? imap_view_sync(s, acct, expunges) : 1;
}

void imap_take_changed(struct imap_session *s)
{
	s->sync_wanted = s->changed;
	s->changed = false;
}

/* Until now the session's untagged FETCH went without MODSEQ, so the
 * HIGHESTMODSEQ it had from SELECT may be behind what it must know from
 * here on (RFC 7162 3.1); the view's is exactly what it has been told. */
void imap_condstore_enable(struct imap_session *s)
{
	if (s->enabled & IMAP_EN_CONDSTORE)
		return;
	s->enabled |= IMAP_EN_CONDSTORE;
	if (s->view != NULL)
		imap_write(s, "* OK [HIGHESTMODSEQ %llu] Highest",
			   (unsigned long long)s->view->modseq);
}
