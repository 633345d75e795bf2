/* loop: one libevent event base running on its own thread, plus a queue
 * through which any thread can hand it work ("run this on your thread").
 *
 * Every connection belongs to exactly one loop and is touched only from that
 * loop's thread; worker threads give results back through loop_post(). */
#ifndef POSTHORN_LOOP_H
#define POSTHORN_LOOP_H

struct event_base;
struct loop;

/* A unit of work handed between threads.  The caller owns the memory and
 * keeps it alive until `done` has run; usually it is embedded in a
 * session. */
struct job {
	struct job *next;
	void (*run)(void *arg);	 /* on a worker thread (worker_submit) */
	void (*done)(void *arg); /* on the loop thread */
	void *arg;
	struct loop *loop;
};

/* Must be called once before any loop is created. */
void loop_init_threads(void);

struct loop *loop_new(void);
/* Stops the loop if running and frees it; connections must be gone. */
void loop_free(struct loop **loop);
struct event_base *loop_base(struct loop *loop);

/* Run the loop on a new thread / on the calling thread until loop_stop(). */
int loop_start_thread(struct loop *loop);
void loop_run(struct loop *loop);
/* Safe from any thread; loop_join() waits for a loop_start_thread() loop. */
void loop_stop(struct loop *loop);
void loop_join(struct loop *loop);

/* Queue job->done(job->arg) to run on the loop's thread.  Safe from any
 * thread. */
void loop_post(struct loop *loop, struct job *job);
/* Run what was posted, on the calling thread: at shutdown, once the loop
 * is stopped and the workers are joined. */
void loop_run_posted(struct loop *loop);

#endif
