/* `posthorn serve`: bind the listeners, leave root, open the store, and run
 * one event loop per thread; each accepted connection goes to its
 * protocol's session on the loop that accepted it. */
#include "serve.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/auth_limit.h"
#include "auth/auth_pass.h"
#include "core/budget.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/net.h"
#include "core/priv.h"
#include "core/session.h"
#include "core/tls.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "imap/imap_session.h"
#include "pop3/pop3_session.h"
#include "smtp/smtp_rate.h"
#include "smtp/smtp_session.h"
#include "store/store.h"

enum proto { PROTO_SMTP, PROTO_POP3, PROTO_IMAP, PROTO_SUBMISSION };

#define IP_BUCKETS 1024
/* Password hashing has its own threads and a bounded queue, so a login
 * flood waits there, or is refused, and never delays mail. */
#define AUTH_THREADS 2
#define SWEEP_SECONDS 5
#define AUTH_QUEUE 256

/* Connections per client address, across all loops and listeners. */
struct ip_count {
	struct ip_count *next;
	unsigned char addr[16];
	unsigned count;
	struct serve *serve;
};

struct listener {
	struct listener *next;
	int fd;
	enum proto proto;
	bool tls;	/* implicit TLS */
	const char *key;
	char text[64];
};

struct serve {
	const struct config *cfg;
	struct store *store;
	struct auth *auth;
	struct auth_limit *limit;	/* failed logins, every protocol */
	/* Logins from addresses known to the limits: a flood of guesses
	 * from elsewhere waits in auth_workers, not in front of them. */
	struct worker_pool *auth_known;
	struct worker_pool *workers;
	struct worker_pool *auth_workers;
	struct worker_pool *sync_workers;	/* IMAP jobs that fsync */
	struct budget *budget;
	char *spool_dir;
	struct event *sweep;	/* on loop 0: the store's housekeeping */
	struct job sweep_job;
	bool sweeping;		/* sweep_job is out */
	struct tls *tls;
	struct job reload_job;	/* SIGHUP: new certificates, on a worker */
	bool reloading;
	struct tls_ctx *reload_ctx;
	struct str reload_err;
	struct smtp_env smtp_env, submission_env, submissions_env;
	struct smtp_rate *rate;
	struct pop3_env pop3_env, pop3s_env;
	struct imap_env imap_env, imaps_env;
	unsigned nloops;
	struct loop **loops;
	struct session_list **sessions;	/* one per loop */
	struct listener *listeners;
	pthread_mutex_t ip_lock;
	struct ip_count *ips[IP_BUCKETS];
	unsigned connections;
};

/* One per (listener, loop): what the accept callback needs. */
struct accept_ctx {
	struct serve *serve;
	struct listener *listener;
	struct loop *loop;
	struct session_list *sessions;
	struct evconnlistener *ev;
};

static void ip_key(const struct sockaddr *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		key[10] = key[11] = 0xff; /* as a v4-mapped v6 address */
		memcpy(key + 12, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)
				       ->sin6_addr, 16);
	}
}

static unsigned ip_bucket(const unsigned char key[16])
{
	unsigned h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % IP_BUCKETS;
}

/* Count a new connection; NULL when a limit says no. */
static struct ip_count *ip_take(struct serve *sv, const struct sockaddr *sa)
{
	unsigned char key[16];
	ip_key(sa, key);
	unsigned b = ip_bucket(key);
	struct ip_count *e;
	pthread_mutex_lock(&sv->ip_lock);
	if (sv->connections >= sv->cfg->server.max_connections) {
		pthread_mutex_unlock(&sv->ip_lock);
		return NULL;
	}
	for (e = sv->ips[b]; e != NULL; e = e->next)
		if (memcmp(e->addr, key, 16) == 0)
			break;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->addr, key, 16);
		e->serve = sv;
		e->next = sv->ips[b];
		sv->ips[b] = e;
	}
	if (e->count >= sv->cfg->server.max_connections_per_ip) {
		pthread_mutex_unlock(&sv->ip_lock);
		return NULL;
	}
	e->count++;
	sv->connections++;
	pthread_mutex_unlock(&sv->ip_lock);
	return e;
}

static void ip_release(void *arg)
{
	struct ip_count *e = arg;
	struct serve *sv = e->serve;
	pthread_mutex_lock(&sv->ip_lock);
	sv->connections--;
	if (--e->count == 0) {
		struct ip_count **pp = &sv->ips[ip_bucket(e->addr)];
		while (*pp != e)
			pp = &(*pp)->next;
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&sv->ip_lock);
}

