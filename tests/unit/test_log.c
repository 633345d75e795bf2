/* log: event lines.  A parser written from the format in log.h reads every
 * line back; each case checks the exact text, that the value decodes to
 * the input (or, when cut, to a prefix of it), and that no text can make a
 * field of its own. */
#include "unit.h"

#include <stdbool.h>
#include <unistd.h>

#include "core/log.h"

/* ---- a parser of the documented format ---- */

#define MAX_FIELDS 512

struct field {
	char key[64];
	size_t len;
	bool quoted;
	char value[LOG_LINE_MAX]; /* len bytes, then a NUL */
};

struct parsed {
	struct field f[MAX_FIELDS];
	size_t n;
};

static bool is_bare(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A quoted value at *pp (after its opening quote); -1 if malformed. */
static int parse_quoted(const char **pp, const char *end, struct field *f)
{
	const char *p = *pp;
	f->quoted = true;
	for (;;) {
		if (p >= end)
			return -1;
		unsigned char c = (unsigned char)*p++;
		if (c == '"')
			break;
		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c == '\\') {
			if (p >= end)
				return -1;
			char e = *p++;
			if (e == '"' || e == '\\') {
				c = (unsigned char)e;
			} else if (e == 'x' && end - p >= 2 &&
				   hexval(p[0]) >= 0 && hexval(p[1]) >= 0) {
				c = (unsigned char)(hexval(p[0]) * 16 +
						    hexval(p[1]));
				p += 2;
			} else {
				return -1;
			}
		}
		if (f->len + 1 >= sizeof(f->value))
			return -1;
		f->value[f->len++] = (char)c;
	}
	f->value[f->len] = '\0';
	*pp = p;
	return 0;
}

/* Split "tag[ event] key=value..." into fields; -1 if any part of the
 * line does not follow the format. */
static int parse_line(const char *line, size_t len, struct parsed *out)
{
	const char *p = line, *end = line + len;
	out->n = 0;
	/* The tag and event: words without '=' up to the first field. */
	while (p < end && *p != ' ')
		p++;
	while (p < end) {
		if (*p++ != ' ')
			return -1;
		const char *w = p;
		while (p < end && *p != ' ' && *p != '=')
			p++;
		if (p == end || *p == ' ') {
			if (out->n > 0)	/* a bare word after a field */
				return -1;
			continue;
		}
		if (out->n == MAX_FIELDS || (size_t)(p - w) >= 64 || p == w)
			return -1;
		struct field *f = &out->f[out->n++];
		memset(f, 0, offsetof(struct field, value) + 1);
		for (const char *k = w; k < p; k++)
			if (!((*k >= 'a' && *k <= 'z') ||
			      (*k >= '0' && *k <= '9') || *k == '_'))
				return -1;
		memcpy(f->key, w, (size_t)(p - w));
		p++;
		if (p < end && *p == '"') {
			p++;
			if (parse_quoted(&p, end, f) < 0)
				return -1;
			continue;
		}
		while (p < end && *p != ' ') {
			if (!is_bare((unsigned char)*p) ||
			    f->len + 1 >= sizeof(f->value))
				return -1;
			f->value[f->len++] = *p++;
		}
		if (f->len == 0)
			return -1;
		f->value[f->len] = '\0';
	}
	return 0;
}

static size_t count_key(const struct parsed *ps, const char *key)
{
	size_t n = 0;
	for (size_t i = 0; i < ps->n; i++)
		n += strcmp(ps->f[i].key, key) == 0;
	return n;
}

static const struct field *find(const struct parsed *ps, const char *key)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->f[i].key, key) == 0)
			return &ps->f[i];
	return NULL;
}

static struct parsed parsed;

/* What log_put() adds: "2024-05-01T12:00:00.000Z error " and "\n". */
#define LINE_PREFIX 32

/* The line "t client=192.0.2.1 v=<value> end=1" parses into exactly those
 * three fields, client and end unchanged, and v decodes to the input or,
 * when cut, to a prefix of it plus "...", with v_len giving its length. */
