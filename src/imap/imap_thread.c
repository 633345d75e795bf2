/* THREAD=REFERENCES (RFC 5256).  The steps below carry the RFC's numbers.
 *
 * Why the machinery: every Message-ID and References field is written
 * by whoever sent the message, so the input can be built to hurt.
 * - Ids and subjects are looked up in hash tables keyed with a random
 *   SipHash key per call, so that no one can prepare ids that collide.
 * - Step 1 must not create a loop: before making A the parent of B it
 *   asks whether B is an ancestor of A.  Walking up from A costs the
 *   depth of the thread, and a References field repeated in every
 *   message makes that quadratic.  The same forest is therefore also
 *   kept as a link-cut tree (Sleator and Tarjan), which answers "the root
 *   above A" in amortized logarithmic time through every link and cut.
 * - Nothing recurses: trees are walked with explicit stacks, since a
 *   thread can be as deep as the mailbox is large. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "imap/imap_thread.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_msgid.h"
#include "mime/mime_sort.h"

/* ---- one message's header ---- */

static void subject_key(struct mime_span v, struct imap_thread_fields *f)
{
	struct str dec = STR_INIT, base = STR_INIT;
	mime_decode_header(v.p, v.len, &dec);
	mime_base_subject(dec.data ? dec.data : "", dec.len, &base, &f->reply);
	mime_text_normalize(base.data ? base.data : "", base.len, &f->subject);
	str_free(&dec);
	str_free(&base);
}

void imap_thread_fields_parse(const char *hdr, size_t len,
			      struct imap_thread_fields *f)
{
	bool mid = false, irt = false, refs = false, subj = false;
	struct mime_hdr_iter it;
	struct mime_field fl;
	mime_hdr_init(&it, hdr, len);
	while (mime_hdr_next(&it, &fl) > 0) {
		struct mime_span v = fl.value;
		if (!mid && mime_name_is(fl.name, "Message-ID")) {
			mid = true;
			mime_msgid_first(v.p, v.len, &f->msgid);
		} else if (!irt && mime_name_is(fl.name, "In-Reply-To")) {
			irt = true;
			mime_msgid_first(v.p, v.len, &f->in_reply_to);
		} else if (!refs && mime_name_is(fl.name, "References")) {
			refs = true;
			f->nrefs = mime_msgid_list(v.p, v.len,
						      IMAP_THREAD_MAX_REFS,
						      &f->refs);
		} else if (!subj && mime_name_is(fl.name, "Subject")) {
			subj = true;
			subject_key(v, f);
		}
	}
	/* Every string ends in NUL, and is "" rather than NULL. */
	str_append(&f->msgid, "", 0);
	str_append(&f->in_reply_to, "", 0);
	str_append(&f->refs, "", 0);
	str_append(&f->subject, "", 0);
}

void imap_thread_fields_clear(struct imap_thread_fields *f)
{
	str_free(&f->msgid);
	str_free(&f->in_reply_to);
	str_free(&f->refs);
	str_free(&f->subject);
	f->nrefs = 0;
	f->reply = false;
}

void imap_thread_fields_apply(const struct imap_thread_fields *f,
			      struct imap_thread_msg *m)
{
	m->msgid = f->msgid.data;
	m->in_reply_to = f->in_reply_to.data;
	m->refs = f->refs.data;
	m->nrefs = f->nrefs;
	m->subject = f->subject.data;
	m->subject_len = f->subject.len;
	m->reply = f->reply;
}

/* ---- containers ---- */

/* A container: a message or a dummy (RFC 5256 calls both "messages").
 * Node 0 is "none", so that zeroed fields mean "no link". */
struct node {
	uint32_t parent;
	uint32_t child, next;	/* first child, next sibling: from step 2 */
	uint32_t msg;		/* 1 + index in msgs; 0 for a dummy */
	uint32_t key;		/* 1 + index of the message it sorts by */
	uint32_t l, r, up;	/* its place in the link-cut tree: step 1 */
};

struct slot {
	uint32_t hash, val;	/* val 0: empty */
};

