/* LIST, LSUB and STATUS: the mailbox tree as a client sees it, with the
 * attributes of RFC 9051 7.3.1, CHILDREN (RFC 3348) and SPECIAL-USE (RFC
 * 6154). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/xalloc.h"
#include "imap/imap_write.h"
#include "imap/imap_args.h"
#include "imap/imap_objectid.h"
#include "imap/imap_private.h"
#include "imap/imap_utf7.h"

/* Longest reference + pattern: matching costs their product. */
#define PATTERN_MAX 1024

#define LIST_PATTERNS_MAX 16

struct list_args {
	char *patterns[LIST_PATTERNS_MAX]; /* reference and pattern joined */
	/* Joined as sent, not decoded: matched against names as they are
	 * written on the wire (imap_parse_list_mailbox). */
	bool raw[LIST_PATTERNS_MAX];
	unsigned npatterns;
	bool lsub;
	bool extended;		/* LIST-EXTENDED syntax was used */
	bool utf8;		/* names go out in UTF-8 */
	/* selection options (RFC 5258 3.1) */
	bool sel_subscribed, sel_special, sel_recursive;
	/* return options (RFC 5258 3.2, RFC 5819, RFC 6154) */
	bool ret_subscribed, ret_special;
	unsigned status_items;	/* 0: no STATUS */
};

struct list_entry {
	char *name;
	enum store_special special;
	bool subscribed, exists;
	int64_t id;
	bool match;		/* the name matches a pattern */
	/* A subscribed mailbox below it is not answered itself (see
	 * mark_hidden). */
	bool hidden_sub;
};

struct list_all {
	struct list_entry *e;
	size_t n, cap;
};

/* Whether name matches pat: "*" matches anything, "%" anything but the
 * delimiter ("%" as "*" when relaxed).  Dynamic programming over the
 * pattern, one row per name byte: no backtracking, so no pattern costs
 * more than len(pattern) x len(name). */
static bool list_match(const char *pat, const char *name, bool relaxed)
{
	size_t m = strlen(pat);
	bool *row = xcalloc(m + 1, sizeof(bool)), *next = xcalloc(m + 1, 1);
	row[0] = true;
	for (size_t j = 1; j <= m && (pat[j - 1] == '*' || pat[j - 1] == '%');
	     j++)
		row[j] = true;
	for (const char *c = name; *c != '\0'; c++) {
		memset(next, 0, m + 1);
		for (size_t j = 1; j <= m; j++) {
			char pc = pat[j - 1];
			bool any = pc == '*' || (pc == '%' && relaxed);
			if (any || (pc == '%' && *c != '/'))
				next[j] = next[j - 1] || row[j] || row[j - 1];
			else if (pc == '%')
				next[j] = next[j - 1];
			else
				next[j] = row[j - 1] && pc == *c;
		}
		bool *t = row;
		row = next;
		next = t;
	}
	bool ok = row[m];
	free(row);
	free(next);
	return ok;
}

static bool any_match(const struct list_args *a, const char *name,
		      bool relaxed)
{
	struct str wire = STR_INIT;
	bool ok = false;
	for (unsigned i = 0; i < a->npatterns && !ok; i++) {
		const char *n = name;
		if (a->raw[i] && !a->utf8) {
			if (wire.len == 0 &&
			    imap_utf7_encode(name, strlen(name), &wire) < 0)
				continue;
			n = wire.data;
		}
		ok = list_match(a->patterns[i], n, relaxed);
	}
	str_free(&wire);
	return ok;
}

static struct list_entry *entry_add(struct list_all *all, const char *name)
{
	if (all->n == all->cap) {
		all->cap = all->cap ? all->cap * 2 : 16;
		all->e = xreallocarray(all->e, all->cap, sizeof(*all->e));
	}
	struct list_entry *e = &all->e[all->n++];
	*e = (struct list_entry){.name = xstrdup(name),
				 .special = STORE_SPECIAL_NONE};
	return e;
}

static void collect(const struct store_mailbox_info *mb, void *ctx)
{
	struct list_entry *e = entry_add(ctx, mb->name);
	e->special = mb->special;
	e->subscribed = mb->subscribed;
	e->exists = mb->id != 0;
	e->id = mb->id;
}

static struct list_entry *entry_find(const struct list_all *all,
				     const char *name)
{
	for (size_t i = 0; i < all->n; i++)
		if (strcmp(all->e[i].name, name) == 0)
			return &all->e[i];
	return NULL;
}

