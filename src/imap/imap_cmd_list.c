/* LIST, LSUB and STATUS: the mailbox tree as a client sees it, with the
 * attributes of RFC 9051 7.3.1, CHILDREN (RFC 3348) and SPECIAL-USE (RFC
 * 6154). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "imap/imap_out.h"
#include "imap/imap_private.h"

/* Longest reference + pattern: matching costs their product. */
#define PATTERN_MAX 1024

struct list_args {
	char *pattern;		/* reference and pattern joined */
	bool lsub;
};

struct list_entry {
	char *name;
	enum store_special special;
	bool subscribed, exists;
};

struct list_all {
	struct list_entry *e;
	size_t n, cap;
};

/* Whether name matches pattern: "*" matches anything, "%" anything but
 * the delimiter.  Dynamic programming over the pattern, one row per
 * name byte: no backtracking, so no pattern costs more than
 * len(pattern) x len(name). */
static bool list_match(const char *pat, const char *name)
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
			if (pc == '*' || (pc == '%' && *c != '/'))
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

static void collect(const struct store_mailbox_info *mb, void *ctx)
{
	struct list_all *all = ctx;
	if (all->n == all->cap) {
		all->cap = all->cap ? all->cap * 2 : 16;
		all->e = xreallocarray(all->e, all->cap, sizeof(*all->e));
	}
	all->e[all->n++] = (struct list_entry){xstrdup(mb->name), mb->special,
					       mb->subscribed, mb->id != 0};
}

static bool has_children(const struct list_all *all, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < all->n; i++)
		if (all->e[i].exists && strncmp(all->e[i].name, name, len) == 0 &&
		    all->e[i].name[len] == '/')
			return true;
	return false;
}

static void list_one(struct imap_session *s, const struct list_all *all,
		     const struct list_entry *e, bool lsub)
{
	struct str *o = &s->out;
	bool first = true;
	str_appends(o, lsub ? "* LSUB (" : "* LIST (");
#define ATTR(x)                                  \
	do {                                     \
		str_appends(o, first ? "" : " "); \
		str_appends(o, x);               \
		first = false;                   \
	} while (0)
	if (!e->exists)
		ATTR(lsub ? "\\Noselect" : "\\NonExistent");
	if (e->exists)
		ATTR(has_children(all, e->name) ? "\\HasChildren"
						: "\\HasNoChildren");
	if (e->special != STORE_SPECIAL_NONE && !lsub)
		ATTR(store_special_name(e->special));
	if (e->subscribed && !lsub && s->enabled & IMAP_EN_REV2)
		ATTR("\\Subscribed");
#undef ATTR
	str_appends(o, ") \"/\" ");
	imap_out_mailbox(o, e->name,
			 (s->enabled & (IMAP_EN_UTF8 | IMAP_EN_REV2)) != 0);
	str_appends(o, "\r\n");
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
	store_account_unref(&acct);
	if (rc < 0) {
		imap_tagged_fail(s, rc, a->lsub ? "LSUB" : "LIST", err);
	} else {
		for (size_t i = 0; i < all.n; i++) {
			const struct list_entry *e = &all.e[i];
			if ((a->lsub && !e->subscribed) ||
			    (!a->lsub && !e->exists) ||
			    !list_match(a->pattern, e->name))
				continue;
			list_one(s, &all, e, a->lsub);
		}
		imap_tagged(s, "OK %s completed", a->lsub ? "LSUB" : "LIST");
	}
	for (size_t i = 0; i < all.n; i++)
		free(all.e[i].name);
	free(all.e);
}

static void list_finish(struct imap_session *s)
{
	struct list_args *a = s->args;
	free(a->pattern);
}

