/* posthorn queue list | remove ID | flush */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "queue/queue.h"
#include "store/store.h"

struct list_ctx {
	size_t messages;
};

static void print_time(int64_t t)
{
	char text[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs(text, stdout);
}

/* An error text may one day come from a remote server: no control
 * characters or quotes reach the terminal. */
static void print_error(const char *text)
{
	fputs(" error=\"", stdout);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		putchar(*p < 0x20 || *p == 0x7f || *p == '"' ? '?' : *p);
	putchar('"');
}

/* One line per message, then one indented line per recipient: what an
 * admin greps for, and what a script can split on spaces (an address
 * never holds one outside quotes, which the brackets enclose). */
static void print_entry(const struct store_queue_entry *e, void *arg)
{
	struct list_ctx *ctx = arg;
	ctx->messages++;
	printf("%s %llu ", e->id, (unsigned long long)e->size);
	print_time(e->arrival);
	printf(" <%s> %s attempts=%u next=", e->sender,
	       e->attempts == 0 ? "queued" : "deferred", e->attempts);
	print_time(e->next_attempt);
	if (e->user[0] != '\0')
		printf(" user=%s", e->user);
	if (e->last_error[0] != '\0')
		print_error(e->last_error);
	putchar('\n');
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct store_queue_rcpt *r = &e->rcpts[i];
		printf("  <%s> %s", r->address, r->status);
		if (r->last_error[0] != '\0')
			print_error(r->last_error);
		putchar('\n');
	}
}

static int queue_list(struct cli *cli)
{
	struct store *store = cli_store(cli);
	struct list_ctx ctx = {0};
	const char *err;
	if (store == NULL)
		return 1;
	if (store_queue_list(store, print_entry, &ctx, &err) < 0) {
		fprintf(stderr, "posthorn: cannot read the queue: %s\n", err);
		return 1;
	}
	if (ctx.messages == 0)
		printf("the queue is empty\n");
	else
		printf("%zu message%s in the queue\n", ctx.messages,
		       ctx.messages == 1 ? "" : "s");
	return 0;
}

static int queue_remove(struct cli *cli, const char *id)
{
	const char *err;
	if (!queue_id_valid(id)) {
		fprintf(stderr, "posthorn: '%s' is not a queue id (letters "
				"and digits, as `queue list` shows them)\n",
			id);
		return 2;
	}
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	int rc = store_queue_remove(store, id, &err);
	if (rc < 0) {
		fprintf(stderr, "posthorn: cannot remove %s: %s\n", id, err);
		return 1;
	}
	if (rc == 0) {
		fprintf(stderr, "posthorn: no queued message %s\n", id);
		return 1;
	}
	printf("removed %s from the queue\n", id);
	return 0;
}

/* A flush asks for an attempt now; with nothing that sends, the honest
 * answer is that it did not happen, and a script must not take it for
 * done: exit 1, the code for "failed". */
static int queue_flush(void)
{
	fprintf(stderr, "posthorn: this version of posthorn does not send "
			"mail to other domains yet; queued messages stay in "
			"the queue, unchanged, until a version that does is "
			"installed\n");
	return 1;
}

int cli_queue(struct cli *cli, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return queue_list(cli);
	if (argc == 2 && strcmp(argv[0], "remove") == 0)
		return queue_remove(cli, argv[1]);
	if (argc == 1 && strcmp(argv[0], "flush") == 0)
		return queue_flush();
	fprintf(stderr, "usage: posthorn queue list\n"
			"       posthorn queue remove ID\n"
			"       posthorn queue flush\n");
	return 2;
}
