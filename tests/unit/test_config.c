/* config: defaults, --set assignments and INI files, each case with the
 * value `posthorn config` would then print or the message an admin would
 * read. */
#include <unistd.h>

#include <ini.h>

#include "unit.h"

#include "core/config.h"

#define EXPECT_HAS(text, want)                                              \
	do {                                                                \
		if (strstr((text), (want)) == NULL)                         \
			fail_msg("case \"%s\": \"%s\" not in:\n%s", cur,     \
				 (want), (text));                           \
	} while (0)

/* A stream whose text the test reads back. */
struct capture {
	FILE *fp;
	char *text;
	size_t len;
};

static void capture_open(struct capture *c)
{
	c->text = NULL;
	c->fp = open_memstream(&c->text, &c->len);
	assert_non_null(c->fp);
}

static const char *capture_text(struct capture *c)
{
	fflush(c->fp);
	return c->text;
}

static void capture_close(struct capture *c)
{
	fclose(c->fp);
	free(c->text);
}

static char *printed(const struct config *cfg)
{
	char *text = NULL;
	size_t len;
	FILE *fp = open_memstream(&text, &len);
	assert_non_null(fp);
	config_print(cfg, fp);
	fclose(fp);
	return text;
}

static void test_defaults(void **state)
{
	static const char *const want[] = {
		"[server]\n", "hostname = \n", "data_dir = var\n",
		"user = posthorn\n", "threads = 0\n", "workers = 32\n",
		"sync_workers = 16\n",
		"max_connections = 10000\n", "\n[listen]\n",
		"smtp = 127.0.0.1:10025\n", "submission = 127.0.0.1:10587\n",
		"pop3 = 127.0.0.1:10110\n", "http = 127.0.0.1:8080\n",
		"[smtp]\nmax_message_size = 26214400\n",
		"max_recipients = 1000\n", "max_line_length = 4096\n",
		"[pop3]\ntimeout = 600\n", "allow_insecure = loopback\n",
		"argon2_memory = 19456\n", "cache_ttl = 300\n",
		"recipient_delimiter = +\n", "backend = sqlite\n",
		"[log]\nlevel = info\n",
	};
	struct config *cfg = config_new();
	char *text = printed(cfg);
	cur = "defaults";
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		EXPECT_HAS(text, want[i]);
	EXPECT_INT(cfg->smtp.max_message_size, 25 * 1024 * 1024);
	EXPECT_INT(cfg->auth.allow_insecure, CONFIG_INSECURE_LOOPBACK);
	EXPECT_INT(cfg->store.backend, CONFIG_BACKEND_SQLITE);
	free(text);
	config_free(&cfg);
	assert_null(cfg);
	config_free(&cfg);
}

/* config_print output is itself a valid file giving the same config. */
static void test_print_roundtrip(void **state)
{
	char path[256];
	temp_template(path, sizeof(path), "config");
	struct config *cfg = config_new();
	struct capture err;
	capture_open(&err);
	assert_int_equal(config_set(cfg, "listen.smtp=[::1]:25, 127.0.0.1:25",
				    "--set", err.fp), 0);
	assert_int_equal(config_set(cfg, "smtp.max_message_size=10M", "--set",
				    err.fp), 0);
	char *text = printed(cfg);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct config *again = config_new();
	cur = "print roundtrip";
	EXPECT_INT(config_load_file(again, path, err.fp), 0);
	char *text2 = printed(again);
	assert_string_equal(text2, text);
	unlink(path);
	free(text);
	free(text2);
	config_free(&cfg);
	config_free(&again);
	capture_close(&err);
}

struct set_case {
	const char *assignment;
	int rc;
	const char *want;	/* printed line after success, or message */
};

