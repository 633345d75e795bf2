/* addr: each case is an address, the flags it is parsed with and the
 * canonical text the store would keep (or a refusal).  Every accepted case
 * is also checked to re-parse to itself. */
#include "unit.h"

#include "mime/addr.h"

#define U ADDR_UTF8
#define L ADDR_LOCAL_MAX

struct addr_case {
	const char *in;
	unsigned flags;
	const char *canon;	/* NULL: refused */
	int literal, quoted;	/* -1: don't check */
	const char *local;	/* NULL: don't check */
};

#define GOOD(in, fl, canon) {in, fl, canon, -1, -1, NULL}
#define BAD(in, fl) {in, fl, NULL, -1, -1, NULL}

static const struct addr_case cases[] = {
	/* Dot-strings, folded to lower case. */
	GOOD("user@example.com", 0, "user@example.com"),
	GOOD("User@Example.COM", 0, "user@example.com"),
	GOOD("USER@EXAMPLE.COM", U, "user@example.com"),
	GOOD("first.last@example.com", 0, "first.last@example.com"),
	GOOD("a.b.c@x.y", 0, "a.b.c@x.y"),
	GOOD("a@b", 0, "a@b"),
	GOOD("!#$%&'*+-/=?^_`{|}~@x", 0, "!#$%&'*+-/=?^_`{|}~@x"),
	GOOD("user+tag@example.com", 0, "user+tag@example.com"),
	{"user%remote@local", 0, "user%remote@local", 0, 0, "user%remote"},
	BAD(".a@x", 0), BAD("a.@x", 0), BAD("a..b@x", 0), BAD(".@x", 0),
	BAD("a b@x", 0), BAD("a(b)@x", 0), BAD("a,b@x", 0), BAD("a:b@x", 0),
	BAD("a;b@x", 0), BAD("a<b@x", 0), BAD("a\\b@x", 0), BAD("a[b@x", 0),
	BAD("@x", 0), BAD("a@", 0), BAD("a", 0), BAD("", 0), BAD("@", 0),
	BAD("a@b@c", 0), BAD("a\"b@x", 0), BAD("a@x y", 0),

	/* Quoted local parts: quotes only when needed. */
	{"\"john\"@x", 0, "john@x", 0, 0, "john"},
	{"\"John.Smith\"@x", 0, "john.smith@x", 0, 0, "john.smith"},
	{"\"a b\"@x", 0, "\"a b\"@x", 0, 1, "a b"},
	{"\"A B\"@X", 0, "\"a b\"@x", 0, 1, "a b"},
	{"\"user@remote\"@local", 0, "\"user@remote\"@local", 0, 1,
	 "user@remote"},
	{"\"a\\\"b\"@x", 0, "\"a\\\"b\"@x", 0, 1, "a\"b"},
	{"\"a\\\\b\"@x", 0, "\"a\\\\b\"@x", 0, 1, "a\\b"},
	{"\"\\a\"@x", 0, "a@x", 0, 0, "a"},
	{"\"\\ \"@x", 0, "\" \"@x", 0, 1, " "},
	{"\"\"@x", 0, "\"\"@x", 0, 1, ""},
	{"\"a..b\"@x", 0, "\"a..b\"@x", 0, 1, "a..b"},
	{"\".a\"@x", 0, "\".a\"@x", 0, 1, ".a"},
	{"\"a>b\"@x", 0, "\"a>b\"@x", 0, 1, "a>b"},
	{"\"a,b\"@x", 0, "\"a,b\"@x", 0, 1, "a,b"},
	{"\"a\tb\"@x", 0, NULL, -1, -1, NULL},
	BAD("\"a\"b@x", 0), BAD("\"a\".b@x", 0), BAD("\"abc@x", 0),
	BAD("\"a\\", 0), BAD("\"", 0), BAD("\"a\"", 0), BAD("\"a\"@", 0),
	BAD("\"a\x01\"@x", 0), BAD("\"a\\\x01\"@x", 0), BAD("\"a\x7f\"@x", 0),
	BAD("\"a\\\x7f\"@x", 0), BAD("a\"b\"@x", 0),

	/* Domains: LDH labels of 1..63 octets, folded. */
	GOOD("a@a-b.example", 0, "a@a-b.example"),
	GOOD("a@123.example", 0, "a@123.example"),
	GOOD("a@x--y.example", 0, "a@x--y.example"),
	BAD("a@-a.com", 0), BAD("a@a-.com", 0), BAD("a@x.-b.com", 0),
	BAD("a@x..y", 0), BAD("a@.x", 0), BAD("a@x.", 0), BAD("a@x_y.com", 0),
	BAD("a@x y.com", 0), BAD("a@x!.com", 0), BAD("a@.", 0),

	/* IDN: UTF-8 only with SMTPUTF8; domains become A-labels. */
	{"\xc3\xbc@b\xc3\xbc" "cher.example", U,
	 "\xc3\xbc@xn--bcher-kva.example", 0, 0, "\xc3\xbc"},
	BAD("\xc3\xbc@b\xc3\xbc" "cher.example", 0),
	BAD("\xc3\xbc@example.com", 0),
	BAD("user@b\xc3\xbc" "cher.example", 0),
	GOOD("user@b\xc3\xbc" "cher.example", U, "user@xn--bcher-kva.example"),
	GOOD("user@B\xc3\x9c" "CHER.Example", U, "user@xn--bcher-kva.example"),
	GOOD("user@XN--BCHER-KVA.EXAMPLE", 0, "user@xn--bcher-kva.example"),
	GOOD("user@xn--bcher-kva.example", U, "user@xn--bcher-kva.example"),
	GOOD("\"\xc3\xbc x\"@example.com", U, "\"\xc3\xbc x\"@example.com"),
	BAD("\"\xc3\xbc x\"@example.com", 0),
	BAD("user@\xff.example", U),

	/* UTF-8 local parts: well-formed only (RFC 3629), stored in NFC
	 * (RFC 6532 3.1).  "caf\xc3\xa9" is U+00E9, "cafe\xcc\x81" is
	 * e + U+0301: one account. */
	{"caf\xc3\xa9@x", U, "caf\xc3\xa9@x", 0, 0, "caf\xc3\xa9"},
	{"cafe\xcc\x81@x", U, "caf\xc3\xa9@x", 0, 0, "caf\xc3\xa9"},
	{"CAFE\xcc\x81@x", U, "caf\xc3\xa9@x", 0, 0, "caf\xc3\xa9"},
	{"\"cafe\xcc\x81\"@x", U, "caf\xc3\xa9@x", 0, 0, "caf\xc3\xa9"},
	{"\"cafe\xcc\x81 x\"@x", U, "\"caf\xc3\xa9 x\"@x", 0, 1, NULL},
	/* Capitals fold before NFC: "J" + caron has no precomposed form,
	 * "j" + caron does (U+01F0). */
	GOOD("J\xcc\x8c@x", U, "\xc7\xb0@x"),
	/* NFC maps KELVIN SIGN to "K", folded like any capital, and GREEK
	 * QUESTION MARK to ";", which then needs quotes. */
	GOOD("\xe2\x84\xaa" "elvin@x", U, "kelvin@x"),
	{"a\xcd\xbe" "b@x", U, "\"a;b\"@x", 0, 1, "a;b"},
	/* Non-ASCII letters keep their case. */
	GOOD("\xc3\x89t\xc3\xa9@x", U, "\xc3\x89t\xc3\xa9@x"),
	/* A lone combining mark is a valid (if odd) local part. */
	GOOD("\xcc\x81@x", U, "\xcc\x81@x"),
	GOOD("\xef\xbf\xbf@x", U, "\xef\xbf\xbf@x"),   /* U+FFFF */
	GOOD("\xf4\x8f\xbf\xbf@x", U, "\xf4\x8f\xbf\xbf@x"), /* U+10FFFF */
	BAD("\xc3@x", U),		  /* cut sequence */
	BAD("a\xc3\"@x", U),
	BAD("\xa9@x", U),		  /* lone continuation byte */
	BAD("\xc0\x80@x", U),		  /* overlong NUL */
	BAD("\xc1\xbf@x", U),		  /* overlong DEL */
	BAD("\xe0\x80\xaf@x", U),	  /* overlong "/" */
	BAD("\xe0\x9f\xbf@x", U),
	BAD("\xf0\x80\x80\xaf@x", U),
	BAD("\xed\xa0\x80@x", U),	  /* U+D800, a surrogate */
	BAD("\xed\xbf\xbf@x", U),	  /* U+DFFF */
	BAD("\xf4\x90\x80\x80@x", U),	  /* U+110000 */
	BAD("\xf5\x80\x80\x80@x", U),
	BAD("\xf8\x88\x80\x80\x80@x", U), /* 5-octet form */
	BAD("\xfe@x", U), BAD("\xff@x", U),
	BAD("\"\xc3\"@x", U), BAD("\"\xed\xa0\x80\"@x", U),
	BAD("a@b\xc3.example", U), BAD("a@\xed\xa0\x80.example", U),

	/* Address literals, normalized. */
	{"a@[192.0.2.1]", 0, "a@[192.0.2.1]", 1, 0, "a"},
	{"a@[IPv6:2001:db8::1]", 0, "a@[IPv6:2001:db8::1]", 1, 0, "a"},
	GOOD("a@[IPv6:2001:0DB8:0:0:0:0:0:1]", 0, "a@[IPv6:2001:db8::1]"),
	GOOD("a@[ipv6:2001:DB8::1]", 0, "a@[IPv6:2001:db8::1]"),
	GOOD("a@[IPv6:::1]", 0, "a@[IPv6:::1]"),
	GOOD("a@[IPv6:::ffff:192.0.2.1]", 0, "a@[IPv6:::ffff:192.0.2.1]"),
	GOOD("Postmaster@[127.0.0.1]", 0, "postmaster@[127.0.0.1]"),
	BAD("a@[]", 0), BAD("a@[", 0), BAD("a@]", 0), BAD("a@[192.0.2.1", 0),
	BAD("a@[300.1.1.1]", 0), BAD("a@[1.2.3]", 0), BAD("a@[1.2.3.4.5]", 0),
	BAD("a@[192.0.2.1]x", 0), BAD("a@[192.0.2.1]]", 0),
	BAD("a@[ 192.0.2.1]", 0), BAD("a@[2001:db8::1]", 0),
	BAD("a@[IPv6:zz::1]", 0), BAD("a@[IPv6:1:2:3:4:5:6:7:8:9]", 0),
	BAD("a@[IPv6:192.0.2.1]", 0), BAD("a@[IPv6:]", 0),
	BAD("a@[tag:content]", 0), BAD("a@[example.com]", 0),
	BAD("a@[0x7f.0.0.1]", 0),
};

