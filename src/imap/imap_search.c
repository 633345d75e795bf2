/* SEARCH and UID SEARCH (RFC 9051 6.4.4), with RFC 4731's RETURN options
 * answered as ESEARCH; SORT, THREAD=ORDEREDSUBJECT and THREAD=REFERENCES
 * (RFC 5256) on the same evaluation, ordered by the keys kept at delivery
 * (REFERENCES also reads each message's header: imap_thread.h).
 *
 * Keys on the index (flags, sizes, dates, UIDs, MODSEQ) are answered from
 * the index alone.  Keys on the text (FROM, TO, CC, BCC, SUBJECT, HEADER,
 * BODY, TEXT) are answered from the full-text index: the decoded text of
 * the message (mime_text.h), in which the string is looked for as a
 * substring under i;unicode-casemap.  Each text key asks the store once
 * for the UIDs that match it; a message is then tested by membership.
 * Messages the index does not hold (stored before it, spooled and not
 * parsed yet, or with more text than the index takes) are read, and every
 * key is looked for in all of their text in one pass (mime_scan.h), which
 * also gives the index the text of those within its bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/xalloc.h"
#include "imap/imap_objectid.h"
#include "imap/imap_private.h"
#include "imap/imap_search_parse.h"
#include "imap/imap_thread.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_layout.h"
#include "mime/mime_scan.h"
#include "mime/mime_sort.h"
#include "mime/mime_text.h"

struct search_msg {
	uint32_t uid, seq;
	unsigned flags;
	char *keywords;
	uint64_t modseq, size;
	int64_t internaldate, savedate, sentdate;
	/* SENTBEFORE, SENTON, SENTSINCE: the Date: as written (see
	 * sent_day), 0 if none. */
	int64_t sentlocal;
	/* SORT keys, i;unicode-casemap'ed (RFC 5256 2.2) */
	char *subject, *from, *to, *cc;
	uint32_t hdr_len;	/* THREAD=REFERENCES, text keys: 0 if unknown */
	int64_t email_id, thread_id;
	bool unindexed;		/* its text is not in the index */
};

/* A text key: its needle (and field name) as the index keeps text, and
 * the UIDs of the mailbox that match it, ascending. */
struct text_key {
	const struct imap_search_node *node;
	struct str needle, name;
	bool any;		/* an empty BODY or TEXT: every message */
	uint32_t *uids;
	size_t n, cap;
};

enum search_kind { SEARCH_PLAIN, SEARCH_SORT, SEARCH_THREAD };

struct search_args {
	enum search_kind kind;
	struct imap_search q;
	struct imap_sort sort;
	struct imap_thread thread;
	bool text;		/* some key reads the message */
	bool body_keys;		/* BODY or TEXT: unindexed messages get indexed */
	bool modseq_key;	/* MODSEQ is in the program */
	bool meta;		/* some key or the order needs the MIME meta */
	bool sent_keys;		/* SENTBEFORE, SENTON or SENTSINCE */
	uint64_t top_modseq;	/* the highest of the messages found */
	uint64_t first_modseq, last_modseq; /* of the lowest and highest */
	struct search_msg *msgs;
	size_t n, cap;
	uint32_t *hits;
	size_t nhits;
	struct text_key *keys;	/* sorted by node address */
	size_t nkeys;
	/* Without BODY or TEXT: the field names of the keys, the only
	 * header lines an unindexed message is looked into for. */
	const char **names;
	size_t *name_lens;
	struct str bytes;	/* the message being looked into */
	struct str htext, btext; /* and its text, when not indexed */
	struct mime_scan *scan;	/* key i is scan key i */
	bool scanned;		/* the scan answers for the message */
};

static char *sort_key(const char *s)
{
	struct str out = STR_INIT;
	if (s == NULL)
		s = "";
	mime_text_normalize(s, strlen(s), &out);
	str_append(&out, "", 0);
	return out.data;
}

/* THREAD=REFERENCES reads at most this much of a message's header. */
#define THREAD_HEADER_MAX (64 * 1024)

static uint32_t header_len(const struct store_msg_meta *meta)
{
	struct mime_range r;
	if (meta->layout == NULL ||
	    mime_layout_section(meta->layout, meta->layout_len, "", 0,
				MIME_SECTION_HEADER, &r) <= 0 ||
	    r.off != 0)
		return 0;
	return r.len < THREAD_HEADER_MAX ? (uint32_t)r.len : THREAD_HEADER_MAX;
}

/* Whether the order needs the sort key `key` of every message: a
 * THREAD groups by subject, a SORT compares its criteria. */
static bool wants(const struct search_args *a, enum imap_sort_key key)
{
	if (a->kind == SEARCH_THREAD)
		return key == IMAP_SORT_SUBJECT;
	for (unsigned i = 0; i < a->sort.n_criteria; i++)
		if (a->sort.criteria[i].key == key)
			return true;
	return false;
}

