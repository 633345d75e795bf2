/* tlsload: the TLS load generator of the benchmark.
 *
 * One process, one epoll loop, non-blocking sockets, OpenSSL.  A
 * connection counts as done when the TLS handshake has finished and the
 * server's greeting ("220 ..." for SMTP, "* OK ..." for IMAP) has arrived
 * over it: the server has then done all its handshake work, and in TLS 1.3
 * its session tickets precede the greeting, so they have arrived too.
 *
 *   tlsload rate -p PORT -n CONCURRENT -t SECONDS [--resume]
 *       CONCURRENT connections, each reconnecting as soon as its greeting
 *       arrived: handshakes per second over the measured window, as JSON.
 *       --resume offers each connection the session of its predecessor
 *       (the first of each slot is a full handshake, not counted).
 *   tlsload hold -p PORT -n N [--ehlo]
 *       N connections that finish the handshake, read the greeting (and,
 *       with --ehlo, send EHLO and read its reply), then stay open: one
 *       JSON line when all are held, another after standard input closes
 *       (or --hold seconds), when it closes them; for memory measurements.
 *
 * TLS 1.3 only, no certificate verification (the benchmark's certificate is
 * self-signed; the handshake's signature is still checked).  Exit status: 0
 * all went well, 1 some connection failed, 2 a usage error. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GREET_MAX 4096   /* a greeting or EHLO reply longer than this fails */
#define FIRST_ERRORS 6   /* error descriptions kept for the report */
#define HIST_N 800       /* handshake time histogram, 2% buckets, 0.1 ms to 760 s */
#define HIST_BASE 0.1
#define HIST_STEP 0.02

enum mode { MODE_RATE, MODE_HOLD };
enum phase { PH_NEW, PH_CONNECTING, PH_HANDSHAKE, PH_GREETING, PH_EHLO,
	     PH_HELD, PH_CLOSED };

struct opts {
	enum mode mode;
	const char *host;
	int port;
	unsigned clients, in_flight, src_ips;
	double seconds, warmup, timeout, ramp_timeout, hold;
	bool resume, ehlo;
};

struct conn {
	int fd;
	unsigned id;
	enum phase phase;
	SSL *ssl;
	SSL_SESSION *sess; /* rate --resume: the last one this slot got */
	bool writing;      /* EPOLLOUT requested */
	bool starting;     /* hold: counted in ctx.starting */
	bool primed;       /* rate --resume: has had its full handshake */
	double t_start;
	char in[GREET_MAX];
	size_t len;
	const char *out; /* hold --ehlo: the EHLO line still to send */
	size_t out_len;
};

struct ctx {
	struct opts o;
	int ep;
	SSL_CTX *tls;
	struct sockaddr_in dst;
	struct conn *conns;
	unsigned next_start, starting, held, failed, dropped;
	bool counting, stdin_closed, ready_printed;
	double t0, t_window, t_end;
	uint64_t done, resumed, errors, full_unprimed;
	uint32_t hist[HIST_N];
	double sum_ms;
	char first[FIRST_ERRORS][200];
	unsigned nfirst;
};

static volatile sig_atomic_t got_stop, got_stop_ramp;

static void on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