struct table {
	struct slot *s;
	size_t cap, n;
};

struct sortkey {
	int64_t sent;
	uint32_t seq, node;
};

struct threader {
	const struct imap_thread_msg *msgs;
	size_t n;
	struct node *t;
	size_t nt, cap;
	const char **ids;	/* step 1: each node's Message ID, or NULL */
	uint32_t root;
	struct sortkey *sk;	/* scratch for sorting siblings */
	size_t skcap;
	unsigned char key[crypto_shorthash_KEYBYTES];
};

static uint32_t node_new(struct threader *th, uint32_t msg, const char *id)
{
	if (th->nt == th->cap) {
		if (th->cap >= UINT32_MAX / 2)
			log_panic("imap_thread: too many containers");
		th->cap = th->cap ? th->cap * 2 : 64;
		th->t = xreallocarray(th->t, th->cap, sizeof(*th->t));
		if (th->ids != NULL)
			th->ids = xreallocarray(th->ids, th->cap,
						sizeof(*th->ids));
	}
	uint32_t x = (uint32_t)th->nt++;
	th->t[x] = (struct node){.msg = msg, .key = msg};
	if (th->ids != NULL)
		th->ids[x] = id;
	return x;
}

static const struct imap_thread_msg *msg_of(const struct threader *th,
					    uint32_t x)
{
	uint32_t k = th->t[x].key;
	return k ? &th->msgs[k - 1] : NULL;
}

/* ---- hash tables (ids, then subjects) ---- */

static uint32_t hash_bytes(const struct threader *th, const char *p,
			   size_t len)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint32_t v;
	crypto_shorthash(h, (const unsigned char *)p, len, th->key);
	memcpy(&v, h, sizeof(v));
	return v;
}

/* Room for one more entry, at most half full. */
static void table_reserve(struct table *tb)
{
	if ((tb->n + 1) * 2 <= tb->cap)
		return;
	size_t cap = tb->cap ? tb->cap * 2 : 64;
	struct slot *s = xcalloc(cap, sizeof(*s));
	for (size_t i = 0; i < tb->cap; i++) {
		if (tb->s[i].val == 0)
			continue;
		size_t j = tb->s[i].hash & (cap - 1);
		while (s[j].val != 0)
			j = (j + 1) & (cap - 1);
		s[j] = tb->s[i];
	}
	free(tb->s);
	tb->s = s;
	tb->cap = cap;
}

typedef bool key_eq(const struct threader *th, uint32_t val, const char *p,
		    size_t len);

/* The slot holding key [p, p + len), or the empty slot where it goes. */
static struct slot *table_find(const struct table *tb, uint32_t hash,
			       const struct threader *th, key_eq *eq,
			       const char *p, size_t len)
{
	size_t mask = tb->cap - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct slot *s = &tb->s[i];
		if (s->val == 0 || (s->hash == hash && eq(th, s->val, p, len)))
			return s;
	}
}

static bool id_eq(const struct threader *th, uint32_t val, const char *p,
		  size_t len)
{
	return strcmp(th->ids[val], p) == 0;
}

static bool subject_eq(const struct threader *th, uint32_t val,
		       const char *p, size_t len)
{
	const struct imap_thread_msg *m = msg_of(th, val);
	return m->subject_len == len && memcmp(m->subject, p, len) == 0;
}

/* ---- the link-cut tree: which root is above a node ---- */

static bool lct_top(const struct node *t, uint32_t x)
{
	uint32_t u = t[x].up;
	return u == 0 || (t[u].l != x && t[u].r != x);
}

static void lct_rotate(struct node *t, uint32_t x)
{
	uint32_t y = t[x].up, z = t[y].up;
	bool ytop = lct_top(t, y);
	if (t[y].l == x) {
		t[y].l = t[x].r;
		if (t[x].r)
			t[t[x].r].up = y;
		t[x].r = y;
	} else {
		t[y].r = t[x].l;
		if (t[x].l)
			t[t[x].l].up = y;
		t[x].l = y;
	}
	t[y].up = x;
	t[x].up = z;
	if (!ytop) {
		if (t[z].l == y)
			t[z].l = x;
		else
			t[z].r = x;
	}
}

