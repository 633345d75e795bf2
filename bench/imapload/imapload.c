/* imapload: the IMAP load generator of the benchmark.
 *
 * One process, one epoll loop, non-blocking sockets, thousands of
 * connections.  Each connection behaves like one mail client: one command
 * at a time, the next sent only when the previous one's tagged reply has
 * arrived (as Thunderbird does), continuation requests answered as they
 * come (APPEND's literal, IDLE's DONE).  Every response is framed and
 * checked by imapresp; a tagged NO or BAD counts as an error of its
 * command, a response that does not parse is a protocol error.
 *
 *   imapload load  -p PORT -u USER%d -P PASS -n CLIENTS -t SECONDS
 *       LOGIN, SELECT, then the mix of the cycle below, in a loop; prints
 *       commands per second per command and in total, as JSON.
 *   imapload idle  -p PORT -u USER%d -P PASS -n CLIENTS
 *       LOGIN, SELECT, IDLE on each connection, then holds them: prints
 *       one JSON line when all are idling, and closes them when standard
 *       input is closed (or after --hold seconds); for memory measurements.
 *   imapload cmd   -p PORT -u USER -P PASS -c COMMAND [-c ...] [-r N]
 *       one connection: LOGIN, SELECT (timed), then each command N times,
 *       timed; prints the times and what came back, as JSON.
 *
 * --tls speaks TLS 1.3 from the first byte (an implicit-TLS port, 993),
 * without checking the certificate; everything else stays the same.
 *
 * Exit status: 0 all went well, 1 some tagged NO/BAD, 2 protocol errors,
 * clients that could not log in or were dropped, or a usage error. */
#include "imapresp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define APPEND_SIZE 4096   /* bytes of each APPENDed message */
#define IN_INITIAL 4096    /* a connection's first input buffer */
#define IN_MAX (1u << 30)  /* a response larger than this is an error */
#define MAX_SCRIPT 32      /* commands of cmd mode */
#define MAX_NAMES 64       /* SEARCH FROM names */
#define FIRST_ERRORS 6     /* error descriptions kept for the report */
#define HIST_N 480         /* latency histogram buckets, 4% apart: to 150 s */
#define HIST_STEP 0.04
#define DRAIN_SECS 15.0    /* for the clients to LOGOUT at the end */

/* ---- options ------------------------------------------------------------- */

enum mode { MODE_LOAD, MODE_IDLE, MODE_CMD };

struct opts {
	enum mode mode;
	const char *host;
	int port;
	const char *user_fmt;
	unsigned users, user_start;
	const char *pass;
	const char *mailbox;
	unsigned clients;
	double seconds, warmup, timeout, ramp_timeout, hold;
	unsigned in_flight, src_ips, repeat;
	bool tls;
	uint64_t seed;
	const char *names[MAX_NAMES];
	unsigned nnames;
	const char *script[MAX_SCRIPT];
	unsigned nscript;
};

/* ---- the mix ------------------------------------------------------------- */

enum kind {
	K_LOGIN,
	K_SELECT,
	K_NOOP,
	K_FETCH_FLAGS,
	K_FETCH_HEADERS,
	K_FETCH_ENVELOPE,
	K_FETCH_BODY,
	K_STORE_SEEN,
	K_SEARCH_UNSEEN,
	K_SEARCH_FROM,
	K_APPEND,
	K_STORE_DELETED,
	K_EXPUNGE,
	K_IDLE,
	K_LOGOUT,
	K_SCRIPT,
	K_COUNT
};

static const char *const kind_names[K_COUNT] = {
	"login",	  "select",	   "noop",	    "fetch_flags",
	"fetch_headers",  "fetch_envelope", "fetch_body",    "store_seen",
	"search_unseen",  "search_from",   "append",	    "store_deleted",
	"expunge",	  "idle",	   "logout",	    "script",
};

/* One round of a client that keeps a mailbox in sync and reads mail, close
 * to imaptest's default profile (FETCH of new messages' headers, FETCH of
 * bodies about 1.4 times per round, STORE flags half the time, \Deleted +
 * EXPUNGE and APPEND once each, so the mailbox keeps its size) without its
 * LOGIN/LOGOUT per round, and with the SEARCH, NOOP and IDLE that real
 * clients add.  13 commands. */
static const enum kind cycle[] = {
	K_NOOP,	       K_FETCH_FLAGS, K_FETCH_HEADERS, K_FETCH_ENVELOPE,
	K_FETCH_BODY,  K_STORE_SEEN,  K_SEARCH_UNSEEN, K_FETCH_BODY,
	K_SEARCH_FROM, K_APPEND,      K_STORE_DELETED, K_EXPUNGE,
	K_IDLE,
};
#define NCYCLE (sizeof(cycle) / sizeof(cycle[0]))

/* The header fields Thunderbird asks for when it lists a folder. */
#define TB_HEADERS                                                         \
	"(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc "  \
	"Subject Date Message-ID Priority X-Priority References "          \
	"Newsgroups In-Reply-To Content-Type Reply-To)])"

static const char *const default_names[] = {"Martin", "Alice", "Newsletter"};

static const char *const words[] = {
	"the",	   "meeting", "project", "budget",  "report", "please",
	"review",  "attached", "thanks", "schedule", "update", "team",
	"customer", "invoice", "quarter", "release", "weekend", "draft",
	"agenda",  "travel",  "lunch",	 "numbers", "server", "deadline",
};

/* ---- statistics ---------------------------------------------------------- */

struct kstat {
	uint64_t ok, no, bad;
	double sum_ms, max_ms;
	uint32_t hist[HIST_N];
};

struct stats {
	struct kstat k[K_COUNT];
	uint64_t bytes_in, bytes_out;
};

static void stat_add(struct kstat *k, enum imapresp_status st, double ms)
{
	if (st == IMAPRESP_OK)
		k->ok++;
	else if (st == IMAPRESP_NO)
		k->no++;
	else
		k->bad++;
	k->sum_ms += ms;
	if (ms > k->max_ms)
		k->max_ms = ms;
	double us = ms * 1000.0;
	int b = us < 1.0 ? 0 : (int)(log(us) / log1p(HIST_STEP));
	if (b >= HIST_N)
		b = HIST_N - 1;
	k->hist[b]++;
}

/* The upper edge of the bucket holding the q-quantile of the samples
 * counted in `now` but not in `then`, in ms. */
