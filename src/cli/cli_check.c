/* posthorn check [--full] [--repair] [USER] */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static void print_problem(const struct store_problem *p, void *ctx)
{
	(void)ctx;
	if (p->repaired) {
		printf("%s: %s (repaired)\n", p->where, p->what);
		return;
	}
	printf("%s: %s\n    what to do: %s\n", p->where, p->what, p->todo);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: posthorn check [--full] [--repair] [USER]\n"
		"Checks accounts.db and every account's mail (or USER's): "
		"SQLite's quick check\n"
		"(--full: the slower integrity check), every message has its "
		"bytes, each\n"
		"usage figure matches. --repair fixes what is safe to fix. "
		"Exit status 0 when\n"
		"all is well, 1 otherwise.\n");
	return 2;
}

int cli_check(struct cli *cli, int argc, char **argv)
{
	char address[ADDR_TEXT_MAX];
	const char *user = NULL, *err = NULL;
	unsigned flags = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--full") == 0)
			flags |= STORE_CHECK_FULL;
		else if (strcmp(argv[i], "--repair") == 0)
			flags |= STORE_CHECK_REPAIR;
		else if (argv[i][0] == '-' || user != NULL)
			return usage();
		else
			user = argv[i];
	}
	if (user != NULL && cli_address(user, "address", address) < 0)
		return 1;
	struct store *store = cli_store(cli);
	if (store == NULL) {
		printf("posthorn check: the store cannot be opened (see "
		       "above).\n    what to do: if accounts.db is damaged, "
		       "stop posthorn, keep a copy of it, then restore it from "
		       "a backup or recover it: sqlite3 COPY '.recover' | "
		       "sqlite3 accounts.db\n");
		return 1;
	}
	int rc = store_check(store, user != NULL ? address : NULL, flags,
			     print_problem, NULL, &err);
	if (rc < 0) {
		fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	printf("posthorn check: %s\n",
	       rc > 0 ? "all is well" : "problems found (see above)");
	return rc > 0 ? 0 : 1;
}