/* The first item of a cached ENVELOPE, the Date: field as the message
 * has it, into out: false for NIL or what is not an IMAP string. */
static bool envelope_date(const char *env, struct str *out)
{
	if (env == NULL || *env++ != '(')
		return false;
	if (*env == '"') {
		for (env++; *env != '\0' && *env != '"'; env++) {
			if (*env == '\\' && env[1] != '\0')
				env++;
			str_appendc(out, *env);
		}
		return *env == '"';
	}
	char *end;
	if (*env != '{' || env[1] < '0' || env[1] > '9')
		return false;
	unsigned long n = strtoul(env + 1, &end, 10);
	if (strncmp(end, "}\r\n", 3) != 0 || strnlen(end + 3, n) < n)
		return false;
	str_append(out, end + 3, n);
	return true;
}

/* SENT* compare the day of the Date: field "disregarding time and
 * timezone" (RFC 9051 6.4.4): the day written in it, not the UTC day.
 * Without the cached ENVELOPE, the UTC time kept for SORT. */
static int64_t sent_local(const struct store_msg_meta *meta)
{
	struct str date = STR_INIT;
	int64_t t = meta->sentdate;
	if (envelope_date(meta->envelope, &date) &&
	    mime_parse_date_local(date.data ? date.data : "", date.len,
				  &t) <= 0)
		t = 0;
	str_free(&date);
	return t;
}

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
		m->size, m->internaldate, m->savedate, m->meta.sentdate, 0,
		NULL, NULL, NULL, NULL, 0, m->email_id, m->thread_id, false};
	if (a->sent_keys)
		a->msgs[a->n - 1].sentlocal = sent_local(&m->meta);
	if (a->kind != SEARCH_PLAIN) {
		/* Only the keys the order compares: case-mapping four
		 * strings of every message was most of a SORT (DATE). */
		struct search_msg *x = &a->msgs[a->n - 1];
		x->subject = wants(a, IMAP_SORT_SUBJECT)
				     ? sort_key(m->meta.subject) : NULL;
		x->from = wants(a, IMAP_SORT_FROM) ? sort_key(m->meta.from)
						   : NULL;
		x->to = wants(a, IMAP_SORT_TO) ? sort_key(m->meta.to) : NULL;
		x->cc = wants(a, IMAP_SORT_CC) ? sort_key(m->meta.cc) : NULL;
		if (a->thread.alg == IMAP_THREAD_REFERENCES)
			x->hdr_len = header_len(&m->meta);
	}
	if (a->text)
		a->msgs[a->n - 1].hdr_len = header_len(&m->meta);
	return true;
}

/* ---- text keys ---- */

static const char *const header_keys[] = {
	[IMAP_SK_BCC] = "Bcc", [IMAP_SK_CC] = "Cc", [IMAP_SK_FROM] = "From",
	[IMAP_SK_SUBJECT] = "Subject", [IMAP_SK_TO] = "To",
};

static bool is_text_key(enum imap_search_key key)
{
	switch (key) {
	case IMAP_SK_BCC: case IMAP_SK_BODY: case IMAP_SK_CC:
	case IMAP_SK_FROM: case IMAP_SK_SUBJECT: case IMAP_SK_TEXT:
	case IMAP_SK_TO: case IMAP_SK_HEADER:
		return true;
	default:
		return false;
	}
}

static void add_key(struct search_args *a, size_t *cap,
		    const struct imap_search_node *k)
{
	if (a->nkeys == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		a->keys = xreallocarray(a->keys, *cap, sizeof(*a->keys));
	}
	struct text_key *t = &a->keys[a->nkeys++];
	*t = (struct text_key){.node = k};
	const struct imap_string *what =
		k->key == IMAP_SK_HEADER ? &k->header->value : &k->str;
	mime_text_key(what->data, what->len, &t->needle);
	if (k->key == IMAP_SK_HEADER)
		mime_text_key(k->header->name.data, k->header->name.len,
			      &t->name);
	else if (k->key != IMAP_SK_BODY && k->key != IMAP_SK_TEXT)
		mime_text_key(header_keys[k->key], strlen(header_keys[k->key]),
			      &t->name);
	else
		t->any = t->needle.len == 0;
}

static void find_keys(struct search_args *a, size_t *cap,
		      const struct imap_search_node *k)
{
	if (is_text_key(k->key))
		add_key(a, cap, k);
	if (k->key != IMAP_SK_AND && k->key != IMAP_SK_OR &&
	    k->key != IMAP_SK_NOT)
		return;
	for (const struct imap_search_node *c = k->children; c; c = c->next)
		find_keys(a, cap, c);
}