static int name_cmp(const void *x, const void *y)
{
	const struct list_entry *a = x, *b = y;
	return strcmp(a->name, b->name);
}

/* In the sorted array. */
static struct list_entry *entry_lookup(const struct list_all *all,
				       const char *name)
{
	struct list_entry want = {.name = (char *)name};
	return bsearch(&want, all->e, all->n, sizeof(*all->e), name_cmp);
}

/* Parents that do not exist but have children (a DELETE'd parent): they
 * are in the hierarchy all the same, listed as \NonExistent. */
static void add_implied_parents(struct list_all *all)
{
	size_t n = all->n;
	for (size_t i = 0; i < n; i++) {
		char *name = xstrdup(all->e[i].name);
		for (char *slash = strrchr(name, '/'); slash != NULL;
		     slash = strrchr(name, '/')) {
			*slash = '\0';
			if (entry_find(all, name) != NULL)
				break;
			entry_add(all, name);
		}
		free(name);
	}
}

static bool has_children(const struct list_all *all, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < all->n; i++) {
		const struct list_entry *e = &all->e[i];
		if (e->exists && strncmp(e->name, name, len) == 0 &&
		    e->name[len] == '/')
			return true;
	}
	return false;
}

/* A subscribed mailbox that a subscription listing does not answer
 * (its name does not match) makes its ancestors that match answer for
 * it: with RECURSIVEMATCH as CHILDINFO, whether or not the child matches
 * (RFC 5258 3.1 note 2), never for a child that is answered itself (3.5:
 * "servers SHOULD suppress redundant CHILDINFO"); with LSUB only for a
 * child that a "%" kept out (RFC 3501 6.3.9: LSUB "foo/%" with only
 * "foo/bar/x" subscribed answers "foo/bar" as \Noselect), so a child that
 * could not match at any depth does not make its parents appear. */
static void mark_hidden(const struct list_args *a, struct list_all *all)
{
	for (size_t i = 0; i < all->n; i++) {
		const struct list_entry *e = &all->e[i];
		if (!e->subscribed || e->match ||
		    (a->lsub && !any_match(a, e->name, true)))
			continue;
		char *name = xstrdup(e->name);
		for (char *slash = strrchr(name, '/'); slash != NULL;
		     slash = strrchr(name, '/')) {
			*slash = '\0';
			struct list_entry *up = entry_lookup(all, name);
			if (up != NULL)
				up->hidden_sub = true;
		}
		free(name);
	}
}

static void write_status(struct imap_session *s, struct store_account *acct,
			 const struct list_entry *e, unsigned items);

static bool utf8_names(const struct imap_session *s)
{
	return (s->enabled & (IMAP_EN_UTF8 | IMAP_EN_REV2)) != 0;
}

