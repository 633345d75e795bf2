/* Fuzz a whole POP3 session: the input is what a client sends, fed through
 * a socket pair into pop3_session_start() on a real loop, worker pool,
 * store and auth, in a few writes split at places derived from the input.
 * alice@example.com and bob@example.com (password "pw") each have the same
 * four messages: a plain one, one with lines starting with '.', one with
 * bare-LF lines (a "." among them) and no final newline, and one just
 * over the 64 KiB streaming piece with a CRLF split across the pieces.
 *
 * Each write is followed by running the loop until the session is idle (no
 * event pending, no job on a worker, no reply unsent), and the client
 * half-closes only then.  A session that neither answers nor closes within
 * a few seconds is a hang and aborts.
 *
 * The output is checked against a model of the session built from the
 * client's lines (split on CRLF as the server does, parsed with the real
 * command parser):
 *   - the greeting is "+OK"; every status line ends in CRLF and is "+OK",
 *     "-ERR" or a SASL "+ "; each client line gets exactly one response
 *     (an over-long line one "-ERR"), plus at most a final "-ERR Too many
 *     errors"; nothing follows QUIT's answer, and the server closes then;
 *   - a "+OK" only for a command that parses and is valid in the state;
 *     STAT, LIST, UIDL, RETR and TOP agree with the mailbox and the DELEs
 *     and RSETs so far; multi-line responses end in CRLF ".\r\n", with every
 *     line that starts with '.' (after any LF) dot-stuffed, and RETR / TOP
 *     give back exactly the stored message / its head;
 *   - deletions reach the store at QUIT and only then;
 *   - the output is bounded by the input's size and the mailbox's. */
#include <stdbool.h>
#include <sys/uio.h>

#include "session.h"

#include "auth/auth.h"
#include "pop3/pop3_parse.h"
#include "pop3/pop3_session.h"

#define LINE_MAX_POP3 2048 /* the server's command line limit */
#define NMSG 4
#define NUSERS 2 /* alice and bob, sess.users */

struct seed {
	char *data;
	size_t len;
};

static struct {
	struct auth *auth;
	struct pop3_env env;
	struct seed msgs[NMSG];
	size_t biggest;
	/* Each user's INBOX as we filled it. */
	uint32_t uidvalidity[NUSERS];
	uint32_t uids[NUSERS][NMSG];
} g;

static struct session *start(struct loop *loop, struct session_list *list,
			     int fd, const struct sockaddr *peer,
			     socklen_t peerlen)
{
	return pop3_session_start(loop, list, fd, peer, peerlen, &g.env);
}

/* ---- one-time set-up ---- */

static void seed_msg(int i, const char *s, size_t n)
{
	g.msgs[i].data = malloc(n);
	memcpy(g.msgs[i].data, s, n);
	g.msgs[i].len = n;
	if (n > g.biggest)
		g.biggest = n;
}

static void make_messages(void)
{
	static const char m0[] = "From: x@y.example\r\nTo: alice@example.com\r\n"
				 "Subject: one\r\n\r\nline 1\r\nline 2\r\n";
	static const char m1[] = "Subject: dots\r\n\r\n.leading\r\n..two\r\n"
				 ".\r\nafter\r\n.";
	static const char m2[] = "Subject: lf\r\nX: y\n\nx\n.\nMAIL FROM:<e@v.example>"
				 "\n.\r\n\r\r\nend";
	seed_msg(0, m0, sizeof(m0) - 1);
	seed_msg(1, m1, sizeof(m1) - 1);
	seed_msg(2, m2, sizeof(m2) - 1);

	/* Just over one 64 KiB piece, with the piece boundary between a CR
	 * and its LF, and a '.' line right after it. */
	size_t cap = 70 * 1024, n = 0;
	char *b = malloc(cap);
	n += (size_t)sprintf(b, "Subject: big\r\n\r\n");
	while (n + 80 + 2 < 65535) {
		memset(b + n, 'a' + (int)(n % 26), 78);
		memcpy(b + n + 78, "\r\n", 2);
		n += 80;
	}
	memset(b + n, 'b', 65535 - n);
	n = 65535;
	memcpy(b + n, "\r\n.dot after the boundary\r\n.\r\n", 30);
	n += 30;
	while (n + 40 < cap - 100) {
		memset(b + n, '.', 1);
		memset(b + n + 1, 'c', 37);
		memcpy(b + n + 38, "\r\n", 2);
		n += 40;
	}
	memcpy(b + n, "last line without newline", 25);
	n += 25;
	seed_msg(3, b, n);
	free(b);
}

