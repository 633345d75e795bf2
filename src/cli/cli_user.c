/* posthorn user add|remove|list|passwd|app-password (import is in
 * cli_import.c) */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_app.h"
#include "auth/auth_pass.h"
#include "auth/auth_scram.h"
#include "cli/cli.h"
#include "cli/cli_import.h"
#include "core/config.h"
#include "core/size.h"
#include "store/store.h"

static void print_user(const struct store_user *u, void *ctx)
{
	(void)ctx;
	printf("%s", u->address);
	if (u->quota)
		printf(" quota=%llu", (unsigned long long)u->quota);
	if (u->name[0])
		printf(" name=\"%s\"", u->name);
	printf("\n");
}

/* Reads the password and returns its argon2id hash (malloc'ed), with
 * its SCRAM secret in *scram_r (malloc'ed; NULL for a password SCRAM
 * cannot take). */
static char *new_hash(const struct config *cfg, char **scram_r)
{
	char pw[1024];
	long n = cli_read_password(pw, sizeof(pw));
	if (n < 0)
		return NULL;
	if (auth_pass_init() < 0) {
		fprintf(stderr, "posthorn: cannot initialize libsodium\n");
		return NULL;
	}
	struct auth_pass_params params = {cfg->auth.argon2_memory,
					  cfg->auth.argon2_passes};
	char *hash = auth_pass_hash(pw, (size_t)n, &params);
	*scram_r = auth_scram_secret_new(pw, (size_t)n,
					 cfg->auth.scram_iterations);
	sodium_memzero(pw, sizeof(pw));
	if (hash == NULL)
		fprintf(stderr, "posthorn: cannot hash the password (not "
				"enough memory for auth.argon2_memory?)\n");
	return hash;
}

static int user_add(struct cli *cli, int argc, char **argv)
{
	char address[ADDR_TEXT_MAX];
	uint64_t quota = 0;
	const char *name = "";
	const char *err = NULL;
	struct store *store;

	if (cli_address(argv[0], "address", address) < 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc) {
			if (size_parse(argv[++i], true, &quota) < 0) {
				fprintf(stderr, "posthorn: bad quota '%s' "
						"(bytes, or with K/M/G/T)\n",
					argv[i]);
				return 1;
			}
		} else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
			name = argv[++i];
			if (!cli_name_ok(name)) {
				fprintf(stderr, "posthorn: the name may not "
						"contain control characters\n");
				return 1;
			}
		} else {
			fprintf(stderr, "posthorn: unknown option '%s'\n",
				argv[i]);
			return 2;
		}
	}
	if ((store = cli_store(cli)) == NULL)
		return 1;
	char *scram = NULL;
	char *hash = new_hash(cli->cfg, &scram);
	if (hash == NULL) {
		free(scram);
		return 1;
	}
	struct store_user u = {0, address, hash, quota, (char *)name, scram};
	int rc = store_user_add(store, &u, &err);
	free(hash);
	free(scram);
	if (rc <= 0) {
		if (rc == 0)
			fprintf(stderr, "posthorn: %s already exists\n",
				address);
		else
			fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	printf("added user %s\n", address);
	return 0;
}

static int user_passwd(struct cli *cli, const char *text)
{
	char address[ADDR_TEXT_MAX];
	struct store *store;
	if (cli_address(text, "address", address) < 0 ||
	    (store = cli_store(cli)) == NULL)
		return 1;
	struct store_user u;
	int rc = store_user_lookup(store, address, &u);
	store_user_clear(&u);
	if (rc <= 0) {
		fprintf(stderr, rc ? "posthorn: cannot read the store\n"
				   : "posthorn: no user %s\n", address);
		return 1;
	}
	char *scram = NULL;
	char *hash = new_hash(cli->cfg, &scram);
	if (hash == NULL) {
		free(scram);
		return 1;
	}
	const char *err = NULL;
	rc = store_user_set_password(store, address, hash);
	if (rc > 0 && scram != NULL &&
	    store_user_set_scram(store, address, hash, scram, &err) < 0)
		fprintf(stderr, "posthorn: cannot store the SCRAM secret "
				"(%s); it is made at the next login\n", err);
	free(hash);
	free(scram);
	if (rc <= 0) {
		fprintf(stderr, "posthorn: cannot set the password\n");
		return 1;
	}
	printf("changed password of %s\n", address);
	return 0;
}

