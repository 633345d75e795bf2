#include "core/budget.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/xalloc.h"

struct budget {
	atomic_size_t used;
	size_t limit;
};

struct budget *budget_new(size_t limit)
{
	struct budget *b = xcalloc(1, sizeof(*b));
	atomic_init(&b->used, 0);
	b->limit = limit;
	return b;
}

void budget_free(struct budget **bp)
{
	if (*bp != NULL && atomic_load(&(*bp)->used) != 0)
		log_panic("budget freed with %zu bytes still held",
			  atomic_load(&(*bp)->used));
	free(*bp);
	*bp = NULL;
}

/* A compare-and-swap loop, so that two takers cannot both pass the limit
 * on the same last bytes. */
bool budget_take(struct budget *b, size_t n)
{
	size_t used = atomic_load_explicit(&b->used, memory_order_relaxed);
	do {
		if (n > b->limit || used > b->limit - n)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&b->used, &used, used + n, memory_order_relaxed,
		memory_order_relaxed));
	return true;
}

void budget_give(struct budget *b, size_t n)
{
	size_t before = atomic_fetch_sub_explicit(&b->used, n,
						  memory_order_relaxed);
	if (before < n)
		log_panic("budget: gave back %zu bytes, held %zu", n, before);
}

size_t budget_used(const struct budget *b)
{
	return atomic_load_explicit(&((struct budget *)b)->used,
				    memory_order_relaxed);
}