static void run_case(const struct addr_case *c)
{
	struct addr a;
	const char *err = NULL;
	char out[ADDR_TEXT_MAX];
	size_t len = strlen(c->in);
	char *buf = exact(c->in, len);

	cur = c->in;
	int rc = addr_parse(buf, len, c->flags, &a, &err);
	free(buf);
	if (c->canon == NULL) {
		EXPECT_INT(rc, -1);
		EXPECT(err != NULL && err[0] != '\0');
		return;
	}
	if (rc != 1)
		fail_msg("case \"%s\": refused (%s)", esc(cur), err);
	addr_format(&a, out);
	EXPECT_STR(out, c->canon);
	if (c->literal >= 0)
		EXPECT_INT(a.literal, c->literal);
	if (c->quoted >= 0)
		EXPECT_INT(a.quoted, c->quoted);
	if (c->local != NULL)
		EXPECT_STR(a.local, c->local);
}

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* The canonical text parses back to itself, with the same flags. */
static void test_idempotent(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr a, b;
		const char *err;
		char one[ADDR_TEXT_MAX], two[ADDR_TEXT_MAX];
		const struct addr_case *c = &cases[i];
		if (c->canon == NULL)
			continue;
		cur = c->in;
		EXPECT_INT(addr_parse(c->in, strlen(c->in), c->flags, &a, &err),
			   1);
		addr_format(&a, one);
		EXPECT_INT(addr_parse(one, strlen(one), c->flags, &b, &err), 1);
		addr_format(&b, two);
		EXPECT_STR(two, one);
		EXPECT(memcmp(&a, &b, sizeof(a)) == 0);
	}
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Local part: 64 octets at most, counted unquoted. */
static void test_local_limit(void **state)
{
	static const struct {
		size_t n;
		bool quoted;
		char fill;
		int rc;
	} t[] = {
		{1, false, 'a', 1},	{63, false, 'a', 1},
		{L, false, 'a', 1},	{L + 1, false, 'a', -1},
		{300, false, 'a', -1},	{L, true, ' ', 1},
		{L + 1, true, ' ', -1}, {L, true, '"', 1},
		{L, true, 'a', 1},	{L + 1, true, 'a', -1},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char in[1024], out[ADDR_TEXT_MAX];
		struct addr a;
		const char *err;
		char *fill = repeat(t[i].fill, t[i].n);
		size_t o = 0;
		if (t[i].quoted) {
			in[o++] = '"';
			for (size_t k = 0; k < t[i].n; k++) {
				if (fill[k] == '"')
					in[o++] = '\\';
				in[o++] = fill[k];
			}
			in[o++] = '"';
		} else {
			memcpy(in, fill, t[i].n);
			o = t[i].n;
		}
		memcpy(in + o, "@x.example", 11);
		cur = in;
		EXPECT_INT(addr_parse(in, strlen(in), 0, &a, &err), t[i].rc);
		if (t[i].rc == 1) {
			EXPECT_INT(strlen(a.local), t[i].n);
			addr_format(&a, out);
			EXPECT(strlen(out) < ADDR_TEXT_MAX);
		}
		free(fill);
	}
}