static void check_round_trip(const void *in, size_t len)
{
	struct str line = STR_INIT;
	log_begin(&line, "t", NULL, NULL);
	log_field(&line, "client", "192.0.2.1");
	log_value(&line, "v", in, len);
	log_field(&line, "end", "1");
	if (parse_line(line.data, line.len, &parsed) < 0)
		fail_msg("case \"%s\": unparsable line \"%s\"", esc(cur),
			 esc(line.data));
	const struct field *v = find(&parsed, "v");
	const struct field *vlen = find(&parsed, "v_len");
	EXPECT(v != NULL);
	EXPECT_INT(parsed.n, vlen ? 4 : 3);
	EXPECT_INT(count_key(&parsed, "client"), 1);
	EXPECT_STR(find(&parsed, "client")->value, "192.0.2.1");
	EXPECT_INT(count_key(&parsed, "end"), 1);
	EXPECT_STR(parsed.f[parsed.n - 1].key, "end");
	if (vlen == NULL) {
		EXPECT_INT(v->len, len);
		EXPECT(memcmp(v->value, in, len) == 0);
	} else {
		EXPECT(v->quoted);
		EXPECT_INT(strtoull(vlen->value, NULL, 10), len);
		EXPECT(v->len >= 3 && v->len - 3 < len);
		EXPECT(memcmp(v->value + v->len - 3, "...", 3) == 0);
		EXPECT(memcmp(v->value, in, v->len - 3) == 0);
	}
	str_free(&line);
}

/* ---- exact output ---- */

struct value_case {
	const char *in;
	size_t len;
	const char *want; /* after "t" */
};

#define V(s, w) {s, sizeof(s) - 1, w}

static const struct value_case value_cases[] = {
	V("abc", " k=abc"),
	V("", " k=\"\""),
	V("<a@example.com>", " k=<a@example.com>"),
	V("<>", " k=<>"),
	V("127.0.0.1", " k=127.0.0.1"),
	V("a b", " k=\"a b\""),
	V(" ", " k=\" \""),
	V("a\"b", " k=\"a\\\"b\""),
	V("a\\b", " k=\"a\\\\b\""),
	V("a=b", " k=\"a=b\""),
	V("=", " k=\"=\""),
	V("\\", " k=\"\\\\\""),
	V("\"", " k=\"\\\"\""),
	V("\r\n", " k=\"\\x0d\\x0a\""),
	V("\0", " k=\"\\x00\""),
	V("a\0b", " k=\"a\\x00b\""),
	V("\x1b[31m", " k=\"\\x1b[31m\""),
	V("\x7f", " k=\"\\x7f\""),
	V("\xff", " k=\"\\xff\""),
	V("caf\xc3\xa9", " k=\"caf\\xc3\\xa9\""),
	V("\t", " k=\"\\x09\""),
	/* The forgeries of issue 12. */
	V("<\"a client=203.0.113.77 result=too-many-errors\"@example.net>",
	  " k=\"<\\\"a client=203.0.113.77 result=too-many-errors\\\""
	  "@example.net>\""),
	V("y client=203.0.113.66 result=auth-failed",
	  " k=\"y client=203.0.113.66 result=auth-failed\""),
	/* A value that tries to close the quotes itself. */
	V("x\" client=203.0.113.5 y=\"", " k=\"x\\\" client=203.0.113.5 "
					 "y=\\\"\""),
	V("x\\\" client=1", " k=\"x\\\\\\\" client=1\""),
	V("ends in \\", " k=\"ends in \\\\\""),
	V("x\n2024-01-01T00:00:00.000Z info smtp[1] client=203.0.113.9",
	  " k=\"x\\x0a2024-01-01T00:00:00.000Z info smtp[1] "
	  "client=203.0.113.9\""),
};

static void test_value_exact(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]);
	     i++) {
		const struct value_case *c = &value_cases[i];
		struct str line = STR_INIT;
		char *in = exact(c->in, c->len);
		cur = c->want;
		log_begin(&line, "t", NULL, NULL);
		log_value(&line, "k", in, c->len);
		EXPECT_MEM(line.data + 1, line.len - 1, c->want);
		check_round_trip(in, c->len);
		free(in);
		str_free(&line);
	}
}

/* Every byte value alone, after a safe byte, and before a quote. */
static void test_every_byte(void **state)
{
	(void)state;
	for (unsigned b = 0; b < 256; b++) {
		char want[16];
		unsigned char in[3] = {(unsigned char)b, 'a', '"'};
		if (is_bare((unsigned char)b))
			snprintf(want, sizeof(want), " k=%c", b);
		else if (b == '"' || b == '\\')
			snprintf(want, sizeof(want), " k=\"\\%c\"", b);
		else if (b >= 0x20 && b < 0x7f)
			snprintf(want, sizeof(want), " k=\"%c\"", b);
		else
			snprintf(want, sizeof(want), " k=\"\\x%02x\"", b);
		cur = want;
		struct str line = STR_INIT;
		log_begin(&line, "t", NULL, NULL);
		log_value(&line, "k", in, 1);
		EXPECT_MEM(line.data + 1, line.len - 1, want);
		str_free(&line);
		for (size_t n = 1; n <= 3; n++)
			check_round_trip(in, n);
	}
}

