/* str: one growable, length-counted, binary-safe string.
 *
 * The buffer is always NUL-terminated as a safety net, so s->data can be
 * handed to C APIs when the content is known to be text.  Allocation aborts
 * on out-of-memory (see xalloc.h), so no function here returns an error. */
#ifndef POSTHORN_STR_H
#define POSTHORN_STR_H

#include <stdarg.h>
#include <stddef.h>

struct str {
	char *data;	/* NUL-terminated; NULL only before the first append */
	size_t len;
	size_t cap;
};

#define STR_INIT {NULL, 0, 0}

/* Make room for n more bytes; returns a pointer to the free tail. */
char *str_reserve(struct str *s, size_t n);
/* Declare n bytes written at the tail returned by str_reserve(). */
void str_commit(struct str *s, size_t n);

void str_append(struct str *s, const void *p, size_t n);
void str_appends(struct str *s, const char *cstr);
void str_appendc(struct str *s, char c);
void str_printf(struct str *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void str_vprintf(struct str *s, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drop the first n bytes (n <= len). */
void str_consume(struct str *s, size_t n);
void str_truncate(struct str *s, size_t len);
static inline void str_clear(struct str *s) { str_truncate(s, 0); }
/* Release the buffer; the struct may be reused afterwards. */
void str_free(struct str *s);
/* Give up memory beyond what is in use, or all of it when empty. */
void str_shrink(struct str *s);

/* Append text that came from a peer, made safe for one line of a header:
 * non-printable bytes become \xNN and the result stops at max bytes.
 * Log lines use log_value() (core/log.h) instead, which also quotes. */
void str_append_sanitized(struct str *s, const void *p, size_t n,
			  size_t max);

#endif
