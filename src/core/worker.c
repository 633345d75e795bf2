#include "core/worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/xalloc.h"

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	bool stopping;
	unsigned nthreads;
	unsigned queued, max_queued;
	pthread_t *threads;
};

static struct job *pool_take(struct worker_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	while (pool->head == NULL && !pool->stopping)
		pthread_cond_wait(&pool->cond, &pool->lock);
	struct job *job = pool->head;
	if (job != NULL) {
		pool->head = job->next;
		pool->queued--;
		if (pool->head == NULL)
			pool->tail = NULL;
	}
	pthread_mutex_unlock(&pool->lock);
	return job;
}

static void *worker_main(void *arg)
{
	struct worker_pool *pool = arg;
	struct job *job;
	while ((job = pool_take(pool)) != NULL) {
		job->run(job->arg);
		loop_post(job->loop, job);
	}
	return NULL;
}

struct worker_pool *worker_pool_new(unsigned nthreads, unsigned max_queued)
{
	struct worker_pool *pool = xcalloc(1, sizeof(*pool));
	pool->max_queued = max_queued;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->threads = xcalloc(nthreads, sizeof(pthread_t));
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&pool->threads[i], NULL, worker_main, pool))
			log_fatal("cannot start worker thread");
		pool->nthreads++;
	}
	return pool;
}

void worker_pool_free(struct worker_pool **poolp)
{
	struct worker_pool *pool = *poolp;
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool);
	*poolp = NULL;
}

bool worker_submit(struct worker_pool *pool, struct loop *loop,
		   struct job *job)
{
	job->loop = loop;
	job->next = NULL;
	pthread_mutex_lock(&pool->lock);
	if (pool->max_queued != 0 && pool->queued >= pool->max_queued) {
		pthread_mutex_unlock(&pool->lock);
		return false;
	}
	pool->queued++;
	if (pool->tail != NULL)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return true;
}
