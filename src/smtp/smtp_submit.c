/* Submission (RFC 6409): what the SMTP session does differently when it
 * serves users instead of other servers.  The command handlers call in
 * here only in the submission role. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/xalloc.h"
#include "smtp/smtp_private.h"
#include "smtp/smtp_rate.h"
#include "smtp/smtp_sender.h"

/* The header of a spooled message is read back up to this far; a header
 * that goes on past it is refused, since a From field after it could not
 * be checked. */
#define HEAD_MAX (64 * 1024)

static void submit_log(struct smtp_session *s, const char *code,
		       const char *cause)
{
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "reject");
	log_field(&line, "code", "%s", code);
	log_cvalue(&line, "user", s->login);
	log_cvalue(&line, "cause", cause);
	smtp_log_tx(s, &line);
	log_put(LOG_INFO, &line);
}

bool smtp_submit_mail(struct smtp_session *s, const struct addr *sender)
{
	if (s->user_id == 0) {
		smtp_reply(s, "530 5.7.0 Authentication required");
		smtp_count_error(s);
		return false;
	}
	if (sender == NULL ||
	    !smtp_sender_allowed(s->senders.data, s->senders.len, sender,
				 s->env->cfg->delivery.recipient_delimiter)) {
		char text[ADDR_TEXT_MAX] = "";
		if (sender != NULL)
			addr_format(sender, text);
		submit_log(s, "553", sender != NULL ? "sender not allowed"
						    : "null sender");
		smtp_reply(s, "553 5.7.1 <%s>: Sender address not owned by "
			      "user %s", text, s->login);
		smtp_count_error(s);
		return false;
	}
	if (!smtp_rate_allows(s->env->rate, s->user_id, (int64_t)time(NULL))) {
		submit_log(s, "450", "hourly message limit");
		smtp_reply(s, "450 4.7.1 Too many messages sent in the last "
			      "hour, try again later");
		return false;
	}
	return true;
}

unsigned smtp_submit_max_rcpts(const struct smtp_session *s)
{
	const struct config *cfg = s->env->cfg;
	if (s->env->role != SMTP_ROLE_SUBMISSION ||
	    cfg->submission.max_recipients > cfg->smtp.max_recipients)
		return cfg->smtp.max_recipients;
	return cfg->submission.max_recipients;
}

void smtp_submit_remote(struct smtp_session *s, const char *rcpt)
{
	str_appends(&s->tx.remote, rcpt);
	str_appendc(&s->tx.remote, '\0');
	s->tx.nremote++;
}

void smtp_submit_sent(struct smtp_session *s)
{
	smtp_rate_count(s->env->rate, s->user_id, (int64_t)time(NULL));
}

/* ---- the message ---- */

