/* auth_limit: delays, refusals per address and per account, the leak over
 * the window, and a flood that must not push out the worst offenders.
 * Time is passed in, never slept. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "unit.h"

#include "auth/auth_limit.h"
#include "auth/auth_pass.h"

#define T0 1000000u	/* any start: the clock is monotonic, not epoch */
#define MIN 60000u

/* The defaults of docs/config.md. */
static const struct auth_limit_policy defaults = {500, 15000, 10, 30, 600};

static int setup(void **state)
{
	/* Keys come from libsodium's random generator. */
	return auth_pass_init() < 0 ? -1 : 0;
}

/* An IPv4 or IPv6 address in text as a sockaddr. */
static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
	}
	return ss;
}

static enum auth_limit_verdict check(struct auth_limit *l, const char *ip,
				     const char *user, uint64_t now)
{
	struct sockaddr_storage ss = addr(ip);
	return auth_limit_check(l, (struct sockaddr *)&ss, user, strlen(user),
				now);
}

static unsigned failed(struct auth_limit *l, const char *ip, const char *user,
		     uint64_t now)
{
	struct sockaddr_storage ss = addr(ip);
	return auth_limit_failed(l, (struct sockaddr *)&ss, user, strlen(user),
				 now);
}

static void ok(struct auth_limit *l, const char *ip, uint64_t now)
{
	struct sockaddr_storage ss = addr(ip);
	auth_limit_succeeded(l, (struct sockaddr *)&ss, now);
}

/* Each failure doubles the delay, up to the maximum. */
static void test_delays(void **state)
{
	static const unsigned want[] = {500,   1000,  2000,  4000,  8000,
					15000, 15000, 15000, 15000, 15000};
	struct auth_limit *l = auth_limit_new(&defaults, 1024);
	cur = "delays";
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		EXPECT_INT(check(l, "192.0.2.1", "bob", T0), AUTH_LIMIT_OK);
		EXPECT_INT(failed(l, "192.0.2.1", "bob", T0), want[i]);
	}
	/* A first failure elsewhere starts at the bottom again. */
	EXPECT_INT(failed(l, "192.0.2.2", "alice", T0), 500);
	auth_limit_free(&l);
	assert_null(l);
	auth_limit_free(&l);
}

/* Past fail_limit_ip the address is refused, for any account; then the
 * count leaks one failure per window / limit (60 s). */
static void test_limit_ip(void **state)
{
	struct auth_limit *l = auth_limit_new(&defaults, 1024);
	cur = "limit-ip";
	for (int i = 0; i < 10; i++) {
		char user[32];
		snprintf(user, sizeof(user), "user%d", i);
		EXPECT_INT(check(l, "192.0.2.1", user, T0 + i), AUTH_LIMIT_OK);
		failed(l, "192.0.2.1", user, T0 + i);
	}
	EXPECT_INT(check(l, "192.0.2.1", "user0", T0 + 10), AUTH_LIMIT_IP);
	EXPECT_INT(check(l, "192.0.2.1", "someone", T0 + 10), AUTH_LIMIT_IP);
	EXPECT_INT(check(l, "192.0.2.1", "someone", T0 + 30000),
		   AUTH_LIMIT_IP);
	/* Others are not affected. */
	EXPECT_INT(check(l, "192.0.2.2", "user0", T0 + 10), AUTH_LIMIT_OK);
	/* One failure leaked away: one more guess, then refused again. */
	EXPECT_INT(check(l, "192.0.2.1", "someone", T0 + MIN + 10),
		   AUTH_LIMIT_OK);
	failed(l, "192.0.2.1", "someone", T0 + MIN + 10);
	EXPECT_INT(check(l, "192.0.2.1", "someone", T0 + MIN + 11),
		   AUTH_LIMIT_IP);
	/* The whole window later, all is forgotten. */
	EXPECT_INT(check(l, "192.0.2.1", "someone", T0 + 12 * MIN),
		   AUTH_LIMIT_OK);
	EXPECT_INT(failed(l, "192.0.2.1", "x", T0 + 12 * MIN), 500);
	auth_limit_free(&l);
}