static int key_cmp(const void *x, const void *y)
{
	uintptr_t p = (uintptr_t)((const struct text_key *)x)->node;
	uintptr_t q = (uintptr_t)((const struct text_key *)y)->node;
	return p < q ? -1 : p > q;
}

static struct text_key *key_of(struct search_args *a,
			       const struct imap_search_node *k)
{
	struct text_key want = {.node = k};
	return bsearch(&want, a->keys, a->nkeys, sizeof(*a->keys), key_cmp);
}

static void key_hit(uint32_t uid, const char *header_text, void *ctx)
{
	struct text_key *t = ctx;
	if (header_text != NULL &&
	    !mime_text_field_has(header_text, strlen(header_text),
				 t->name.data, t->name.len, t->needle.data,
				 t->needle.len))
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->uids = xreallocarray(t->uids, t->cap, sizeof(*t->uids));
	}
	t->uids[t->n++] = uid;
}

/* The UIDs that match each text key, from the index. */
static int key_hits(struct imap_session *s, struct store_account *acct,
		    const char **err_r)
{
	struct search_args *a = s->args;
	for (size_t i = 0; i < a->nkeys; i++) {
		struct text_key *t = &a->keys[i];
		enum imap_search_key key = t->node->key;
		enum store_text_where where =
			key == IMAP_SK_BODY   ? STORE_TEXT_BODY
			: key == IMAP_SK_TEXT ? STORE_TEXT_ALL
					      : STORE_TEXT_HEADER;
		if (t->any)
			continue;
		int rc = store_msg_text_search(acct, s->view->id,
					       t->needle.data, where, key_hit,
					       t, err_r);
		if (rc < 0)
			return rc;
	}
	return 1;
}

static struct search_msg *msg_by_uid(struct search_args *a, uint32_t uid)
{
	size_t lo = 0, hi = a->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->msgs[mid].uid == uid)
			return &a->msgs[mid];
		if (a->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The messages of the view the index does not hold. */
struct missing {
	struct search_args *a;
	struct search_msg **m;
	size_t n, cap;
};

static void missing_one(uint32_t uid, int64_t email_id, void *ctx)
{
	struct missing *x = ctx;
	struct search_msg *m = msg_by_uid(x->a, uid);
	if (m == NULL || m->email_id != email_id)
		return;
	m->unindexed = true;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->m = xreallocarray(x->m, x->cap, sizeof(*x->m));
	}
	x->m[x->n++] = m;
}

/* Texts read for the index, kept in one transaction per batch: larger
 * batches cost the index less per message, but deliveries to the account
 * wait for the writer meanwhile (about a millisecond per message). */
#define BATCH_MSGS 128
#define BATCH_BYTES (4 * 1024 * 1024)

struct batch {
	struct store_msg_text t[BATCH_MSGS];
	size_t n, bytes;
};

/* Not kept (a full disk) costs nothing but the next search's reading:
 * the scan has answered for these messages already. */
static void batch_flush(struct store_account *acct, struct batch *b)
{
	if (b->n > 0)
		(void)store_msg_text_set(acct, b->t, b->n, NULL);
	for (size_t i = 0; i < b->n; i++) {
		free((char *)b->t[i].header_text);
		free((char *)b->t[i].body_text);
	}
	b->n = b->bytes = 0;
}

static int read_header(struct imap_session *s, struct store_account *acct,
		       const struct search_msg *m, struct str *buf,
		       const char **err_r);

/* Messages up to this size are read whole for their header: one step of
 * a cached statement costs less than opening a blob for a piece. */
#define HEADER_READ_WHOLE (64 * 1024)

/* Only the header lines of the keys' fields, into a->htext, where the
 * part layout tells the header: a SEARCH FROM over unindexed mail then
 * neither parses the messages nor decodes and normalises every field of
 * their headers (most of its cost before).  Returns 1, 0 if the message
 * is gone, a store_fail, or 2 when the whole text must be made. */
static int fields_of(struct imap_session *s, struct store_account *acct,
		     const struct search_msg *m)
{
	struct search_args *a = s->args;
	if (a->names == NULL || m->hdr_len == 0 ||
	    m->hdr_len > MIME_TEXT_FIELDS_MAX)
		return 2;
	int rc = m->size <= HEADER_READ_WHOLE
			 ? imap_read_message(s, acct, m->uid, m->size,
					     &a->bytes)
			 : read_header(s, acct, m, &a->bytes, NULL);
	if (rc <= 0)
		return rc;
	/* Shorter than its layout says: the message is not what was
	 * indexed, so the whole text is made from what is there. */
	if (a->bytes.len < m->hdr_len)
		return 2;
	mime_text_header_fields(a->bytes.data, m->hdr_len, a->names,
				a->name_lens, a->nkeys, &a->htext);
	str_clear(&a->bytes);
	return 1;
}