/* Give each user exactly the seed messages again if a session changed
 * their INBOX (or if it is new). */
static void restore_mailboxes(void)
{
	for (int u = 0; u < NUSERS; u++) {
		struct store_account *acct;
		struct store_mailbox mbox;
		struct store_msg *msgs = NULL;
		size_t n = 0;
		CHECK(store_account_open(sess.store, sess.users[u], &acct, NULL) > 0);
		CHECK(store_mailbox_find(acct, "INBOX", &mbox, NULL) > 0);
		CHECK(store_msg_list(acct, mbox.id, &msgs, &n, NULL) > 0);
		bool same = n == NMSG;
		for (size_t k = 0; same && k < n; k++)
			same = msgs[k].uid == g.uids[u][k] &&
			       msgs[k].size == g.msgs[k].len;
		if (!same) {
			if (n > 0) {
				uint32_t *uids = calloc(n, sizeof(*uids));
				for (size_t k = 0; k < n; k++)
					uids[k] = msgs[k].uid;
				CHECK(store_msg_expunge(acct, mbox.id, uids,
							n, NULL) > 0);
				free(uids);
			}
			for (int k = 0; k < NMSG; k++) {
				struct iovec iov = {g.msgs[k].data,
						    g.msgs[k].len};
				struct store_source src = {&iov, 1, -1, 0};
				CHECK(store_msg_deliver(acct, mbox.id, &src,
							1700000000,
							&g.uids[u][k],
							NULL) > 0);
			}
			g.uidvalidity[u] = mbox.uidvalidity;
		}
		free(msgs);
		store_account_unref(&acct);
	}
}

/* Which of the seed messages are still in the user's INBOX. */
static void remaining(int u, bool present[NMSG], size_t *n_r)
{
	struct store_account *acct;
	struct store_mailbox mbox;
	struct store_msg *msgs = NULL;
	size_t n = 0;
	CHECK(store_account_open(sess.store, sess.users[u], &acct, NULL) > 0);
	CHECK(store_mailbox_find(acct, "INBOX", &mbox, NULL) > 0);
	CHECK(store_msg_list(acct, mbox.id, &msgs, &n, NULL) > 0);
	for (int k = 0; k < NMSG; k++) {
		present[k] = false;
		for (size_t j = 0; j < n; j++)
			if (msgs[j].uid == g.uids[u][k])
				present[k] = true;
	}
	*n_r = n;
	free(msgs);
	store_account_unref(&acct);
}

static void setup(void)
{
	session_init("fuzz_pop3_session", "pop3");
	setting("server.hostname=mx.example.com");
	setting("auth.argon2_memory=8");
	setting("auth.argon2_passes=1");
	setting("auth.cache_ttl=300");
	setting("log.level=error");
	session_open_store();
	make_messages();
	restore_mailboxes();

	g.auth = auth_new(sess.store, sess.cfg);
	session_start_loop(start);
	/* Logins on the same workers: quiesce() waits for those. */
	g.env = (struct pop3_env){sess.cfg, sess.store, g.auth, sess.workers,
				  sess.workers};
}

/* ---- the model ---- */

struct model {
	const char *p, *end; /* output not yet accounted for */
	bool trans;	     /* logged in */
	bool sasl_wait;	     /* "+ " sent, a SASL response is next */
	bool over;	     /* the server said its last word */
	bool quit_ok;	     /* QUIT in TRANSACTION answered "+OK" */
	bool deleted[NMSG];
	int uidl_user;	     /* whose UIDs UIDL showed, -1 not yet */
};

/* The next line of output through its CRLF; *n_r includes the CRLF. */
static const char *take_line(struct model *m, size_t *n_r)
{
	EXPECT(m->p < m->end); /* a response is missing */
	const char *line = m->p;
	const char *nl = memchr(line, '\n', (size_t)(m->end - line));
	EXPECT(nl != NULL);
	EXPECT(nl > line && nl[-1] == '\r');
	*n_r = (size_t)(nl + 1 - line);
	for (size_t i = 0; i + 2 < *n_r; i++)
		EXPECT(line[i] != '\r' && line[i] != '\0');
	m->p = nl + 1;
	return line;
}