static void list_one(struct imap_session *s, struct store_account *acct,
		     const struct list_all *all, const struct list_entry *e,
		     bool childinfo)
{
	const struct list_args *a = s->args;
	struct str *o = &s->out;
	const char *sep = "";
	str_appends(o, a->lsub ? "* LSUB (" : "* LIST (");
#define ATTR(x)                            \
	do {                               \
		str_appends(o, sep);       \
		str_appends(o, x);         \
		sep = " ";                 \
	} while (0)
	/* LSUB's \Noselect also marks a parent answered for a subscribed
	 * child, not being subscribed itself (RFC 3501 6.3.9). */
	if (!e->exists || (a->lsub && !e->subscribed))
		ATTR(a->lsub || !a->extended ? "\\Noselect" : "\\NonExistent");
	if (!a->lsub)
		ATTR(has_children(all, e->name) ? "\\HasChildren"
						: "\\HasNoChildren");
	if (e->special != STORE_SPECIAL_NONE && !a->lsub)
		ATTR(store_special_name(e->special));
	if (e->subscribed && (a->ret_subscribed || a->sel_subscribed))
		ATTR("\\Subscribed");
#undef ATTR
	str_appends(o, ") \"/\" ");
	imap_write_mailbox(o, e->name, utf8_names(s));
	if (childinfo)
		str_appends(o, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	str_appends(o, "\r\n");
	if (a->status_items != 0 && e->exists)
		write_status(s, acct, e, a->status_items);
}

/* Which entries a LIST answers, and whether with CHILDINFO. */
static int list_wanted(const struct list_args *a, const struct list_all *all,
		       const struct list_entry *e, bool *childinfo)
{
	*childinfo = false;
	if (!e->match)
		return 0;
	if (a->lsub || a->sel_subscribed) {
		*childinfo = a->sel_recursive && e->hidden_sub;
		return e->subscribed ||
		       ((a->lsub || a->sel_recursive) && e->hidden_sub);
	}
	if (a->sel_special && e->special == STORE_SPECIAL_NONE)
		return 0;
	return e->exists || has_children(all, e->name);
}

static void list_run(struct imap_session *s)
{
	struct list_args *a = s->args;
	struct list_all all = {0};
	struct store_account *acct = imap_account(s);
	const char *err = NULL;
	if (acct == NULL)
		return;
	int rc = store_mailbox_list(acct, collect, &all, &err);
	if (rc < 0) {
		imap_tagged_fail(s, rc, a->lsub ? "LSUB" : "LIST", err);
	} else {
		add_implied_parents(&all);
		qsort(all.e, all.n, sizeof(*all.e), name_cmp);
		for (size_t i = 0; i < all.n; i++)
			all.e[i].match = any_match(a, all.e[i].name, false);
		if (a->lsub || a->sel_recursive)
			mark_hidden(a, &all);
		for (size_t i = 0; i < all.n; i++) {
			bool childinfo;
			if (list_wanted(a, &all, &all.e[i], &childinfo))
				list_one(s, acct, &all, &all.e[i], childinfo);
		}
		imap_tagged(s, "OK %s completed", a->lsub ? "LSUB" : "LIST");
	}
	store_account_unref(&acct);
	for (size_t i = 0; i < all.n; i++)
		free(all.e[i].name);
	free(all.e);
}

static void list_finish(struct imap_session *s)
{
	struct list_args *a = s->args;
	for (unsigned i = 0; i < a->npatterns; i++)
		free(a->patterns[i]);
}

/* A reference or pattern as it goes on the wire: as sent when raw, else
 * the decoded name encoded again (canonical modified UTF-7). */
static void wire_form(const struct list_args *a, const struct imap_string *x,
		      bool raw, struct str *out)
{
	if (raw || a->utf8 || imap_utf7_encode(x->data, x->len, out) < 0)
		str_append(out, x->data, x->len);
}

/* The reference and a pattern joined, "INBOX" in any case spelt so.  If
 * either did not decode, both are joined in their wire form. */
static int add_pattern(struct list_args *a, const struct imap_string *ref,
		       bool ref_raw, const struct imap_string *pat,
		       bool pat_raw)
{
	if (ref->len + pat->len > PATTERN_MAX)
		return -1;
	struct str j = STR_INIT;
	bool raw = ref_raw || pat_raw;
	if (raw) {
		wire_form(a, ref, ref_raw, &j);
		wire_form(a, pat, pat_raw, &j);
	} else {
		str_append(&j, ref->data, ref->len);
		str_append(&j, pat->data, pat->len);
	}
	str_append(&j, "", 0);
	if (strncasecmp(j.data, "INBOX", 5) == 0 &&
	    (j.data[5] == '\0' || j.data[5] == '/'))
		memcpy(j.data, "INBOX", 5);
	a->raw[a->npatterns] = raw;
	a->patterns[a->npatterns++] = xstrdup(j.data);
	str_free(&j);
	return 1;
}

void imap_cmd_list(struct imap_session *s, struct imap_parser *p)
{
	struct list_args *a = xcalloc(1, sizeof(*a));
	struct imap_list l;
	s->args = a;
	s->finish = list_finish;
	a->lsub = imap_command_is(s, "LSUB");
	a->utf8 = utf8_names(s);
	int rc = a->lsub ? imap_args_lsub(p, &l) : imap_args_list(p, &l);
	if (rc < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (l.n_patterns > LIST_PATTERNS_MAX) {
		imap_reply(s, "NO [LIMIT] Too many patterns");
		return;
	}
	a->extended = l.extended;
	a->sel_subscribed = l.select & IMAP_LIST_SEL_SUBSCRIBED;
	a->sel_special = l.select & IMAP_LIST_SEL_SPECIAL_USE;
	a->sel_recursive = l.select & IMAP_LIST_SEL_RECURSIVEMATCH;
	a->ret_subscribed = l.ret & IMAP_LIST_RET_SUBSCRIBED;
	a->ret_special = l.ret & IMAP_LIST_RET_SPECIAL_USE;
	a->status_items = l.ret & IMAP_LIST_RET_STATUS ? l.status_items : 0;
	for (unsigned i = 0; i < l.n_patterns; i++) {
		if (add_pattern(a, &l.reference, l.reference_raw,
				&l.patterns[i], l.patterns_raw[i]) < 0) {
			imap_reply(s, "NO [LIMIT] Pattern too long");
			return;
		}
	}
	/* LIST "" "" asks for the delimiter and the root. */
	if (!a->lsub && !a->extended && l.patterns[0].len == 0) {
		imap_write(s, "* LIST (\\Noselect) \"/\" \"\"");
		imap_reply(s, "OK LIST completed");
		return;
	}
	imap_job(s, list_run);
}

/* ---- STATUS ---- */

struct status_args {
	char *name;
	unsigned items;
};

/* "* STATUS name (...)" for a mailbox; 1, 0 if it is gone, or a
 * store_fail. */
static int status_line(struct imap_session *s, struct store_account *acct,
		       const char *name, unsigned items, const char **err)
{
	struct store_mailbox mb;
	struct store_mailbox_status st;
	int rc = store_mailbox_find(acct, name, &mb, err);
	if (rc > 0)
		rc = store_mailbox_status(acct, mb.id, &st, err);
	if (rc <= 0)
		return rc;
	struct str *o = &s->out;
	str_appends(o, "* STATUS ");
	imap_write_mailbox(o, name, utf8_names(s));
	str_appends(o, " (");
	const char *sep = "";
#define ITEM(bit, fmt, v)                                  \
	if (items & (bit)) {                               \
		str_printf(o, "%s" fmt, sep, v);           \
		sep = " ";                                 \
	}
	ITEM(IMAP_STATUS_MESSAGES, "MESSAGES %u", st.messages);
	ITEM(IMAP_STATUS_UIDNEXT, "UIDNEXT %u", mb.uidnext);
	ITEM(IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY %u", mb.uidvalidity);
	ITEM(IMAP_STATUS_UNSEEN, "UNSEEN %u", st.unseen);
	ITEM(IMAP_STATUS_RECENT, "RECENT %u", st.recent);
	ITEM(IMAP_STATUS_SIZE, "SIZE %llu", (unsigned long long)st.size);
	ITEM(IMAP_STATUS_DELETED, "DELETED %u", st.deleted);
	ITEM(IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	     (unsigned long long)mb.highestmodseq);
	ITEM(IMAP_STATUS_APPENDLIMIT, "APPENDLIMIT %llu",
	     (unsigned long long)s->env->cfg->smtp.max_message_size);
	char id[IMAP_OBJECTID_MAX];
	imap_objectid_format(IMAP_OBJECTID_MAILBOX, s->user_id, mb.id, id);
	ITEM(IMAP_STATUS_MAILBOXID, "MAILBOXID (%s)", id);
#undef ITEM
	str_appends(o, ")\r\n");
	return 1;
}

static void write_status(struct imap_session *s, struct store_account *acct,
			 const struct list_entry *e, unsigned items)
{
	status_line(s, acct, e->name, items, NULL);
}

static void status_run(struct imap_session *s)
{
	struct status_args *a = s->args;
	struct store_account *acct = imap_account(s);
	const char *err = NULL;
	if (acct == NULL)
		return;
	int rc = status_line(s, acct, a->name, a->items, &err);
	store_account_unref(&acct);
	if (rc == 0)
		imap_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
	else if (rc < 0)
		imap_tagged_fail(s, rc, "STATUS", err);
	else
		imap_tagged(s, "OK STATUS completed");
}

static void status_finish(struct imap_session *s)
{
	struct status_args *a = s->args;
	free(a->name);
}

void imap_cmd_status(struct imap_session *s, struct imap_parser *p)
{
	struct imap_status st;
	struct status_args *a = xcalloc(1, sizeof(*a));
	s->args = a;
	if (imap_args_status(p, &st) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (st.items & IMAP_STATUS_HIGHESTMODSEQ)
		imap_condstore_enable(s);
	a->name = xstrndup(st.mailbox.data, st.mailbox.len);
	a->items = st.items;
	s->finish = status_finish;
	imap_job(s, status_run);
}
