/* APPEND (RFC 9051 6.3.12, RFC 4315 APPENDUID): the message literal is
 * received by the loop as it arrives, into memory up to
 * IMAP_APPEND_MEMORY while the server-wide budget allows, else into a
 * nameless spool file on a worker, a piece at a time; so an APPEND of a
 * large message holds one piece in memory, never the message. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/budget.h"
#include "core/config.h"
#include "core/spool.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "deliver/deliver.h"
#include "imap/imap_date.h"
#include "imap/imap_args.h"
#include "imap/imap_private.h"
#include "mime/mime_meta.h"

/* Bytes taken from the socket before each spool write. */
#define SPOOL_PIECE (64 * 1024)

struct imap_append_data {
	uint64_t size;
	bool binary;
	bool utf8;		/* UTF8 (~{n}): ")" ends the command */
	size_t held;		/* bytes taken from the budget */
	struct str data;	/* in memory, or a piece on its way to spool */
	struct spool *spool;
	const char *err;	/* the spool failed: the APPEND will say NO */
	int spool_errno;
};

/* tag SP "APPEND" then the command's arguments up to the message. */
static int parse_head(struct imap_parser *p, struct imap_append *a_r)
{
	struct imap_string tag, name;
	int rc = imap_parse_tag(p, &tag);
	if (rc > 0)
		rc = imap_parse_command_name(p, &name);
	if (rc > 0 && !imap_string_eq(&name, "APPEND"))
		rc = imap_parser_fail(p, "Not APPEND");
	return rc > 0 ? imap_args_append(p, a_r) : rc;
}

int imap_append_is_message(const char *cmd, size_t len, unsigned flags)
{
	struct imap_parser *p = imap_parser_new(cmd, len, flags);
	struct imap_append a;
	int rc = parse_head(p, &a);
	imap_parser_free(&p);
	return rc <= 0 ? 0 : a.utf8 ? 2 : 1;
}

void imap_append_new(struct imap_session *s, uint64_t size, bool binary,
		     bool utf8)
{
	struct imap_append_data *a = xcalloc(1, sizeof(*a));
	a->size = size;
	a->binary = binary;
	a->utf8 = utf8;
	if (size <= IMAP_APPEND_MEMORY && budget_take(s->env->budget, size))
		a->held = size;
	s->append = a;
}

bool imap_append_end_ok(const struct imap_session *s, const char *line,
			size_t len)
{
	return s->append->utf8 ? len == 1 && line[0] == ')' : len == 0;
}

void imap_append_free(struct imap_session *s)
{
	struct imap_append_data *a = s->append;
	if (a == NULL)
		return;
	budget_give(s->env->budget, a->held);
	spool_free(&a->spool);
	str_free(&a->data);
	free(a);
	s->append = NULL;
}

static void spool_run(void *arg)
{
	struct imap_session *s = arg;
	struct imap_append_data *a = s->append;
	if (a->err == NULL && a->spool == NULL &&
	    spool_new(s->env->spool_dir, &a->spool, &a->err) < 0)
		a->spool_errno = errno;
	if (a->err == NULL &&
	    spool_write(a->spool, a->data.data, a->data.len, &a->err) < 0)
		a->spool_errno = spool_errno(a->spool);
	str_clear(&a->data);
}

static void spool_done(void *arg)
{
	(void)arg;
}

bool imap_append_read(struct imap_session *s)
{
	struct imap_append_data *a = s->append;
	if (a->held > 0) {
		s->literal_left -= session_read_bytes(
			s->sess, (size_t)s->literal_left, &a->data);
		return s->literal_left == 0;
	}
	size_t room = SPOOL_PIECE - a->data.len;
	size_t want = s->literal_left < room ? (size_t)s->literal_left : room;
	s->literal_left -= session_read_bytes(s->sess, want, &a->data);
	if (a->data.len < SPOOL_PIECE && s->literal_left > 0)
		return false;
	if (a->data.len > 0 &&
	    !session_run(s->sess, s->env->workers, spool_run, spool_done)) {
		session_close(s->sess);
		return false;
	}
	return s->literal_left == 0 && !session_busy(s->sess);
}