static void refuse(int fd, const struct listener *l,
		   const struct sockaddr *sa)
{
	enum proto proto = l->proto;
	static const char smtp[] = "421 4.7.0 Too many connections, try "
				   "again later\r\n";
	static const char pop3[] = "-ERR [SYS/TEMP] Too many connections\r\n";
	static const char imap[] = "* BYE [UNAVAILABLE] Too many "
				   "connections\r\n";
	static const char *const names[] = {"smtp", "pop3", "imap", "smtp"};
	static const char *const texts[] = {smtp, pop3, imap, smtp};
	static const size_t lens[] = {sizeof(smtp) - 1, sizeof(pop3) - 1,
				      sizeof(imap) - 1, sizeof(smtp) - 1};
	char peer[64];
	net_addr_text(sa, peer, sizeof(peer));
	struct str line = STR_INIT;
	log_begin(&line, names[proto], NULL, "refused");
	log_field(&line, "client", "%s", peer);
	log_field(&line, "result", "connection-limit");
	log_put(LOG_WARN, &line);
	/* Best effort on a fresh socket; the client may not read it, and a
	 * TLS client would take clear text for a broken handshake. */
	ssize_t n = l->tls ? 0 : write(fd, texts[proto], lens[proto]);
	(void)n;
	close(fd);
}

static void accept_cb(struct evconnlistener *ev, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct accept_ctx *ac = arg;
	struct serve *sv = ac->serve;
	struct session *sess;
	(void)ev;
	struct ip_count *slot = ip_take(sv, sa);
	if (slot == NULL) {
		refuse(fd, ac->listener, sa);
		return;
	}
	/* Replies are written whole, each when it is ready; Nagle would only
	 * hold the last one back waiting for an ACK (a 40 ms stall in
	 * pipelined POP3). */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ac->listener->proto == PROTO_SMTP)
		sess = smtp_session_start(ac->loop, ac->sessions, fd, sa,
					  (socklen_t)salen, &sv->smtp_env);
	else if (ac->listener->proto == PROTO_SUBMISSION)
		sess = smtp_session_start(ac->loop, ac->sessions, fd, sa,
					  (socklen_t)salen,
					  ac->listener->tls
						  ? &sv->submissions_env
						  : &sv->submission_env);
	else if (ac->listener->proto == PROTO_IMAP)
		sess = imap_session_start(ac->loop, ac->sessions, fd, sa,
					  (socklen_t)salen,
					  ac->listener->tls ? &sv->imaps_env
							    : &sv->imap_env);
	else
		sess = pop3_session_start(ac->loop, ac->sessions, fd, sa,
					  (socklen_t)salen,
					  ac->listener->tls ? &sv->pop3s_env
							    : &sv->pop3_env);
	session_set_release(sess, ip_release, slot);
}

static void accept_error_cb(struct evconnlistener *ev, void *arg)
{
	(void)ev;
	(void)arg;
	/* EMFILE and friends: the listener retries on the next event. */
	struct str line = STR_INIT;
	log_begin(&line, "serve", NULL, "accept-failed");
	log_field(&line, "error", "%s", strerror(errno));
	log_put(LOG_WARN, &line);
}

struct bind_ctx {
	struct serve *sv;
	enum proto proto;
	bool tls;
	const char *key;
	int failed;
};

static int bind_one(const struct sockaddr *sa, socklen_t len, void *arg)
{
	struct bind_ctx *bc = arg;
	struct listener *l = xcalloc(1, sizeof(*l));
	int one = 1;
	net_hostport_text(sa, l->text, sizeof(l->text));
	l->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
					      SOCK_CLOEXEC, 0);
	if (l->fd < 0 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(l->fd, sa, len) < 0 || listen(l->fd, 1024) < 0) {
		struct str line = STR_INIT;
		log_begin(&line, "serve", NULL, "listen-failed");
		log_field(&line, "key", "listen.%s", bc->key);
		log_field(&line, "address", "%s", l->text);
		log_field(&line, "error", "%s", strerror(errno));
		log_put(LOG_ERROR, &line);
		if (l->fd >= 0)
			close(l->fd);
		free(l);
		bc->failed = 1;
		return 0;
	}
	l->proto = bc->proto;
	l->tls = bc->tls;
	l->key = bc->key;
	l->next = bc->sv->listeners;
	bc->sv->listeners = l;
	return 0;
}

