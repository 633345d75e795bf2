/* SEARCH and UID SEARCH (RFC 9051 6.4.4), with RFC 4731's RETURN options
 * answered as ESEARCH.
 *
 * Keys on the index (flags, sizes, dates, UIDs, MODSEQ) are answered from
 * the index alone.  Keys on the text (FROM, SUBJECT, HEADER, BODY, TEXT)
 * read the message: its header fields, unfolded, or its bytes, compared
 * without regard to ASCII case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/xalloc.h"
#include "imap/imap_private.h"
#include "imap/imap_search_parse.h"
#include "mime/mime.h"

struct search_msg {
	uint32_t uid, seq;
	unsigned flags;
	char *keywords;
	uint64_t modseq, size;
	int64_t internaldate, savedate, sentdate;
};

struct search_args {
	struct imap_search q;
	bool text;		/* some key reads the message */
	struct search_msg *msgs;
	size_t n, cap;
	uint32_t *hits;
	size_t nhits;
	struct str bytes;	/* the message being looked into */
};

static bool collect(const struct store_msginfo *m, void *ctx)
{
	struct imap_session *s = ctx;
	struct search_args *a = s->args;
	uint32_t seq = imap_view_seq(s->view, m->uid);
	if (seq == 0)
		return true;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 256;
		a->msgs = xreallocarray(a->msgs, a->cap, sizeof(*a->msgs));
	}
	a->msgs[a->n++] = (struct search_msg){
		m->uid, seq, m->flags, xstrdup(m->keywords), m->modseq,
		m->size, m->internaldate, m->savedate, m->meta.sentdate};
	return true;
}

/* ---- matching text ---- */

static char *ascii_lower(const char *s, size_t n)
{
	char *out = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
	return out;
}

/* Both folded, then memmem(): linear in the message, where comparing at
 * each offset cost its length times the key's (a 60 KiB key over a 700
 * KiB message kept a worker for minutes). */
static bool contains(const char *hay, size_t n, const char *needle, size_t k)
{
	if (k == 0)
		return true;
	if (k > n)
		return false;
	char *h = ascii_lower(hay, n), *x = ascii_lower(needle, k);
	bool hit = memmem(h, n, x, k) != NULL;
	free(h);
	free(x);
	return hit;
}

static bool header_end(const char *p, size_t n, size_t *end_r)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < n && p[i + 1] == '\n') {
			*end_r = i + 2;
			return true;
		}
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
			*end_r = i + 3;
			return true;
		}
	}
	*end_r = n;
	return false;
}

/* Whether a field called name (any, when NULL: TEXT's whole header)
 * holds the string. */
static bool header_has(const struct str *msg, const char *name,
		       const struct imap_string *what)
{
	size_t end;
	header_end(msg->data, msg->len, &end);
	struct mime_hdr_iter it;
	struct mime_field f;
	struct str v = STR_INIT;
	bool hit = false;
	mime_hdr_init(&it, msg->data, end);
	while (!hit && mime_hdr_next(&it, &f) > 0) {
		if (!mime_name_is(f.name, name))
			continue;
		str_clear(&v);
		mime_unfold(f.value, &v);
		/* HEADER name "" matches every message with the field. */
		hit = contains(v.data ? v.data : "", v.len, what->data,
			       what->len);
	}
	str_free(&v);
	return hit;
}

static int load_message(struct imap_session *s, struct store_account *acct,
			const struct search_msg *m)
{
	struct search_args *a = s->args;
	str_clear(&a->bytes);
	char *buf = str_reserve(&a->bytes, m->size + 1);
	size_t got = 0, n;
	while (got < m->size) {
		int rc = store_msg_read(acct, s->view->id, m->uid, got,
					buf + got, m->size - got, &n, NULL);
		if (rc <= 0 || n == 0)
			return rc;
		got += n;
	}
	str_commit(&a->bytes, got);
	return 1;
}

/* ---- evaluation ---- */

struct eval {
	struct imap_session *s;
	struct store_account *acct;
	const struct search_msg *m;
	bool loaded;
	int fail;
	uint32_t max_uid;
	int64_t now;
};

static const char *const header_keys[] = {
	[IMAP_SK_BCC] = "Bcc", [IMAP_SK_CC] = "Cc", [IMAP_SK_FROM] = "From",
	[IMAP_SK_SUBJECT] = "Subject", [IMAP_SK_TO] = "To",
};

static bool day_cmp(int64_t t, int64_t day, int op)
{
	int64_t d = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t want = day / 86400;
	return op < 0 ? d < want : op == 0 ? d == want : d >= want;
}

