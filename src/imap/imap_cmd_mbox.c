/* Mailbox commands: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
 * UNSUBSCRIBE, STATUS, CLOSE, UNSELECT, EXPUNGE, IDLE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "imap/imap_write.h"
#include "imap/imap_args.h"
#include "imap/imap_objectid.h"
#include "imap/imap_private.h"

/* Longest mailbox name, in bytes of UTF-8. */
#define MAILBOX_NAME_MAX 512

/* What the mailbox commands keep between start and run. */
struct mbox_args {
	/* SELECT (QRESYNC (uidvalidity modseq [known-uids])) */
	bool qresync;
	uint32_t q_uidvalidity;
	uint64_t q_modseq;
	struct imap_seqset q_known;
	bool q_has_known;
	char *name;
	char *name2;		/* RENAME's new name */
	bool flag;		/* EXAMINE; SUBSCRIBE (vs UNSUBSCRIBE) */
	unsigned items;		/* STATUS */
	enum store_special special;
};


/* A name a client may create: no empty levels, no wildcards (a mailbox
 * LIST cannot name), nothing past MAILBOX_NAME_MAX. */
static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || len > MAILBOX_NAME_MAX || name[0] == '/' ||
	    name[len - 1] == '/' || strstr(name, "//") != NULL)
		return false;
	return strpbrk(name, "%*") == NULL;
}

/* The mailbox name the parser read, kept for the job. */
static char *name_of(const struct imap_string *m)
{
	return xstrndup(m->data, m->len);
}

static void args_free(struct imap_session *s);

static struct mbox_args *args_new(struct imap_session *s)
{
	struct mbox_args *a = xcalloc(1, sizeof(*a));
	s->args = a;
	/* Names are freed however the command ends, refused or not. */
	s->finish = args_free;
	return a;
}

static void args_free(struct imap_session *s)
{
	struct mbox_args *a = s->args;
	if (a != NULL) {
		free(a->name);
		free(a->name2);
	}
}

/* ---- SELECT / EXAMINE ---- */

static void select_run(struct imap_session *s)
{
	struct mbox_args *a = s->args;
	struct store_account *acct = imap_account(s);
	struct store_mailbox mb;
	const char *err = NULL;
	uint32_t unseen = 0;
	if (acct == NULL)
		return;
	int rc = store_mailbox_find(acct, a->name, &mb, &err);
	if (rc == 0) {
		imap_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
	} else if (rc > 0) {
		rc = imap_view_load(acct, &mb, a->flag, a->name, &s->view,
				    &unseen, &err);
		if (rc < 0)
			imap_tagged_fail(s, rc, a->flag ? "EXAMINE" : "SELECT",
					 err);
	} else {
		imap_tagged_fail(s, rc, a->flag ? "EXAMINE" : "SELECT", err);
	}
	/* FLAGS with the mailbox's keywords, and \Recent taken. */
	if (rc > 0) {
		rc = imap_flags_select(s, acct);
		if (rc < 0) {
			imap_view_free(&s->view);
			imap_tagged_fail(s, rc, a->flag ? "EXAMINE" : "SELECT",
					 NULL);
		}
	}
	store_account_unref(&acct);
	if (rc <= 0)
		return;
	struct imap_view *v = s->view;
	struct str *o = &s->out;
	str_printf(o, "* %u EXISTS\r\n", v->n);
	if (!(s->enabled & IMAP_EN_REV2)) {
		str_printf(o, "* %u RECENT\r\n", imap_flags_recent_count(s));
		/* RFC 3501 6.3.1 (gone from IMAP4rev2). */
		if (unseen > 0)
			str_printf(o, "* OK [UNSEEN %u] First unseen\r\n",
				   unseen);
	} else {
		/* RFC 9051 6.3.2: the mailbox's name as LIST says it. */
		str_appends(o, "* LIST () \"/\" ");
		imap_write_mailbox(o, v->name, true);
		str_appends(o, "\r\n");
	}
	str_printf(o, "* OK [UIDVALIDITY %u] UIDs valid\r\n", v->uidvalidity);
	str_printf(o, "* OK [UIDNEXT %u] Predicted next UID\r\n", v->uidnext);
	str_printf(o, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		   (unsigned long long)v->modseq);
	char id[IMAP_OBJECTID_MAX];
	imap_objectid_format(IMAP_OBJECTID_MAILBOX, s->user_id, v->id, id);
	str_printf(o, "* OK [MAILBOXID (%s)] Ok\r\n", id);
	if (a->qresync && a->q_uidvalidity == v->uidvalidity) {
		acct = imap_account(s);
		if (acct != NULL) {
			imap_view_resync(s, acct, a->q_modseq,
					 a->q_has_known ? &a->q_known : NULL);
			store_account_unref(&acct);
		}
	}
	imap_tagged(s, "OK [%s] %s completed",
		    v->readonly ? "READ-ONLY" : "READ-WRITE",
		    a->flag ? "EXAMINE" : "SELECT");
}

