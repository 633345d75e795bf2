/* The session core: one life cycle for every protocol session.
 *
 * The states a session can be in are few and explicit: open (the
 * protocol's step may run when no job runs and output is below the mark),
 * closing (flushing last words; input is discarded), and dead (the
 * connection ended while a job ran: the session is freed when the job
 * comes back).  Every path to the end goes through session_end(), and
 * session_destroy() is the only place that frees. */
#include "core/session.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/conn.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/tls.h"
#include "core/worker.h"
#include "core/xalloc.h"

/* Output low-water mark: the protocol is stepped again when the output
 * it was stopped by falls to this. */
#define OUTPUT_LOW (SESSION_OUTPUT_HIGH / 2)
/* How long last words may take to leave before we give up on a client
 * that does not read them; after a timeout, the client has had its time
 * already. */
#define CLOSE_TIMEOUT 30
#define CLOSE_AFTER_TIMEOUT 1

struct session_list {
	struct session *head;
};

struct session {
	struct session *prev, *next;	/* in list */
	struct session_list *list;
	struct conn *conn;
	const struct session_proto *proto;
	void *ctx;
	struct job job;
	void (*job_run)(void *ctx);
	void (*job_done)(void *ctx);
	enum session_end end;	/* why, once closing or dead */
	bool busy;		/* a job runs on a worker */
	bool closing;		/* flushing, then free */
	bool dead;		/* the connection is over: free after the job */
	bool peer_eof;		/* the client sent all it will send */
	bool stepping;		/* inside proto->step */
	bool wait_drain;	/* stopped by the output mark */
	bool tls_wait;		/* STARTTLS given, handshake not done */
	/* session_pause(): the timer, made on first use, and what to call
	 * when it fires (NULL when not paused). */
	struct event *pause;
	void (*pause_fn)(void *ctx);
	struct tls *tls;	/* where STARTTLS gets its context */
	/* Set on the loop when the session ends while its job waits in a
	 * queue; the worker then skips the job (a login for a client that
	 * is gone, the queue of a server shutting down). */
	atomic_bool cancelled;
	bool skipped;		/* written by the worker, read after done */
};

static void session_kick(struct session *s);

struct session_list *session_list_new(void)
{
	return xcalloc(1, sizeof(struct session_list));
}

static void session_destroy(struct session *s)
{
	s->proto->free(s->ctx, s->end);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		s->list->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->pause != NULL)
		event_free(s->pause);
	conn_free(&s->conn);
	free(s);
}

static void session_end(struct session *s, enum session_end why);

void session_list_end_all(struct session_list *list)
{
	struct session *s = list->head, *next;
	for (; s != NULL; s = next) {
		next = s->next;
		session_end(s, SESSION_END_SHUTDOWN);
	}
}

void session_list_free(struct session_list **listp)
{
	struct session_list *list = *listp;
	if (list == NULL)
		return;
	if (list->head != NULL)
		log_panic("session %s outlived its loop",
			  conn_id(list->head->conn));
	free(list);
	*listp = NULL;
}

const char *session_end_name(enum session_end why)
{
	static const char *const names[] = {
		[SESSION_END_CLOSED] = "closed", [SESSION_END_EOF] = "eof",
		[SESSION_END_RESET] = "reset",
		[SESSION_END_TIMEOUT] = "timeout",
		[SESSION_END_SHUTDOWN] = "shutdown",
		[SESSION_END_TLS_FAILED] = "tls-failed"};
	return names[why];
}

/* The connection is over for `why`: free now, or once the job is back. */
static void session_end(struct session *s, enum session_end why)
{
	if (!s->closing && !s->dead)
		s->end = why;
	s->dead = true;
	if (!s->busy)
		session_destroy(s);
	else
		atomic_store(&s->cancelled, true);
}

