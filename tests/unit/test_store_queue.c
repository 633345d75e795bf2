/* The outbound queue: store_queue_* in a fresh data directory per test
 * (put from memory and from a file, list, read back, remove, reopen), and
 * the queue module's pure rules. */
#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include "queue/queue.h"
#include "store/store.h"

struct fixture {
	char dir[256];
	char data[300];
	struct store *store;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;
	if (temp_dir(f->dir, sizeof(f->dir), "queue") < 0)
		return -1;
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->store, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_free(&f->store);
	rm_tree(f->dir);
	free(f);
	return 0;
}

/* What store_queue_list gave, as text: one line per message, one per
 * recipient. */
static void collect(const struct store_queue_entry *e, void *ctx)
{
	char *out = ctx;
	size_t n = strlen(out);
	n += (size_t)snprintf(out + n, 4096 - n, "%s <%s> %s %llu %lld %lld %u [%s]\n",
			      e->id, e->sender, e->user,
			      (unsigned long long)e->size, (long long)e->arrival,
			      (long long)e->next_attempt, e->attempts,
			      e->last_error);
	for (size_t i = 0; i < e->nrcpts; i++)
		n += (size_t)snprintf(out + n, 4096 - n, " %s %s [%s]\n",
				      e->rcpts[i].address, e->rcpts[i].status,
				      e->rcpts[i].last_error);
}

static int put_mem(struct store *store, const char *id, const char *sender,
		   const char *const *rcpts, size_t n, const char *data,
		   int64_t arrival)
{
	struct store_queue_rcpt r[4];
	for (size_t i = 0; i < n; i++)
		r[i] = (struct store_queue_rcpt){rcpts[i], "queued", ""};
	struct store_queue_entry e = {id, sender, "alice@example.com", 999,
				      arrival, arrival + 10, 0, "", r, n};
	struct iovec iov = {(void *)data, strlen(data)};
	struct store_source src = {&iov, 1, -1, 0};
	const char *err = NULL;
	return store_queue_put(store, &e, &src, &err);
}

static void test_put_list_remove(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char out[4096] = "";
	const char *r1[] = {"bob@remote.example", "ann@other.example"};
	const char *r2[] = {"zed@remote.example"};

	assert_int_equal(store_queue_list(f->store, collect, out, &err), 1);
	assert_string_equal(out, "");
	assert_int_equal(put_mem(f->store, "AAA1", "alice@example.com", r1, 2,
				 "Subject: one\r\n\r\nhi\r\n", 100), 1);
	assert_int_equal(put_mem(f->store, "BBB2", "", r2, 1, "x", 200), 1);
	/* An id is never taken twice. */
	assert_int_equal(put_mem(f->store, "AAA1", "x@example.com", r2, 1,
				 "y", 300), STORE_FAIL_EXISTS);
	assert_int_equal(store_queue_list(f->store, collect, out, &err), 1);
	assert_string_equal(out,
		"AAA1 <alice@example.com> alice@example.com 20 100 110 0 []\n"
		" ann@other.example queued []\n"
		" bob@remote.example queued []\n"
		"BBB2 <> alice@example.com 1 200 210 0 []\n"
		" zed@remote.example queued []\n");

	assert_int_equal(store_queue_remove(f->store, "AAA1", &err), 1);
	assert_int_equal(store_queue_remove(f->store, "AAA1", &err), 0);
	assert_int_equal(store_queue_remove(f->store, "NOPE", &err), 0);
	out[0] = '\0';
	assert_int_equal(store_queue_list(f->store, collect, out, &err), 1);
	assert_string_equal(out, "BBB2 <> alice@example.com 1 200 210 0 []\n"
				 " zed@remote.example queued []\n");
	/* Removed with its recipients and bytes: the id is free again. */
	assert_int_equal(put_mem(f->store, "AAA1", "a@example.com", r2, 1, "z",
				 50), 1);
	size_t got = 0;
	char buf[8];
	assert_int_equal(store_queue_read(f->store, "AAA1", 0, buf, sizeof(buf),
					  &got, &err), 1);
	assert_int_equal(got, 1);
	assert_memory_equal(buf, "z", 1);
}

/* A message from memory and a file, read back in pieces, and after the
 * store is closed and opened again. */
