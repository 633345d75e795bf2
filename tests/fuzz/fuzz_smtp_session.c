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
 *   - each "250 ... queued as" is a message in the store, and without one
 *     no message appears. */
#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#include "auth/auth_pass.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "smtp/smtp_session.h"
#include "store/store.h"

#define NWORKERS 2
#define DEADLINE_NS (3000000000ull)
#define EXPUNGE_EVERY 1000
#define REPLY_LINE_MAX 1024
#define MAX_LINE_LENGTH 4096 /* smtp.max_line_length, the default */

static struct {
	struct config *cfg;
	struct store *store;
	struct worker_pool *workers;
	struct loop *loop;
	struct event_base *base;
	struct event *tick;
	struct smtp_env env;
	char dir[128];
	int64_t users[2]; /* alice, bob */
	pthread_barrier_t barrier;
	struct job bjobs[NWORKERS];
	unsigned bpending;
	unsigned long iterations;
} g;

/* The client's end of one session. */
struct client {
	int fd;
	struct event *ev;
	struct conn *conn;
	bool alive;	   /* the server's conn is not freed yet */
	char *out;	   /* everything the server sent */
	size_t len, cap, max;
	bool eof;	   /* the server closed its end */
	bool shut;	   /* we half-closed ours */
	uint64_t deadline;
};

static struct client *cur; /* for the failure report */

/* The server's output, escaped, to stderr. */
static void dump_output(const struct client *c)
{
	fprintf(stderr, "server output (%zu bytes):\n", c->len);
	size_t n = c->len < 8192 ? c->len : 8192;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)c->out[i];
		if (ch == '\n')
			fputs("\\n\n", stderr);
		else if (ch == '\r')
			fputs("\\r", stderr);
		else if (ch < 32 || ch >= 127)
			fprintf(stderr, "\\x%02x", ch);
		else
			fputc(ch, stderr);
	}
	fputc('\n', stderr);
}

static void dump_and_abort(const char *what)
{
	fprintf(stderr, "fuzz_smtp_session: %s\n", what);
	if (cur != NULL)
		dump_output(cur);
	abort();
}