static void start_closing(struct session *s, enum session_end why)
{
	if (s->closing || s->dead)
		return;
	s->closing = true;
	s->end = why;
	conn_close_after_write(s->conn, why == SESSION_END_TIMEOUT
						? CLOSE_AFTER_TIMEOUT
						: CLOSE_TIMEOUT);
}

void session_close(struct session *s)
{
	start_closing(s, SESSION_END_CLOSED);
}

bool session_may_go_on(const struct session *s)
{
	return !s->busy && !s->closing && !s->dead && !s->tls_wait &&
	       s->pause_fn == NULL &&
	       conn_output_len(s->conn) < SESSION_OUTPUT_HIGH;
}

/* Let the protocol go on if it may.  Never re-entered: a step that starts
 * a job whose done runs at once would otherwise recurse. */
static void session_kick(struct session *s)
{
	if (s->stepping || s->busy || s->closing || s->dead || s->tls_wait ||
	    s->pause_fn != NULL)
		return;
	if (conn_output_len(s->conn) < SESSION_OUTPUT_HIGH) {
		s->stepping = true;
		s->proto->step(s->ctx);
		s->stepping = false;
		if (s->busy || s->closing || s->dead || s->tls_wait ||
		    s->pause_fn != NULL)
			return;
	}
	if (conn_output_len(s->conn) >= SESSION_OUTPUT_HIGH) {
		s->wait_drain = true;
		return;
	}
	/* The step stopped for want of input, and none will come: everything
	 * the client sent is answered, now we close our side. */
	if (s->peer_eof)
		start_closing(s, SESSION_END_EOF);
}

static void on_input(void *ctx)
{
	session_kick(ctx);
}

static void on_drained(void *ctx)
{
	struct session *s = ctx;
	if (s->wait_drain) {
		s->wait_drain = false;
		session_kick(s);
	}
}

static void on_timeout(struct session *s)
{
	/* The client waits for us, not the other way round. */
	if ((s->busy || s->pause_fn != NULL) && !s->dead)
		return;
	if (s->closing || s->dead) {
		session_end(s, SESSION_END_TIMEOUT);
		return;
	}
	if (s->proto->keepalive != NULL && s->proto->keepalive(s->ctx))
		return;
	if (s->proto->timeout != NULL)
		s->proto->timeout(s->ctx);
	start_closing(s, SESSION_END_TIMEOUT);
}

static void on_tls_ready(struct session *s)
{
	struct tls_info info;
	conn_tls_ready(s->conn, &info);
	struct str line = STR_INIT;
	session_log_begin(s, &line, "tls");
	log_field(&line, "version", "%s", info.version);
	log_field(&line, "cipher", "%s", info.cipher);
	log_field(&line, "bits", "%d", info.bits);
	log_put(LOG_INFO, &line);
	s->tls_wait = false;
	session_kick(s);
}

/* One line for fail2ban and admins: who failed and why (a scanner, a
 * client that wants TLS 1.0, one that does not trust the certificate). */
static void on_tls_failed(struct session *s)
{
	const char *why = conn_tls_failure(s->conn);
	struct str line = STR_INIT;
	session_log_begin(s, &line, "tls-failed");
	log_field(&line, "reason", "%s", why != NULL ? why : "unknown");
	log_put(LOG_INFO, &line);
	session_end(s, SESSION_END_TLS_FAILED);
}

static void on_event(void *ctx, enum conn_event ev)
{
	struct session *s = ctx;
	if ((ev == CONN_EOF || ev == CONN_ERROR) &&
	    conn_tls_failure(s->conn) != NULL) {
		on_tls_failed(s);
		return;
	}
	switch (ev) {
	case CONN_TLS_READY:
		on_tls_ready(s);
		break;
	case CONN_TIMEOUT:
		on_timeout(s);
		break;
	case CONN_EOF:
		if (s->proto->answer_after_eof && !s->closing && !s->dead) {
			s->peer_eof = true;
			session_kick(s);
			break;
		}
		session_end(s, SESSION_END_EOF);
		break;
	case CONN_BROKEN:
		/* Like the end of input: what the client sent before the bad
		 * bytes is answered, then the session closes. */
		if (!s->closing && !s->dead) {
			session_log_drop(s, "compress-failed");
			s->peer_eof = true;
			session_kick(s);
		}
		break;
	case CONN_ERROR:
		session_end(s, SESSION_END_RESET);
		break;
	case CONN_FLUSHED:
		session_end(s, s->end);
		break;
	}
}

