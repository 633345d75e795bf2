#include "core/config.h"

#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "core/size.h"
#include "core/xalloc.h"

enum key_type { T_STR, T_UINT, T_SIZE, T_ENUM, T_LISTEN, T_BOOL };

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	const char *def;
	uint64_t min, max;		/* T_UINT, T_SIZE */
	const char *const *choices;	/* T_ENUM, NULL-terminated */
};

static const char *const insecure_choices[] = {"no", "loopback", "yes", NULL};
static const char *const level_choices[] = {"debug", "info", "warn", "error",
					    NULL};
static const char *const backend_choices[] = {"sqlite", NULL};
static const char *const yes_no_choices[] = {"no", "yes", NULL};

#define OFF(f) offsetof(struct config, f)
#define K_STR(s, n, f, d) {s, n, T_STR, OFF(f), d, 0, 0, NULL}
#define K_LISTEN(n, d) {"listen", #n, T_LISTEN, OFF(listen.n), d, 0, 0, NULL}
#define K_UINT(s, n, f, d, lo, hi) {s, n, T_UINT, OFF(f), d, lo, hi, NULL}
#define K_SIZE(s, n, f, d, lo, hi) {s, n, T_SIZE, OFF(f), d, lo, hi, NULL}
#define K_ENUM(s, n, f, d, c) {s, n, T_ENUM, OFF(f), d, 0, 0, c}
#define K_BOOL(s, n, f, d) {s, n, T_BOOL, OFF(f), d, 0, 0, yes_no_choices}

/* The one list of keys.  docs/config.md describes each of them; a test
 * checks that the two agree. */
