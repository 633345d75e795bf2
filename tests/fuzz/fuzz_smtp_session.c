/* Fuzz a whole SMTP session: the input is what a client sends, fed through
 * a socket pair into smtp_session_start() on a real loop, worker pool and
 * store, in a few writes split at places derived from the input.
 *
 * Each write is followed by running the loop until the session is idle (no
 * event pending, no job on a worker, no reply unsent), and the client
 * half-closes only then, so every pipelined command is answered whatever
 * the timing of the workers.  A session that neither answers nor closes
 * within a few seconds is a hang and aborts.
 *
 * Invariants on what the server sent back:
 *   - it is whole reply lines, each ending in CRLF, with no CR, LF or NUL
 *     inside, at most 1024 bytes long, starting "[2-5][0-9][0-9]" and then
 *     ' ' or '-', a multi-line reply keeping its code throughout;
 *   - the first reply is a one-line 220;
 *   - nothing follows a 221 or 421, and the server closes right after one;
 *     when the server closed first, its last reply was a 221 or 421;
 *   - no more replies than the client's lines allow (no amplification),
 *     and the output is bounded by the input's size;
 *   - each "250 ... queued as" is a message in the store or the outbound
 *     queue, and without one no message appears.
 *
 * An input that starts with the byte 0x01 runs the rest in the submission
 * role (AUTH PLAIN and LOGIN with the users' password "pw", sender checks,
 * the outbound queue), with passwords allowed without TLS. */
#include <stdbool.h>

#include "session.h"

#include "auth/auth.h"
#include "core/budget.h"
#include "smtp/smtp_session.h"

#define EXPUNGE_EVERY 1000
#define REPLY_LINE_MAX 1024
#define MAX_LINE_LENGTH 4096 /* smtp.max_line_length, the default */

static struct {
	struct smtp_env env, submission;
	bool submit;		/* this input runs as submission */
	struct auth *auth;
	struct budget *budget;
	unsigned long iterations;
} g;

static struct session *start(struct loop *loop, struct session_list *list,
			     int fd, const struct sockaddr *peer,
			     socklen_t peerlen)
{
	return smtp_session_start(loop, list, fd, peer, peerlen,
				  g.submit ? &g.submission : &g.env);
}

/* ---- one-time set-up ---- */

static void setup(void)
{
	session_init("fuzz_smtp_session", "smtp");
	setting("server.hostname=mx.example.com");
	setting("smtp.max_message_size=64K");
	setting("auth.argon2_memory=8");
	setting("auth.argon2_passes=1");
	setting("auth.cache_ttl=300");
	setting("auth.allow_insecure=yes");
	setting("log.level=error");
	session_open_store();
	g.auth = auth_new(sess.store, sess.cfg);
	session_start_loop(start);
	/* A small budget, so that messages also take the spool path. */
	g.budget = budget_new(8 * 1024);
	g.env = (struct smtp_env){sess.cfg, sess.store, sess.workers,
				  g.budget, sess.dir};
	/* Logins on the same workers, so that waiting for the session to
	 * be idle waits for them too; no hourly limit, which would make
	 * runs depend on the ones before. */
	g.submission = g.env;
	g.submission.role = SMTP_ROLE_SUBMISSION;
	g.submission.auth = g.auth;
	g.submission.auth_workers = sess.workers;
}

/* ---- the store ---- */

/* Messages in alice's and bob's INBOX; with expunge, remove them all. */
static size_t count_messages(bool expunge)
{
	size_t total = 0;
	for (int i = 0; i < 2; i++) {
		struct store_account *acct;
		struct store_mailbox mbox;
		struct store_msg *msgs = NULL;
		size_t n = 0;
		CHECK(store_account_open(sess.store, sess.users[i], &acct, NULL) > 0);
		CHECK(store_mailbox_find(acct, "INBOX", &mbox, NULL) > 0);
		CHECK(store_msg_list(acct, mbox.id, &msgs, &n, NULL) > 0);
		if (expunge && n > 0) {
			uint32_t *uids = calloc(n, sizeof(*uids));
			for (size_t k = 0; k < n; k++)
				uids[k] = msgs[k].uid;
			CHECK(store_msg_expunge(acct, mbox.id, uids, n, NULL) > 0);
			free(uids);
			n = 0;
		}
		total += n;
		free(msgs);
		store_account_unref(&acct);
	}
	return total;
}

static void first_id(const struct store_queue_entry *e, void *ctx)
{
	char *id = ctx;
	if (id[0] == '\0')
		snprintf(id, 32, "%s", e->id);
}