static const struct conn_handler session_handler = {on_input, on_drained,
						    on_event};

struct session *session_new(struct loop *loop, struct session_list *list,
			    int fd, const struct sockaddr *peer,
			    socklen_t peerlen, size_t input_max,
			    const struct session_proto *proto, void *ctx)
{
	return session_new_tls(loop, list, fd, peer, peerlen, input_max, NULL,
			       proto, ctx);
}

struct session *session_new_tls(struct loop *loop, struct session_list *list,
				int fd, const struct sockaddr *peer,
				socklen_t peerlen, size_t input_max,
				const struct session_tls *tls,
				const struct session_proto *proto, void *ctx)
{
	struct session *s = xcalloc(1, sizeof(*s));
	struct tls_ctx *implicit = NULL;
	if (tls != NULL && tls->tls != NULL) {
		s->tls = tls->tls;
		if (tls->implicit)
			implicit = tls_get(tls->tls);
	}
	s->proto = proto;
	s->ctx = ctx;
	s->list = list;
	s->next = list->head;
	if (list->head != NULL)
		list->head->prev = s;
	list->head = s;
	s->conn = conn_new(loop, fd, peer, peerlen, input_max, implicit,
			   &session_handler, s);
	conn_set_drain_mark(s->conn, OUTPUT_LOW);
	return s;
}

void session_set_release(struct session *s, void (*fn)(void *arg),
			 void *arg)
{
	conn_set_release(s->conn, fn, arg);
}

struct loop *session_loop(const struct session *s)
{
	return conn_loop(s->conn);
}

const char *session_id(const struct session *s)
{
	return conn_id(s->conn);
}

const char *session_proto_name(const struct session *s)
{
	return s->proto->name;
}

const char *session_peer_text(const struct session *s)
{
	return conn_peer_text(s->conn);
}

void session_log_begin(const struct session *s, struct str *line,
		       const char *event)
{
	log_begin(line, s->proto->name, conn_id(s->conn), event);
	log_field(line, "client", "%s", conn_peer_text(s->conn));
}

void session_log_drop(const struct session *s, const char *result)
{
	struct str line = STR_INIT;
	session_log_begin(s, &line, "drop");
	log_field(&line, "result", "%s", result);
	log_put(LOG_INFO, &line);
}

const struct sockaddr *session_peer(const struct session *s)
{
	return conn_peer(s->conn);
}

bool session_peer_is_loopback(const struct session *s)
{
	return conn_peer_is_loopback(s->conn);
}

bool session_tls_available(const struct session *s)
{
	return s->tls != NULL && !conn_tls_started(s->conn);
}

bool session_tls_active(const struct session *s)
{
	return conn_tls_started(s->conn);
}

bool session_starttls(struct session *s)
{
	if (!session_tls_available(s) || s->closing || s->dead)
		return false;
	if (conn_starttls(s->conn, tls_get(s->tls)) < 0)
		return false;
	s->tls_wait = true;
	return true;
}

bool session_tls_info(const struct session *s, struct tls_info *info_r)
{
	return conn_tls_ready(s->conn, info_r);
}

int session_tls_exporter(const struct session *s, unsigned char out[32])
{
	return conn_tls_exporter(s->conn, out);
}

bool session_compress(struct session *s)
{
	if (s->closing || s->dead)
		return false;
	return conn_compress(s->conn) == 0;
}

bool session_compressed(const struct session *s)
{
	return conn_compressed(s->conn);
}

