/* xalloc: allocation that aborts on out-of-memory instead of returning NULL
 * into every caller, and multiplication that refuses to overflow. */
#ifndef POSTHORN_XALLOC_H
#define POSTHORN_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* reallocarray with an overflow check that aborts. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#define XFREE(p) do { free(p); (p) = NULL; } while (0)

#endif