static void on_stop_ramp(int sig)
{
	(void)sig;
	got_stop_ramp = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Only printable ASCII of server text reaches the JSON. */
static void sanitize(char *dst, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 1 < cap; s++)
		dst[o++] = (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
				   ? *s
				   : '?';
	dst[o] = '\0';
}

__attribute__((format(printf, 3, 4))) static void
note_error(struct ctx *x, const struct conn *c, const char *fmt, ...)
{
	char msg[160], clean[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	x->errors++;
	/* a server refusing every connection would keep a rate run
	 * spinning through reconnects: enough is known after a hundred */
	if (x->o.mode == MODE_RATE && x->errors >= 100)
		got_stop = 1;
	if (x->nfirst >= FIRST_ERRORS)
		return;
	sanitize(clean, sizeof(clean), msg);
	snprintf(x->first[x->nfirst++], sizeof(x->first[0]), "connection %u: %s",
		 c->id, clean);
}

static const char *ssl_why(void)
{
	static char b[120];
	unsigned long e = ERR_get_error();
	ERR_clear_error();
	if (e == 0)
		return errno ? strerror(errno) : "closed";
	ERR_error_string_n(e, b, sizeof(b));
	return b;
}

/* ---- connections --------------------------------------------------------- */

static void conn_close(struct ctx *x, struct conn *c)
{
	if (c->ssl) {
		/* In rate mode the session (with the tickets that came before
		 * the greeting) is kept for the slot's next connection. */
		if (x->o.resume && c->phase == PH_GREETING) {
			SSL_SESSION *s = SSL_get1_session(c->ssl);
			if (s) {
				SSL_SESSION_free(c->sess);
				c->sess = s;
			}
		}
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		epoll_ctl(x->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->starting) {
		c->starting = false;
		x->starting--;
	}
	c->phase = PH_CLOSED;
}

static void start_rate_conn(struct ctx *x, struct conn *c);

/* In rate mode the slot starts its next connection at once. */
static void conn_fail(struct ctx *x, struct conn *c)
{
	if (c->phase == PH_CLOSED)
		return;
	if (c->phase == PH_HELD)
		x->dropped++;
	else
		x->failed++;
	if (c->phase == PH_HELD && x->held > 0)
		x->held--;
	conn_close(x, c);
	if (x->o.mode == MODE_RATE)
		start_rate_conn(x, c);
}

static void want_write(struct ctx *x, struct conn *c, bool on)
{
	if (c->writing == on || c->fd < 0)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
				 .data.ptr = c};
	epoll_ctl(x->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->writing = on;
}

static int conn_start(struct ctx *x, struct conn *c)
{
	c->len = 0;
	c->out = NULL;
	c->t_start = now_s();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		note_error(x, c, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (x->o.src_ips > 1) {
		/* 127.0.0.1 ... 127.0.0.N: per-address limits of the servers,
		 * and the ports of one source address */
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000001u + c->id % x->o.src_ips);
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			note_error(x, c, "bind: %s", strerror(errno));
			return -1;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&x->dst, sizeof(x->dst)) < 0 &&
	    errno != EINPROGRESS) {
		note_error(x, c, "connect: %s", strerror(errno));
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(x->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		note_error(x, c, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	c->writing = true;
	c->phase = PH_CONNECTING;
	return 0;
}

/* The socket is connected: set up TLS on it. */
static void on_connected(struct ctx *x, struct conn *c)
{
	int err = 0;
	socklen_t l = sizeof(err);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
	if (err) {
		note_error(x, c, "connect: %s", strerror(err));
		conn_fail(x, c);
		return;
	}
	c->ssl = SSL_new(x->tls);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		note_error(x, c, "SSL_new: %s", ssl_why());
		conn_fail(x, c);
		return;
	}
	SSL_set_connect_state(c->ssl);
	if (x->o.resume && c->sess)
		SSL_set_session(c->ssl, c->sess);
	c->phase = PH_HANDSHAKE;
}

/* -1 failed (the connection is closed), 0 wait, 1 done. */
static int ssl_wait(struct ctx *x, struct conn *c, int r, const char *what)
{
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		want_write(x, c, false);
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		want_write(x, c, true);
		return 0;
	}
	note_error(x, c, "%s: %s", what,
		   e == SSL_ERROR_ZERO_RETURN ? "closed by the server"
					       : ssl_why());
	conn_fail(x, c);
	return -1;
}

static void hist_add(struct ctx *x, double ms)
{
	int b = 0;
	if (ms > HIST_BASE) {
		double v = ms / HIST_BASE;
		while (v > 1.0 + HIST_STEP && b < HIST_N - 1) {
			v /= 1.0 + HIST_STEP;
			b++;
		}
	}
	x->hist[b]++;
	x->sum_ms += ms;
}

static double hist_q(const struct ctx *x, double q)
{
	uint64_t n = 0, k = 0;
	for (int b = 0; b < HIST_N; b++)
		n += x->hist[b];
	if (n == 0)
		return 0;
	for (int b = 0; b < HIST_N; b++) {
		k += x->hist[b];
		if ((double)k >= q * (double)n) {
			double ms = HIST_BASE;
			for (int i = 0; i < b; i++)
				ms *= 1.0 + HIST_STEP;
			return ms;
		}
	}
	return 0;
}

/* A whole reply is in: the last line of an SMTP reply has a space after its
 * code; an IMAP greeting is one line.  1 complete, 0 not yet, -1 bad. */
static int reply_done(struct conn *c, bool smtp_ehlo)
{
	size_t start = 0;
	for (size_t i = 0; i + 1 < c->len; i++) {
		if (c->in[i] != '\r' || c->in[i + 1] != '\n')
			continue;
		const char *l = c->in + start;
		size_t n = i - start;
		if (!smtp_ehlo && start == 0 && n >= 4 &&
		    memcmp(l, "* OK", 4) == 0)
			return 1;
		if (n < 4 || l[0] != '2' || (l[3] != ' ' && l[3] != '-'))
			return -1;
		if (l[3] == ' ')
			return 1;
		start = i + 2;
	}
	return 0;
}

static void conn_done(struct ctx *x, struct conn *c);

static void conn_send_ehlo(struct ctx *x, struct conn *c)
{
	while (c->out_len > 0) {
		int r = SSL_write(c->ssl, c->out, (int)c->out_len);
		if (r <= 0) {
			ssl_wait(x, c, r, "EHLO");
			return;
		}
		c->out += r;
		c->out_len -= (size_t)r;
	}
	want_write(x, c, false);
}

static void conn_read(struct ctx *x, struct conn *c)
{
	for (;;) {
		if (c->len >= sizeof(c->in) - 1) {
			note_error(x, c, "reply over %d bytes", GREET_MAX);
			conn_fail(x, c);
			return;
		}
		int r = SSL_read(c->ssl, c->in + c->len,
				 (int)(sizeof(c->in) - 1 - c->len));
		if (r <= 0) {
			if (c->phase == PH_HELD &&
			    SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN) {
				note_error(x, c, "closed while held");
				conn_fail(x, c);
				return;
			}
			ssl_wait(x, c, r, c->phase == PH_HELD ? "held" : "reply");
			return;
		}
		if (c->phase == PH_HELD) {
			c->len = 0; /* unsolicited server text: ignored */
			continue;
		}
		c->len += (size_t)r;
		c->in[c->len] = '\0';
		int d = reply_done(c, c->phase == PH_EHLO);
		if (d < 0) {
			note_error(x, c, "unexpected reply: %.60s", c->in);
			conn_fail(x, c);
			return;
		}
		if (d > 0) {
			conn_done(x, c);
			return;
		}
	}
}

static void conn_handshake(struct ctx *x, struct conn *c)
{
	int r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		ssl_wait(x, c, r, "handshake");
		return;
	}
	c->phase = PH_GREETING;
	want_write(x, c, false);
	conn_read(x, c);
}

static void start_rate_conn(struct ctx *x, struct conn *c)
{
	if (got_stop || now_s() >= x->t_end)
		return;
	if (conn_start(x, c) < 0) {
		x->failed++;
		conn_close(x, c);
	}
}

/* The greeting (or EHLO reply) has arrived. */
static void conn_done(struct ctx *x, struct conn *c)
{
	double now = now_s();
	if (x->o.mode == MODE_HOLD) {
		if (c->phase == PH_GREETING && x->o.ehlo) {
			static const char ehlo[] = "EHLO client.bench.test\r\n";
			c->phase = PH_EHLO;
			c->len = 0;
			c->out = ehlo;
			c->out_len = sizeof(ehlo) - 1;
			conn_send_ehlo(x, c);
			return;
		}
		c->phase = PH_HELD;
		c->len = 0;
		if (c->starting) {
			c->starting = false;
			x->starting--;
		}
		x->held++;
		return;
	}
	bool reused = SSL_session_reused(c->ssl) == 1;
	bool counted = !x->o.resume || c->primed;
	if (x->counting && counted && now < x->t_end) {
		x->done++;
		x->resumed += reused;
		hist_add(x, (now - c->t_start) * 1000.0);
	}
	c->primed = true;
	/* close_notify, without waiting for the server's */
	SSL_shutdown(c->ssl);
	conn_close(x, c);
	start_rate_conn(x, c);
}

static void on_event(struct ctx *x, struct conn *c, uint32_t ev)
{
	if (c->phase == PH_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		on_connected(x, c);
	}
	if (c->phase == PH_HANDSHAKE) {
		conn_handshake(x, c);
		return;
	}
	if (c->phase == PH_EHLO && c->out_len > 0) {
		conn_send_ehlo(x, c);
		if (c->phase != PH_EHLO || c->out_len > 0)
			return;
	}
	if (c->phase == PH_GREETING || c->phase == PH_EHLO ||
	    c->phase == PH_HELD)
		conn_read(x, c);
}

/* ---- the modes ------------------------------------------------------------ */

static void check_timeouts(struct ctx *x, double now)
{
	for (unsigned i = 0; i < x->o.clients; i++) {
		struct conn *c = &x->conns[i];
		if (c->phase == PH_NEW || c->phase == PH_CLOSED ||
		    c->phase == PH_HELD)
			continue;
		if (now - c->t_start > x->o.timeout) {
			note_error(x, c, "no greeting after %.0fs", x->o.timeout);
			conn_fail(x, c);
		}
	}
}

static void start_more(struct ctx *x)
{
	while (x->next_start < x->o.clients && x->starting < x->o.in_flight &&
	       !got_stop_ramp && !got_stop) {
		struct conn *c = &x->conns[x->next_start++];
		x->starting++;
		c->starting = true;
		if (conn_start(x, c) < 0) {
			x->failed++;
			conn_close(x, c);
		}
	}
}

static unsigned open_conns(const struct ctx *x)
{
	unsigned n = 0;
	for (unsigned i = 0; i < x->o.clients; i++)
		n += x->conns[i].phase != PH_NEW &&
		     x->conns[i].phase != PH_CLOSED;
	return n;
}

static void print_errors(const struct ctx *x)
{
	printf("\"errors\":{\"count\":%llu,\"failed_clients\":%u,"
	       "\"dropped\":%u,\"protocol\":0,\"first\":[",
	       (unsigned long long)x->errors, x->failed, x->dropped);
	for (unsigned i = 0; i < x->nfirst; i++)
		printf("%s\"%s\"", i ? "," : "", x->first[i]);
	printf("]}");
}

static void print_held(struct ctx *x, const char *event)
{
	printf("{\"mode\":\"hold\",\"event\":\"%s\",\"clients\":%u,"
	       "\"held\":%u,\"ramp_seconds\":%.2f,",
	       event, x->o.clients, x->held, now_s() - x->t0);
	print_errors(x);
	printf("}\n");
	fflush(stdout);
}

static void on_stdin(struct ctx *x)
{
	char b[256];
	ssize_t n = read(0, b, sizeof(b));
	if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
		x->stdin_closed = true;
		epoll_ctl(x->ep, EPOLL_CTL_DEL, 0, NULL);
	}
}

static bool tick(struct ctx *x, double now)
{
	if (x->o.mode == MODE_RATE) {
		if (!x->counting && now >= x->t_window) {
			x->counting = true;
			x->done = x->resumed = 0;
			memset(x->hist, 0, sizeof(x->hist));
			x->sum_ms = 0;
		}
		return !(now >= x->t_end || got_stop) || open_conns(x) > 0;
	}
	bool ramp_over = x->starting == 0 &&
			 (x->next_start == x->o.clients || got_stop_ramp);
	/* a caller that closes standard input early wants it over now */
	if (!x->ready_printed && (ramp_over || now > x->t0 + x->o.ramp_timeout ||
				  got_stop || x->stdin_closed)) {
		x->ready_printed = true;
		print_held(x, "ready");
		x->t_end = now + (x->o.hold > 0 ? x->o.hold : 1e9);
	}
	return !(x->ready_printed &&
		 (got_stop || x->stdin_closed || now >= x->t_end));
}

static void loop(struct ctx *x)
{
	static int stdin_mark;
	struct epoll_event evs[256];
	double last_check = 0;
	if (x->o.mode == MODE_HOLD && x->o.hold <= 0) {
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.ptr = &stdin_mark};
		if (epoll_ctl(x->ep, EPOLL_CTL_ADD, 0, &ev) < 0)
			x->stdin_closed = true; /* not pollable: no holding */
	}
	if (x->o.mode == MODE_RATE)
		for (unsigned i = 0; i < x->o.clients; i++)
			start_rate_conn(x, &x->conns[i]);
	for (;;) {
		if (x->o.mode == MODE_HOLD && !x->ready_printed)
			start_more(x);
		int n = epoll_wait(x->ep, evs, 256, 50);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &stdin_mark)
				on_stdin(x);
			else
				on_event(x, evs[i].data.ptr, evs[i].events);
		}
		double now = now_s();
		if (now - last_check >= 0.5) {
			check_timeouts(x, now);
			last_check = now;
		}
		if (!tick(x, now))
			break;
		/* a rate run that overstays its end by the timeout stops */
		if (x->o.mode == MODE_RATE &&
		    now > x->t_end + x->o.timeout)
			break;
	}
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: tlsload rate|hold [options]\n"
		"  -H, --host ADDR        server address (127.0.0.1)\n"
		"  -p, --port PORT        server port\n"
		"  -n, --clients N        rate: connections at once; hold: "
		"connections to hold\n"
		"  -t, --seconds S        rate: length of the measured window "
		"(10)\n"
		"  -w, --warmup S         rate: seconds before the window (1)\n"
		"      --resume           rate: resume the previous session\n"
		"      --ehlo             hold: send EHLO after the greeting\n"
		"      --in-flight N      hold: connections opening at once "
		"(32)\n"
		"      --src-ips N        spread over 127.0.0.1..127.0.0.N (1)\n"
		"      --timeout S        longest wait for a greeting (30)\n"
		"      --ramp-timeout S   hold: longest wait for all (300)\n"
		"      --hold S           hold: S seconds instead of until "
		"stdin closes\n");
	exit(2);
}

