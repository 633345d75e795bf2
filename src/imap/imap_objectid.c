#include "imap/imap_objectid.h"

#include <string.h>

static const char digits[] = "abcdefghijklmnopqrstuvwxyz234567";

/* Base32 with no leading zero digits ("a" for 0), so each number has one
 * spelling and a client's id compares as bytes. */
static size_t put_b32(uint64_t v, char *out)
{
	char tmp[13];
	size_t n = 0;
	do {
		tmp[n++] = digits[v & 31];
		v >>= 5;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t imap_objectid_format(char kind, int64_t owner, int64_t id,
			    char buf[IMAP_OBJECTID_MAX])
{
	size_t n = 0;
	buf[n++] = kind;
	n += put_b32((uint64_t)owner, buf + n);
	buf[n++] = '-';
	n += put_b32((uint64_t)id, buf + n);
	buf[n] = '\0';
	return n;
}

bool imap_objectid_is(char kind, int64_t owner, int64_t id, const char *text,
		      size_t len)
{
	char buf[IMAP_OBJECTID_MAX];
	size_t n = imap_objectid_format(kind, owner, id, buf);
	return n == len && memcmp(buf, text, n) == 0;
}