/* "aaa...a.bbb...b.ccc" with labels of the given lengths. */
static void make_domain(char *out, const size_t *labels, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			out[o++] = '.';
		memset(out + o, (int)('a' + i), labels[i]);
		o += labels[i];
	}
	out[o] = '\0';
}

static void test_domain_limits(void **state)
{
	static const struct {
		size_t labels[8];
		size_t n;
		int rc;
	} t[] = {
		{{63, 3}, 2, 1},
		{{64, 3}, 2, -1},
		{{3, 64}, 2, -1},
		{{63, 63, 63, 63}, 4, 1},	/* 255 octets */
		{{63, 63, 63, 64}, 4, -1},	/* 256 */
		{{63, 63, 63, 62}, 4, 1},	/* 254 */
		{{63, 63, 63, 63, 1}, 5, -1},	/* 257 */
		{{1}, 1, 1},
		{{40, 40, 40, 40, 40, 40, 40}, 7, -1}, /* 286 */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char dom[600], in[700], out[ADDR_TEXT_MAX];
		struct addr a;
		const char *err;
		make_domain(dom, t[i].labels, t[i].n);
		snprintf(in, sizeof(in), "u@%s", dom);
		cur = in;
		EXPECT_INT(addr_parse(in, strlen(in), 0, &a, &err), t[i].rc);
		if (t[i].rc == 1) {
			EXPECT_STR(a.domain, dom);
			addr_format(&a, out);
			EXPECT(strlen(out) < ADDR_TEXT_MAX);
		}
		EXPECT_INT(addr_domain_canon(dom, strlen(dom), 0, out, &err),
			   t[i].rc);
	}
}