static double num_arg(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || v < 0)
		usage();
	return v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"host", 1, NULL, 'H'},	       {"port", 1, NULL, 'p'},
		{"clients", 1, NULL, 'n'},     {"seconds", 1, NULL, 't'},
		{"warmup", 1, NULL, 'w'},      {"resume", 0, NULL, 'R'},
		{"ehlo", 0, NULL, 'E'},	       {"in-flight", 1, NULL, 'F'},
		{"src-ips", 1, NULL, 'S'},     {"timeout", 1, NULL, 'T'},
		{"ramp-timeout", 1, NULL, 'A'}, {"hold", 1, NULL, 'D'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct opts){.host = "127.0.0.1", .clients = 1, .in_flight = 32,
			   .src_ips = 1, .seconds = 10, .warmup = 1,
			   .timeout = 30, .ramp_timeout = 300};
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "rate") == 0)
		o->mode = MODE_RATE;
	else if (strcmp(argv[1], "hold") == 0)
		o->mode = MODE_HOLD;
	else
		usage();
	optind = 2;
	int ch;
	while ((ch = getopt_long(argc, argv, "H:p:n:t:w:", lo, NULL)) != -1) {
		switch (ch) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = (int)num_arg(optarg); break;
		case 'n': o->clients = (unsigned)num_arg(optarg); break;
		case 't': o->seconds = num_arg(optarg); break;
		case 'w': o->warmup = num_arg(optarg); break;
		case 'R': o->resume = true; break;
		case 'E': o->ehlo = true; break;
		case 'F': o->in_flight = (unsigned)num_arg(optarg); break;
		case 'S': o->src_ips = (unsigned)num_arg(optarg); break;
		case 'T': o->timeout = num_arg(optarg); break;
		case 'A': o->ramp_timeout = num_arg(optarg); break;
		case 'D': o->hold = num_arg(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || o->port <= 0 || o->port > 65535 ||
	    o->clients == 0 || o->clients > 100000 || o->in_flight == 0 ||
	    o->src_ips > 250 || o->timeout <= 0)
		usage();
}