static void count_one(const struct store_queue_entry *e, void *ctx)
{
	(void)e;
	++*(size_t *)ctx;
}

/* Messages in the outbound queue; with clear, remove them all. */
static size_t count_queue(bool clear)
{
	size_t n = 0;
	CHECK(store_queue_list(sess.store, count_one, &n, NULL) > 0);
	if (!clear || n == 0)
		return n;
	/* Ids are not at hand in count_one (the store is locked there):
	 * take them one listing at a time. */
	for (;;) {
		char id[32] = "";
		CHECK(store_queue_list(sess.store, first_id, id, NULL) > 0);
		if (id[0] == '\0')
			return 0;
		CHECK(store_queue_remove(sess.store, id, NULL) > 0);
	}
}

/* ---- invariants ---- */

static int reply_code(const char *line)
{
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* Returns the number of "queued as" replies. */
static unsigned check_replies(struct client *c, const uint8_t *data,
			      size_t size)
{
	const char *p = c->out, *end = c->out + c->len;
	unsigned finals = 0, queued = 0;
	int multi_code = 0; /* code of an unfinished multi-line reply */
	int last_code = 0;
	bool closing = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		EXPECT(nl != NULL);	      /* a whole line */
		EXPECT(nl > p && nl[-1] == '\r'); /* ending in CRLF */
		size_t n = (size_t)(nl + 1 - p);
		EXPECT(n <= REPLY_LINE_MAX);
		EXPECT(!closing); /* nothing after 221 / 421 */
		for (size_t i = 0; i + 2 < n; i++)
			EXPECT(p[i] != '\r' && p[i] != '\0');
		EXPECT(n >= 6);
		EXPECT(p[0] >= '2' && p[0] <= '5');
		EXPECT(p[1] >= '0' && p[1] <= '9');
		EXPECT(p[2] >= '0' && p[2] <= '9');
		EXPECT(p[3] == ' ' || p[3] == '-');
		int code = reply_code(p);
		if (multi_code != 0)
			EXPECT(code == multi_code);
		if (finals == 0 && multi_code == 0)
			EXPECT(code == 220 && p[3] == ' ');
		if (p[3] == '-') {
			multi_code = code;
		} else {
			multi_code = 0;
			finals++;
			last_code = code;
			if (code == 221 || code == 421)
				closing = true;
			if (n > 30 && memcmp(p, "250 2.0.0 Ok: queued as ", 24) ==
					      0)
				queued++;
		}
		p = nl + 1;
	}
	EXPECT(multi_code == 0); /* no reply left half-told */
	EXPECT(finals >= 1 || c->reset);

	/* The server closed on its own only after saying why, and it closes
	 * right after saying goodbye. */
	if (!c->shut && !c->reset)
		EXPECT(last_code == 221 || last_code == 421);
	if (closing)
		EXPECT(!c->shut);

	/* At most one reply per line (a BDAT chunk is a line's part), plus
	 * the greeting and a closing 421; a line over the limit may get
	 * its 500 before its CRLF arrives. */
	size_t lines = 0;
	for (size_t i = 0; i + 1 < size; i++)
		if (data[i] == '\r' && data[i + 1] == '\n')
			lines++;
	EXPECT(finals <= 2 + lines + size / MAX_LINE_LENGTH + 1);
	return queued;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sess.cfg == NULL)
		setup();
	if (++g.iterations % EXPUNGE_EVERY == 0) {
		count_messages(true);
		count_queue(true);
	}
	g.submit = size > 0 && data[0] == 0x01;
	if (g.submit) {
		data++;
		size--;
	}
	size_t before = count_messages(false) + count_queue(false);

	struct client c = {0};
	c.deadline = now_ns() + DEADLINE_NS;
	c.max = 64 * 1024 + 200 * size;
	cur = &c;
	run_session(&c, data, size);
	/* FUZZ_SESSION_DUMP=1 shows what the server said, e.g. when
	 * running a single reproducer. */
	if (getenv("FUZZ_SESSION_DUMP") != NULL)
		dump_output(&c);
	/* Every byte held for the session was given back. */
	EXPECT(budget_used(g.budget) == 0);
	if (c.reset)
		trim_to_lines(&c);
	unsigned queued = check_replies(&c, data, size);

	/* After a reset a message may be stored whose 250 never arrived. */
	size_t after = count_messages(false) + count_queue(false);
	EXPECT(after >= before + queued);
	if (queued == 0 && !c.reset)
		EXPECT(after == before);
	cur = NULL;
	free(c.out);
	return 0;
}
