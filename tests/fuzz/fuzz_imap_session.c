/* Fuzz a whole IMAP session: the input is what a client sends, fed through
 * a socket pair into imap_session_start() on a real loop, worker pool,
 * store and auth, in a few writes split at places derived from the input
 * (session.h).  alice@example.com and bob@example.com (password "pw", a
 * 2 MiB quota) each have in INBOX a plain message, a multipart/mixed one
 * with a message/rfc822 part, one with bare-LF lines and 8-bit bytes kept
 * without its MIME meta (so FETCH computes it), and one just over 256 KiB
 * (so FETCH streams it in pieces); and one message in Work.  After a
 * session that changed anything in an account, store_check() must find
 * nothing, and the accounts are put back as they were.
 *
 * To reach the limits (64 KiB lines, 256 KiB commands, APPEND spooled past
 * 128 KiB) from short inputs, a byte 0xff followed by bytes k and c stands
 * for c repeated (k + 1) * 1024 times, up to 1 MiB in all.  Inputs whose
 * answers would rightly take longer than the deadline (many items that
 * carry message text, many COPYs doubling a mailbox) are not run.
 *
 * The output is read as a client reads it, against a model of the session
 * built from the client's bytes framed as the server must frame them
 * (lines, literals, APPEND's message, IDLE, AUTHENTICATE's response line),
 * with the real grammar's readers:
 *   - the greeting is "* OK"; every response ends in CRLF and is "* ...",
 *     "+ ..." or "tag OK|NO|BAD ..."; a line ending in {n} is followed by
 *     exactly n bytes and then SP, ")" or CRLF; outside literals there is
 *     no NUL, CR, LF or 8-bit byte; data responses have balanced quotes
 *     and parentheses, and a FETCH is a list of item-value pairs;
 *   - each complete command (outside APPEND's message and IDLE) gets
 *     exactly one result, in order, with its tag (an untagged BAD when it
 *     has none), unless the session ended (BYE) first; "+" comes only for
 *     an accepted synchronizing literal, IDLE and AUTHENTICATE; nothing
 *     follows LOGOUT's OK; the server closes after a BYE, and only then;
 *     after COMPRESS's OK the output is DEFLATE and is not read further;
 *   - OK only in the states the command is valid in; LOGIN and
 *     AUTHENTICATE succeed only with the password "pw"; before that only
 *     OK, NO, BAD, BYE, CAPABILITY and ID are said (no mailbox data);
 *   - mailbox data only with a mailbox selected; EXISTS never shrinks
 *     without EXPUNGE; each EXPUNGE, FETCH and SEARCH number is within the
 *     mailbox; no EXPUNGE during FETCH, STORE or SEARCH; a sequence number
 *     keeps its UID and UIDs ascend with sequence numbers; RFC822.SIZE and
 *     BODY[] of the seed messages are theirs to the byte (in pieces too),
 *     and other sections of them are byte ranges of them; a FETCH shows
 *     only keywords the last FLAGS named (RFC 9051 7.3.5), and RECENT is
 *     never above EXISTS;
 *   - the output is bounded by the input's size and the mailboxes'; the
 *     session ends, frees everything (ASan/LSan) and gives its APPEND
 *     memory back. */
#include <ctype.h>
#include <sodium.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/uio.h>

#include "session.h"

#include "auth/auth.h"
#include "core/budget.h"
#include "imap/imap_parse.h"
#include "imap/imap_session.h"
#include "mime/mime_meta.h"

#define LINE_MAX_IMAP (64 * 1024)   /* the server's line limit */
#define COMMAND_MAX (256 * 1024)    /* a command's lines and literals */
#define MESSAGE_MAX (1024 * 1024)   /* smtp.max_message_size: APPEND's */
#define MAX_ERRORS 20		    /* imap.max_errors, the default */
#define TAG_MAX 63		    /* a longer tag is answered "*" */
#define QUOTA (2 * 1024 * 1024)
#define EXPAND_MAX (1024 * 1024)
#define TEXT_ITEMS_MAX 24
#define COPIES_MAX 8
#define NUSERS 2  /* alice and bob, sess.users */
#define NINBOX 4  /* seed messages in INBOX */
#define NSEED 5	  /* and the one in Work */
#define META_LESS 2 /* the seed stored without its MIME meta */

struct seed {
	char *data;
	size_t len;
	struct mime_meta meta;	/* computed once */
};

/* A mailbox as a new account has it (and Work). */
struct tmpl {
	char *name;
	enum store_special special;
	bool subscribed;
};

struct mblist {
	struct str shape;	/* names, ids, uses, subscriptions */
	char **names;		/* existing mailboxes, sorted */
	char **subs;		/* subscriptions */
	uint64_t *counts;	/* each one's UIDNEXT and HIGHESTMODSEQ */
	size_t n, nsubs;
	bool meta;		/* FETCH kept the meta-less seed's meta */
};

static struct {
	struct auth *auth;
	struct budget *budget;
	struct imap_env env;
	struct seed msgs[NSEED];
	struct tmpl *tmpl;
	size_t ntmpl;
	/* Each user's INBOX as we filled it, and the state of the account
	 * then (store_mailbox_list), to see whether a session changed it. */
	uint32_t uidvalidity[NUSERS];
	uint32_t uids[NUSERS][NSEED];
	struct mblist snap[NUSERS];
} g;

static struct session *start(struct loop *loop, struct session_list *list,
			     int fd, const struct sockaddr *peer,
			     socklen_t peerlen)
{
	return imap_session_start(loop, list, fd, peer, peerlen, &g.env);
}

/* ---- the messages ---- */

static void seed_msg(int i, const char *s, size_t n)
{
	g.msgs[i].data = malloc(n);
	memcpy(g.msgs[i].data, s, n);
	g.msgs[i].len = n;
	g.msgs[i].meta = (struct mime_meta)MIME_META_INIT;
	mime_meta_compute(g.msgs[i].data, n, MIME_META_TEXT, &g.msgs[i].meta);
}

static void make_big(int i)
{
	/* Just over one 256 KiB piece of FETCH output. */
	size_t cap = 256 * 1024 + 3000, n = 0;
	char *b = malloc(cap);
	n += (size_t)sprintf(b, "From: big@example.net\r\nTo: alice@example."
				"com\r\nSubject: big\r\n\r\n");
	while (n + 80 <= cap) {
		memset(b + n, 'a' + (int)(n % 26), 78);
		memcpy(b + n + 78, "\r\n", 2);
		n += 80;
	}
	seed_msg(i, b, n);
	free(b);
}

static void make_messages(void)
{
	static const char m0[] =
		"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
		"From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
		"Subject: afternoon meeting\r\n"
		"To: mooch@owatagu.siam.edu.example\r\n"
		"Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"
		"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
	static const char m1[] =
		"From: \"A. Person\" <a@example.org>\r\n"
		"To: alice@example.com, \"Bob (B)\" <bob@example.com>\r\n"
		"Subject: =?UTF-8?Q?caf=C3=A9?= and a forward\r\n"
		"Date: Tue, 1 Jan 2030 10:00:00 +0100\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
		"preamble\r\n--outer\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"See the attached caf=C3=A9 note.\r\n--outer\r\n"
		"Content-Type: message/rfc822\r\n\r\n"
		"From: inner@example.net\r\nSubject: inner\r\n"
		"Content-Type: multipart/alternative; boundary=in\r\n\r\n"
		"--in\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
		"--in\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
		"--in--\r\n\r\n--outer\r\n"
		"Content-Type: application/octet-stream; name=x.bin\r\n"
		"Content-Disposition: attachment; filename=\"x.bin\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n"
		"AAECAwQFBgcICQ==\r\n--outer--\r\nepilogue\r\n";
	static const char m2[] = "Subject: caf\xe9 \xff\n"
				 "From: lf@example.org\n"
				 "X: y\n\n"
				 "body \x80\x81 line\n.\n{3}\r\nraw\r\r\n"
				 "\x01 ctl\nno final newline";
	static const char m4[] = "From: w@example.com\r\n"
				 "Subject: =?ISO-8859-1?B?SWYgeW91IGNhbg==?="
				 "\r\n\r\nwork\r\n";
	seed_msg(0, m0, sizeof(m0) - 1);
	seed_msg(1, m1, sizeof(m1) - 1);
	seed_msg(2, m2, sizeof(m2) - 1);
	make_big(3);
	seed_msg(4, m4, sizeof(m4) - 1);
}