static int bind_listeners(struct serve *sv)
{
	const struct config *cfg = sv->cfg;
	const char *err;
	const struct {
		const char *key, *value;
		int proto; /* -1: not in this version */
		bool tls;  /* implicit TLS */
	} all[] = {
		{"smtp", cfg->listen.smtp, PROTO_SMTP, false},
		{"pop3", cfg->listen.pop3, PROTO_POP3, false},
		{"submission", cfg->listen.submission, PROTO_SUBMISSION, false},
		{"submissions", cfg->listen.submissions, PROTO_SUBMISSION, true},
		{"imap", cfg->listen.imap, PROTO_IMAP, false},
		{"imaps", cfg->listen.imaps, PROTO_IMAP, true},
		{"pop3s", cfg->listen.pop3s, PROTO_POP3, true},
		{"http", cfg->listen.http, -1, false},
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (all[i].value[0] == '\0')
			continue;
		if (all[i].proto < 0) {
			struct str line = STR_INIT;
			log_begin(&line, "serve", NULL, "listen-ignored");
			log_field(&line, "key", "listen.%s", all[i].key);
			log_field(&line, "address", "%s", all[i].value);
			log_field(&line, "reason", "not served by this version "
				  "of posthorn yet");
			log_put(LOG_INFO, &line);
			continue;
		}
		struct bind_ctx bc = {sv, (enum proto)all[i].proto,
				      all[i].tls, all[i].key, 0};
		net_parse_listen_list(all[i].value, bind_one, &bc, &err);
		if (bc.failed)
			return -1;
	}
	if (sv->listeners == NULL) {
		struct str line = STR_INIT;
		log_begin(&line, "serve", NULL, "no-listeners");
		log_put(LOG_ERROR, &line);
		return -1;
	}
	return 0;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Certificates: at start-up, and again on SIGHUP.  Configured keys are
 * often readable by root only, so they are read before privileges are
 * dropped; the self-signed one is made after, so its files belong to the
 * server's user. */
static int load_tls(struct serve *sv)
{
	struct tls_ctx *ctx;
	struct str err = STR_INIT;
	if (tls_ctx_new(sv->cfg, &ctx, &err) < 0) {
		struct str line = STR_INIT;
		log_begin(&line, "serve", NULL, "tls-failed");
		log_field(&line, "error", "%s", err.data);
		log_put(LOG_ERROR, &line);
		str_free(&err);
		return -1;
	}
	sv->tls = tls_new(ctx);
	return 0;
}

static void reload_run(void *arg)
{
	struct serve *sv = arg;
	str_clear(&sv->reload_err);
	if (tls_ctx_new(sv->cfg, &sv->reload_ctx, &sv->reload_err) < 0)
		sv->reload_ctx = NULL;
}

/* New connections get the new certificates; open ones keep theirs.  A
 * reload that fails keeps the old ones and says why. */
static void reload_done(void *arg)
{
	struct serve *sv = arg;
	struct str line = STR_INIT;
	sv->reloading = false;
	log_begin(&line, "serve", NULL, "reload");
	if (sv->reload_ctx == NULL) {
		log_field(&line, "result", "failed");
		log_field(&line, "error", "%s", sv->reload_err.data);
		log_put(LOG_ERROR, &line);
		return;
	}
	tls_set(sv->tls, sv->reload_ctx);
	sv->reload_ctx = NULL;
	log_field(&line, "result", "ok");
	log_put(LOG_INFO, &line);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;
	(void)sig;
	(void)what;
	if (sv->reloading)
		return;
	sv->reloading = true;
	sv->reload_job = (struct job){NULL, reload_run, reload_done, sv, NULL};
	worker_submit(sv->workers, sv->loops[0], &sv->reload_job);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;
	(void)what;
	struct str line = STR_INIT;
	log_begin(&line, "serve", NULL, "stopping");
	log_field(&line, "signal", "%d", (int)sig);
	log_put(LOG_INFO, &line);
	for (unsigned i = 0; i < sv->nloops; i++)
		loop_stop(sv->loops[i]);
}

static int start_loops(struct serve *sv, struct accept_ctx **acs_r)
{
	unsigned nl = 0;
	for (struct listener *l = sv->listeners; l; l = l->next)
		nl++;
	struct accept_ctx *acs = xcalloc((size_t)nl * sv->nloops, sizeof(*acs));
	size_t k = 0;
	/* Every loop accepts on every listening socket: the kernel hands
	 * each connection to one of them, which spreads the load. */
	for (unsigned i = 0; i < sv->nloops; i++) {
		for (struct listener *l = sv->listeners; l; l = l->next, k++) {
			acs[k] = (struct accept_ctx){sv, l, sv->loops[i],
						     sv->sessions[i], NULL};
			acs[k].ev = evconnlistener_new(
				loop_base(sv->loops[i]), accept_cb, &acs[k],
				LEV_OPT_REUSEABLE, 0, l->fd);
			if (acs[k].ev == NULL)
				return -1;
			evconnlistener_set_error_cb(acs[k].ev, accept_error_cb);
		}
	}
	*acs_r = acs;
	return (int)k;
}

/* DATA/tmp holds the spool files of messages being received; they have
 * no name, so a crash leaves nothing in it. */
static int make_spool_dir(struct serve *sv)
{
	const char *data = sv->cfg->server.data_dir;
	size_t n = strlen(data) + sizeof("/tmp");
	sv->spool_dir = xmalloc(n);
	snprintf(sv->spool_dir, n, "%s/tmp", data);
	if (mkdir(sv->spool_dir, 0700) < 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", sv->spool_dir,
			  strerror(errno));
		return -1;
	}
	return 0;
}