static void select_finish(struct imap_session *s)
{
	if (s->view != NULL)
		imap_set_state(s, IMAP_S_SELECTED);
	args_free(s);
}

void imap_cmd_select(struct imap_session *s, struct imap_parser *p)
{
	struct mbox_args *a = args_new(s);
	struct imap_select sel;
	if (imap_args_select(p, &sel) < 0) {
		/* A name refused (NO) is a SELECT that failed, which leaves
		 * no mailbox selected; a syntax error (BAD) changes nothing. */
		if (imap_parser_error_reply(p) == IMAP_REPLY_NO &&
		    s->view != NULL) {
			imap_view_free(&s->view);
			imap_set_state(s, IMAP_S_AUTH);
		}
		imap_reply_parse_error(s, p);
		return;
	}
	if (sel.qresync && !(s->enabled & IMAP_EN_QRESYNC)) {
		imap_reply(s, "BAD QRESYNC needs ENABLE QRESYNC first");
		imap_count_error(s);
		return;
	}
	if (sel.condstore)
		s->enabled |= IMAP_EN_CONDSTORE;
	a->name = name_of(&sel.mailbox);
	a->qresync = sel.qresync;
	a->q_uidvalidity = sel.uidvalidity;
	a->q_modseq = sel.modseq;
	a->q_known = sel.known_uids;
	a->q_has_known = sel.known_uids.count > 0;
	/* Whatever happens, the mailbox selected before is closed, without
	 * expunging (RFC 9051 6.3.2); a QRESYNC client is told (RFC 7162
	 * 3.2.11). */
	if (s->view != NULL) {
		imap_view_free(&s->view);
		imap_set_state(s, IMAP_S_AUTH);
		if (s->enabled & (IMAP_EN_QRESYNC | IMAP_EN_REV2))
			imap_write(s, "* OK [CLOSED] Previous mailbox closed");
	}
	/* EXAMINE is the same command, read-only. */
	a->flag = imap_command_is(s, "EXAMINE");
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
	s->changed = false;
	s->finish = select_finish;
	imap_job(s, select_run);
}

/* ---- CREATE / DELETE / RENAME / (UN)SUBSCRIBE ---- */

static void mbox_finish(struct imap_session *s)
{
	args_free(s);
}

/* The missing parents of a new name, then the name (RFC 9051 6.3.4). */
static int create_with_parents(struct store_account *acct,
			       const struct mbox_args *a, const char **err)
{
	char *path = xstrdup(a->name);
	for (char *slash = strchr(path, '/'); slash != NULL;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		int rc = store_mailbox_create(acct, path, STORE_SPECIAL_NONE,
					      err);
		*slash = '/';
		if (rc < 0) {
			free(path);
			return rc;
		}
	}
	free(path);
	return store_mailbox_create(acct, a->name, a->special, err);
}

static void create_run(struct imap_session *s)
{
	struct mbox_args *a = s->args;
	struct store_account *acct = imap_account(s);
	const char *err = NULL;
	if (acct == NULL)
		return;
	int rc = create_with_parents(acct, a, &err);
	struct store_mailbox mb;
	/* RFC 8474 4.1: the new mailbox's id in the OK, when it can be had. */
	if (rc > 0 && store_mailbox_find(acct, a->name, &mb, NULL) > 0) {
		char id[IMAP_OBJECTID_MAX];
		imap_objectid_format(IMAP_OBJECTID_MAILBOX, s->user_id, mb.id,
				     id);
		imap_tagged(s, "OK [MAILBOXID (%s)] CREATE completed", id);
	} else if (rc > 0) {
		imap_tagged(s, "OK CREATE completed");
	} else if (rc == 0)
		imap_tagged(s, "NO [ALREADYEXISTS] Mailbox exists");
	else
		imap_tagged_fail(s, rc, "CREATE", err);
	store_account_unref(&acct);
}

/* CREATE-SPECIAL-USE (RFC 6154 3): one use per mailbox here. */
static int special_of_use(unsigned use, enum store_special *sp)
{
	static const struct {
		unsigned bit;
		enum store_special sp;
	} map[] = {
		{IMAP_USE_DRAFTS, STORE_SPECIAL_DRAFTS},
		{IMAP_USE_SENT, STORE_SPECIAL_SENT},
		{IMAP_USE_TRASH, STORE_SPECIAL_TRASH},
		{IMAP_USE_JUNK, STORE_SPECIAL_JUNK},
		{IMAP_USE_ARCHIVE, STORE_SPECIAL_ARCHIVE},
		{IMAP_USE_ALL, STORE_SPECIAL_ALL},
		{IMAP_USE_FLAGGED, STORE_SPECIAL_FLAGGED},
	};
	*sp = STORE_SPECIAL_NONE;
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		if (!(use & map[i].bit))
			continue;
		if (*sp != STORE_SPECIAL_NONE)
			return -1;
		*sp = map[i].sp;
	}
	return 0;
}