/* ---- the accounts ---- */


static void list_cb(const struct store_mailbox_info *mb, void *ctx)
{
	struct mblist *l = ctx;
	str_printf(&l->shape, "%s|%lld|%d|%d|%u\n", mb->name,
		   (long long)mb->id, (int)mb->special, (int)mb->subscribed,
		   mb->uidvalidity);
	if (mb->id != 0) {
		l->names = realloc(l->names, (l->n + 1) * sizeof(char *));
		l->counts = realloc(l->counts, (l->n + 1) * sizeof(uint64_t));
		l->names[l->n] = strdup(mb->name);
		/* Any change to a message or its flags raises one. */
		l->counts[l->n++] = (uint64_t)mb->uidnext << 40 ^
				    mb->highestmodseq;
	}
	if (mb->subscribed) {
		l->subs = realloc(l->subs, (l->nsubs + 1) * sizeof(char *));
		l->subs[l->nsubs++] = strdup(mb->name);
	}
}

static void mblist_free(struct mblist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	for (size_t i = 0; i < l->nsubs; i++)
		free(l->subs[i]);
	free(l->names);
	free(l->subs);
	free(l->counts);
	str_free(&l->shape);
	*l = (struct mblist){0};
}

static bool has_meta_cb(const struct store_msginfo *m, void *ctx)
{
	*(bool *)ctx = m->meta.envelope != NULL;
	return false;
}

static void account_state(struct store_account *acct, int u,
			  struct mblist *l)
{
	struct store_mailbox inbox;
	CHECK(store_mailbox_list(acct, list_cb, l, NULL) > 0);
	CHECK(store_mailbox_find(acct, "INBOX", &inbox, NULL) > 0);
	CHECK(store_msg_scan(acct, inbox.id, g.uids[u][META_LESS],
			     g.uids[u][META_LESS], STORE_INFO_META,
			     has_meta_cb, &l->meta, NULL) > 0);
}

static void put_message(struct store_account *acct, int64_t mailbox_id,
			int k, uint32_t *uid_r)
{
	struct iovec iov = {g.msgs[k].data, g.msgs[k].len};
	struct store_source src = {&iov, 1, -1, 0};
	if (k == META_LESS) {
		CHECK(store_msg_deliver(acct, mailbox_id, &src, 1700000000,
					uid_r, NULL) > 0);
		return;
	}
	const struct mime_meta *mm = &g.msgs[k].meta;
	struct store_msg_meta meta = {
		.envelope = mm->envelope.data,
		.bodystructure = mm->bodystructure.data,
		.body = mm->body.data, .layout = mm->layout.data,
		.layout_len = mm->layout.len, .sentdate = mm->sentdate,
	};
	CHECK(store_msg_append(acct, mailbox_id, &src, &meta,
			       k == 0 ? STORE_FLAG_SEEN : 0,
			       k == 1 ? "$Forwarded" : NULL,
			       1700000000 + k * 3600, uid_r, NULL) > 0);
}

/* A mailbox emptied, then INBOX and Work given their seeds again. */
static void refill(struct store_account *acct, int u, const char *name)
{
	struct store_mailbox mb;
	struct store_msg *msgs = NULL;
	size_t n = 0;
	CHECK(store_mailbox_find(acct, name, &mb, NULL) > 0);
	CHECK(store_msg_list(acct, mb.id, &msgs, &n, NULL) > 0);
	if (n > 0) {
		uint32_t *uids = calloc(n, sizeof(*uids));
		for (size_t k = 0; k < n; k++)
			uids[k] = msgs[k].uid;
		CHECK(store_msg_expunge(acct, mb.id, uids, n, NULL) > 0);
		free(uids);
	}
	free(msgs);
	if (strcmp(name, "INBOX") == 0) {
		for (int k = 0; k < NINBOX; k++)
			put_message(acct, mb.id, k, &g.uids[u][k]);
		g.uidvalidity[u] = mb.uidvalidity;
	} else if (strcmp(name, "Work") == 0) {
		put_message(acct, mb.id, NINBOX, &g.uids[u][NINBOX]);
	}
}

/* Everything as the template says: other mailboxes deleted (children
 * first), the template's created, subscriptions as they were, and the
 * seeds in INBOX and Work again. */
static void rebuild(struct store_account *acct, int u,
		    const struct mblist *l)
{
	for (size_t i = l->n; i-- > 0;)
		if (strcmp(l->names[i], "INBOX") != 0)
			CHECK(store_mailbox_delete(acct, l->names[i], NULL) >=
			      0);
	for (size_t i = 0; i < l->nsubs; i++)
		CHECK(store_mailbox_subscribe(acct, l->subs[i], false, NULL) >
		      0);
	for (size_t i = 0; i < g.ntmpl; i++) {
		if (strcmp(g.tmpl[i].name, "INBOX") != 0)
			CHECK(store_mailbox_create(acct, g.tmpl[i].name,
						   g.tmpl[i].special,
						   NULL) > 0);
		if (g.tmpl[i].subscribed)
			CHECK(store_mailbox_subscribe(acct, g.tmpl[i].name,
						      true, NULL) > 0);
	}
	refill(acct, u, "INBOX");
	refill(acct, u, "Work");
}

static void problem_cb(const struct store_problem *p, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "store_check: %s: %s\n", p->where, p->what);
}

/* After a session: an account it changed is checked, then put back as
 * it was: only the mailboxes whose messages changed when the mailboxes
 * are the same, else everything. */
static void restore_accounts(bool check)
{
	static const char *const address[NUSERS] = {"alice@example.com",
						    "bob@example.com"};
	for (int u = 0; u < NUSERS; u++) {
		struct store_account *acct;
		struct mblist l = {0};
		struct mblist *snap = &g.snap[u];
		CHECK(store_account_open(sess.store, sess.users[u], &acct,
					 NULL) > 0);
		account_state(acct, u, &l);
		bool same_shape = l.shape.len == snap->shape.len &&
				  memcmp(l.shape.data, snap->shape.data,
					 l.shape.len) == 0;
		bool same = same_shape && !l.meta &&
			    memcmp(l.counts, snap->counts,
				   l.n * sizeof(*l.counts)) == 0;
		if (!same) {
			const char *err = NULL;
			if (check && store_check(sess.store, address[u], 0,
						 problem_cb, NULL, &err) != 1)
				dump_and_abort("store_check found problems");
			if (!same_shape)
				rebuild(acct, u, &l);
			for (size_t i = 0; same_shape && i < l.n; i++) {
				bool inbox = strcmp(l.names[i], "INBOX") == 0;
				if (l.counts[i] != snap->counts[i] ||
				    (l.meta && inbox))
					refill(acct, u, l.names[i]);
			}
			mblist_free(snap);
			account_state(acct, u, snap);
		}
		mblist_free(&l);
		store_account_unref(&acct);
	}
}

static void tmpl_cb(const struct store_mailbox_info *mb, void *ctx)
{
	(void)ctx;
	if (mb->id == 0)
		return;
	g.tmpl = realloc(g.tmpl, (g.ntmpl + 1) * sizeof(*g.tmpl));
	g.tmpl[g.ntmpl++] = (struct tmpl){strdup(mb->name), mb->special,
					  mb->subscribed};
}