static void sweep_run(void *arg)
{
	struct serve *sv = arg;
	store_release_removed(sv->store);
	store_trim_idle(sv->store, STORE_TRIM_IDLE_SECONDS);
}

static void sweep_done(void *arg)
{
	struct serve *sv = arg;
	sv->sweeping = false;
}

/* Now and then, on a worker: let go of the databases of accounts that
 * `posthorn user remove` deleted while we ran, so their space is freed
 * even if no mail comes for them any more. */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct serve *sv = arg;
	(void)fd;
	(void)what;
	if (sv->sweeping)
		return;
	sv->sweeping = true;
	sv->sweep_job = (struct job){NULL, sweep_run, sweep_done, sv, NULL};
	worker_submit(sv->workers, sv->loops[0], &sv->sweep_job);
}

static void start_sweep(struct serve *sv)
{
	struct timeval every = {SWEEP_SECONDS, 0};
	sv->sweep = event_new(loop_base(sv->loops[0]), -1, EV_PERSIST, on_sweep,
			      sv);
	event_add(sv->sweep, &every);
}

/* Every open session is ended and freed.  A job already on a worker runs
 * to its end, so a commit under way completes (its reply is not sent:
 * the client will retry, and delivery is idempotent enough for that). */
static void shutdown_sessions(struct serve *sv)
{
	for (unsigned i = 0; i < sv->nloops; i++)
		session_list_end_all(sv->sessions[i]);
	worker_pool_free(&sv->workers);
	worker_pool_free(&sv->auth_workers);
	worker_pool_free(&sv->auth_known);
	worker_pool_free(&sv->sync_workers);
	for (unsigned i = 0; i < sv->nloops; i++) {
		loop_run_posted(sv->loops[i]);
		session_list_free(&sv->sessions[i]);
		loop_free(&sv->loops[i]);
	}
}

static void log_ready(const struct serve *sv)
{
	struct str line = STR_INIT;
	for (struct listener *l = sv->listeners; l; l = l->next) {
		log_begin(&line, "serve", NULL, "listening");
		log_field(&line, "key", "listen.%s", l->key);
		log_field(&line, "address", "%s", l->text);
		if (l->tls)
			log_field(&line, "tls", "implicit");
		log_put(LOG_INFO, &line);
	}
	log_begin(&line, "serve", NULL, "ready");
	log_field(&line, "hostname", "%s", sv->cfg->server.hostname);
	log_field(&line, "data", "%s", sv->cfg->server.data_dir);
	log_field(&line, "threads", "%u", sv->nloops);
	log_field(&line, "workers", "%u", sv->cfg->server.workers);
	log_put(LOG_INFO, &line);
}