/* Every key looked for in all of the message's text (a->scan); with
 * keep, also its text within the index's bounds into a->htext and
 * a->btext, *whole_r telling whether that is all of it.  1, 0 if the
 * message is gone, or a store_fail. */
static int scan_message(struct imap_session *s, struct store_account *acct,
			const struct search_msg *m, bool keep, bool *whole_r)
{
	struct search_args *a = s->args;
	str_clear(&a->htext);
	str_clear(&a->btext);
	int rc = imap_read_message(s, acct, m->uid, m->size, &a->bytes);
	if (rc <= 0)
		return rc;
	struct mime_msg *msg = mime_parse(a->bytes.data ? a->bytes.data : "",
					  a->bytes.len);
	*whole_r = mime_scan_run(a->scan, msg, 0, MIME_TEXT_INDEX_MAX,
				 keep ? &a->htext : NULL,
				 keep ? &a->btext : NULL);
	mime_free(&msg);
	str_clear(&a->bytes);
	return 1;
}

/* For a message the index does not hold, in a search of header fields
 * only: its header lines for the keys' fields in a->htext, or, where the
 * layout does not tell them, every key looked for in all of its text.  1,
 * 0 if it is gone, or a store_fail. */
static int text_of(struct imap_session *s, struct store_account *acct,
		   const struct search_msg *m)
{
	struct search_args *a = s->args;
	bool whole;
	str_clear(&a->htext);
	a->scanned = false;
	int rc = fields_of(s, acct, m);
	if (rc != 2)
		return rc;
	rc = scan_message(s, acct, m, false, &whole);
	a->scanned = rc > 0;
	return rc;
}

/* The scan's answers for a message, kept with the index's. */
static void scan_hits(struct search_args *a, uint32_t uid)
{
	for (size_t i = 0; i < a->nkeys; i++) {
		struct text_key *t = &a->keys[i];
		if (t->any || !mime_scan_hit(a->scan, i))
			continue;
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 64;
			t->uids = xreallocarray(t->uids, t->cap,
						sizeof(*t->uids));
		}
		t->uids[t->n++] = uid;
	}
}

/* Read the messages of the view that the index does not hold: each key
 * is answered for them from all of their text, and those whose text is
 * within the index's bounds are indexed on the way. */
static int index_missing(struct imap_session *s, struct store_account *acct,
			 const char **err_r)
{
	struct search_args *a = s->args;
	struct missing x = {a, NULL, 0, 0};
	struct batch b = {.n = 0};
	int rc = store_msg_text_missing(acct, s->view->id, missing_one, &x,
					err_r);
	for (size_t i = 0; rc > 0 && i < x.n; i++) {
		struct search_msg *m = x.m[i];
		bool whole;
		rc = scan_message(s, acct, m, true, &whole);
		m->unindexed = false; /* answered below, or gone */
		if (rc == 0) {
			rc = 1;
			continue;
		}
		if (rc < 0)
			break;
		scan_hits(a, m->uid);
		if (!whole || !mime_text_indexable(a->htext.data, a->htext.len,
						   a->btext.data,
						   a->btext.len))
			continue;
		b.t[b.n] = (struct store_msg_text){m->email_id,
						   xstrdup(a->htext.data),
						   xstrdup(a->btext.data)};
		b.n++;
		b.bytes += a->htext.len + a->btext.len;
		if (b.n == BATCH_MSGS || b.bytes >= BATCH_BYTES)
			batch_flush(acct, &b);
	}
	batch_flush(acct, &b);
	free(x.m);
	return rc;
}

/* Only mark the messages the index does not hold: each is then looked
 * into in memory (text_of), which for a few header fields costs far less
 * than indexing the whole message. */
static int mark_missing(struct imap_session *s, struct store_account *acct,
			const char **err_r)
{
	struct missing x = {s->args, NULL, 0, 0};
	int rc = store_msg_text_missing(acct, s->view->id, missing_one, &x,
					err_r);
	free(x.m);
	return rc;
}

static bool has_key(const struct imap_search_node *k,
		    enum imap_search_key key);

static void scan_add(struct mime_scan *sc, const struct text_key *t)
{
	enum imap_search_key key = t->node->key;
	enum mime_scan_in in = key == IMAP_SK_BODY   ? MIME_SCAN_BODY
			       : key == IMAP_SK_TEXT ? MIME_SCAN_TEXT
						     : MIME_SCAN_FIELD;
	mime_scan_add(sc, in, t->name.data, t->name.len, t->needle.data,
		      t->needle.len);
}

