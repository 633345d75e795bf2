/* The flags of the selected mailbox as a whole: the keywords FLAGS and
 * PERMANENTFLAGS name (RFC 9051 7.3.5, 7.1), and \Recent (RFC 3501
 * 2.3.2, gone from IMAP4rev2).
 *
 * The view holds no keyword list: the mailbox's set only grows, so the
 * number of keywords the client was told of is enough to know when to
 * tell it again.  Any answer that names a keyword is followed by a look
 * at that number in the store, and a new FLAGS goes in before the answer
 * when it grew.  Looking after the answer was read, not before, is what
 * makes this safe: a keyword read from a message was defined in the same
 * transaction, so the count read later includes it.
 *
 * \Recent is one UID range per session, [recent_lo, recent_hi): what it
 * claimed in the store (store_recent), or for a read-only session what no
 * session had claimed when it looked.  A read-write session claims only
 * right after its own range, so the range stays one range: when another
 * session claimed meanwhile, the new messages are left for that one. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "imap/imap_private.h"

/* ---- keywords ---- */

static void list_one(const char *kw, void *ctx)
{
	struct str *out = ctx;
	str_appendc(out, ' ');
	str_appends(out, kw);
}

/* FLAGS and PERMANENTFLAGS lines with the mailbox's keywords, into out;
 * the view remembers how many it named. */
static int write_mailbox_flags(struct imap_session *s,
			       struct store_account *acct, struct str *out)
{
	static const char sys[] = "\\Answered \\Flagged \\Deleted \\Seen "
				  "\\Draft";
	struct imap_view *v = s->view;
	struct str kws = STR_INIT;
	uint32_t n = 0;
	int rc = store_keyword_list(acct, v->id, list_one, &kws, &n, NULL);
	if (rc < 0) {
		str_free(&kws);
		return rc;
	}
	const char *k = kws.len > 0 ? kws.data : "";
	str_printf(out, "* FLAGS (%s%s)\r\n", sys, k);
	if (v->readonly)
		str_appends(out, "* OK [PERMANENTFLAGS ()] Read-only "
				 "mailbox\r\n");
	else
		str_printf(out, "* OK [PERMANENTFLAGS (%s%s%s)] Flags "
				"permitted\r\n", sys, k,
			   n < STORE_KEYWORDS_MAX ? " \\*" : "");
	v->keywords_told = n;
	str_free(&kws);
	return 1;
}

/* Put text into out at mark, before what follows it. */
static void insert_at(struct str *out, size_t mark, const struct str *text)
{
	struct str tail = STR_INIT;
	str_append(&tail, out->data + mark, out->len - mark);
	str_truncate(out, mark);
	str_append(out, text->data, text->len);
	str_append(out, tail.data, tail.len);
	str_free(&tail);
}

int imap_flags_keywords(struct imap_session *s, struct store_account *acct,
			size_t mark)
{
	struct imap_view *v = s->view;
	uint32_t n = 0;
	if (v == NULL)
		return 1;
	int rc = store_keyword_count(acct, v->id, &n, NULL);
	if (rc <= 0 || n <= v->keywords_told)
		return rc < 0 ? rc : 1;
	struct str text = STR_INIT;
	rc = write_mailbox_flags(s, acct, &text);
	if (rc > 0)
		insert_at(&s->out, mark, &text);
	str_free(&text);
	return rc;
}

/* ---- \Recent ---- */

static bool recent_off(const struct imap_session *s)
{
	return (s->enabled & IMAP_EN_REV2) != 0;
}

bool imap_flags_recent(const struct imap_session *s, uint32_t uid)
{
	const struct imap_view *v = s->view;
	return !recent_off(s) && uid >= v->recent_lo && uid < v->recent_hi;
}

uint32_t imap_flags_recent_count(const struct imap_session *s)
{
	const struct imap_view *v = s->view;
	if (recent_off(s) || v->recent_lo >= v->recent_hi)
		return 0;
	return imap_view_lower_bound(v, v->recent_hi) -
	       imap_view_lower_bound(v, v->recent_lo);
}

/* Take the messages below the view's UIDNEXT that are recent for this
 * session.  A failure only means they are not recent here. */
static void recent_take(struct imap_session *s, struct store_account *acct)
{
	struct imap_view *v = s->view;
	uint32_t upto = v->uidnext, mark = 0;
	bool empty = v->recent_lo >= v->recent_hi;
	if (recent_off(s))
		return;
	if (!v->readonly) {
		uint32_t from = empty ? 0 : v->recent_hi;
		if (store_recent(acct, v->id, true, from, upto, &mark, NULL) >
		    0) {
			if (empty)
				v->recent_lo = mark;
			v->recent_hi = upto;
		}
		return;
	}
	/* Read-only: what nobody claimed is recent here too (RFC 3501
	 * 6.3.2: EXAMINE must not take \Recent away). */
	if (store_recent(acct, v->id, false, 0, upto, &mark, NULL) < 0 ||
	    mark >= upto)
		return;
	if (empty)
		v->recent_lo = mark;
	if (empty || mark <= v->recent_hi)
		v->recent_hi = upto;
}

int imap_flags_select(struct imap_session *s, struct store_account *acct)
{
	recent_take(s, acct);
	return write_mailbox_flags(s, acct, &s->out);
}

void imap_flags_sync_recent(struct imap_session *s,
			    struct store_account *acct)
{
	if (recent_off(s))
		return;
	recent_take(s, acct);
	str_printf(&s->out, "* %u RECENT\r\n", imap_flags_recent_count(s));
}

void imap_flags_write(const struct imap_session *s, struct str *out,
		      uint32_t uid, unsigned flags, const char *keywords)
{
	imap_write_flags_recent(out, flags, keywords,
				imap_flags_recent(s, uid));
}

void imap_tagged_limit(struct imap_session *s, const char *what)
{
	imap_tagged(s, "NO [LIMIT] %s failed: a mailbox holds at most %d "
		       "keywords of up to %d bytes", what, STORE_KEYWORDS_MAX,
		    STORE_KEYWORD_LEN_MAX);
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "keyword-limit");
	log_field(&line, "what", "%s", what);
	log_cvalue(&line, "user", s->user);
	if (s->view != NULL)
		log_cvalue(&line, "mailbox", s->view->name);
	log_put(LOG_INFO, &line);
}
