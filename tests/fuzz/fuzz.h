/* Shared by the libFuzzer harnesses: the invariant check and the input as
 * an exactly sized heap buffer.
 *
 * Each tests/fuzz/fuzz_*.c is its own program, so everything here is
 * static. */
#ifndef POSTHORN_TESTS_FUZZ_H
#define POSTHORN_TESTS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s\n", #cond);    \
			abort();                                            \
		}                                                           \
	} while (0)

/* A copy of len bytes in a heap buffer of exactly that size (no NUL, no
 * slack), so ASan sees any read past the end.  The caller frees it. */
static inline char *fuzz_copy(const void *data, size_t len)
{
	char *buf = malloc(len ? len : 1);
	memcpy(buf, data, len);
	return buf;
}

/* [p, p + n) lies within [buf, buf + len). */
static inline void check_within(const char *buf, size_t len, const char *p,
				size_t n)
{
	CHECK(p >= buf && p <= buf + len);
	CHECK(n <= (size_t)(buf + len - p));
}

#endif