static void test_put_from_file(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char path[400];
	snprintf(path, sizeof(path), "%s/spool", f->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	size_t flen = 300000;
	char *file = malloc(flen);
	for (size_t i = 0; i < flen; i++)
		file[i] = (char)('a' + i % 26);
	assert_int_equal(write(fd, file, flen), (ssize_t)flen);

	const char *head = "Received: by mx.test\r\n";
	struct iovec iov = {(void *)head, strlen(head)};
	struct store_source src = {&iov, 1, fd, flen};
	struct store_queue_rcpt r = {"bob@remote.example", "queued", ""};
	struct store_queue_entry e = {"CCC3", "alice@example.com", "", 0, 5, 5,
				      0, "", &r, 1};
	assert_int_equal(store_queue_put(f->store, &e, &src, &err), 1);
	close(fd);

	store_free(&f->store);
	assert_int_equal(store_open(f->data, &f->store, &err), 1);

	size_t total = strlen(head) + flen, off = 0, got;
	char *back = malloc(total);
	char piece[7000];
	do {
		assert_int_equal(store_queue_read(f->store, "CCC3", off, piece,
						  sizeof(piece), &got, &err),
				 1);
		assert_true(off + got <= total);
		memcpy(back + off, piece, got);
		off += got;
	} while (got > 0);
	assert_int_equal(off, total);
	assert_memory_equal(back, head, strlen(head));
	assert_memory_equal(back + strlen(head), file, flen);
	assert_int_equal(store_queue_read(f->store, "NONE", 0, piece, 1, &got,
					  &err), 0);
	char out[4096] = "";
	assert_int_equal(store_queue_list(f->store, collect, out, &err), 1);
	char want[200];
	snprintf(want, sizeof(want),
		 "CCC3 <alice@example.com>  %zu 5 5 0 []\n"
		 " bob@remote.example queued []\n", total);
	assert_string_equal(out, want);
	free(back);
	free(file);
}

/* queue_put: due now, every recipient queued, the user kept. */
static void test_queue_put(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	const char *rcpts[] = {"a@remote.example", "b@remote.example"};
	struct queue_msg m = {"DDD4", "alice@example.com", "alice@example.com",
			      rcpts, 2};
	struct iovec iov = {(void *)"hello", 5};
	struct store_source src = {&iov, 1, -1, 0};
	int64_t before = (int64_t)time(NULL);
	assert_int_equal(queue_put(f->store, &m, &src, &err), 1);
	char out[4096] = "";
	assert_int_equal(store_queue_list(f->store, collect, out, &err), 1);
	long long arrival, next;
	assert_int_equal(sscanf(out, "DDD4 <alice@example.com> "
				     "alice@example.com 5 %lld %lld 0 []\n",
				&arrival, &next),
			 2);
	assert_true(arrival >= before && arrival <= before + 60);
	assert_int_equal(next, arrival);
	assert_non_null(strstr(out, "[]\n a@remote.example queued []\n"
				     " b@remote.example queued []\n"));
}

static void test_retry_and_ids(void **state)
{
	(void)state;
	static const struct {
		unsigned attempts;
		int64_t wait;
	} cases[] = {
		{0, 300}, {1, 300}, {2, 600}, {3, 1200}, {4, 2400},
		{5, 4800}, {6, 9600}, {7, 14400}, {50, 14400}, {~0u, 14400},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		assert_int_equal(queue_retry_at(1000, 5000, cases[i].attempts),
				 5000 + cases[i].wait);
	/* A clock behind the arrival counts from the arrival. */
	assert_int_equal(queue_retry_at(9000, 5000, 1), 9300);

	static const struct {
		const char *id;
		bool ok;
	} ids[] = {
		{"7QK2M3B9XZLP", true}, {"a", true}, {"123456789012345", true},
		{"1234567890123456", false}, {"", false}, {"../x", false},
		{"AB CD", false}, {"ab-c", false}, {"ab\n", false},
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(*ids); i++) {
		cur = ids[i].id;
		assert_int_equal(queue_id_valid(ids[i].id), ids[i].ok);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_list_remove, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_put_from_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_put, setup,
						teardown),
		cmocka_unit_test(test_retry_and_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