static const struct set_case set_cases[] = {
	/* sizes */
	{"smtp.max_message_size=10M", 0, "max_message_size = 10485760\n"},
	{"smtp.max_message_size=10m", 0, "max_message_size = 10485760\n"},
	{"smtp.max_message_size=1k", 0, "max_message_size = 1024\n"},
	{"smtp.max_message_size=1024", 0, "max_message_size = 1024\n"},
	{"smtp.max_message_size=512M", 0, "max_message_size = 536870912\n"},
	{"smtp.max_message_size=  2M", 0, "max_message_size = 2097152\n"},
	{"smtp.max_message_size=1023", -1,
	 "--set: bad value '1023' for smtp.max_message_size: expected a size "
	 "in range (bytes, or with K/M/G) 1024..536870912\n"},
	{"smtp.max_message_size=513M", -1, "bad value '513M'"},
	{"smtp.max_message_size=1G", -1, "bad value '1G'"},
	{"smtp.max_message_size=10X", -1, "bad value '10X'"},
	{"smtp.max_message_size=10MB", -1, "bad value '10MB'"},
	{"smtp.max_message_size=-1", -1, "bad value '-1'"},
	{"smtp.max_message_size=", -1, "bad value ''"},
	{"smtp.max_message_size=M", -1, "bad value 'M'"},
	{"smtp.max_message_size=1.5M", -1, "bad value '1.5M'"},
	{"smtp.max_message_size=1 M", -1, "bad value '1 M'"},
	{"smtp.max_message_size=18446744073709551616", -1, "bad value"},
	{"smtp.max_message_size=17179869184G", -1, "bad value"},
	/* numbers */
	{"server.threads=0", 0, "threads = 0\n"},
	{"server.threads=256", 0, "threads = 256\n"},
	{"server.threads=257", -1,
	 "bad value '257' for server.threads: expected a number in range "
	 "0..256"},
	{"server.threads=1K", -1, "bad value '1K'"},
	{"server.threads=4294967300", -1, "bad value"},
	{"server.workers=0", -1, "1..1024"},
	{"server.sync_workers=0", -1, "1..1024"},
	{"smtp.max_line_length=999", -1,
	 "bad value '999' for smtp.max_line_length: expected a number in "
	 "range 1000..1048576"},
	{"smtp.max_line_length=1000", 0, "max_line_length = 1000\n"},
	{"smtp.max_line_length=1048576", 0, "max_line_length = 1048576\n"},
	{"smtp.max_line_length=1048577", -1, "1000..1048576"},
	{"smtp.max_recipients=99", -1, "100..100000"},
	{"smtp.max_recipients=100000", 0, "max_recipients = 100000\n"},
	{"auth.cache_ttl=0", 0, "cache_ttl = 0\n"},
	{"smtp.timeout =30", 0, "timeout = 30\n"},
	/* enums */
	{"auth.allow_insecure=yes", 0, "allow_insecure = yes\n"},
	{"auth.allow_insecure=no", 0, "allow_insecure = no\n"},
	{"auth.allow_insecure=YES", -1, "(no, loopback, yes)"},
	{"auth.allow_insecure=maybe", -1,
	 "--set: bad value 'maybe' for auth.allow_insecure: expected one of "
	 "the listed choices (no, loopback, yes)\n"},
	{"log.level=debug", 0, "level = debug\n"},
	{"log.level=trace", -1, "(debug, info, warn, error)"},
	{"store.backend=postgres", -1, "(sqlite)"},
	/* listen lists */
	{"listen.smtp=[::1]:25, 127.0.0.1:25", 0,
	 "smtp = [::1]:25, 127.0.0.1:25\n"},
	{"listen.smtp=0.0.0.0:25 [::]:25", 0, "smtp = 0.0.0.0:25 [::]:25\n"},
	{"listen.pop3=", 0, "pop3 = \n"},
	{"listen.imap=127.0.0.1:143,", 0, "imap = 127.0.0.1:143,\n"},
	{"listen.smtp=127.0.0.1", -1,
	 "--set: bad value '127.0.0.1' for listen.smtp: expected a list of "
	 "ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)\n"},
	{"listen.smtp=localhost:25", -1, "bad value 'localhost:25'"},
	{"listen.smtp=127.0.0.1:0", -1, "bad value"},
	{"listen.smtp=127.0.0.1:65536", -1, "bad value"},
	{"listen.smtp=[::1]25", -1, "bad value"},
	{"listen.smtp=[::1]:25, nonsense", -1, "bad value"},
	{"listen.smtp=::1:25", -1, "bad value"},
	{"listen.smtp=[127.0.0.1]:25", -1, "bad value"},
	/* strings */
	{"server.hostname=mx.example.com", 0, "hostname = mx.example.com\n"},
	{"delivery.recipient_delimiter=", 0, "recipient_delimiter = \n"},
	{"delivery.recipient_delimiter=+-", 0, "recipient_delimiter = +-\n"},
	/* keys */
	{"server.nosuch=1", -1, "--set: unknown key 'server.nosuch'\n"},
	{"nosuch.key=1", -1, "unknown key 'nosuch.key'"},
	{"server.threads.x=1", -1, "unknown key"},
	{"serverthreads=1", -1, "expected section.key=value"},
	{"server.threads", -1, "expected section.key=value"},
	{"threads=a.b", -1, "expected section.key=value"},
	{"=1", -1, "expected section.key=value"},
	{"", -1, "expected section.key=value"},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaa.threads=1", -1, "unknown key"},
	{"server.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaaaaaaaaaaaaa=1", -1, "unknown key"},
};