/* What a new account has, and Work. */
static void make_template(void)
{
	struct store_account *acct;
	CHECK(store_account_open(sess.store, sess.users[0], &acct, NULL) > 0);
	CHECK(store_mailbox_create(acct, "Work", STORE_SPECIAL_NONE, NULL) > 0);
	CHECK(store_mailbox_subscribe(acct, "Work", true, NULL) > 0);
	CHECK(store_mailbox_list(acct, tmpl_cb, NULL, NULL) > 0);
	store_account_unref(&acct);
}

static void setup(void)
{
	session_init("fuzz_imap_session", "imap");
	setting("server.hostname=mx.example.com");
	setting("smtp.max_message_size=1M");
	setting("auth.argon2_memory=8");
	setting("auth.argon2_passes=1");
	setting("auth.cache_ttl=300");
	setting("log.level=error");
	sess.quota = QUOTA;
	session_open_store();
	make_messages();
	make_template();
	/* The first round fills both accounts (their state differs from
	 * the empty snapshot). */
	restore_accounts(false);

	g.auth = auth_new(sess.store, sess.cfg);
	session_start_loop(start);
	/* Room for a few small APPENDs in memory; larger ones spool. */
	g.budget = budget_new(192 * 1024);
	/* Logins on the same workers: quiesce() waits for those. */
	g.env = (struct imap_env){sess.cfg,	 sess.store, g.auth,
				  sess.workers,	 sess.workers, g.budget,
				  sess.dir};
}

/* ---- the input ---- */

/* 0xff k c: c repeated (k + 1) KiB times, within EXPAND_MAX in all. */
static char *expand(const uint8_t *data, size_t size, size_t *n_r)
{
	size_t n = 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == 0xff && i + 2 < size) {
			size_t k = ((size_t)data[i + 1] + 1) * 1024;
			n += n + k <= EXPAND_MAX ? k : 0;
			i += 2;
		} else {
			n++;
		}
	}
	char *out = malloc(n ? n : 1);
	size_t o = 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == 0xff && i + 2 < size) {
			size_t k = ((size_t)data[i + 1] + 1) * 1024;
			if (o + k <= EXPAND_MAX) {
				memset(out + o, data[i + 2], k);
				o += k;
			}
			i += 2;
		} else {
			out[o++] = (char)data[i];
		}
	}
	*n_r = o;
	return out;
}

static size_t count_ci(const char *p, size_t n, const char *word)
{
	size_t k = strlen(word), c = 0;
	for (size_t i = 0; i + k <= n; i++)
		if (strncasecmp(p + i, word, k) == 0)
			c++;
	return c;
}

/* Items whose answer is message text (or, for SEARCH, reads it). */
static size_t text_items(const char *p, size_t n)
{
	static const char *const words[] = {"BODY", "RFC822", "BINARY",
					    "ENVELOPE", "ALL", "FULL",
					    "TEXT", "HEADER", "PREVIEW"};
	size_t c = 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
		c += count_ci(p, n, words[i]);
	return c;
}

/* ---- the server's output as responses ---- */

enum rkind { R_CONT, R_UNTAGGED, R_TAGGED };

struct resp {
	enum rkind kind;
	const char *p;		/* the whole response, CRLF included */
	size_t n;
	const char *tag;	/* R_TAGGED */
	size_t taglen;
	const char *text;	/* after "* ", "+ " or the tag and SP */
};


/* Whether [p, e) ends in "{n}", a literal announcement. */
static bool literal_end(const char *p, const char *e, uint64_t *n_r)
{
	if (e == p || e[-1] != '}')
		return false;
	const char *d = e - 1;
	while (d > p && d[-1] >= '0' && d[-1] <= '9')
		d--;
	if (d == e - 1 || d == p || d[-1] != '{' || e - 1 - d > 12)
		return false;
	uint64_t v = 0;
	for (const char *q = d; q < e - 1; q++)
		v = v * 10 + (uint64_t)(*q - '0');
	*n_r = v;
	return true;
}

struct model {
	const char *p, *end;	/* output not yet read */
	bool cut_ok;		/* reset: the output may stop anywhere */
	bool cut;		/* and it did */
	bool over;		/* BYE */
	bool logout;		/* LOGOUT's OK: nothing may follow */
	bool compressed;	/* COMPRESS's OK: what follows is DEFLATE */
	unsigned errors;	/* BAD and NO so far */

	bool auth;
	int user;		/* 0 alice, 1 bob, -1 not known */
	/* The selected mailbox: sequence numbers to UIDs (0: not known). */
	bool selected, selecting, inbox, new_inbox, got_exists;
	uint32_t uidvalidity, new_uidvalidity;
	uint32_t *uids;
	size_t n, cap;

	/* The command being answered ("" for none). */
	const char *name;
	bool uid;

	/* The keywords the last FLAGS named (RFC 9051 7.3.5): a FETCH may
	 * show no other.  " kw1 kw2 ", lengths bounded by the store's
	 * limits; kw_over when a FLAGS did not fit (then not checked). */
	char kw[STORE_KEYWORDS_MAX * (STORE_KEYWORD_LEN_MAX + 1) + 2];
	size_t kwlen;
	bool kw_over;
};

static void cut(struct model *m)
{
	if (!m->cut_ok)
		dump_and_abort("invariant failed: the output ends within a "
			       "response");
	m->cut = true;
	m->p = m->end;
}

static bool starts(const char *p, const char *end, const char *prefix)
{
	size_t k = strlen(prefix);
	return (size_t)(end - p) >= k && memcmp(p, prefix, k) == 0;
}

/* The next response, its framing checked; false at the end of the
 * output. */
static bool take_response(struct model *m, struct resp *r)
{
	const char *p = m->p, *end = m->end;
	if (p == end && m->cut_ok)
		m->cut = true; /* the reset may have come before a response */
	if (m->cut || p == end)
		return false;
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			cut(m);
			return false;
		}
		EXPECT(nl > p && nl[-1] == '\r');
		for (const char *q = p; q < nl - 1; q++)
			EXPECT(*q != '\0' && *q != '\r' &&
			       (unsigned char)*q < 0x80);
		uint64_t n;
		if (!literal_end(p, nl - 1, &n)) {
			p = nl + 1;
			break;
		}
		if ((uint64_t)(end - (nl + 1)) <= n) {
			cut(m);
			return false;
		}
		/* A literal is CHAR8, no NUL; but a message stored with NUL
		 * bytes (APPEND and SMTP take them) goes out as it is, and
		 * what to do about that is not settled: not checked. */
		p = nl + 1 + n;
		EXPECT(*p == ' ' || *p == ')' || *p == '\r');
	}
	r->p = m->p;
	r->n = (size_t)(p - m->p);
	m->p = p;
	r->tag = NULL;
	r->taglen = 0;
	r->text = r->p + 2;
	const char *e = r->p + r->n;
	if (starts(r->p, e, "+ ")) {
		r->kind = R_CONT;
	} else if (starts(r->p, e, "* ")) {
		r->kind = R_UNTAGGED;
		EXPECT(r->n > 4);
	} else {
		const char *sp = memchr(r->p, ' ', r->n);
		EXPECT(sp != NULL && sp > r->p);
		r->kind = R_TAGGED;
		r->tag = r->p;
		r->taglen = (size_t)(sp - r->p);
		r->text = sp + 1;
		EXPECT(starts(r->text, e, "OK ") || starts(r->text, e, "NO ") ||
		       starts(r->text, e, "BAD "));
	}
	return true;
}

/* ---- tokens of a response ---- */

struct tok {
	const char *p, *e;	/* e: the response's final CR */
};

enum vkind { V_ATOM, V_QUOTED, V_LITERAL, V_LIST };

struct val {
	enum vkind kind;
	const char *data;	/* quoted: still escaped */
	size_t len;
};

static void tk_literal(struct tok *t, struct val *v)
{
	const char *p = t->p + 1;
	uint64_t n = 0;
	EXPECT(p < t->e && *p >= '0' && *p <= '9');
	while (p < t->e && *p >= '0' && *p <= '9' && n < (1ull << 40))
		n = n * 10 + (uint64_t)(*p++ - '0');
	EXPECT(t->e - p >= 3 && memcmp(p, "}\r\n", 3) == 0);
	p += 3;
	EXPECT((uint64_t)(t->e - p) >= n);
	*v = (struct val){V_LITERAL, p, (size_t)n};
	t->p = p + n;
}