/* A success clears the address, not the account. */
static void test_success_clears_address(void **state)
{
	struct auth_limit *l = auth_limit_new(&defaults, 1024);
	cur = "success";
	for (int i = 0; i < 9; i++)
		failed(l, "192.0.2.1", "bob", T0);
	ok(l, "192.0.2.1", T0 + 1);
	for (int i = 0; i < 9; i++) {
		EXPECT_INT(check(l, "192.0.2.1", "carol", T0 + 2),
			   i == 0 ? AUTH_LIMIT_KNOWN : AUTH_LIMIT_OK);
		failed(l, "192.0.2.1", "carol", T0 + 2);
	}
	/* bob's 9 failures still count toward the delay on bob. */
	EXPECT_INT(failed(l, "192.0.2.9", "bob", T0 + 3), 15000);
	/* A success from an address with no record makes it known. */
	ok(l, "192.0.2.77", T0 + 3);
	EXPECT_INT(check(l, "192.0.2.77", "bob", T0 + 3), AUTH_LIMIT_KNOWN);
	auth_limit_free(&l);
}

/* Past fail_limit_user, an account is refused to addresses that failed
 * themselves, and only to them: its owner's address goes through. */
static void test_limit_user(void **state)
{
	struct auth_limit *l = auth_limit_new(&defaults, 1024);
	char ip[32];
	cur = "limit-user";
	for (int i = 0; i < 30; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		EXPECT_INT(check(l, ip, "Bob@Example.com", T0), AUTH_LIMIT_OK);
		failed(l, ip, i % 2 ? "bob@example.com" : "BOB@EXAMPLE.COM",
		       T0);
	}
	/* Every failed address, whatever the case of the name. */
	for (int i = 0; i < 30; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		EXPECT_INT(check(l, ip, "bob@example.com", T0 + 1),
			   AUTH_LIMIT_USER);
		EXPECT_INT(check(l, ip, "bOb@example.com", T0 + 1),
			   AUTH_LIMIT_USER);
		/* Other accounts stay open to them, within their own
		 * limit. */
		EXPECT_INT(check(l, ip, "alice@example.com", T0 + 1),
			   AUTH_LIMIT_OK);
	}
	/* The owner, from an address without failures. */
	EXPECT_INT(check(l, "203.0.113.5", "bob@example.com", T0 + 1),
		   AUTH_LIMIT_OK);
	/* A mistyped password from there gets the longest delay, then a
	 * refusal while the account is locked... */
	EXPECT_INT(failed(l, "203.0.113.5", "bob@example.com", T0 + 2), 15000);
	EXPECT_INT(check(l, "203.0.113.5", "bob@example.com", T0 + 3),
		   AUTH_LIMIT_USER);
	/* ...until its own failure leaked away (60 s at 10 per 10 min), or
	 * it logged in. */
	EXPECT_INT(check(l, "203.0.113.5", "bob@example.com", T0 + 2 + MIN),
		   AUTH_LIMIT_OK);
	ok(l, "203.0.113.5", T0 + 4);
	EXPECT_INT(check(l, "203.0.113.5", "bob@example.com", T0 + 5),
		   AUTH_LIMIT_KNOWN);
	auth_limit_free(&l);
}

