/* mime_msgid: the ids that place a message in a thread, from whole
 * headers: which fields count, in which order, how many, and nothing
 * twice.  (The msg-id scanner itself is tested with THREAD in
 * test_imap_thread.c.) */
#include "unit.h"

#include "mime/mime_msgid.h"

struct case_ {
	const char *hdr;
	const char *own;
	const char *refs;	/* the ids joined with "|" */
};

#define LONG_REFS                                                          \
	"References: <1@x> <2@x> <3@x> <4@x> <5@x> <6@x> <7@x> <8@x> "    \
	"<9@x> <10@x> <11@x> <12@x>\r\n"

static const struct case_ cases[] = {
	{"Message-ID: <a@x>\r\n\r\n", "a@x", ""},
	{"Message-ID: <a@x>\r\nMessage-ID: <b@x>\r\n", "a@x", ""},
	{"Subject: none\r\n\r\n", "", ""},
	{"", "", ""},
	/* References: root first, then the rest, then In-Reply-To. */
	{"In-Reply-To: <p@x>\r\nReferences: <r@x> <q@x> <p@x>\r\n"
	 "Message-ID: <m@x>\r\n\r\n",
	 "m@x", "r@x|q@x|p@x"},
	{"In-Reply-To: <p@x>\r\nReferences: <r@x> <q@x>\r\n\r\n", "",
	 "r@x|q@x|p@x"},
	{"In-Reply-To: <p@x> <other@x>\r\n\r\n", "", "p@x"},
	/* The first field of each name counts. */
	{"References: <a@x>\r\nReferences: <b@x>\r\nIn-Reply-To: <c@x>\r\n"
	 "In-Reply-To: <d@x>\r\n",
	 "", "a@x|c@x"},
	/* The root and the last nine of a long field. */
	{LONG_REFS, "", "1@x|4@x|5@x|6@x|7@x|8@x|9@x|10@x|11@x|12@x"},
	{LONG_REFS "In-Reply-To: <99@x>\r\n", "",
	 "1@x|4@x|5@x|6@x|7@x|8@x|9@x|10@x|11@x|12@x|99@x"},
	/* Nothing twice. */
	{"References: <a@x> <b@x> <a@x> <b@x>\r\nIn-Reply-To: <b@x>\r\n", "",
	 "a@x|b@x"},
	/* Folded, commented, and any case of the names. */
	{"message-id:\r\n (c) <m@x>\r\nREFERENCES: <a@x>\r\n\t<b@x>\r\n", "m@x",
	 "a@x|b@x"},
	/* The header ends at its blank line. */
	{"Subject: x\r\n\r\nMessage-ID: <body@x>\r\n", "", ""},
	{"Subject: x\n\nReferences: <body@x>\n", "", ""},
	/* Cut short, without its blank line or last line end. */
	{"Message-ID: <a@x>\r\nReferences: <r@x> <s@", "a@x", "r@x"},
	/* Empty ids into empty strings (nothing to point into yet). */
	{"Message-ID: <>\r\nReferences: <> <a@x>\r\n", "", "a@x"},
	{"In-Reply-To: <>\r\n", "", ""},
	/* Not ids. */
	{"Message-ID: a@x\r\nReferences: <a> <@x> <x@>\r\n", "", ""},
};

static void ids_text(const struct str *s, size_t n, struct str *out)
{
	str_clear(out);
	const char *p = s->data;
	for (size_t i = 0; i < n; i++, p += strlen(p) + 1) {
		if (i > 0)
			str_appendc(out, '|');
		str_appends(out, p);
	}
	str_append(out, "", 0);
}

static void test_table(void **state)
{
	struct str text = STR_INIT;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		cur = cases[i].hdr;
		size_t len = strlen(cases[i].hdr);
		char *in = exact(cases[i].hdr, len);
		struct mime_msgid_thread t = MIME_MSGID_THREAD_INIT;
		mime_msgid_thread_parse(in, len, &t);
		EXPECT_STR(t.own.data, cases[i].own);
		ids_text(&t.refs, t.nrefs, &text);
		EXPECT_STR(text.data, cases[i].refs);
		EXPECT(t.nrefs <= MIME_MSGID_THREAD_REFS + 1);
		/* The ids and nothing else. */
		size_t total = 0;
		const char *p = t.refs.data;
		for (size_t k = 0; k < t.nrefs; k++, p += strlen(p) + 1)
			total += strlen(p) + 1;
		EXPECT_INT(total, t.refs.len);
		/* Cleared, it can be filled again. */
		mime_msgid_thread_clear(&t);
		mime_msgid_thread_parse(in, len, &t);
		EXPECT_STR(t.own.data, cases[i].own);
		mime_msgid_thread_clear(&t);
		free(in);
	}
	str_free(&text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
