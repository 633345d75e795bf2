/* Shared by the whole-session harnesses (fuzz_smtp_session,
 * fuzz_pop3_session): a real loop, worker pool and store, and a client on
 * the other end of a socket pair that feeds the input in a few writes and
 * collects everything the server sends.
 *
 * Each write is followed by running the loop until the session is idle (no
 * event pending, no job on a worker, no reply unsent), and the client
 * half-closes only then.  A session that neither answers nor closes within
 * DEADLINE_NS is a hang and aborts.
 *
 * The harness calls session_init(), its own setting()s, session_open_store(),
 * then whatever it needs in the store, then session_start_loop() with the
 * function that starts a session; run_session() then drives one client.
 *
 * Each tests/fuzz/fuzz_*.c is its own program, so everything here is
 * static. */
#ifndef POSTHORN_TESTS_FUZZ_SESSION_H
#define POSTHORN_TESTS_FUZZ_SESSION_H

#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#include "auth/auth_pass.h"
#include "core/config.h"
#include "core/session.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "store/store.h"

#define NWORKERS 2
#define DEADLINE_NS (3000000000ull)

/* Starts a session on fd (taking it), as smtp_session_start() or
 * pop3_session_start() with the harness's env. */
typedef struct session *session_start_fn(struct loop *loop,
					 struct session_list *list, int fd,
					 const struct sockaddr *peer,
					 socklen_t peerlen);

/* What every session harness has. */
static struct {
	const char *name; /* the harness, for messages */
	session_start_fn *start;
	struct config *cfg;
	struct store *store;
	struct worker_pool *workers;
	struct loop *loop;
	struct session_list *list;
	struct event_base *base;
	struct event *tick;
	char dir[128];
	int64_t users[2]; /* alice, bob */
	uint64_t quota;	  /* theirs, in bytes (0 = none): set it first */
	pthread_barrier_t barrier;
	struct job bjobs[NWORKERS];
	unsigned bpending;
} sess;