/* ---- the command ---- */

struct append_cmd {
	char *mailbox;
	unsigned flags;
	struct str keywords;
	int64_t date;
	uint32_t uid, uidvalidity;
};

/* The message's bytes in one buffer for the MIME parser: the memory
 * copy, or the spool file mapped. */
static const char *message_bytes(struct imap_append_data *a, void **map,
				 size_t *len)
{
	*map = NULL;
	*len = a->size;
	if (a->spool == NULL)
		return a->data.data != NULL ? a->data.data : "";
	if (a->size == 0)
		return "";
	*map = mmap(NULL, a->size, PROT_READ, MAP_PRIVATE, spool_fd(a->spool),
		    0);
	return *map == MAP_FAILED ? NULL : *map;
}

static void append_run(struct imap_session *s)
{
	struct append_cmd *c = s->args;
	struct imap_append_data *a = s->append;
	struct store_account *acct = imap_account(s);
	struct store_mailbox mb;
	const char *err = NULL;
	if (acct == NULL)
		return;
	int rc = store_mailbox_find(acct, c->mailbox, &mb, &err);
	if (rc == 0) {
		imap_tagged(s, "NO [TRYCREATE] Mailbox does not exist");
		goto out;
	}
	if (rc > 0 && a->err != NULL) {
		imap_tagged(s, "NO [LIMIT] APPEND failed: %s", a->err);
		goto out;
	}
	void *map;
	size_t len;
	const char *bytes = rc > 0 ? message_bytes(a, &map, &len) : NULL;
	if (rc > 0 && bytes == NULL)
		rc = STORE_FAIL_TEMP;
	if (rc > 0) {
		struct mime_meta mm = MIME_META_INIT;
		mime_meta_compute(bytes, len, MIME_META_TEXT, &mm);
		struct store_msg_meta meta;
		deliver_meta_view(&mm, &meta);
		struct iovec iov = {(void *)bytes, len};
		struct store_source src = {&iov, 1, -1, 0};
		rc = store_msg_append(acct, mb.id, &src, &meta, c->flags,
				      c->keywords.len ? c->keywords.data : NULL,
				      c->date, &c->uid, &err);
		mime_meta_clear(&mm);
		if (map != NULL)
			munmap(map, len);
	}
	if (rc > 0) {
		imap_view_sync(s, acct, true);
		imap_tagged(s, "OK [APPENDUID %u %u] APPEND completed",
			    mb.uidvalidity, c->uid);
	} else if (rc < 0) {
		imap_tagged_fail(s, rc, "APPEND", err);
	}
out:
	store_account_unref(&acct);
}

static void append_finish(struct imap_session *s)
{
	struct append_cmd *c = s->args;
	free(c->mailbox);
	str_free(&c->keywords);
}

void imap_cmd_append(struct imap_session *s, struct imap_parser *p)
{
	struct append_cmd *c = xcalloc(1, sizeof(*c));
	struct imap_parser *head = imap_parser_new(s->cmd.data, s->cmd.len,
						   imap_parse_flags(s));
	struct imap_append a;
	(void)p;
	s->args = c;
	s->finish = append_finish;
	int rc = s->append != NULL
			 ? parse_head(head, &a)
			 : imap_parser_fail(head, "Missing message literal");
	if (rc < 0) {
		imap_reply_parse_error(s, head);
		imap_parser_free(&head);
		return;
	}
	c->mailbox = xstrndup(a.mailbox.data, a.mailbox.len);
	c->flags = imap_store_flags(a.flags.system);
	for (unsigned i = 0; i < a.flags.n_keywords; i++) {
		if (c->keywords.len)
			str_appendc(&c->keywords, ' ');
		str_append(&c->keywords, a.flags.keywords[i].data,
			   a.flags.keywords[i].len);
	}
	c->date = a.has_date ? a.date : (int64_t)time(NULL);
	imap_parser_free(&head);
	if (s->append->size == 0) {
		imap_reply(s, "NO Empty message");
		return;
	}
	imap_job(s, append_run);
}
