/* Fuzz smtp_parse_command(): any bytes as one command line.
 *
 * Invariants: the result points only into the line; at most
 * SMTP_PARAMS_MAX parameters; error, reason and verb agree with the return
 * code; the verb is recognized in any case; and a parsed MAIL/RCPT/BDAT
 * written back in canonical form parses to the same thing. */
#include "fuzz.h"

#include "smtp/smtp_parse.h"

static void check_result(const char *buf, size_t len, int rc,
			 const struct smtp_cmd *cmd)
{
	CHECK(rc == 1 || rc == -1);
	CHECK(cmd->nparams <= SMTP_PARAMS_MAX);
	CHECK(cmd->verb <= SMTP_VERB_COUNT);
	if (rc < 0) {
		CHECK(cmd->error != SMTP_PARSE_OK && cmd->reason != NULL);
		CHECK((cmd->error == SMTP_PARSE_UNKNOWN) ==
		      (cmd->verb == SMTP_VERB_COUNT));
		return;
	}
	CHECK(cmd->error == SMTP_PARSE_OK && cmd->reason == NULL);
	CHECK(cmd->verb < SMTP_VERB_COUNT);
	check_within(buf, len, cmd->arg, cmd->arglen);
	if (cmd->verb == SMTP_MAIL || cmd->verb == SMTP_RCPT) {
		check_within(buf, len, cmd->path, cmd->pathlen);
		CHECK(cmd->verb == SMTP_MAIL || cmd->pathlen > 0);
		/* The route, if any, is gone. */
		CHECK(cmd->pathlen == 0 || cmd->path[0] != '@');
	} else {
		CHECK(cmd->nparams == 0 && cmd->pathlen == 0);
	}
	for (unsigned i = 0; i < cmd->nparams; i++) {
		const struct smtp_param *p = &cmd->params[i];
		check_within(buf, len, p->key, p->keylen);
		CHECK(p->keylen > 0);
		if (p->value != NULL) {
			check_within(buf, len, p->value, p->valuelen);
			CHECK(p->valuelen > 0);
		}
	}
	for (size_t i = 0; i < len; i++)
		CHECK((unsigned char)buf[i] >= 32 || buf[i] == '\t');
}

/* MAIL/RCPT/BDAT as a well-behaved client would send them. */
static size_t canonical(const struct smtp_cmd *cmd, char *out, size_t size)
{
	int n;
	if (cmd->verb == SMTP_BDAT)
		return (size_t)snprintf(out, size, "BDAT %llu%s",
					(unsigned long long)cmd->bdat_size,
					cmd->bdat_last ? " LAST" : "");
	n = snprintf(out, size, "%s:<%.*s>",
		     cmd->verb == SMTP_MAIL ? "MAIL FROM" : "RCPT TO",
		     (int)cmd->pathlen, cmd->path);
	for (unsigned i = 0; i < cmd->nparams && (size_t)n < size; i++) {
		const struct smtp_param *p = &cmd->params[i];
		n += snprintf(out + n, size - (size_t)n, " %.*s",
			      (int)p->keylen, p->key);
		if (p->value != NULL && (size_t)n < size)
			n += snprintf(out + n, size - (size_t)n, "=%.*s",
				      (int)p->valuelen, p->value);
	}
	return (size_t)n;
}

static void check_roundtrip(const struct smtp_cmd *cmd)
{
	char line[8192];
	struct smtp_cmd again;
	if (cmd->verb != SMTP_MAIL && cmd->verb != SMTP_RCPT &&
	    cmd->verb != SMTP_BDAT)
		return;
	size_t n = canonical(cmd, line, sizeof(line));
	if (n >= sizeof(line))
		return;
	CHECK(smtp_parse_command(line, n, &again) == 1);
	CHECK(again.verb == cmd->verb);
	CHECK(again.bdat_size == cmd->bdat_size);
	CHECK(again.bdat_last == cmd->bdat_last);
	CHECK(again.pathlen == cmd->pathlen);
	CHECK(memcmp(again.path, cmd->path, cmd->pathlen) == 0);
	CHECK(again.nparams == cmd->nparams);
	for (unsigned i = 0; i < cmd->nparams; i++) {
		CHECK(again.params[i].keylen == cmd->params[i].keylen);
		CHECK((again.params[i].value == NULL) ==
		      (cmd->params[i].value == NULL));
		CHECK(again.params[i].valuelen == cmd->params[i].valuelen);
	}
}

/* Flipping the case of the verb changes nothing. */
static void check_case(const char *buf, size_t len, int rc,
		       const struct smtp_cmd *cmd)
{
	struct smtp_cmd again;
	char *copy = fuzz_copy(buf, len);
	for (size_t i = 0; i < len && copy[i] != ' '; i++)
		if ((copy[i] | 0x20) >= 'a' && (copy[i] | 0x20) <= 'z')
			copy[i] ^= 0x20;
	CHECK(smtp_parse_command(copy, len, &again) == rc);
	CHECK(again.verb == cmd->verb && again.error == cmd->error);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd cmd;
	char *buf = fuzz_copy(data, size);
	int rc = smtp_parse_command(buf, size, &cmd);
	check_result(buf, size, rc, &cmd);
	check_case(buf, size, rc, &cmd);
	if (rc == 1)
		check_roundtrip(&cmd);
	free(buf);
	return 0;
}