static int uid_cmp(const void *x, const void *y)
{
	uint32_t p = *(const uint32_t *)x, q = *(const uint32_t *)y;
	return p < q ? -1 : p > q;
}

/* The index's UIDs and the scan's, in order, each once. */
static void uids_sort(struct text_key *t)
{
	size_t n = 0;
	if (t->n == 0)
		return;
	qsort(t->uids, t->n, sizeof(*t->uids), uid_cmp);
	for (size_t i = 0; i < t->n; i++)
		if (n == 0 || t->uids[n - 1] != t->uids[i])
			t->uids[n++] = t->uids[i];
	t->n = n;
}

static int text_prepare(struct imap_session *s, struct store_account *acct,
			const char **err_r)
{
	struct search_args *a = s->args;
	size_t cap = 0;
	find_keys(a, &cap, a->q.root);
	qsort(a->keys, a->nkeys, sizeof(*a->keys), key_cmp);
	/* Messages get indexed for BODY and TEXT, whose whole text must be
	 * read anyway; a search of header fields alone does not index. */
	a->body_keys = has_key(a->q.root, IMAP_SK_BODY) ||
		       has_key(a->q.root, IMAP_SK_TEXT);
	if (!a->body_keys && a->nkeys > 0) {
		a->names = xcalloc(a->nkeys, sizeof(*a->names));
		a->name_lens = xcalloc(a->nkeys, sizeof(*a->name_lens));
		for (size_t i = 0; i < a->nkeys; i++) {
			a->names[i] = a->keys[i].name.data;
			a->name_lens[i] = a->keys[i].name.len;
		}
	}
	a->scan = mime_scan_new();
	for (size_t i = 0; i < a->nkeys; i++)
		scan_add(a->scan, &a->keys[i]);
	int rc = a->body_keys ? index_missing(s, acct, err_r)
			      : mark_missing(s, acct, err_r);
	if (rc > 0)
		rc = key_hits(s, acct, err_r);
	for (size_t i = 0; rc > 0 && i < a->nkeys; i++)
		uids_sort(&a->keys[i]);
	return rc;
}

static bool uid_in(const struct text_key *t, uint32_t uid)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->uids[mid] == uid)
			return true;
		if (t->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
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
	for (unsigned i = 0; i < set->count; i++)
		if (set->ranges[i].saved && imap_saved_has(e->s, e->m->uid))
			return true;
	return imap_seqset_has(set, v, max);
}

/* A message the index does not hold, in a search of header fields
 * only: the same test on its header lines, or the scan's answer. */
static bool eval_unindexed(struct eval *e, const struct text_key *t)
{
	struct search_args *a = e->s->args;
	if (!e->loaded) {
		int rc = text_of(e->s, e->acct, e->m);
		if (rc < 0)
			e->fail = rc;
		e->loaded = true;
	}
	if (a->scanned)
		return mime_scan_hit(a->scan, (size_t)(t - a->keys));
	return mime_text_field_has(a->htext.data, a->htext.len, t->name.data,
				   t->name.len, t->needle.data, t->needle.len);
}

static bool eval_text(struct eval *e, const struct imap_search_node *k)
{
	const struct text_key *t = key_of(e->s->args, k);
	if (e->m->unindexed)
		return eval_unindexed(e, t);
	return t->any || uid_in(t, e->m->uid);
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
	case IMAP_SK_ALL: return true;
	case IMAP_SK_OLD: return !imap_flags_recent(e->s, m->uid);
	case IMAP_SK_RECENT: return imap_flags_recent(e->s, m->uid);
	case IMAP_SK_NEW:
		return imap_flags_recent(e->s, m->uid) &&
		       !(m->flags & STORE_FLAG_SEEN);
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
		/* Without a Date: that parses, the internal date: the
		 * RFC leaves the case open, and SORT (DATE) does so too
		 * (RFC 5256 2.2), so both put the message on one day. */
		int64_t t = m->sentlocal ? m->sentlocal : m->internaldate;
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
	case IMAP_SK_EMAILID:
		return imap_objectid_is(IMAP_OBJECTID_EMAIL, e->s->user_id,
					m->email_id, k->str.data, k->str.len);
	case IMAP_SK_THREADID:
		return m->thread_id > 0 &&
		       imap_objectid_is(IMAP_OBJECTID_THREAD, e->s->user_id,
					m->thread_id, k->str.data, k->str.len);
	default: return eval_text(e, k);
	}
}

static bool has_key(const struct imap_search_node *k,
		    enum imap_search_key key)
{
	if (k->key == key)
		return true;
	if (k->key != IMAP_SK_AND && k->key != IMAP_SK_OR &&
	    k->key != IMAP_SK_NOT)
		return false;
	for (const struct imap_search_node *c = k->children; c; c = c->next)
		if (has_key(c, key))
			return true;
	return false;
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
	default:
		return is_text_key(k->key);
	}
}