static bool starts(const char *line, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(line, prefix, k) == 0;
}

enum status { ST_OK, ST_ERR, ST_CONT };

static enum status take_status(struct model *m, const char **line_r,
			       size_t *n_r)
{
	size_t n;
	const char *line = take_line(m, &n);
	*line_r = line;
	*n_r = n;
	/* A challenge: empty, or LOGIN's and SCRAM's base64. */
	if (starts(line, n, "+ "))
		return ST_CONT;
	if (starts(line, n, "+OK") && (line[3] == ' ' || line[3] == '\r'))
		return ST_OK;
	EXPECT(starts(line, n, "-ERR") && (line[4] == ' ' || line[4] == '\r'));
	return ST_ERR;
}

/* After a -ERR: the error that ends the session may follow. */
static void after_error(struct model *m)
{
	static const char last[] = "-ERR Too many errors, closing connection"
				   "\r\n";
	size_t n = sizeof(last) - 1;
	if ((size_t)(m->end - m->p) >= n && memcmp(m->p, last, n) == 0) {
		m->p += n;
		m->over = true;
	}
}

/* A multi-line body up to its terminator, dot-stuffing undone into out
 * (if not NULL).  Lines end at any LF, as careless clients see them. */
static void take_body(struct model *m, char **out, size_t *outlen)
{
	bool prev_crlf = true;
	size_t len = 0;
	char *buf = out ? malloc((size_t)(m->end - m->p) + 1) : NULL;
	for (;;) {
		EXPECT(m->p < m->end); /* the terminator is missing */
		const char *line = m->p;
		const char *nl = memchr(line, '\n', (size_t)(m->end - line));
		EXPECT(nl != NULL);
		size_t n = (size_t)(nl + 1 - line);
		m->p = nl + 1;
		if (n == 3 && line[0] == '.' && line[1] == '\r') {
			EXPECT(prev_crlf);
			break;
		}
		if (line[0] == '.') {
			EXPECT(n >= 2 && line[1] == '.'); /* stuffed */
			line++;
			n--;
		}
		if (buf != NULL) {
			memcpy(buf + len, line, n);
			len += n;
		}
		prev_crlf = nl > line && nl[-1] == '\r';
	}
	if (out != NULL) {
		*out = buf;
		*outlen = len;
	}
}

/* The bytes of message `msg` that TOP with `lines` body lines sends: the
 * header, its blank line, then that many lines (ending at any LF). */
static size_t top_len(const struct seed *msg, uint32_t lines)
{
	size_t pos = 0;
	bool in_body = false;
	while (pos < msg->len) {
		if (in_body && lines == 0)
			break;
		const char *nl = memchr(msg->data + pos, '\n', msg->len - pos);
		size_t end = nl ? (size_t)(nl - msg->data) + 1 : msg->len;
		size_t n = end - pos;
		if (!in_body)
			in_body = n == 1 || (n == 2 && msg->data[pos] == '\r');
		else
			lines--;
		pos = end;
	}
	return pos;
}

static unsigned long long number(const char **s, const char *end)
{
	unsigned long long v = 0;
	EXPECT(*s < end && **s >= '0' && **s <= '9');
	while (*s < end && **s >= '0' && **s <= '9')
		v = v * 10 + (unsigned long long)(*(*s)++ - '0');
	return v;
}

static void check_list_line(struct model *m, const char *s, const char *end,
			    bool uidl, size_t want_index)
{
	unsigned long long i = number(&s, end);
	EXPECT(i == want_index + 1);
	EXPECT(s < end && *s++ == ' ');
	if (!uidl) {
		EXPECT(number(&s, end) == g.msgs[want_index].len);
	} else {
		char want[2][17];
		EXPECT(end - s >= 16);
		for (int u = 0; u < NUSERS; u++)
			snprintf(want[u], sizeof(want[u]), "%08x%08x",
				 g.uidvalidity[u], g.uids[u][want_index]);
		int who = memcmp(s, want[0], 16) == 0	? 0
			  : memcmp(s, want[1], 16) == 0 ? 1
							: -1;
		EXPECT(who >= 0);
		EXPECT(m->uidl_user < 0 || m->uidl_user == who);
		m->uidl_user = who;
		s += 16;
	}
	EXPECT(s == end - 2); /* then CRLF */
}

