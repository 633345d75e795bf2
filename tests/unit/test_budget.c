/* budget and spool: the server-wide bound on message data held in memory,
 * from several threads at once, and the nameless file that takes the
 * rest. */
#include "unit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/budget.h"
#include "core/spool.h"

struct take_case {
	size_t limit;
	size_t held;	/* taken before */
	size_t n;
	bool ok;
};

static const struct take_case takes[] = {
	{100, 0, 100, true},
	{100, 0, 101, false},
	{100, 60, 40, true},
	{100, 60, 41, false},
	{0, 0, 1, false},
	{0, 0, 0, true},
	{SIZE_MAX, 10, SIZE_MAX - 10, true},
	{SIZE_MAX, 10, SIZE_MAX - 9, false},	/* would wrap round */
};

static void test_take_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]); i++) {
		const struct take_case *c = &takes[i];
		struct budget *b = budget_new(c->limit);
		cur = "take";
		EXPECT(budget_take(b, c->held));
		EXPECT(budget_take(b, c->n) == c->ok);
		EXPECT(budget_used(b) == c->held + (c->ok ? c->n : 0));
		budget_give(b, budget_used(b));
		budget_free(&b);
		EXPECT(b == NULL);
	}
}

#define THREADS 4
#define ROUNDS 100000

static void *hammer(void *arg)
{
	struct budget *b = arg;
	for (int i = 0; i < ROUNDS; i++) {
		if (budget_take(b, 7)) {
			/* Never more held than the limit, whoever races. */
			if (budget_used(b) > 50)
				abort();
			budget_give(b, 7);
		}
	}
	return NULL;
}

static void test_threads_never_pass_the_limit(void **state)
{
	(void)state;
	struct budget *b = budget_new(50);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		EXPECT(pthread_create(&t[i], NULL, hammer, b) == 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	EXPECT(budget_used(b) == 0);
	budget_free(&b);
}

static void test_spool_roundtrip(void **state)
{
	(void)state;
	char dir[] = "/tmp/posthorn-spool-XXXXXX";
	const char *err = NULL;
	struct spool *sp = NULL;
	EXPECT(mkdtemp(dir) != NULL);
	EXPECT(spool_new(dir, &sp, &err) == 1);
	char piece[4096];
	for (int i = 0; i < 300; i++) {
		memset(piece, 'a' + i % 26, sizeof(piece));
		EXPECT(spool_write(sp, piece, sizeof(piece), &err) == 1);
	}
	EXPECT(spool_len(sp) == 300 * sizeof(piece));
	/* Every byte comes back where it was written. */
	for (int i = 0; i < 300; i += 37) {
		char got[4096];
		EXPECT(pread(spool_fd(sp), got, sizeof(got),
			     (off_t)i * (off_t)sizeof(got)) ==
		       (ssize_t)sizeof(got));
		EXPECT(got[0] == 'a' + i % 26 && got[4095] == got[0]);
	}
	/* The file has no name: the directory stays empty. */
	EXPECT(rmdir(dir) == 0);
	spool_free(&sp);
	EXPECT(sp == NULL);
}

static void test_spool_in_missing_dir(void **state)
{
	(void)state;
	const char *err = NULL;
	struct spool *sp = NULL;
	EXPECT(spool_new("/nonexistent/posthorn", &sp, &err) == -1);
	EXPECT(sp == NULL);
	EXPECT(err != NULL && strstr(err, "No such file") != NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_table),
		cmocka_unit_test(test_threads_never_pass_the_limit),
		cmocka_unit_test(test_spool_roundtrip),
		cmocka_unit_test(test_spool_in_missing_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
