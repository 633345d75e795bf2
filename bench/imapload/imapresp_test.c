/* Table tests of imapresp: every response is framed whole and one byte at
 * a time (the frame must end at the same place, and not before the last
 * byte), then parsed; the fields a client uses are checked exactly. */
#include "imapresp.h"

#include <stdio.h>
#include <string.h>

struct tcase {
	const char *in; /* one response, or bytes that are not one */
	size_t len;     /* 0: strlen(in) */
	int ok;         /* 1 well-formed, -1 rejected by frame, -2 by parse */
	enum imapresp_kind kind;
	enum imapresp_status status;
	const char *keyword;
	long number; /* -1: none */
	long uid;    /* -1: none */
	unsigned flags;
	unsigned numbers;
	unsigned long literal_bytes;
	const char *code;
	const char *text;
};

#define T IMAPRESP_TAGGED
#define U IMAPRESP_UNTAGGED
#define C IMAPRESP_CONTINUE
/* a literal8 with a NUL in it */
#define BINARY_RESP "* 2 FETCH (BINARY[1] ~{2}\r\n\0\1)\r\n"

static const struct tcase cases[] = {
	{"a1 OK LOGIN completed\r\n", 0, 1, T, IMAPRESP_OK, "OK", -1, -1, 0, 0,
	 0, NULL, "LOGIN completed"},
	{"a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", 0, 1, T,
	 IMAPRESP_NO, "NO", -1, -1, 0, 0, 0, "AUTHENTICATIONFAILED",
	 "Authentication failed."},
	{"a3 BAD Error in IMAP command: Unknown command.\r\n", 0, 1, T,
	 IMAPRESP_BAD, "BAD", -1, -1, 0, 0, 0, NULL,
	 "Error in IMAP command: Unknown command."},
	{"a4 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n", 0, 1,
	 T, IMAPRESP_OK, "OK", -1, -1, 0, 0, 0, "READ-WRITE",
	 "Select completed (0.001 + 0.000 secs)."},
	{"a5 OK [APPENDUID 1712 105] Append completed.\r\n", 0, 1, T,
	 IMAPRESP_OK, "OK", -1, -1, 0, 0, 0, "APPENDUID 1712 105",
	 "Append completed."},
	{"* OK [PERMANENTFLAGS (\\Answered \\Deleted \\Seen \\*)] Limited\r\n",
	 0, 1, U, IMAPRESP_OK, "OK", -1, -1, 0, 0, 0,
	 "PERMANENTFLAGS (\\Answered \\Deleted \\Seen \\*)", "Limited"},
	{"* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+] Dovecot ready.\r\n", 0,
	 1, U, IMAPRESP_OK, "OK", -1, -1, 0, 0, 0,
	 "CAPABILITY IMAP4rev1 SASL-IR LITERAL+", "Dovecot ready."},
	{"* BYE Logging out\r\n", 0, 1, U, IMAPRESP_BYE, "BYE", -1, -1, 0, 0, 0,
	 NULL, "Logging out"},
	{"+ idling\r\n", 0, 1, C, IMAPRESP_NONE, "", -1, -1, 0, 0, 0, NULL,
	 "idling"},
	{"+\r\n", 0, 1, C, IMAPRESP_NONE, "", -1, -1, 0, 0, 0, NULL, NULL},
	{"* 172 EXISTS\r\n", 0, 1, U, IMAPRESP_NONE, "EXISTS", 172, -1, 0, 0,
	 0, NULL, NULL},
	{"* 0 RECENT\r\n", 0, 1, U, IMAPRESP_NONE, "RECENT", 0, -1, 0, 0, 0,
	 NULL, NULL},
	{"* 44 EXPUNGE\r\n", 0, 1, U, IMAPRESP_NONE, "EXPUNGE", 44, -1, 0, 0,
	 0, NULL, NULL},
	{"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n", 0, 1,
	 U, IMAPRESP_NONE, "FLAGS", -1, -1, 0, 0, 0, NULL, NULL},
	{"* SEARCH 2 84 882\r\n", 0, 1, U, IMAPRESP_NONE, "SEARCH", -1, -1, 0,
	 3, 0, NULL, NULL},
	{"* SEARCH\r\n", 0, 1, U, IMAPRESP_NONE, "SEARCH", -1, -1, 0, 0, 0,
	 NULL, NULL},
	{"* SEARCH \r\n", 0, 1, U, IMAPRESP_NONE, "SEARCH", -1, -1, 0, 0, 0,
	 NULL, NULL},
	{"* SORT 5 3 4 1 2\r\n", 0, 1, U, IMAPRESP_NONE, "SORT", -1, -1, 0, 5,
	 0, NULL, NULL},
	{"* LIST (\\HasNoChildren) \"/\" INBOX\r\n", 0, 1, U, IMAPRESP_NONE,
	 "LIST", -1, -1, 0, 0, 0, NULL, NULL},
	{"* LIST () NIL {7}\r\nfoo bar\r\n", 0, 1, U, IMAPRESP_NONE, "LIST", -1,
	 -1, 0, 0, 7, NULL, NULL},
	{"* 12 FETCH (FLAGS (\\Seen) UID 4827)\r\n", 0, 1, U, IMAPRESP_NONE,
	 "FETCH", 12, 4827, IMAPRESP_F_SEEN, 0, 0, NULL, NULL},
	{"* 3 FETCH (UID 9 FLAGS (\\Deleted \\Seen $Junk))\r\n", 0, 1, U,
	 IMAPRESP_NONE, "FETCH", 3, 9, IMAPRESP_F_SEEN | IMAPRESP_F_DELETED,
	 0, 0, NULL, NULL},
	{"* 1 FETCH (FLAGS ())\r\n", 0, 1, U, IMAPRESP_NONE, "FETCH", 1, -1, 0,
	 0, 0, NULL, NULL},
	{"* 2 FETCH (UID 7 RFC822.SIZE 44 BODY[HEADER.FIELDS (FROM SUBJECT)] "
	 "{14}\r\nFrom: a\r\n\r\n\r\n FLAGS ())\r\n",
	 0, -2},
	{"* 2 FETCH (UID 7 RFC822.SIZE 44 BODY[HEADER.FIELDS (FROM SUBJECT)] "
	 "{11}\r\nFrom: a\r\n\r\n FLAGS ())\r\n",
	 0, 1, U, IMAPRESP_NONE, "FETCH", 2, 7, 0, 0, 11, NULL, NULL},
	{"* 2 FETCH (BODY[] {0}\r\n)\r\n", 0, 1, U, IMAPRESP_NONE, "FETCH", 2,
	 -1, 0, 0, 0, NULL, NULL},
	{"* 2 FETCH (BODY[]<0> {3}\r\n)\r\n UID 5)\r\n", 0, 1, U,
	 IMAPRESP_NONE, "FETCH", 2, 5, 0, 0, 3, NULL, NULL},
	{BINARY_RESP, sizeof(BINARY_RESP) - 1, 1, U, IMAPRESP_NONE,
	 "FETCH", 2, -1, 0, 0, 2, NULL, NULL},
	{"* 4 FETCH (ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
	 "\"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL "
	 "\"gray\" \"cac.washington.edu\")) NIL NIL ((NIL NIL \"imap\" "
	 "\"cac.washington.edu\")) NIL NIL NIL \"<B27397-0100000@cac.washington"
	 ".edu>\"))\r\n",
	 0, 1, U, IMAPRESP_NONE, "FETCH", 4, -1, 0, 0, 0, NULL, NULL},
	{"* 5 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	 "\"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" "
	 "(\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
	 "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" "
	 "\"BASE64\" 4554 73) \"MIXED\"))\r\n",
	 0, 1, U, IMAPRESP_NONE, "FETCH", 5, -1, 0, 0, 0, NULL, NULL},
	{"* 6 FETCH (ENVELOPE (NIL \"a \\\"q\\\" \\\\ b\" NIL NIL NIL NIL NIL "
	 "NIL NIL NIL))\r\n",
	 0, 1, U, IMAPRESP_NONE, "FETCH", 6, -1, 0, 0, 0, NULL, NULL},
	/* literals in a line of their own and at the very end */
	{"* 7 FETCH (UID 1 BODY[TEXT] {4}\r\n\r\n\r\n)\r\n", 0, 1, U,
	 IMAPRESP_NONE, "FETCH", 7, 1, 0, 0, 4, NULL, NULL},
	{"* CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN\r\n", 0, 1, U, IMAPRESP_NONE,
	 "CAPABILITY", -1, -1, 0, 0, 0, NULL, NULL},
	{"* ESEARCH (TAG \"a1\") UID COUNT 3 ALL 1:3,5\r\n", 0, 1, U,
	 IMAPRESP_NONE, "ESEARCH", -1, -1, 0, 1, 0, NULL, NULL},
	{"* VANISHED (EARLIER) 41,43:116,118\r\n", 0, 1, U, IMAPRESP_NONE,
	 "VANISHED", -1, -1, 0, 0, 0, NULL, NULL},
	{"* STATUS \"blurdybloop\" (MESSAGES 231 UIDNEXT 44292)\r\n", 0, 1, U,
	 IMAPRESP_NONE, "STATUS", -1, -1, 0, 0, 0, NULL, NULL},
	{"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n", 0, 1, U, IMAPRESP_NONE,
	 "NAMESPACE", -1, -1, 0, 0, 0, NULL, NULL},
	/* broken responses */
	{"a1 OK done\n", 0, -1},
	{"a1 OK done\r\r\n", 0, -2},
	{"\r\n", 0, -2},
	{"a1 MAYBE done\r\n", 0, -2},
	{"a1 BYE done\r\n", 0, -2},
	{"* 3 FETCH (UID x)\r\n", 0, -2},
	{"* 3 FETCH (UID 1\r\n", 0, -2},
	{"* 3 FETCH (UID 1))\r\n", 0, -2},
	{"* 3 FETCH (UID)\r\n", 0, -2},
	{"* 3 FETCH (FLAGS (\\Seen)  UID 3)\r\n", 0, -2},
	{"* 3 FETCH (ENVELOPE (\"abc))\r\n", 0, -2},
	{"* 3 FETCH (ENVELOPE (\"a\\bc\"))\r\n", 0, -2},
	{"* 3 FETCH (BODY[] {5}\r\nabc)\r\n", 0, -1},
	{"* 3 FETCH (BODY[HEADER {5}\r\nabcde)\r\n", 0, -2},
	{"* 99999999999 EXISTS\r\n", 0, -2},
	{"* 3 EXISTS now\r\n", 0, -2},
	{"* 3 FETCH (BODY[] {99999999999}\r\n", 0, -1},
	{"*\r\n", 0, -2},
	{"* LIST (\\Noselect) \"/\" \r\n", 0, -2},
	{"* 8 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 "
	 "1) (\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 1 1)) \"ALTERNATIVE\")\r\n",
	 0, -2},
};