static void tk_quoted(struct tok *t, struct val *v)
{
	const char *p = t->p + 1;
	while (p < t->e && *p != '"') {
		EXPECT(*p != '\r' && *p != '\n');
		if (*p == '\\') {
			p++;
			EXPECT(p < t->e && (*p == '"' || *p == '\\'));
		}
		p++;
	}
	EXPECT(p < t->e);
	*v = (struct val){V_QUOTED, t->p + 1, (size_t)(p - t->p - 1)};
	t->p = p + 1;
}

/* One value: an atom, a string or a parenthesized list of values. */
static void tk_value(struct tok *t, int depth, struct val *v)
{
	EXPECT(depth < 256 && t->p < t->e);
	const char *start = t->p;
	if (*t->p == '"') {
		tk_quoted(t, v);
	} else if (*t->p == '{') {
		tk_literal(t, v);
	} else if (*t->p == '(') {
		t->p++;
		while (t->p < t->e && *t->p != ')') {
			struct val x;
			tk_value(t, depth + 1, &x);
			EXPECT(t->p < t->e);
			/* Addresses and body parts follow one another
			 * without a space: "(...)(...)". */
			if (*t->p == ' ')
				t->p++;
			else
				EXPECT(*t->p == ')' ||
				       (*t->p == '(' && x.kind == V_LIST));
		}
		EXPECT(t->p < t->e);
		t->p++;
		*v = (struct val){V_LIST, start, (size_t)(t->p - start)};
	} else {
		while (t->p < t->e && *t->p != ' ' && *t->p != '(' &&
		       *t->p != ')' && *t->p != '"')
			t->p++;
		EXPECT(t->p > start);
		*v = (struct val){V_ATOM, start, (size_t)(t->p - start)};
	}
}

/* Values separated by single spaces up to the end of the response. */
static void tk_all(struct tok *t)
{
	for (;;) {
		struct val v;
		tk_value(t, 0, &v);
		if (t->p == t->e)
			return;
		EXPECT(*t->p == ' ');
		t->p++;
	}
}