static double quantile_ms(const struct kstat *now, const struct kstat *then,
			  double q)
{
	uint64_t total = 0, seen = 0;
	for (int b = 0; b < HIST_N; b++)
		total += now->hist[b] - then->hist[b];
	if (total == 0)
		return 0;
	uint64_t want = (uint64_t)ceil(q * (double)total);
	for (int b = 0; b < HIST_N; b++) {
		seen += now->hist[b] - then->hist[b];
		if (seen >= want)
			return exp((double)(b + 1) * log1p(HIST_STEP)) / 1000.0;
	}
	return now->max_ms;
}

/* ---- connections --------------------------------------------------------- */

enum phase {
	PH_NEW,
	PH_CONNECTING,
	PH_GREETING,
	PH_SETUP,  /* LOGIN or SELECT in flight */
	PH_RUN,    /* the mix, the IDLE held, or the script */
	PH_LOGOUT,
	PH_CLOSED,
};

struct buf {
	char *p;
	size_t len, cap, off;
};

struct conn {
	int fd;
	unsigned id, user;
	enum phase phase;
	enum kind cur;
	bool busy;      /* a command awaits its tagged reply */
	bool want_cont; /* ... and a continuation request first */
	bool idling;    /* idle mode: in IDLE and counted as held */
	bool writing;   /* EPOLLOUT requested */
	bool starting;  /* counted in ctx.starting: not ready yet */
	bool handshaking; /* --tls: the TLS handshake is not over yet */
	SSL *ssl;       /* --tls only */
	unsigned tagn;
	char tag[16];
	double sent_at;
	unsigned step;
	uint64_t rng;
	struct buf in, out;
	struct imapresp_frame fr;
	uint32_t exists;
	uint32_t *uids; /* uids[seq - 1]; 0 while unknown */
	size_t uids_cap;
	char *append; /* the message being APPENDed */
};

struct script_result {
	double ms[64];
	char status[64];
	unsigned runs;
	uint64_t fetches, numbers, bytes, literal_bytes;
};

struct ctx {
	struct opts o;
	int ep;
	SSL_CTX *tls; /* --tls only */
	struct conn *conns;
	unsigned next_start, starting, ready, failed, dropped, done;
	struct stats st, snap;
	enum { RUN_RAMP, RUN_WARMUP, RUN_WINDOW, RUN_DRAIN, RUN_HOLD,
	       RUN_END } run;
	double t0, t_ready, t_window, t_end, t_drain;
	uint64_t protocol_errors, untagged_no;
	char first[FIRST_ERRORS][320];
	unsigned nfirst;
	bool ready_printed, stdin_closed;
	/* cmd mode */
	double select_ms;
	uint32_t select_exists;
	unsigned script_pos, script_run;
	struct script_result res[MAX_SCRIPT];
	uint64_t run_bytes;
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

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: cheap, and reproducible from --seed */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static unsigned rnd_below(uint64_t *s, unsigned n)
{
	return n ? (unsigned)(rnd(s) % n) : 0;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (q == NULL) {
		fprintf(stderr, "imapload: out of memory\n");
		exit(2);
	}
	return q;
}

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return;
	size_t cap = b->cap ? b->cap : IN_INITIAL;
	while (cap - b->len < more)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	*b = (struct buf){0};
}

/* Printable copy of client or server text for the report. */
static void sanitize(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t k = 0; k < n && o + 1 < cap; k++) {
		unsigned char c = (unsigned char)s[k];
		dst[o++] = (c >= 32 && c < 127 && c != '"' && c != '\\')
				   ? (char)c : '.';
	}
	dst[o] = '\0';
}

__attribute__((format(printf, 3, 4))) static void
note_error(struct ctx *x, const struct conn *c, const char *fmt, ...)
{
	if (x->nfirst >= FIRST_ERRORS)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->first[x->nfirst++], sizeof(x->first[0]),
		 "client %u (%s): %s", c ? c->id : 0,
		 c ? kind_names[c->cur] : "-", msg);
}

static void conn_close(struct ctx *x, struct conn *c)
{
	if (c->ssl) {
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
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->uids);
	c->uids = NULL;
	c->uids_cap = 0;
	free(c->append);
	c->append = NULL;
}

/* The connection is lost to an error: before it was ready it counts as a
 * client that failed, after as one dropped. */
static void conn_fail(struct ctx *x, struct conn *c, bool protocol)
{
	if (c->phase == PH_CLOSED)
		return;
	if (protocol)
		x->protocol_errors++;
	if (c->phase == PH_LOGOUT)
		x->done++;
	else if (c->phase == PH_RUN)
		x->dropped++;
	else
		x->failed++;
	conn_close(x, c);
}

__attribute__((format(printf, 3, 4))) static void
proto_error(struct ctx *x, struct conn *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	note_error(x, c, "protocol error: %s", msg);
	conn_fail(x, c, true);
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

/* --tls: what an SSL_read or SSL_write that did nothing means.  -1 the
 * connection failed, 0 wait for the socket (EPOLLOUT asked for if needed). */
static int tls_wait(struct ctx *x, struct conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		want_write(x, c, true);
		return 0;
	}
	unsigned long why = ERR_get_error();
	char msg[160];
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && why == 0))
		snprintf(msg, sizeof(msg), "closed by the server");
	else
		ERR_error_string_n(why, msg, sizeof(msg));
	ERR_clear_error();
	note_error(x, c, "TLS: %s", msg);
	conn_fail(x, c, false);
	return -1;
}

/* send() or SSL_write(); -1 with errno EAGAIN when the socket is full. */
static ssize_t conn_send(struct ctx *x, struct conn *c, const char *p,
			 size_t n)
{
	if (c->ssl == NULL)
		return send(c->fd, p, n, MSG_NOSIGNAL);
	int r = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	if (tls_wait(x, c, r) == 0) {
		errno = EAGAIN;
		return -1;
	}
	errno = EPIPE;
	return -2; /* failed and closed already */
}

static void conn_flush(struct ctx *x, struct conn *c)
{
	while (c->out.off < c->out.len) {
		ssize_t n = conn_send(x, c, c->out.p + c->out.off,
				      c->out.len - c->out.off);
		if (n == -2)
			return;
		if (n < 0 && c->ssl && errno == EAGAIN)
			return; /* the socket's event calls conn_flush again */
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			want_write(x, c, true);
			return;
		}
		if (n < 0) {
			note_error(x, c, "send: %s", strerror(errno));
			conn_fail(x, c, false);
			return;
		}
		c->out.off += (size_t)n;
		x->st.bytes_out += (uint64_t)n;
	}
	c->out.off = c->out.len = 0;
	want_write(x, c, false);
}