static bool kw_in(const char *list, const struct imap_string *kw)
{
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, " ");
		if (n == kw->len && strncasecmp(p, kw->data, n) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static bool in_set(const struct eval *e, const struct imap_seqset *set,
		   uint32_t v, uint32_t max)
{
	for (unsigned i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		if (r->saved)
			continue;
		uint32_t lo = r->lo == IMAP_SEQ_STAR ? max : r->lo;
		uint32_t hi = r->hi == IMAP_SEQ_STAR ? max : r->hi;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return true;
	}
	(void)e;
	return false;
}

static bool eval_text(struct eval *e, const struct imap_search_node *k)
{
	if (!e->loaded) {
		int rc = load_message(e->s, e->acct, e->m);
		if (rc < 0)
			e->fail = rc;
		e->loaded = true;
	}
	struct search_args *a = e->s->args;
	const struct str *msg = &a->bytes;
	size_t body;
	switch (k->key) {
	case IMAP_SK_HEADER:
		return header_has(msg, k->header->name.data, &k->header->value);
	case IMAP_SK_BODY:
		header_end(msg->data, msg->len, &body);
		return contains(msg->data + body, msg->len - body, k->str.data,
				k->str.len);
	case IMAP_SK_TEXT:
		return contains(msg->data, msg->len, k->str.data, k->str.len);
	default:
		return header_has(msg, header_keys[k->key], &k->str);
	}
}

static bool eval(struct eval *e, const struct imap_search_node *k)
{
	const struct search_msg *m = e->m;
	switch (k->key) {
	case IMAP_SK_AND:
		for (const struct imap_search_node *c = k->children; c;
		     c = c->next)
			if (!eval(e, c))
				return false;
		return true;
	case IMAP_SK_OR:
		return eval(e, k->children) || eval(e, k->children->next);
	case IMAP_SK_NOT:
		return !eval(e, k->children);
	case IMAP_SK_ALL: case IMAP_SK_OLD: return true;
	case IMAP_SK_NEW: case IMAP_SK_RECENT: return false;
	case IMAP_SK_ANSWERED: return m->flags & STORE_FLAG_ANSWERED;
	case IMAP_SK_DELETED: return m->flags & STORE_FLAG_DELETED;
	case IMAP_SK_DRAFT: return m->flags & STORE_FLAG_DRAFT;
	case IMAP_SK_FLAGGED: return m->flags & STORE_FLAG_FLAGGED;
	case IMAP_SK_SEEN: return m->flags & STORE_FLAG_SEEN;
	case IMAP_SK_UNANSWERED: return !(m->flags & STORE_FLAG_ANSWERED);
	case IMAP_SK_UNDELETED: return !(m->flags & STORE_FLAG_DELETED);
	case IMAP_SK_UNDRAFT: return !(m->flags & STORE_FLAG_DRAFT);
	case IMAP_SK_UNFLAGGED: return !(m->flags & STORE_FLAG_FLAGGED);
	case IMAP_SK_UNSEEN: return !(m->flags & STORE_FLAG_SEEN);
	case IMAP_SK_SAVEDATESUPPORTED: return true;
	case IMAP_SK_KEYWORD: return kw_in(m->keywords, &k->str);
	case IMAP_SK_UNKEYWORD: return !kw_in(m->keywords, &k->str);
	case IMAP_SK_BEFORE: return day_cmp(m->internaldate, k->date, -1);
	case IMAP_SK_ON: return day_cmp(m->internaldate, k->date, 0);
	case IMAP_SK_SINCE: return day_cmp(m->internaldate, k->date, 1);
	case IMAP_SK_SAVEDBEFORE: return day_cmp(m->savedate, k->date, -1);
	case IMAP_SK_SAVEDON: return day_cmp(m->savedate, k->date, 0);
	case IMAP_SK_SAVEDSINCE: return day_cmp(m->savedate, k->date, 1);
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE: {
		int64_t t = m->sentdate ? m->sentdate : m->internaldate;
		int op = k->key == IMAP_SK_SENTBEFORE ? -1
			 : k->key == IMAP_SK_SENTON   ? 0
						      : 1;
		return day_cmp(t, k->date, op);
	}
	case IMAP_SK_LARGER: return m->size > k->number;
	case IMAP_SK_SMALLER: return m->size < k->number;
	case IMAP_SK_OLDER: return e->now - m->internaldate >= (int64_t)k->number;
	case IMAP_SK_YOUNGER: return e->now - m->internaldate <= (int64_t)k->number;
	case IMAP_SK_MODSEQ: return m->modseq >= k->modseq->modseq;
	case IMAP_SK_SEQSET:
		return in_set(e, &k->set, m->seq, e->s->view->n);
	case IMAP_SK_UID: return in_set(e, &k->set, m->uid, e->max_uid);
	case IMAP_SK_EMAILID: case IMAP_SK_THREADID: return false;
	default: return eval_text(e, k);
	}
}

static bool key_reads_text(const struct imap_search_node *k)
{
	switch (k->key) {
	case IMAP_SK_AND: case IMAP_SK_OR: case IMAP_SK_NOT:
		for (const struct imap_search_node *c = k->children; c;
		     c = c->next)
			if (key_reads_text(c))
				return true;
		return false;
	case IMAP_SK_BCC: case IMAP_SK_BODY: case IMAP_SK_CC:
	case IMAP_SK_FROM: case IMAP_SK_SUBJECT: case IMAP_SK_TEXT:
	case IMAP_SK_TO: case IMAP_SK_HEADER:
		return true;
	default:
		return false;
	}
}

static void write_set(struct str *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i)
			str_appendc(out, ',');
		if (j > i)
			str_printf(out, "%u:%u", v[i], v[j]);
		else
			str_printf(out, "%u", v[i]);
		i = j + 1;
	}
}