static bool number_of(const struct val *v, uint64_t *n_r)
{
	if (v->kind != V_ATOM || v->len == 0 || v->len > 19)
		return false;
	uint64_t n = 0;
	for (size_t i = 0; i < v->len; i++) {
		if (v->data[i] < '0' || v->data[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v->data[i] - '0');
	}
	*n_r = n;
	return true;
}

/* ---- the selected mailbox as the client knows it ---- */

static void view_resize(struct model *m, size_t n)
{
	EXPECT(n < (1u << 24));
	if (n > m->cap) {
		m->cap = n + 64;
		m->uids = realloc(m->uids, m->cap * sizeof(*m->uids));
	}
	if (n > m->n)
		memset(m->uids + m->n, 0, (n - m->n) * sizeof(*m->uids));
	m->n = n;
}

/* A sequence number keeps its UID, and UIDs ascend. */
static void view_uid(struct model *m, uint32_t seq, uint32_t uid)
{
	size_t i = seq - 1;
	EXPECT(uid > 0);
	if (m->uids[i] != 0) {
		EXPECT(m->uids[i] == uid);
		return;
	}
	for (size_t j = i; j-- > 0;)
		if (m->uids[j] != 0) {
			EXPECT(m->uids[j] < uid);
			break;
		}
	for (size_t j = i + 1; j < m->n; j++)
		if (m->uids[j] != 0) {
			EXPECT(uid < m->uids[j]);
			break;
		}
	m->uids[i] = uid;
}

static void unselect(struct model *m)
{
	m->selected = false;
	m->inbox = false;
	m->n = 0;
}

/* The seed message that uid is, in the logged-in user's INBOX. */
static const struct seed *seed_of(const struct model *m, uint32_t uid)
{
	if (!m->selected || !m->inbox || m->user < 0 ||
	    m->uidvalidity != g.uidvalidity[m->user])
		return NULL;
	for (int k = 0; k < NINBOX; k++)
		if (g.uids[m->user][k] == uid)
			return &g.msgs[k];
	return NULL;
}

/* ---- FETCH ---- */

struct section {
	const char *name;
	size_t nlen;
	struct val v;
};

/* att name: BODY.PEEK[...]<n> and the like. */
static void fetch_name(struct tok *t)
{
	const char *start = t->p;
	while (t->p < t->e && (isalnum((unsigned char)*t->p) ||
			       *t->p == '.' || *t->p == '-'))
		t->p++;
	EXPECT(t->p > start);
	if (t->p < t->e && *t->p == '[') {
		int depth = 0;
		t->p++;
		while (t->p < t->e && (*t->p != ']' || depth > 0)) {
			struct val v;
			if (*t->p == '"') {
				tk_quoted(t, &v);
				continue;
			}
			if (*t->p == '{') {
				tk_literal(t, &v);
				continue;
			}
			EXPECT(*t->p != '\r');
			depth += *t->p == '(' ? 1 : *t->p == ')' ? -1 : 0;
			EXPECT(depth >= 0);
			t->p++;
		}
		EXPECT(t->p < t->e);
		t->p++;
	}
	if (t->p < t->e && *t->p == '<') {
		t->p++;
		while (t->p < t->e && *t->p >= '0' && *t->p <= '9')
			t->p++;
		EXPECT(t->p < t->e && *t->p == '>');
		t->p++;
	}
}

static bool name_is(const struct section *s, const char *name)
{
	return s->nlen == strlen(name) &&
	       strncasecmp(s->name, name, s->nlen) == 0;
}

static bool name_has(const struct section *s, const char *part)
{
	size_t k = strlen(part);
	for (size_t i = 0; i + k <= s->nlen; i++)
		if (strncasecmp(s->name + i, part, k) == 0)
			return true;
	return false;
}

/* d[0..n) as the server sends message bytes in a literal: NUL as 0x80
 * (no literal may hold NUL). */
static bool same_sent(const char *d, const char *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (d[i] != (m[i] == '\0' ? (char)0x80 : m[i]))
			return false;
	return true;
}

static bool sent_within(const char *m, size_t mlen, const char *d, size_t n)
{
	if (memchr(m, '\0', mlen) == NULL)
		return memmem(m, mlen, d, n) != NULL;
	for (size_t i = 0; i + n <= mlen; i++)
		if (same_sent(d, m + i, n))
			return true;
	return false;
}

/* A section of a seed message: the whole of it, or a byte range of it. */
static void check_section(const struct seed *msg, const struct section *s)
{
	if (s->v.kind == V_ATOM) {
		EXPECT(s->v.len == 3 && memcmp(s->v.data, "NIL", 3) == 0);
		return;
	}
	EXPECT(s->v.kind == V_QUOTED || s->v.kind == V_LITERAL);
	if (name_has(s, "HEADER.FIELDS") || name_has(s, "BINARY"))
		return;
	char *d = malloc(s->v.len + 1);
	size_t n = 0;
	for (size_t i = 0; i < s->v.len; i++) {
		if (s->v.kind == V_QUOTED && s->v.data[i] == '\\')
			i++;
		d[n++] = s->v.data[i];
	}
	const char *lt = memchr(s->name, '<', s->nlen);
	uint64_t origin = 0;
	for (const char *q = lt ? lt + 1 : NULL; q && *q != '>'; q++)
		origin = origin * 10 + (uint64_t)(*q - '0');
	if (name_is(s, "BODY[]") || name_is(s, "RFC822")) {
		EXPECT(n == msg->len && same_sent(d, msg->data, n));
	} else if (lt != NULL && lt - s->name == 6 &&
		   strncasecmp(s->name, "BODY[]", 6) == 0) {
		uint64_t left = origin < msg->len ? msg->len - origin : 0;
		EXPECT(n <= left);
		EXPECT(n == 0 || same_sent(d, msg->data + origin, n));
	} else if (name_is(s, "BODY[HEADER]") || name_is(s, "RFC822.HEADER")) {
		EXPECT(n <= msg->len && same_sent(d, msg->data, n));
	} else if (name_is(s, "BODY[TEXT]") || name_is(s, "RFC822.TEXT")) {
		EXPECT(n <= msg->len &&
		       same_sent(d, msg->data + msg->len - n, n));
	} else {
		EXPECT(n == 0 || sent_within(msg->data, msg->len, d, n));
	}
	free(d);
}

#define SECTIONS_MAX 64

/* "* seq FETCH (name value ...)": pairs, the UID consistent with what
 * the client knows, and the seed messages' bytes their own. */
/* The words of a flag list "(a b)" one by one: fn(word, len). */
static void each_flag(const struct val *v, struct model *m,
		      void (*fn)(struct model *m, const char *w, size_t n))
{
	EXPECT(v->kind == V_LIST && v->len >= 2);
	const char *p = v->data + 1, *e = v->data + v->len - 1;
	while (p < e) {
		const char *sp = memchr(p, ' ', (size_t)(e - p));
		const char *we = sp != NULL ? sp : e;
		EXPECT(we > p);
		fn(m, p, (size_t)(we - p));
		p = sp != NULL ? sp + 1 : e;
	}
}

static void kw_remember(struct model *m, const char *w, size_t n)
{
	if (w[0] == '\\')
		return;
	if (m->kwlen + n + 2 > sizeof(m->kw)) {
		m->kw_over = true;
		return;
	}
	memcpy(m->kw + m->kwlen, w, n);
	m->kwlen += n;
	m->kw[m->kwlen++] = ' ';
}

/* A keyword a FETCH shows was named by FLAGS before (any case). */
static void kw_check(struct model *m, const char *w, size_t n)
{
	if (w[0] == '\\' || m->kw_over)
		return;
	for (size_t i = 0; i + n + 1 <= m->kwlen; i++)
		if (m->kw[i + n] == ' ' && (i == 0 || m->kw[i - 1] == ' ') &&
		    strncasecmp(m->kw + i, w, n) == 0)
			return;
	dump_and_abort("invariant failed: a FETCH shows a keyword no FLAGS "
		       "named");
}

static void check_fetch(struct model *m, uint32_t seq, struct tok *t)
{
	struct section secs[SECTIONS_MAX];
	size_t nsecs = 0;
	uint64_t uid = 0, size = 0;
	bool have_uid = false, have_size = false;
	EXPECT(t->p < t->e && *t->p == '(');
	t->p++;
	for (;;) {
		struct section s = {t->p, 0, {V_ATOM, NULL, 0}};
		fetch_name(t);
		s.nlen = (size_t)(t->p - s.name);
		EXPECT(t->p < t->e && *t->p == ' ');
		t->p++;
		tk_value(t, 1, &s.v);
		if (name_is(&s, "UID")) {
			EXPECT(!have_uid && number_of(&s.v, &uid));
			EXPECT(uid > 0 && uid <= UINT32_MAX);
			have_uid = true;
		} else if (name_is(&s, "RFC822.SIZE")) {
			EXPECT(number_of(&s.v, &size));
			have_size = true;
		} else if (name_is(&s, "FLAGS")) {
			each_flag(&s.v, m, kw_check);
		} else if (name_has(&s, "BINARY.SIZE")) {
			uint64_t bsize;
			EXPECT(number_of(&s.v, &bsize));
		} else if ((memchr(s.name, '[', s.nlen) != NULL ||
			    name_has(&s, "RFC822")) &&
			   nsecs < SECTIONS_MAX) {
			secs[nsecs++] = s;
		}
		EXPECT(t->p < t->e);
		if (*t->p == ')')
			break;
		EXPECT(*t->p == ' ');
		t->p++;
	}
	t->p++;
	EXPECT(t->p == t->e);
	/* UID FETCH and UID STORE answer with the UID (RFC 9051 6.4.9). */
	if (m->uid && (strcmp(m->name, "FETCH") == 0 ||
		       strcmp(m->name, "STORE") == 0))
		EXPECT(have_uid);
	if (have_uid)
		view_uid(m, seq, (uint32_t)uid);
	const struct seed *msg = seed_of(m, m->uids[seq - 1]);
	if (msg == NULL)
		return;
	if (have_size)
		EXPECT(size == msg->len);
	for (size_t i = 0; i < nsecs; i++)
		check_section(msg, &secs[i]);
}

/* ---- untagged responses ---- */

static bool word(struct tok *t, const char *w)
{
	size_t k = strlen(w);
	if ((size_t)(t->e - t->p) < k || strncmp(t->p, w, k) != 0 ||
	    (t->p + k < t->e && t->p[k] != ' '))
		return false;
	t->p += k;
	return true;
}

static void numbered(struct model *m, struct tok *t)
{
	uint64_t n = 0;
	while (t->p < t->e && *t->p >= '0' && *t->p <= '9' && n < (1u << 30))
		n = n * 10 + (uint64_t)(*t->p++ - '0');
	EXPECT(t->p < t->e && *t->p == ' ');
	t->p++;
	if (word(t, "EXISTS")) {
		EXPECT(t->p == t->e && (m->selected || m->selecting));
		if (m->selecting && !m->got_exists) {
			m->n = 0;
			m->got_exists = true;
		} else {
			/* Only EXPUNGE makes the mailbox smaller. */
			EXPECT(n >= m->n);
		}
		view_resize(m, (size_t)n);
	} else if (word(t, "RECENT")) {
		EXPECT(t->p == t->e && (m->selected || m->selecting));
		/* Comes after the EXISTS it is about: never more. */
		EXPECT(m->got_exists || m->selected);
		EXPECT(n <= m->n);
	} else if (word(t, "EXPUNGE")) {
		EXPECT(t->p == t->e && m->selected);
		EXPECT(n >= 1 && n <= m->n);
		/* Not while answering FETCH, STORE or SEARCH (7.5.1). */
		EXPECT(m->uid || (strcmp(m->name, "FETCH") != 0 &&
				  strcmp(m->name, "STORE") != 0 &&
				  strcmp(m->name, "SEARCH") != 0));
		memmove(m->uids + n - 1, m->uids + n,
			(m->n - n) * sizeof(*m->uids));
		m->n--;
	} else if (word(t, "FETCH")) {
		EXPECT(m->selected && n >= 1 && n <= m->n);
		EXPECT(t->p < t->e && *t->p == ' ');
		t->p++;
		check_fetch(m, (uint32_t)n, t);
	} else {
		EXPECT(!"an unknown numbered response");
	}
}

static void search_result(struct model *m, struct tok *t)
{
	EXPECT(m->selected);
	while (t->p < t->e) {
		struct val v;
		uint64_t n;
		EXPECT(*t->p == ' ');
		t->p++;
		tk_value(t, 0, &v);
		EXPECT(number_of(&v, &n) && n >= 1);
		if (!m->uid)
			EXPECT(n <= m->n);
	}
}

static void untagged(struct model *m, const struct resp *r)
{
	struct tok t = {r->text, r->p + r->n - 2};
	EXPECT(!m->over && !m->logout);
	if (*t.p >= '0' && *t.p <= '9') {
		numbered(m, &t);
		return;
	}
	if (word(&t, "OK")) {
		static const char uv[] = " [UIDVALIDITY ";
		uint64_t v = 0;
		if (!m->selecting || !starts(t.p, t.e, uv))
			return;
		t.p += sizeof(uv) - 1;
		while (t.p < t.e && isdigit((unsigned char)*t.p))
			v = v * 10 + (uint64_t)(*t.p++ - '0');
		EXPECT(t.p < t.e && *t.p == ']' && v > 0 && v <= UINT32_MAX);
		m->new_uidvalidity = (uint32_t)v;
		return;
	}
	if (word(&t, "NO") || word(&t, "BAD")) {
		m->errors++;
		return;
	}
	if (word(&t, "BYE")) {
		if (starts(t.p, t.e, " Too many errors"))
			EXPECT(m->errors >= MAX_ERRORS);
		m->over = true;
		return;
	}
	if (word(&t, "SEARCH")) {
		search_result(m, &t);
		return;
	}
	struct tok all = {r->text, t.e};
	if (word(&t, "CAPABILITY") || word(&t, "ID")) {
		tk_all(&all);
		return;
	}
	/* Everything else is for a logged-in client only. */
	EXPECT(m->auth);
	if (word(&t, "FLAGS")) {
		EXPECT(m->selected || m->selecting);
		struct val v;
		EXPECT(t.p < t.e && *t.p == ' ');
		t.p++;
		tk_value(&t, 0, &v);
		EXPECT(t.p == t.e);
		/* The mailbox's flags now, all of them: they replace. */
		m->kwlen = 0;
		m->kw_over = false;
		each_flag(&v, m, kw_remember);
		return;
	} else if (word(&t, "ESEARCH") || word(&t, "VANISHED"))
		EXPECT(m->selected);
	else
		EXPECT(word(&t, "LIST") || word(&t, "LSUB") ||
		       word(&t, "STATUS") || word(&t, "NAMESPACE") ||
		       word(&t, "ENABLED"));
	tk_all(&all);
}

/* ---- results ---- */

enum result { RES_NONE, RES_OK, RES_NO, RES_BAD, RES_CONT };

static enum result status_of(const struct resp *r)
{
	const char *e = r->p + r->n;
	return starts(r->text, e, "OK ")   ? RES_OK
	       : starts(r->text, e, "NO ") ? RES_NO
					   : RES_BAD;
}

/* Responses up to the result of the command tagged tag (NULL: a command
 * without a tag, answered by an untagged BAD or NO), each checked;
 * RES_CONT when a "+" came instead and cont_ok; RES_NONE when the output
 * ends first (after a BYE, or cut by a reset). */
static enum result await_result(struct model *m, const char *tag,
				size_t taglen, bool cont_ok)
{
	struct resp r;
	for (;;) {
		EXPECT(!m->logout);
		if (!take_response(m, &r)) {
			EXPECT(m->cut || m->over); /* the result is missing */
			return RES_NONE;
		}
		if (r.kind == R_CONT) {
			EXPECT(cont_ok && !m->over);
			return RES_CONT;
		}
		if (r.kind == R_TAGGED) {
			EXPECT(tag != NULL && r.taglen == taglen &&
			       memcmp(r.tag, tag, taglen) == 0);
			/* After a BYE, only LOGOUT's OK. */
			EXPECT(!m->over || strcmp(m->name, "LOGOUT") == 0);
			enum result res = status_of(&r);
			m->errors += res != RES_OK;
			return res;
		}
		const char *e = r.p + r.n;
		if (tag == NULL && (starts(r.text, e, "BAD ") ||
				    starts(r.text, e, "NO "))) {
			EXPECT(!m->over);
			m->errors++;
			return starts(r.text, e, "NO ") ? RES_NO : RES_BAD;
		}
		untagged(m, &r);
	}
}

/* The tag the server answers cmd with: NULL for "*". */
static const char *tag_of(const char *cmd, size_t len, char *buf,
			  size_t *len_r)
{
	struct imap_parser *p = imap_parser_new(cmd, len, 0);
	struct imap_string tag = {0};
	imap_parse_tag(p, &tag);
	bool ok = tag.data != NULL && tag.len <= TAG_MAX;
	if (ok) {
		memcpy(buf, tag.data, tag.len);
		*len_r = tag.len;
	}
	imap_parser_free(&p);
	return ok ? buf : NULL;
}

static enum result await_cmd(struct model *m, const char *cmd, size_t len)
{
	char buf[TAG_MAX + 1];
	size_t n = 0;
	const char *tag = tag_of(cmd, len, buf, &n);
	m->name = "";
	return await_result(m, tag, n, false);
}

static void expect_bye(struct model *m)
{
	struct resp r;
	if (m->over || !take_response(m, &r)) {
		EXPECT(m->over || m->cut);
		return;
	}
	EXPECT(r.kind == R_UNTAGGED && starts(r.text, r.p + r.n, "BYE "));
	m->over = true;
}

/* ---- credentials ---- */

static int user_of(const char *s, size_t n)
{
	bool a = false, b = false;
	for (size_t i = 0; i < n; i++) {
		a |= n - i >= 5 && strncasecmp(s + i, "alice", 5) == 0;
		b |= n - i >= 3 && strncasecmp(s + i, "bob", 3) == 0;
	}
	return a == b ? -1 : a ? 0 : 1;
}

/* LOGIN's arguments after the command name: the password must be "pw". */
static void check_login(struct model *m, struct imap_parser *p)
{
	struct imap_string user, pass;
	int rc = imap_parse_sp(p);
	if (rc > 0)
		rc = imap_parse_astring(p, &user);
	if (rc > 0)
		rc = imap_parse_sp(p);
	if (rc > 0)
		rc = imap_parse_astring(p, &pass);
	EXPECT(rc > 0);
	EXPECT(pass.len == 2 && memcmp(pass.data, "pw", 2) == 0);
	m->user = user_of(user.data, user.len);
}

/* A SASL PLAIN response (base64 of authzid NUL authcid NUL password)
 * that logged in: the password must be "pw" (when the encoding is one
 * this check reads). */
static void check_plain(struct model *m, const char *b64, size_t len)
{
	m->user = -1;
	unsigned char *bin = malloc(len + 1);
	size_t n = 0;
	if (sodium_base642bin(bin, len + 1, b64, len, NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0) {
		unsigned char *z1 = memchr(bin, 0, n), *z2 = NULL;
		if (z1 != NULL)
			z2 = memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - bin));
		EXPECT(z2 != NULL);
		size_t plen = n - (size_t)(z2 + 1 - bin);
		EXPECT(plen == 2 && memcmp(z2 + 1, "pw", 2) == 0);
		m->user = user_of((char *)z1 + 1, (size_t)(z2 - z1 - 1));
	}
	free(bin);
}