static const struct key keys[] = {
	K_STR("server", "hostname", server.hostname, ""),
	K_STR("server", "data_dir", server.data_dir, "var"),
	K_STR("server", "user", server.user, "posthorn"),
	K_UINT("server", "threads", server.threads, "0", 0,
	       CONFIG_THREADS_MAX),
	K_UINT("server", "workers", server.workers, "32", 1, 1024),
	K_UINT("server", "sync_workers", server.sync_workers, "16", 1, 1024),
	K_UINT("server", "max_connections", server.max_connections, "10000",
	       1, 1000000),
	K_UINT("server", "max_connections_per_ip",
	       server.max_connections_per_ip, "50", 1, 1000000),
	K_SIZE("server", "client_memory", server.client_memory, "256M", 0,
	       64ull * 1024 * 1024 * 1024),
	K_LISTEN(smtp, "127.0.0.1:10025"),
	K_LISTEN(submission, "127.0.0.1:10587"),
	K_LISTEN(submissions, "127.0.0.1:10465"),
	K_LISTEN(imap, "127.0.0.1:10143"),
	K_LISTEN(imaps, "127.0.0.1:10993"),
	K_LISTEN(pop3, "127.0.0.1:10110"),
	K_LISTEN(pop3s, "127.0.0.1:10995"),
	K_LISTEN(http, "127.0.0.1:8080"),
	K_SIZE("smtp", "max_message_size", smtp.max_message_size, "25M",
	       1024, 512 * 1024 * 1024),
	K_UINT("smtp", "max_recipients", smtp.max_recipients, "1000", 100,
	       100000),
	K_UINT("smtp", "max_line_length", smtp.max_line_length, "4096", 1000,
	       1048576),
	K_UINT("smtp", "max_errors", smtp.max_errors, "10", 1, 1000),
	K_UINT("smtp", "timeout", smtp.timeout, "300", 1, 86400),
	K_UINT("smtp", "data_timeout", smtp.data_timeout, "600", 1, 86400),
	K_BOOL("submission", "hide_client", submission.hide_client, "no"),
	K_UINT("submission", "max_recipients", submission.max_recipients,
	       "100", 1, 100000),
	K_UINT("submission", "max_messages_per_hour",
	       submission.max_messages_per_hour, "200", 0, 1000000),
	K_UINT("pop3", "timeout", pop3.timeout, "600", 1, 86400),
	K_UINT("pop3", "max_errors", pop3.max_errors, "10", 1, 1000),
	K_UINT("imap", "timeout", imap.timeout, "1800", 60, 86400),
	K_UINT("imap", "max_errors", imap.max_errors, "20", 1, 1000),
	K_ENUM("auth", "allow_insecure", auth.allow_insecure, "loopback",
	       insecure_choices),
	K_UINT("auth", "argon2_memory", auth.argon2_memory, "19456", 8,
	       4194304),
	K_UINT("auth", "argon2_passes", auth.argon2_passes, "2", 1, 100),
	K_UINT("auth", "cache_ttl", auth.cache_ttl, "300", 0, 86400),
	K_ENUM("auth", "login_local_part", auth.login_local_part, "yes",
	       yes_no_choices),
	K_UINT("auth", "scram_iterations", auth.scram_iterations, "4096", 4096,
	       1000000),
	K_UINT("auth", "fail_delay", auth.fail_delay, "500", 0, 60000),
	K_UINT("auth", "fail_delay_max", auth.fail_delay_max, "15000", 0,
	       600000),
	K_UINT("auth", "fail_limit_ip", auth.fail_limit_ip, "10", 0, 100000),
	K_UINT("auth", "fail_limit_user", auth.fail_limit_user, "30", 0,
	       100000),
	K_UINT("auth", "fail_window", auth.fail_window, "600", 1, 86400),
	K_STR("tls", "cert", tls.cert, ""),
	K_STR("tls", "key", tls.key, ""),
	K_STR("delivery", "recipient_delimiter", delivery.recipient_delimiter,
	      "+"),
	K_STR("delivery", "postmaster", delivery.postmaster, ""),
	K_ENUM("store", "backend", store.backend, "sqlite", backend_choices),
	K_ENUM("log", "level", log.level, "info", level_choices),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Returns NULL when the value is good, else a description of what is
 * wanted. */
static const char *key_assign(struct config *cfg, const struct key *k,
			      const char *v)
{
	void *field = (char *)cfg + k->offset;
	uint64_t n;
	const char *err;

	switch (k->type) {
	case T_LISTEN:
		/* err says what is wrong, not what is wanted; the admin sees
		 * the bad value itself in the message. */
		if (net_parse_listen_list(v, NULL, NULL, &err) < 0)
			return "a list of ADDRESS:PORT (IPv6 as "
			       "[ADDRESS]:PORT)";
		/* fall through */
	case T_STR:
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		return NULL;
	case T_UINT:
	case T_SIZE:
		if (size_parse(v, k->type == T_SIZE, &n) < 0 || n < k->min ||
		    n > k->max)
			return k->type == T_SIZE ? "a size in range "
						   "(bytes, or with K/M/G)"
						 : "a number in range";
		if (k->type == T_SIZE)
			*(uint64_t *)field = n;
		else
			*(unsigned *)field = (unsigned)n;
		return NULL;
	case T_ENUM:
		for (int i = 0; k->choices[i] != NULL; i++) {
			if (strcmp(v, k->choices[i]) == 0) {
				*(int *)field = i;
				return NULL;
			}
		}
		return "one of the listed choices";
	case T_BOOL:
		for (int i = 0; k->choices[i] != NULL; i++) {
			if (strcmp(v, k->choices[i]) == 0) {
				*(bool *)field = i == 1;
				return NULL;
			}
		}
		return "one of the listed choices";
	}
	return "a valid value";
}

static void report_bad(FILE *errf, const char *where, const struct key *k,
		       const char *v, const char *want)
{
	fprintf(errf, "%s: bad value '%s' for %s.%s: expected %s", where, v,
		k->section, k->name, want);
	if (k->type == T_UINT || k->type == T_SIZE)
		fprintf(errf, " %llu..%llu", (unsigned long long)k->min,
			(unsigned long long)k->max);
	if (k->type == T_ENUM || k->type == T_BOOL) {
		fprintf(errf, " (");
		for (int i = 0; k->choices[i] != NULL; i++)
			fprintf(errf, "%s%s", i ? ", " : "", k->choices[i]);
		fprintf(errf, ")");
	}
	fprintf(errf, "\n");
}

struct config *config_new(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++)
		if (key_assign(cfg, &keys[i], keys[i].def) != NULL)
			log_panic("config default for %s.%s is invalid",
				  keys[i].section, keys[i].name);
	return cfg;
}

void config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == T_STR || keys[i].type == T_LISTEN)
			free(*(char **)((char *)cfg + keys[i].offset));
	free(cfg);
	*cfgp = NULL;
}

struct file_ctx {
	struct config *cfg;
	FILE *fp;
	FILE *errf;
	const char *path;
	int line;
	int problems;
};

/* inih's handler does not get a line number from Debian's build, so we feed
 * it line by line ourselves and count.  inih's line buffer is small: a
 * longer line would reach it in pieces, each parsed (and counted) as a line
 * of its own, so we drop the rest of it here, and report it unless it is a
 * comment. */
/* inih takes an indented line for the continuation of the previous value;
 * an admin who indents a key means a key. */
static char *unindent(char *buf)
{
	size_t skip = strspn(buf, " \t");
	if (skip > 0)
		memmove(buf, buf + skip, strlen(buf + skip) + 1);
	return buf;
}