/* The MODSEQ of an ESEARCH answer is that of the messages it returns
 * (RFC 7162 3.1.5 with RFC 4731): MIN alone or MAX alone returns one
 * message, both two, and ALL or COUNT every message found. */
static uint64_t esearch_modseq(const struct search_args *a)
{
	unsigned ret = a->q.ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX |
				   IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT);
	if (ret == IMAP_SEARCH_RET_MIN)
		return a->first_modseq;
	if (ret == IMAP_SEARCH_RET_MAX)
		return a->last_modseq;
	if (ret == (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX))
		return a->first_modseq > a->last_modseq ? a->first_modseq
							: a->last_modseq;
	return a->top_modseq;
}

static void answer(struct imap_session *s)
{
	struct search_args *a = s->args;
	struct str *o = &s->out;
	/* SAVE alone answers nothing but the tagged OK (RFC 5182 2.1). */
	if (a->q.esearch && a->q.ret == IMAP_SEARCH_RET_SAVE)
		return;
	/* IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 7.3.4). */
	if (!a->q.esearch && (s->enabled & IMAP_EN_REV2)) {
		a->q.esearch = true;
		a->q.ret = IMAP_SEARCH_RET_ALL;
	}
	if (!a->q.esearch) {
		str_appends(o, "* SEARCH");
		for (size_t i = 0; i < a->nhits; i++)
			str_printf(o, " %u", a->hits[i]);
		/* RFC 7162 3.1.5: with MODSEQ in the program, the highest
		 * MODSEQ of what matched. */
		if (a->modseq_key && a->nhits > 0)
			str_printf(o, " (MODSEQ %llu)",
				   (unsigned long long)a->top_modseq);
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
		imap_write_uid_set(o, a->hits, a->nhits);
	}
	if (a->modseq_key && a->nhits > 0)
		str_printf(o, " MODSEQ %llu",
			   (unsigned long long)esearch_modseq(a));
	str_appends(o, "\r\n");
}

/* ---- SORT and THREAD ---- */

static int64_t sent_of(const struct search_msg *m)
{
	/* RFC 5256 2.2: without a valid Date:, the internal date. */
	return m->sentdate != 0 ? m->sentdate : m->internaldate;
}

static int cmp_i64(int64_t x, int64_t y)
{
	return x < y ? -1 : x > y;
}

static int sort_cmp_key(const struct search_msg *x, const struct search_msg *y,
			enum imap_sort_key key)
{
	switch (key) {
	case IMAP_SORT_ARRIVAL: return cmp_i64(x->internaldate, y->internaldate);
	case IMAP_SORT_DATE: return cmp_i64(sent_of(x), sent_of(y));
	case IMAP_SORT_SIZE: return cmp_i64((int64_t)x->size, (int64_t)y->size);
	case IMAP_SORT_SUBJECT: return strcmp(x->subject, y->subject);
	case IMAP_SORT_FROM: return strcmp(x->from, y->from);
	case IMAP_SORT_TO: return strcmp(x->to, y->to);
	case IMAP_SORT_CC: return strcmp(x->cc, y->cc);
	default: return 0;
	}
}

/* qsort has no context argument: the criteria of the sort running on
 * this thread. */
static _Thread_local const struct imap_sort *sorting;

static int sort_cmp(const void *pa, const void *pb)
{
	const struct search_msg *x = *(const struct search_msg *const *)pa;
	const struct search_msg *y = *(const struct search_msg *const *)pb;
	for (unsigned i = 0; i < sorting->n_criteria; i++) {
		const struct imap_sort_criterion *c = &sorting->criteria[i];
		int r = sort_cmp_key(x, y, c->key);
		if (r != 0)
			return c->reverse ? -r : r;
	}
	/* The final tie-breaker is the sequence number (RFC 5256 3). */
	return cmp_i64(x->seq, y->seq);
}

static uint32_t id_of(const struct imap_session *s, const struct search_msg *m)
{
	return s->uid ? m->uid : m->seq;
}

static void answer_sort(struct imap_session *s, struct search_msg **hits,
			size_t n)
{
	struct search_args *a = s->args;
	sorting = &a->sort;
	qsort(hits, n, sizeof(*hits), sort_cmp);
	sorting = NULL;
	str_appends(&s->out, "* SORT");
	for (size_t i = 0; i < n; i++)
		str_printf(&s->out, " %u", id_of(s, hits[i]));
	str_appends(&s->out, "\r\n");
}

static int thread_cmp(const void *pa, const void *pb)
{
	const struct search_msg *x = *(const struct search_msg *const *)pa;
	const struct search_msg *y = *(const struct search_msg *const *)pb;
	int r = strcmp(x->subject, y->subject);
	if (r == 0)
		r = cmp_i64(sent_of(x), sent_of(y));
	return r != 0 ? r : cmp_i64(x->seq, y->seq);
}