static void test_set(void **state)
{
	for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		const struct set_case *c = &set_cases[i];
		struct config *cfg = config_new();
		char *before = printed(cfg);
		struct capture err;
		capture_open(&err);
		cur = c->assignment;
		EXPECT_INT(config_set(cfg, c->assignment, "--set", err.fp),
			   c->rc);
		char *after = printed(cfg);
		if (c->rc == 0) {
			EXPECT_HAS(after, c->want);
			EXPECT(capture_text(&err)[0] == '\0');
		} else {
			EXPECT_HAS(capture_text(&err), c->want);
			/* A refused value leaves the old one in place. */
			EXPECT(strcmp(before, after) == 0);
		}
		free(before);
		free(after);
		capture_close(&err);
		config_free(&cfg);
	}
}

/* The last of several assignments wins; strings are replaced, not
 * leaked (ASan would tell). */
static void test_set_twice(void **state)
{
	struct config *cfg = config_new();
	struct capture err;
	capture_open(&err);
	assert_int_equal(config_set(cfg, "server.hostname=a", "x", err.fp), 0);
	assert_int_equal(config_set(cfg, "server.hostname=b", "x", err.fp), 0);
	assert_string_equal(cfg->server.hostname, "b");
	assert_int_equal(config_set(cfg, "smtp.max_errors=5", "x", err.fp), 0);
	assert_int_equal(config_set(cfg, "smtp.max_errors=0", "x", err.fp), -1);
	assert_int_equal(cfg->smtp.max_errors, 5);
	capture_close(&err);
	config_free(&cfg);
}

static void test_finish(void **state)
{
	struct config *cfg = config_new();
	config_finish(cfg);
	assert_true(cfg->server.hostname[0] != '\0');
	assert_true(cfg->server.threads >= 1);
	config_free(&cfg);

	struct capture err;
	capture_open(&err);
	cfg = config_new();
	assert_int_equal(config_set(cfg, "server.hostname=mx.example",
				    "--set", err.fp), 0);
	assert_int_equal(config_set(cfg, "server.threads=3", "--set", err.fp),
			 0);
	config_finish(cfg);
	assert_string_equal(cfg->server.hostname, "mx.example");
	assert_int_equal(cfg->server.threads, 3);
	config_free(&cfg);
	capture_close(&err);
}

/* threads = 0: one loop per CPU, capped at the key's maximum; a big
 * machine never falls back to one loop. */
