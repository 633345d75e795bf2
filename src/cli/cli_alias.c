/* posthorn alias add ALIAS TARGET... | remove ALIAS | list */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/xalloc.h"
#include "store/store.h"

static void print_alias(const char *alias, const char *target, void *ctx)
{
	(void)ctx;
	printf("%s %s\n", alias, target);
}

/* "user@domain", or "@domain" for the catch-all. */
static int alias_name(const char *text, char out[ADDR_TEXT_MAX])
{
	if (text[0] == '@') {
		char d[ADDR_DOMAIN_MAX + 1];
		if (cli_domain_name(text + 1, d) < 0)
			return -1;
		snprintf(out, ADDR_TEXT_MAX, "@%s", d);
		return 0;
	}
	return cli_address(text, "alias", out);
}

static int alias_add(struct cli *cli, const char *alias, int n, char **argv)
{
	char name[ADDR_TEXT_MAX];
	char (*targets)[ADDR_TEXT_MAX] = xcalloc((size_t)n, ADDR_TEXT_MAX);
	const char **ptrs = xcalloc((size_t)n, sizeof(*ptrs));
	const char *err;
	int rc = 1;
	struct store *store;

	if (alias_name(alias, name) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		if (cli_address(argv[i], "target", targets[i]) < 0)
			goto out;
		ptrs[i] = targets[i];
	}
	if ((store = cli_store(cli)) == NULL)
		goto out;
	for (int i = 0; i < n; i++) {
		const char *domain = strrchr(targets[i], '@') + 1;
		if (store_domain_exists(store, domain) != 1) {
			/* Forwarding out needs the outbound queue, which
			 * this version does not have yet. */
			fprintf(stderr, "posthorn: target %s: %s is not one of "
					"our domains; forwarding to other "
					"domains is not supported yet\n",
				targets[i], domain);
			goto out;
		}
	}
	int r = store_alias_add(store, name, ptrs, (size_t)n, &err);
	if (r < 0) {
		fprintf(stderr, "posthorn: %s\n", err);
		goto out;
	}
	printf(r ? "added alias %s\n" : "alias %s already has these targets\n",
	       name);
	rc = 0;
out:
	free(targets);
	free(ptrs);
	return rc;
}

int cli_alias(struct cli *cli, int argc, char **argv)
{
	char name[ADDR_TEXT_MAX];
	struct store *store;
	if (argc >= 3 && strcmp(argv[0], "add") == 0)
		return alias_add(cli, argv[1], argc - 2, argv + 2);
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		if ((store = cli_store(cli)) == NULL)
			return 1;
		return store_alias_list(store, print_alias, NULL) < 0;
	}
	if (argc == 2 && strcmp(argv[0], "remove") == 0) {
		if (alias_name(argv[1], name) < 0 ||
		    (store = cli_store(cli)) == NULL)
			return 1;
		int rc = store_alias_remove(store, name);
		if (rc <= 0) {
			fprintf(stderr, rc ? "posthorn: cannot remove %s\n"
					   : "posthorn: no alias %s\n", name);
			return 1;
		}
		printf("removed alias %s\n", name);
		return 0;
	}
	fprintf(stderr, "usage: posthorn alias add ALIAS TARGET...\n"
			"       posthorn alias remove ALIAS\n"
			"       posthorn alias list\n"
			"ALIAS is user@domain, or @domain for a catch-all.\n");
	return 2;
}