static void answer(struct imap_session *s)
{
	struct search_args *a = s->args;
	struct str *o = &s->out;
	if (!a->q.esearch) {
		str_appends(o, "* SEARCH");
		for (size_t i = 0; i < a->nhits; i++)
			str_printf(o, " %u", a->hits[i]);
		str_appends(o, "\r\n");
		return;
	}
	str_printf(o, "* ESEARCH (TAG \"%s\")%s", s->tag, s->uid ? " UID" : "");
	if (a->nhits > 0 && (a->q.ret & IMAP_SEARCH_RET_MIN))
		str_printf(o, " MIN %u", a->hits[0]);
	if (a->nhits > 0 && (a->q.ret & IMAP_SEARCH_RET_MAX))
		str_printf(o, " MAX %u", a->hits[a->nhits - 1]);
	if (a->q.ret & IMAP_SEARCH_RET_COUNT)
		str_printf(o, " COUNT %zu", a->nhits);
	if (a->nhits > 0 && (a->q.ret & IMAP_SEARCH_RET_ALL)) {
		str_appends(o, " ALL ");
		write_set(o, a->hits, a->nhits);
	}
	str_appends(o, "\r\n");
}

static void search_run(struct imap_session *s)
{
	struct search_args *a = s->args;
	struct store_account *acct = imap_account(s);
	const char *err = NULL;
	if (acct == NULL)
		return;
	struct imap_view *v = s->view;
	int rc = v->n == 0 ? 1
			   : store_msg_scan(acct, v->id, v->uids[0],
					    v->uids[v->n - 1], STORE_INFO_META,
					    collect, s, &err);
	struct eval e = {s, acct, NULL, false, 0,
			 v->n ? v->uids[v->n - 1] : 0, (int64_t)time(NULL)};
	a->hits = xcalloc(a->n ? a->n : 1, sizeof(*a->hits));
	for (size_t i = 0; rc > 0 && i < a->n; i++) {
		e.m = &a->msgs[i];
		e.loaded = false;
		if (eval(&e, a->q.root))
			a->hits[a->nhits++] = s->uid ? e.m->uid : e.m->seq;
		if (e.fail < 0)
			rc = e.fail;
	}
	if (rc > 0) {
		answer(s);
		imap_view_sync(s, acct, s->uid);
		imap_tagged(s, "OK %sSEARCH completed", s->uid ? "UID " : "");
	} else {
		imap_tagged_fail(s, rc, "SEARCH", err);
	}
	store_account_unref(&acct);
}

static void search_finish(struct imap_session *s)
{
	struct search_args *a = s->args;
	for (size_t i = 0; i < a->n; i++)
		free(a->msgs[i].keywords);
	free(a->msgs);
	free(a->hits);
	str_free(&a->bytes);
}

void imap_cmd_search(struct imap_session *s, struct imap_parser *p)
{
	struct search_args *a = xcalloc(1, sizeof(*a));
	s->args = a;
	s->finish = search_finish;
	if (imap_search_parse(p, &a->q) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	a->text = key_reads_text(a->q.root);
	imap_job(s, search_run);
}
