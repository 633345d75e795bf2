/* pop3_parse: each case is a command line and what the parser must make of
 * it; valid lines are also fed cut short at every length from an exactly
 * sized heap buffer. */
#include "unit.h"

#include "pop3/pop3_parse.h"

struct pop3_case {
	const char *line;
	int rc;
	enum pop3_verb verb;	/* POP3_VERB_COUNT: not recognized */
	enum pop3_parse_error error;
	unsigned nargs;
	const char *arg0, *arg1;
	uint32_t msg, lines;
};

#define V(x) POP3_##x
#define OK0(l, v) {l, 1, V(v), POP3_PARSE_OK, 0, NULL, NULL, 0, 0}
#define OK1(l, v, a) {l, 1, V(v), POP3_PARSE_OK, 1, a, NULL, 0, 0}
#define OK2(l, v, a, b) {l, 1, V(v), POP3_PARSE_OK, 2, a, b, 0, 0}
#define OKN(l, v, a, m) {l, 1, V(v), POP3_PARSE_OK, 1, a, NULL, m, 0}
#define OKT(l, a, b, m, n) {l, 1, POP3_TOP, POP3_PARSE_OK, 2, a, b, m, n}
#define SYN(l, v) {l, -1, V(v), POP3_PARSE_SYNTAX, 0, NULL, NULL, 0, 0}
#define UNK(l) {l, -1, POP3_VERB_COUNT, POP3_PARSE_UNKNOWN, 0, NULL, NULL, 0, 0}

static const struct pop3_case cases[] = {
	/* USER: exactly one argument, split on single spaces. */
	OK1("USER bob", USER, "bob"),
	OK1("user bob@example.com", USER, "bob@example.com"),
	OK1("uSeR X", USER, "X"),
	SYN("USER", USER), SYN("USER ", USER), SYN("USER a b", USER),
	SYN("USER  bob", USER), SYN("USER bob ", USER),

	/* PASS: the rest of the line, spaces and all. */
	OK1("PASS secret", PASS, "secret"),
	OK1("pass my secret pass", PASS, "my secret pass"),
	OK1("PASS  leading", PASS, " leading"),
	OK1("PASS trailing ", PASS, "trailing "),
	OK1("PASS a  b", PASS, "a  b"),
	OK1("PASS  ", PASS, " "),
	SYN("PASS", PASS), SYN("PASS ", PASS), SYN("PASS a\tb", PASS),

	OK2("APOP bob c4c9334bac560ecc979e58001b3e22fb", APOP, "bob",
	    "c4c9334bac560ecc979e58001b3e22fb"),
	SYN("APOP bob", APOP), SYN("APOP", APOP), SYN("APOP a b c", APOP),

	OK0("AUTH", AUTH), OK1("AUTH PLAIN", AUTH, "PLAIN"),
	OK2("AUTH PLAIN AGJvYgBzZWNyZXQ=", AUTH, "PLAIN", "AGJvYgBzZWNyZXQ="),
	SYN("AUTH a b c", AUTH), SYN("AUTH ", AUTH), SYN("AUTH  PLAIN", AUTH),

	OK0("CAPA", CAPA), SYN("CAPA x", CAPA), SYN("CAPA ", CAPA),
	OK0("STAT", STAT), OK0("stat", STAT), SYN("STAT 1", STAT),

	/* Message numbers: 1..2^32-1, decimal only. */
	OK0("LIST", LIST), OKN("LIST 1", LIST, "1", 1),
	OKN("LIST 0001", LIST, "0001", 1),
	OKN("LIST 4294967295", LIST, "4294967295", 4294967295u),
	OKN("LIST 0000000007", LIST, "0000000007", 7),
	SYN("LIST 0", LIST), SYN("LIST 00", LIST),
	SYN("LIST 4294967296", LIST), SYN("LIST 99999999999", LIST),
	SYN("LIST 00000000001", LIST), SYN("LIST 18446744073709551617", LIST),
	SYN("LIST 1a", LIST), SYN("LIST a", LIST), SYN("LIST -1", LIST),
	SYN("LIST +1", LIST), SYN("LIST 0x1", LIST), SYN("LIST 1 2", LIST),
	SYN("LIST ", LIST), SYN("LIST  1", LIST), SYN("LIST 1 ", LIST),
	OK0("UIDL", UIDL), OKN("UIDL 3", UIDL, "3", 3), SYN("UIDL 0", UIDL),
	SYN("UIDL x", UIDL),
	OKN("RETR 1", RETR, "1", 1), OKN("retr 42", RETR, "42", 42),
	SYN("RETR", RETR), SYN("RETR 0", RETR), SYN("RETR x", RETR),
	SYN("RETR 1 2", RETR),
	OKN("DELE 5", DELE, "5", 5), SYN("DELE", DELE), SYN("DELE 0", DELE),
	SYN("DELE 5 6", DELE),

	/* TOP msg n: a line count of 0 is fine, a message number of 0 not. */
	OKT("TOP 1 0", "1", "0", 1, 0), OKT("top 1 10", "1", "10", 1, 10),
	OKT("TOP 4294967295 4294967295", "4294967295", "4294967295",
	    4294967295u, 4294967295u),
	SYN("TOP", TOP), SYN("TOP 1", TOP), SYN("TOP 0 1", TOP),
	SYN("TOP 1 x", TOP), SYN("TOP 1 4294967296", TOP),
	SYN("TOP 1 2 3", TOP), SYN("TOP 1  2", TOP), SYN("TOP 1 2 ", TOP),
	SYN("TOP 1 -1", TOP),

	OK0("RSET", RSET), SYN("RSET x", RSET),
	OK0("NOOP", NOOP), SYN("NOOP x", NOOP),
	OK0("QUIT", QUIT), OK0("quit", QUIT), SYN("QUIT x", QUIT),
	SYN("QUIT ", QUIT),
	OK0("STLS", STLS), SYN("STLS x", STLS),

	/* Control characters, DEL included. */
	UNK("QUIT\r"), SYN("QUIT \r", QUIT), SYN("USER a\x7f", USER),
	SYN("USER a\x01", USER),
	SYN("LIST \x1b", LIST), SYN("PASS se\ncret", PASS),

	UNK(""), UNK(" "), UNK("FOO"), UNK(" USER a"), UNK("USERX a"),
	UNK("TOP1"), UNK("USER\ta"), UNK("LAST"), UNK("XTND XMIT"),
	UNK("\x01USER a"), UNK("HELO x"),
};

