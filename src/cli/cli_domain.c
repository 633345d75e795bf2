/* posthorn domain add|remove|list */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static void print_domain(const char *domain, void *ctx)
{
	(void)ctx;
	printf("%s\n", domain);
}

int cli_domain(struct cli *cli, int argc, char **argv)
{
	char name[ADDR_DOMAIN_MAX + 1];
	const char *err = NULL;
	struct store *store;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		if ((store = cli_store(cli)) == NULL)
			return 1;
		return store_domain_list(store, print_domain, NULL) < 0;
	}
	if (argc != 2 || (strcmp(argv[0], "add") != 0 &&
			  strcmp(argv[0], "remove") != 0)) {
		fprintf(stderr, "usage: posthorn domain add|remove DOMAIN\n"
				"       posthorn domain list\n");
		return 2;
	}
	if (cli_domain_name(argv[1], name) < 0)
		return 1;
	if ((store = cli_store(cli)) == NULL)
		return 1;
	if (strcmp(argv[0], "add") == 0) {
		int rc = store_domain_add(store, name, &err);
		if (rc < 0) {
			fprintf(stderr, "posthorn: %s\n", err);
			return 1;
		}
		printf(rc ? "added domain %s\n" : "domain %s already exists\n",
		       name);
		return 0;
	}
	int rc = store_domain_remove(store, name, &err);
	if (rc < 0) {
		fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	if (rc == 0) {
		fprintf(stderr, "posthorn: no domain %s\n", name);
		return 1;
	}
	printf("removed domain %s\n", name);
	return 0;
}