static void raise_nofile(unsigned want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		struct rlimit hard = {want, want};
		if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static SSL_CTX *tls_ctx(void)
{
	SSL_CTX *t = SSL_CTX_new(TLS_client_method());
	if (t == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(t, TLS1_3_VERSION);
	SSL_CTX_set_verify(t, SSL_VERIFY_NONE, NULL);
	/* Sessions are kept by the slots themselves (SSL_get1_session). */
	SSL_CTX_set_session_cache_mode(t, SSL_SESS_CACHE_OFF);
	return t;
}

static void print_rate(struct ctx *x, double wall, double cpu)
{
	double secs = x->o.seconds;
	printf("{\"mode\":\"rate\",\"clients\":%u,\"seconds\":%.3f,"
	       "\"handshakes\":%llu,\"per_sec\":%.2f,\"resumed\":%llu,"
	       "\"ms_mean\":%.3f,\"ms_p50\":%.3f,\"ms_p95\":%.3f,"
	       "\"client_cpu\":%.3f,\"wall\":%.3f,",
	       x->o.clients, secs, (unsigned long long)x->done,
	       secs > 0 ? (double)x->done / secs : 0,
	       (unsigned long long)x->resumed,
	       x->done ? x->sum_ms / (double)x->done : 0, hist_q(x, 0.5),
	       hist_q(x, 0.95), cpu, wall);
	print_errors(x);
	printf("}\n");
}

int main(int argc, char **argv)
{
	struct ctx *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return 2;
	parse_opts(argc, argv, &x->o);
	x->dst = (struct sockaddr_in){.sin_family = AF_INET,
				      .sin_port = htons((uint16_t)x->o.port)};
	if (inet_pton(AF_INET, x->o.host, &x->dst.sin_addr) != 1)
		usage();
	raise_nofile(x->o.clients + 64);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_stop_ramp;
	sigaction(SIGUSR1, &sa, NULL);

	x->tls = tls_ctx();
	x->ep = epoll_create1(EPOLL_CLOEXEC);
	x->conns = calloc(x->o.clients, sizeof(*x->conns));
	if (x->tls == NULL || x->ep < 0 || x->conns == NULL)
		return 2;
	for (unsigned i = 0; i < x->o.clients; i++) {
		x->conns[i].fd = -1;
		x->conns[i].id = i;
	}
	double cpu0 = cpu_s();
	x->t0 = now_s();
	x->t_window = x->t0 + x->o.warmup;
	x->t_end = x->o.mode == MODE_RATE ? x->t_window + x->o.seconds : 1e18;
	loop(x);
	double wall = now_s() - x->t0, cpu = cpu_s() - cpu0;
	for (unsigned i = 0; i < x->o.clients; i++) {
		struct conn *c = &x->conns[i];
		if (c->phase != PH_NEW && c->phase != PH_CLOSED)
			conn_close(x, c);
		SSL_SESSION_free(c->sess);
	}
	if (x->o.mode == MODE_RATE)
		print_rate(x, wall, cpu);
	else
		print_held(x, "end");
	fflush(stdout);
	SSL_CTX_free(x->tls);
	free(x->conns);
	close(x->ep);
	int rc = x->errors || x->failed || x->dropped ? 1 : 0;
	free(x);
	return rc;
}
