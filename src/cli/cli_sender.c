/* posthorn user sender add|remove|list USER [PATTERN]: the addresses a
 * user may send as through submission besides their own address and the
 * aliases that point to them. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

/* "local@domain", "*@domain" or "*", canonical. */
static int sender_pattern(const char *text, char out[ADDR_TEXT_MAX])
{
	if (strcmp(text, "*") == 0) {
		snprintf(out, ADDR_TEXT_MAX, "*");
		return 0;
	}
	if (strncmp(text, "*@", 2) == 0) {
		char d[ADDR_DOMAIN_MAX + 1];
		if (cli_domain_name(text + 2, d) < 0)
			return -1;
		snprintf(out, ADDR_TEXT_MAX, "*@%s", d);
		return 0;
	}
	return cli_address(text, "sender", out);
}

static void print_pattern(const char *pattern, void *ctx)
{
	(void)ctx;
	printf("%s\n", pattern);
}

static int sender_list(struct cli *cli, const char *user)
{
	char address[ADDR_TEXT_MAX];
	struct store *store;
	if (cli_address(user, "address", address) < 0 ||
	    (store = cli_store(cli)) == NULL)
		return 1;
	int rc = store_sender_list(store, address, print_pattern, NULL);
	if (rc == 0)
		fprintf(stderr, "posthorn: no such user: %s\n", address);
	else if (rc < 0)
		fprintf(stderr, "posthorn: cannot read accounts.db\n");
	return rc == 1 ? 0 : 1;
}

static int sender_edit(struct cli *cli, bool add, const char *user,
		       const char *text)
{
	char address[ADDR_TEXT_MAX], pattern[ADDR_TEXT_MAX];
	struct store *store;
	const char *err;
	if (cli_address(user, "address", address) < 0 ||
	    sender_pattern(text, pattern) < 0 ||
	    (store = cli_store(cli)) == NULL)
		return 1;
	int rc = add ? store_sender_add(store, address, pattern, &err)
		     : store_sender_remove(store, address, pattern, &err);
	if (rc < 0) {
		fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	if (add)
		printf(rc ? "%s may now send as %s\n"
			  : "%s may already send as %s\n",
		       address, pattern);
	else if (rc)
		printf("%s may no longer send as %s\n", address, pattern);
	else
		fprintf(stderr, "posthorn: %s has no sender exception %s\n",
			address, pattern);
	return add || rc ? 0 : 1;
}

int cli_user_sender(struct cli *cli, int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[0], "add") == 0)
		return sender_edit(cli, true, argv[1], argv[2]);
	if (argc == 3 && strcmp(argv[0], "remove") == 0)
		return sender_edit(cli, false, argv[1], argv[2]);
	if (argc == 2 && strcmp(argv[0], "list") == 0)
		return sender_list(cli, argv[1]);
	fprintf(stderr,
		"usage: posthorn user sender add USER PATTERN\n"
		"       posthorn user sender remove USER PATTERN\n"
		"       posthorn user sender list USER\n"
		"PATTERN is an address, *@DOMAIN (any address at DOMAIN) or "
		"* (any address).\n");
	return 2;
}