static void lct_splay(struct node *t, uint32_t x)
{
	while (!lct_top(t, x)) {
		uint32_t y = t[x].up;
		if (!lct_top(t, y)) {
			uint32_t z = t[y].up;
			bool zigzig = (t[z].l == y) == (t[y].l == x);
			lct_rotate(t, zigzig ? y : x);
		}
		lct_rotate(t, x);
	}
}

/* Make the path from x's root down to x preferred, x at its top. */
static void lct_access(struct node *t, uint32_t x)
{
	uint32_t last = 0;
	for (uint32_t y = x; y != 0; y = t[y].up) {
		lct_splay(t, y);
		t[y].r = last;
		last = y;
	}
	lct_splay(t, x);
}

static uint32_t lct_root(struct node *t, uint32_t x)
{
	lct_access(t, x);
	while (t[x].l != 0)
		x = t[x].l;
	lct_splay(t, x);
	return x;
}

/* c, a root, becomes p's child; p must not be below c. */
static void set_parent(struct threader *th, uint32_t c, uint32_t p)
{
	struct node *t = th->t;
	t[c].parent = p;
	lct_access(t, c);
	t[c].up = p;
}

static void unset_parent(struct threader *th, uint32_t c)
{
	struct node *t = th->t;
	t[c].parent = 0;
	lct_access(t, c);
	if (t[c].l != 0) {
		t[t[c].l].up = 0;
		t[c].l = 0;
	}
}

/* ---- step 1: link the containers ---- */

/* The node of Message ID id; a new dummy if no node has it yet. */
static uint32_t id_node(struct threader *th, struct table *tb, const char *id)
{
	table_reserve(tb);
	uint32_t h = hash_bytes(th, id, strlen(id));
	struct slot *s = table_find(tb, h, th, id_eq, id, 0);
	if (s->val == 0) {
		s->hash = h;
		s->val = node_new(th, 0, id);
		tb->n++;
	}
	return s->val;
}

/* Message i's node.  Without a Message ID, or with one that a message of
 * a lower sequence number has, it gets a node no id can reach: the
 * "unique Message ID" of the RFC. */
static uint32_t msg_node(struct threader *th, struct table *tb, uint32_t i)
{
	const char *id = th->msgs[i].msgid;
	if (id == NULL || *id == '\0')
		return node_new(th, i + 1, NULL);
	uint32_t x = id_node(th, tb, id);
	if (th->t[x].msg != 0)
		return node_new(th, i + 1, NULL);
	th->t[x].msg = th->t[x].key = i + 1;
	return x;
}

static void link_msg(struct threader *th, struct table *tb, uint32_t i)
{
	const struct imap_thread_msg *m = &th->msgs[i];
	uint32_t me = msg_node(th, tb, i), prev = 0;
	const char *r = m->refs;
	size_t nrefs = m->nrefs;
	if (nrefs == 0 && m->in_reply_to != NULL && *m->in_reply_to) {
		r = m->in_reply_to;
		nrefs = 1;
	}
	/* (1)(A): each reference the parent of the next, unless that one
	 * has a parent already or it would close a loop. */
	for (size_t k = 0; k < nrefs; k++, r += strlen(r) + 1) {
		if (*r == '\0')
			continue;
		uint32_t x = id_node(th, tb, r);
		if (prev != 0 && th->t[x].parent == 0 &&
		    lct_root(th->t, prev) != x)
			set_parent(th, x, prev);
		prev = x;
	}
	/* (1)(B): the last reference is the parent, whatever was before;
	 * no reference, no parent. */
	if (th->t[me].parent != 0)
		unset_parent(th, me);
	if (prev != 0 && lct_root(th->t, prev) != me)
		set_parent(th, me, prev);
}

