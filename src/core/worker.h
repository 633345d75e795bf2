/* worker: a fixed pool of threads for work that blocks (disk, fsync,
 * database commits, password hashing), so event loops never wait on it. */
#ifndef POSTHORN_WORKER_H
#define POSTHORN_WORKER_H

#include <stdbool.h>

#include "core/loop.h"

struct worker_pool;

/* max_queued bounds the jobs waiting for a thread (0 = no bound), so a
 * flood of one kind of work (logins) is refused instead of queued. */
struct worker_pool *worker_pool_new(unsigned nthreads, unsigned max_queued);
/* Finishes queued jobs, then joins the threads. */
void worker_pool_free(struct worker_pool **pool);

/* Run job->run(job->arg) on a worker thread, then job->done(job->arg) on
 * `loop`'s thread.  Jobs run in any order; a session submits one at a time
 * to keep its commands in order.  Returns false, queueing nothing, when
 * max_queued jobs already wait. */
bool worker_submit(struct worker_pool *pool, struct loop *loop,
		   struct job *job);

#endif