static void rfc5322_date(time_t t, char *out, size_t size)
{
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* RFC 6409 8 and RFC 3848: "with ESMTPSA" records TLS and AUTH; the user
 * is named in a comment.  With submission.hide_client the from-clause
 * (the client's name and address) is left out: a user's home address is
 * nobody's business at the far end. */
void smtp_submit_received(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct str *out = &tx->trace;
	struct tls_info tls;
	char tls_text[128], date[64];
	bool over_tls = session_tls_info(s->sess, &tls);
	rfc5322_date(time(NULL), date, sizeof(date));
	str_appends(out, "Received: ");
	if (!s->env->cfg->submission.hide_client) {
		str_appends(out, "from ");
		str_append_sanitized(out, s->helo, strlen(s->helo), 255);
		str_printf(out, " (%s%s])\r\n\t",
			   strchr(session_peer_text(s->sess), ':') ? "[IPv6:"
								   : "[",
			   session_peer_text(s->sess));
	}
	str_printf(out, "by %s (posthorn) with %sSMTP%sA id %s",
		   s->env->cfg->server.hostname, tx->utf8 ? "UTF8" : "E",
		   over_tls ? "S" : "", tx->id);
	if (over_tls) {
		tls_info_text(&tls, tls_text, sizeof(tls_text));
		str_printf(out, "\r\n\t(using %s)", tls_text);
	}
	str_printf(out, "\r\n\t(authenticated as %s)", s->login);
	if (tx->nrcpt == 1)
		str_printf(out, "\r\n\tfor <%s>", tx->first_rcpt);
	if (over_tls)
		str_printf(out, "\r\n\ttls %s", tls.cipher_rfc);
	str_printf(out, ";\r\n\t%s\r\n", date);
}

/* The start of the message, for its header: in memory, or read back
 * from the spool.  *buf_r is what to free. */
static size_t head_of(const struct deliver_source *src, const char **p_r,
		      char **buf_r, bool *cut_r)
{
	*buf_r = NULL;
	*cut_r = false;
	if (src->fd < 0) {
		/* An empty message has no buffer at all. */
		*p_r = src->data != NULL ? src->data : "";
		return src->len;
	}
	size_t want = src->fd_len < HEAD_MAX ? (size_t)src->fd_len : HEAD_MAX;
	char *buf = xmalloc(want ? want : 1);
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(src->fd, buf + got, want - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*p_r = buf;
	*buf_r = buf;
	*cut_r = got < src->fd_len;
	return got;
}

static bool refuse(struct smtp_session *s, const char *reply,
		   const char *cause, const char *what)
{
	struct str text = STR_INIT;
	s->tx.refusal = reply;
	str_printf(&text, "%s%s%s", cause, what[0] ? ": " : "", what);
	/* Cut to fit: an address is longer than the room for a cause. */
	snprintf(s->tx.cause, sizeof(s->tx.cause), "%.*s",
		 (int)(text.len < sizeof(s->tx.cause) ? text.len
						      : sizeof(s->tx.cause) - 1),
		 text.data);
	str_free(&text);
	return false;
}

static bool header_ok(struct smtp_session *s, const char *p, size_t len,
		      bool cut, struct smtp_sender_header *h)
{
	smtp_sender_header(p, len, s->senders.data, s->senders.len,
			   s->env->cfg->delivery.recipient_delimiter, h);
	if (cut && !h->complete)
		return refuse(s, "552 5.6.0 Message header too long to check",
			      "header too long", "");
	if (h->from_fields == 0 || h->from == 0)
		return refuse(s, "553 5.7.1 Message has no From address",
			      "no From address", "");
	if (h->from_fields > 1)
		return refuse(s, "553 5.7.1 Message has more than one From "
				 "field", "several From fields", "");
	if (h->refused)
		return refuse(s, "553 5.7.1 From address not owned by the "
				 "authenticated user",
			      "From not allowed", h->refused_text);
	return true;
}

bool smtp_submit_prepare(struct smtp_session *s,
			 const struct deliver_source *src, struct str *head_r)
{
	const char *p;
	char *buf;
	bool cut;
	struct smtp_sender_header h;
	size_t len = head_of(src, &p, &buf, &cut);
	bool ok = header_ok(s, p, len, cut, &h);
	free(buf);
	if (!ok)
		return false;
	str_append(head_r, s->tx.trace.data, s->tx.trace.len);
	/* RFC 6409 8.3 and 8.1: what a client left out. */
	if (!h.message_id) {
		unsigned char r[15];
		char id[sizeof(r) * 2 + 1];
		randombytes_buf(r, sizeof(r));
		sodium_bin2hex(id, sizeof(id), r, sizeof(r));
		str_printf(head_r, "Message-ID: <%s@%s>\r\n", id,
			   s->env->cfg->server.hostname);
	}
	if (!h.date) {
		char date[64];
		rfc5322_date(time(NULL), date, sizeof(date));
		str_printf(head_r, "Date: %s\r\n", date);
	}
	return true;
}

int smtp_submit_queue(struct smtp_session *s, const struct deliver_source *src)
{
	struct smtp_tx *tx = &s->tx;
	const char **rcpts = xcalloc(tx->nremote, sizeof(*rcpts));
	size_t n = 0;
	for (size_t at = 0; at < tx->remote.len && n < tx->nremote; n++) {
		rcpts[n] = tx->remote.data + at;
		at += strlen(rcpts[n]) + 1;
	}
	const char *err = NULL;
	int rc = deliver_queue(s->env->store, tx->id, tx->sender, s->login,
			       rcpts, n, src, &err);
	if (rc != 1)
		snprintf(tx->cause, sizeof(tx->cause), "queue: %s",
			 err != NULL ? err : "");
	free(rcpts);
	return rc;
}
