/* import_parse_line: each case is one CSV line of `posthorn user import`
 * and the entry it gives, or the refusal the admin reads. */
#include "unit.h"

#include "cli/cli_import.h"

struct import_case {
	const char *line;
	int rc;
	const char *address;	/* rc 1: canonical; rc -1: part of err */
	const char *password;
	unsigned long long quota;
	const char *name;
};

#define ENTRY(l, a, p, q, n) {l, 1, a, p, q, n}
#define SKIP(l) {l, 0, NULL, NULL, 0, NULL}
#define REFUSE(l, why) {l, -1, why, NULL, 0, NULL}

static const struct import_case cases[] = {
	/* 2, 3 and 4 fields */
	ENTRY("bob@example.com,secret", "bob@example.com", "secret", 0, ""),
	ENTRY("Bob@Example.COM,secret,100", "bob@example.com", "secret", 100,
	      ""),
	ENTRY("bob@example.com,secret,1G,Bob Smith", "bob@example.com",
	      "secret", 1ULL << 30, "Bob Smith"),
	ENTRY("bob@example.com,secret,,Bob", "bob@example.com", "secret", 0,
	      "Bob"),
	ENTRY("bob@example.com,secret,", "bob@example.com", "secret", 0, ""),
	ENTRY("bob@example.com,secret,0,", "bob@example.com", "secret", 0,
	      ""),
	ENTRY("a@b.c,pw,10k", "a@b.c", "pw", 10240, ""),
	ENTRY("a@b.c,pw,2M", "a@b.c", "pw", 2ULL << 20, ""),
	ENTRY("a@b.c,pw,1T", "a@b.c", "pw", 1ULL << 40, ""),
	ENTRY("a@b.c,pw pw,1,  spaced  ", "a@b.c", "pw pw", 1, "  spaced  "),
	/* quoted fields */
	ENTRY("\"bob@example.com\",\"pa,ss\"", "bob@example.com", "pa,ss", 0,
	      ""),
	ENTRY("bob@example.com,\"say \"\"hi\"\"\"", "bob@example.com",
	      "say \"hi\"", 0, ""),
	ENTRY("bob@example.com,pw,0,\"Smith, Bob\"", "bob@example.com", "pw",
	      0, "Smith, Bob"),
	ENTRY("bob@example.com,pw,\"5\",\"\"", "bob@example.com", "pw", 5, ""),
	ENTRY("bob@example.com,\"\"\"\"", "bob@example.com", "\"", 0, ""),
	ENTRY("\"\"\"a b\"\"@example.com\",pw", "\"a b\"@example.com", "pw", 0,
	      ""),
	/* existing hashes are kept as they are */
	ENTRY("bob@example.com,{SHA512-CRYPT}$6$salt$abc", "bob@example.com",
	      "{SHA512-CRYPT}$6$salt$abc", 0, ""),
	/* international addresses are accepted and canonicalized */
	ENTRY("\xc3\xbc@B\xc3\xbc" "cher.example,pw",
	      "\xc3\xbc@xn--bcher-kva.example", "pw", 0, ""),
	/* blank and comment lines */
	SKIP(""), SKIP(" "), SKIP("\t \t"), SKIP("# a comment"),
	SKIP("  # indented comment"), SKIP("#bob@example.com,pw"),
	/* refused */
	REFUSE("bob@example.com", "expected address,password"),
	REFUSE("bob@example.com,", "empty password"),
	REFUSE("bob@example.com,,5", "empty password"),
	REFUSE("bob@example.com,\"\"", "empty password"),
	REFUSE("not-an-address,pw", "missing @domain"),
	REFUSE("bob@,pw", "empty domain"),
	REFUSE(",pw", "bad local part"),
	REFUSE("bob@exa mple.com,pw", "bad domain"),
	REFUSE("bob@[192.0.2.1],pw", "address literal"),
	REFUSE("bob@example.com,pw,lots", "bad quota"),
	REFUSE("bob@example.com,pw,1X", "bad quota"),
	REFUSE("bob@example.com,pw,10KB", "bad quota"),
	REFUSE("bob@example.com,pw,-1", "bad quota"),
	REFUSE("bob@example.com,pw, 1", "bad quota"),
	REFUSE("bob@example.com,pw,99999999999999999999", "bad quota"),
	REFUSE("bob@example.com,pw,16777216T", "bad quota"),
	REFUSE("a@b.c,pw,1,name,extra", "too many fields"),
	REFUSE("a@b.c,pw,1,Name,", "too many fields"),
	REFUSE("a@b.c,pw,1,Smith, Bob", "too many fields"),
	REFUSE("a@b.c,pw,1,\"x\"y", "text after a quoted field"),
	REFUSE("a@b.c,\"pw\" ,1", "text after a quoted field"),
	REFUSE("a@b.c,p\"w", "quote inside an unquoted field"),
	REFUSE("a@b.c,\"pw", "unterminated quoted field"),
	REFUSE("\"a@b.c,pw", "unterminated quoted field"),
	REFUSE(" bob@example.com,pw", "bad local part"),
};

