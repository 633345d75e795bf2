#include "core/loop.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/xalloc.h"

struct loop {
	struct event_base *base;
	struct event *wake;
	struct event *stop;
	pthread_mutex_t lock;
	struct job *head, *tail; /* posted jobs, oldest first */
	pthread_t thread;
	int has_thread;
};

void loop_init_threads(void)
{
	if (evthread_use_pthreads() != 0)
		log_fatal("libevent has no pthreads support");
}

/* Take the whole queue at once so that posting never waits for the jobs
 * to run, and jobs posted while we run them wake us again. */
static void loop_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	loop_run_posted(arg);
}

void loop_run_posted(struct loop *loop)
{
	pthread_mutex_lock(&loop->lock);
	struct job *job = loop->head;
	loop->head = loop->tail = NULL;
	pthread_mutex_unlock(&loop->lock);
	while (job != NULL) {
		struct job *next = job->next;
		job->next = NULL;
		job->done(job->arg);
		job = next;
	}
}

/* Runs inside the loop: a break requested before the loop started would
 * be forgotten by event_base_loop(), an active event is not. */
static void loop_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *loop = arg;
	(void)fd;
	(void)what;
	event_base_loopbreak(loop->base);
}

struct loop *loop_new(void)
{
	struct loop *loop = xcalloc(1, sizeof(*loop));
	loop->base = event_base_new();
	if (loop->base == NULL)
		log_fatal("cannot create event base");
	loop->wake = event_new(loop->base, -1, 0, loop_wake_cb, loop);
	loop->stop = event_new(loop->base, -1, 0, loop_stop_cb, loop);
	pthread_mutex_init(&loop->lock, NULL);
	return loop;
}

void loop_free(struct loop **loopp)
{
	struct loop *loop = *loopp;
	if (loop == NULL)
		return;
	loop_stop(loop);
	loop_join(loop);
	event_free(loop->wake);
	event_free(loop->stop);
	event_base_free(loop->base);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
	*loopp = NULL;
}

struct event_base *loop_base(struct loop *loop)
{
	return loop->base;
}

static void *loop_thread(void *arg)
{
	loop_run(arg);
	return NULL;
}

int loop_start_thread(struct loop *loop)
{
	if (pthread_create(&loop->thread, NULL, loop_thread, loop) != 0)
		return -1;
	loop->has_thread = 1;
	return 0;
}

void loop_run(struct loop *loop)
{
	event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
}

void loop_stop(struct loop *loop)
{
	event_active(loop->stop, 0, 0);
}

void loop_join(struct loop *loop)
{
	if (loop->has_thread) {
		pthread_join(loop->thread, NULL);
		loop->has_thread = 0;
	}
}

void loop_post(struct loop *loop, struct job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&loop->lock);
	if (loop->tail != NULL)
		loop->tail->next = job;
	else
		loop->head = job;
	loop->tail = job;
	pthread_mutex_unlock(&loop->lock);
	event_active(loop->wake, 0, 0);
}
