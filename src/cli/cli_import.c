#include "cli/cli_import.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth_pass.h"
#include "auth/auth_scram.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/size.h"
#include "core/str.h"
#include "core/xalloc.h"
#include "store/store.h"

/* One CSV field into out (size IMPORT_FIELD_MAX); returns the index just
 * past its comma or the end, or -1. */
static long csv_field(const char *s, size_t len, size_t i, char *out,
		      const char **err_r)
{
	size_t o = 0;
	if (i < len && s[i] == '"') {
		for (i++;; i++) {
			if (i >= len) {
				*err_r = "unterminated quoted field";
				return -1;
			}
			if (s[i] == '"') {
				if (i + 1 < len && s[i + 1] == '"')
					i++;
				else
					break;
			}
			if (o + 1 >= IMPORT_FIELD_MAX) {
				*err_r = "field too long";
				return -1;
			}
			out[o++] = s[i];
		}
		i++;
		if (i < len && s[i] != ',') {
			*err_r = "text after a quoted field";
			return -1;
		}
	} else {
		for (; i < len && s[i] != ','; i++) {
			if (s[i] == '"') {
				*err_r = "quote inside an unquoted field";
				return -1;
			}
			if (o + 1 >= IMPORT_FIELD_MAX) {
				*err_r = "field too long";
				return -1;
			}
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return (long)(i < len ? i + 1 : len + 1);
}

int import_parse_line(const char *s, size_t len, struct import_line *r,
		      const char **err_r)
{
	char fields[4][IMPORT_FIELD_MAX];
	int nf = 0;
	struct addr a;
	size_t skip = 0;

	/* s is not NUL-terminated: stay within len. */
	while (skip < len && (s[skip] == ' ' || s[skip] == '\t'))
		skip++;
	memset(r, 0, sizeof(*r));
	if (skip >= len || s[skip] == '#')
		return 0;
	if (memchr(s, '\0', len) != NULL) {
		*err_r = "NUL byte in line";
		return -1;
	}
	for (long i = 0; (size_t)i <= len;) {
		if (nf == 4) {
			*err_r = "too many fields (quote a name that has "
				 "commas)";
			return -1;
		}
		i = csv_field(s, len, (size_t)i, fields[nf], err_r);
		if (i < 0)
			return -1;
		nf++;
	}
	if (nf < 2) {
		*err_r = "expected address,password[,quota][,name]";
		return -1;
	}
	if (addr_parse(fields[0], strlen(fields[0]), ADDR_UTF8, &a, err_r) <
		    0 ||
	    a.literal) {
		if (a.literal)
			*err_r = "address literal cannot be a local address";
		return -1;
	}
	addr_format(&a, r->address);
	if (fields[1][0] == '\0') {
		*err_r = "empty password";
		return -1;
	}
	memcpy(r->password, fields[1], sizeof(r->password));
	if (nf >= 3 && fields[2][0] != '\0' &&
	    size_parse(fields[2], true, &r->quota) < 0) {
		*err_r = "bad quota (bytes, or with K/M/G/T)";
		return -1;
	}
	if (nf == 4) {
		if (!cli_name_ok(fields[3])) {
			*err_r = "control character in name";
			return -1;
		}
		memcpy(r->name, fields[3], sizeof(r->name));
	}
	return 1;
}

struct entry {
	struct import_line line;
	unsigned lineno;
	char *hash;
	char *scram;	/* of a plain-text password, when SCRAM takes it */
};

struct hash_ctx {
	struct entry *entries;
	size_t n;
	size_t next;
	pthread_mutex_t lock;
	struct auth_pass_params params;
	unsigned scram_iterations;
	int failed;
};

/* argon2id is slow on purpose; spread a big file over all cores. */
static void *hash_worker(void *arg)
{
	struct hash_ctx *h = arg;
	for (;;) {
		pthread_mutex_lock(&h->lock);
		size_t i = h->next++;
		pthread_mutex_unlock(&h->lock);
		if (i >= h->n)
			return NULL;
		struct entry *e = &h->entries[i];
		if (e->hash != NULL)
			continue;
		e->hash = auth_pass_hash(e->line.password,
					 strlen(e->line.password), &h->params);
		e->scram = auth_scram_secret_new(e->line.password,
						 strlen(e->line.password),
						 h->scram_iterations);
		if (e->hash == NULL)
			h->failed = 1;
	}
}

static int hash_all(struct entry *entries, size_t n, const struct config *cfg)
{
	struct hash_ctx h = {entries, n, 0, PTHREAD_MUTEX_INITIALIZER,
			     {cfg->auth.argon2_memory, cfg->auth.argon2_passes},
			     cfg->auth.scram_iterations, 0};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nt = ncpu > 0 && ncpu < 32 ? (size_t)ncpu : 1;
	pthread_t t[32];
	for (size_t i = 0; i < nt; i++)
		pthread_create(&t[i], NULL, hash_worker, &h);
	for (size_t i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	return h.failed ? -1 : 0;
}

/* An existing hash is kept (e->hash); a plain-text password, with any
 * {PLAIN} taken off, stays in e->line.password to be hashed. */
static int read_password(struct entry *e, const char **err_r)
{
	const char *plain;
	int rc = auth_pass_import_field(e->line.password, &e->hash, &plain,
					err_r);
	if (rc == 0 && plain != e->line.password)
		memmove(e->line.password, plain, strlen(plain) + 1);
	return rc;
}

/* Parse and check every line; returns the number of problems. */
static unsigned read_entries(const char *path, FILE *fp, struct store *store,
			     struct entry **entries_r, size_t *n_r)
{
	struct entry *entries = NULL;
	size_t n = 0, cap = 0;
	unsigned bad = 0, lineno = 0;
	char *buf = NULL;
	size_t bufsize = 0;
	ssize_t got;
	while ((got = getline(&buf, &bufsize, fp)) >= 0) {
		size_t len = (size_t)got;
		const char *err = NULL;
		lineno++;
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			len--;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			entries = xreallocarray(entries, cap, sizeof(*entries));
		}
		struct entry *e = &entries[n];
		memset(e, 0, sizeof(*e));
		int rc = import_parse_line(buf, len, &e->line, &err);
		if (rc == 0)
			continue;
		if (rc > 0 && read_password(e, &err) < 0)
			rc = -1;
		if (rc > 0 && e->hash != NULL && auth_pass_is_weak(e->hash))
			fprintf(stderr, "%s:%u: warning: MD5-crypt is a weak "
					"hash; it is replaced by argon2id at "
					"the user's first login\n",
				path, lineno);
		if (rc > 0) {
			for (size_t k = 0; k < n; k++)
				if (strcmp(entries[k].line.address,
					   e->line.address) == 0) {
					err = "address repeats an earlier "
					      "line";
					rc = -1;
				}
		}
		if (rc > 0) {
			const char *domain = strrchr(e->line.address, '@') + 1;
			struct store_user u;
			if (store_domain_exists(store, domain) != 1)
				err = "domain is not one of ours; add it "
				      "first";
			else if (store_user_lookup(store, e->line.address,
						   &u) != 0)
				err = "user already exists";
			store_user_clear(&u);
			if (err != NULL)
				rc = -1;
		}
		if (rc < 0) {
			fprintf(stderr, "%s:%u: %s\n", path, lineno, err);
			free(e->hash);
			bad++;
			continue;
		}
		e->lineno = lineno;
		n++;
	}
	free(buf);
	*entries_r = entries;
	*n_r = n;
	return bad;
}

int cli_import(struct cli *cli, const char *path)
{
	struct entry *entries = NULL;
	size_t n = 0;
	int rc = 1;
	/* Open before cli_store() leaves root: an admin who runs this as
	 * root may give a file only root can read (/root/users.csv). */
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (fp == NULL) {
		perror(path);
		return 1;
	}
	struct store *store = cli_store(cli);
	if (store == NULL || auth_pass_init() < 0)
		goto out;
	unsigned bad = read_entries(path, fp, store, &entries, &n);
	if (bad > 0) {
		fprintf(stderr, "posthorn: %u bad line(s); nothing imported\n",
			bad);
		goto out;
	}
	if (hash_all(entries, n, cli->cfg) < 0) {
		fprintf(stderr, "posthorn: cannot hash passwords\n");
		goto out;
	}
	struct store_user *users = xcalloc(n ? n : 1, sizeof(*users));
	for (size_t i = 0; i < n; i++)
		users[i] = (struct store_user){0, entries[i].line.address,
					       entries[i].hash,
					       entries[i].line.quota,
					       entries[i].line.name,
					       entries[i].scram};
	size_t which = 0;
	const char *err = NULL;
	if (n > 0 && store_user_import(store, users, n, &which, &err) < 0)
		fprintf(stderr, "%s:%u: %s; nothing imported\n", path,
			entries[which].lineno, err ? err : "store error");
	else
		rc = 0;
	free(users);
	if (rc == 0)
		printf("imported %zu user(s)\n", n);
out:
	for (size_t i = 0; i < n; i++) {
		free(entries[i].hash);
		free(entries[i].scram);
		sodium_memzero(entries[i].line.password,
			       sizeof(entries[i].line.password));
	}
	free(entries);
	if (fp != stdin)
		fclose(fp);
	return rc;
}
