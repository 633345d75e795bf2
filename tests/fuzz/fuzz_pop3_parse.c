/* Fuzz pop3_parse_command(): any bytes as one command line.
 *
 * Invariants: results point only into the line; arity within 0..2; a
 * parsed message number is never 0 and equals its digits, and so does a
 * TOP line count; and the command written back with single spaces parses
 * to the same thing. */
#include "fuzz.h"

#include "pop3/pop3_parse.h"

static uint64_t decimal(const char *s, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		CHECK(s[i] >= '0' && s[i] <= '9');
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

static int numeric(enum pop3_verb v)
{
	return v == POP3_LIST || v == POP3_UIDL || v == POP3_RETR ||
	       v == POP3_DELE || v == POP3_TOP;
}

static void check_result(const char *buf, size_t len, int rc,
			 const struct pop3_cmd *cmd)
{
	CHECK(rc == 1 || rc == -1);
	CHECK(cmd->verb <= POP3_VERB_COUNT);
	if (rc < 0) {
		CHECK(cmd->error != POP3_PARSE_OK && cmd->reason != NULL);
		CHECK((cmd->error == POP3_PARSE_UNKNOWN) ==
		      (cmd->verb == POP3_VERB_COUNT));
		return;
	}
	CHECK(cmd->error == POP3_PARSE_OK && cmd->verb < POP3_VERB_COUNT);
	CHECK(cmd->nargs <= 2);
	check_within(buf, len, cmd->rest, cmd->restlen);
	for (unsigned i = 0; i < cmd->nargs; i++) {
		check_within(buf, len, cmd->args[i], cmd->arglens[i]);
		CHECK(cmd->arglens[i] > 0);
		if (cmd->verb != POP3_PASS)
			CHECK(memchr(cmd->args[i], ' ', cmd->arglens[i]) ==
			      NULL);
	}
	for (size_t i = 0; i < len; i++)
		CHECK((unsigned char)buf[i] >= 32 && buf[i] != 127);
	if (numeric(cmd->verb) && cmd->nargs >= 1) {
		CHECK(cmd->msg != 0);
		CHECK(decimal(cmd->args[0], cmd->arglens[0]) == cmd->msg);
	} else {
		CHECK(cmd->msg == 0);
	}
	if (cmd->verb == POP3_TOP)
		CHECK(decimal(cmd->args[1], cmd->arglens[1]) == cmd->lines);
	else
		CHECK(cmd->lines == 0);
}

static void check_roundtrip(const struct pop3_cmd *cmd)
{
	char line[4096];
	struct pop3_cmd again;
	int n = snprintf(line, sizeof(line), "%s", pop3_verb_name(cmd->verb));
	for (unsigned i = 0; i < cmd->nargs && n < (int)sizeof(line); i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %.*s",
			      (int)cmd->arglens[i], cmd->args[i]);
	if (n >= (int)sizeof(line))
		return;
	CHECK(pop3_parse_command(line, (size_t)n, &again) == 1);
	CHECK(again.verb == cmd->verb && again.nargs == cmd->nargs);
	CHECK(again.msg == cmd->msg && again.lines == cmd->lines);
	for (unsigned i = 0; i < cmd->nargs; i++)
		CHECK(again.arglens[i] == cmd->arglens[i] &&
		      memcmp(again.args[i], cmd->args[i], cmd->arglens[i]) ==
			      0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_cmd cmd;
	char *buf = fuzz_copy(data, size);
	int rc = pop3_parse_command(buf, size, &cmd);
	check_result(buf, size, rc, &cmd);
	if (rc == 1)
		check_roundtrip(&cmd);
	free(buf);
	return 0;
}