static void conn_write(struct ctx *x, struct conn *c, const char *p, size_t n)
{
	buf_reserve(&c->out, n);
	memcpy(c->out.p + c->out.len, p, n);
	c->out.len += n;
	if (!c->writing)
		conn_flush(x, c);
}

/* Sends "TAG " + the formatted command + CRLF as command `k`. */
__attribute__((format(printf, 4, 5))) static void
send_cmd(struct ctx *x, struct conn *c, enum kind k, const char *fmt, ...)
{
	char line[1024];
	snprintf(c->tag, sizeof(c->tag), "a%u", ++c->tagn);
	int n = snprintf(line, sizeof(line), "%s ", c->tag);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	c->cur = k;
	c->busy = true;
	c->want_cont = (k == K_APPEND || k == K_IDLE);
	c->sent_at = now_s();
	conn_write(x, c, line, (size_t)n);
}

/* ---- users --------------------------------------------------------------- */

/* The user name of user number `n`: the template with its one "%d" or
 * "%0Nd" replaced ("%%" is a percent sign).  -1 if the template is bad. */
static int user_name(const char *fmt, unsigned n, char *out, size_t cap)
{
	size_t o = 0;
	bool used = false;
	for (const char *p = fmt; *p; p++) {
		char piece[32];
		const char *add = piece;
		if (*p != '%') {
			piece[0] = *p;
			piece[1] = '\0';
		} else if (p[1] == '%') {
			add = "%";
			p++;
		} else {
			int width = 0;
			bool zero = false;
			p++;
			if (*p == '0') {
				zero = true;
				p++;
			}
			while (*p >= '0' && *p <= '9' && width < 20)
				width = width * 10 + (*p++ - '0');
			if (*p != 'd' || used)
				return -1;
			used = true;
			snprintf(piece, sizeof(piece), zero ? "%0*u" : "%*u",
				 width, n);
		}
		size_t l = strlen(add);
		if (o + l + 1 > cap)
			return -1;
		memcpy(out + o, add, l);
		o += l;
	}
	out[o] = '\0';
	return 0;
}

