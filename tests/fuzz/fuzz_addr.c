/* Fuzz addr_parse() and addr_format().  The first byte picks the flags
 * (bit 0: ADDR_UTF8); the rest is the address.
 *
 * Invariants: a parsed address keeps within ADDR_LOCAL_MAX and
 * ADDR_DOMAIN_MAX; its canonical text fits ADDR_TEXT_MAX, is ASCII unless
 * UTF-8 was allowed, has no upper-case ASCII, and parses back (same flags)
 * to the same address and the same text; whatever parses without UTF-8
 * parses the same with it; a local part is well-formed UTF-8 in NFC;
 * addr_domain_canon() is idempotent. */
#include <unistr.h>
#include <uninorm.h>

#include "fuzz.h"

#include "mime/addr.h"

static void check_parsed(const struct addr *a, unsigned flags)
{
	char text[ADDR_TEXT_MAX + 64], again_text[ADDR_TEXT_MAX];
	struct addr again;
	const char *err;

	size_t llen = strlen(a->local);
	CHECK(llen <= ADDR_LOCAL_MAX);
	CHECK(u8_check((const uint8_t *)a->local, llen) == NULL);
	uint8_t nfc[4 * ADDR_LOCAL_MAX];
	size_t nfclen = sizeof(nfc);
	uint8_t *p = u8_normalize(UNINORM_NFC, (const uint8_t *)a->local, llen,
				  nfc, &nfclen);
	CHECK(llen == 0 || (p == nfc && nfclen == llen &&
			      memcmp(nfc, a->local, llen) == 0));
	CHECK(strlen(a->domain) <= ADDR_DOMAIN_MAX);
	CHECK(a->domain[0] != '\0');
	CHECK(!a->literal || (a->domain[0] == '[' &&
			      a->domain[strlen(a->domain) - 1] == ']'));
	memset(text, 0x55, sizeof(text));
	addr_format(a, text);
	size_t n = strlen(text);
	CHECK(n < ADDR_TEXT_MAX);
	for (size_t i = 0; i < n; i++) {
		CHECK(text[i] < 'A' || text[i] > 'Z' || a->literal);
		CHECK((unsigned char)text[i] < 0x80 || (flags & ADDR_UTF8));
	}
	CHECK(addr_parse(text, n, flags, &again, &err) == 1);
	CHECK(memcmp(a, &again, sizeof(again)) == 0);
	addr_format(&again, again_text);
	CHECK(strcmp(text, again_text) == 0);
}

static void check_domain(const char *s, size_t len, unsigned flags)
{
	char out[ADDR_DOMAIN_MAX + 1], again[ADDR_DOMAIN_MAX + 1];
	const char *err;
	if (addr_domain_canon(s, len, flags, out, &err) < 0)
		return;
	CHECK(strlen(out) <= ADDR_DOMAIN_MAX);
	CHECK(addr_domain_canon(out, strlen(out), flags, again, &err) == 1);
	CHECK(strcmp(out, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr a, u;
	const char *err = NULL;
	if (size == 0)
		return 0;
	unsigned flags = (data[0] & 1) ? ADDR_UTF8 : 0;
	size_t len = size - 1;
	char *buf = fuzz_copy(data + 1, len);

	int rc = addr_parse(buf, len, flags, &a, &err);
	CHECK(rc == 1 || rc == -1);
	if (rc < 0) {
		CHECK(err != NULL);
	} else {
		check_parsed(&a, flags);
		if (!(flags & ADDR_UTF8)) {
			CHECK(addr_parse(buf, len, ADDR_UTF8, &u, &err) == 1);
			CHECK(memcmp(&a, &u, sizeof(a)) == 0);
		}
	}
	check_domain(buf, len, flags);
	free(buf);
	return 0;
}