void imap_cmd_create(struct imap_session *s, struct imap_parser *p)
{
	struct mbox_args *a = args_new(s);
	struct imap_create c;
	if (imap_args_create(p, &c) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	a->name = name_of(&c.mailbox);
	if (special_of_use(c.use, &a->special) < 0) {
		imap_reply(s, "NO [USEATTR] One special use per mailbox");
		return;
	}
	/* "a/" asks for "a", as a future parent. */
	size_t len = strlen(a->name);
	if (len > 1 && a->name[len - 1] == '/')
		a->name[--len] = '\0';
	if (strcmp(a->name, "INBOX") == 0) {
		imap_reply(s, "NO [ALREADYEXISTS] INBOX always exists");
		return;
	}
	if (!name_ok(a->name, len)) {
		imap_reply(s, "NO [CANNOT] Invalid mailbox name");
		return;
	}
	s->finish = mbox_finish;
	imap_job_sync(s, create_run);
}

static void delete_run(struct imap_session *s)
{
	struct mbox_args *a = s->args;
	struct store_account *acct = imap_account(s);
	const char *err = NULL;
	if (acct == NULL)
		return;
	int rc = store_mailbox_delete(acct, a->name, &err);
	store_account_unref(&acct);
	if (rc > 0)
		imap_tagged(s, "OK DELETE completed");
	else if (rc == 0)
		imap_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
	else
		imap_tagged_fail(s, rc, "DELETE", err);
}

/* " mailbox" alone, into a->name; false after answering. */
static bool one_mailbox(struct imap_session *s, struct imap_parser *p,
			struct mbox_args *a)
{
	struct imap_string m;
	if (imap_args_mailbox(p, &m) < 0) {
		imap_reply_parse_error(s, p);
		return false;
	}
	a->name = name_of(&m);
	return true;
}

void imap_cmd_delete(struct imap_session *s, struct imap_parser *p)
{
	struct mbox_args *a = args_new(s);
	if (!one_mailbox(s, p, a))
		return;
	if (strcmp(a->name, "INBOX") == 0) {
		imap_reply(s, "NO [CANNOT] INBOX cannot be deleted");
		return;
	}
	s->finish = mbox_finish;
	imap_job_sync(s, delete_run);
}

static void rename_run(struct imap_session *s)
{
	struct mbox_args *a = s->args;
	struct store_account *acct = imap_account(s);
	const char *err = NULL;
	if (acct == NULL)
		return;
	int rc = store_mailbox_rename(acct, a->name, a->name2, &err);
	store_account_unref(&acct);
	if (rc > 0)
		imap_tagged(s, "OK RENAME completed");
	else if (rc == 0)
		imap_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
	else if (rc == STORE_FAIL_EXISTS)
		imap_tagged(s, "NO [ALREADYEXISTS] Target mailbox exists");
	else
		imap_tagged_fail(s, rc, "RENAME", err);
}

void imap_cmd_rename(struct imap_session *s, struct imap_parser *p)
{
	struct mbox_args *a = args_new(s);
	struct imap_string old, new;
	if (imap_args_rename(p, &old, &new) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	a->name = name_of(&old);
	a->name2 = name_of(&new);
	size_t len = strlen(a->name2);
	if (strcmp(a->name2, "INBOX") == 0 || !name_ok(a->name2, len)) {
		imap_reply(s, "NO [CANNOT] Invalid target name");
		return;
	}
	size_t flen = strlen(a->name);
	if (strncmp(a->name2, a->name, flen) == 0 && a->name2[flen] == '/') {
		imap_reply(s, "NO [CANNOT] Cannot move a mailbox into itself");
		return;
	}
	s->finish = mbox_finish;
	imap_job_sync(s, rename_run);
}

static void subscribe_run(struct imap_session *s)
{
	struct mbox_args *a = s->args;
	struct store_account *acct = imap_account(s);
	const char *err = NULL;
	if (acct == NULL)
		return;
	int rc = store_mailbox_subscribe(acct, a->name, a->flag, &err);
	store_account_unref(&acct);
	if (rc > 0)
		imap_tagged(s, "OK %s completed",
			    a->flag ? "SUBSCRIBE" : "UNSUBSCRIBE");
	else
		imap_tagged_fail(s, rc, "SUBSCRIBE", err);
}

void imap_cmd_subscribe(struct imap_session *s, struct imap_parser *p)
{
	struct mbox_args *a = args_new(s);
	a->flag = imap_command_is(s, "SUBSCRIBE");
	if (!one_mailbox(s, p, a))
		return;
	s->finish = mbox_finish;
	imap_job_sync(s, subscribe_run);
}

/* ---- CLOSE / UNSELECT / EXPUNGE ---- */

struct deleted {
	uint32_t *uids;
	size_t n, cap;
	const uint32_t *only;	/* UID EXPUNGE: within these (sorted) */
	size_t nonly;
};

static bool collect_deleted(const struct store_msginfo *m, void *ctx)
{
	struct deleted *d = ctx;
	if (!(m->flags & STORE_FLAG_DELETED))
		return true;
	if (d->only != NULL) {
		size_t lo = 0, hi = d->nonly;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (d->only[mid] < m->uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == d->nonly || d->only[lo] != m->uid)
			return true;
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->uids = xreallocarray(d->uids, d->cap, sizeof(*d->uids));
	}
	d->uids[d->n++] = m->uid;
	return true;
}

/* Expunge the \Deleted messages of the view (those in `only`, if not
 * NULL).  With tell, the client hears EXPUNGE for each. */
static int expunge_deleted(struct imap_session *s, struct store_account *acct,
			   const uint32_t *only, size_t nonly, bool tell)
{
	struct imap_view *v = s->view;
	struct deleted d = {.only = only, .nonly = nonly};
	const char *err = NULL;
	int rc = store_msg_scan(acct, v->id, 1, UINT32_MAX, 0, collect_deleted,
				&d, &err);
	if (rc > 0 && d.n > 0)
		rc = store_msg_expunge(acct, v->id, d.uids, d.n, &err);
	if (rc > 0 && tell && d.n > 0)
		imap_view_expunged(s, d.uids, d.n);
	free(d.uids);
	return rc;
}

static void close_run(struct imap_session *s)
{
	struct store_account *acct = imap_account(s);
	if (acct == NULL)
		return;
	int rc = expunge_deleted(s, acct, NULL, 0, false);
	store_account_unref(&acct);
	if (rc < 0)
		imap_tagged_fail(s, rc, "CLOSE", NULL);
	else
		imap_tagged(s, "OK CLOSE completed");
}

static void close_finish(struct imap_session *s)
{
	imap_view_free(&s->view);
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
	imap_set_state(s, IMAP_S_AUTH);
}

void imap_cmd_close(struct imap_session *s, struct imap_parser *p)
{
	if (imap_parse_end(p) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	bool unselect = imap_command_is(s, "UNSELECT");
	/* CLOSE expunges silently; UNSELECT and a read-only CLOSE do not
	 * touch the mailbox. */
	if (unselect || s->view->readonly) {
		close_finish(s);
		imap_reply(s, "OK %s completed", unselect ? "UNSELECT"
							  : "CLOSE");
		return;
	}
	s->finish = close_finish;
	imap_job(s, close_run);
}

struct expunge_args {
	uint32_t *uids;
	size_t n;
};

static void expunge_run(struct imap_session *s)
{
	struct expunge_args *a = s->args;
	struct store_account *acct = imap_account(s);
	if (acct == NULL)
		return;
	int rc = imap_view_sync(s, acct, true);
	if (rc > 0)
		rc = expunge_deleted(s, acct, s->uid ? a->uids : NULL,
				     s->uid ? a->n : 0, true);
	/* Past our own expunge, so it is not news at the next command. */
	if (rc > 0)
		rc = imap_view_sync(s, acct, true);
	store_account_unref(&acct);
	if (rc < 0)
		imap_tagged_fail(s, rc, "EXPUNGE", NULL);
	else
		imap_tagged(s, "OK EXPUNGE completed");
}

static void expunge_finish(struct imap_session *s)
{
	struct expunge_args *a = s->args;
	free(a->uids);
}

void imap_cmd_expunge(struct imap_session *s, struct imap_parser *p)
{
	struct expunge_args *a = xcalloc(1, sizeof(*a));
	s->args = a;
	s->finish = expunge_finish;
	if (s->uid) {
		struct imap_seqset set;
		int rc = imap_parse_sp(p);
		if (rc > 0)
			rc = imap_parse_seqset(p, &set);
		if (rc > 0)
			rc = imap_parse_end(p);
		if (rc < 0) {
			imap_reply_parse_error(s, p);
			return;
		}
		imap_view_resolve(s, &set, true, &a->uids, &a->n);
	} else if (imap_parse_end(p) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (s->view->readonly) {
		imap_reply(s, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	s->finish = expunge_finish;
	imap_job(s, expunge_run);
}