int serve_main(const struct config *cfg)
{
	struct serve sv = {0};
	const char *err;
	struct accept_ctx *acs = NULL;

	sv.cfg = cfg;
	pthread_mutex_init(&sv.ip_lock, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A stop asked for while we start (the ports accept before the loop
	 * runs) waits until the loop can handle it, instead of killing us
	 * mid-start.  Threads inherit the mask, so only this one takes
	 * the signals. */
	sigset_t stops;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stops, NULL);
	raise_fd_limit();
	if (auth_pass_init() < 0)
		log_fatal("cannot initialize libsodium");
	if (bind_listeners(&sv) < 0)
		return 1;
	if (tls_configured(cfg) && load_tls(&sv) < 0)
		return 1;
	if (priv_drop(cfg->server.user, cfg->server.data_dir) < 0)
		return 1;
	if (!tls_configured(cfg) && load_tls(&sv) < 0)
		return 1;
	if (store_open(cfg->server.data_dir, &sv.store, &err) < 0) {
		struct str line = STR_INIT;
		log_begin(&line, "serve", NULL, "store-failed");
		log_field(&line, "error", "%s", err);
		log_put(LOG_ERROR, &line);
		return 1;
	}
	sv.auth = auth_new(sv.store, cfg);
	sv.limit = auth_limit_new_config(cfg);
	sv.workers = worker_pool_new(cfg->server.workers, 0);
	sv.auth_workers = worker_pool_new(AUTH_THREADS, AUTH_QUEUE);
	sv.auth_known = worker_pool_new(AUTH_THREADS, AUTH_QUEUE);
	sv.sync_workers = worker_pool_new(cfg->server.sync_workers, 0);
	if (make_spool_dir(&sv) < 0)
		return 1;
	sv.budget = budget_new(cfg->server.client_memory);
	sv.smtp_env = (struct smtp_env){cfg, sv.store, sv.workers, sv.budget,
					sv.spool_dir, {sv.tls, false},
					SMTP_ROLE_MX, NULL, NULL, NULL, NULL, NULL};
	sv.rate = smtp_rate_new(cfg->submission.max_messages_per_hour);
	sv.submission_env = sv.smtp_env;
	sv.submission_env.role = SMTP_ROLE_SUBMISSION;
	sv.submission_env.auth = sv.auth;
	sv.submission_env.auth_workers = sv.auth_workers;
	sv.submission_env.rate = sv.rate;
	sv.submission_env.limit = sv.limit;
	sv.submission_env.auth_known = sv.auth_known;
	sv.submissions_env = sv.submission_env;
	sv.submissions_env.tls.implicit = true;
	sv.pop3_env = (struct pop3_env){cfg, sv.store, sv.auth, sv.workers,
					sv.auth_workers, {sv.tls, false},
					sv.limit, sv.auth_known};
	sv.pop3s_env = sv.pop3_env;
	sv.pop3s_env.tls.implicit = true;
	sv.imap_env = (struct imap_env){cfg, sv.store, sv.auth, sv.workers,
					sv.auth_workers, sv.budget,
					sv.spool_dir, {sv.tls, false},
					sv.limit, sv.auth_known, NULL};
	sv.imap_env.sync_workers = sv.sync_workers;
	sv.imaps_env = sv.imap_env;
	sv.imaps_env.tls.implicit = true;

	loop_init_threads();
	sv.nloops = cfg->server.threads;
	sv.loops = xcalloc(sv.nloops, sizeof(*sv.loops));
	sv.sessions = xcalloc(sv.nloops, sizeof(*sv.sessions));
	for (unsigned i = 0; i < sv.nloops; i++) {
		sv.loops[i] = loop_new();
		sv.sessions[i] = session_list_new();
	}
	int nacs = start_loops(&sv, &acs);
	if (nacs < 0)
		log_fatal("cannot create listeners");
	struct event *sigterm = evsignal_new(loop_base(sv.loops[0]), SIGTERM,
					     on_signal, &sv);
	struct event *sigint = evsignal_new(loop_base(sv.loops[0]), SIGINT,
					    on_signal, &sv);
	struct event *sighup = evsignal_new(loop_base(sv.loops[0]), SIGHUP,
					    on_hup, &sv);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_add(sighup, NULL);
	start_sweep(&sv);

	log_ready(&sv);
	for (unsigned i = 1; i < sv.nloops; i++)
		if (loop_start_thread(sv.loops[i]) < 0)
			log_fatal("cannot start loop thread");
	pthread_sigmask(SIG_UNBLOCK, &stops, NULL);
	loop_run(sv.loops[0]);
	for (unsigned i = 1; i < sv.nloops; i++)
		loop_join(sv.loops[i]);
	for (int i = 0; i < nacs; i++)
		evconnlistener_free(acs[i].ev);
	free(acs);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_free(sv.sweep);
	shutdown_sessions(&sv);
	auth_free(&sv.auth);
	smtp_rate_free(&sv.rate);
	auth_limit_free(&sv.limit);
	tls_free(&sv.tls);
	tls_ctx_unref(&sv.reload_ctx);
	str_free(&sv.reload_err);
	store_free(&sv.store);
	budget_free(&sv.budget);
	free(sv.spool_dir);
	free(sv.loops);
	free(sv.sessions);
	struct str line = STR_INIT;
	log_begin(&line, "serve", NULL, "stopped");
	log_put(LOG_INFO, &line);
	return 0;
}
