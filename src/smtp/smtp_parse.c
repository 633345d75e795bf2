#include "smtp/smtp_parse.h"

#include <string.h>
#include <strings.h>

static const char *const verbs[SMTP_VERB_COUNT] = {
	"HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP",
	"QUIT", "HELP", "VRFY", "EXPN", "STARTTLS", "AUTH",
};

const char *smtp_verb_name(enum smtp_verb verb)
{
	return verb < SMTP_VERB_COUNT ? verbs[verb] : "?";
}

bool smtp_param_is(const struct smtp_param *p, const char *key)
{
	return strlen(key) == p->keylen &&
	       strncasecmp(p->key, key, p->keylen) == 0;
}

static int fail(struct smtp_cmd *cmd, enum smtp_parse_error e,
		const char *reason)
{
	cmd->error = e;
	cmd->reason = reason;
	return -1;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* The end of "<...>" starting at s[0] == '<', skipping quoted strings so
 * a '>' inside quotes does not end the path.  Returns the index of the
 * '>' or -1. */
static long path_end(const char *s, size_t len)
{
	bool quoted = false;
	for (size_t i = 1; i < len; i++) {
		if (quoted && s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '>')
			return (long)i;
		else if (!quoted && (s[i] == '<' || s[i] == ' '))
			return -1;
	}
	return -1;
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 4.1.2); values
 * may carry UTF-8 (RFC 6531). */
static int parse_params(const char *s, size_t len, struct smtp_cmd *cmd)
{
	size_t i = 0;
	while (i < len) {
		if (s[i] != ' ')
			return fail(cmd, SMTP_PARSE_SYNTAX,
				    "text after the path must be parameters");
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			break;
		if (cmd->nparams == SMTP_PARAMS_MAX)
			return fail(cmd, SMTP_PARSE_PARAM,
				    "too many parameters");
		struct smtp_param *p = &cmd->params[cmd->nparams++];
		p->key = s + i;
		while (i < len && (is_alnum(s[i]) || (s[i] == '-' &&
						       p->key != s + i)))
			i++;
		p->keylen = (size_t)(s + i - p->key);
		p->value = NULL;
		p->valuelen = 0;
		/* A bad keyword octet makes a bad parameter (555), the same
		 * as a bad value, not a syntax error in the command. */
		if (p->keylen == 0 || (i < len && s[i] != '=' && s[i] != ' '))
			return fail(cmd, SMTP_PARSE_PARAM, "bad parameter");
		if (i < len && s[i] == '=') {
			p->value = s + ++i;
			while (i < len && s[i] != ' ') {
				unsigned char c = (unsigned char)s[i];
				if (c < 33 || c == '=' || c == 127)
					return fail(cmd, SMTP_PARSE_PARAM,
						    "bad parameter value");
				i++;
			}
			p->valuelen = (size_t)(s + i - p->value);
			if (p->valuelen == 0)
				return fail(cmd, SMTP_PARSE_PARAM,
					    "empty parameter value");
		}
	}
	return 1;
}

/* "FROM:<path> params" or "TO:<path> params".  A space after the colon is
 * tolerated: enough clients send it that refusing helps nobody. */
static int parse_mail_rcpt(const char *s, size_t len, const char *prefix,
			   struct smtp_cmd *cmd)
{
	size_t plen = strlen(prefix);
	if (len < plen || strncasecmp(s, prefix, plen) != 0)
		return fail(cmd, SMTP_PARSE_SYNTAX,
			    cmd->verb == SMTP_MAIL ? "expected MAIL FROM:<address>"
						   : "expected RCPT TO:<address>");
	size_t i = plen;
	while (i < len && s[i] == ' ')
		i++;
	if (i == len || s[i] != '<')
		return fail(cmd, SMTP_PARSE_SYNTAX, "address must be in <>");
	long end = path_end(s + i, len - i);
	if (end < 0)
		return fail(cmd, SMTP_PARSE_SYNTAX, "unterminated <address>");
	const char *path = s + i + 1;
	size_t pathlen = (size_t)end - 1;
	/* A-d-l ":" Mailbox: the route is obsolete and ignored.  A route
	 * holds only domains: a quote means the ':' may sit inside the
	 * mailbox's quoted local part, and what follows must not be a
	 * route again. */
	if (pathlen > 0 && path[0] == '@') {
		const char *colon = memchr(path, ':', pathlen);
		if (colon == NULL || memchr(path, '"', (size_t)(colon - path)))
			return fail(cmd, SMTP_PARSE_SYNTAX, "bad source route");
		pathlen -= (size_t)(colon + 1 - path);
		path = colon + 1;
		if (pathlen == 0 || path[0] == '@')
			return fail(cmd, SMTP_PARSE_SYNTAX, "bad source route");
	}
	cmd->path = path;
	cmd->pathlen = pathlen;
	if (pathlen == 0 && cmd->verb == SMTP_RCPT)
		return fail(cmd, SMTP_PARSE_SYNTAX, "empty recipient");
	i += (size_t)end + 1;
	return parse_params(s + i, len - i, cmd);
}

static int parse_number(const char *s, size_t len, uint64_t *r)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*r = v;
	return 0;
}

