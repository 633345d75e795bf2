/* smtp_rate: messages per hour per authenticated user, for submission,
 * so that a stolen password cannot send at full speed.
 *
 * A token bucket per user: a full hour's allowance may go at once, then
 * it comes back evenly over the hour.  Counts live in this process's
 * memory only: a restart forgets them, and several processes count
 * apart.  Thread-safe; memory stays bounded by the users that sent mail
 * within the last hour. */
#ifndef POSTHORN_SMTP_RATE_H
#define POSTHORN_SMTP_RATE_H

#include <stdbool.h>
#include <stdint.h>

struct smtp_rate;

/* per_hour 0: no limit (every call allows, nothing is kept). */
struct smtp_rate *smtp_rate_new(unsigned per_hour);
void smtp_rate_free(struct smtp_rate **rate);

/* Whether user may send one more message at time now (seconds). */
bool smtp_rate_allows(struct smtp_rate *rate, int64_t user, int64_t now);
/* Count one message of user's, sent at now. */
void smtp_rate_count(struct smtp_rate *rate, int64_t user, int64_t now);

#endif