void imap_cmd_list(struct imap_session *s, struct imap_parser *p)
{
	struct imap_string ref, pat;
	struct list_args *a = xcalloc(1, sizeof(*a));
	s->args = a;
	a->lsub = imap_command_is(s, "LSUB");
	int rc = imap_parse_sp(p);
	if (rc > 0)
		rc = imap_parse_list_mailbox(p, &ref);
	if (rc > 0)
		rc = imap_parse_sp(p);
	if (rc > 0)
		rc = imap_parse_list_mailbox(p, &pat);
	if (rc > 0)
		rc = imap_parse_end(p);
	if (rc < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (ref.len + pat.len > PATTERN_MAX) {
		imap_reply(s, "NO [LIMIT] Pattern too long");
		return;
	}
	/* An empty pattern asks for the delimiter and the root. */
	if (pat.len == 0 && !a->lsub) {
		imap_write(s, "* LIST (\\Noselect) \"/\" \"\"");
		imap_reply(s, "OK LIST completed");
		return;
	}
	/* The reference is a prefix; "INBOX" in any case is INBOX. */
	size_t n = ref.len + pat.len + 1;
	a->pattern = xmalloc(n);
	snprintf(a->pattern, n, "%s%s", ref.data, pat.data);
	if (strncasecmp(a->pattern, "INBOX", 5) == 0 &&
	    (a->pattern[5] == '\0' || a->pattern[5] == '/'))
		memcpy(a->pattern, "INBOX", 5);
	s->finish = list_finish;
	imap_job(s, list_run);
}

/* ---- STATUS ---- */

enum {
	ST_MESSAGES = 1 << 0,
	ST_UIDNEXT = 1 << 1,
	ST_UIDVALIDITY = 1 << 2,
	ST_UNSEEN = 1 << 3,
	ST_RECENT = 1 << 4,
	ST_SIZE = 1 << 5,
	ST_DELETED = 1 << 6,
	ST_HIGHESTMODSEQ = 1 << 7,
};

static const struct {
	const char *name;
	unsigned bit;
} status_items[] = {
	{"MESSAGES", ST_MESSAGES}, {"UIDNEXT", ST_UIDNEXT},
	{"UIDVALIDITY", ST_UIDVALIDITY}, {"UNSEEN", ST_UNSEEN},
	{"RECENT", ST_RECENT}, {"SIZE", ST_SIZE}, {"DELETED", ST_DELETED},
	{"HIGHESTMODSEQ", ST_HIGHESTMODSEQ},
};

struct status_args {
	char *name;
	unsigned items;
};

static void status_run(struct imap_session *s)
{
	struct status_args *a = s->args;
	struct store_account *acct = imap_account(s);
	struct store_mailbox mb;
	struct store_mailbox_status st;
	const char *err = NULL;
	if (acct == NULL)
		return;
	int rc = store_mailbox_find(acct, a->name, &mb, &err);
	if (rc > 0)
		rc = store_mailbox_status(acct, mb.id, &st, &err);
	store_account_unref(&acct);
	if (rc == 0) {
		imap_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
		return;
	}
	if (rc < 0) {
		imap_tagged_fail(s, rc, "STATUS", err);
		return;
	}
	struct str *o = &s->out;
	str_appends(o, "* STATUS ");
	imap_out_mailbox(o, a->name,
			 (s->enabled & (IMAP_EN_UTF8 | IMAP_EN_REV2)) != 0);
	str_appends(o, " (");
	const char *sep = "";
#define ITEM(bit, fmt, v)                                  \
	if (a->items & (bit)) {                            \
		str_printf(o, "%s" fmt, sep, v);           \
		sep = " ";                                 \
	}
	ITEM(ST_MESSAGES, "MESSAGES %u", st.messages);
	ITEM(ST_UIDNEXT, "UIDNEXT %u", mb.uidnext);
	ITEM(ST_UIDVALIDITY, "UIDVALIDITY %u", mb.uidvalidity);
	ITEM(ST_UNSEEN, "UNSEEN %u", st.unseen);
	ITEM(ST_RECENT, "RECENT %u", st.recent);
	ITEM(ST_SIZE, "SIZE %llu", (unsigned long long)st.size);
	ITEM(ST_DELETED, "DELETED %u", st.deleted);
	ITEM(ST_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	     (unsigned long long)mb.highestmodseq);
#undef ITEM
	str_appends(o, ")\r\n");
	imap_tagged(s, "OK STATUS completed");
}

static void status_finish(struct imap_session *s)
{
	struct status_args *a = s->args;
	free(a->name);
}

static int parse_status_items(struct imap_parser *p, unsigned *items)
{
	struct imap_string w;
	int rc = imap_parse_list_open(p);
	while (rc > 0) {
		rc = imap_parse_word(p, &w);
		size_t i = 0;
		for (; rc > 0 && i < sizeof(status_items) /
					     sizeof(*status_items); i++) {
			if (imap_string_eq(&w, status_items[i].name)) {
				*items |= status_items[i].bit;
				break;
			}
		}
		if (rc > 0 && i == sizeof(status_items) / sizeof(*status_items))
			return imap_parser_fail(p, "Unknown STATUS item");
		if (rc > 0 && imap_parse_skip(p, ')')) {
			imap_parser_leave(p);
			return 1;
		}
		if (rc > 0)
			rc = imap_parse_sp(p);
	}
	return rc;
}

void imap_cmd_status(struct imap_session *s, struct imap_parser *p)
{
	struct imap_string m;
	struct status_args *a = xcalloc(1, sizeof(*a));
	s->args = a;
	int rc = imap_parse_sp(p);
	if (rc > 0)
		rc = imap_parse_mailbox(p, &m);
	if (rc > 0)
		rc = imap_parse_sp(p);
	if (rc > 0)
		rc = parse_status_items(p, &a->items);
	if (rc > 0)
		rc = imap_parse_end(p);
	if (rc < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	a->name = xstrndup(m.data, m.len);
	s->finish = status_finish;
	imap_job(s, status_run);
}
