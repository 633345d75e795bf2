/* pop3_parse: one POP3 command line (without CRLF) into a verb and its
 * arguments (RFC 1939, RFC 2449 CAPA, RFC 5034 AUTH).
 *
 * Pure: no I/O, no allocation; results point into the caller's line. */
#ifndef POP3_PARSE_H
#define POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum pop3_verb {
	POP3_USER, POP3_PASS, POP3_AUTH, POP3_CAPA, POP3_STAT, POP3_LIST,
	POP3_UIDL, POP3_RETR, POP3_TOP, POP3_DELE, POP3_RSET, POP3_NOOP,
	POP3_QUIT, POP3_STLS, POP3_APOP,
	POP3_VERB_COUNT
};

enum pop3_parse_error {
	POP3_PARSE_OK,
	POP3_PARSE_UNKNOWN,	/* not a command */
	POP3_PARSE_SYNTAX,	/* wrong arguments */
};

struct pop3_cmd {
	enum pop3_verb verb;
	/* Arguments split on single spaces (RFC 1939 3). */
	const char *args[2];
	size_t arglens[2];
	unsigned nargs;
	/* Everything after the verb's space, whole: PASS takes passwords
	 * with spaces in them. */
	const char *rest;
	size_t restlen;
	/* LIST/UIDL/RETR/DELE/TOP message number, TOP line count. */
	uint32_t msg;
	uint32_t lines;
	enum pop3_parse_error error;
	const char *reason;
};

/* Returns 1 for a well-formed command, -1 with cmd->error set. */
int pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd);

const char *pop3_verb_name(enum pop3_verb verb);

#endif
