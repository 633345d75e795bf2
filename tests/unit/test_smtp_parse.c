/* smtp_parse: each case is a command line and what the parser must make of
 * it.  Every valid line is also fed cut short at every length, from an
 * exactly sized heap buffer, so a read past `len` trips ASan. */
#include "unit.h"

#include "smtp/smtp_parse.h"

/* Sentinel for "don't check this field". */
#define ANY NULL

struct smtp_case {
	const char *line;
	int rc;
	enum smtp_verb verb;		/* SMTP_VERB_COUNT: not recognized */
	enum smtp_parse_error error;
	const char *path;		/* MAIL/RCPT; "" is the null path */
	const char *params;		/* "K=V K2" as parsed, or ANY */
	const char *arg;		/* whole argument, or ANY */
};

#define OK(l, v) {l, 1, v, SMTP_PARSE_OK, ANY, ANY, ANY}
#define OKARG(l, v, a) {l, 1, v, SMTP_PARSE_OK, ANY, ANY, a}
#define OKPATH(l, v, p, pr) {l, 1, v, SMTP_PARSE_OK, p, pr, ANY}
#define BAD(l, v, e) {l, -1, v, e, ANY, ANY, ANY}
#define SYN SMTP_PARSE_SYNTAX
#define PAR SMTP_PARSE_PARAM
#define UNK SMTP_PARSE_UNKNOWN