static char *counting_reader(char *buf, int size, void *stream)
{
	struct file_ctx *fc = stream;
	char *r = fgets(buf, size, fc->fp);
	if (r == NULL)
		return NULL;
	fc->line++;
	size_t n = strlen(buf);
	if (n + 1 < (size_t)size || buf[n - 1] == '\n')
		return unindent(r);
	int c = getc(fc->fp);
	if (c == '\n' || c == EOF)
		return unindent(r); /* it just fit */
	while (c != '\n' && c != EOF)
		c = getc(fc->fp);
	const char *p = buf + strspn(buf, " \t");
	if (*p == ';' || *p == '#')
		return r;
	fprintf(fc->errf, "%s:%d: line too long (at most %d bytes)\n",
		fc->path, fc->line, size - 1);
	fc->problems++;
	buf[0] = '\0';
	return r;
}

static int file_handler(void *user, const char *section, const char *name,
			const char *value)
{
	struct file_ctx *fc = user;
	const struct key *k = key_find(section, name);
	if (k == NULL) {
		fprintf(fc->errf, "%s:%d: unknown key '%s' in section [%s]\n",
			fc->path, fc->line, name, section);
		fc->problems++;
		return 1;
	}
	const char *want = key_assign(fc->cfg, k, value);
	if (want != NULL) {
		char where[512];
		snprintf(where, sizeof(where), "%s:%d", fc->path, fc->line);
		report_bad(fc->errf, where, k, value, want);
		fc->problems++;
	}
	return 1;
}

int config_load_file(struct config *cfg, const char *path, FILE *errf)
{
	struct file_ctx fc = {cfg, NULL, errf, path, 0, 0};
	fc.fp = fopen(path, "r");
	if (fc.fp == NULL) {
		fprintf(errf, "%s: cannot open: %s\n", path, strerror(errno));
		return 1;
	}
	int rc = ini_parse_stream(counting_reader, &fc, file_handler, &fc);
	fclose(fc.fp);
	if (rc > 0) {
		/* The handler never fails, so this is a syntax error. */
		fprintf(errf, "%s:%d: syntax error (expected [section] or "
			      "key = value)\n", path, rc);
		fc.problems++;
	} else if (rc < 0) {
		fprintf(errf, "%s: cannot read\n", path);
		fc.problems++;
	}
	return fc.problems;
}

int config_set(struct config *cfg, const char *assignment, const char *origin,
	       FILE *errf)
{
	const char *eq = strchr(assignment, '=');
	const char *dot = strchr(assignment, '.');
	if (eq == NULL || dot == NULL || dot > eq) {
		fprintf(errf, "%s: '%s': expected section.key=value\n", origin,
			assignment);
		return -1;
	}
	char section[64], name[64];
	size_t slen = (size_t)(dot - assignment);
	size_t nlen = (size_t)(eq - dot - 1);
	while (nlen > 0 && dot[nlen] == ' ')
		nlen--;
	if (slen >= sizeof(section) || nlen >= sizeof(name)) {
		fprintf(errf, "%s: '%s': unknown key\n", origin, assignment);
		return -1;
	}
	memcpy(section, assignment, slen);
	section[slen] = '\0';
	memcpy(name, dot + 1, nlen);
	name[nlen] = '\0';
	const struct key *k = key_find(section, name);
	if (k == NULL) {
		fprintf(errf, "%s: unknown key '%s.%s'\n", origin, section,
			name);
		return -1;
	}
	const char *value = eq + 1;
	value += strspn(value, " ");
	const char *want = key_assign(cfg, k, value);
	if (want != NULL) {
		report_bad(errf, origin, k, value, want);
		return -1;
	}
	return 0;
}

void config_finish(struct config *cfg)
{
	if (cfg->server.hostname[0] == '\0') {
		char host[256];
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		free(cfg->server.hostname);
		cfg->server.hostname = xstrdup(host);
	}
	if (cfg->server.threads == 0)
		cfg->server.threads =
			config_auto_threads(sysconf(_SC_NPROCESSORS_ONLN));
}

unsigned config_auto_threads(long ncpu)
{
	if (ncpu <= 0)
		return 1; /* sysconf() failed: nothing better to go on */
	return ncpu > CONFIG_THREADS_MAX ? CONFIG_THREADS_MAX : (unsigned)ncpu;
}

void config_print(const struct config *cfg, FILE *out)
{
	const char *section = "";
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const void *field = (const char *)cfg + k->offset;
		if (strcmp(section, k->section) != 0) {
			fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
			section = k->section;
		}
		fprintf(out, "%s = ", k->name);
		switch (k->type) {
		case T_STR:
		case T_LISTEN:
			fprintf(out, "%s\n", *(char *const *)field);
			break;
		case T_SIZE:
			fprintf(out, "%llu\n",
				(unsigned long long)*(const uint64_t *)field);
			break;
		case T_UINT:
			fprintf(out, "%u\n", *(const unsigned *)field);
			break;
		case T_ENUM:
			fprintf(out, "%s\n", k->choices[*(const int *)field]);
			break;
		case T_BOOL:
			fprintf(out, "%s\n", *(const bool *)field ? "yes" : "no");
			break;
		}
	}
}