#define EXPECT(cond)                                                        \
	do {                                                                \
		if (!(cond))                                                \
			dump_and_abort("invariant failed: " #cond);         \
	} while (0)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- one-time set-up ---- */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_dir(void)
{
	if (g.dir[0] != '\0')
		nftw(g.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setting(const char *assignment)
{
	if (config_set(g.cfg, assignment, "fuzz", stderr) != 0)
		abort();
}

static int64_t add_user(const char *address)
{
	struct auth_pass_params params = {g.cfg->auth.argon2_memory,
					  g.cfg->auth.argon2_passes};
	char *hash = auth_pass_hash("pw", 2, &params);
	struct store_user u = {0, (char *)address, hash, 0, (char *)""};
	struct store_user got;
	const char *err;
	CHECK(hash != NULL);
	CHECK(store_user_add(g.store, &u, &err) == 1);
	free(hash);
	CHECK(store_user_lookup(g.store, address, &got) == 1);
	int64_t id = got.id;
	store_user_clear(&got);
	return id;
}

static void add_alias(const char *alias, const char *target)
{
	const char *err;
	CHECK(store_alias_add(g.store, alias, &target, 1, &err) == 1);
}

static void barrier_run(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&g.barrier);
}

static void barrier_done(void *arg)
{
	(void)arg;
	g.bpending--;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void setup(void)
{
	const char *err;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
	if (base == NULL)
		base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(g.dir, sizeof(g.dir), "%s/posthorn-fuzz-smtp-XXXXXX", base);
	if (mkdtemp(g.dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	atexit(remove_dir);

	g.cfg = config_new();
	setting("server.hostname=mx.example.com");
	setting("smtp.max_message_size=64K");
	setting("auth.argon2_memory=8");
	setting("auth.argon2_passes=1");
	setting("auth.cache_ttl=300");
	setting("log.level=error");
	config_finish(g.cfg);
	log_set_level((enum log_level)g.cfg->log.level);
	CHECK(auth_pass_init() >= 0);

	if (store_open(g.dir, &g.store, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		abort();
	}
	CHECK(store_domain_add(g.store, "example.com", &err) == 1);
	CHECK(store_domain_add(g.store, "other.example", &err) == 1);
	g.users[0] = add_user("alice@example.com");
	g.users[1] = add_user("bob@example.com");
	add_alias("postmaster@example.com", "alice@example.com");
	add_alias("@other.example", "bob@example.com");

	loop_init_threads();
	g.loop = loop_new();
	g.base = loop_base(g.loop);
	g.workers = worker_pool_new(NWORKERS);
	g.env = (struct smtp_env){g.cfg, g.store, g.workers};
	pthread_barrier_init(&g.barrier, NULL, NWORKERS);
	for (int i = 0; i < NWORKERS; i++)
		g.bjobs[i] = (struct job){NULL, barrier_run, barrier_done,
					  NULL, NULL};
	/* Keeps EVLOOP_ONCE from sleeping for ever, so hangs are seen. */
	struct timeval tv = {0, 20000};
	g.tick = event_new(g.base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(g.tick, &tv);
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
		CHECK(store_account_open(g.store, g.users[i], &acct) > 0);
		CHECK(store_mailbox_find(acct, "INBOX", &mbox) > 0);
		CHECK(store_msg_list(acct, mbox.id, &msgs, &n) > 0);
		if (expunge && n > 0) {
			uint32_t *uids = calloc(n, sizeof(*uids));
			for (size_t k = 0; k < n; k++)
				uids[k] = msgs[k].uid;
			CHECK(store_msg_expunge(acct, mbox.id, uids, n) > 0);
			free(uids);
			n = 0;
		}
		total += n;
		free(msgs);
		store_account_unref(&acct);
	}
	return total;
}

/* ---- driving the session ---- */

static void check_deadline(struct client *c)
{
	if (now_ns() > c->deadline)
		dump_and_abort("hang: the session neither finished nor closed "
			       "in time");
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	(void)what;
	for (;;) {
		if (c->cap - c->len < 65536) {
			c->cap = c->cap * 2 + 65536;
			c->out = realloc(c->out, c->cap);
			CHECK(c->out != NULL);
		}
		ssize_t n = read(fd, c->out + c->len, c->cap - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			if (c->len > c->max)
				dump_and_abort("server output exceeds its "
					       "bound");
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		c->eof = true; /* 0, or ECONNRESET and the like */
		event_del(c->ev);
		return;
	}
}

static void on_release(void *arg)
{
	struct client *c = arg;
	c->alive = false;
}

/* Run the loop until nothing is active or waiting to be. */
static void settle(struct client *c)
{
	do {
		event_base_loop(g.base, EVLOOP_NONBLOCK);
		check_deadline(c);
	} while (event_base_get_num_events(g.base, EVENT_BASE_COUNT_ACTIVE) >
		 0);
}

/* Run the loop until the session waits for the client: every job handed
 * to a worker before the barrier jobs has finished and been posted back
 * (jobs are taken in order, and the barrier needs every worker), and
 * every job's done writes a reply, so a round with no new output and an
 * empty output buffer means nothing is in flight. */
static void quiesce(struct client *c)
{
	for (;;) {
		settle(c);
		if (c->eof)
			return;
		size_t before = c->len;
		g.bpending = NWORKERS;
		for (int i = 0; i < NWORKERS; i++)
			worker_submit(g.workers, g.loop, &g.bjobs[i]);
		while (g.bpending > 0) {
			event_base_loop(g.base, EVLOOP_ONCE);
			check_deadline(c);
		}
		settle(c);
		if (c->eof)
			return;
		if (c->len == before &&
		    (!c->alive || conn_output_len(c->conn) == 0))
			return;
	}
}

static void send_all(struct client *c, const uint8_t *p, size_t n)
{
	while (n > 0 && !c->eof) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
				     errno == EINTR)) {
			event_base_loop(g.base, EVLOOP_ONCE);
			check_deadline(c);
		} else {
			return; /* the server closed: the rest goes unheard */
		}
	}
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* Up to 3 split points, sorted, derived from the input. */
static size_t split_points(const uint8_t *data, size_t size, size_t cut[3])
{
	if (size < 2)
		return 0;
	uint64_t h = fnv1a(data, size);
	size_t n = (size_t)(h & 3);
	if (n > 3)
		n = 3;
	for (size_t i = 0; i < n; i++)
		cut[i] = 1 + (size_t)((h >> (16 + 16 * i)) & 0xffff) %
				     (size - 1);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && cut[j - 1] > cut[j]; j--) {
			size_t t = cut[j];
			cut[j] = cut[j - 1];
			cut[j - 1] = t;
		}
	return n;
}

/* Feed the input in pieces, each followed by quiescence; then half-close
 * and wait for the server to close too. */
static void run_session(struct client *c, const uint8_t *data, size_t size)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0, sv) == 0);
	c->fd = sv[0];
	c->ev = event_new(g.base, c->fd, EV_READ | EV_PERSIST, client_read_cb,
			  c);
	event_add(c->ev, NULL);

	struct sockaddr_in peer = {0};
	peer.sin_family = AF_INET;
	peer.sin_port = htons(40000);
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->alive = true;
	c->conn = smtp_session_start(g.loop, sv[1],
				     (const struct sockaddr *)&peer,
				     sizeof(peer), &g.env);
	conn_set_release(c->conn, on_release, c);
	quiesce(c);

	size_t cut[3], ncut = split_points(data, size, cut), at = 0;
	for (size_t i = 0; i <= ncut && !c->eof; i++) {
		size_t end = i < ncut ? cut[i] : size;
		send_all(c, data + at, end - at);
		at = end;
		quiesce(c);
	}
	if (!c->eof) {
		shutdown(c->fd, SHUT_WR);
		c->shut = true;
	}
	while (!c->eof) {
		event_base_loop(g.base, EVLOOP_ONCE);
		check_deadline(c);
	}
	settle(c);
	EXPECT(!c->alive);
	event_free(c->ev);
	close(c->fd);
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
	EXPECT(finals >= 1);

	/* The server closed on its own only after saying why, and it closes
	 * right after saying goodbye. */
	if (!c->shut)
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
	if (g.cfg == NULL)
		setup();
	if (++g.iterations % EXPUNGE_EVERY == 0)
		count_messages(true);
	size_t before = count_messages(false);

	struct client c = {0};
	c.deadline = now_ns() + DEADLINE_NS;
	c.max = 64 * 1024 + 200 * size;
	cur = &c;
	run_session(&c, data, size);
	/* FUZZ_SESSION_DUMP=1 shows what the server said, e.g. when
	 * running a single reproducer. */
	if (getenv("FUZZ_SESSION_DUMP") != NULL)
		dump_output(&c);
	unsigned queued = check_replies(&c, data, size);

	size_t after = count_messages(false);
	EXPECT(after >= before + queued);
	if (queued == 0)
		EXPECT(after == before);
	cur = NULL;
	free(c.out);
	return 0;
}
