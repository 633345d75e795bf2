/* net: listen addresses as the config writes them and as logs show them.
 * Each case is the text and the address it must give (or the refusal). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "unit.h"

#include "core/net.h"

struct hostport_case {
	const char *text;
	int family;		/* 0: refused */
	const char *canon;	/* net_hostport_text(), or part of err */
};

static const struct hostport_case cases[] = {
	{"127.0.0.1:25", AF_INET, "127.0.0.1:25"},
	{"0.0.0.0:1", AF_INET, "0.0.0.0:1"},
	{"192.0.2.1:65535", AF_INET, "192.0.2.1:65535"},
	{"127.0.0.1:00025", AF_INET, "127.0.0.1:25"},
	{"[::1]:25", AF_INET6, "[::1]:25"},
	{"[::]:587", AF_INET6, "[::]:587"},
	{"[2001:DB8:0:0::1]:110", AF_INET6, "[2001:db8::1]:110"},
	{"[::ffff:127.0.0.1]:25", AF_INET6, "[::ffff:127.0.0.1]:25"},
	{"", 0, "expected HOST:PORT"},
	{"127.0.0.1", 0, "expected HOST:PORT"},
	{"127.0.0.1:", 0, "bad port number"},
	{"127.0.0.1:0", 0, "bad port number"},
	{"127.0.0.1:65536", 0, "bad port number"},
	{"127.0.0.1:123456", 0, "bad port number"},
	{"127.0.0.1:2a", 0, "bad port number"},
	{"127.0.0.1:-1", 0, "bad port number"},
	{"127.0.0.1: 25", 0, "bad port number"},
	{"localhost:25", 0, "not a numeric"},
	{"1.2.3.4.5:25", 0, "not a numeric"},
	{"256.0.0.1:25", 0, "not a numeric"},
	{":25", 0, "not a numeric"},
	{"[::1]", 0, "expected [IPV6]:PORT"},
	{"[::1]25", 0, "expected [IPV6]:PORT"},
	{"[::1:25", 0, "expected [IPV6]:PORT"},
	{"[::1]:", 0, "bad port number"},
	{"[]:25", 0, "not a numeric"},
	{"[fe80::1%lo]:25", 0, "not a numeric"},
	/* IPv6 only in brackets, IPv4 only without. */
	{"::1:25", 0, "not a numeric"},
	{"2001:db8::1:25", 0, "not a numeric"},
	{"[127.0.0.1]:25", 0, "not a numeric"},
	{"[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:"
	 "0001]:25", 0, "address too long"},
	{"00000000000000000000000000000000000000000000000000000000000000001"
	 ".0.0.1:25", 0, "address too long"},
};

static void test_hostport(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hostport_case *c = &cases[i];
		struct sockaddr_storage ss;
		socklen_t sslen = 0;
		const char *err = NULL;
		char text[INET6_ADDRSTRLEN + 8];
		size_t len = strlen(c->text);
		char *buf = exact(c->text, len);
		cur = c->text;
		int rc = net_parse_hostport(buf, len, &ss, &sslen, &err);
		free(buf);
		if (c->family == 0) {
			EXPECT_INT(rc, -1);
			EXPECT(err != NULL && strstr(err, c->canon) != NULL);
			continue;
		}
		EXPECT_INT(rc, 0);
		EXPECT_INT(ss.ss_family, c->family);
		EXPECT_INT(sslen, c->family == AF_INET
				  ? sizeof(struct sockaddr_in)
				  : sizeof(struct sockaddr_in6));
		net_hostport_text((struct sockaddr *)&ss, text, sizeof(text));
		EXPECT_STR(text, c->canon);
		/* The text form parses back to the same address. */
		struct sockaddr_storage again;
		EXPECT_INT(net_parse_hostport(text, strlen(text), &again,
					      &sslen, &err), 0);
		EXPECT(memcmp(&ss, &again, sslen) == 0);
	}
}

/* Only len bytes count. */
static void test_len_respected(void **state)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *err;
	char text[64];
	cur = "127.0.0.1:25 junk";
	EXPECT_INT(net_parse_hostport("127.0.0.1:25 junk", 12, &ss, &sslen,
				      &err), 0);
	net_hostport_text((struct sockaddr *)&ss, text, sizeof(text));
	EXPECT_STR(text, "127.0.0.1:25");
	cur = "[::1]:1100";
	EXPECT_INT(net_parse_hostport("[::1]:1100", 8, &ss, &sslen, &err), 0);
	net_hostport_text((struct sockaddr *)&ss, text, sizeof(text));
	EXPECT_STR(text, "[::1]:11");
}

static void make_addr(const char *host, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(2525);
	} else {
		assert_int_equal(inet_pton(AF_INET6, host, &sin6->sin6_addr),
				 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(2525);
	}
}