struct thread_group {
	struct search_msg **msgs;
	size_t n;
};

static int thread_first_cmp(const void *pa, const void *pb)
{
	const struct thread_group *x = pa, *y = pb;
	int r = cmp_i64(sent_of(x->msgs[0]), sent_of(y->msgs[0]));
	return r != 0 ? r : cmp_i64(x->msgs[0]->seq, y->msgs[0]->seq);
}

/* ORDEREDSUBJECT (RFC 5256 4): messages grouped by base subject, each
 * group ordered by sent date, its first message the parent of the others;
 * groups ordered by their first message's date. */
static void answer_thread(struct imap_session *s, struct search_msg **hits,
			  size_t n)
{
	qsort(hits, n, sizeof(*hits), thread_cmp);
	struct thread_group *g = xcalloc(n ? n : 1, sizeof(*g));
	size_t ng = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(hits[i]->subject, hits[i - 1]->subject))
			g[ng++].msgs = &hits[i];
		g[ng - 1].n++;
	}
	qsort(g, ng, sizeof(*g), thread_first_cmp);
	struct str *o = &s->out;
	str_appends(o, "* THREAD");
	for (size_t k = 0; k < ng; k++) {
		struct search_msg **t = g[k].msgs;
		/* thread-list follows thread-list with no space between. */
		str_printf(o, "%s(%u", k == 0 ? " " : "", id_of(s, t[0]));
		if (g[k].n == 2)
			str_printf(o, " %u", id_of(s, t[1]));
		else
			for (size_t j = 1; j < g[k].n; j++)
				str_printf(o, j == 1 ? " (%u)" : "(%u)",
					   id_of(s, t[j]));
		str_appendc(o, ')');
	}
	str_appends(o, "\r\n");
	free(g);
}

/* The header, or its first THREAD_HEADER_MAX bytes (where the layout is
 * unknown, the parser stops at the blank line). */
static int read_header(struct imap_session *s, struct store_account *acct,
		       const struct search_msg *m, struct str *buf,
		       const char **err_r)
{
	size_t want = m->hdr_len ? m->hdr_len : THREAD_HEADER_MAX, got = 0, n;
	if (want > m->size)
		want = (size_t)m->size;
	str_clear(buf);
	char *p = str_reserve(buf, want);
	while (got < want) {
		int rc = store_msg_read(acct, s->view->id, m->uid, got, p + got,
					want - got, &n, err_r);
		if (rc < 0)
			return rc;
		if (rc == 0 || n == 0)
			break;
		got += n;
	}
	str_commit(buf, got);
	return 1;
}

static int answer_thread_references(struct imap_session *s,
				    struct store_account *acct,
				    struct search_msg **hits, size_t n,
				    const char **err_r)
{
	struct imap_thread_msg *msgs = xcalloc(n ? n : 1, sizeof(*msgs));
	struct imap_thread_fields *f = xcalloc(n ? n : 1, sizeof(*f));
	struct str buf = STR_INIT;
	int rc = 1;
	for (size_t i = 0; rc > 0 && i < n; i++) {
		rc = read_header(s, acct, hits[i], &buf, err_r);
		if (rc < 0)
			break;
		imap_thread_fields_parse(buf.data ? buf.data : "", buf.len,
					 &f[i]);
		imap_thread_fields_apply(&f[i], &msgs[i]);
		msgs[i].id = id_of(s, hits[i]);
		msgs[i].seq = hits[i]->seq;
		msgs[i].sent = sent_of(hits[i]);
	}
	if (rc > 0) {
		str_appends(&s->out, "* THREAD");
		imap_thread_references(msgs, n, &s->out);
		str_appends(&s->out, "\r\n");
	}
	for (size_t i = 0; i < n; i++)
		imap_thread_fields_clear(&f[i]);
	free(f);
	free(msgs);
	str_free(&buf);
	return rc;
}

static const char *const kind_names[] = {"SEARCH", "SORT", "THREAD"};

/* SEARCHRES (RFC 5182 2.1): SAVE keeps the result for "$"; with MIN or
 * MAX as well, only those. */
