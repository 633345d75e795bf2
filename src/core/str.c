#include "core/str.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

char *str_reserve(struct str *s, size_t n)
{
	size_t need;
	if (__builtin_add_overflow(s->len, n + 1, &need))
		abort();
	if (need > s->cap) {
		size_t cap = s->cap ? s->cap : 64;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		s->data = xrealloc(s->data, cap);
		s->cap = cap;
	}
	return s->data + s->len;
}

void str_commit(struct str *s, size_t n)
{
	s->len += n;
	s->data[s->len] = '\0';
}

void str_append(struct str *s, const void *p, size_t n)
{
	char *tail = str_reserve(s, n);
	if (n)
		memcpy(tail, p, n);
	str_commit(s, n);
}

void str_appends(struct str *s, const char *cstr)
{
	str_append(s, cstr, strlen(cstr));
}

void str_appendc(struct str *s, char c)
{
	str_append(s, &c, 1);
}

void str_vprintf(struct str *s, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		abort();
	char *tail = str_reserve(s, (size_t)n);
	vsnprintf(tail, (size_t)n + 1, fmt, ap);
	s->len += (size_t)n;
}

void str_printf(struct str *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(s, fmt, ap);
	va_end(ap);
}

void str_consume(struct str *s, size_t n)
{
	if (n >= s->len) {
		str_truncate(s, 0);
		return;
	}
	memmove(s->data, s->data + n, s->len - n);
	str_truncate(s, s->len - n);
}

void str_truncate(struct str *s, size_t len)
{
	if (s->data == NULL || len > s->len)
		return;
	s->len = len;
	s->data[len] = '\0';
}

void str_free(struct str *s)
{
	free(s->data);
	s->data = NULL;
	s->len = s->cap = 0;
}

void str_shrink(struct str *s)
{
	if (s->len == 0) {
		str_free(s);
		return;
	}
	if (s->cap > s->len + 1) {
		s->data = xrealloc(s->data, s->len + 1);
		s->cap = s->len + 1;
	}
}

void str_append_sanitized(struct str *s, const void *p, size_t n,
			  size_t max)
{
	const unsigned char *b = p;
	size_t start = s->len;
	for (size_t i = 0; i < n; i++) {
		bool plain = b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\';
		/* Unless this is the last byte, leave room for the "..."
		 * that may have to follow it, so the result stays in max. */
		size_t need = (plain ? 1 : 4) + (i + 1 < n ? 3 : 0);
		if (s->len - start + need > max) {
			str_appends(s, "...");
			return;
		}
		if (plain)
			str_appendc(s, (char)b[i]);
		else
			str_printf(s, "\\x%02x", b[i]);
	}
}
