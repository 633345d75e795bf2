/* Login failure counts in two set-associative tables of fixed size.
 *
 * Why the account limit refuses only addresses that failed themselves:
 * an account's name is no secret, so a limit that locked the account for
 * everyone would let anyone lock any user out by guessing wrong on
 * purpose.  Refusing only addresses with failures of their own still
 * stops the guessing (each new address of a botnet gets one guess on a
 * locked account, then waits with the rest), while the owner's client,
 * which logs in right from its usual address, never meets the limit.
 * The growing delay applies to every failure on the account, whatever
 * the address: it costs the owner at most one slow "wrong password".
 *
 * A count is a level in 1/1024ths of a failure that leaks at limit per
 * window, so there is no list of timestamps to keep: a burst of limit
 * failures is allowed, then one per window/limit. */
#include "auth/auth_limit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/session.h"
#include "core/xalloc.h"

#define ONE 1024u	/* one failure, in level units */
#define WAYS 8		/* entries per set */
/* With a limit of 0 (no refusals) the counts still make the delays,
 * and leak at this many per window. */
#define NOMINAL_LIMIT 16u
/* How long an address that logged in stays known, while it does not
 * fail: long enough for a laptop that was shut for a week. */
#define KNOWN_MS (8 * 24 * 3600 * 1000ull)

struct entry {
	uint64_t key;		/* 0: free */
	uint64_t last_ms;	/* when level was brought up to date */
	uint64_t good_ms;	/* the last success from it; 0: none */
	uint32_t level;
};

struct table {
	struct entry *e;
	size_t sets;		/* a power of two */
	unsigned limit;		/* 0: no refusals */
	unsigned rate;		/* failures leaking away per window */
};

struct auth_limit {
	pthread_mutex_t lock;
	struct auth_limit_policy policy;
	uint64_t window_ms;
	struct table ip, user;
	/* Keys are keyed hashes: a client cannot aim at one set to push a
	 * known entry out. */
	unsigned char secret[crypto_generichash_KEYBYTES];
};

static void table_init(struct table *t, size_t entries, unsigned limit)
{
	t->sets = 8;
	while (t->sets * WAYS < entries)
		t->sets *= 2;
	t->e = xcalloc(t->sets * WAYS, sizeof(*t->e));
	t->limit = limit;
	t->rate = limit ? limit : NOMINAL_LIMIT;
}

struct auth_limit *auth_limit_new(const struct auth_limit_policy *policy,
				  size_t entries)
{
	struct auth_limit *l = xcalloc(1, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	l->policy = *policy;
	if (l->policy.window_s == 0)
		l->policy.window_s = 1;
	l->window_ms = (uint64_t)l->policy.window_s * 1000u;
	table_init(&l->ip, entries, policy->limit_ip);
	table_init(&l->user, entries, policy->limit_user);
	randombytes_buf(l->secret, sizeof(l->secret));
	return l;
}

struct auth_limit *auth_limit_new_config(const struct config *cfg)
{
	struct auth_limit_policy p = {
		cfg->auth.fail_delay, cfg->auth.fail_delay_max,
		cfg->auth.fail_limit_ip, cfg->auth.fail_limit_user,
		cfg->auth.fail_window};
	return auth_limit_new(&p, AUTH_LIMIT_ENTRIES);
}

void auth_limit_free(struct auth_limit **lp)
{
	struct auth_limit *l = *lp;
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->ip.e);
	free(l->user.e);
	free(l);
	*lp = NULL;
}

/* ---- keys ---- */

static uint64_t key_finish(crypto_generichash_state *st)
{
	unsigned char h[8];
	crypto_generichash_final(st, h, sizeof(h));
	uint64_t k = 0;
	for (int i = 0; i < 8; i++)
		k = k << 8 | h[i];
	return k != 0 ? k : 1;
}

/* IPv4 whole (also when mapped into IPv6), IPv6 by its /64; anything
 * else (a socket pair in tests) is one address. */
static uint64_t ip_key(const struct auth_limit *l, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0,
						 0, 0, 0, 0, 0xff, 0xff};
	unsigned char b[9] = {0};
	size_t n = 1;
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		b[0] = 4;
		memcpy(b + 1, &in->sin_addr, 4);
		n = 5;
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const unsigned char *a =
			((const struct sockaddr_in6 *)(const void *)sa)
				->sin6_addr.s6_addr;
		bool v4 = memcmp(a, mapped, sizeof(mapped)) == 0;
		b[0] = v4 ? 4 : 6;
		memcpy(b + 1, v4 ? a + 12 : a, v4 ? 4 : 8);
		n = v4 ? 5 : 9;
	}
	crypto_generichash_state st;
	crypto_generichash_init(&st, l->secret, sizeof(l->secret), 8);
	crypto_generichash_update(&st, b, n);
	return key_finish(&st);
}