/* The client's end of one session. */
struct client {
	int fd;
	struct event *ev;
	struct session *sess;
	bool alive;	   /* the server's session is not freed yet */
	bool stalled;	   /* not reading until the server pushes back */
	bool reset;	   /* we closed without waiting: replies may be cut */
	size_t last_output; /* the server's unsent output, last round */
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
	fprintf(stderr, "%s: %s\n", sess.name, what);
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
	if (sess.dir[0] != '\0')
		nftw(sess.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setting(const char *assignment)
{
	if (config_set(sess.cfg, assignment, "fuzz", stderr) != 0)
		abort();
}

static int64_t add_user(const char *address)
{
	struct auth_pass_params params = {sess.cfg->auth.argon2_memory,
					  sess.cfg->auth.argon2_passes};
	char *hash = auth_pass_hash("pw", 2, &params);
	struct store_user u = {0, (char *)address, hash, sess.quota,
			       (char *)"", NULL};
	struct store_user got;
	const char *err;
	CHECK(hash != NULL);
	CHECK(store_user_add(sess.store, &u, &err) == 1);
	free(hash);
	CHECK(store_user_lookup(sess.store, address, &got) == 1);
	int64_t id = got.id;
	store_user_clear(&got);
	return id;
}

static void add_alias(const char *alias, const char *target)
{
	const char *err;
	CHECK(store_alias_add(sess.store, alias, &target, 1, &err) == 1);
}

static void barrier_run(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&sess.barrier);
}

static void barrier_done(void *arg)
{
	(void)arg;
	sess.bpending--;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* The harness's name for messages, a scratch directory for the store
 * named after tag (removed at exit), and a fresh config. */
static void session_init(const char *name, const char *tag)
{
	sess.name = name;
	/* As the server does: a write to a reset peer is an error, not a
	 * signal. */
	signal(SIGPIPE, SIG_IGN);
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
	if (base == NULL)
		base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(sess.dir, sizeof(sess.dir), "%s/posthorn-fuzz-%s-XXXXXX",
		 base, tag);
	if (mkdtemp(sess.dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	atexit(remove_dir);
	sess.cfg = config_new();
}

/* After the harness's setting()s: finish the config and open the store
 * with domains example.com and other.example, users alice and bob
 * (password "pw"), postmaster@example.com going to alice and
 * @other.example to bob. */
static void session_open_store(void)
{
	const char *err;
	config_finish(sess.cfg);
	log_set_level((enum log_level)sess.cfg->log.level);
	CHECK(auth_pass_init() >= 0);

	if (store_open(sess.dir, &sess.store, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		abort();
	}
	CHECK(store_domain_add(sess.store, "example.com", &err) == 1);
	CHECK(store_domain_add(sess.store, "other.example", &err) == 1);
	sess.users[0] = add_user("alice@example.com");
	sess.users[1] = add_user("bob@example.com");
	add_alias("postmaster@example.com", "alice@example.com");
	add_alias("@other.example", "bob@example.com");
}

/* The loop, the workers, the barrier jobs and the tick; sessions are
 * started with start.  The harness sets up its env after this, before
 * the first session. */
static void session_start_loop(session_start_fn *start)
{
	sess.start = start;
	loop_init_threads();
	sess.loop = loop_new();
	sess.base = loop_base(sess.loop);
	sess.list = session_list_new();
	sess.workers = worker_pool_new(NWORKERS, 0);
	pthread_barrier_init(&sess.barrier, NULL, NWORKERS);
	for (int i = 0; i < NWORKERS; i++)
		sess.bjobs[i] = (struct job){NULL, barrier_run, barrier_done,
					     NULL, NULL};
	/* Keeps EVLOOP_ONCE from sleeping for ever, so hangs are seen. */
	struct timeval tv = {0, 20000};
	sess.tick = event_new(sess.base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(sess.tick, &tv);
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
		event_base_loop(sess.base, EVLOOP_NONBLOCK);
		check_deadline(c);
	} while (event_base_get_num_events(sess.base,
					   EVENT_BASE_COUNT_ACTIVE) > 0);
}

/* Run the loop until the session waits for the client: every job handed
 * to a worker before the barrier jobs has finished and been posted back
 * (jobs are taken in order, and the barrier needs every worker).  A job's
 * done usually writes a reply, but not always (POP3's read-ahead after a
 * RETR finishes silently and then starts the next command's job).  So the
 * session counts as idle only after two rounds in a row with no new
 * output and an empty output buffer. */
static void quiesce(struct client *c)
{
	int quiet = 0;
	for (;;) {
		settle(c);
		if (c->eof)
			return;
		size_t before = c->len;
		sess.bpending = NWORKERS;
		for (int i = 0; i < NWORKERS; i++)
			worker_submit(sess.workers, sess.loop, &sess.bjobs[i]);
		while (sess.bpending > 0) {
			event_base_loop(sess.base, EVLOOP_ONCE);
			check_deadline(c);
		}
		settle(c);
		if (c->eof)
			return;
		/* A stalled client is not reading: the session is idle
		 * once its unsent output stops changing. */
		size_t pending = c->alive ? session_output_len(c->sess) : 0;
		/* A job that says nothing (an IMAP APPEND spooling its
		 * message a piece at a time) may outlast two rounds. */
		bool busy = c->alive && session_busy(c->sess);
		if (c->len == before && !busy &&
		    (pending == 0 || (c->stalled && pending == c->last_output))) {
			if (++quiet == 2)
				return;
		} else {
			quiet = 0;
		}
		c->last_output = pending;
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
			/* The server pushes back: a stalled client now reads,
			 * or both would wait for ever. */
			if (c->stalled) {
				c->stalled = false;
				event_add(c->ev, NULL);
			}
			event_base_loop(sess.base, EVLOOP_ONCE);
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

/* Feed the input in pieces, each followed by quiescence; then, depending
 * on the input: half-close and wait for the server to close too (most
 * inputs), or the same with the client not reading until the server
 * pushes back, or close at once after the last piece without waiting for
 * anything, as a reset would (a job may still be on a worker).  In every
 * case the session must end and free everything. */
static void run_session(struct client *c, const uint8_t *data, size_t size)
{
	int sv[2];
	uint64_t h = size > 0 ? fnv1a(data, size) : 0;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0, sv) == 0);
	c->fd = sv[0];
	c->ev = event_new(sess.base, c->fd, EV_READ | EV_PERSIST,
			  client_read_cb, c);
	c->stalled = (h >> 60) == 1;
	c->reset = (h >> 60) == 2;
	if (!c->stalled)
		event_add(c->ev, NULL);

	struct sockaddr_in peer = {0};
	peer.sin_family = AF_INET;
	peer.sin_port = htons(40000);
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->alive = true;
	c->sess = sess.start(sess.loop, sess.list, sv[1],
			     (const struct sockaddr *)&peer, sizeof(peer));
	session_set_release(c->sess, on_release, c);
	quiesce(c);

	size_t cut[3], ncut = split_points(data, size, cut), at = 0;
	for (size_t i = 0; i <= ncut && !c->eof; i++) {
		size_t end = i < ncut ? cut[i] : size;
		send_all(c, data + at, end - at);
		at = end;
		if (!(c->reset && i == ncut))
			quiesce(c);
	}
	if (c->reset) {
		event_del(c->ev);
		close(c->fd);
		c->fd = -1;
		c->eof = true;
		while (c->alive) {
			event_base_loop(sess.base, EVLOOP_ONCE);
			check_deadline(c);
		}
		quiesce(c);
		event_free(c->ev);
		return;
	}
	if (c->stalled) {
		c->stalled = false;
		event_add(c->ev, NULL);
		quiesce(c);
	}
	if (!c->eof) {
		shutdown(c->fd, SHUT_WR);
		c->shut = true;
	}
	while (!c->eof) {
		event_base_loop(sess.base, EVLOOP_ONCE);
		check_deadline(c);
	}
	settle(c);
	EXPECT(!c->alive);
	event_free(c->ev);
	close(c->fd);
}

/* After a reset the client may hold a reply cut short: keep only whole
 * lines, for checks that read lines. */
static void trim_to_lines(struct client *c)
{
	while (c->len > 0 && c->out[c->len - 1] != '\n')
		c->len--;
}

#endif