static const struct smtp_case cases[] = {
	/* HELO / EHLO: one argument, checked loosely. */
	OKARG("HELO mx.example.com", SMTP_HELO, "mx.example.com"),
	OKARG("EHLO [192.0.2.1]", SMTP_EHLO, "[192.0.2.1]"),
	OKARG("ehlo client", SMTP_EHLO, "client"),
	OKARG("eHlO client", SMTP_EHLO, "client"),
	OKARG("helo x", SMTP_HELO, "x"),
	BAD("HELO", SMTP_HELO, SYN),
	BAD("HELO ", SMTP_HELO, SYN),
	BAD("EHLO a b", SMTP_EHLO, SYN),
	BAD("EHLO  a", SMTP_EHLO, SYN),

	/* MAIL FROM */
	OKPATH("MAIL FROM:<a@b.example>", SMTP_MAIL, "a@b.example", ""),
	OKPATH("mail from:<a@b.example>", SMTP_MAIL, "a@b.example", ""),
	OKPATH("Mail From:<A@B.example>", SMTP_MAIL, "A@B.example", ""),
	OKPATH("MAIL FROM:<>", SMTP_MAIL, "", ""),
	OKPATH("MAIL FROM:<> SIZE=0", SMTP_MAIL, "", "SIZE=0"),
	OKPATH("MAIL FROM: <x@y>", SMTP_MAIL, "x@y", ""),
	OKPATH("MAIL FROM:   <x@y>", SMTP_MAIL, "x@y", ""),
	OKPATH("MAIL FROM:<@a,@b:u@d>", SMTP_MAIL, "u@d", ""),
	OKPATH("MAIL FROM:<@relay.example:u@d>", SMTP_MAIL, "u@d", ""),
	OKPATH("MAIL FROM:<a@b> SIZE=100", SMTP_MAIL, "a@b", "SIZE=100"),
	OKPATH("MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME SMTPUTF8", SMTP_MAIL,
	       "a@b", "SIZE=100 BODY=8BITMIME SMTPUTF8"),
	OKPATH("MAIL FROM:<a@b>  SIZE=1   SMTPUTF8", SMTP_MAIL, "a@b",
	       "SIZE=1 SMTPUTF8"),
	OKPATH("MAIL FROM:<a@b> ", SMTP_MAIL, "a@b", ""),
	OKPATH("MAIL FROM:<a@b> X-FOO=bar", SMTP_MAIL, "a@b", "X-FOO=bar"),
	OKPATH("MAIL FROM:<a@b> ENVID=\xc3\xbc", SMTP_MAIL, "a@b",
	       "ENVID=\xc3\xbc"),
	OKPATH("MAIL FROM:<a@b> AUTH=<>", SMTP_MAIL, "a@b", "AUTH=<>"),
	OKPATH("MAIL FROM:<\"a>b\"@c>", SMTP_MAIL, "\"a>b\"@c", ""),
	OKPATH("MAIL FROM:<\"a@b\"@c>", SMTP_MAIL, "\"a@b\"@c", ""),
	OKPATH("MAIL FROM:<\"a b\"@c> SIZE=5", SMTP_MAIL, "\"a b\"@c",
	       "SIZE=5"),
	OKPATH("MAIL FROM:<\"a\\\">\"@c>", SMTP_MAIL, "\"a\\\">\"@c", ""),
	OKPATH("MAIL FROM:<\"<\"@c>", SMTP_MAIL, "\"<\"@c", ""),
	OKPATH("MAIL FROM:<a\tb@c>", SMTP_MAIL, "a\tb@c", ""),
	BAD("MAIL", SMTP_MAIL, SYN),
	BAD("MAIL ", SMTP_MAIL, SYN),
	BAD("MAIL FROM", SMTP_MAIL, SYN),
	BAD("MAIL FROM:", SMTP_MAIL, SYN),
	BAD("MAIL FROM: ", SMTP_MAIL, SYN),
	BAD("MAIL FROM:a@b", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<a@b", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<a b@c>", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<a<b@c>", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<\"a>", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<\"a\\\">", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<@a,@b>", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<@a:>", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<@a:@b:u@d>", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<@a\"x:y\"@d>", SMTP_MAIL, SYN),
	BAD("RCPT TO:<@a,\"@b:c\"@d>", SMTP_RCPT, SYN),
	OKPATH("MAIL FROM:<@a:\"x:y\"@d>", SMTP_MAIL, "\"x:y\"@d", ""),
	BAD("MAIL FROM<a@b>", SMTP_MAIL, SYN),
	BAD("MAIL TO:<a@b>", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<a@b>SIZE=1", SMTP_MAIL, SYN),
	BAD("MAIL FROM:<a@b> <c@d>", SMTP_MAIL, PAR),
	BAD("MAIL FROM:<a@b> SIZE=", SMTP_MAIL, PAR),
	BAD("MAIL FROM:<a@b> SIZE= 1", SMTP_MAIL, PAR),
	BAD("MAIL FROM:<a@b> =1", SMTP_MAIL, PAR),
	BAD("MAIL FROM:<a@b> -X", SMTP_MAIL, PAR),
	BAD("MAIL FROM:<a@b> SIZE=1=2", SMTP_MAIL, PAR),
	BAD("MAIL FROM:<a@b> S_ZE=1", SMTP_MAIL, PAR),
	/* DEL is a control character wherever it appears. */
	BAD("MAIL FROM:<a@b> K=\x7f", SMTP_MAIL, SYN),
	/* 16 parameters are fine, the 17th is not. */
	OKPATH("MAIL FROM:<a@b> A B C D E F G H I J K L M N O P", SMTP_MAIL,
	       "a@b", "A B C D E F G H I J K L M N O P"),
	BAD("MAIL FROM:<a@b> A B C D E F G H I J K L M N O P Q", SMTP_MAIL,
	    PAR),

	/* RCPT TO */
	OKPATH("RCPT TO:<a@b>", SMTP_RCPT, "a@b", ""),
	OKPATH("rcpt to:<a@b> NOTIFY=NEVER", SMTP_RCPT, "a@b",
	       "NOTIFY=NEVER"),
	OKPATH("RCPT TO: <Postmaster>", SMTP_RCPT, "Postmaster", ""),
	OKPATH("RCPT TO:<@x,@y:u@d> ORCPT=rfc822;u@d", SMTP_RCPT, "u@d",
	       "ORCPT=rfc822;u@d"),
	BAD("RCPT TO:<>", SMTP_RCPT, SYN),
	BAD("RCPT TO:<> NOTIFY=NEVER", SMTP_RCPT, SYN),
	BAD("RCPT FROM:<a@b>", SMTP_RCPT, SYN),
	BAD("RCPT TO:a@b", SMTP_RCPT, SYN),
	BAD("RCPT", SMTP_RCPT, SYN),
	BAD("RCPT TO:<a@b> NOTIFY=", SMTP_RCPT, PAR),

	/* No arguments allowed. */
	OK("DATA", SMTP_DATA), OK("data", SMTP_DATA),
	BAD("DATA x", SMTP_DATA, SYN), BAD("DATA ", SMTP_DATA, SYN),
	OK("RSET", SMTP_RSET), OK("rset", SMTP_RSET),
	BAD("RSET x", SMTP_RSET, SYN), BAD("RSET ", SMTP_RSET, SYN),
	OK("QUIT", SMTP_QUIT), OK("Quit", SMTP_QUIT),
	BAD("QUIT now", SMTP_QUIT, SYN), BAD("QUIT ", SMTP_QUIT, SYN),
	OK("STARTTLS", SMTP_STARTTLS), OK("starttls", SMTP_STARTTLS),
	BAD("STARTTLS x", SMTP_STARTTLS, SYN),

	/* An argument is optional and ignored. */
	OK("NOOP", SMTP_NOOP), OKARG("NOOP anything at all", SMTP_NOOP,
				     "anything at all"),
	OK("HELP", SMTP_HELP), OKARG("help MAIL", SMTP_HELP, "MAIL"),
	OKARG("NOOP a\tb", SMTP_NOOP, "a\tb"),

	/* An argument is required. */
	OKARG("VRFY postmaster", SMTP_VRFY, "postmaster"),
	OKARG("EXPN staff list", SMTP_EXPN, "staff list"),
	OKARG("AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", SMTP_AUTH,
	      "PLAIN dGVzdAB0ZXN0AHRlc3Q="),
	OKARG("auth login", SMTP_AUTH, "login"),
	BAD("VRFY", SMTP_VRFY, SYN), BAD("EXPN", SMTP_EXPN, SYN),
	BAD("AUTH", SMTP_AUTH, SYN), BAD("AUTH ", SMTP_AUTH, SYN),

	/* BDAT: size [LAST] (checked in the bdat table too). */
	OK("BDAT 100", SMTP_BDAT), OK("bdat 0 last", SMTP_BDAT),
	BAD("BDAT", SMTP_BDAT, SYN),

	/* Control characters; TAB is tolerated. */
	BAD("NOOP \x01", SMTP_NOOP, SYN),
	BAD("HELO a\rb", SMTP_HELO, SYN),
	BAD("HELO a\nb", SMTP_HELO, SYN),
	BAD("MAIL FROM:<a\x1b@b>", SMTP_MAIL, SYN),
	BAD("RCPT TO:<a@b> X=\x7f\x01", SMTP_RCPT, SYN),

	/* Not commands. */
	BAD("", SMTP_VERB_COUNT, UNK),
	BAD(" ", SMTP_VERB_COUNT, UNK),
	BAD("FOO", SMTP_VERB_COUNT, UNK),
	BAD("FOO bar", SMTP_VERB_COUNT, UNK),
	BAD("MAI", SMTP_VERB_COUNT, UNK),
	BAD("MAILFROM:<a@b>", SMTP_VERB_COUNT, UNK),
	BAD(" MAIL FROM:<a@b>", SMTP_VERB_COUNT, UNK),
	BAD("MAIL\tFROM:<a@b>", SMTP_VERB_COUNT, UNK),
	BAD("XCLIENT ADDR=1.2.3.4", SMTP_VERB_COUNT, UNK),
	BAD("STARTTLSX", SMTP_VERB_COUNT, UNK),
	BAD("GET / HTTP/1.1", SMTP_VERB_COUNT, UNK),
	BAD("\x01QUIT", SMTP_VERB_COUNT, UNK),
};

static void params_text(const struct smtp_cmd *cmd, char *out, size_t size)
{
	size_t o = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < cmd->nparams; i++) {
		const struct smtp_param *p = &cmd->params[i];
		o += (size_t)snprintf(out + o, size - o, "%s%.*s", i ? " " : "",
				      (int)p->keylen, p->key);
		if (p->value != NULL)
			o += (size_t)snprintf(out + o, size - o, "=%.*s",
					      (int)p->valuelen, p->value);
		assert_true(o < size);
	}
}

