/* libFuzzer harness for mime_msgid_thread_parse(): the ids that place a
 * message in its thread, from a header anyone can write.  Invariants:
 * at most MIME_MSGID_THREAD_REFS + 1 ids, each a msg-id (text with an
 * "@" inside, no NUL), none twice, exactly the bytes counted; the first
 * References id leads; what follows the header's blank line changes
 * nothing; parsing again gives the same. */
#include <stdbool.h>

#include "fuzz.h"
#include "mime/mime_msgid.h"

static bool is_id(const char *p, size_t n)
{
	const char *at = memchr(p, '@', n);
	return n > 0 && at != NULL && at > p && at < p + n - 1;
}

static void check_refs(const struct mime_msgid_thread *t)
{
	CHECK(t->nrefs <= MIME_MSGID_THREAD_REFS + 1);
	CHECK(t->refs.data != NULL && t->own.data != NULL);
	CHECK(t->own.len == strlen(t->own.data));
	CHECK(t->own.len == 0 || is_id(t->own.data, t->own.len));
	size_t total = 0;
	const char *p = t->refs.data;
	for (size_t i = 0; i < t->nrefs; i++) {
		CHECK(total < t->refs.len);
		size_t k = strlen(p);
		CHECK(is_id(p, k));
		const char *q = t->refs.data;
		for (size_t j = 0; j < i; j++, q += strlen(q) + 1)
			CHECK(strcmp(p, q) != 0);
		total += k + 1;
		p += k + 1;
	}
	CHECK(total == t->refs.len);
}

static bool same(const struct mime_msgid_thread *a,
		 const struct mime_msgid_thread *b)
{
	return a->nrefs == b->nrefs && a->own.len == b->own.len &&
	       a->refs.len == b->refs.len &&
	       memcmp(a->own.data, b->own.data, a->own.len) == 0 &&
	       memcmp(a->refs.data, b->refs.data, a->refs.len) == 0;
}

/* The first References id the parse kept leads the list, unless a
 * References field is missing (then In-Reply-To alone is there). */
static void check_root(const char *buf, size_t len,
		       const struct mime_msgid_thread *t)
{
	struct str first = STR_INIT;
	const char *refs = NULL;
	for (size_t i = 0; i + 11 <= len && refs == NULL; i++)
		if ((i == 0 || buf[i - 1] == '\n') &&
		    memcmp(buf + i, "References:", 11) == 0)
			refs = buf + i + 11;
	/* Only when the field is a plain one-line value at the very start:
	 * enough to hold the rule, without a second header parser here. */
	if (refs == buf + 11) {
		const char *end = memchr(refs, '\n', len - 11);
		size_t n = end ? (size_t)(end - refs) : len - 11;
		if (end != NULL && end + 1 < buf + len && end[1] != ' ' &&
		    end[1] != '\t' && mime_msgid_first(refs, n, &first) > 0)
			CHECK(t->nrefs > 0 && strcmp(t->refs.data,
						     first.data) == 0);
	}
	str_free(&first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char tail[] = "\n\nMessage-ID: <tail@x>\nReferences: "
				   "<tail@y>\n";
	char *buf = fuzz_copy(data, size);
	struct mime_msgid_thread a = MIME_MSGID_THREAD_INIT;
	struct mime_msgid_thread b = MIME_MSGID_THREAD_INIT;
	mime_msgid_thread_parse(buf, size, &a);
	check_refs(&a);
	check_root(buf, size, &a);
	mime_msgid_thread_parse(buf, size, &b);
	CHECK(same(&a, &b));
	mime_msgid_thread_clear(&b);
	free(buf);

	/* A blank line and more fields after the input. */
	char *more = malloc(size + sizeof(tail) - 1);
	memcpy(more, data, size);
	memcpy(more + size, tail, sizeof(tail) - 1);
	mime_msgid_thread_parse(more, size + sizeof(tail) - 1, &b);
	check_refs(&b);
	CHECK(same(&a, &b));
	mime_msgid_thread_clear(&a);
	mime_msgid_thread_clear(&b);
	free(more);
	return 0;
}
