/* What the files of the IMAP session share.  Private to src/imap/.
 *
 * A command's life: the loop assembles it (imap_session.c), looks it up
 * in the command table and calls its `start` on the loop, which parses the
 * arguments and either answers at once or hands `run` to a worker
 * (imap_job).  `run` works against the store and writes untagged
 * responses into s->out and the tagged result with imap_tagged(); the
 * loop then writes both.  A command whose answer is large (FETCH) sets
 * s->more, and its run is called again once the client has read what was
 * written. */
#ifndef POSTHORN_IMAP_PRIVATE_H
#define POSTHORN_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/auth_sasl.h"
#include "core/session.h"
#include "core/str.h"
#include "imap/imap_parse.h"
#include "imap/imap_session.h"
#include "mime/addr.h"
#include "store/store.h"

enum imap_state {
	IMAP_S_NOTAUTH,
	IMAP_S_AUTH,
	IMAP_S_SELECTED,
	IMAP_S_LOGOUT,
};

/* ENABLE'd extensions (RFC 5161). */
enum {
	IMAP_EN_UTF8 = 1 << 0,		/* UTF8=ACCEPT */
	IMAP_EN_CONDSTORE = 1 << 1,
	IMAP_EN_QRESYNC = 1 << 2,
	IMAP_EN_REV2 = 1 << 3,		/* IMAP4rev2 */
};

/* Lines and literals of commands other than APPEND's message. */
#define IMAP_LINE_MAX (64 * 1024)
#define IMAP_COMMAND_MAX (256 * 1024)
/* An APPEND message held in memory up to this; past it, spooled. */
#define IMAP_APPEND_MEMORY (128 * 1024)
/* Output a FETCH produces per job before the client must read it. */
#define IMAP_OUTPUT_PIECE (256 * 1024)

struct auth_exchange;
struct imap_session;
struct imap_notify;

/* The selected mailbox as this session sees it: its messages' UIDs in
 * sequence order, and how far it has caught up with the store. */
struct imap_view {
	int64_t id;
	char *name;
	uint32_t uidvalidity;
	uint32_t uidnext;	/* first UID not yet announced */
	uint64_t modseq;	/* changes up to this one are announced */
	bool readonly;
	uint32_t *uids;
	uint32_t n, cap;
	/* imap_flags.c: \Recent here is [recent_lo, recent_hi); FLAGS named
	 * this many of the mailbox's keywords. */
	uint32_t recent_lo, recent_hi;
	uint32_t keywords_told;
};

struct imap_command {
	const char *name;
	/* Parse on the loop; answer there or start a job. */
	void (*start)(struct imap_session *s, struct imap_parser *p);
	unsigned states;	/* 1 << IMAP_S_* */
	bool uid_ok;		/* may follow "UID" */
};

struct imap_append_data;

struct imap_session {
	struct session *sess;
	const struct imap_env *env;
	enum imap_state state;
	unsigned enabled;	/* IMAP_EN_* */
	unsigned errors;

	/* The command being read: its lines and literals as one buffer. */
	struct str line;
	struct str cmd;
	uint64_t literal_left;	/* bytes of a literal still to come */
	struct imap_append_data *append; /* APPEND message arriving */
	bool idling;		/* between IDLE and DONE */
	bool sasl_wait;		/* AUTHENTICATE: a response line next */
	bool login_paused;	/* AUTHENTICATE: its answer waits on a delay */

	/* The command running. */
	const struct imap_command *command;
	char tag[64];
	bool uid;		/* "UID FETCH" etc. */
	struct imap_parser *parser;
	void *args;		/* the command's parsed arguments */
	void (*run)(struct imap_session *s);
	void (*finish)(struct imap_session *s);	/* loop, after run */
	bool more;		/* run again after the output drains */
	struct str out;		/* untagged responses from run */
	struct str tagged;	/* "OK ..." from run, without the tag */

	/* Authenticated user. */
	int64_t user_id;
	char *user;		/* as given, then as stored; NULL: none */
	struct auth_secret password;
	int login_result;
	struct auth_exchange *sasl;	/* AUTHENTICATE under way */

	/* SEARCHRES (RFC 5182): the UIDs SEARCH RETURN (SAVE) kept, for $. */
	uint32_t *saved;
	size_t nsaved;