/* Every pair of bytes round-trips: no escape swallows its neighbour. */
static void test_every_pair(void **state)
{
	(void)state;
	cur = "pairs";
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++) {
			unsigned char in[2] = {(unsigned char)a,
					       (unsigned char)b};
			check_round_trip(in, 2);
		}
}

static void fill(char *buf, size_t n, const char *pattern)
{
	size_t plen = strlen(pattern);
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern[i % plen];
}

/* Long values: the exact point of the cut for each kind of byte. */
static void test_long_values(void **state)
{
	(void)state;
	static const struct {
		const char *pattern;
		size_t len;
		size_t kept; /* input bytes kept, or len when not cut */
	} t[] = {
		{"a", LOG_VALUE_MAX - 1, LOG_VALUE_MAX - 1},
		{"a", LOG_VALUE_MAX, LOG_VALUE_MAX},
		{"a", LOG_VALUE_MAX + 1, LOG_VALUE_MAX - 3},
		{"a", 5000, LOG_VALUE_MAX - 3},
		{" ", LOG_VALUE_MAX, LOG_VALUE_MAX},
		{" ", LOG_VALUE_MAX + 1, LOG_VALUE_MAX - 3},
		{"\x01", LOG_VALUE_MAX / 4, LOG_VALUE_MAX / 4},
		{"\x01", LOG_VALUE_MAX / 4 + 1, (LOG_VALUE_MAX - 3) / 4},
		{"\"", LOG_VALUE_MAX, (LOG_VALUE_MAX - 3) / 2},
		{"a\xff", 1000, 203},	/* 203 bytes: 102 a + 101 \xff = 506 */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "pattern %zu len %zu", i,
			 t[i].len);
		cur = name;
		char *in = malloc(t[i].len);
		assert_non_null(in);
		fill(in, t[i].len, t[i].pattern);
		check_round_trip(in, t[i].len);
		struct str line = STR_INIT;
		log_begin(&line, "t", NULL, NULL);
		log_value(&line, "k", in, t[i].len);
		assert_int_equal(parse_line(line.data, line.len, &parsed), 0);
		const struct field *v = find(&parsed, "k");
		bool cut = t[i].kept < t[i].len;
		EXPECT_INT(v->len, t[i].kept + (cut ? 3 : 0));
		EXPECT_INT(count_key(&parsed, "k_len"), cut);
		/* Between the quotes, or bare: never more than the cap. */
		size_t written = line.len - strlen("t k=") -
				 (v->quoted ? 2 : 0);
		if (cut)
			written -= strlen(find(&parsed, "k_len")->value) +
				   strlen(" k_len=");
		EXPECT(written <= LOG_VALUE_MAX);
		free(in);
		str_free(&line);
	}
}

/* Any bytes, any length: the line parses and the value comes back. */
static void test_random(void **state)
{
	(void)state;
	static const char special[] = " \"\\=\r\n\x00\x1b\xff<>@";
	uint32_t x = 12345;
	char *in = malloc(2000);
	assert_non_null(in);
	cur = "random";
	for (int round = 0; round < 20000; round++) {
		x = x * 1103515245u + 12345u;
		size_t len = (x >> 8) % (round < 19000 ? 80 : 2000);
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			unsigned r = x >> 16;
			in[i] = (r & 3) == 0 ? special[(r >> 2) % 13]
				: (r & 3) == 1 ? (char)(r >> 4)
					       : (char)('a' + (r >> 4) % 26);
		}
		check_round_trip(in, len);
	}
	free(in);
}

