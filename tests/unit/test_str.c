/* str: the growable string every module builds its output in.  Each case
 * is a sequence of operations and the bytes that must result. */
#include "unit.h"

#include "core/str.h"

/* The invariants every function keeps. */
static void check(const struct str *s, const void *want, size_t len)
{
	assert_int_equal(s->len, len);
	if (s->data == NULL) {
		assert_int_equal(len, 0);
		return;
	}
	assert_true(s->cap > s->len);
	assert_int_equal(s->data[s->len], '\0');
	assert_memory_equal(s->data, want, len);
}

static void test_empty(void **state)
{
	struct str s = STR_INIT;
	check(&s, "", 0);
	str_truncate(&s, 0);
	str_clear(&s);
	str_consume(&s, 0);
	str_shrink(&s);
	check(&s, "", 0);
	str_free(&s);
	str_free(&s);
	/* Appending nothing still gives a NUL-terminated buffer. */
	str_append(&s, "", 0);
	assert_non_null(s.data);
	check(&s, "", 0);
	str_free(&s);
}

static void test_append(void **state)
{
	struct str s = STR_INIT;
	str_append(&s, "ab", 2);
	str_appends(&s, "cd");
	str_appendc(&s, 'e');
	str_append(&s, "f\0g", 3);	/* binary-safe */
	check(&s, "abcdef\0g", 8);
	str_free(&s);
	assert_null(s.data);
	assert_int_equal(s.len, 0);
	assert_int_equal(s.cap, 0);
	/* Reusable after free. */
	str_appends(&s, "again");
	check(&s, "again", 5);
	str_free(&s);
}

/* Growth keeps every byte, across many reallocations. */
static void test_growth(void **state)
{
	static const size_t sizes[] = {1, 63, 64, 65, 127, 128, 1000, 100000};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct str s = STR_INIT;
		char *want = malloc(sizes[k]);
		assert_non_null(want);
		for (size_t i = 0; i < sizes[k]; i++) {
			want[i] = (char)('a' + i % 26);
			str_appendc(&s, want[i]);
		}
		check(&s, want, sizes[k]);
		str_free(&s);
		free(want);
	}
}

static void test_reserve_commit(void **state)
{
	struct str s = STR_INIT;
	str_appends(&s, "head:");
	char *tail = str_reserve(&s, 300);
	assert_ptr_equal(tail, s.data + 5);
	assert_true(s.cap >= 5 + 300 + 1);
	memset(tail, 'x', 300);
	str_commit(&s, 10);
	check(&s, "head:xxxxxxxxxx", 15);
	tail = str_reserve(&s, 0);
	str_commit(&s, 0);
	check(&s, "head:xxxxxxxxxx", 15);
	str_free(&s);
}

#define PRINTF_CASE(want, ...)                                              \
	do {                                                                \
		struct str s_ = STR_INIT;                                   \
		str_appends(&s_, ">");                                      \
		str_printf(&s_, __VA_ARGS__);                               \
		check(&s_, ">" want, strlen(">" want));                     \
		str_free(&s_);                                              \
	} while (0)

static void test_printf(void **state)
{
	PRINTF_CASE("42-x", "%d-%s", 42, "x");
	PRINTF_CASE("", "%s", "");
	PRINTF_CASE("[    7|ab ]", "[%5d|%-3s]", 7, "ab");
	PRINTF_CASE("%100%", "%%%d%%", 100);
	PRINTF_CASE("-1 ffffffff", "%d %x", -1, 0xffffffffu);
	/* Longer than any first allocation. */
	struct str s = STR_INIT;
	char big[5000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	str_printf(&s, "<%s>", big);
	assert_int_equal(s.len, sizeof(big) + 1);
	assert_int_equal(s.data[0], '<');
	assert_int_equal(s.data[s.len - 1], '>');
	assert_int_equal(s.data[s.len], '\0');
	str_free(&s);
}

static void test_consume_truncate(void **state)
{
	static const struct {
		const char *start;
		size_t consume, truncate;
		const char *want;
	} t[] = {
		{"abcdef", 0, 6, "abcdef"},
		{"abcdef", 2, 4, "cdef"},
		{"abcdef", 2, 2, "cd"},
		{"abcdef", 6, 0, ""},
		{"abcdef", 7, 0, ""},		/* more than len: all */
		{"abcdef", 100, 0, ""},
		{"abcdef", 0, 10, "abcdef"},	/* longer: no change */
		{"abcdef", 5, 1, "f"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str s = STR_INIT;
		str_appends(&s, t[i].start);
		str_consume(&s, t[i].consume);
		str_truncate(&s, t[i].truncate);
		check(&s, t[i].want, strlen(t[i].want));
		str_clear(&s);
		check(&s, "", 0);
		str_free(&s);
	}
}

static void test_shrink(void **state)
{
	struct str s = STR_INIT;
	for (int i = 0; i < 1000; i++)
		str_appendc(&s, 'z');
	str_truncate(&s, 3);
	str_shrink(&s);
	assert_int_equal(s.cap, 4);
	check(&s, "zzz", 3);
	str_appends(&s, "abc");
	check(&s, "zzzabc", 6);
	str_clear(&s);
	str_shrink(&s);
	assert_null(s.data);
	assert_int_equal(s.cap, 0);
	str_free(&s);
}

static void test_sanitized(void **state)
{
	static const struct {
		const char *in;
		size_t len, max;
		const char *want;
	} t[] = {
		{"hello", 5, 100, "hello"},
		{"", 0, 100, ""},
		{"a\x01" "b", 3, 100, "a\\x01b"},
		{"a\r\n", 3, 100, "a\\x0d\\x0a"},
		{"back\\slash", 10, 100, "back\\x5cslash"},
		{"\x7f\x80\xff", 3, 100, "\\x7f\\x80\\xff"},
		{"nul\0in", 6, 100, "nul\\x00in"},
		{"only len counts", 4, 100, "only"},
		{"abcdefghijklmnop", 16, 10, "abcdefg..."},
		{"abcdef", 6, 10, "abcdef"},
		{"\x01\x02\x03\x04", 4, 10, "\\x01..."},
		{"\x01\x02", 2, 8, "\\x01\\x02"},
		{"ab\x01\x02\x03", 5, 10, "ab\\x01..."},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct str s = STR_INIT;
		str_appends(&s, "pre:");
		str_append_sanitized(&s, t[i].in, t[i].len, t[i].max);
		char want[256];
		snprintf(want, sizeof(want), "pre:%s", t[i].want);
		if (s.len != strlen(want) || memcmp(s.data, want, s.len) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i,
				 s.data, want);
		/* Never more than max bytes of output. */
		assert_true(s.len - 4 <= t[i].max);
		for (size_t k = 0; k < s.len; k++)
			assert_true(s.data[k] >= 0x20 && s.data[k] < 0x7f);
		str_free(&s);
	}
}

/* For any input and any max >= 3: output printable, within max. */
static void test_sanitized_bound(void **state)
{
	unsigned char in[64];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 5);
	for (size_t max = 3; max < 80; max++) {
		for (size_t n = 0; n <= sizeof(in); n++) {
			struct str s = STR_INIT;
			str_append_sanitized(&s, in, n, max);
			if (s.len > max)
				fail_msg("n %zu max %zu: %zu bytes \"%s\"", n,
					 max, s.len, s.data);
			str_free(&s);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_reserve_commit),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_consume_truncate),
		cmocka_unit_test(test_shrink),
		cmocka_unit_test(test_sanitized),
		cmocka_unit_test(test_sanitized_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
