/* COMPRESS (RFC 4978): DEFLATE on the connection, from the reply on. */
#include "core/log.h"
#include "imap/imap_private.h"

void imap_cmd_compress(struct imap_session *s, struct imap_parser *p)
{
	struct imap_string alg;
	int rc = imap_parse_sp(p);
	if (rc > 0)
		rc = imap_parse_atom(p, &alg);
	if (rc > 0)
		rc = imap_parse_end(p);
	if (rc < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	if (!imap_string_eq(&alg, "DEFLATE")) {
		imap_reply(s, "BAD Unknown compression algorithm");
		imap_count_error(s);
		return;
	}
	if (session_compressed(s->sess)) {
		imap_reply(s, "NO [COMPRESSIONACTIVE] DEFLATE is on already");
		return;
	}
	/* The OK is the last clear-text line; the client must not have sent
	 * anything after the command before it saw it (RFC 4978 3), so what
	 * follows in the input is compressed. */
	imap_reply(s, "OK DEFLATE active");
	if (!session_compress(s->sess))
		return;
	struct str line = STR_INIT;
	session_log_begin(s->sess, &line, "compress");
	log_field(&line, "algorithm", "deflate");
	log_put(LOG_INFO, &line);
}