/* An IMAP quoted string of s (which has no CR or LF). */
static void quote(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	out[o++] = '"';
	for (; *s && o + 3 < cap; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* ---- the mailbox view ---------------------------------------------------- */

static void view_exists(struct conn *c, uint32_t n)
{
	if (n > c->uids_cap) {
		size_t cap = c->uids_cap ? c->uids_cap : 128;
		while (cap < n)
			cap *= 2;
		c->uids = xrealloc(c->uids, cap * sizeof(*c->uids));
		c->uids_cap = cap;
	}
	for (uint32_t s = c->exists; s < n; s++)
		c->uids[s] = 0;
	c->exists = n;
}

static void view_expunge(struct conn *c, uint32_t seq)
{
	memmove(c->uids + seq - 1, c->uids + seq,
		(c->exists - seq) * sizeof(*c->uids));
	c->exists--;
}

/* " UID FETCH 17" or " FETCH 12": a random message by UID when its UID is
 * known, by sequence number otherwise. */
static void msg_ref(struct conn *c, const char *verb, char *out, size_t cap)
{
	uint32_t seq = 1 + rnd_below(&c->rng, c->exists);
	uint32_t uid = c->uids[seq - 1];
	if (uid)
		snprintf(out, cap, "UID %s %u", verb, uid);
	else
		snprintf(out, cap, "%s %u", verb, seq);
}

/* Up to 10 consecutive messages ending at a random one. */
static void range_ref(struct conn *c, bool by_uid, char *out, size_t cap)
{
	uint32_t s2 = 1 + rnd_below(&c->rng, c->exists);
	uint32_t s1 = s2 > 9 ? s2 - 9 : 1;
	if (by_uid && c->uids[s1 - 1] && c->uids[s2 - 1])
		snprintf(out, cap, "UID FETCH %u:%u", c->uids[s1 - 1],
			 c->uids[s2 - 1]);
	else
		snprintf(out, cap, "FETCH %u:%u", s1, s2);
}

/* ---- APPEND -------------------------------------------------------------- */

static void build_message(struct ctx *x, struct conn *c, const char *user)
{
	if (c->append == NULL)
		c->append = xrealloc(NULL, APPEND_SIZE + 1);
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	const char *from = x->o.names[rnd_below(&c->rng, x->o.nnames)];
	char *m = c->append;
	int n = snprintf(m, APPEND_SIZE,
			 "From: \"%s Sender\" <sender@example.org>\r\n"
			 "To: <%s>\r\n"
			 "Subject: Saved draft %u of client %u\r\n"
			 "Date: %s\r\n"
			 "Message-ID: <imapload.%u.%u.%llx@bench.test>\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=us-ascii\r\n"
			 "\r\n",
			 from, user, c->tagn, c->id, date, c->id, c->tagn,
			 (unsigned long long)(rnd(&c->rng) >> 16));
	size_t pos = (size_t)n;
	/* lines of words, then one padding line, to exactly APPEND_SIZE */
	while (APPEND_SIZE - pos > 80) {
		size_t line = 0;
		while (line < 64) {
			const char *w = words[rnd_below(&c->rng,
					sizeof(words) / sizeof(words[0]))];
			size_t l = strlen(w);
			memcpy(m + pos, w, l);
			m[pos + l] = ' ';
			pos += l + 1;
			line += l + 1;
		}
		m[pos - 1] = '.';
		m[pos++] = '\r';
		m[pos++] = '\n';
	}
	memset(m + pos, 'z', APPEND_SIZE - pos - 2);
	m[APPEND_SIZE - 2] = '\r';
	m[APPEND_SIZE - 1] = '\n';
}

/* ---- commands ------------------------------------------------------------ */

static void send_login(struct ctx *x, struct conn *c)
{
	char user[256], qu[520], qp[520];
	if (user_name(x->o.user_fmt, c->user, user, sizeof(user)) < 0)
		snprintf(user, sizeof(user), "%s", x->o.user_fmt);
	quote(qu, sizeof(qu), user);
	quote(qp, sizeof(qp), x->o.pass);
	send_cmd(x, c, K_LOGIN, "LOGIN %s %s", qu, qp);
}

static void send_select(struct ctx *x, struct conn *c)
{
	char qm[520];
	quote(qm, sizeof(qm), x->o.mailbox);
	c->exists = 0;
	send_cmd(x, c, K_SELECT, "SELECT %s", qm);
}

static bool needs_message(enum kind k)
{
	return k == K_FETCH_HEADERS || k == K_FETCH_ENVELOPE ||
	       k == K_FETCH_BODY || k == K_STORE_SEEN || k == K_STORE_DELETED;
}

static void send_next_load(struct ctx *x, struct conn *c)
{
	char ref[96], qn[160], qm[520], user[256];
	enum kind k = cycle[c->step++ % NCYCLE];
	if (needs_message(k) && c->exists == 0)
		k = K_APPEND; /* an empty mailbox: fill it first */
	switch (k) {
	case K_NOOP:
		send_cmd(x, c, k, "NOOP");
		break;
	case K_FETCH_FLAGS:
		send_cmd(x, c, k, "UID FETCH 1:* (FLAGS)");
		break;
	case K_FETCH_HEADERS:
		range_ref(c, true, ref, sizeof(ref));
		send_cmd(x, c, k, "%s " TB_HEADERS, ref);
		break;
	case K_FETCH_ENVELOPE:
		range_ref(c, false, ref, sizeof(ref));
		send_cmd(x, c, k, "%s (UID FLAGS INTERNALDATE RFC822.SIZE "
			 "ENVELOPE)", ref);
		break;
	case K_FETCH_BODY:
		msg_ref(c, "FETCH", ref, sizeof(ref));
		send_cmd(x, c, k, "%s BODY.PEEK[]", ref);
		break;
	case K_STORE_SEEN:
		msg_ref(c, "STORE", ref, sizeof(ref));
		send_cmd(x, c, k, "%s %cFLAGS (\\Seen)", ref,
			 rnd_below(&c->rng, 3) ? '+' : '-');
		break;
	case K_SEARCH_UNSEEN:
		send_cmd(x, c, k, "UID SEARCH UNSEEN");
		break;
	case K_SEARCH_FROM:
		quote(qn, sizeof(qn),
		      x->o.names[rnd_below(&c->rng, x->o.nnames)]);
		send_cmd(x, c, k, "UID SEARCH FROM %s", qn);
		break;
	case K_APPEND:
		if (user_name(x->o.user_fmt, c->user, user, sizeof(user)) < 0)
			snprintf(user, sizeof(user), "%s", x->o.user_fmt);
		build_message(x, c, user);
		quote(qm, sizeof(qm), x->o.mailbox);
		send_cmd(x, c, k, "APPEND %s (\\Seen) {%d}", qm, APPEND_SIZE);
		break;
	case K_STORE_DELETED:
		msg_ref(c, "STORE", ref, sizeof(ref));
		send_cmd(x, c, k, "%s +FLAGS (\\Deleted)", ref);
		break;
	case K_EXPUNGE:
		send_cmd(x, c, k, "EXPUNGE");
		break;
	case K_IDLE:
		send_cmd(x, c, k, "IDLE");
		break;
	default:
		send_cmd(x, c, K_NOOP, "NOOP");
		break;
	}
}

static void send_next_script(struct ctx *x, struct conn *c)
{
	if (x->script_pos >= x->o.nscript) {
		c->phase = PH_LOGOUT;
		send_cmd(x, c, K_LOGOUT, "LOGOUT");
		return;
	}
	x->run_bytes = x->st.bytes_in;
	send_cmd(x, c, K_SCRIPT, "%s", x->o.script[x->script_pos]);
}

/* The connection is ready (idle mode: idling): the next may start. */
static void done_starting(struct ctx *x, struct conn *c)
{
	if (c->starting) {
		c->starting = false;
		x->starting--;
	}
}

/* The connection finished LOGIN and SELECT. */
static void conn_ready(struct ctx *x, struct conn *c)
{
	c->phase = PH_RUN;
	if (x->o.mode != MODE_IDLE)
		done_starting(x, c);
	switch (x->o.mode) {
	case MODE_LOAD:
		x->ready++;
		c->step = rnd_below(&c->rng, NCYCLE);
		send_next_load(x, c);
		break;
	case MODE_IDLE:
		send_cmd(x, c, K_IDLE, "IDLE");
		break;
	case MODE_CMD:
		x->ready++;
		x->select_ms = (now_s() - c->sent_at) * 1000.0;
		x->select_exists = c->exists;
		send_next_script(x, c);
		break;
	}
}

/* ---- responses ----------------------------------------------------------- */

static void on_continue(struct ctx *x, struct conn *c)
{
	if (!c->busy || !c->want_cont) {
		proto_error(x, c, "continuation request with no literal or "
			    "IDLE pending");
		return;
	}
	c->want_cont = false;
	if (c->cur == K_APPEND) {
		conn_write(x, c, c->append, APPEND_SIZE);
		if (c->phase != PH_CLOSED)
			conn_write(x, c, "\r\n", 2);
	} else if (x->o.mode == MODE_IDLE) {
		c->idling = true;
		x->ready++;
		done_starting(x, c);
	} else {
		conn_write(x, c, "DONE\r\n", 6);
	}
}

static void on_untagged(struct ctx *x, struct conn *c, const struct imapresp *r,
			const char *raw, size_t len)
{
	char text[128];
	if (r->status == IMAPRESP_BYE) {
		if (c->cur != K_LOGOUT) {
			sanitize(text, sizeof(text), raw, len);
			proto_error(x, c, "unexpected BYE: %s", text);
		}
		return;
	}
	if (r->status == IMAPRESP_NO || r->status == IMAPRESP_BAD)
		x->untagged_no++;
	if (!r->has_number)
		goto counted;
	if (strcmp(r->keyword, "EXISTS") == 0) {
		if (r->number < c->exists) {
			proto_error(x, c, "EXISTS went down from %u to %u "
				    "without EXPUNGE", c->exists, r->number);
			return;
		}
		view_exists(c, r->number);
	} else if (strcmp(r->keyword, "EXPUNGE") == 0) {
		if (r->number == 0 || r->number > c->exists) {
			proto_error(x, c, "EXPUNGE %u of %u messages",
				    r->number, c->exists);
			return;
		}
		view_expunge(c, r->number);
	} else if (strcmp(r->keyword, "FETCH") == 0) {
		if (r->number == 0 || r->number > c->exists) {
			proto_error(x, c, "FETCH of message %u of %u",
				    r->number, c->exists);
			return;
		}
		if (r->has_uid)
			c->uids[r->number - 1] = r->uid;
	}
counted:
	if (x->o.mode == MODE_CMD && c->cur == K_SCRIPT) {
		struct script_result *sr = &x->res[x->script_pos];
		if (strcmp(r->keyword, "FETCH") == 0)
			sr->fetches++;
		sr->numbers += r->numbers;
		sr->literal_bytes += r->literal_bytes;
	}
}

static void script_done(struct ctx *x, enum imapresp_status st, double ms)
{
	struct script_result *sr = &x->res[x->script_pos];
	if (sr->runs < sizeof(sr->ms) / sizeof(sr->ms[0])) {
		sr->ms[sr->runs] = ms;
		sr->status[sr->runs] = st == IMAPRESP_OK ? 'O'
				       : st == IMAPRESP_NO ? 'N' : 'B';
		sr->runs++;
	}
	sr->bytes = x->st.bytes_in - x->run_bytes;
	if (++x->script_run >= x->o.repeat) {
		x->script_run = 0;
		x->script_pos++;
	} else {
		/* the counts of the next run replace these */
		sr->fetches = sr->numbers = sr->literal_bytes = 0;
	}
}

static void on_tagged(struct ctx *x, struct conn *c, const struct imapresp *r,
		      const char *raw, size_t len)
{
	char text[160];
	if (!c->busy || r->tag_len != strlen(c->tag) ||
	    memcmp(r->tag, c->tag, r->tag_len) != 0) {
		sanitize(text, sizeof(text), raw, len);
		proto_error(x, c, "unexpected tagged response: %s", text);
		return;
	}
	if (c->want_cont && r->status == IMAPRESP_OK) {
		proto_error(x, c, "tagged OK before the continuation request");
		return;
	}
	double ms = (now_s() - c->sent_at) * 1000.0;
	enum kind k = c->cur;
	c->busy = c->want_cont = false;
	stat_add(&x->st.k[k], r->status, ms);
	if (r->status != IMAPRESP_OK) {
		sanitize(text, sizeof(text), raw, len);
		note_error(x, c, "%s", text);
	}
	if (x->o.mode == MODE_CMD && k == K_SCRIPT)
		script_done(x, r->status, ms);
	if (k == K_LOGOUT) {
		x->done++;
		conn_close(x, c);
		return;
	}
	if ((k == K_LOGIN || k == K_SELECT) && r->status != IMAPRESP_OK) {
		conn_fail(x, c, false);
		return;
	}
	if (k == K_IDLE && x->o.mode == MODE_IDLE) {
		proto_error(x, c, "the server ended IDLE");
		return;
	}
	if (k == K_LOGIN) {
		send_select(x, c);
		return;
	}
	if (k == K_SELECT) {
		conn_ready(x, c);
		return;
	}
	if (x->run >= RUN_DRAIN || got_stop) {
		c->phase = PH_LOGOUT;
		send_cmd(x, c, K_LOGOUT, "LOGOUT");
		return;
	}
	if (x->o.mode == MODE_CMD)
		send_next_script(x, c);
	else
		send_next_load(x, c);
}

static void on_response(struct ctx *x, struct conn *c, const char *raw,
			size_t len)
{
	struct imapresp r;
	const char *err;
	size_t at;
	char text[160];
	if (imapresp_parse(raw, len, &r, &err, &at) < 0) {
		sanitize(text, sizeof(text), raw + (at > 40 ? at - 40 : 0),
			 len - (at > 40 ? at - 40 : 0));
		proto_error(x, c, "%s at byte %zu: ...%s", err, at, text);
		return;
	}
	if (c->phase == PH_GREETING) {
		if (r.kind != IMAPRESP_UNTAGGED || r.status != IMAPRESP_OK) {
			sanitize(text, sizeof(text), raw, len);
			note_error(x, c, "greeting: %s", text);
			conn_fail(x, c, r.status != IMAPRESP_BYE);
			return;
		}
		c->phase = PH_SETUP;
		send_login(x, c);
		return;
	}
	switch (r.kind) {
	case IMAPRESP_CONTINUE:
		on_continue(x, c);
		break;
	case IMAPRESP_UNTAGGED:
		on_untagged(x, c, &r, raw, len);
		break;
	case IMAPRESP_TAGGED:
		on_tagged(x, c, &r, raw, len);
		break;
	}
}

static void conn_read(struct ctx *x, struct conn *c)
{
	for (;;) {
		if (c->in.cap - c->in.len < 2048) {
			if (c->in.cap >= IN_MAX) {
				proto_error(x, c, "a response over %u bytes",
					    IN_MAX);
				return;
			}
			buf_reserve(&c->in, c->in.cap ? c->in.cap : IN_INITIAL);
		}
		ssize_t n;
		if (c->ssl) {
			size_t room = c->in.cap - c->in.len;
			int r = SSL_read(c->ssl, c->in.p + c->in.len,
					 room > INT_MAX ? INT_MAX : (int)room);
			if (r <= 0 && c->phase == PH_LOGOUT &&
			    SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_WRITE) {
				ERR_clear_error();
				x->done++;
				conn_close(x, c);
				return;
			}
			if (r <= 0) {
				if (tls_wait(x, c, r) < 0)
					return;
				break;
			}
			/* a record read whole may leave more in the TLS
			 * buffer, which no socket event would announce */
			c->in.len += (size_t)r;
			x->st.bytes_in += (uint64_t)r;
			continue;
		}
		n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			if (c->phase == PH_LOGOUT && n == 0) {
				x->done++;
				conn_close(x, c);
			} else {
				note_error(x, c, "connection %s",
					   n == 0 ? "closed by the server"
						  : strerror(errno));
				conn_fail(x, c, false);
			}
			return;
		}
		c->in.len += (size_t)n;
		x->st.bytes_in += (uint64_t)n;
		if ((size_t)n < 65536)
			break; /* the rest, if any, on the next round */
	}
	while (c->phase != PH_CLOSED && c->in.off < c->in.len) {
		long n = imapresp_frame(&c->fr, c->in.p + c->in.off,
					c->in.len - c->in.off);
		if (n == -2)
			break;
		if (n == -1) {
			proto_error(x, c, "not an IMAP response (bare LF, "
				    "or a line or literal over the limits)");
			return;
		}
		const char *raw = c->in.p + c->in.off;
		c->in.off += (size_t)n;
		on_response(x, c, raw, (size_t)n);
	}
	if (c->phase == PH_CLOSED)
		return;
	if (c->in.off == c->in.len) {
		c->in.off = c->in.len = 0;
	} else if (c->in.off > c->in.cap / 2) {
		memmove(c->in.p, c->in.p + c->in.off, c->in.len - c->in.off);
		c->in.len -= c->in.off;
		c->in.off = 0;
	}
}

/* ---- connecting ---------------------------------------------------------- */

static int conn_start(struct ctx *x, struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)x->o.port)};
	if (inet_pton(AF_INET, x->o.host, &sa.sin_addr) != 1)
		return -1;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		note_error(x, c, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (x->o.src_ips > 1) {
		/* spread over 127.0.0.1 ... 127.0.0.N: per-address limits
		 * of the servers, and the ports of one source address */
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000001u + c->id % x->o.src_ips);
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			note_error(x, c, "bind: %s", strerror(errno));
			return -1;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
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
	c->sent_at = now_s();
	return 0;
}

