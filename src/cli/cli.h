/* cli: admin subcommands.  Each noun (domain, user, alias, check) is a
 * file; they call the same store and auth interfaces as the protocols, so
 * they work while the server runs, on the same data.
 *
 * Exit codes: 0 done, 1 failed, 2 usage error. */
#ifndef POSTHORN_CLI_H
#define POSTHORN_CLI_H

#include <stddef.h>

#include "mime/addr.h"

struct config;
struct store;

struct cli {
	const struct config *cfg;
	struct store *store;	/* opened by cli_store() */
};

int cli_domain(struct cli *cli, int argc, char **argv);
int cli_user(struct cli *cli, int argc, char **argv);
/* user sender add|remove|list: cli_sender.c */
int cli_user_sender(struct cli *cli, int argc, char **argv);
int cli_alias(struct cli *cli, int argc, char **argv);
int cli_check(struct cli *cli, int argc, char **argv);
int cli_queue(struct cli *cli, int argc, char **argv);
/* import maildir|mbox, export: cli_mailbox.c, cli_export.c */
int cli_mailbox_import(struct cli *cli, int argc, char **argv);
int cli_mailbox_export(struct cli *cli, int argc, char **argv);

/* Leave root if needed and open the store; prints why on failure. */
struct store *cli_store(struct cli *cli);
void cli_close(struct cli *cli);

/* Canonical form of an address given on the command line, or -1 after
 * printing "posthorn: <what> '<text>': <reason>". */
int cli_address(const char *text, const char *what, char out[ADDR_TEXT_MAX]);
/* Same for a domain name. */
int cli_domain_name(const char *text, char out[ADDR_DOMAIN_MAX + 1]);

/* Read a password: one line from stdin when it is not a terminal, else a
 * prompt (twice, to confirm).  Returns its length or -1. */
long cli_read_password(char *buf, size_t size);

/* Whether a display name is printable text: control characters would let
 * a name forge lines in `user list` or drive a terminal. */
int cli_name_ok(const char *name);


#endif