/* The largest canonical address fits ADDR_TEXT_MAX with its NUL. */
static void test_text_max(void **state)
{
	static const size_t labels[] = {63, 63, 63, 63};
	char dom[300], in[1024], out[ADDR_TEXT_MAX + 16];
	struct addr a;
	const char *err;
	size_t o = 0;
	make_domain(dom, labels, 4);
	in[o++] = '"';
	for (int k = 0; k < ADDR_LOCAL_MAX; k++) {
		in[o++] = '\\';
		in[o++] = '"';
	}
	snprintf(in + o, sizeof(in) - o, "\"@%s", dom);
	cur = "64 escaped quotes @ 255-octet domain";
	EXPECT_INT(addr_parse(in, strlen(in), 0, &a, &err), 1);
	memset(out, 'X', sizeof(out));
	addr_format(&a, out);
	EXPECT(strlen(out) + 1 <= ADDR_TEXT_MAX);
	EXPECT_STR(out, in);
}

static void test_domain_canon(void **state)
{
	static const struct {
		const char *in;
		unsigned flags;
		const char *out;
	} t[] = {
		{"Example.COM", 0, "example.com"},
		{"example.com", 0, "example.com"},
		{"b\xc3\xbc" "cher.example", U, "xn--bcher-kva.example"},
		{"b\xc3\xbc" "cher.example", 0, NULL},
		{"", 0, NULL},
		{"[192.0.2.1]", 0, NULL},
		{"a..b", 0, NULL},
		{"exa mple.com", 0, NULL},
		{"m\xc3\xbcnchen.de", U, "xn--mnchen-3ya.de"},
		/* IDNA2008 has no symbols (IDNA2003 allowed this one). */
		{"\xe2\x98\x83.example", U, NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[ADDR_DOMAIN_MAX + 1];
		const char *err;
		cur = t[i].in;
		int rc = addr_domain_canon(t[i].in, strlen(t[i].in), t[i].flags,
					   out, &err);
		EXPECT_INT(rc, t[i].out ? 1 : -1);
		if (t[i].out)
			EXPECT_STR(out, t[i].out);
	}
	/* Only len bytes count; a NUL inside is refused. */
	char out[ADDR_DOMAIN_MAX + 1];
	const char *err;
	cur = "example.comX";
	EXPECT_INT(addr_domain_canon("example.comX", 11, 0, out, &err), 1);
	EXPECT_STR(out, "example.com");
	cur = "exa\\0mple.com";
	EXPECT_INT(addr_domain_canon("exa\0mple.com", 12, 0, out, &err), -1);
}

/* Bytes after len, or a NUL inside, never change the outcome. */
static void test_embedded_nul(void **state)
{
	static const struct {
		const char *in;
		size_t len;
	} t[] = {
		{"a\0b@x", 5},
		{"a@x\0y", 5},
		{"\"a\0b\"@x", 8},
		{"a@[192.0.2.1\0x]", 15},
		{"a@[IPv6:::1\0zz]", 15},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct addr a;
		const char *err;
		cur = t[i].in;
		EXPECT_INT(addr_parse(t[i].in, t[i].len, 0, &a, &err), -1);
	}
	struct addr a;
	const char *err;
	cur = "a@xyz";
	EXPECT_INT(addr_parse("a@xyz", 3, 0, &a, &err), 1);
	EXPECT_STR(a.domain, "x");
}

/* The reason for malformed UTF-8 names it: SMTP sends it in its 553. */
static void test_utf8_error_text(void **state)
{
	static const char *const bad[] = {
		"\xc3@x", "\xc0\x80@x", "\xed\xa0\x80@x", "\xf4\x90\x80\x80@x",
		"\"\xc3 \"@x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct addr a;
		const char *err = NULL;
		cur = bad[i];
		EXPECT_INT(addr_parse(bad[i], strlen(bad[i]), U, &a, &err), -1);
		EXPECT_STR(err, "invalid UTF-8 in local part");
	}
	struct addr a;
	const char *err = NULL;
	cur = "a@b\xc3.example";
	EXPECT_INT(addr_parse(cur, strlen(cur), U, &a, &err), -1);
	EXPECT_STR(err, "invalid UTF-8 in domain");
}

/* The 64-octet limit holds for the stored (NFC) form, which can be longer
 * or shorter than what was sent. */
static void test_utf8_local_limit(void **state)
{
	char in[256], out[ADDR_TEXT_MAX];
	struct addr a;
	const char *err;
	size_t o = 0;

	/* 21 x (e + U+0301): 63 octets sent, 42 stored. */
	for (int k = 0; k < 21; k++) {
		memcpy(in + o, "e\xcc\x81", 3);
		o += 3;
	}
	memcpy(in + o, "@x", 3);
	cur = "21 decomposed e-acute (63 octets, 42 in NFC)";
	EXPECT_INT(addr_parse(in, strlen(in), U, &a, &err), 1);
	EXPECT_INT(strlen(a.local), 42);
	addr_format(&a, out);
	EXPECT(strlen(out) < ADDR_TEXT_MAX);

	/* U+0958 has no NFC composition: 3 octets become 6.  11 of them
	 * (33 octets) become 66, past the limit. */
	o = 0;
	for (int k = 0; k < 11; k++) {
		memcpy(in + o, "\xe0\xa5\x98", 3);
		o += 3;
	}
	memcpy(in + o, "@x", 3);
	cur = "11 x U+0958 (66 octets in NFC)";
	EXPECT_INT(addr_parse(in, strlen(in), U, &a, &err), -1);
	EXPECT_STR(err, "local part too long");
	/* 10 of them (60 octets in NFC) fit. */
	memmove(in + 30, in + 33, 3);
	cur = "10 x U+0958 (60 octets in NFC)";
	EXPECT_INT(addr_parse(in, strlen(in), U, &a, &err), 1);
	EXPECT_INT(strlen(a.local), 60);
}

static void test_is_utf8(void **state)
{
	assert_false(addr_is_utf8("plain@example.com", 17));
	assert_false(addr_is_utf8("", 0));
	assert_true(addr_is_utf8("\xc3\xbc", 2));
	assert_true(addr_is_utf8("a\x80", 2));
	assert_false(addr_is_utf8("a\x80", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_local_limit),
		cmocka_unit_test(test_domain_limits),
		cmocka_unit_test(test_text_max),
		cmocka_unit_test(test_domain_canon),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_utf8_error_text),
		cmocka_unit_test(test_utf8_local_limit),
		cmocka_unit_test(test_is_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
