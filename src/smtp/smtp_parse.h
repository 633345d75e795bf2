/* smtp_parse: one SMTP command line (without its CRLF) into a verb, its
 * path and parameters (RFC 5321 4.1, 4.1.2; RFC 3030 BDAT).
 *
 * Pure: no I/O, no allocation.  Pointers in the result point into the
 * caller's line, which must outlive the result. */
#ifndef POSTHORN_SMTP_PARSE_H
#define POSTHORN_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smtp_verb {
	SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_BDAT,
	SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_HELP, SMTP_VRFY, SMTP_EXPN,
	SMTP_STARTTLS, SMTP_AUTH,
	SMTP_VERB_COUNT
};

/* What a bad line gets: each maps to one reply. */
enum smtp_parse_error {
	SMTP_PARSE_OK,
	SMTP_PARSE_UNKNOWN,	/* 500 5.5.2: not a command we know */
	SMTP_PARSE_SYNTAX,	/* 501 5.5.4: bad arguments */
	SMTP_PARSE_PARAM,	/* 555 5.5.4: bad MAIL/RCPT parameter */
};

#define SMTP_PARAMS_MAX 16

struct smtp_param {
	const char *key;	/* not NUL-terminated */
	size_t keylen;
	const char *value;	/* NULL when the parameter has no value */
	size_t valuelen;
};

struct smtp_cmd {
	enum smtp_verb verb;
	/* Everything after the verb and its space, for HELO/EHLO/VRFY/...*/
	const char *arg;
	size_t arglen;
	/* MAIL/RCPT: the mailbox inside <...>, any source route dropped
	 * (RFC 5321 4.1.1.3, C.); pathlen 0 is the null path "<>". */
	const char *path;
	size_t pathlen;
	struct smtp_param params[SMTP_PARAMS_MAX];
	unsigned nparams;
	uint64_t bdat_size;
	bool bdat_last;
	enum smtp_parse_error error;
	const char *reason;	/* static text when error != OK */
};

/* Returns 1 when the line is a well-formed command, -1 otherwise with
 * cmd->error and cmd->reason set (cmd->verb is set if it was known). */
int smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd);

/* The verb's name, for logs. */
const char *smtp_verb_name(enum smtp_verb verb);

/* Case-insensitive compare of a parameter key. */
bool smtp_param_is(const struct smtp_param *p, const char *key);

#endif