/* IPv6 by /64, IPv4-mapped IPv6 as IPv4. */
static void test_prefixes(void **state)
{
	static const struct {
		const char *failed, *other;
		bool same;
	} t[] = {
		{"2001:db8::1", "2001:db8::1", true},
		{"2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff", true},
		{"2001:db8::1", "2001:db8:0:1::1", false},
		{"2001:db8::1", "2001:db9::1", false},
		{"::ffff:192.0.2.1", "192.0.2.1", true},
		{"192.0.2.1", "::ffff:192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
		{"192.0.2.1", "::192.0.2.1", false},
		{"::1", "127.0.0.1", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		struct auth_limit *l = auth_limit_new(&defaults, 1024);
		cur = t[i].other;
		for (int n = 0; n < 10; n++)
			failed(l, t[i].failed, "u", T0);
		EXPECT_INT(check(l, t[i].other, "v", T0),
			   t[i].same ? AUTH_LIMIT_IP : AUTH_LIMIT_OK);
		auth_limit_free(&l);
	}
}

/* A socket without an IP address (a socket pair in tests) is one
 * client; a NULL address too. */
static void test_other_family(void **state)
{
	struct auth_limit *l = auth_limit_new(&defaults, 1024);
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	cur = "unix";
	for (int n = 0; n < 10; n++)
		auth_limit_failed(l, (struct sockaddr *)&un, "u", 1, T0);
	EXPECT_INT(auth_limit_check(l, (struct sockaddr *)&un, "u", 1, T0),
		   AUTH_LIMIT_IP);
	EXPECT_INT(auth_limit_check(l, NULL, "u", 1, T0), AUTH_LIMIT_IP);
	auth_limit_succeeded(l, NULL, T0);
	EXPECT_INT(auth_limit_check(l, (struct sockaddr *)&un, "u", 1, T0),
		   AUTH_LIMIT_KNOWN);
	auth_limit_free(&l);
}

/* Limits of 0: no refusals, the delays still grow; a delay of 0: none. */
static void test_off(void **state)
{
	struct auth_limit_policy p = {500, 4000, 0, 0, 600};
	struct auth_limit *l = auth_limit_new(&p, 64);
	cur = "limits off";
	unsigned d = 0;
	for (int i = 0; i < 100; i++) {
		EXPECT_INT(check(l, "192.0.2.1", "bob", T0), AUTH_LIMIT_OK);
		d = failed(l, "192.0.2.1", "bob", T0);
	}
	EXPECT_INT(d, 4000);
	auth_limit_free(&l);
	p = (struct auth_limit_policy){0, 15000, 3, 3, 600};
	l = auth_limit_new(&p, 64);
	cur = "delay off";
	for (int i = 0; i < 3; i++)
		EXPECT_INT(failed(l, "192.0.2.1", "bob", T0), 0);
	EXPECT_INT(check(l, "192.0.2.1", "bob", T0), AUTH_LIMIT_IP);
	auth_limit_free(&l);
}

/* A flood of single failures from 100,000 addresses through a table of
 * 1,024 entries: memory stays what it was, and the addresses that failed
 * most are still refused, while the flood's own addresses come and go. */
static void test_flood(void **state)
{
	struct auth_limit *l = auth_limit_new(&defaults, 1024);
	char ip[32];
	cur = "flood";
	for (int a = 0; a < 20; a++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", a + 1);
		for (int i = 0; i < 10; i++)
			failed(l, ip, "root", T0);
	}
	for (uint32_t i = 0; i < 100000; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", i >> 16 & 255,
			 i >> 8 & 255, i & 255);
		failed(l, ip, ip, T0 + 1);
	}
	for (int a = 0; a < 20; a++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", a + 1);
		EXPECT_INT(check(l, ip, "x", T0 + 2), AUTH_LIMIT_IP);
	}
	/* The account they guessed on kept its count: a new guess on it
	 * waits the longest. */
	EXPECT_INT(failed(l, "203.0.113.1", "root", T0 + 2), 15000);
	auth_limit_free(&l);
}

/* An address that logged in is known, for 8 days, until it fails; a
 * flood of failures from new addresses does not push it out. */
static void test_known(void **state)
{
	struct auth_limit *l = auth_limit_new(&defaults, 64);
	char ip[32];
	cur = "known";
	EXPECT_INT(check(l, "192.0.2.1", "bob", T0), AUTH_LIMIT_OK);
	ok(l, "192.0.2.1", T0);
	EXPECT_INT(check(l, "192.0.2.1", "anyone", T0 + 1), AUTH_LIMIT_KNOWN);
	EXPECT_INT(check(l, "192.0.2.1", "bob", T0 + 7 * 24 * 3600 * 1000ull),
		   AUTH_LIMIT_KNOWN);
	EXPECT_INT(check(l, "192.0.2.1", "bob", T0 + 8 * 24 * 3600 * 1000ull),
		   AUTH_LIMIT_OK);
	ok(l, "192.0.2.2", T0);
	for (uint32_t i = 0; i < 10000; i++) {
		snprintf(ip, sizeof(ip), "10.0.%u.%u", i >> 8 & 255, i & 255);
		failed(l, ip, "root", T0 + 1);
	}
	EXPECT_INT(check(l, "192.0.2.2", "bob", T0 + 2), AUTH_LIMIT_KNOWN);
	/* A failure from it makes it one more address, until a success. */
	failed(l, "192.0.2.2", "bob", T0 + 3);
	EXPECT_INT(check(l, "192.0.2.2", "bob", T0 + 4), AUTH_LIMIT_OK);
	ok(l, "192.0.2.2", T0 + 5);
	EXPECT_INT(check(l, "192.0.2.2", "bob", T0 + 6), AUTH_LIMIT_KNOWN);
	auth_limit_free(&l);
}

/* Time that goes backwards (it should not) counts as no time. */
static void test_clock_backwards(void **state)
{
	struct auth_limit *l = auth_limit_new(&defaults, 64);
	cur = "backwards";
	for (int i = 0; i < 10; i++)
		failed(l, "192.0.2.1", "bob", T0);
	EXPECT_INT(check(l, "192.0.2.1", "bob", T0 - 5000), AUTH_LIMIT_IP);
	auth_limit_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delays),
		cmocka_unit_test(test_limit_ip),
		cmocka_unit_test(test_success_clears_address),
		cmocka_unit_test(test_limit_user),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_other_family),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_clock_backwards),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