static int seq_cmp(const void *pa, const void *pb)
{
	const uint32_t *a = pa, *b = pb;	/* {seq, index} */
	if (a[0] != b[0])
		return a[0] < b[0] ? -1 : 1;
	return (a[1] > b[1]) - (a[1] < b[1]);
}

static void link_all(struct threader *th)
{
	uint32_t (*order)[2] = xcalloc(th->n ? th->n : 1, sizeof(*order));
	for (size_t i = 0; i < th->n; i++) {
		order[i][0] = th->msgs[i].seq;
		order[i][1] = (uint32_t)i;
	}
	qsort(order, th->n, sizeof(*order), seq_cmp);
	struct table tb = {NULL, 0, 0};
	for (size_t i = 0; i < th->n; i++)
		link_msg(th, &tb, order[i][1]);
	free(tb.s);
	free(order);
}

/* ---- steps 2 to 6 ---- */

/* (2) Every node without a parent becomes a child of the root, and the
 * parent links become child lists. */
static void gather(struct threader *th)
{
	th->root = node_new(th, 0, NULL);
	struct node *t = th->t;
	for (uint32_t x = (uint32_t)th->nt - 1; x > 0; x--) {
		if (x == th->root)
			continue;
		uint32_t p = t[x].parent ? t[x].parent : th->root;
		t[x].parent = p;
		t[x].next = t[p].child;
		t[p].child = x;
	}
}

/* The nodes in pre-order (each before its descendants); returns how
 * many.  order and stack hold th->nt each. */
static size_t preorder(const struct threader *th, uint32_t *order,
		       uint32_t *stack)
{
	size_t n = 0, sp = 0;
	stack[sp++] = th->root;
	while (sp > 0) {
		uint32_t x = stack[--sp];
		order[n++] = x;
		for (uint32_t c = th->t[x].child; c != 0; c = th->t[c].next)
			stack[sp++] = c;
	}
	return n;
}

static void append_child(struct node *t, uint32_t **tail, uint32_t p,
			 uint32_t c)
{
	t[c].parent = p;
	t[c].next = 0;
	**tail = c;
	*tail = &t[c].next;
}

/* (3) for x's children, whose own children are done: a dummy goes, its
 * children taking its place, except a dummy at the top with more than
 * one child. */
static void prune_children(struct threader *th, uint32_t x)
{
	struct node *t = th->t;
	uint32_t c = t[x].child, *tail = &t[x].child;
	t[x].child = 0;
	while (c != 0) {
		uint32_t next = t[c].next;
		bool several = t[c].child != 0 && t[t[c].child].next != 0;
		if (t[c].msg != 0 || (x == th->root && several)) {
			append_child(t, &tail, x, c);
		} else {
			for (uint32_t g = t[c].child, gn; g != 0; g = gn) {
				gn = t[g].next;
				append_child(t, &tail, x, g);
			}
			t[c].child = t[c].parent = 0;
		}
		c = next;
	}
}

static int sortkey_cmp(const void *pa, const void *pb)
{
	const struct sortkey *a = pa, *b = pb;
	if (a->sent != b->sent)
		return a->sent < b->sent ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return (a->node > b->node) - (a->node < b->node);
}

/* Sort x's children by sent date, then sequence number, each sorting as
 * its key message; a dummy's key is then its first child's. */
static void sort_children(struct threader *th, uint32_t x)
{
	struct node *t = th->t;
	size_t n = 0;
	for (uint32_t c = t[x].child; c != 0; c = t[c].next) {
		if (n == th->skcap) {
			th->skcap = th->skcap ? th->skcap * 2 : 64;
			th->sk = xreallocarray(th->sk, th->skcap,
					       sizeof(*th->sk));
		}
		const struct imap_thread_msg *m = msg_of(th, c);
		th->sk[n].sent = m ? m->sent : INT64_MIN;
		th->sk[n].seq = m ? m->seq : 0;
		th->sk[n++].node = c;
	}
	if (n > 1)
		qsort(th->sk, n, sizeof(*th->sk), sortkey_cmp);
	uint32_t *tail = &t[x].child;
	for (size_t i = 0; i < n; i++)
		append_child(t, &tail, x, th->sk[i].node);
	if (t[x].msg == 0)
		t[x].key = t[x].child ? t[t[x].child].key : 0;
}

