/* QUOTA (RFC 9208): one quota root, "", for the whole account, with the
 * STORAGE resource the store enforces.  Setting quotas is the admin's
 * (posthorn user), not the client's. */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_write.h"
#include "imap/imap_private.h"

struct quota_args {
	char *mailbox;		/* GETQUOTAROOT */
};

/* "* QUOTA "" (STORAGE used limit)" in units of 1024 octets; nothing when
 * the account has no quota. */
static int quota_line(struct imap_session *s)
{
	uint64_t bytes, messages, quota;
	const char *err = NULL;
	int rc = store_account_usage(s->env->store, s->user_id, &bytes,
				     &messages, &quota, &err);
	if (rc < 0) {
		imap_tagged_fail(s, rc, s->command->name, err);
		return rc;
	}
	if (quota > 0)
		str_printf(&s->out, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
			   (unsigned long long)((bytes + 1023) / 1024),
			   (unsigned long long)(quota / 1024));
	return 1;
}

static void getquotaroot_run(struct imap_session *s)
{
	struct quota_args *a = s->args;
	struct store_account *acct = imap_account(s);
	struct store_mailbox mb;
	if (acct == NULL)
		return;
	int rc = store_mailbox_find(acct, a->mailbox, &mb, NULL);
	store_account_unref(&acct);
	if (rc == 0) {
		imap_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
		return;
	}
	str_appends(&s->out, "* QUOTAROOT ");
	imap_write_mailbox(&s->out, a->mailbox,
			 (s->enabled & (IMAP_EN_UTF8 | IMAP_EN_REV2)) != 0);
	str_appends(&s->out, " \"\"\r\n");
	if (quota_line(s) > 0)
		imap_tagged(s, "OK GETQUOTAROOT completed");
}

static void getquota_run(struct imap_session *s)
{
	if (quota_line(s) > 0)
		imap_tagged(s, "OK GETQUOTA completed");
}

static void quota_finish(struct imap_session *s)
{
	struct quota_args *a = s->args;
	free(a->mailbox);
}

void imap_cmd_quota(struct imap_session *s, struct imap_parser *p)
{
	struct quota_args *a = xcalloc(1, sizeof(*a));
	struct imap_string arg;
	s->args = a;
	s->finish = quota_finish;
	bool root = imap_command_is(s, "GETQUOTAROOT");
	int rc = imap_parse_sp(p);
	if (rc > 0)
		rc = root ? imap_parse_mailbox(p, &arg)
			  : imap_parse_astring(p, &arg);
	if (rc > 0 && imap_command_is(s, "SETQUOTA"))
		rc = imap_parser_fail_no(p, "[NOPERM] Quotas are set by the "
					    "administrator");
	if (rc > 0)
		rc = imap_parse_end(p);
	if (rc < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (root) {
		a->mailbox = xstrndup(arg.data, arg.len);
		imap_job(s, getquotaroot_run);
	} else if (arg.len != 0) {
		imap_reply(s, "NO [NONEXISTENT] No such quota root");
	} else {
		imap_job(s, getquota_run);
	}
}