static void check_invariants(const char *buf, size_t len, int rc,
			     const struct pop3_cmd *cmd)
{
	EXPECT(rc == 1 || rc == -1);
	EXPECT(cmd->nargs <= 2);
	if (rc < 0) {
		EXPECT(cmd->error != POP3_PARSE_OK);
		EXPECT(cmd->reason != NULL);
		return;
	}
	EXPECT(cmd->verb < POP3_VERB_COUNT);
	within(buf, len, cmd->rest, cmd->restlen);
	for (unsigned i = 0; i < cmd->nargs; i++) {
		within(buf, len, cmd->args[i], cmd->arglens[i]);
		EXPECT(cmd->arglens[i] > 0);
	}
	switch (cmd->verb) {
	case POP3_RETR: case POP3_DELE: case POP3_TOP:
		EXPECT(cmd->msg != 0);
		break;
	case POP3_LIST: case POP3_UIDL:
		EXPECT((cmd->msg != 0) == (cmd->nargs == 1));
		break;
	default:
		EXPECT(cmd->msg == 0);
	}
}

static void run_case(const struct pop3_case *c)
{
	struct pop3_cmd cmd;
	size_t len = strlen(c->line);
	char *buf = exact(c->line, len);
	int rc = pop3_parse_command(buf, len, &cmd);
	cur = c->line;
	check_invariants(buf, len, rc, &cmd);
	EXPECT_INT(rc, c->rc);
	EXPECT_INT(cmd.verb, c->verb);
	EXPECT_INT(cmd.error, c->error);
	if (rc == 1) {
		EXPECT_INT(cmd.nargs, c->nargs);
		if (c->nargs >= 1)
			EXPECT_MEM(cmd.args[0], cmd.arglens[0], c->arg0);
		if (c->nargs >= 2)
			EXPECT_MEM(cmd.args[1], cmd.arglens[1], c->arg1);
		EXPECT_INT(cmd.msg, c->msg);
		EXPECT_INT(cmd.lines, c->lines);
	}
	free(buf);
}

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

static void test_truncated(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pop3_case *c = &cases[i];
		size_t full = strlen(c->line);
		if (c->rc != 1)
			continue;
		for (size_t len = 0; len <= full; len++) {
			struct pop3_cmd cmd;
			char *buf = exact(c->line, len);
			int rc = pop3_parse_command(buf, len, &cmd);
			cur = c->line;
			check_invariants(buf, len, rc, &cmd);
			if (cmd.verb != POP3_VERB_COUNT)
				EXPECT_INT(cmd.verb, c->verb);
			free(buf);
		}
	}
}

/* PASS keeps the whole rest of the line; rest is the same for others. */
static void test_rest(void **state)
{
	static const struct {
		const char *line, *rest;
	} t[] = {
		{"PASS a b c", "a b c"}, {"USER bob", "bob"},
		{"TOP 1 2", "1 2"}, {"QUIT", ""}, {"AUTH PLAIN x", "PLAIN x"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct pop3_cmd cmd;
		cur = t[i].line;
		EXPECT_INT(pop3_parse_command(t[i].line, strlen(t[i].line),
					      &cmd), 1);
		EXPECT_MEM(cmd.rest, cmd.restlen, t[i].rest);
	}
}

static void test_len_respected(void **state)
{
	struct pop3_cmd cmd;
	cur = "QUIT\r\n";
	EXPECT_INT(pop3_parse_command("QUIT\r\n", 4, &cmd), 1);
	cur = "RETR 12";
	EXPECT_INT(pop3_parse_command("RETR 12", 6, &cmd), 1);
	EXPECT_INT(cmd.msg, 1);
	cur = "PASS abc\0";
	EXPECT_INT(pop3_parse_command("PASS abc\0", 9, &cmd), -1);
	EXPECT_INT(cmd.error, POP3_PARSE_SYNTAX);
}

static void test_verb_names(void **state)
{
	static const char *const names[POP3_VERB_COUNT] = {
		"USER", "PASS", "AUTH", "CAPA", "STAT", "LIST", "UIDL",
		"RETR", "TOP", "DELE", "RSET", "NOOP", "QUIT", "STLS", "APOP",
	};
	for (int v = 0; v < POP3_VERB_COUNT; v++)
		assert_string_equal(pop3_verb_name((enum pop3_verb)v),
				    names[v]);
	assert_string_equal(pop3_verb_name(POP3_VERB_COUNT), "?");
}

/* Nothing of one command leaks into the next. */
static void test_reuse(void **state)
{
	struct pop3_cmd cmd;
	assert_int_equal(pop3_parse_command("TOP 3 4", 7, &cmd), 1);
	assert_int_equal(pop3_parse_command("LIST", 4, &cmd), 1);
	assert_int_equal(cmd.msg, 0);
	assert_int_equal(cmd.lines, 0);
	assert_int_equal(cmd.nargs, 0);
	assert_null(cmd.reason);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_rest),
		cmocka_unit_test(test_len_respected),
		cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
