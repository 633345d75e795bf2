/* auth_limit driven by a script of logins with addresses and user names
 * from the input, in a table small enough that entries are pushed out all
 * the time.  Invariants: delays stay within the policy; an address just
 * cleared by a success is known, never refused; an address just past its
 * limit is always refused.
 *
 * Input: ops, each one byte (bits 0-1: 0 check, 1 failure, 2 success,
 * 3 failures up to the limit; bit 2: IPv6; bits 3-7: seconds since the
 * last op), then 4 or 16 address bytes, a length byte and that many bytes
 * of user name (up to 63). */
#include <netinet/in.h>

#include "fuzz.h"

#include "auth/auth_limit.h"
#include "auth/auth_pass.h"

static const struct auth_limit_policy policy = {100, 1000, 3, 4, 60};

struct op {
	unsigned kind;
	struct sockaddr_storage peer;
	const char *user;
	size_t ulen;
};

/* Returns bytes used, 0 at the end of the input. */
static size_t next_op(const uint8_t *p, size_t len, struct op *op,
		      uint64_t *now)
{
	if (len < 1)
		return 0;
	bool v6 = p[0] & 4;
	size_t alen = v6 ? 16 : 4;
	if (len < 2 + alen)
		return 0;
	op->kind = p[0] & 3;
	*now += (uint64_t)(p[0] >> 3) * 1000;
	memset(&op->peer, 0, sizeof(op->peer));
	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&op->peer;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, p + 1, 16);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&op->peer;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, p + 1, 4);
	}
	op->ulen = p[1 + alen] & 63;
	if (len < 2 + alen + op->ulen)
		return 0;
	op->user = (const char *)p + 2 + alen;
	return 2 + alen + op->ulen;
}

static void run_op(struct auth_limit *l, const struct op *op, uint64_t now)
{
	const struct sockaddr *sa = (const struct sockaddr *)&op->peer;
	unsigned d;
	switch (op->kind) {
	case 0:
		auth_limit_check(l, sa, op->user, op->ulen, now);
		break;
	case 1:
		d = auth_limit_failed(l, sa, op->user, op->ulen, now);
		CHECK(d >= policy.delay_ms && d <= policy.delay_max_ms);
		break;
	case 2:
		auth_limit_succeeded(l, sa, now);
		CHECK(auth_limit_check(l, sa, op->user, op->ulen, now) ==
		      AUTH_LIMIT_KNOWN);
		break;
	default:
		for (unsigned i = 0; i < policy.limit_ip; i++)
			auth_limit_failed(l, sa, op->user, op->ulen, now);
		CHECK(auth_limit_check(l, sa, op->user, op->ulen, now) ==
		      AUTH_LIMIT_IP);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		CHECK(auth_pass_init() >= 0);
		ready = true;
	}
	struct auth_limit *l = auth_limit_new(&policy, 64);
	uint64_t now = 1000000;
	struct op op;
	size_t n;
	while ((n = next_op(data, size, &op, &now)) > 0) {
		run_op(l, &op, now);
		data += n;
		size -= n;
	}
	auth_limit_free(&l);
	CHECK(l == NULL);
	return 0;
}