/* The name as typed, ASCII lower-cased: "Bob" and "bob" are one account
 * to a guesser, whether or not it exists. */
static uint64_t user_key(const struct auth_limit *l, const char *user,
			 size_t ulen)
{
	crypto_generichash_state st;
	unsigned char buf[64];
	crypto_generichash_init(&st, l->secret, sizeof(l->secret), 8);
	crypto_generichash_update(&st, (const unsigned char *)"u", 1);
	for (size_t off = 0; off < ulen; off += sizeof(buf)) {
		size_t n = ulen - off < sizeof(buf) ? ulen - off : sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)user[off + i];
			buf[i] = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
		}
		crypto_generichash_update(&st, buf, n);
	}
	return key_finish(&st);
}

/* ---- tables ---- */

/* The entry's level as of now. */
static uint32_t level_now(const struct auth_limit *l, const struct table *t,
			  const struct entry *e, uint64_t now_ms)
{
	if (e->key == 0 || e->level == 0)
		return 0;
	uint64_t dt = now_ms > e->last_ms ? now_ms - e->last_ms : 0;
	if (dt >= l->window_ms)
		return 0;
	/* dt < window_ms <= 86,400,000, rate <= 100,000: no overflow. */
	uint64_t leaked = dt * t->rate * ONE / l->window_ms;
	return leaked >= e->level ? 0 : e->level - (uint32_t)leaked;
}

static struct entry *table_find(struct table *t, uint64_t key)
{
	struct entry *set = &t->e[(key & (t->sets - 1)) * WAYS];
	for (int i = 0; i < WAYS; i++)
		if (set[i].key == key)
			return &set[i];
	return NULL;
}

static bool known(const struct entry *e, uint64_t now_ms)
{
	return e->good_ms != 0 && now_ms - e->good_ms < KNOWN_MS;
}

/* Which of two entries to give up first: a free one, then one that
 * never logged in (known addresses stay, so that a flood of guesses
 * cannot make the users' own addresses strangers), then the one with
 * fewer failures now, then the older. */
static bool worth_less(const struct auth_limit *l, const struct table *t,
		       const struct entry *a, const struct entry *b,
		       uint64_t now_ms)
{
	if (a->key == 0 || b->key == 0)
		return a->key == 0 && b->key != 0;
	bool ka = known(a, now_ms), kb = known(b, now_ms);
	if (ka != kb)
		return kb;
	uint32_t la = level_now(l, t, a, now_ms);
	uint32_t lb = level_now(l, t, b, now_ms);
	if (la != lb)
		return la < lb;
	return a->last_ms < b->last_ms;
}

/* The key's entry, made if need be in place of the one worth least: a
 * flood of new addresses pushes out one-time failures, not the
 * addresses that failed most nor those that logged in. */
static struct entry *table_get(const struct auth_limit *l, struct table *t,
			       uint64_t key, uint64_t now_ms)
{
	struct entry *e = table_find(t, key);
	if (e != NULL)
		return e;
	struct entry *set = &t->e[(key & (t->sets - 1)) * WAYS];
	struct entry *victim = &set[0];
	for (int i = 1; i < WAYS; i++)
		if (worth_less(l, t, &set[i], victim, now_ms))
			victim = &set[i];
	*victim = (struct entry){key, now_ms, 0, 0};
	return victim;
}

static uint32_t level_of(const struct auth_limit *l, struct table *t,
			 uint64_t key, uint64_t now_ms)
{
	struct entry *e = table_find(t, key);
	return e != NULL ? level_now(l, t, e, now_ms) : 0;
}

/* Whether one more failure would take the level past the limit. */
static bool over(const struct table *t, uint32_t level)
{
	return t->limit != 0 &&
	       (uint64_t)level + ONE > (uint64_t)t->limit * ONE;
}

/* Returns the level after one more failure. */
static uint32_t bump(const struct auth_limit *l, struct table *t,
		     uint64_t key, uint64_t now_ms)
{
	struct entry *e = table_get(l, t, key, now_ms);
	uint64_t lv = (uint64_t)level_now(l, t, e, now_ms) + ONE;
	uint64_t cap = (uint64_t)t->rate * ONE;
	e->level = (uint32_t)(lv < cap ? lv : cap);
	e->last_ms = now_ms;
	return e->level;
}

/* ---- policy ---- */