static int user_remove(struct cli *cli, const char *text)
{
	char address[ADDR_TEXT_MAX];
	const char *err = NULL;
	struct store *store;
	if (cli_address(text, "address", address) < 0 ||
	    (store = cli_store(cli)) == NULL)
		return 1;
	int rc = store_user_remove(store, address, &err);
	if (rc <= 0) {
		if (rc == 0)
			fprintf(stderr, "posthorn: no user %s\n", address);
		else
			fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	printf("removed user %s and all its mail\n", address);
	return 0;
}

static int user_list(struct cli *cli, const char *domain_text)
{
	char domain[ADDR_DOMAIN_MAX + 1];
	struct store *store;
	if (domain_text != NULL && cli_domain_name(domain_text, domain) < 0)
		return 1;
	if ((store = cli_store(cli)) == NULL)
		return 1;
	return store_user_list(store, domain_text ? domain : NULL, print_user,
			       NULL) < 0;
}

/* ---- app passwords ---- */

/* The user's id, with the store open; 1, or an error told. */
static int app_user(struct cli *cli, const char *text, int64_t *id_r,
		    char address[ADDR_TEXT_MAX])
{
	struct store *store;
	struct store_user u;
	if (cli_address(text, "address", address) < 0 ||
	    (store = cli_store(cli)) == NULL)
		return -1;
	int rc = store_user_lookup(store, address, &u);
	*id_r = u.id;
	store_user_clear(&u);
	if (rc <= 0)
		fprintf(stderr, rc ? "posthorn: cannot read the store\n"
				   : "posthorn: no user %s\n", address);
	return rc > 0 ? 1 : -1;
}

static int app_name(const char *name)
{
	if (auth_app_name_ok(name))
		return 0;
	fprintf(stderr, "posthorn: an app password's name is 1 to %d "
			"letters, digits and ._-+@ (\"%s\" is not)\n",
		AUTH_APP_NAME_MAX, cli_name_ok(name) ? name : "?");
	return -1;
}

/* The password is made here and shown once; only its hash is kept. */
static int app_add(struct cli *cli, const char *user, const char *name)
{
	char address[ADDR_TEXT_MAX], plain[AUTH_APP_CHARS + 1];
	char shown[AUTH_APP_SHOWN_SIZE];
	const char *err = NULL;
	int64_t id;
	if (app_name(name) < 0 || app_user(cli, user, &id, address) < 0)
		return 1;
	if (auth_pass_init() < 0) {
		fprintf(stderr, "posthorn: cannot initialize libsodium\n");
		return 1;
	}
	auth_app_new(plain, shown);
	char hash[AUTH_APP_HASH_SIZE];
	auth_app_hash(plain, hash);
	sodium_memzero(plain, sizeof(plain));
	int rc = store_app_password_add(cli->store, id, name, hash, &err);
	if (rc <= 0) {
		fprintf(stderr, rc == 0 ? "posthorn: %s already has an app "
					  "password named %s\n"
					: "posthorn: %s: %s\n",
			address, rc == 0 ? name : err ? err : "store error");
		sodium_memzero(shown, sizeof(shown));
		return 1;
	}
	fprintf(stderr, "added app password %s of %s; it is shown only "
			"this once:\n", name, address);
	printf("%s\n", shown);
	sodium_memzero(shown, sizeof(shown));
	return 0;
}

static void put_time(const char *key, int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sizeof(buf), "never");
	printf(" %s=%s", key, buf);
}

static void print_app(const struct store_app_password *ap, void *ctx)
{
	(void)ctx;
	printf("%s", ap->name);
	put_time("created", ap->created);
	put_time("last_used", ap->last_used);
	printf("\n");
}

static int app_list(struct cli *cli, const char *user)
{
	char address[ADDR_TEXT_MAX];
	const char *err = NULL;
	int64_t id;
	if (app_user(cli, user, &id, address) < 0)
		return 1;
	if (store_app_password_list(cli->store, id, print_app, NULL, &err) <
	    0) {
		fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	return 0;
}

static int app_remove(struct cli *cli, const char *user, const char *name)
{
	char address[ADDR_TEXT_MAX];
	const char *err = NULL;
	int64_t id;
	if (app_user(cli, user, &id, address) < 0)
		return 1;
	int rc = store_app_password_remove(cli->store, id, name, &err);
	if (rc <= 0) {
		if (rc == 0)
			fprintf(stderr, "posthorn: %s has no app password "
					"named %s\n", address,
				cli_name_ok(name) ? name : "?");
		else
			fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	printf("removed app password %s of %s\n", name, address);
	return 0;
}

static int user_app_password(struct cli *cli, int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[0], "add") == 0)
		return app_add(cli, argv[1], argv[2]);
	if (argc == 2 && strcmp(argv[0], "list") == 0)
		return app_list(cli, argv[1]);
	if (argc == 3 && strcmp(argv[0], "remove") == 0)
		return app_remove(cli, argv[1], argv[2]);
	return -1;
}

int cli_user(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[0], "add") == 0)
		return user_add(cli, argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[0], "remove") == 0)
		return user_remove(cli, argv[1]);
	if (argc == 2 && strcmp(argv[0], "passwd") == 0)
		return user_passwd(cli, argv[1]);
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "list") == 0)
		return user_list(cli, argc == 2 ? argv[1] : NULL);
	if (argc == 2 && strcmp(argv[0], "import") == 0)
		return cli_import(cli, argv[1]);
	if (argc >= 1 && strcmp(argv[0], "app-password") == 0) {
		int rc = user_app_password(cli, argc - 1, argv + 1);
		if (rc >= 0)
			return rc;
	}
	if (argc >= 1 && strcmp(argv[0], "sender") == 0)
		return cli_user_sender(cli, argc - 1, argv + 1);
	fprintf(stderr,
		"usage: posthorn user add ADDRESS [--quota SIZE] [--name NAME]\n"
		"       posthorn user remove ADDRESS\n"
		"       posthorn user passwd ADDRESS\n"
		"       posthorn user list [DOMAIN]\n"
		"       posthorn user import FILE\n"
		"       posthorn user app-password add ADDRESS NAME\n"
		"       posthorn user app-password list ADDRESS\n"
		"       posthorn user app-password remove ADDRESS NAME\n"
		"       posthorn user sender add|remove|list USER [PATTERN]\n"
		"The password is read from standard input (one line), or "
		"prompted for on a terminal.\n");
	return 2;
}