static void test_auto_threads(void **state)
{
	static const struct {
		long ncpu;
		unsigned want;
	} t[] = {
		{1, 1},	    {2, 2},	{8, 8},	    {63, 63},	{64, 64},
		{65, 65},   {128, 128}, {255, 255}, {256, 256}, {257, 256},
		{1024, 256}, {0, 1},	{-1, 1},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "ncpu=%ld", t[i].ncpu);
		cur = name;
		EXPECT_INT(config_auto_threads(t[i].ncpu), t[i].want);
	}
	/* The cap is what server.threads accepts. */
	struct capture err;
	capture_open(&err);
	struct config *cfg = config_new();
	char set[64];
	snprintf(set, sizeof(set), "server.threads=%u", CONFIG_THREADS_MAX);
	assert_int_equal(config_set(cfg, set, "--set", err.fp), 0);
	snprintf(set, sizeof(set), "server.threads=%u", CONFIG_THREADS_MAX + 1);
	assert_int_equal(config_set(cfg, set, "--set", err.fp), -1);
	config_free(&cfg);
	capture_close(&err);
}

struct file_case {
	const char *name;
	const char *text;
	int problems;
	const char *messages[4];	/* each "LINE: text", path prepended */
	const char *printed[4];		/* lines config_print must show */
};

static const struct file_case file_cases[] = {
	{"good", "# a comment\n"
		 "; another\n"
		 "[server]\n"
		 "hostname = mx.example\n"
		 "threads = 4\n"
		 "\n"
		 "[smtp]\n"
		 "max_message_size = 50M\n"
		 "[listen]\n"
		 "smtp = [::1]:25, 127.0.0.1:25\n"
		 "pop3 =\n"
		 "[auth]\n"
		 "allow_insecure = no ; inline comment\n",
	 0, {NULL},
	 {"hostname = mx.example\n", "max_message_size = 52428800\n",
	  "smtp = [::1]:25, 127.0.0.1:25\n", "pop3 = \n"}},
	{"empty", "", 0, {NULL}, {"smtp = 127.0.0.1:10025\n"}},
	{"unknown keys", "[server]\n"
			 "hostname = a\n"
			 "bogus = 1\n"
			 "[nosuch]\n"
			 "key = 1\n",
	 2,
	 {"3: unknown key 'bogus' in section [server]\n",
	  "5: unknown key 'key' in section [nosuch]\n"},
	 {"hostname = a\n"}},
	{"bad values", "[smtp]\n"
		       "max_errors = 0\n"
		       "timeout = 30\n"
		       "\n"
		       "max_message_size = 2G\n"
		       "[listen]\n"
		       "smtp = 127.0.0.1\n",
	 3,
	 {"2: bad value '0' for smtp.max_errors: expected a number in range "
	  "1..1000\n",
	  "5: bad value '2G' for smtp.max_message_size",
	  "7: bad value '127.0.0.1' for listen.smtp"},
	 {"timeout = 30\n", "smtp = 127.0.0.1:10025\n"}},
	{"syntax error", "[server]\n"
			 "threads = 2\n"
			 "this line is not ini\n"
			 "[smtp]\n"
			 "nope = 1\n",
	 2,
	 {"3: syntax error", "5: unknown key 'nope' in section [smtp]\n"},
	 {"threads = 2\n"}},
	{"bad section", "[server\nthreads = 2\n", 2,
	 {"1: syntax error", "2: unknown key 'threads' in section []\n"},
	 {NULL}},
	{"key before section", "threads = 2\n", 1,
	 {"1: unknown key 'threads' in section []\n"}, {NULL}},
	{"crlf", "[server]\r\nthreads = 7\r\n[smtp]\r\nbogus = 1\r\n", 1,
	 {"4: unknown key 'bogus'"}, {"threads = 7\n"}},
	{"no final newline", "[server]\nthreads = 5", 0, {NULL},
	 {"threads = 5\n"}},
	/* A line longer than the reader's buffer must neither shift later
	 * line numbers nor be half-applied. */
	{"long line",
	 "[server]\n"
	 "# xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "\n"
	 "bogus = 1\n",
	 1, {"3: unknown key 'bogus'"}, {NULL}},
	{"long value",
	 "[listen]\n"
	 "smtp = 127.0.0.1:25, 127.0.0.2:25, 127.0.0.3:25, 127.0.0.4:25, "
	 "127.0.0.5:25, 127.0.0.6:25, 127.0.0.7:25, 127.0.0.8:25, "
	 "127.0.0.9:25, 127.0.0.10:25, 127.0.0.11:25, 127.0.0.12:25, "
	 "127.0.0.13:25, 127.0.0.14:25\n"
	 "[nosuch]\n",
	 1, {"2: line too long"}, {"smtp = 127.0.0.1:10025\n"}},
};

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_load_file(void **state)
{
	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]);
	     i++) {
		const struct file_case *c = &file_cases[i];
		char path[256], want[512];
		temp_template(path, sizeof(path), "config");
		int fd = mkstemp(path);
		assert_true(fd >= 0);
		close(fd);
		write_file(path, c->text);
		struct config *cfg = config_new();
		struct capture err;
		capture_open(&err);
		cur = c->name;
		EXPECT_INT(config_load_file(cfg, path, err.fp), c->problems);
		const char *msgs = capture_text(&err);
		for (int k = 0; k < 4 && c->messages[k]; k++) {
			snprintf(want, sizeof(want), "%s:%s", path,
				 c->messages[k]);
			EXPECT_HAS(msgs, want);
		}
		if (c->problems == 0)
			EXPECT(msgs[0] == '\0');
		char *text = printed(cfg);
		for (int k = 0; k < 4 && c->printed[k]; k++)
			EXPECT_HAS(text, c->printed[k]);
		free(text);
		capture_close(&err);
		config_free(&cfg);
		unlink(path);
	}
}