/* Run fn on every node, each after all its descendants. */
static void bottom_up(struct threader *th,
		      void (*fn)(struct threader *th, uint32_t x))
{
	uint32_t *order = xcalloc(th->nt, sizeof(*order));
	uint32_t *stack = xcalloc(th->nt, sizeof(*stack));
	size_t n = preorder(th, order, stack);
	for (size_t k = n; k-- > 0;)
		fn(th, order[k]);
	free(order);
	free(stack);
}

/* (4) the top level, a dummy by its first child */
static void sort_top(struct threader *th)
{
	for (uint32_t c = th->t[th->root].child; c != 0; c = th->t[c].next)
		if (th->t[c].msg == 0)
			sort_children(th, c);
	sort_children(th, th->root);
}

static void adopt(struct node *t, uint32_t p, uint32_t c)
{
	t[c].parent = p;
	t[c].next = t[p].child;
	t[p].child = c;
}

static bool is_reply(const struct threader *th, uint32_t x)
{
	return th->t[x].msg != 0 && th->msgs[th->t[x].msg - 1].reply;
}

/* The slot of x's thread subject, or NULL if it is empty. */
static struct slot *subject_slot(struct threader *th, struct table *tb,
				 uint32_t x)
{
	const struct imap_thread_msg *m = msg_of(th, x);
	if (m == NULL || m->subject_len == 0)
		return NULL;
	table_reserve(tb);
	uint32_t h = hash_bytes(th, m->subject, m->subject_len);
	struct slot *s = table_find(tb, h, th, subject_eq, m->subject,
				    m->subject_len);
	s->hash = h;
	return s;
}

/* (5)(B)(iv): a dummy beats a message, a message beats a reply. */
static void subject_enter(struct threader *th, struct table *tb, uint32_t x)
{
	struct slot *s = subject_slot(th, tb, x);
	if (s == NULL)
		return;
	uint32_t y = s->val;
	if (y == 0) {
		s->val = x;
		tb->n++;
	} else if (th->t[y].msg != 0 &&
		   (th->t[x].msg == 0 ||
		    (is_reply(th, y) && !is_reply(th, x)))) {
		s->val = x;
	}
}

/* (5)(C): merge x, at the top, into the table's y; a new dummy goes to
 * top[(*m)++]. */
static void subject_merge(struct threader *th, struct slot *s, uint32_t x,
			  uint32_t *top, size_t *m)
{
	uint32_t y = s->val;
	bool xd = th->t[x].msg == 0, yd = th->t[y].msg == 0;
	if (xd && yd) {
		struct node *t = th->t;
		for (uint32_t c = t[x].child, cn; c != 0; c = cn) {
			cn = t[c].next;
			adopt(t, y, c);
		}
		t[x].child = t[x].parent = 0;
	} else if (yd || (!xd && is_reply(th, x) && !is_reply(th, y))) {
		adopt(th->t, y, x);
	} else if (xd) {
		/* Not reached: (B) puts a dummy in the table if one has the
		 * subject.  Kept so that dummies stay at the top. */
		adopt(th->t, x, y);
		s->val = x;
	} else {
		uint32_t d = node_new(th, 0, NULL);
		struct node *t = th->t;
		t[d].parent = th->root;
		t[d].key = t[y].key;
		adopt(t, d, y);
		adopt(t, d, x);
		s->val = d;
		top[(*m)++] = d;
	}
}

