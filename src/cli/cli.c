#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/config.h"
#include "core/priv.h"
#include "store/store.h"

struct store *cli_store(struct cli *cli)
{
	const char *err;
	if (cli->store != NULL)
		return cli->store;
	if (priv_drop(cli->cfg->server.user, cli->cfg->server.data_dir) < 0)
		return NULL;
	if (store_open(cli->cfg->server.data_dir, &cli->store, &err) < 0) {
		fprintf(stderr, "posthorn: cannot open the store: %s\n", err);
		return NULL;
	}
	return cli->store;
}

void cli_close(struct cli *cli)
{
	store_free(&cli->store);
}

int cli_address(const char *text, const char *what, char out[ADDR_TEXT_MAX])
{
	struct addr a;
	const char *err;
	if (addr_parse(text, strlen(text), ADDR_UTF8, &a, &err) < 0) {
		fprintf(stderr, "posthorn: %s '%s': %s\n", what, text, err);
		return -1;
	}
	if (a.literal) {
		fprintf(stderr, "posthorn: %s '%s': an address literal cannot "
				"be a local address\n", what, text);
		return -1;
	}
	addr_format(&a, out);
	return 0;
}

int cli_domain_name(const char *text, char out[ADDR_DOMAIN_MAX + 1])
{
	const char *err;
	if (addr_domain_canon(text, strlen(text), ADDR_UTF8, out, &err) < 0) {
		fprintf(stderr, "posthorn: domain '%s': %s\n", text, err);
		return -1;
	}
	return 0;
}

static long read_line(FILE *fp, char *buf, size_t size)
{
	if (fgets(buf, (int)size, fp) == NULL)
		return -1;
	size_t n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n == size - 1)
		return -2; /* too long */
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return (long)n;
}

static long prompt(const char *text, char *buf, size_t size)
{
	struct termios old, quiet;
	fputs(text, stderr);
	fflush(stderr);
	tcgetattr(STDIN_FILENO, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	long n = read_line(stdin, buf, size);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return n;
}

long cli_read_password(char *buf, size_t size)
{
	long n;
	if (!isatty(STDIN_FILENO)) {
		n = read_line(stdin, buf, size);
	} else {
		char again[1024];
		n = prompt("Password: ", buf, size);
		if (n >= 0 && (prompt("Again: ", again, sizeof(again)) != n ||
			       strcmp(buf, again) != 0)) {
			fprintf(stderr, "posthorn: passwords differ\n");
			memset(again, 0, sizeof(again));
			return -1;
		}
		memset(again, 0, sizeof(again));
	}
	if (n == -2) {
		fprintf(stderr, "posthorn: password too long\n");
		return -1;
	}
	if (n <= 0) {
		fprintf(stderr, "posthorn: no password given (one line on "
				"standard input)\n");
		return -1;
	}
	return n;
}

int cli_name_ok(const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}