/* The response that ended an exchange with OK: PLAIN's, or LOGIN's
 * password (SCRAM cannot succeed without the stored keys); the password
 * must be "pw". */
static void check_sasl_ok(struct model *m, const char *b64, size_t len)
{
	unsigned char *bin = malloc(len + 1);
	size_t n = 0;
	EXPECT(sodium_base642bin(bin, len + 1, b64, len, NULL, &n, NULL,
				 sodium_base64_VARIANT_ORIGINAL) == 0);
	bool plain = memchr(bin, 0, n) != NULL;
	if (!plain)
		EXPECT(n == 2 && memcmp(bin, "pw", 2) == 0);
	free(bin);
	if (plain)
		check_plain(m, b64, len);
	else
		m->user = -1;
}

/* ---- commands ---- */

enum { ST_NOTAUTH = 1, ST_AUTH = 2, ST_SELECTED = 4 };

/* RFC 9051's commands and the states they are valid in. */
static const struct {
	const char *name;
	unsigned states;
	bool uid_ok;
} commands[] = {
	{"CAPABILITY", 7, false}, {"NOOP", 7, false},
	{"LOGOUT", 7, false},	  {"ID", 7, false},
	{"STARTTLS", 1, false},	  {"LOGIN", 1, false},
	{"AUTHENTICATE", 1, false}, {"ENABLE", 6, false},
	{"NAMESPACE", 6, false},  {"SELECT", 6, false},
	{"EXAMINE", 6, false},	  {"CREATE", 6, false},
	{"DELETE", 6, false},	  {"RENAME", 6, false},
	{"SUBSCRIBE", 6, false},  {"UNSUBSCRIBE", 6, false},
	{"LIST", 6, false},	  {"LSUB", 6, false},
	{"STATUS", 6, false},	  {"APPEND", 6, false},
	{"IDLE", 6, false},	  {"CHECK", 4, false},
	{"CLOSE", 4, false},	  {"UNSELECT", 4, false},
	{"EXPUNGE", 4, true},	  {"SEARCH", 4, true},
	{"FETCH", 4, true},	  {"STORE", 4, true},
	{"COPY", 4, true},	  {"MOVE", 4, true},
	{"COMPRESS", 6, false},
};