static void save_result(struct imap_session *s, struct search_msg **found,
			size_t n)
{
	struct search_args *a = s->args;
	unsigned ret = a->q.ret;
	free(s->saved);
	s->saved = xcalloc(n ? n : 1, sizeof(*s->saved));
	s->nsaved = 0;
	bool minmax = ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX);
	for (size_t i = 0; i < n; i++) {
		bool keep = !minmax ||
			    (i == 0 && (ret & IMAP_SEARCH_RET_MIN)) ||
			    (i == n - 1 && (ret & IMAP_SEARCH_RET_MAX));
		if (keep)
			s->saved[s->nsaved++] = found[i]->uid;
	}
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
					    v->uids[v->n - 1],
					    a->sent_keys ? STORE_INFO_META
					    : a->meta	 ? STORE_INFO_KEYS
							 : 0,
					    collect, s, &err);
	if (rc > 0 && a->text)
		rc = text_prepare(s, acct, &err);
	struct eval e = {s, acct, NULL, false, 0,
			 v->n ? v->uids[v->n - 1] : 0, (int64_t)time(NULL)};
	struct search_msg **found = xcalloc(a->n ? a->n : 1, sizeof(*found));
	size_t nfound = 0;
	for (size_t i = 0; rc > 0 && i < a->n; i++) {
		e.m = &a->msgs[i];
		e.loaded = false;
		bool hit = eval(&e, a->q.root);
		if (e.fail < 0)
			rc = e.fail;
		if (hit)
			found[nfound++] = &a->msgs[i];
	}
	if (rc > 0 && a->kind == SEARCH_PLAIN && (a->q.ret & IMAP_SEARCH_RET_SAVE))
		save_result(s, found, nfound);
	if (rc > 0 && a->kind == SEARCH_PLAIN) {
		a->hits = xcalloc(nfound ? nfound : 1, sizeof(*a->hits));
		for (size_t i = 0; i < nfound; i++) {
			a->hits[a->nhits++] = id_of(s, found[i]);
			if (found[i]->modseq > a->top_modseq)
				a->top_modseq = found[i]->modseq;
		}
		if (nfound > 0) {
			a->first_modseq = found[0]->modseq;
			a->last_modseq = found[nfound - 1]->modseq;
		}
		answer(s);
	} else if (rc > 0 && a->kind == SEARCH_SORT) {
		answer_sort(s, found, nfound);
	} else if (rc > 0 && a->thread.alg == IMAP_THREAD_REFERENCES) {
		rc = answer_thread_references(s, acct, found, nfound, &err);
	} else if (rc > 0) {
		answer_thread(s, found, nfound);
	}
	free(found);
	if (rc > 0) {
		imap_view_sync_if_changed(s, acct, s->uid);
		imap_tagged(s, "OK %s%s completed", s->uid ? "UID " : "",
			    kind_names[a->kind]);
	} else {
		imap_tagged_fail(s, rc, kind_names[a->kind], err);
	}
	store_account_unref(&acct);
}

static void search_finish(struct imap_session *s)
{
	struct search_args *a = s->args;
	for (size_t i = 0; i < a->n; i++) {
		free(a->msgs[i].keywords);
		free(a->msgs[i].subject);
		free(a->msgs[i].from);
		free(a->msgs[i].to);
		free(a->msgs[i].cc);
	}
	free(a->msgs);
	free(a->hits);
	for (size_t i = 0; i < a->nkeys; i++) {
		str_free(&a->keys[i].needle);
		str_free(&a->keys[i].name);
		free(a->keys[i].uids);
	}
	free(a->keys);
	free(a->names);
	free(a->name_lens);
	str_free(&a->bytes);
	str_free(&a->htext);
	str_free(&a->btext);
	mime_scan_free(&a->scan);
}

void imap_cmd_search(struct imap_session *s, struct imap_parser *p)
{
	struct search_args *a = xcalloc(1, sizeof(*a));
	s->args = a;
	s->finish = search_finish;
	int rc;
	if (imap_command_is(s, "SORT")) {
		a->kind = SEARCH_SORT;
		rc = imap_search_parse_sort(p, &a->sort);
		a->q = a->sort.search;
	} else if (imap_command_is(s, "THREAD")) {
		a->kind = SEARCH_THREAD;
		rc = imap_search_parse_thread(p, &a->thread);
		a->q = a->thread.search;
	} else {
		rc = imap_search_parse(p, &a->q);
	}
	if (rc < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	a->text = key_reads_text(a->q.root);
	a->modseq_key = has_key(a->q.root, IMAP_SK_MODSEQ);
	/* The meta (strings of every message) costs most of a scan; keys
	 * on flags, sizes and dates do without it.  Text keys take only
	 * the layout, which tells an unindexed message's header. */
	a->sent_keys = has_key(a->q.root, IMAP_SK_SENTBEFORE) ||
		       has_key(a->q.root, IMAP_SK_SENTON) ||
		       has_key(a->q.root, IMAP_SK_SENTSINCE);
	a->meta = a->kind != SEARCH_PLAIN || a->text || a->sent_keys;
	if (a->modseq_key)
		imap_condstore_enable(s);
	imap_take_changed(s);
	imap_job(s, search_run);
}