static void run_case(const struct import_case *c)
{
	struct import_line r;
	const char *err = NULL;
	size_t len = strlen(c->line);
	char *buf = exact(c->line, len);
	cur = c->line;
	int rc = import_parse_line(buf, len, &r, &err);
	free(buf);
	EXPECT_INT(rc, c->rc);
	if (rc == 1) {
		EXPECT_STR(r.address, c->address);
		EXPECT_STR(r.password, c->password);
		EXPECT(r.quota == c->quota);
		EXPECT_STR(r.name, c->name);
	} else if (rc < 0) {
		EXPECT(err != NULL);
		if (strstr(err, c->address) == NULL)
			fail_msg("case \"%s\": err \"%s\", want \"%s\"",
				 esc(cur), err, c->address);
	}
}

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* Only len bytes count: what follows (a newline, the next line) is not
 * part of the entry. */
static void test_len_respected(void **state)
{
	struct import_line r;
	const char *err;
	static const char text[] = "a@b.c,pw,1,Name\nx@y.z,other";
	cur = text;
	EXPECT_INT(import_parse_line(text, 15, &r, &err), 1);
	EXPECT_STR(r.name, "Name");
	EXPECT_INT(import_parse_line("   \na@b.c,pw", 3, &r, &err), 0);
	EXPECT_INT(import_parse_line("a@b.c,pw\0junk", 13, &r, &err), -1);
	EXPECT_STR(err, "NUL byte in line");
	EXPECT_INT(import_parse_line("a@b.c,pw\0junk", 8, &r, &err), 1);
}

/* Fields are at most IMPORT_FIELD_MAX - 1 bytes, quoted or not. */
static void test_field_limit(void **state)
{
	static const struct {
		size_t n;
		bool quoted;
		int rc;
	} t[] = {
		{IMPORT_FIELD_MAX - 1, false, 1},
		{IMPORT_FIELD_MAX, false, -1},
		{IMPORT_FIELD_MAX - 1, true, 1},
		{IMPORT_FIELD_MAX, true, -1},
		{IMPORT_FIELD_MAX * 4, false, -1},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t cap = t[i].n + 64;
		char *line = malloc(cap);
		struct import_line r;
		const char *err;
		assert_non_null(line);
		int o = snprintf(line, cap, "a@b.c,pw,1,%s",
				 t[i].quoted ? "\"" : "");
		memset(line + o, 'n', t[i].n);
		o += (int)t[i].n;
		if (t[i].quoted)
			line[o++] = '"';
		cur = "long name";
		EXPECT_INT(import_parse_line(line, (size_t)o, &r, &err),
			   t[i].rc);
		if (t[i].rc == 1)
			EXPECT_INT(strlen(r.name), t[i].n);
		else
			EXPECT_STR(err, "field too long");
		free(line);
	}
}

/* A result never keeps anything of the line before. */
static void test_reuse(void **state)
{
	struct import_line r;
	const char *err;
	cur = "reuse";
	EXPECT_INT(import_parse_line("a@b.c,pw,5,Name", 15, &r, &err), 1);
	EXPECT_INT(import_parse_line("x@b.c,pw2", 9, &r, &err), 1);
	EXPECT_STR(r.name, "");
	EXPECT(r.quota == 0);
	EXPECT_INT(import_parse_line("# x", 3, &r, &err), 0);
	EXPECT_STR(r.address, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_len_respected),
		cmocka_unit_test(test_field_limit),
		cmocka_unit_test(test_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
