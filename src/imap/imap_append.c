/* APPEND (RFC 9051 6.3.12, RFC 4315 APPENDUID): the command, once its
 * message is in (imap_literal.c received it). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/xalloc.h"
#include "deliver/deliver.h"
#include "imap/imap_args.h"
#include "imap/imap_private.h"
#include "mime/mime_meta.h"

struct append_cmd {
	char *mailbox;
	unsigned flags;
	struct str keywords;
	int64_t date;
	uint32_t uid, uidvalidity;
};

static void append_run(struct imap_session *s)
{
	struct append_cmd *c = s->args;
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
	if (rc > 0 && imap_append_error(s) != NULL) {
		imap_tagged(s, "NO [LIMIT] APPEND failed: %s",
			    imap_append_error(s));
		goto out;
	}
	void *map;
	size_t len;
	const char *bytes = rc > 0 ? imap_append_bytes(s, &map, &len) : NULL;
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
	} else if (rc == STORE_FAIL_LIMIT) {
		imap_tagged_limit(s, "APPEND");
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
			 ? imap_append_parse_head(head, &a)
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
	if (imap_append_size(s) == 0) {
		imap_reply(s, "NO Empty message");
		return;
	}
	imap_job_sync(s, append_run);
}