void session_set_timeout(struct session *s, unsigned seconds)
{
	if (!s->closing && !s->dead)
		conn_set_timeout(s->conn, seconds);
}

int session_read_line(struct session *s, size_t max, struct str *line_r)
{
	if (!session_may_go_on(s))
		return 0;
	return conn_read_line(s->conn, max, line_r);
}

size_t session_read_bytes(struct session *s, size_t n, struct str *out)
{
	if (!session_may_go_on(s))
		return 0;
	return conn_read_bytes(s->conn, n, out);
}

int session_peek_line(struct session *s, size_t max, struct str *line_r)
{
	if (!session_may_go_on(s))
		return 0;
	return conn_peek_line(s->conn, max, line_r);
}

size_t session_peek_bytes(struct session *s, size_t n, struct str *out)
{
	if (!session_may_go_on(s))
		return 0;
	return conn_peek_bytes(s->conn, n, out);
}

void session_drop_input(struct session *s, size_t n)
{
	conn_drop_input(s->conn, n);
}

size_t session_input_len(const struct session *s)
{
	return conn_input_len(s->conn);
}

void session_write(struct session *s, const void *p, size_t n)
{
	if (!s->closing && !s->dead)
		conn_write(s->conn, p, n);
}

void session_reply(struct session *s, const char *fmt, ...)
{
	char r[1024];
	size_t max = s->proto->max_reply;
	if (max == 0 || max > sizeof(r) - 2)
		max = sizeof(r) - 2;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(r, max + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > max)
		n = (int)max;
	if (log_enabled(LOG_DEBUG)) {
		/* A reply may echo what the client sent. */
		struct str line = STR_INIT;
		log_begin(&line, s->proto->name, conn_id(s->conn), "reply");
		log_value(&line, "text", r, (size_t)n);
		log_put(LOG_DEBUG, &line);
	}
	r[n] = '\r';
	r[n + 1] = '\n';
	session_write(s, r, (size_t)n + 2);
}

size_t session_output_len(const struct session *s)
{
	return conn_output_len(s->conn);
}

/* On the worker: run() sees only the protocol's state. */
static void job_run(void *arg)
{
	struct session *s = arg;
	s->skipped = atomic_load(&s->cancelled);
	if (!s->skipped)
		s->job_run(s->ctx);
}

static void job_done(void *arg)
{
	struct session *s = arg;
	s->busy = false;
	/* What run produced is the protocol's to log and release; a job
	 * that never ran produced nothing. */
	if (!s->skipped)
		s->job_done(s->ctx);
	if (s->dead) {
		if (!s->busy)
			session_destroy(s);
		return;
	}
	session_kick(s);
}

bool session_run(struct session *s, struct worker_pool *pool,
		 void (*run)(void *ctx), void (*done)(void *ctx))
{
	if (s->busy || s->dead)
		return false;
	s->job.run = job_run;
	s->job.done = job_done;
	s->job.arg = s;
	s->job_run = run;
	s->job_done = done;
	s->busy = true;
	if (!worker_submit(pool, conn_loop(s->conn), &s->job)) {
		s->busy = false;
		return false;
	}
	return true;
}

bool session_busy(const struct session *s)
{
	return s->busy || s->pause_fn != NULL;
}

static void on_pause_end(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	void (*fn)(void *ctx) = s->pause_fn;
	s->pause_fn = NULL;
	fn(s->ctx);
	session_kick(s);
}

bool session_pause(struct session *s, unsigned ms, void (*fn)(void *ctx))
{
	if (s->busy || s->closing || s->dead || s->pause_fn != NULL)
		return false;
	if (s->pause == NULL)
		s->pause = evtimer_new(loop_base(conn_loop(s->conn)),
				       on_pause_end, s);
	if (s->pause == NULL)
		return false;
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};
	s->pause_fn = fn;
	evtimer_add(s->pause, &tv);
	return true;
}