/* The shape of an SMTP message line with forgeries in every text field. */
static void test_forged_line(void **state)
{
	(void)state;
	static const char *const evil[] = {
		"x client=203.0.113.1",
		"\" client=203.0.113.2 \"",
		"\\\" client=203.0.113.3",
		"a\r\nclient=203.0.113.4",
		"result=too-many-errors",
		"client=203.0.113.5",
	};
	cur = "forged";
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		struct str line = STR_INIT;
		log_begin(&line, "smtp", "00002a", "message");
		log_field(&line, "id", "K4TQ9ZB2M7XH");
		log_field(&line, "client", "%s", "127.0.0.1");
		log_field(&line, "size", "%d", 12);
		log_field(&line, "result", "delivered");
		log_cvalue(&line, "helo", evil[i]);
		log_cvalue(&line, "from", evil[i]);
		log_cvalue(&line, "to", evil[i]);
		log_cvalue(&line, "to", evil[i]);
		assert_int_equal(parse_line(line.data, line.len, &parsed), 0);
		static const char *const keys[] = {"id", "client", "size",
						   "result", "helo", "from",
						   "to", "to"};
		EXPECT_INT(parsed.n, 8);
		for (size_t k = 0; k < parsed.n; k++) {
			EXPECT_STR(parsed.f[k].key, keys[k]);
			if (k >= 4)
				EXPECT_STR(parsed.f[k].value, evil[i]);
		}
		EXPECT_STR(find(&parsed, "client")->value, "127.0.0.1");
		EXPECT(strncmp(line.data, "smtp[00002a] message id=", 24) ==
		       0);
		str_free(&line);
	}
}

/* log_field never cuts, and quotes what is not safe bare. */
static void test_field(void **state)
{
	(void)state;
	struct str line = STR_INIT;
	cur = "field";
	log_begin(&line, "pop3", "1", NULL);
	log_field(&line, "n", "%u", 42u);
	log_field(&line, "cause", "%s", "database or disk is full");
	log_field(&line, "empty", "%s", "");
	EXPECT_STR(line.data, "pop3[1] n=42 cause=\"database or disk is "
			      "full\" empty=\"\"");
	str_free(&line);

	char big[3000];
	fill(big, sizeof(big) - 1, "x");
	big[sizeof(big) - 1] = '\0';
	log_begin(&line, "t", NULL, "ev");
	log_field(&line, "big", "%s", big);
	EXPECT_INT(line.len, strlen("t ev big=") + sizeof(big) - 1);
	str_free(&line);

	log_begin(&line, "serve", NULL, "refused");
	EXPECT_STR(line.data, "serve refused");
	str_free(&line);
}

/* A long list keeps the fixed fields and the first items; the line stays
 * within LOG_LINE_MAX with the timestamp and level in front of it. */
static void test_list_budget(void **state)
{
	(void)state;
	static const size_t counts[] = {0, 1, 10, 100, 300, 1000};
	char rcpt[128];
	cur = "list";
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		struct str line = STR_INIT;
		size_t dropped = 0, n = counts[c];
		log_begin(&line, "smtp", "00002a", "message");
		log_field(&line, "client", "127.0.0.1");
		log_field(&line, "size", "%zu", n * 1000);
		log_field(&line, "result", "delivered");
		log_cvalue(&line, "from", "<\"a b\"@example.net>");
		for (size_t i = 0; i < n; i++) {
			int len = snprintf(rcpt, sizeof(rcpt),
					   "<user+%04zu-with-a-long-tag-to-fill"
					   "-the-line@example.com>",
					   i);
			log_item(&line, "to", rcpt, (size_t)len, &dropped);
		}
		log_more(&line, "to", dropped);
		EXPECT(line.len + LINE_PREFIX <= LOG_LINE_MAX);
		assert_int_equal(parse_line(line.data, line.len, &parsed), 0);
		size_t kept = count_key(&parsed, "to");
		EXPECT_INT(kept + dropped, n);
		EXPECT_INT(count_key(&parsed, "to_more"), dropped > 0);
		if (dropped > 0)
			EXPECT_INT(strtoull(find(&parsed, "to_more")->value,
					    NULL, 10),
				   dropped);
		EXPECT(n < 100 || dropped == 0 || kept > 50);
		EXPECT(n < 300 || dropped > 0);
		/* The first ones, in order. */
		for (size_t i = 0, k = 0; i < parsed.n; i++) {
			if (strcmp(parsed.f[i].key, "to") != 0)
				continue;
			snprintf(rcpt, sizeof(rcpt), "<user+%04zu-", k++);
			EXPECT(strncmp(parsed.f[i].value, rcpt,
				       strlen(rcpt)) == 0);
		}
		char size[32];
		snprintf(size, sizeof(size), "%zu", n * 1000);
		EXPECT_STR(find(&parsed, "size")->value, size);
		EXPECT_STR(find(&parsed, "result")->value, "delivered");
		str_free(&line);
	}
}

