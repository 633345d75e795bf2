#include "pop3/pop3_parse.h"

#include <string.h>
#include <strings.h>

static const char *const verbs[POP3_VERB_COUNT] = {
	"USER", "PASS", "AUTH", "CAPA", "STAT", "LIST", "UIDL", "RETR",
	"TOP", "DELE", "RSET", "NOOP", "QUIT", "STLS", "APOP",
};

/* Allowed argument counts per verb: min, max.  The last column says the
 * first argument is a message number, the second a line count. */
static const struct {
	unsigned char min, max, numeric;
} arity[POP3_VERB_COUNT] = {
	[POP3_USER] = {1, 1, 0}, [POP3_PASS] = {1, 1, 0},
	[POP3_AUTH] = {0, 2, 0}, [POP3_CAPA] = {0, 0, 0},
	[POP3_STAT] = {0, 0, 0}, [POP3_LIST] = {0, 1, 1},
	[POP3_UIDL] = {0, 1, 1}, [POP3_RETR] = {1, 1, 1},
	[POP3_TOP] = {2, 2, 1},	 [POP3_DELE] = {1, 1, 1},
	[POP3_RSET] = {0, 0, 0}, [POP3_NOOP] = {0, 0, 0},
	[POP3_QUIT] = {0, 0, 0}, [POP3_STLS] = {0, 0, 0},
	[POP3_APOP] = {2, 2, 0},
};

const char *pop3_verb_name(enum pop3_verb verb)
{
	return verb < POP3_VERB_COUNT ? verbs[verb] : "?";
}

static int fail(struct pop3_cmd *cmd, enum pop3_parse_error e,
		const char *reason)
{
	cmd->error = e;
	cmd->reason = reason;
	return -1;
}

/* A positive decimal that fits in 32 bits; "0" and leading zeros past
 * ten digits are refused. */
static int parse_u32(const char *s, size_t len, uint32_t *r)
{
	uint64_t v = 0;
	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*r = (uint32_t)v;
	return 0;
}

static int split_args(const char *s, size_t len, struct pop3_cmd *cmd)
{
	size_t i = 0;
	while (i < len) {
		const char *sp = memchr(s + i, ' ', len - i);
		size_t n = sp ? (size_t)(sp - s) - i : len - i;
		if (n == 0)
			return -1; /* two spaces, or a trailing one */
		if (cmd->nargs == 2)
			return -1;
		cmd->args[cmd->nargs] = s + i;
		cmd->arglens[cmd->nargs++] = n;
		i += n + (sp ? 1 : 0);
		if (sp && i == len)
			return -1;
	}
	return 0;
}

int pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = POP3_VERB_COUNT;
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (int v = 0; v < POP3_VERB_COUNT; v++) {
		if (strlen(verbs[v]) == vlen &&
		    strncasecmp(line, verbs[v], vlen) == 0) {
			cmd->verb = (enum pop3_verb)v;
			break;
		}
	}
	if (cmd->verb == POP3_VERB_COUNT)
		return fail(cmd, POP3_PARSE_UNKNOWN, "Unknown command");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 32 || line[i] == 127)
			return fail(cmd, POP3_PARSE_SYNTAX,
				    "Control character in command");
	cmd->rest = vlen < len ? line + vlen + 1 : line + len;
	cmd->restlen = vlen < len ? len - vlen - 1 : 0;
	if (cmd->verb == POP3_PASS) {
		/* The password is the rest of the line, spaces and all. */
		if (cmd->restlen == 0)
			return fail(cmd, POP3_PARSE_SYNTAX, "Missing password");
		cmd->args[0] = cmd->rest;
		cmd->arglens[0] = cmd->restlen;
		cmd->nargs = 1;
		return 1;
	}
	if ((vlen < len && cmd->restlen == 0) ||
	    split_args(cmd->rest, cmd->restlen, cmd) < 0 ||
	    cmd->nargs < arity[cmd->verb].min ||
	    cmd->nargs > arity[cmd->verb].max)
		return fail(cmd, POP3_PARSE_SYNTAX, "Wrong number of arguments");
	if (arity[cmd->verb].numeric && cmd->nargs >= 1) {
		if (parse_u32(cmd->args[0], cmd->arglens[0], &cmd->msg) < 0 ||
		    cmd->msg == 0)
			return fail(cmd, POP3_PARSE_SYNTAX,
				    "Invalid message number");
		if (cmd->nargs == 2 &&
		    parse_u32(cmd->args[1], cmd->arglens[1], &cmd->lines) < 0)
			return fail(cmd, POP3_PARSE_SYNTAX,
				    "Invalid line count");
	}
	return 1;
}