static void start_more(struct ctx *x)
{
	while (x->next_start < x->o.clients && x->starting < x->o.in_flight &&
	       x->run == RUN_RAMP && !got_stop_ramp && !got_stop) {
		struct conn *c = &x->conns[x->next_start++];
		x->starting++;
		c->starting = true;
		if (conn_start(x, c) < 0) {
			c->phase = PH_CONNECTING; /* a client that failed */
			conn_fail(x, c, false);
		}
	}
}

static void on_connected(struct ctx *x, struct conn *c)
{
	int err = 0;
	socklen_t l = sizeof(err);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
	if (err) {
		note_error(x, c, "connect: %s", strerror(err));
		conn_fail(x, c, false);
		return;
	}
	c->phase = PH_GREETING;
	want_write(x, c, false);
	if (x->tls) {
		c->ssl = SSL_new(x->tls);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
			note_error(x, c, "SSL_new failed");
			conn_fail(x, c, false);
			return;
		}
		SSL_set_connect_state(c->ssl);
		c->handshaking = true;
	}
}

/* --tls: one step of the handshake; the greeting follows it. */
static void conn_handshake(struct ctx *x, struct conn *c)
{
	int r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		tls_wait(x, c, r);
		return;
	}
	c->handshaking = false;
	want_write(x, c, false);
	conn_read(x, c);
}