/* Once an item is left out, so is every later one, however short. */
static void test_list_order(void **state)
{
	(void)state;
	char big[LOG_VALUE_MAX];
	struct str line = STR_INIT;
	size_t dropped = 0;
	cur = "order";
	fill(big, sizeof(big), "b");
	log_begin(&line, "t", NULL, NULL);
	while (dropped == 0)
		log_item(&line, "to", big, sizeof(big), &dropped);
	log_item(&line, "to", "x", 1, &dropped);
	log_more(&line, "to", dropped);
	assert_int_equal(parse_line(line.data, line.len, &parsed), 0);
	EXPECT_INT(dropped, 2);
	for (size_t i = 0; i + 1 < parsed.n; i++)
		EXPECT_INT(parsed.f[i].len, sizeof(big));
	EXPECT_STR(parsed.f[parsed.n - 1].key, "to_more");
	EXPECT_STR(parsed.f[parsed.n - 1].value, "2");
	str_free(&line);
}

/* Many long text fields: each is cut so the line keeps within bounds
 * while there is room, and once it is full a value shrinks to "...". */
static void test_many_values(void **state)
{
	(void)state;
	char big[4000];
	cur = "many";
	fill(big, sizeof(big), "\x01");
	for (int n = 1; n <= 40; n++) {
		struct str line = STR_INIT;
		log_begin(&line, "t", NULL, NULL);
		log_field(&line, "client", "127.0.0.1");
		for (int i = 0; i < n; i++)
			log_value(&line, "v", big, sizeof(big));
		assert_int_equal(parse_line(line.data, line.len, &parsed), 0);
		EXPECT_INT(count_key(&parsed, "client"), 1);
		EXPECT_STR(find(&parsed, "client")->value, "127.0.0.1");
		EXPECT_INT(count_key(&parsed, "v"), n);
		EXPECT_INT(count_key(&parsed, "v_len"), n);
		const struct field *last = &parsed.f[parsed.n - 2];
		EXPECT(line.len + LINE_PREFIX <= LOG_LINE_MAX ||
		       (last->len == 3 && n > 10));
		str_free(&line);
	}
}

/* Read what fn writes to stderr. */
static size_t capture_stderr(void (*fn)(void), char *out, size_t size)
{
	char path[256];
	temp_template(path, sizeof(path), "log");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, out, size - 1, 0);
	close(fd);
	assert_true(n >= 0);
	out[n] = '\0';
	return (size_t)n;
}

static char long_text[LOG_LINE_MAX - 200];

static void put_long_line(void)
{
	struct str line = STR_INIT;
	log_begin(&line, "smtp", "00002a", "message");
	log_field(&line, "client", "127.0.0.1");
	log_field(&line, "pad", "%s", long_text);
	log_field(&line, "result", "delivered");
	log_put(LOG_INFO, &line);
	assert_null(line.data);
}

static void put_filtered(void)
{
	struct str line = STR_INIT;
	log_set_level(LOG_WARN);
	log_begin(&line, "t", NULL, "ev");
	log_put(LOG_INFO, &line);
	log_begin(&line, "t", NULL, "shown");
	log_put(LOG_WARN, &line);
	log_set_level(LOG_INFO);
}

static void test_put(void **state)
{
	(void)state;
	static char out[2 * LOG_LINE_MAX];
	cur = "put";
	fill(long_text, sizeof(long_text) - 1, "p");
	size_t n = capture_stderr(put_long_line, out, sizeof(out));
	/* One whole line: "YYYY-MM-DDTHH:MM:SS.mmmZ info smtp[...". */
	EXPECT(n <= LOG_LINE_MAX);
	EXPECT(n > sizeof(long_text));
	EXPECT(out[n - 1] == '\n');
	EXPECT(memchr(out, '\n', n - 1) == NULL);
	EXPECT(out[4] == '-' && out[10] == 'T' && out[19] == '.' &&
	       out[23] == 'Z');
	EXPECT(strncmp(out + 24, " info smtp[00002a] message client=", 34) ==
	       0);
	EXPECT(strstr(out, " result=delivered\n") != NULL);

	n = capture_stderr(put_filtered, out, sizeof(out));
	EXPECT(strstr(out, " warn t shown\n") != NULL);
	EXPECT(strstr(out, " ev") == NULL);
	EXPECT(strchr(out, '\n') == out + n - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_exact),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_every_pair),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_forged_line),
		cmocka_unit_test(test_field),
		cmocka_unit_test(test_list_budget),
		cmocka_unit_test(test_list_order),
		cmocka_unit_test(test_many_values),
		cmocka_unit_test(test_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