static int command_find(const struct imap_string *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (imap_string_eq(name, commands[i].name))
			return (int)i;
	return -1;
}

static unsigned state_of(const struct model *m)
{
	return m->selected ? ST_SELECTED : m->auth ? ST_AUTH : ST_NOTAUTH;
}

/* What the client reads next. */
enum in_state { IN_CMD, IN_IDLE, IN_SASL, IN_MSGEND };

struct reader {
	const char *p, *end;
	enum in_state st;
	struct str cmd;		/* the command so far, literals inline */
	uint64_t literal_left;
	bool message;		/* the literal is APPEND's message */
	char tag[TAG_MAX + 1];	/* of the IDLE or AUTHENTICATE open */
	size_t taglen;
};

/* SELECT or EXAMINE starts: whether its mailbox is INBOX. */
static void select_begin(struct model *m, struct imap_parser *p)
{
	struct imap_string mbox;
	m->selecting = true;
	m->got_exists = false;
	m->new_uidvalidity = 0;
	m->new_inbox = imap_parse_sp(p) > 0 &&
		       imap_parse_mailbox(p, &mbox) > 0 &&
		       strcmp(mbox.data, "INBOX") == 0;
}

static void select_end(struct model *m, enum result res)
{
	m->selecting = false;
	if (res == RES_OK) {
		/* EXISTS and UIDVALIDITY are required (RFC 9051 6.3.2). */
		EXPECT(m->got_exists && m->new_uidvalidity != 0);
		m->selected = true;
		m->inbox = m->new_inbox;
		m->uidvalidity = m->new_uidvalidity;
	} else if (res == RES_NO || m->got_exists) {
		/* A SELECT that fails leaves no mailbox selected. */
		unselect(m);
	}
}

/* A complete command: its result, checked against the state. */
static void dispatch(struct model *m, struct reader *rd)
{
	struct imap_parser *p = imap_parser_new(rd->cmd.data, rd->cmd.len, 0);
	struct imap_string tag = {0}, name = {0};
	int rc = imap_parse_tag(p, &tag);
	bool tagged = tag.data != NULL && tag.len <= TAG_MAX;
	if (rc > 0 && !tagged)
		rc = -1;
	if (rc > 0)
		rc = imap_parse_command_name(p, &name);
	bool uid = false;
	if (rc > 0 && imap_string_eq(&name, "UID")) {
		uid = true;
		rc = imap_parse_sp(p);
		if (rc > 0)
			rc = imap_parse_command_name(p, &name);
	}
	int c = rc > 0 ? command_find(&name) : -1;
	const char *cname = c >= 0 ? commands[c].name : "";
	bool sel = c >= 0 && m->auth && (strcmp(cname, "SELECT") == 0 ||
					  strcmp(cname, "EXAMINE") == 0);
	bool cont_ok = strcmp(cname, "IDLE") == 0 ||
		       strcmp(cname, "AUTHENTICATE") == 0;
	m->name = cname;
	m->uid = uid;
	if (sel)
		select_begin(m, p);
	enum result res = await_result(m, tagged ? tag.data : NULL, tag.len,
				       cont_ok);
	if (sel)
		select_end(m, res);
	if (res == RES_OK) {
		EXPECT(c >= 0 && (!uid || commands[c].uid_ok));
		EXPECT(commands[c].states & state_of(m));
	}
	if (res == RES_CONT) {
		bool idle = strcmp(cname, "IDLE") == 0;
		EXPECT(idle ? m->auth : !m->auth);
		rd->st = idle ? IN_IDLE : IN_SASL;
		memcpy(rd->tag, tag.data, tag.len);
		rd->taglen = tag.len;
	} else if (res == RES_OK && strcmp(cname, "LOGIN") == 0) {
		check_login(m, p);
		m->auth = true;
	} else if (res == RES_OK && strcmp(cname, "AUTHENTICATE") == 0) {
		/* With an initial response: "AUTHENTICATE PLAIN b64". */
		struct imap_string mech, ir;
		EXPECT(imap_parse_sp(p) > 0 && imap_parse_atom(p, &mech) > 0 &&
		       imap_parse_sp(p) > 0 && imap_parse_atom(p, &ir) > 0);
		check_plain(m, ir.data, ir.len);
		m->auth = true;
	} else if (res == RES_OK && (strcmp(cname, "CLOSE") == 0 ||
				     strcmp(cname, "UNSELECT") == 0)) {
		unselect(m);
	} else if (res == RES_OK && strcmp(cname, "LOGOUT") == 0) {
		EXPECT(m->over); /* BYE first */
		m->logout = true;
	} else if (res == RES_OK && strcmp(cname, "COMPRESS") == 0) {
		/* The OK is the last clear text both ways: the client's
		 * bytes after it are taken as DEFLATE (and, not being it,
		 * mostly end the session), the server's are DEFLATE. */
		m->compressed = true;
	}
	imap_parser_free(&p);
}

/* The line that ends IDLE, or AUTHENTICATE's response. */
static void open_line(struct model *m, struct reader *rd, const char *line,
		      size_t len)
{
	bool idle = rd->st == IN_IDLE;
	rd->st = IN_CMD;
	m->name = idle ? "IDLE" : "AUTHENTICATE";
	m->uid = false;
	/* LOGIN and SCRAM answer a response with another challenge. */
	enum result res = await_result(m, rd->tag, rd->taglen, !idle);
	if (res == RES_NONE)
		return;
	if (idle) {
		bool done = len == 4 && strncasecmp(line, "DONE", 4) == 0;
		EXPECT(done ? res != RES_BAD : res == RES_BAD);
		return;
	}
	bool cancel = len == 1 && line[0] == '*';
	if (cancel)
		EXPECT(res == RES_BAD);
	if (res == RES_CONT) {
		EXPECT(!cancel && !m->auth);
		rd->st = IN_SASL;
		return;
	}
	if (res == RES_OK) {
		EXPECT(!m->auth);
		check_sasl_ok(m, line, len);
		m->auth = true;
	}
}

/* This APPEND's next literal is its message: the grammar of the command
 * up to its last literal (RFC 9051 6.3.12).  Before login it is only a
 * literal, with a command's limit. */
static bool is_message(const char *cmd, size_t len)
{
	struct imap_parser *p = imap_parser_new(cmd, len, 0);
	struct imap_string tag, name, mbox;
	struct imap_flags flags = {0};
	int64_t date;
	int zone;
	uint64_t n;
	bool nonsync, binary;
	int rc = imap_parse_tag(p, &tag);
	if (rc > 0)
		rc = imap_parse_command_name(p, &name);
	if (rc > 0 && !imap_string_eq(&name, "APPEND"))
		rc = -1;
	if (rc > 0)
		rc = imap_parse_sp(p);
	if (rc > 0)
		rc = imap_parse_mailbox(p, &mbox);
	if (rc > 0)
		rc = imap_parse_sp(p);
	if (rc > 0 && imap_parser_peek(p) == '(') {
		rc = imap_parse_flag_list(p, &flags);
		if (rc > 0)
			rc = imap_parse_sp(p);
	}
	if (rc > 0 && imap_parser_peek(p) == '"') {
		rc = imap_parse_date_time(p, &date, &zone);
		if (rc > 0)
			rc = imap_parse_sp(p);
	}
	if (rc > 0)
		rc = imap_parse_final_literal(p, &n, &nonsync, &binary);
	imap_parser_free(&p);
	return rc > 0;
}