/* "BDAT" SP chunk-size [ SP end-marker ] (RFC 3030 2). */
static int parse_bdat(const char *s, size_t len, struct smtp_cmd *cmd)
{
	const char *sp = memchr(s, ' ', len);
	size_t nlen = sp ? (size_t)(sp - s) : len;
	if (parse_number(s, nlen, &cmd->bdat_size) < 0)
		return fail(cmd, SMTP_PARSE_SYNTAX, "expected BDAT size [LAST]");
	if (sp != NULL) {
		size_t rest = len - nlen - 1;
		if (rest != 4 || strncasecmp(sp + 1, "LAST", 4) != 0)
			return fail(cmd, SMTP_PARSE_SYNTAX,
				    "expected BDAT size [LAST]");
		cmd->bdat_last = true;
	}
	return 1;
}

int smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = SMTP_VERB_COUNT;
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (int v = 0; v < SMTP_VERB_COUNT; v++) {
		if (strlen(verbs[v]) == vlen &&
		    strncasecmp(line, verbs[v], vlen) == 0) {
			cmd->verb = (enum smtp_verb)v;
			break;
		}
	}
	if (cmd->verb == SMTP_VERB_COUNT)
		return fail(cmd, SMTP_PARSE_UNKNOWN, "command unrecognized");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 32 && c != '\t') || c == 127)
			return fail(cmd, SMTP_PARSE_SYNTAX,
				    "control character in command");
	}
	const char *arg = vlen < len ? line + vlen + 1 : line + len;
	size_t arglen = vlen < len ? len - vlen - 1 : 0;
	cmd->arg = arg;
	cmd->arglen = arglen;

	switch (cmd->verb) {
	case SMTP_MAIL:
		return parse_mail_rcpt(arg, arglen, "FROM:", cmd);
	case SMTP_RCPT:
		return parse_mail_rcpt(arg, arglen, "TO:", cmd);
	case SMTP_BDAT:
		return parse_bdat(arg, arglen, cmd);
	case SMTP_HELO:
	case SMTP_EHLO:
		/* The argument is checked loosely: plenty of real clients
		 * send a bare host name or worse, and refusing them gains
		 * nothing. */
		if (arglen == 0 || memchr(arg, ' ', arglen) != NULL)
			return fail(cmd, SMTP_PARSE_SYNTAX,
				    "expected a domain or address literal");
		return 1;
	case SMTP_VRFY:
	case SMTP_EXPN:
	case SMTP_AUTH:
		if (arglen == 0)
			return fail(cmd, SMTP_PARSE_SYNTAX, "argument required");
		return 1;
	case SMTP_DATA:
	case SMTP_RSET:
	case SMTP_QUIT:
	case SMTP_STARTTLS:
		if (arglen != 0 || vlen < len)
			return fail(cmd, SMTP_PARSE_SYNTAX,
				    "no arguments allowed");
		return 1;
	default:
		return 1;	/* NOOP and HELP take and ignore an argument */
	}
}
