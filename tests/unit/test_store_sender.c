/* accounts.db for submission: the aliases that name a user
 * (store_alias_sources) and the sender exceptions (store_sender_*), in a
 * fresh data directory per test. */
#include "unit.h"

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
	if (temp_dir(f->dir, sizeof(f->dir), "sender") < 0)
		return -1;
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->store, &err) < 0)
		return -1;
	struct store_user u = {.address = (char *)"alice@example.com",
			       .password = (char *)"$argon2id$x",
			       .name = (char *)""};
	if (store_domain_add(f->store, "example.com", &err) != 1 ||
	    store_user_add(f->store, &u, &err) != 1)
		return -1;
	u.address = (char *)"bob@example.com";
	if (store_user_add(f->store, &u, &err) != 1)
		return -1;
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

static void collect(const char *s, void *ctx)
{
	char *out = ctx;
	strcat(out, s);
	strcat(out, "\n");
}

static void test_alias_sources(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	const char *alice[] = {"alice@example.com"};
	const char *both[] = {"alice@example.com", "bob@example.com"};
	const char *chain[] = {"sales@example.com"};
	char out[512] = "";
	assert_int_equal(store_alias_add(f->store, "sales@example.com", alice,
					 1, &err), 1);
	assert_int_equal(store_alias_add(f->store, "team@example.com", both, 2,
					 &err), 1);
	assert_int_equal(store_alias_add(f->store, "@example.com", alice, 1,
					 &err), 1);
	assert_int_equal(store_alias_add(f->store, "desk@example.com", chain,
					 1, &err), 1);
	assert_int_equal(store_alias_sources(f->store, "alice@example.com",
					     collect, out), 1);
	/* Only aliases that name her directly; never the catch-all. */
	assert_string_equal(out, "sales@example.com\nteam@example.com\n");
	out[0] = '\0';
	assert_int_equal(store_alias_sources(f->store, "bob@example.com",
					     collect, out), 1);
	assert_string_equal(out, "team@example.com\n");
	out[0] = '\0';
	assert_int_equal(store_alias_sources(f->store, "nobody@example.com",
					     collect, out), 1);
	assert_string_equal(out, "");
}

static void test_sender_exceptions(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char out[512] = "";
	const char *a = "alice@example.com";
	assert_int_equal(store_sender_list(f->store, a, collect, out), 1);
	assert_string_equal(out, "");
	assert_int_equal(store_sender_add(f->store, a, "*@other.example", &err),
			 1);
	assert_int_equal(store_sender_add(f->store, a, "boss@example.com", &err),
			 1);
	assert_int_equal(store_sender_add(f->store, a, "boss@example.com", &err),
			 0);
	assert_int_equal(store_sender_add(f->store, "nobody@example.com", "*",
					  &err),
			 -1);
	assert_non_null(strstr(err, "no such user"));
	assert_int_equal(store_sender_list(f->store, a, collect, out), 1);
	assert_string_equal(out, "*@other.example\nboss@example.com\n");
	out[0] = '\0';
	assert_int_equal(store_sender_list(f->store, "bob@example.com", collect,
					   out), 1);
	assert_string_equal(out, "");
	assert_int_equal(store_sender_list(f->store, "nobody@example.com",
					   collect, out), 0);
	assert_int_equal(store_sender_remove(f->store, a, "boss@example.com",
					     &err), 1);
	assert_int_equal(store_sender_remove(f->store, a, "boss@example.com",
					     &err), 0);
	assert_int_equal(store_sender_remove(f->store, "nobody@example.com",
					     "x", &err), -1);
	/* They go with the user, and a new user of that name has none. */
	assert_int_equal(store_user_remove(f->store, a, &err), 1);
	struct store_user u = {.address = (char *)a,
			       .password = (char *)"$argon2id$x",
			       .name = (char *)""};
	assert_int_equal(store_user_add(f->store, &u, &err), 1);
	out[0] = '\0';
	assert_int_equal(store_sender_list(f->store, a, collect, out), 1);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alias_sources, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sender_exceptions, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