static int failures;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			printf("FAIL case %zu (%s:%d): ", n, __FILE__,      \
			       __LINE__);                                  \
			printf(__VA_ARGS__);                               \
			printf("\n");                                      \
			failures++;                                        \
			return;                                            \
		}                                                          \
	} while (0)

static bool span_is(const char *p, size_t n, const char *want)
{
	if (want == NULL)
		return p == NULL || n == 0;
	return p != NULL && strlen(want) == n && memcmp(p, want, n) == 0;
}

static void run(size_t n, const struct tcase *t)
{
	size_t len = t->len ? t->len : strlen(t->in);
	struct imapresp_frame f = {0};
	long whole = imapresp_frame(&f, t->in, len);
	/* byte by byte: the same end, found only once it is all there */
	struct imapresp_frame g = {0};
	long step = -2;
	for (size_t k = 1; k <= len && step == -2; k++) {
		step = imapresp_frame(&g, t->in, k);
		if (step >= 0)
			CHECK((size_t)step == k, "framed early at %zu", k);
	}
	CHECK(step == whole, "byte by byte %ld, whole %ld", step, whole);
	if (t->ok == -1) {
		CHECK(whole == -1, "frame %ld, want -1", whole);
		return;
	}
	CHECK(whole == (long)len, "frame %ld, want %zu", whole, len);
	struct imapresp r;
	const char *err = NULL;
	size_t at = 0;
	int ret = imapresp_parse(t->in, len, &r, &err, &at);
	if (t->ok == -2) {
		CHECK(ret == -1 && err != NULL, "parsed, should not have");
		return;
	}
	CHECK(ret == 1, "parse failed: %s at %zu", err, at);
	CHECK(r.kind == t->kind, "kind %d", r.kind);
	CHECK(r.status == t->status, "status %d", r.status);
	CHECK(strcmp(r.keyword, t->keyword) == 0, "keyword %s", r.keyword);
	CHECK(t->number < 0 ? !r.has_number
			    : r.has_number && r.number == (uint32_t)t->number,
	      "number %u", r.number);
	CHECK(t->uid < 0 ? !r.has_uid : r.has_uid && r.uid == (uint32_t)t->uid,
	      "uid %u", r.uid);
	CHECK(r.flags == t->flags, "flags %x", r.flags);
	CHECK(r.numbers == t->numbers, "numbers %u", r.numbers);
	CHECK(r.literal_bytes == t->literal_bytes, "literal bytes %lu",
	      (unsigned long)r.literal_bytes);
	CHECK(span_is(r.code, r.code_len, t->code), "code %.*s",
	      (int)r.code_len, r.code ? r.code : "");
	CHECK(span_is(r.text, r.text_len, t->text), "text %.*s",
	      (int)r.text_len, r.text ? r.text : "");
	if (r.kind == IMAPRESP_TAGGED)
		CHECK(r.tag_len == 2 && r.tag[0] == 'a', "tag");
}

/* Two responses back to back: the frame stops at the first. */
static void run_pair(void)
{
	size_t n = 0;
	const char *two = "* 1 EXISTS\r\na1 OK x\r\n";
	struct imapresp_frame f = {0};
	long a = imapresp_frame(&f, two, strlen(two));
	CHECK(a == 12, "first frame %ld", a);
	long b = imapresp_frame(&f, two + a, strlen(two) - (size_t)a);
	CHECK(b == 9, "second frame %ld", b);
}

int main(void)
{
	size_t count = sizeof(cases) / sizeof(cases[0]);
	for (size_t n = 0; n < count; n++)
		run(n, &cases[n]);
	run_pair();
	printf("imapresp: %zu cases, %d failed\n", count + 1, failures);
	return failures ? 1 : 0;
}