static void check_retr(struct model *m, const struct pop3_cmd *cmd,
		       const char *status, size_t sn)
{
	EXPECT(m->trans && cmd->msg >= 1 && cmd->msg <= NMSG);
	EXPECT(!m->deleted[cmd->msg - 1]);
	const struct seed *msg = &g.msgs[cmd->msg - 1];
	const char *s = status + 4;
	EXPECT(status[3] == ' ');
	EXPECT(number(&s, status + sn) == msg->len);
	EXPECT(starts(s, (size_t)(status + sn - s), " octets\r\n"));
	char *body;
	size_t blen;
	take_body(m, &body, &blen);
	size_t want = cmd->verb == POP3_TOP ? top_len(msg, cmd->lines)
					    : msg->len;
	bool crlf = want >= 2 && msg->data[want - 2] == '\r' &&
		    msg->data[want - 1] == '\n';
	/* The terminator's CRLF is added when the message lacks one. */
	EXPECT(blen == want + (crlf ? 0 : 2));
	EXPECT(memcmp(body, msg->data, want) == 0);
	if (!crlf)
		EXPECT(memcmp(body + want, "\r\n", 2) == 0);
	free(body);
}

static const char too_long[] = "-ERR Line too long\r\n";

/* One client command line and its response.  Whether a line is too long
 * depends on its length alone, not on how it arrived. */
static void step(struct model *m, const char *line, size_t len)
{
	const char *status;
	size_t sn;
	if (len > LINE_MAX_POP3) {
		EXPECT(take_status(m, &status, &sn) == ST_ERR);
		EXPECT(starts(status, sn, too_long));
		after_error(m);
		return;
	}
	if (m->sasl_wait) {
		m->sasl_wait = false;
		enum status st = take_status(m, &status, &sn);
		EXPECT(!starts(status, sn, too_long));
		if (st == ST_CONT) {
			/* LOGIN's and SCRAM's next challenge. */
			m->sasl_wait = true;
		} else if (st == ST_OK) {
			EXPECT(starts(status, sn, "+OK Logged in\r\n"));
			m->trans = true;
		} else {
			after_error(m);
		}
		return;
	}
	struct pop3_cmd cmd;
	int rc = pop3_parse_command(line, len, &cmd);
	enum status st = take_status(m, &status, &sn);
	EXPECT(!starts(status, sn, too_long));
	if (st == ST_CONT) {
		EXPECT(rc > 0 && cmd.verb == POP3_AUTH && cmd.nargs >= 1);
		EXPECT(!m->trans);
		m->sasl_wait = true;
		return;
	}
	if (rc > 0 && cmd.verb == POP3_QUIT) {
		/* Valid in every state; the last word either way. */
		if (m->trans && st == ST_OK)
			m->quit_ok = true;
		m->over = true;
		return;
	}
	if (st == ST_ERR) {
		after_error(m);
		return;
	}
	EXPECT(rc > 0); /* no "+OK" for what does not parse */
	switch (cmd.verb) {
	case POP3_USER:
		EXPECT(!m->trans && sn == 5);
		break;
	case POP3_PASS:
	case POP3_AUTH:
		EXPECT(!m->trans);
		if (cmd.verb == POP3_AUTH && cmd.nargs == 0) {
			char *body;
			size_t blen;
			take_body(m, &body, &blen);
			static const char mechs[] =
				"PLAIN\r\nLOGIN\r\nSCRAM-SHA-256\r\n";
			EXPECT(blen == sizeof(mechs) - 1 &&
			       memcmp(body, mechs, blen) == 0);
			free(body);
			break;
		}
		EXPECT(starts(status, sn, "+OK Logged in\r\n"));
		m->trans = true;
		break;
	case POP3_CAPA:
		take_body(m, NULL, NULL);
		break;
	case POP3_STAT: {
		EXPECT(m->trans);
		unsigned long long count = 0, octets = 0;
		for (int k = 0; k < NMSG; k++)
			if (!m->deleted[k]) {
				count++;
				octets += g.msgs[k].len;
			}
		const char *s = status + 4, *end = status + sn;
		EXPECT(status[3] == ' ');
		EXPECT(number(&s, end) == count);
		EXPECT(s < end && *s++ == ' ');
		EXPECT(number(&s, end) == octets);
		EXPECT(s == end - 2);
		break;
	}
	case POP3_LIST:
	case POP3_UIDL: {
		bool uidl = cmd.verb == POP3_UIDL;
		EXPECT(m->trans);
		if (cmd.nargs == 1) {
			EXPECT(cmd.msg >= 1 && cmd.msg <= NMSG &&
			       !m->deleted[cmd.msg - 1]);
			EXPECT(status[3] == ' ');
			check_list_line(m, status + 4, status + sn, uidl,
					cmd.msg - 1);
			break;
		}
		EXPECT(sn == 5);
		for (int k = 0; k < NMSG; k++) {
			if (m->deleted[k])
				continue;
			size_t n;
			const char *l = take_line(m, &n);
			check_list_line(m, l, l + n, uidl, (size_t)k);
		}
		size_t n;
		const char *l = take_line(m, &n);
		EXPECT(n == 3 && l[0] == '.');
		break;
	}
	case POP3_RETR:
	case POP3_TOP:
		check_retr(m, &cmd, status, sn);
		break;
	case POP3_DELE:
		EXPECT(m->trans && cmd.msg >= 1 && cmd.msg <= NMSG);
		EXPECT(!m->deleted[cmd.msg - 1]);
		m->deleted[cmd.msg - 1] = true;
		break;
	case POP3_RSET:
		EXPECT(m->trans);
		memset(m->deleted, 0, sizeof(m->deleted));
		break;
	case POP3_NOOP:
		EXPECT(m->trans);
		break;
	default:
		EXPECT(!"+OK for STLS or APOP");
	}
}