/* A literal refused: NO, or for one already on its way BAD and BYE. */
static void literal_refused(struct model *m, struct reader *rd,
			    bool nonsync)
{
	enum result res = await_cmd(m, rd->cmd.data, rd->cmd.len);
	str_clear(&rd->cmd);
	if (res == RES_NONE)
		return;
	EXPECT(res == (nonsync ? RES_BAD : RES_NO));
	if (nonsync)
		expect_bye(m);
}

/* The "+" for a literal; the BYE of a session that ended before the
 * literal's line was read (after too many errors) may come instead. */
static void expect_cont(struct model *m)
{
	struct resp r;
	while (!m->over) {
		if (!take_response(m, &r)) {
			EXPECT(m->cut); /* "+" is missing */
			return;
		}
		if (r.kind == R_CONT)
			return;
		EXPECT(r.kind == R_UNTAGGED);
		untagged(m, &r);
	}
}

static void command_line(struct model *m, struct reader *rd,
			 const char *line, size_t len)
{
	if (rd->cmd.len + len > COMMAND_MAX) {
		literal_refused(m, rd, false);
		return;
	}
	str_append(&rd->cmd, line, len);
	uint64_t n;
	bool nonsync, binary;
	int rc = imap_parse_literal_end(line, len, &n, &nonsync, &binary);
	if (rc < 0) {
		literal_refused(m, rd, true);
		return;
	}
	if (rc == 0) {
		dispatch(m, rd);
		str_clear(&rd->cmd);
		return;
	}
	bool message = m->auth && is_message(rd->cmd.data, rd->cmd.len);
	uint64_t limit = message ? MESSAGE_MAX : COMMAND_MAX - rd->cmd.len;
	if (n > limit || (binary && !message)) {
		literal_refused(m, rd, nonsync);
		return;
	}
	if (!message)
		str_append(&rd->cmd, "\r\n", 2);
	if (!nonsync)
		expect_cont(m);
	rd->literal_left = n;
	rd->message = message;
	if (message && n == 0)
		rd->st = IN_MSGEND;
}

static void on_line(struct model *m, struct reader *rd, const char *line,
		    size_t len)
{
	switch (rd->st) {
	case IN_IDLE:
	case IN_SASL:
		open_line(m, rd, line, len);
		return;
	case IN_MSGEND:
		/* APPEND's message is followed by the end of the line. */
		rd->st = IN_CMD;
		if (len == 0) {
			dispatch(m, rd);
		} else {
			enum result res = await_cmd(m, rd->cmd.data,
						    rd->cmd.len);
			EXPECT(res == RES_BAD || res == RES_NONE);
		}
		str_clear(&rd->cmd);
		return;
	case IN_CMD:
		command_line(m, rd, line, len);
		return;
	}
}

/* The next line: 1, -1 when it is too long (then skipped), 0 when the
 * input ends first. */
static int next_line(struct reader *rd, const char **line, size_t *len)
{
	size_t avail = (size_t)(rd->end - rd->p);
	const char *crlf = memmem(rd->p, avail, "\r\n", 2);
	if (crlf == NULL) {
		/* A CR at the end may begin the CRLF of a line of exactly
		 * the limit. */
		size_t have = avail - (avail > 0 && rd->end[-1] == '\r');
		if (have <= LINE_MAX_IMAP)
			return 0;
		rd->p = rd->end;
		return -1;
	}
	*line = rd->p;
	*len = (size_t)(crlf - rd->p);
	rd->p = crlf + 2;
	return *len > LINE_MAX_IMAP ? -1 : 1;
}

/* Literal bytes: false when the input ends first. */
static bool literal_bytes(struct reader *rd)
{
	if ((uint64_t)(rd->end - rd->p) < rd->literal_left)
		return false;
	if (!rd->message)
		str_append(&rd->cmd, rd->p, (size_t)rd->literal_left);
	rd->p += rd->literal_left;
	rd->literal_left = 0;
	if (rd->message)
		rd->st = IN_MSGEND;
	rd->message = false;
	return true;
}

static void check_session(struct client *c, const char *in, size_t size)
{
	struct model m = {0};
	struct reader rd = {0};
	struct resp r;
	m.p = c->out;
	m.end = c->out + c->len;
	m.cut_ok = c->reset;
	m.user = -1;
	m.name = "";
	rd.p = in;
	rd.end = in + size;

	if (take_response(&m, &r))
		EXPECT(r.kind == R_UNTAGGED && starts(r.text, m.end, "OK "));
	else
		EXPECT(m.cut);
	while (!m.over && !m.cut && !m.logout && !m.compressed) {
		if (rd.literal_left > 0 || rd.message) {
			if (!literal_bytes(&rd))
				break;
			continue;
		}
		const char *line;
		size_t len;
		int rc = next_line(&rd, &line, &len);
		if (rc == 0)
			break;
		if (rc > 0) {
			on_line(&m, &rd, line, len);
			continue;
		}
		/* Too long: the line ends the command it belongs to with
		 * BAD: IDLE's or AUTHENTICATE's, or one whose start (and
		 * tag) came before; a first line has no tag to answer. */
		enum result res;
		if (rd.st == IN_IDLE || rd.st == IN_SASL) {
			m.name = rd.st == IN_IDLE ? "IDLE" : "AUTHENTICATE";
			res = await_result(&m, rd.tag, rd.taglen, false);
		} else if (rd.cmd.len > 0) {
			res = await_cmd(&m, rd.cmd.data, rd.cmd.len);
		} else {
			res = await_result(&m, NULL, 0, false);
		}
		EXPECT(res == RES_BAD || res == RES_NONE);
		str_clear(&rd.cmd);
		rd.st = IN_CMD;
	}
	/* After COMPRESS the output is no longer lines to check. */
	if (m.compressed) {
		str_free(&rd.cmd);
		free(m.uids);
		return;
	}
	/* What is left is news during an IDLE, or the session's last
	 * words; nothing after a BYE or LOGOUT. */
	m.name = rd.st == IN_IDLE ? "IDLE" : "";
	m.uid = false;
	while (take_response(&m, &r)) {
		EXPECT(r.kind == R_UNTAGGED);
		EXPECT(rd.st == IN_IDLE || starts(r.text, r.p + r.n, "BAD ") ||
		       starts(r.text, r.p + r.n, "BYE "));
		untagged(&m, &r);
	}
	/* The server closes by itself after a BYE, and only then. */
	if (!c->reset)
		EXPECT(m.over == !c->shut);
	str_free(&rd.cmd);
	free(m.uids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sess.cfg == NULL)
		setup();
	size_t n;
	char *in = expand(data, size, &n);
	size_t items = text_items(in, n), copies = count_ci(in, n, "COPY");
	if (items > TEXT_ITEMS_MAX || copies > COPIES_MAX) {
		free(in);
		return 0;
	}

	/* Each command may answer with every message once per item, each
	 * with its flags; COPY doubles a mailbox at most; APPEND adds one
	 * message (the quota bounds their bytes). */
	uint64_t lines = 1 + count_ci(in, n, "\r\n");
	uint64_t nmax = (uint64_t)(NSEED + 1 + count_ci(in, n, "APPEND"))
			<< copies;
	uint64_t max = 64 * 1024 + 64 * (uint64_t)n +
		       (items + 1) * (2 * (uint64_t)QUOTA + nmax * 256) +
		       lines * nmax * (256 + n);
	struct client c = {0};
	c.deadline = now_ns() + DEADLINE_NS;
	c.max = max < SIZE_MAX ? (size_t)max : SIZE_MAX;
	cur = &c;
	run_session(&c, (const uint8_t *)in, n);
	/* FUZZ_SESSION_DUMP=1 shows what the server said, e.g. when
	 * running a single reproducer. */
	if (getenv("FUZZ_SESSION_DUMP") != NULL)
		dump_output(&c);
	/* Every byte held for an APPEND was given back. */
	EXPECT(budget_used(g.budget) == 0);
	check_session(&c, in, n);
	restore_accounts(true);
	cur = NULL;
	free(c.out);
	free(in);
	return 0;
}