/* What must hold of any result, whatever the input. */
static void check_invariants(const char *buf, size_t len, int rc,
			     const struct smtp_cmd *cmd)
{
	EXPECT(rc == 1 || rc == -1);
	EXPECT(cmd->nparams <= SMTP_PARAMS_MAX);
	if (rc < 0) {
		EXPECT(cmd->error != SMTP_PARSE_OK);
		EXPECT(cmd->reason != NULL);
		return;
	}
	EXPECT_INT(cmd->error, SMTP_PARSE_OK);
	EXPECT(cmd->verb < SMTP_VERB_COUNT);
	within(buf, len, cmd->arg, cmd->arglen);
	if (cmd->verb == SMTP_MAIL || cmd->verb == SMTP_RCPT)
		within(buf, len, cmd->path, cmd->pathlen);
	for (unsigned i = 0; i < cmd->nparams; i++) {
		within(buf, len, cmd->params[i].key, cmd->params[i].keylen);
		EXPECT(cmd->params[i].keylen > 0);
		if (cmd->params[i].value != NULL)
			within(buf, len, cmd->params[i].value,
			       cmd->params[i].valuelen);
	}
}

static void run_case(const struct smtp_case *c)
{
	struct smtp_cmd cmd;
	char got[512];
	size_t len = strlen(c->line);
	char *buf = exact(c->line, len);
	int rc = smtp_parse_command(buf, len, &cmd);

	cur = c->line;
	check_invariants(buf, len, rc, &cmd);
	EXPECT_INT(rc, c->rc);
	EXPECT_INT(cmd.verb, c->verb);
	EXPECT_INT(cmd.error, c->error);
	if (c->path != ANY)
		EXPECT_MEM(cmd.path, cmd.pathlen, c->path);
	if (c->params != ANY) {
		params_text(&cmd, got, sizeof(got));
		EXPECT_MEM(got, strlen(got), c->params);
	}
	if (c->arg != ANY)
		EXPECT_MEM(cmd.arg, cmd.arglen, c->arg);
	free(buf);
}

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* Each valid line cut at every length: never a crash or a read past the
 * end, and a recognized verb is always the whole line's verb. */
