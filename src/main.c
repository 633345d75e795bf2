/* posthorn: subcommand dispatch. */
#include <getopt.h>
#include <malloc.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "core/priv.h"
#include "serve.h"

#define POSTHORN_VERSION "0.1.0"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: posthorn [-c FILE] [--data DIR] [--set KEY=VALUE]... "
		"COMMAND ...\n"
		"\n"
		"commands:\n"
		"  serve                        run the server in the "
		"foreground\n"
		"  config                       print the effective "
		"configuration\n"
		"  domain add|remove|list       manage the domains we receive "
		"mail for\n"
		"  user add|remove|list|passwd|import|app-password\n"
		"                               manage accounts\n"
		"  alias add|remove|list        manage aliases and catch-alls\n"
		"  queue list|remove|flush      show or remove outbound mail "
		"waiting to be sent\n"
		"  check [--full] [--repair] [USER]\n"
		"                               check the stored mail and say "
		"what to do\n"
		"  import maildir|mbox USER PATH\n"
		"                               copy mail in (from Dovecot, "
		"mutt, Thunderbird)\n"
		"  export USER DIR              write USER's mail as a Maildir "
		"for Dovecot\n"
		"  version                      print the version\n"
		"\n"
		"Run 'posthorn COMMAND' without arguments for its usage.\n"
		"Every configuration key is described in docs/config.md.\n");
}

/* Defaults, then the file, then --set and --data, in that order. */
static struct config *load_config(const char *file, int nsets, char **sets,
				  const char *data)
{
	struct config *cfg = config_new();
	int problems = 0;
	if (file != NULL)
		problems += config_load_file(cfg, file, stderr);
	for (int i = 0; i < nsets; i++)
		problems += config_set(cfg, sets[i], "--set", stderr) < 0;
	if (data != NULL) {
		size_t n = strlen(data) + 32;
		char *set = malloc(n);
		snprintf(set, n, "server.data_dir=%s", data);
		problems += config_set(cfg, set, "--data", stderr) < 0;
		free(set);
	}
	if (problems > 0) {
		fprintf(stderr, "posthorn: %d configuration problem(s); not "
				"starting\n", problems);
		config_free(&cfg);
		return NULL;
	}
	config_finish(cfg);
	log_set_level((enum log_level)cfg->log.level);
	return cfg;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"data", required_argument, NULL, 'd'},
		{"set", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *file = NULL, *data = NULL;
	char **sets = calloc((size_t)argc, sizeof(char *));
	int nsets = 0, c, rc;

	/* Mail and password hashes are nobody else's business. */
	umask(077);
	/* A fixed threshold keeps big buffers (argon2id's 19 MiB, large
	 * messages) in mmap and gives them back when freed; glibc's sliding
	 * default would keep them in each worker thread's heap for good. */
	mallopt(M_MMAP_THRESHOLD, 512 * 1024);
	/* One heap per core, not glibc's eight: tens of workers each
	 * leave a session's small long-lived allocations (a view's UIDs, a
	 * watch) in their own heap between transient ones, and every heap
	 * keeps its own free pages.  Idle IMAP connections cost a third
	 * less PSS this way; no more than one thread per core runs at once
	 * anyway, and small allocations stay in per-thread caches. */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	mallopt(M_ARENA_MAX, cores > 2 ? (int)cores : 2);

	/* "+": stop at the first non-option, the command. */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': file = optarg; break;
		case 'd': data = optarg; break;
		case 's': sets[nsets++] = optarg; break;
		case 'h': usage(stdout); free(sets); return 0;
		default: usage(stderr); free(sets); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		free(sets);
		return 2;
	}
	const char *cmd = argv[optind];
	int cargc = argc - optind - 1;
	char **cargv = argv + optind + 1;
	if (strcmp(cmd, "version") == 0) {
		printf("posthorn %s\n", POSTHORN_VERSION);
		free(sets);
		return 0;
	}
	struct config *cfg = load_config(file, nsets, sets, data);
	free(sets);
	if (cfg == NULL)
		return 1;
	struct cli cli = {cfg, NULL};
	if (strcmp(cmd, "serve") == 0 && cargc == 0)
		/* Before a port is bound or a file made: root without an
		 * unprivileged user to become does not start at all. */
		rc = priv_check(cfg->server.user) < 0 ? 1 : serve_main(cfg);
	else if (strcmp(cmd, "config") == 0 && cargc == 0)
		rc = (config_print(cfg, stdout), 0);
	else if (strcmp(cmd, "domain") == 0)
		rc = cli_domain(&cli, cargc, cargv);
	else if (strcmp(cmd, "user") == 0)
		rc = cli_user(&cli, cargc, cargv);
	else if (strcmp(cmd, "alias") == 0)
		rc = cli_alias(&cli, cargc, cargv);
	else if (strcmp(cmd, "queue") == 0)
		rc = cli_queue(&cli, cargc, cargv);
	else if (strcmp(cmd, "check") == 0)
		rc = cli_check(&cli, cargc, cargv);
	else if (strcmp(cmd, "import") == 0)
		rc = cli_mailbox_import(&cli, cargc, cargv);
	else if (strcmp(cmd, "export") == 0)
		rc = cli_mailbox_export(&cli, cargc, cargv);
	else if (strcmp(cmd, "serve") == 0 || strcmp(cmd, "config") == 0) {
		fprintf(stderr, "posthorn: '%s' takes no arguments\n", cmd);
		usage(stderr);
		rc = 2;
	} else {
		fprintf(stderr, "posthorn: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	cli_close(&cli);
	config_free(&cfg);
	return rc;
}