/* (5) Threads with the same base subject come together. */
static void group_subjects(struct threader *th)
{
	size_t n = 0, m;
	for (uint32_t c = th->t[th->root].child; c != 0; c = th->t[c].next)
		n++;
	uint32_t *top = xcalloc(2 * n + 1, sizeof(*top));
	m = 0;
	for (uint32_t c = th->t[th->root].child; c != 0; c = th->t[c].next)
		top[m++] = c;
	struct table tb = {NULL, 0, 0};
	for (size_t k = 0; k < n; k++)
		subject_enter(th, &tb, top[k]);
	for (size_t k = 0; k < n; k++) {
		uint32_t x = top[k];
		/* An earlier merge may have moved x below another. */
		if (th->t[x].parent != th->root)
			continue;
		struct slot *s = subject_slot(th, &tb, x);
		if (s != NULL && s->val != x)
			subject_merge(th, s, x, top, &m);
	}
	free(tb.s);
	struct node *t = th->t;
	uint32_t *tail = &t[th->root].child;
	t[th->root].child = 0;
	for (size_t k = 0; k < m; k++)
		if (t[top[k]].parent == th->root)
			append_child(t, &tail, th->root, top[k]);
	free(top);
}

static void sort_if_parent(struct threader *th, uint32_t x)
{
	if (th->t[x].child != 0)
		sort_children(th, x);
}

/* ---- the response ---- */

static void put_id(const struct threader *th, uint32_t x, struct str *out)
{
	if (th->t[x].msg == 0)
		log_panic("imap_thread: a dummy below the top");
	str_printf(out, "%u", th->msgs[th->t[x].msg - 1].id);
}

/* thread-members for x and its descendants: a single child goes on the
 * same line of descent, several children each open a thread-list. */
static void put_members(const struct threader *th, uint32_t x,
			uint32_t *stack, struct str *out)
{
	const struct node *t = th->t;
	size_t sp = 0;
	for (;;) {
		put_id(th, x, out);
		uint32_t c = t[x].child;
		if (c != 0) {
			bool one = t[c].next == 0;
			str_appends(out, one ? " " : " (");
			if (!one)
				stack[sp++] = t[c].next;
			x = c;
			continue;
		}
		/* Close lists until one has a sibling left to open. */
		for (;;) {
			if (sp == 0)
				return;
			str_appendc(out, ')');
			uint32_t nx = stack[--sp];
			if (nx != 0) {
				str_appendc(out, '(');
				stack[sp++] = t[nx].next;
				x = nx;
				break;
			}
		}
	}
}

static void put_threads(const struct threader *th, struct str *out)
{
	const struct node *t = th->t;
	uint32_t *stack = xcalloc(th->nt, sizeof(*stack));
	bool first = true;
	for (uint32_t x = t[th->root].child; x != 0; x = t[x].next) {
		if (t[x].msg == 0 && t[x].child == 0)
			continue;	/* not reached: (3) removed those */
		str_appends(out, first ? " (" : "(");
		first = false;
		if (t[x].msg != 0) {
			put_members(th, x, stack, out);
		} else if (t[x].child != 0 && t[t[x].child].next == 0) {
			put_members(th, t[x].child, stack, out);
		} else {
			/* A dummy: thread-nested, its children the heads. */
			for (uint32_t c = t[x].child; c != 0; c = t[c].next) {
				str_appendc(out, '(');
				put_members(th, c, stack, out);
				str_appendc(out, ')');
			}
		}
		str_appendc(out, ')');
	}
	free(stack);
}

void imap_thread_references(const struct imap_thread_msg *msgs, size_t n,
			    struct str *out)
{
	if (n >= UINT32_MAX / 4)
		log_panic("imap_thread: %zu messages", n);
	struct threader th = {.msgs = msgs, .n = n};
	if (sodium_init() < 0)
		log_panic("imap_thread: libsodium");
	randombytes_buf(th.key, sizeof(th.key));
	th.cap = 2 * n + 64;
	th.t = xcalloc(th.cap, sizeof(*th.t));
	th.ids = xcalloc(th.cap, sizeof(*th.ids));
	th.nt = 1;
	link_all(&th);
	/* (1) is done with the ids. */
	XFREE(th.ids);
	gather(&th);
	bottom_up(&th, prune_children);
	sort_top(&th);
	group_subjects(&th);
	bottom_up(&th, sort_if_parent);
	put_threads(&th, out);
	free(th.t);
	free(th.sk);
}