static void test_truncated(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct smtp_case *c = &cases[i];
		size_t full = strlen(c->line);
		if (c->rc != 1)
			continue;
		for (size_t len = 0; len <= full; len++) {
			struct smtp_cmd cmd;
			char *buf = exact(c->line, len);
			int rc = smtp_parse_command(buf, len, &cmd);
			cur = c->line;
			check_invariants(buf, len, rc, &cmd);
			if (cmd.verb != SMTP_VERB_COUNT)
				EXPECT_INT(cmd.verb, c->verb);
			if (rc < 0 && cmd.error == SMTP_PARSE_UNKNOWN)
				EXPECT(len <= strlen(smtp_verb_name(c->verb)));
			free(buf);
		}
	}
}

/* Bytes past len must not matter. */
static void test_len_respected(void **state)
{
	static const struct {
		const char *buf;
		size_t len;
		int rc;
		enum smtp_verb verb;
	} t[] = {
		{"DATA junk", 4, 1, SMTP_DATA},
		{"QUIT\r\n", 4, 1, SMTP_QUIT},
		{"MAIL FROM:<a@b> SIZE=\x01", 15, 1, SMTP_MAIL},
		{"BDAT 12 LAST", 7, 1, SMTP_BDAT},
		{"RSETX", 4, 1, SMTP_RSET},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct smtp_cmd cmd;
		assert_int_equal(smtp_parse_command(t[i].buf, t[i].len, &cmd),
				 t[i].rc);
		assert_int_equal(cmd.verb, t[i].verb);
	}
}

/* A NUL inside the line is a control character, not an end. */
static void test_embedded_nul(void **state)
{
	static const char line[] = "MAIL FROM:<a\0b@c>";
	struct smtp_cmd cmd;
	assert_int_equal(smtp_parse_command(line, sizeof(line) - 1, &cmd), -1);
	assert_int_equal(cmd.error, SMTP_PARSE_SYNTAX);
	assert_int_equal(smtp_parse_command("QUIT\0", 5, &cmd), -1);
	assert_int_equal(cmd.verb, SMTP_VERB_COUNT);
}