static void test_loopback(void **state)
{
	static const struct {
		const char *host;
		bool loopback;
	} t[] = {
		{"127.0.0.1", true},	   {"127.255.255.254", true},
		{"127.0.0.0", true},	   {"126.255.255.255", false},
		{"128.0.0.1", false},	   {"10.0.0.1", false},
		{"0.0.0.0", false},	   {"192.0.2.127", false},
		{"::1", true},		   {"::", false},
		{"::2", false},		   {"2001:db8::1", false},
		{"::ffff:127.0.0.1", true}, {"::ffff:127.1.2.3", true},
		{"::ffff:10.0.0.1", false}, {"::127.0.0.1", false},
		{"fe80::1", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sockaddr_storage ss;
		char text[INET6_ADDRSTRLEN];
		make_addr(t[i].host, &ss);
		cur = t[i].host;
		EXPECT_INT(net_is_loopback((struct sockaddr *)&ss),
			   t[i].loopback);
		net_addr_text((struct sockaddr *)&ss, text, sizeof(text));
		EXPECT_STR(text, t[i].host);
	}
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char text[64];
	cur = "AF_UNIX";
	EXPECT(net_is_loopback((struct sockaddr *)&sun));
	net_addr_text((struct sockaddr *)&sun, text, sizeof(text));
	EXPECT_STR(text, "local");
	net_hostport_text((struct sockaddr *)&sun, text, sizeof(text));
	EXPECT_STR(text, "local");
}

/* A buffer too small truncates, never overflows. */
static void test_text_small_buffer(void **state)
{
	struct sockaddr_storage ss;
	char text[8];
	make_addr("2001:db8::1", &ss);
	memset(text, 'X', sizeof(text));
	net_hostport_text((struct sockaddr *)&ss, text, 6);
	assert_int_equal(strlen(text), 5);
	assert_int_equal(text[6], 'X');
}

struct collected {
	char text[8][64];
	int n;
	int fail_at;
};

static int collect(const struct sockaddr *sa, socklen_t len, void *ctx)
{
	struct collected *c = ctx;
	if (c->n == c->fail_at)
		return -1;
	net_hostport_text(sa, c->text[c->n], sizeof(c->text[0]));
	c->n++;
	return 0;
}

static void test_listen_list(void **state)
{
	static const struct {
		const char *list;
		int rc, n;
		const char *want[3];	/* or err when rc < 0 */
	} t[] = {
		{"", 0, 0, {NULL}},
		{"  ,\t, ", 0, 0, {NULL}},
		{"127.0.0.1:25", 0, 1, {"127.0.0.1:25"}},
		{"[::1]:25, 127.0.0.1:25", 0, 2, {"[::1]:25", "127.0.0.1:25"}},
		{"127.0.0.1:25,127.0.0.1:26", 0, 2,
		 {"127.0.0.1:25", "127.0.0.1:26"}},
		{"127.0.0.1:25 [::]:25\t0.0.0.0:1", 0, 3,
		 {"127.0.0.1:25", "[::]:25", "0.0.0.0:1"}},
		{",127.0.0.1:25,", 0, 1, {"127.0.0.1:25"}},
		{"127.0.0.1:25, nonsense", -1, 1, {"expected HOST:PORT"}},
		{"127.0.0.1", -1, 0, {"expected HOST:PORT"}},
		{"[::1] :25", -1, 0, {"expected [IPV6]:PORT"}},
		{"127.0.0.1:25;127.0.0.1:26", -1, 0, {"not a numeric"}},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct collected c = {.n = 0, .fail_at = -1};
		const char *err = NULL;
		cur = t[i].list;
		EXPECT_INT(net_parse_listen_list(t[i].list, collect, &c, &err),
			   t[i].rc);
		EXPECT_INT(c.n, t[i].n);
		if (t[i].rc < 0) {
			EXPECT(err != NULL && strstr(err, t[i].want[0]));
			continue;
		}
		for (int k = 0; k < c.n; k++)
			EXPECT_STR(c.text[k], t[i].want[k]);
		/* Without a callback it only checks. */
		EXPECT_INT(net_parse_listen_list(t[i].list, NULL, NULL, &err),
			   0);
	}
	/* The callback's refusal stops the walk. */
	struct collected c = {.n = 0, .fail_at = 1};
	const char *err = NULL;
	cur = "callback fails";
	EXPECT_INT(net_parse_listen_list("127.0.0.1:1, 127.0.0.1:2, "
					 "127.0.0.1:3", collect, &c, &err), -1);
	EXPECT_INT(c.n, 1);
	EXPECT_STR(err, "cannot use address");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_len_respected),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_text_small_buffer),
		cmocka_unit_test(test_listen_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