static void on_event(struct ctx *x, struct conn *c, uint32_t ev)
{
	if (c->phase == PH_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		on_connected(x, c);
		if (c->phase == PH_CLOSED)
			return;
	}
	if (c->handshaking) {
		conn_handshake(x, c);
		return;
	}
	/* TLS may need to read to write, or write to read: try both */
	if ((c->ssl || (ev & EPOLLOUT)) && c->phase != PH_CLOSED)
		conn_flush(x, c);
	if ((c->ssl || (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) &&
	    c->phase != PH_CLOSED)
		conn_read(x, c);
}

/* ---- time ---------------------------------------------------------------- */

/* Commands that take longer than --timeout are a failure of the server;
 * so is a connection not ready within --ramp-timeout. */
static void check_timeouts(struct ctx *x, double now)
{
	for (unsigned i = 0; i < x->next_start; i++) {
		struct conn *c = &x->conns[i];
		if (c->phase == PH_CLOSED || c->idling)
			continue;
		if (c->phase < PH_RUN && now - x->t0 > x->o.ramp_timeout) {
			note_error(x, c, "not logged in and selected after "
				   "%.0fs", x->o.ramp_timeout);
			conn_fail(x, c, false);
		} else if ((c->busy || c->phase == PH_CONNECTING ||
			    c->phase == PH_GREETING) &&
			   now - c->sent_at > x->o.timeout) {
			note_error(x, c, "no reply after %.0fs", x->o.timeout);
			conn_fail(x, c, true);
		}
	}
}

static unsigned live(const struct ctx *x)
{
	return x->next_start - x->failed - x->dropped - x->done;
}

static bool ramp_over(const struct ctx *x)
{
	return x->starting == 0 &&
	       (x->next_start == x->o.clients || got_stop_ramp || got_stop);
}

static void tick_load(struct ctx *x, double now)
{
	if (x->run == RUN_RAMP && ramp_over(x)) {
		x->t_ready = now;
		x->run = RUN_WARMUP;
		x->t_window = now + x->o.warmup;
	}
	if (x->run == RUN_WARMUP && now >= x->t_window) {
		x->snap = x->st;
		x->t_window = now;
		x->run = RUN_WINDOW;
	}
	if (x->run == RUN_WINDOW &&
	    (now >= x->t_window + x->o.seconds || got_stop)) {
		struct stats end = x->st;
		x->t_end = now;
		/* keep the window's figures: end - snap */
		x->snap.bytes_in = end.bytes_in - x->snap.bytes_in;
		x->snap.bytes_out = end.bytes_out - x->snap.bytes_out;
		for (int k = 0; k < K_COUNT; k++) {
			struct kstat *s = &x->snap.k[k];
			const struct kstat *e = &end.k[k];
			s->ok = e->ok - s->ok;
			s->no = e->no - s->no;
			s->bad = e->bad - s->bad;
			s->sum_ms = e->sum_ms - s->sum_ms;
			for (int b = 0; b < HIST_N; b++)
				s->hist[b] = e->hist[b] - s->hist[b];
			s->max_ms = e->max_ms;
		}
		x->run = RUN_DRAIN;
		x->t_drain = now + DRAIN_SECS;
		/* idle clients between commands (none should be) log out */
		for (unsigned i = 0; i < x->next_start; i++) {
			struct conn *c = &x->conns[i];
			if (c->phase == PH_RUN && !c->busy) {
				c->phase = PH_LOGOUT;
				send_cmd(x, c, K_LOGOUT, "LOGOUT");
			}
		}
	}
	if (x->run == RUN_DRAIN && (live(x) == 0 || now > x->t_drain))
		x->run = RUN_END;
}

static void print_idle_ready(struct ctx *x, double now);

static void tick_idle(struct ctx *x, double now)
{
	if (x->run == RUN_RAMP && ramp_over(x)) {
		x->t_ready = now;
		x->run = RUN_HOLD;
		print_idle_ready(x, now);
		if (x->o.hold > 0)
			x->t_end = now + x->o.hold;
	}
	if (x->run == RUN_HOLD &&
	    (got_stop || x->stdin_closed ||
	     (x->o.hold > 0 && now >= x->t_end)))
		x->run = RUN_END;
}

static void tick_cmd(struct ctx *x, double now)
{
	(void)now;
	if (x->run == RUN_RAMP && ramp_over(x) && live(x) == 0)
		x->run = RUN_END;
}

/* ---- output -------------------------------------------------------------- */

static void print_errors(const struct ctx *x, const struct stats *all)
{
	uint64_t no = 0, bad = 0;
	for (int k = 0; k < K_COUNT; k++) {
		no += all->k[k].no;
		bad += all->k[k].bad;
	}
	printf("\"errors\":{\"no\":%llu,\"bad\":%llu,\"protocol\":%llu,"
	       "\"failed_clients\":%u,\"dropped\":%u,\"untagged_no_bad\":%llu,"
	       "\"by_command\":{",
	       (unsigned long long)no, (unsigned long long)bad,
	       (unsigned long long)x->protocol_errors, x->failed, x->dropped,
	       (unsigned long long)x->untagged_no);
	bool first = true;
	for (int k = 0; k < K_COUNT; k++) {
		if (all->k[k].no + all->k[k].bad == 0)
			continue;
		printf("%s\"%s\":{\"no\":%llu,\"bad\":%llu}", first ? "" : ",",
		       kind_names[k], (unsigned long long)all->k[k].no,
		       (unsigned long long)all->k[k].bad);
		first = false;
	}
	printf("},\"first\":[");
	for (unsigned i = 0; i < x->nfirst; i++)
		printf("%s\"%s\"", i ? "," : "", x->first[i]);
	printf("]}");
}

static void print_load(struct ctx *x)
{
	const struct stats *w = &x->snap;
	double secs = x->t_end - x->t_window;
	uint64_t total = 0;
	static const struct kstat zero;
	printf("{\"mode\":\"load\",\"server\":\"%s:%d\",\"clients\":%u,"
	       "\"ready\":%u,\"ramp_seconds\":%.2f,\"seconds\":%.3f,"
	       "\"per_command\":{",
	       x->o.host, x->o.port, x->o.clients, x->ready,
	       x->t_ready - x->t0, secs);
	bool first = true;
	for (int k = K_NOOP; k <= K_IDLE; k++) {
		const struct kstat *s = &w->k[k];
		uint64_t n = s->ok + s->no + s->bad;
		total += n;
		printf("%s\"%s\":{\"count\":%llu,\"per_sec\":%.1f,"
		       "\"ms_mean\":%.3f,\"ms_p50\":%.3f,\"ms_p99\":%.3f,"
		       "\"no\":%llu,\"bad\":%llu}",
		       first ? "" : ",", kind_names[k], (unsigned long long)n,
		       secs > 0 ? (double)n / secs : 0,
		       n ? s->sum_ms / (double)n : 0,
		       quantile_ms(s, &zero, 0.5), quantile_ms(s, &zero, 0.99),
		       (unsigned long long)s->no, (unsigned long long)s->bad);
		first = false;
	}
	printf("},\"commands\":%llu,\"commands_per_sec\":%.1f,"
	       "\"bytes_in\":%llu,\"bytes_out\":%llu,",
	       (unsigned long long)total,
	       secs > 0 ? (double)total / secs : 0,
	       (unsigned long long)w->bytes_in,
	       (unsigned long long)w->bytes_out);
	print_errors(x, &x->st);
	printf("}\n");
}

static void print_idle_ready(struct ctx *x, double now)
{
	printf("{\"mode\":\"idle\",\"event\":\"ready\",\"clients\":%u,"
	       "\"held\":%u,\"ramp_seconds\":%.2f,",
	       x->o.clients, x->ready, now - x->t0);
	print_errors(x, &x->st);
	printf("}\n");
	fflush(stdout);
}

static void print_idle_end(struct ctx *x)
{
	printf("{\"mode\":\"idle\",\"event\":\"end\",\"held\":%u,",
	       x->ready);
	print_errors(x, &x->st);
	printf("}\n");
}

static void print_cmd(struct ctx *x)
{
	char q[1100];
	printf("{\"mode\":\"cmd\",\"server\":\"%s:%d\",\"select_ms\":%.3f,"
	       "\"exists\":%u,\"results\":[",
	       x->o.host, x->o.port, x->select_ms, x->select_exists);
	for (unsigned i = 0; i < x->o.nscript; i++) {
		const struct script_result *r = &x->res[i];
		sanitize(q, sizeof(q), x->o.script[i], strlen(x->o.script[i]));
		printf("%s{\"command\":\"%s\",\"ms\":[", i ? "," : "", q);
		for (unsigned k = 0; k < r->runs; k++)
			printf("%s%.3f", k ? "," : "", r->ms[k]);
		printf("],\"status\":\"%.*s\",\"fetches\":%llu,"
		       "\"numbers\":%llu,\"literal_bytes\":%llu,"
		       "\"bytes\":%llu}",
		       (int)r->runs, r->status, (unsigned long long)r->fetches,
		       (unsigned long long)r->numbers,
		       (unsigned long long)r->literal_bytes,
		       (unsigned long long)r->bytes);
	}
	printf("],");
	print_errors(x, &x->st);
	printf("}\n");
}

static int exit_status(const struct ctx *x)
{
	if (x->protocol_errors || x->failed || x->dropped)
		return 2;
	for (int k = 0; k < K_COUNT; k++)
		if (x->st.k[k].no || x->st.k[k].bad)
			return 1;
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: imapload load|idle|cmd [options]\n"
		"  -H, --host ADDR        server address (127.0.0.1)\n"
		"  -p, --port PORT        server port (143)\n"
		"  -u, --user TEMPLATE    user name; one %%d or %%0Nd is "
		"replaced by the user number\n"
		"  -U, --users N          user numbers start..start+N-1, "
		"client i uses start + i %% N (default: clients)\n"
		"      --user-start N     first user number (1)\n"
		"  -P, --pass PASSWORD    password of every user\n"
		"  -m, --mailbox NAME     mailbox to SELECT and APPEND to "
		"(INBOX)\n"
		"  -n, --clients N        connections (load, idle)\n"
		"  -t, --seconds S        load: length of the measured window\n"
		"  -w, --warmup S         load: seconds run before the window "
		"(1)\n"
		"      --in-flight N      connections logging in at once (32)\n"
		"      --src-ips N        spread over 127.0.0.1..127.0.0.N (1)\n"
		"      --timeout S        longest wait for one reply (60)\n"
		"      --ramp-timeout S   longest wait for all to log in (300)\n"
		"      --hold S           idle: hold S seconds instead of until "
		"stdin closes\n"
		"      --search-from NAME load: a SEARCH FROM name (repeat)\n"
		"  -c, --command CMD      cmd: a command to time (repeat)\n"
		"  -r, --repeat N         cmd: runs of each command (1)\n"
		"      --seed N           random seed (1)\n"
		"      --tls              TLS from the first byte (port 993)\n");
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
		{"host", 1, NULL, 'H'},	      {"port", 1, NULL, 'p'},
		{"user", 1, NULL, 'u'},	      {"users", 1, NULL, 'U'},
		{"user-start", 1, NULL, 1},    {"pass", 1, NULL, 'P'},
		{"mailbox", 1, NULL, 'm'},     {"clients", 1, NULL, 'n'},
		{"seconds", 1, NULL, 't'},     {"warmup", 1, NULL, 'w'},
		{"in-flight", 1, NULL, 2},     {"src-ips", 1, NULL, 3},
		{"timeout", 1, NULL, 4},       {"ramp-timeout", 1, NULL, 5},
		{"hold", 1, NULL, 6},	      {"search-from", 1, NULL, 7},
		{"command", 1, NULL, 'c'},     {"repeat", 1, NULL, 'r'},
		{"seed", 1, NULL, 8},	      {"tls", 0, NULL, 9},
		{NULL, 0, NULL, 0},
	};
	*o = (struct opts){.host = "127.0.0.1", .port = 143, .pass = "",
			   .mailbox = "INBOX", .clients = 1, .seconds = 10,
			   .warmup = 1, .timeout = 60, .ramp_timeout = 300,
			   .in_flight = 32, .src_ips = 1, .repeat = 1,
			   .user_start = 1, .seed = 1};
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "load") == 0)
		o->mode = MODE_LOAD;
	else if (strcmp(argv[1], "idle") == 0)
		o->mode = MODE_IDLE;
	else if (strcmp(argv[1], "cmd") == 0)
		o->mode = MODE_CMD;
	else
		usage();
	optind = 2;
	int ch;
	while ((ch = getopt_long(argc, argv, "H:p:u:U:P:m:n:t:w:c:r:", lo,
				 NULL)) != -1) {
		switch (ch) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = (int)num_arg(optarg); break;
		case 'u': o->user_fmt = optarg; break;
		case 'U': o->users = (unsigned)num_arg(optarg); break;
		case 1: o->user_start = (unsigned)num_arg(optarg); break;
		case 'P': o->pass = optarg; break;
		case 'm': o->mailbox = optarg; break;
		case 'n': o->clients = (unsigned)num_arg(optarg); break;
		case 't': o->seconds = num_arg(optarg); break;
		case 'w': o->warmup = num_arg(optarg); break;
		case 2: o->in_flight = (unsigned)num_arg(optarg); break;
		case 3: o->src_ips = (unsigned)num_arg(optarg); break;
		case 4: o->timeout = num_arg(optarg); break;
		case 5: o->ramp_timeout = num_arg(optarg); break;
		case 6: o->hold = num_arg(optarg); break;
		case 7:
			if (o->nnames == MAX_NAMES)
				usage();
			o->names[o->nnames++] = optarg;
			break;
		case 'c':
			if (o->nscript == MAX_SCRIPT)
				usage();
			o->script[o->nscript++] = optarg;
			break;
		case 'r': o->repeat = (unsigned)num_arg(optarg); break;
		case 8: o->seed = (uint64_t)num_arg(optarg); break;
		case 9: o->tls = true; break;
		default: usage();
		}
	}
	char probe[256];
	if (optind != argc || o->user_fmt == NULL || o->clients == 0 ||
	    o->in_flight == 0 || o->src_ips == 0 || o->src_ips > 254 ||
	    o->repeat == 0 || o->repeat > 64 ||
	    user_name(o->user_fmt, 1, probe, sizeof(probe)) < 0 ||
	    strpbrk(o->pass, "\r\n") || strpbrk(o->mailbox, "\r\n") ||
	    (o->mode == MODE_CMD && o->nscript == 0))
		usage();
	if (o->mode == MODE_CMD)
		o->clients = 1;
	if (o->users == 0)
		o->users = o->clients;
	if (o->nnames == 0) {
		for (size_t i = 0; i < sizeof(default_names) / sizeof(*default_names); i++)
			o->names[o->nnames++] = default_names[i];
	}
}

