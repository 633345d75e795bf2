/* Shared by the unit tests: the headers cmocka needs, table-driven checks
 * that name the failing case, and a scratch directory per fixture.
 *
 * Each tests/unit/test_*.c is its own program, so everything here is
 * static; what a test does not use costs nothing. */
#ifndef POSTHORN_TESTS_UNIT_H
#define POSTHORN_TESTS_UNIT_H

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The case being checked, named in any failure. */
static const char *cur __attribute__((unused));

/* s with bytes outside printable ASCII as \xNN, for failure messages.
 * The result is a static buffer, good until the next call. */
static inline const char *esc(const char *s)
{
	static char out[2048];
	size_t o = 0;
	for (; s != NULL && *s && o + 5 < sizeof(out); s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o,
					      "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

#define EXPECT(cond)                                                        \
	do {                                                                \
		if (!(cond))                                                \
			fail_msg("case \"%s\": %s", esc(cur), #cond);        \
	} while (0)
#define EXPECT_INT(a, b)                                                    \
	do {                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);         \
		if (a_ != b_)                                               \
			fail_msg("case \"%s\": %s is %lld, want %lld",       \
				 esc(cur), #a, a_, b_);                     \
	} while (0)
#define EXPECT_STR(a, want)                                                 \
	do {                                                                \
		if (strcmp((a), (want)) != 0) {                             \
			char a_[2048];                                      \
			snprintf(a_, sizeof(a_), "%s", esc(a));             \
			fail_msg("case \"%s\": %s is \"%s\", want \"%s\"",   \
				 esc(cur), #a, a_, want);                   \
		}                                                           \
	} while (0)
#define EXPECT_MEM(p, n, want)                                              \
	do {                                                                \
		if ((n) != strlen(want) || memcmp((p), (want), (n)) != 0)    \
			fail_msg("case \"%s\": %s is \"%.*s\", want \"%s\"", \
				 esc(cur), #p, (int)(n), (p), (want));      \
	} while (0)

/* Copy into a heap buffer of exactly len bytes: no NUL, no slack, so a
 * read past `len` trips ASan. */
static inline char *exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

/* [p, p + n) lies within [buf, buf + len). */
static inline void within(const char *buf, size_t len, const char *p,
			  size_t n)
{
	EXPECT(p >= buf && p <= buf + len);
	EXPECT(n <= (size_t)(buf + len - p));
}

/* "$TMPDIR/posthorn-test-NAME-XXXXXX" (or under /tmp), for mkdtemp or
 * mkstemp. */
static inline void temp_template(char *buf, size_t size, const char *name)
{
	const char *dir = getenv("TMPDIR");
	snprintf(buf, size, "%s/posthorn-test-%s-XXXXXX",
		 dir && dir[0] ? dir : "/tmp", name);
}

/* A fresh directory made from temp_template(); -1 if it could not be. */
static inline int temp_dir(char *buf, size_t size, const char *name)
{
	temp_template(buf, size, name);
	return mkdtemp(buf) == NULL ? -1 : 0;
}

static inline int rm_one(const char *path, const struct stat *st, int flag,
			 struct FTW *ftw)
{
	return remove(path);
}

/* Remove dir and everything below it. */
static inline void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