enum auth_limit_verdict auth_limit_check(struct auth_limit *l,
					 const struct sockaddr *peer,
					 const char *user, size_t ulen,
					 uint64_t now_ms)
{
	uint64_t ipk = ip_key(l, peer), uk = user_key(l, user, ulen);
	enum auth_limit_verdict v = AUTH_LIMIT_OK;
	pthread_mutex_lock(&l->lock);
	struct entry *e = table_find(&l->ip, ipk);
	uint32_t ip_level = e != NULL ? level_now(l, &l->ip, e, now_ms) : 0;
	if (over(&l->ip, ip_level))
		v = AUTH_LIMIT_IP;
	else if (ip_level > 0 && over(&l->user, level_of(l, &l->user, uk,
							 now_ms)))
		v = AUTH_LIMIT_USER;
	else if (ip_level == 0 && e != NULL && known(e, now_ms))
		v = AUTH_LIMIT_KNOWN;
	pthread_mutex_unlock(&l->lock);
	return v;
}

/* delay << (failures - 1), capped. */
static unsigned delay_for(const struct auth_limit_policy *p, uint32_t level)
{
	unsigned failures = (level + ONE - 1) / ONE;
	uint64_t d = p->delay_ms;
	for (unsigned i = 1; i < failures && d < p->delay_max_ms; i++)
		d *= 2;
	return (unsigned)(d < p->delay_max_ms ? d : p->delay_max_ms);
}

unsigned auth_limit_failed(struct auth_limit *l, const struct sockaddr *peer,
			   const char *user, size_t ulen, uint64_t now_ms)
{
	uint64_t ipk = ip_key(l, peer), uk = user_key(l, user, ulen);
	pthread_mutex_lock(&l->lock);
	uint32_t a = bump(l, &l->ip, ipk, now_ms);
	uint32_t b = bump(l, &l->user, uk, now_ms);
	pthread_mutex_unlock(&l->lock);
	return delay_for(&l->policy, a > b ? a : b);
}

void auth_limit_succeeded(struct auth_limit *l, const struct sockaddr *peer,
			  uint64_t now_ms)
{
	uint64_t ipk = ip_key(l, peer);
	pthread_mutex_lock(&l->lock);
	struct entry *e = table_get(l, &l->ip, ipk, now_ms);
	e->level = 0;
	e->last_ms = now_ms;
	/* 0 means "never". */
	e->good_ms = now_ms != 0 ? now_ms : 1;
	pthread_mutex_unlock(&l->lock);
}

/* ---- sessions ---- */

static uint64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One line per failure, the client's address right after the fixed
 * fields, so that a fail2ban filter anchored at the start can take it
 * (docs/fail2ban.md). */
static void log_fail(struct session *s, const char *user, const char *reason)
{
	struct str line = STR_INIT;
	log_begin(&line, "auth", session_id(s), "fail");
	log_field(&line, "proto", "%s", session_proto_name(s));
	log_field(&line, "client", "%s", session_peer_text(s));
	log_field(&line, "reason", "%s", reason);
	log_cvalue(&line, "user", user);
	log_put(LOG_INFO, &line);
}

/* 1 to go on from a known address, 0 to go on, -1 refused (logged). */
static int session_check(struct auth_limit *l, struct session *s,
			 const char *user)
{
	if (l == NULL)
		return 0;
	enum auth_limit_verdict v = auth_limit_check(
		l, session_peer(s), user, strlen(user), clock_ms());
	if (v == AUTH_LIMIT_OK || v == AUTH_LIMIT_KNOWN)
		return v == AUTH_LIMIT_KNOWN ? 1 : 0;
	log_fail(s, user, v == AUTH_LIMIT_IP ? "limit-ip" : "limit-user");
	return -1;
}

struct worker_pool *auth_limit_session_pool(struct auth_limit *l,
					    struct session *s,
					    const char *user,
					    struct worker_pool *workers,
					    struct worker_pool *known)
{
	int lane = session_check(l, s, user);
	if (lane < 0)
		return NULL;
	return lane > 0 && known != NULL ? known : workers;
}

void auth_limit_session_done(struct auth_limit *l, struct session *s,
			     void *ctx, const char *user, int result,
			     void (*reply)(void *ctx))
{
	unsigned delay = 0;
	if (result == 0) {
		log_fail(s, user, "password");
		if (l != NULL)
			delay = auth_limit_failed(l, session_peer(s), user,
						  strlen(user), clock_ms());
	} else if (result > 0 && l != NULL) {
		auth_limit_succeeded(l, session_peer(s), clock_ms());
	}
	if (delay == 0 || !session_pause(s, delay, reply))
		reply(ctx);
}