	/* Selected mailbox (state SELECTED), and the watch on its account
	 * that wakes an IDLE. */
	struct imap_view *view;
	struct imap_notify *notify;
	bool changed;		/* the store said so since the last sync */
	bool sync_wanted;	/* taken from changed for the job running */
	bool sync_deferred;	/* the job left expunges for a later command */
	bool mailbox_gone;	/* the selected mailbox was deleted */
};

#define IMAP_ST(x) (1u << IMAP_S_##x)

/* ---- imap_session.c ---- */
/* Write a response line now (on the loop), CRLF added. */
void imap_write(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Answer the command: "tag fmt". */
void imap_reply(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Answer BAD/NO for a parse error, counting it. */
void imap_reply_parse_error(struct imap_session *s, struct imap_parser *p);
/* Count a client error; true if the session is now closing. */
bool imap_count_error(struct imap_session *s);
/* Run s->run on a worker, then write s->out and "tag " s->tagged. */
void imap_job(struct imap_session *s, void (*run)(struct imap_session *s));
/* The same for a job whose commit waits for a disk sync (APPEND, COPY,
 * MOVE, mailbox changes): it runs on env->sync_workers. */
void imap_job_sync(struct imap_session *s,
		   void (*run)(struct imap_session *s));
/* From run: the tagged result (without the tag). */
void imap_tagged(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The user name of the login under way or done, "" if none. */
const char *imap_user(const struct imap_session *s);
/* From run: the account, opened for this job; NULL after setting a NO. */
struct store_account *imap_account(struct imap_session *s);
/* A store failure as the tagged NO with a response code. */
void imap_tagged_fail(struct imap_session *s, int fail, const char *what,
		      const char *err);
void imap_set_state(struct imap_session *s, enum imap_state state);
/* The command is over: free what it held (on the loop). */
void imap_command_end(struct imap_session *s);
/* Whether the running command is `name` (as in the command table). */
bool imap_command_is(const struct imap_session *s, const char *name);
/* A job's run that only catches the view up (NOOP, CHECK, end of IDLE);
 * the tagged OK is set before the job starts. */
void imap_run_sync(struct imap_session *s);
/* IMAP_PARSE_UTF8 once UTF8=ACCEPT or IMAP4rev2 is enabled. */
unsigned imap_parse_flags(const struct imap_session *s);
/* The session's timeout: IDLE's keep-alive period, or the idle one. */
void imap_idle_timeout(struct imap_session *s, bool idling);
/* The store changed while the session IDLEs: catch up now. */
void imap_idle_wake(struct imap_session *s);

/* ---- imap_literal.c: receiving an APPEND's message ---- */
struct imap_append;
/* tag SP "APPEND" and the arguments up to the message's literal. */
int imap_append_parse_head(struct imap_parser *p, struct imap_append *a_r);
/* The message received (s->append): why spooling it failed (NULL if it
 * did not), its size, and its bytes in one buffer (*map to munmap when
 * not NULL; NULL if the spool file cannot be mapped). */
const char *imap_append_error(const struct imap_session *s);
uint64_t imap_append_size(const struct imap_session *s);
const char *imap_append_bytes(const struct imap_session *s, void **map,
			      size_t *len);
/* Whether cmd[0..len), ending in a literal announcement, is an APPEND
 * whose next literal is the message: 0 no, 1 yes, 2 yes in the UTF8
 * (~{n}) form of RFC 6855. */
int imap_append_is_message(const char *cmd, size_t len, unsigned flags);
/* Start receiving size bytes (s->append). */
void imap_append_new(struct imap_session *s, uint64_t size, bool binary,
		     bool utf8);
/* Whether the line after the message ends the command as it must. */
bool imap_append_end_ok(const struct imap_session *s, const char *line,
			size_t len);
/* Take what arrived (may start a job to spool it); true when the whole
 * message is in. */
bool imap_append_read(struct imap_session *s);
void imap_append_free(struct imap_session *s);

/* ---- imap_view.c ---- */
/* Load the mailbox's UIDs (worker), and the number of the first unseen
 * message (0 if none) for SELECT's UNSEEN.  Returns 1 or a store_fail. */
int imap_view_load(struct store_account *acct, const struct store_mailbox *mb,
		   bool readonly, const char *name, struct imap_view **view_r,
		   uint32_t *unseen_r, const char **err_r);
void imap_view_free(struct imap_view **view);
/* Catch up with the store (worker): new messages as EXISTS, flag changes
 * as FETCH, and, when allowed, expunges as EXPUNGE (or VANISHED with
 * QRESYNC), into s->out. */
int imap_view_sync(struct imap_session *s, struct store_account *acct,
		   bool expunges);
/* QRESYNC (RFC 7162 3.2.5): what changed since modseq, as FETCH for
 * messages and VANISHED (EARLIER) for expunged UIDs (within `known`,
 * when given). */
int imap_view_resync(struct imap_session *s, struct store_account *acct,
		     uint64_t modseq, const struct imap_seqset *known);
/* VANISHED (EARLIER) for the UIDs expunged after modseq (within known,
 * when given), and with `changed` the FETCH of every message changed
 * after it. */
int imap_view_vanished_since(struct imap_session *s,
			     struct store_account *acct, uint64_t modseq,
			     const struct imap_seqset *known, bool changed);
/* A UID set in its shortest form: 1:3,7. */
void imap_write_uid_set(struct str *out, const uint32_t *uids, size_t n);
/* The same, only when the store said something changed before the
 * command started (imap_take_changed): FETCH, STORE and SEARCH, which
 * need not look for news the store did not announce. */
int imap_view_sync_if_changed(struct imap_session *s,
			      struct store_account *acct, bool expunges);
/* On the loop, as a command starts: whether to look for news. */
void imap_take_changed(struct imap_session *s);
/* On the loop, for a CONDSTORE enabling command other than SELECT and
 * EXAMINE (FETCH or SEARCH with MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE,
 * STATUS HIGHESTMODSEQ): enable CONDSTORE, and the first time, with a
 * mailbox selected, answer its HIGHESTMODSEQ in an untagged OK. */
void imap_condstore_enable(struct imap_session *s);
/* The sequence number of uid, 0 if not in the view. */
uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid);
/* The index in the view of the first UID >= uid (v->n if none). */
uint32_t imap_view_lower_bound(const struct imap_view *v, uint32_t uid);
/* Take an expunge this session made itself: drop the UIDs and answer
 * EXPUNGE (or VANISHED) for them. */
void imap_view_expunged(struct imap_session *s, const uint32_t *uids,
			size_t n);
/* The parser's IMAP_FLAG_* bits as the store's STORE_FLAG_*. */
unsigned imap_store_flags(unsigned imap);
/* Whether a set of sequence numbers names only messages that exist:
 * RFC 3501 9 wants BAD for a number past EXISTS, "*" in an empty
 * mailbox included. */
bool imap_view_seqset_valid(const struct imap_session *s,
			    const struct imap_seqset *set);
/* The same, answering BAD when not; true when the command may go on. */
bool imap_check_seqset(struct imap_session *s, const struct imap_seqset *set);
/* Whether v is in the set's ranges ("$" left out), "*" standing for
 * star. */
bool imap_seqset_has(const struct imap_seqset *set, uint32_t v, uint32_t star);
/* A message of the selected mailbox, whole, into out (worker).  Returns
 * 1, 0 if it is gone, or a store_fail. */
int imap_read_message(const struct imap_session *s,
		      struct store_account *acct, uint32_t uid, uint64_t size,
		      struct str *out);
/* Whether uid is in the saved search result (SEARCHRES "$"). */
bool imap_saved_has(const struct imap_session *s, uint32_t uid);
/* A FETCH response's FLAGS item for flags and keywords (and \Recent). */
void imap_write_flags(struct str *out, unsigned flags, const char *keywords);
void imap_write_flags_recent(struct str *out, unsigned flags,
			     const char *keywords, bool recent);

/* ---- imap_flags.c: the mailbox's keywords in FLAGS, and \Recent ---- */
/* SELECT/EXAMINE (worker): take the recent messages (a read-write
 * SELECT claims them), then write FLAGS and PERMANENTFLAGS with the
 * mailbox's keywords.  Returns 1 or a store_fail. */
int imap_flags_select(struct imap_session *s, struct store_account *acct);
/* New messages came into the view at a sync: take those recent here and
 * write "* n RECENT" (not under IMAP4rev2). */
void imap_flags_sync_recent(struct imap_session *s,
			    struct store_account *acct);
/* Output in s->out from mark on named keywords: when the mailbox now has
 * keywords the client was not told of, FLAGS and PERMANENTFLAGS go in at
 * mark, before that output.  mark must be at a response's start.
 * Returns 1 or a store_fail. */
int imap_flags_keywords(struct imap_session *s, struct store_account *acct,
			size_t mark);
/* Whether uid is \Recent in this session (never under IMAP4rev2), and
 * how many of the view's messages are. */
bool imap_flags_recent(const struct imap_session *s, uint32_t uid);
uint32_t imap_flags_recent_count(const struct imap_session *s);
/* The tagged NO [LIMIT] for a keyword the mailbox cannot take
 * (STORE_FAIL_LIMIT), logged. */
void imap_tagged_limit(struct imap_session *s, const char *what);
/* A message's FLAGS item, \Recent included when it is recent here. */
void imap_flags_write(const struct imap_session *s, struct str *out,
		      uint32_t uid, unsigned flags, const char *keywords);
/* Resolve a sequence set (UIDs when uid; "$" is the saved search result)
 * to the UIDs in the view, sorted ascending; *uids_r malloc'ed. */
void imap_view_resolve(const struct imap_session *s,
		       const struct imap_seqset *set,
		       bool uid, uint32_t **uids_r, size_t *n_r);

/* ---- imap_notify.c ---- */
/* Wake the session on its loop when the account changes (an IDLE is
 * answered at once; otherwise the next command catches up). */
struct imap_notify *imap_notify_new(struct imap_session *s);
/* From the session's free: safe while a wake is posted. */
void imap_notify_free(struct imap_notify **n);

/* ---- command handlers: imap_cmd_*.c ---- */
void imap_cmd_capability(struct imap_session *s, struct imap_parser *p);
void imap_cmd_noop(struct imap_session *s, struct imap_parser *p);
void imap_cmd_logout(struct imap_session *s, struct imap_parser *p);
void imap_cmd_id(struct imap_session *s, struct imap_parser *p);
void imap_cmd_enable(struct imap_session *s, struct imap_parser *p);
void imap_cmd_namespace(struct imap_session *s, struct imap_parser *p);
void imap_cmd_login(struct imap_session *s, struct imap_parser *p);
void imap_cmd_authenticate(struct imap_session *s, struct imap_parser *p);
void imap_cmd_sasl_response(struct imap_session *s);
void imap_cmd_starttls(struct imap_session *s, struct imap_parser *p);

void imap_cmd_select(struct imap_session *s, struct imap_parser *p);
void imap_cmd_create(struct imap_session *s, struct imap_parser *p);
void imap_cmd_delete(struct imap_session *s, struct imap_parser *p);
void imap_cmd_rename(struct imap_session *s, struct imap_parser *p);
void imap_cmd_subscribe(struct imap_session *s, struct imap_parser *p);
void imap_cmd_list(struct imap_session *s, struct imap_parser *p);
void imap_cmd_status(struct imap_session *s, struct imap_parser *p);
void imap_cmd_close(struct imap_session *s, struct imap_parser *p);
void imap_cmd_expunge(struct imap_session *s, struct imap_parser *p);
void imap_cmd_idle(struct imap_session *s, struct imap_parser *p);
void imap_cmd_idle_done(struct imap_session *s);

void imap_cmd_fetch(struct imap_session *s, struct imap_parser *p);
void imap_cmd_store(struct imap_session *s, struct imap_parser *p);
void imap_cmd_copy(struct imap_session *s, struct imap_parser *p);
void imap_cmd_search(struct imap_session *s, struct imap_parser *p);
void imap_cmd_append(struct imap_session *s, struct imap_parser *p);
void imap_cmd_quota(struct imap_session *s, struct imap_parser *p);
void imap_cmd_compress(struct imap_session *s, struct imap_parser *p);

/* The capabilities for the session's state, for CAPABILITY and the
 * greeting's and login's response codes. */
void imap_capabilities(struct imap_session *s, struct str *out);
/* Whether LOGIN and AUTHENTICATE are allowed on this connection. */
bool imap_login_allowed(struct imap_session *s);

#endif