/* Enough descriptors for every connection; as root the hard limit too. */
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

static void on_stdin(struct ctx *x)
{
	char b[256];
	ssize_t n = read(0, b, sizeof(b));
	if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
		x->stdin_closed = true;
		epoll_ctl(x->ep, EPOLL_CTL_DEL, 0, NULL);
	}
}

static void loop(struct ctx *x)
{
	static int stdin_mark;
	struct epoll_event evs[512];
	double last_check = 0;
	if (x->o.mode == MODE_IDLE && x->o.hold <= 0) {
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.ptr = &stdin_mark};
		if (epoll_ctl(x->ep, EPOLL_CTL_ADD, 0, &ev) < 0)
			x->stdin_closed = true; /* not pollable: no holding */
	}
	while (x->run != RUN_END) {
		start_more(x);
		int n = epoll_wait(x->ep, evs, 512, 50);
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
		if (x->o.mode == MODE_LOAD)
			tick_load(x, now);
		else if (x->o.mode == MODE_IDLE)
			tick_idle(x, now);
		else
			tick_cmd(x, now);
	}
}

int main(int argc, char **argv)
{
	struct ctx *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return 2;
	parse_opts(argc, argv, &x->o);
	raise_nofile(x->o.clients + 64);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_stop_ramp;
	sigaction(SIGUSR1, &sa, NULL);

	x->ep = epoll_create1(EPOLL_CLOEXEC);
	x->conns = calloc(x->o.clients, sizeof(*x->conns));
	if (x->ep < 0 || x->conns == NULL)
		return 2;
	if (x->o.tls) {
		x->tls = SSL_CTX_new(TLS_client_method());
		if (x->tls == NULL)
			return 2;
		SSL_CTX_set_min_proto_version(x->tls, TLS1_3_VERSION);
		SSL_CTX_set_verify(x->tls, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_mode(x->tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	for (unsigned i = 0; i < x->o.clients; i++) {
		struct conn *c = &x->conns[i];
		c->fd = -1;
		c->id = i;
		c->user = x->o.user_start + i % x->o.users;
		c->rng = (x->o.seed + 1) * 0x9E3779B97F4A7C15ULL + i;
		if (c->rng == 0)
			c->rng = 1;
	}
	x->t0 = now_s();
	loop(x);
	for (unsigned i = 0; i < x->o.clients; i++)
		if (x->conns[i].phase != PH_CLOSED &&
		    x->conns[i].phase != PH_NEW)
			conn_close(x, &x->conns[i]);
	if (x->o.mode == MODE_LOAD)
		print_load(x);
	else if (x->o.mode == MODE_IDLE)
		print_idle_end(x);
	else
		print_cmd(x);
	fflush(stdout);
	SSL_CTX_free(x->tls);
	return exit_status(x);
}