static void check_session(struct client *c, const uint8_t *data,
			  size_t size)
{
	struct model m = {c->out, c->out + c->len, false, false, false, false,
			  {false}, -1};
	const char *status;
	size_t sn;
	EXPECT(take_status(&m, &status, &sn) == ST_OK);

	const char *in = (const char *)data, *in_end = in + size;
	while (in < in_end && !m.over) {
		const char *eol = memmem(in, (size_t)(in_end - in), "\r\n", 2);
		if (eol == NULL) {
			/* An unfinished line is answered only when it is
			 * already too long. */
			if ((size_t)(in_end - in) > LINE_MAX_POP3)
				step(&m, in, (size_t)(in_end - in));
			break;
		}
		step(&m, in, (size_t)(eol - in));
		in = eol + 2;
	}
	EXPECT(m.p == m.end); /* nothing unasked for */
	/* The server closes by itself after its last word, and only then. */
	EXPECT(m.over == !c->shut);

	/* Deletions reach the store at QUIT, and only then. */
	size_t ndel = 0;
	for (int k = 0; k < NMSG; k++)
		ndel += m.deleted[k];
	bool present[NUSERS][NMSG];
	size_t n[NUSERS];
	for (int u = 0; u < NUSERS; u++)
		remaining(u, present[u], &n[u]);
	bool match = false;
	for (int u = 0; u < NUSERS && !match; u++) {
		bool ok = n[1 - u] == NMSG;
		size_t want = m.quit_ok ? NMSG - ndel : NMSG;
		ok = ok && n[u] == want;
		for (int k = 0; k < NMSG; k++)
			ok = ok && present[1 - u][k] &&
			     present[u][k] == !(m.quit_ok && m.deleted[k]);
		match = ok;
	}
	EXPECT(match);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sess.cfg == NULL)
		setup();
	restore_mailboxes();

	size_t lines = 1;
	for (size_t i = 0; i + 1 < size; i++)
		if (data[i] == '\r' && data[i + 1] == '\n')
			lines++;
	struct client c = {0};
	c.deadline = now_ns() + DEADLINE_NS;
	c.max = 64 * 1024 + 200 * size + lines * (2 * g.biggest + 64);
	cur = &c;
	run_session(&c, data, size);
	/* FUZZ_SESSION_DUMP=1 shows what the server said, e.g. when
	 * running a single reproducer. */
	if (getenv("FUZZ_SESSION_DUMP") != NULL)
		dump_output(&c);
	if (c.reset) {
		/* The replies may be cut anywhere; what must hold is that
		 * the session let go of every maildrop. */
		for (int u = 0; u < NUSERS; u++) {
			EXPECT(store_account_claim(sess.store, sess.users[u]) ==
			       1);
			store_account_release(sess.store, sess.users[u]);
		}
	} else {
		check_session(&c, data, size);
	}
	cur = NULL;
	free(c.out);
	return 0;
}
