/* budget: a server-wide bound on bytes held in memory on behalf of
 * clients (message data being received), shared by all loops.
 *
 * Sessions take bytes before they hold them and give them back when they
 * let go; a session that cannot take them keeps its data on disk instead
 * (core/spool.h), so the bound holds whatever the clients do. */
#ifndef POSTHORN_BUDGET_H
#define POSTHORN_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

struct budget;

/* limit in bytes; 0 means no bytes may be held (everything spools). */
struct budget *budget_new(size_t limit);
void budget_free(struct budget **b);

/* Take n bytes if they fit under the limit; false (taking nothing) if
 * not.  Safe from any thread. */
bool budget_take(struct budget *b, size_t n);
void budget_give(struct budget *b, size_t n);
/* Bytes held now. */
size_t budget_used(const struct budget *b);

#endif