/* A line of n bytes (newline not counted): "hostname = hhh...". */
static int load_long_line(size_t n, bool newline, char **hostname_r,
			  char **msgs_r)
{
	char path[256];
	char *line = malloc(n + 1);
	assert_non_null(line);
	memcpy(line, "hostname = ", 11);
	memset(line + 11, 'h', n - 11);
	line[n] = '\0';
	temp_template(path, sizeof(path), "config");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	FILE *fp = fopen(path, "w");
	fprintf(fp, "[server]\n%s%s[smtp]\nbogus = 1\n", line,
		newline ? "\n" : "\n\n");
	fclose(fp);
	struct config *cfg = config_new();
	struct capture err;
	capture_open(&err);
	int problems = config_load_file(cfg, path, err.fp);
	*hostname_r = strdup(cfg->server.hostname);
	*msgs_r = strdup(capture_text(&err));
	capture_close(&err);
	config_free(&cfg);
	unlink(path);
	free(line);
	return problems;
}

/* inih reads lines into a buffer of INI_MAX_LINE bytes. */
static void test_line_limit(void **state)
{
	static const struct {
		size_t len;
		bool newline;	/* false: an empty line follows */
		int problems;
		const char *msg;
	} t[] = {
		{INI_MAX_LINE - 2, true, 1, ":4: unknown key 'bogus'"},
		{INI_MAX_LINE - 1, true, 1, ":4: unknown key 'bogus'"},
		{INI_MAX_LINE, true, 2, ":2: line too long"},
		{INI_MAX_LINE + 1, true, 2, ":4: unknown key 'bogus'"},
		{INI_MAX_LINE * 3, false, 2, ":5: unknown key 'bogus'"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *host, *msgs, name[64];
		snprintf(name, sizeof(name), "line of %zu bytes", t[i].len);
		cur = name;
		EXPECT_INT(load_long_line(t[i].len, t[i].newline, &host,
					  &msgs), t[i].problems);
		EXPECT_HAS(msgs, t[i].msg);
		/* Applied whole or not at all. */
		EXPECT(strlen(host) == t[i].len - 11 || host[0] == '\0');
		EXPECT((host[0] != '\0') == (t[i].problems == 1));
		free(host);
		free(msgs);
	}
}

static void test_load_missing(void **state)
{
	struct config *cfg = config_new();
	struct capture err;
	capture_open(&err);
	assert_int_equal(config_load_file(cfg, "/nonexistent/posthorn.conf",
					  err.fp), 1);
	assert_non_null(strstr(capture_text(&err),
			       "/nonexistent/posthorn.conf: cannot open"));
	capture_close(&err);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_set_twice),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_auto_threads),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_load_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