static void test_bdat(void **state)
{
	static const struct {
		const char *line;
		int rc;
		uint64_t size;
		bool last;
	} t[] = {
		{"BDAT 0", 1, 0, false},
		{"BDAT 100", 1, 100, false},
		{"BDAT 100 LAST", 1, 100, true},
		{"bdat 7 last", 1, 7, true},
		{"BDAT 5 Last", 1, 5, true},
		{"BDAT 0 LAST", 1, 0, true},
		{"BDAT 007", 1, 7, false},
		{"BDAT 9999999999999999999", 1, 9999999999999999999ULL, false},
		{"BDAT 9999999999999999999 LAST", 1, 9999999999999999999ULL,
		 true},
		/* 20 digits: may not fit 64 bits, refused before it wraps */
		{"BDAT 18446744073709551615", -1, 0, false},
		{"BDAT 18446744073709551616", -1, 0, false},
		{"BDAT 00000000000000000001", -1, 0, false},
		{"BDAT", -1, 0, false},
		{"BDAT ", -1, 0, false},
		{"BDAT  1", -1, 0, false},
		{"BDAT x", -1, 0, false},
		{"BDAT 1x", -1, 0, false},
		{"BDAT -1", -1, 0, false},
		{"BDAT +1", -1, 0, false},
		{"BDAT 0x10", -1, 0, false},
		{"BDAT 1 ", -1, 0, false},
		{"BDAT 1  LAST", -1, 0, false},
		{"BDAT 1 LAST ", -1, 0, false},
		{"BDAT 1 LAS", -1, 0, false},
		{"BDAT 1 LASTX", -1, 0, false},
		{"BDAT 1 FIRST", -1, 0, false},
		{"BDAT 1 LAST LAST", -1, 0, false},
		{"BDAT LAST", -1, 0, false},
		{"BDAT 1\tLAST", -1, 0, false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct smtp_cmd cmd;
		size_t len = strlen(t[i].line);
		char *buf = exact(t[i].line, len);
		cur = t[i].line;
		int rc = smtp_parse_command(buf, len, &cmd);
		check_invariants(buf, len, rc, &cmd);
		EXPECT_INT(rc, t[i].rc);
		EXPECT_INT(cmd.verb, SMTP_BDAT);
		if (rc == 1) {
			EXPECT(cmd.bdat_size == t[i].size);
			EXPECT_INT(cmd.bdat_last, t[i].last);
		} else {
			EXPECT_INT(cmd.error, SMTP_PARSE_SYNTAX);
		}
		free(buf);
	}
}

static void test_verb_names(void **state)
{
	static const char *const names[SMTP_VERB_COUNT] = {
		"HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET",
		"NOOP", "QUIT", "HELP", "VRFY", "EXPN", "STARTTLS", "AUTH",
	};
	for (int v = 0; v < SMTP_VERB_COUNT; v++) {
		struct smtp_cmd cmd;
		assert_string_equal(smtp_verb_name((enum smtp_verb)v),
				    names[v]);
		/* Every verb is recognized by its name, in any case. */
		char lower[16];
		size_t n = strlen(names[v]);
		for (size_t i = 0; i <= n; i++)
			lower[i] = (char)(names[v][i] | (i % 2 ? 0x20 : 0));
		smtp_parse_command(lower, n, &cmd);
		assert_int_equal(cmd.verb, v);
	}
	assert_string_equal(smtp_verb_name(SMTP_VERB_COUNT), "?");
	assert_string_equal(smtp_verb_name((enum smtp_verb)999), "?");
}

static void test_param_is(void **state)
{
	static const struct {
		const char *key, *name;
		bool is;
	} t[] = {
		{"SIZE", "SIZE", true}, {"size", "SIZE", true},
		{"SiZe", "size", true}, {"SIZ", "SIZE", false},
		{"SIZES", "SIZE", false}, {"BODY", "SIZE", false},
		{"", "SIZE", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct smtp_param p = {t[i].key, strlen(t[i].key), NULL, 0};
		assert_int_equal(smtp_param_is(&p, t[i].name), t[i].is);
	}
	/* The key is not NUL-terminated: only keylen bytes count. */
	struct smtp_param p = {"SIZE=10", 4, "10", 2};
	assert_true(smtp_param_is(&p, "size"));
}

/* Params as the session reads them: key and value lengths exact. */
static void test_param_fields(void **state)
{
	static const char line[] = "MAIL FROM:<a@b> SIZE=12345 SMTPUTF8 "
				   "BODY=8BITMIME";
	struct smtp_cmd cmd;
	assert_int_equal(smtp_parse_command(line, sizeof(line) - 1, &cmd), 1);
	assert_int_equal(cmd.nparams, 3);
	assert_true(smtp_param_is(&cmd.params[0], "SIZE"));
	assert_int_equal(cmd.params[0].valuelen, 5);
	assert_memory_equal(cmd.params[0].value, "12345", 5);
	assert_true(smtp_param_is(&cmd.params[1], "SMTPUTF8"));
	assert_null(cmd.params[1].value);
	assert_int_equal(cmd.params[1].valuelen, 0);
	assert_true(smtp_param_is(&cmd.params[2], "body"));
	assert_memory_equal(cmd.params[2].value, "8BITMIME", 8);
}

/* A result must not keep anything from the previous command. */
static void test_reuse(void **state)
{
	struct smtp_cmd cmd;
	assert_int_equal(smtp_parse_command("MAIL FROM:<a@b> SIZE=1 X", 24,
					    &cmd), 1);
	assert_int_equal(cmd.nparams, 2);
	assert_int_equal(smtp_parse_command("BDAT 5 LAST", 11, &cmd), 1);
	assert_true(cmd.bdat_last);
	assert_int_equal(smtp_parse_command("RCPT TO:<c@d>", 13, &cmd), 1);
	assert_int_equal(cmd.nparams, 0);
	assert_false(cmd.bdat_last);
	assert_int_equal(cmd.bdat_size, 0);
	assert_null(cmd.reason);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_len_respected),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_param_is),
		cmocka_unit_test(test_param_fields),
		cmocka_unit_test(test_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
