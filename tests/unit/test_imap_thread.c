/* imap_thread: THREAD=REFERENCES (RFC 5256) and the msg-id scanner.
 *
 * Each threading case is a mailbox written in a small notation and the
 * exact THREAD data that must come out.  Messages are separated by ";",
 * and each is a list of fields:
 *   #N      the number the response names (required)
 *   seq=N   sequence number (default: position + 1)
 *   t=N     sent date (default 0)
 *   m=ID    Message-ID
 *   r=A,B   References, in order
 *   i=ID    the first id of In-Reply-To
 *   s=TEXT  base subject (already collated)
 *   re      the original subject was a reply or forward */
#include "unit.h"

#include <stdbool.h>

#include "imap/imap_thread.h"
#include "mime/mime_decode.h"
#include "mime/mime_msgid.h"

/* ---- the notation ---- */

struct mbox {
	struct imap_thread_msg *m;
	size_t n;
	struct str text;	/* every string of every message */
	size_t (*off)[5];	/* msgid, refs, irt, subject; +1, 0 = none */
};

static size_t put_text(struct mbox *b, const char *p, size_t n,
		       bool list)
{
	size_t at = b->text.len + 1;
	for (size_t i = 0; i < n; i++)
		str_appendc(&b->text, list && p[i] == ',' ? '\0' : p[i]);
	str_appendc(&b->text, '\0');
	return at;
}

static void parse_field(struct mbox *b, size_t k, const char *f, size_t n)
{
	struct imap_thread_msg *m = &b->m[k];
	const char *v = memchr(f, '=', n);
	size_t vn = v ? n - (size_t)(v - f) - 1 : 0;
	if (v != NULL)
		v++;
	if (f[0] == '#') {
		m->id = (uint32_t)strtoul(f + 1, NULL, 10);
	} else if (n == 2 && memcmp(f, "re", 2) == 0) {
		m->reply = true;
	} else if (v != NULL && f[0] == 't') {
		m->sent = strtoll(v, NULL, 10);
	} else if (v != NULL && f[0] == 'q') {
		m->seq = (uint32_t)strtoul(v, NULL, 10);
	} else if (v != NULL && f[0] == 'm') {
		b->off[k][0] = put_text(b, v, vn, false);
	} else if (v != NULL && f[0] == 'r') {
		b->off[k][1] = put_text(b, v, vn, true);
		m->nrefs = 1;
		for (size_t i = 0; i < vn; i++)
			m->nrefs += v[i] == ',';
	} else if (v != NULL && f[0] == 'i') {
		b->off[k][2] = put_text(b, v, vn, false);
	} else if (v != NULL && f[0] == 's') {
		b->off[k][3] = put_text(b, v, vn, false);
		m->subject_len = vn;
	} else {
		fail_msg("case \"%s\": bad field \"%.*s\"", cur, (int)n, f);
	}
}

static const char *text_at(const struct mbox *b, size_t off)
{
	return off ? b->text.data + off - 1 : NULL;
}

static void mbox_parse(struct mbox *b, const char *spec)
{
	b->n = 1;
	for (const char *p = spec; *p; p++)
		b->n += *p == ';';
	b->m = calloc(b->n, sizeof(*b->m));
	b->off = calloc(b->n, sizeof(*b->off));
	b->text = (struct str)STR_INIT;
	size_t k = 0;
	for (const char *p = spec; *p;) {
		size_t n = strcspn(p, " ;");
		if (n > 0)
			parse_field(b, k, p, n);
		p += n;
		if (*p == ';') {
			if (b->m[k].seq == 0)
				b->m[k].seq = (uint32_t)k + 1;
			k++;
		}
		if (*p)
			p++;
	}
	if (b->m[k].seq == 0)
		b->m[k].seq = (uint32_t)k + 1;
	for (size_t i = 0; i < b->n; i++) {
		b->m[i].msgid = text_at(b, b->off[i][0]);
		b->m[i].refs = text_at(b, b->off[i][1]);
		b->m[i].in_reply_to = text_at(b, b->off[i][2]);
		b->m[i].subject = text_at(b, b->off[i][3]);
	}
}

static void mbox_free(struct mbox *b)
{
	free(b->m);
	free(b->off);
	str_free(&b->text);
}

/* The THREAD data for msgs, also checked to be the same whatever the
 * order of the array (the module goes by seq). */
static void expect_thread(struct imap_thread_msg *m, size_t n,
			  const char *want)
{
	struct str out = STR_INIT, rev = STR_INIT;
	imap_thread_references(m, n, &out);
	str_append(&out, "", 0);
	EXPECT_STR(out.data, want);
	for (size_t i = 0; i < n / 2; i++) {
		struct imap_thread_msg t = m[i];
		m[i] = m[n - 1 - i];
		m[n - 1 - i] = t;
	}
	imap_thread_references(m, n, &rev);
	str_append(&rev, "", 0);
	EXPECT_STR(rev.data, want);
	str_free(&out);
	str_free(&rev);
}

static void run_cases(const char *const (*t)[3], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct mbox b;
		cur = t[i][0];
		mbox_parse(&b, t[i][1]);
		expect_thread(b.m, b.n, t[i][2]);
		mbox_free(&b);
	}
}

/* ---- the RFC's examples ---- */

/* RFC 5256 gives the REFERENCES answer for a mailbox it does not show;
 * this mailbox is one that must give that answer: singles, two
 * unrelated messages with one subject (170, 179: a dummy from step 5),
 * replies to a message that is not there (174..., 177...: a dummy from
 * step 3), a reply found by its subject alone (198), and chains by
 * References and In-Reply-To.  Dates put 172 before 170, 181 before 180
 * and 183 before 182, as the answer has them. */
static const char rfc_mailbox[] =
	"#166 t=1660 m=m166 s=s166; #167 t=1670 m=m167 s=s167;"
	"#168 t=1680 s=s168; #169 t=1690 s=s169;"
	"#170 t=1700 m=m170 s=lunch; #171 t=1710 s=s171;"
	"#172 t=1695 s=s172; #173 t=1730 s=s173;"
	"#174 t=1740 m=m174 r=lost174 s=minutes re;"
	"#175 t=1750 i=lost174 s=minutes re;"
	"#176 t=1760 r=lost174 s=minutes re;"
	"#177 t=1770 m=m177 r=lost177 s=budget re;"
	"#178 t=1780 r=lost174 s=minutes re;"
	"#179 t=1790 m=m179 s=lunch;"
	"#180 t=1800 r=lost174 s=minutes re;"
	"#181 t=1795 i=lost174 s=minutes re;"
	"#182 t=1772 m=m182 r=lost177 s=budget re;"
	"#183 t=1771 m=m183 r=lost177 s=budget re;"
	"#184 t=1840 m=m184 r=lost177,m188 s=budget re;"
	"#185 t=1774 m=m185 r=lost177 s=budget re;"
	"#186 t=1860 m=m186 r=lost177,m185 s=budget re;"
	"#187 t=1775 m=m187 r=lost177 s=budget re;"
	"#188 t=1773 m=m188 r=lost177 s=budget re;"
	"#189 t=1890 m=m189 i=m188 s=budget re;"
	"#190 t=1900 s=s190; #191 t=1910 s=s191; #192 t=1920 s=s192;"
	"#193 t=1930 s=s193;"
	"#194 t=1940 m=m194 s=party; #195 t=1950 m=m195 s=party;"
	"#196 t=1960 m=m196 r=m195 s=party re;"
	"#197 t=1970 m=m197 s=trip; #198 t=1980 m=m198 s=trip re;"
	"#199 t=1990 s=s199;"
	"#200 t=2000 m=m200 s=report; #201 t=2010 s=s201;"
	"#202 t=2020 i=m200 s=report re;"
	"#203 t=2030 s=s203; #204 t=2040 s=s204;"
	"#205 t=2050 m=m205 s=plan; #206 t=2060 m=m206 r=m205 s=plan re;"
	"#207 t=2070 m=m207 r=m205,m206 s=plan re;"
	"#208 t=2080 s=s208";

static void test_rfc_examples(void **state)
{
	static const char *const t[][3] = {
		{"RFC 5256 A285", rfc_mailbox,
		 " (166)(167)(168)(169)(172)((170)(179))(171)(173)"
		 "((174)(175)(176)(178)(181)(180))((177)(183)(182)"
		 "(188 (184)(189))(185 186)(187))(190)(191)(192)(193)"
		 "((194)(195 196))(197 198)(199)(200 202)(201)(203)"
		 "(204)(205 206 207)(208)"},
		/* The THREAD response example: 3 parent of 6, which has
		 * two sub-threads; UIDs, parents later than children in
		 * the mailbox would not change it. */
		{"RFC 5256 thread response",
		 "#2 t=20 m=m2 s=x; #3 t=30 m=m3 s=y;"
		 "#4 t=40 m=m4 r=m3,m6 s=y re;"
		 "#6 t=60 m=m6 r=m3 s=y re;"
		 "#7 t=70 m=m7 r=m3,m6,m44 s=y re;"
		 "#23 t=230 m=m23 r=m3,m6,m4 s=y re;"
		 "#44 t=440 m=m44 r=m3,m6 s=y re;"
		 "#96 t=960 m=m96 r=m3,m6,m44,m7 s=y re",
		 " (2)(3 6 (4 23)(44 7 96))"},
		{"RFC 5256 siblings of a missing parent",
		 "#3 t=1 r=gone s=q re; #5 t=2 r=gone s=q re",
		 " ((3)(5))"},
	};
	run_cases(t, sizeof(t) / sizeof(t[0]));
}

/* ---- step by step ---- */

static void test_links(void **state)
{
	static const char *const t[][3] = {
		{"one message", "#1", " (1)"},
		{"no ids at all, by date",
		 "#1 t=30 s=a; #2 t=10 s=b; #3 t=20 s=c", " (2)(3)(1)"},
		{"same date: sequence number",
		 "#5 q=2 s=a; #9 q=1 s=b", " (9)(5)"},
		{"In-Reply-To chain",
		 "#1 t=1 m=a; #2 t=2 m=b i=a; #3 t=3 i=b", " (1 2 3)"},
		{"References beat In-Reply-To",
		 "#1 t=1 m=a; #2 t=2 m=b; #3 t=3 r=a i=b", " (1 3)(2)"},
		{"References link the ancestors too",
		 "#1 t=1 m=a; #2 t=2 m=b; #3 t=3 r=a,b", " (1 2 3)"},
		/* (1)(A): a link that exists is kept. */
		{"existing link kept",
		 "#1 t=1 m=a; #2 t=2 m=b; #3 t=3 m=c r=a;"
		 "#4 t=4 r=b,c,d",
		 " (1 3 4)(2)"},
		/* (1)(B): a truncated References had made c a child of a;
		 * c's own says b. */
		{"own References replace a link",
		 "#1 t=1 m=x r=a,c; #2 t=2 m=c r=a,b; #3 t=3 m=a;"
		 "#4 t=4 m=b r=a",
		 " (3 4 2 1)"},
		{"no references: no parent",
		 "#1 t=1 m=x r=a,c; #2 t=2 m=c; #3 t=3 m=a",
		 " (2 1)(3)"},
	};
	run_cases(t, sizeof(t) / sizeof(t[0]));
}

static void test_loops(void **state)
{
	static const char *const t[][3] = {
		{"two messages referring to each other",
		 "#1 t=1 m=a r=b; #2 t=2 m=b r=a", " (2 1)"},
		{"a message referring to itself", "#1 m=a r=a", " (1)"},
		{"itself, then another", "#1 m=a r=a,b", " (1)"},
		{"a reference twice", "#1 m=c r=a,b,a", " (1)"},
		{"a loop through three",
		 "#1 t=1 m=a r=c; #2 t=2 m=b r=a; #3 t=3 m=c r=b",
		 " (3 1 2)"},
		{"a loop inside one References",
		 "#1 t=1 m=a; #2 t=2 m=b r=a; #3 t=3 m=d r=b,a,x",
		 " (1 (2)(3))"},
	};
	run_cases(t, sizeof(t) / sizeof(t[0]));
}

static void test_dummies(void **state)
{
	static const char *const t[][3] = {
		{"missing middle, one child",
		 "#1 t=1 m=a; #2 t=2 r=a,b", " (1 2)"},
		{"missing middle, several children",
		 "#1 t=1 m=a; #2 t=2 r=a,b; #3 t=3 r=a,b", " (1 (2)(3))"},
		{"missing root, one child", "#1 r=gone s=x re", " (1)"},
		{"missing root, several children",
		 "#1 t=1 r=gone s=p re; #2 t=2 r=gone s=q re", " ((1)(2))"},
		{"two missing levels, several children",
		 "#1 t=1 r=x,y s=p; #2 t=2 r=x,y s=q", " ((1)(2))"},
		{"two missing levels, one child", "#1 r=x,y", " (1)"},
		{"missing levels between messages",
		 "#1 t=1 m=a; #2 t=2 r=a,x,y; #3 t=3 r=a,x,z",
		 " (1 (2)(3))"},
		/* Promoted to the top, a lone reply is a message again: the
		 * subject table then prefers the message that is not. */
		{"missing root, one child, then its subject",
		 "#1 t=1 r=gone s=x re; #2 t=2 s=x", " (2 1)"},
		{"dummy with a sub-thread",
		 "#1 t=1 m=a r=gone s=p; #2 t=2 r=gone s=q; #3 t=3 r=gone,a",
		 " ((1 3)(2))"},
	};
	run_cases(t, sizeof(t) / sizeof(t[0]));
}

static void test_duplicates(void **state)
{
	static const char *const t[][3] = {
		{"duplicate Message-ID: the first keeps it",
		 "#1 t=10 m=a s=p; #2 t=20 m=a s=q; #3 t=30 r=a",
		 " (1 3)(2)"},
		{"the first by sequence number, not by date",
		 "#1 t=50 m=a s=p; #2 t=10 m=a s=q; #3 t=60 r=a",
		 " (2)(1 3)"},
		{"a dummy filled by the first of two",
		 "#1 t=1 r=a s=p; #2 t=2 m=a s=q; #3 t=3 m=a s=r",
		 " (2 1)(3)"},
		{"a duplicate's own references still count",
		 "#1 t=1 m=a s=p; #2 t=2 m=b s=q; #3 t=3 m=a r=b",
		 " (1)(2 3)"},
	};
	run_cases(t, sizeof(t) / sizeof(t[0]));
}

static void test_subjects(void **state)
{
	static const char *const t[][3] = {
		{"a reply joins its thread", "#1 t=1 s=x; #2 t=2 s=x re",
		 " (1 2)"},
		{"the reply came first", "#1 t=1 s=x re; #2 t=2 s=x",
		 " (2 1)"},
		{"two unrelated messages, one subject",
		 "#1 t=1 s=x; #2 t=2 s=x", " ((1)(2))"},
		{"two replies", "#1 t=1 s=x re; #2 t=2 s=x re",
		 " ((1)(2))"},
		{"three", "#1 t=1 s=x; #2 t=2 s=x; #3 t=3 s=x",
		 " ((1)(2)(3))"},
		{"a message joins a dummy",
		 "#1 t=1 r=gone s=x re; #2 t=2 r=gone s=x re; #3 t=3 s=x",
		 " ((1)(2)(3))"},
		{"a dummy beats an earlier message",
		 "#1 t=10 r=gone s=x re; #2 t=20 r=gone s=x re; #3 t=5 s=x",
		 " ((3)(1)(2))"},
		{"two dummies merge",
		 "#1 t=1 r=g1 s=x re; #2 t=2 r=g1 s=x re;"
		 "#3 t=3 r=g2 s=x re; #4 t=4 r=g2 s=x re",
		 " ((1)(2)(3)(4))"},
		{"a dummy's subject is its first child's",
		 "#1 t=1 r=g s=x re; #2 t=2 r=g s=y re; #3 t=3 s=y",
		 " ((1)(2))(3)"},
		{"empty subjects stay apart", "#1 t=1; #2 t=2 re",
		 " (1)(2)"},
		{"only the top level", "#1 t=1 m=a s=x; #2 t=2 r=a s=y re;"
		 "#3 t=3 s=y", " (1 2)(3)"},
		{"a thread follows its reply", "#1 t=1 m=a s=x;"
		 "#2 t=2 r=a s=x re; #3 t=3 s=x re", " (1 (2)(3))"},
		{"subjects by bytes: the caller collates",
		 "#1 t=1 s=X; #2 t=2 s=x re", " (1)(2)"},
	};
	run_cases(t, sizeof(t) / sizeof(t[0]));
}

static void test_sorting(void **state)
{
	static const char *const t[][3] = {
		{"siblings by date, then sequence number",
		 "#1 t=10 m=a; #2 t=40 i=a; #3 q=4 t=30 i=a;"
		 "#4 q=3 t=30 i=a",
		 " (1 (4)(3)(2))"},
		{"threads by their first message",
		 "#1 t=10 s=p; #2 t=50 r=g s=q; #3 t=5 r=g s=r",
		 " ((3)(2))(1)"},
		{"grandchildren too",
		 "#1 t=1 m=a; #2 t=9 m=b r=a; #3 t=2 r=a;"
		 "#4 t=8 r=a,b; #5 t=7 r=a,b",
		 " (1 (3)(2 (5)(4)))"},
		{"negative dates", "#1 t=0 s=p; #2 t=-5 s=q", " (2)(1)"},
	};
	run_cases(t, sizeof(t) / sizeof(t[0]));
}

static void test_empty(void **state)
{
	struct str out = STR_INIT;
	cur = "no messages";
	imap_thread_references(NULL, 0, &out);
	EXPECT_INT(out.len, 0);
	str_free(&out);
}

/* ---- large and hostile mailboxes ---- */

struct big {
	struct imap_thread_msg *m;
	char (*ids)[24];
	size_t n;
};

static void big_new(struct big *b, size_t n)
{
	b->n = n;
	b->m = calloc(n, sizeof(*b->m));
	b->ids = calloc(n, sizeof(*b->ids));
	for (size_t i = 0; i < n; i++) {
		snprintf(b->ids[i], sizeof(b->ids[i]), "%zu@x", i + 1);
		b->m[i].id = (uint32_t)i + 1;
		b->m[i].seq = (uint32_t)i + 1;
		b->m[i].sent = (int64_t)i;
		b->m[i].msgid = b->ids[i];
	}
}

static void big_free(struct big *b)
{
	free(b->m);
	free(b->ids);
}

#define DEEP 100000

/* "(1 2 3 ... n)" */
static void chain_text(struct str *want, size_t n)
{
	str_appends(want, " (");
	for (size_t i = 1; i <= n; i++)
		str_printf(want, i < n ? "%zu " : "%zu)", i);
	str_append(want, "", 0);
}

static void test_deep_chain(void **state)
{
	struct big b;
	struct str out = STR_INIT, want = STR_INIT;
	big_new(&b, DEEP);
	for (size_t i = 1; i < DEEP; i++)
		b.m[i].in_reply_to = b.ids[i - 1];
	cur = "a chain of 100,000 by In-Reply-To";
	imap_thread_references(b.m, b.n, &out);
	str_append(&out, "", 0);
	chain_text(&want, DEEP);
	EXPECT(strcmp(out.data, want.data) == 0);

	/* The same chain delivered backwards: every message first appears
	 * as a dummy with children, then takes its place. */
	cur = "the chain delivered backwards";
	for (size_t i = 0; i < DEEP; i++)
		b.m[i].seq = (uint32_t)(DEEP - i);
	str_clear(&out);
	imap_thread_references(b.m, b.n, &out);
	str_append(&out, "", 0);
	EXPECT(strcmp(out.data, want.data) == 0);
	str_free(&out);
	str_free(&want);
	big_free(&b);
}

/* Each message of a chain also has a leaf child: every level branches,
 * so the answer nests 50,000 deep: "(1 (3 (5 ...)(6))(4))" with 2k+1 the
 * chain and 2k+2 its leaf. */
static void test_deep_nesting(void **state)
{
	struct big b;
	struct str out = STR_INIT, want = STR_INIT;
	big_new(&b, DEEP);
	for (size_t i = 2; i < DEEP; i++)
		b.m[i].in_reply_to = b.ids[(i & ~(size_t)1) - 2];
	cur = "nested 50,000 deep";
	imap_thread_references(b.m, b.n, &out);
	str_append(&out, "", 0);
	/* 1 and 2 are both roots; 2 is alone. */
	str_appends(&want, " (1");
	for (size_t k = 3; k < DEEP; k += 2)
		str_printf(&want, " (%zu", k);
	for (size_t k = DEEP; k > 2; k -= 2)
		str_printf(&want, ")(%zu)", k);
	str_appends(&want, ")(2)");
	str_append(&want, "", 0);
	EXPECT(strcmp(out.data, want.data) == 0);
	str_free(&out);
	str_free(&want);
	big_free(&b);
}

/* 20,000 messages, each with the same long References whose first id
 * is the chain's root and last a deep member: every one asks whether
 * linking them would close a loop. */
static void test_hostile_references(void **state)
{
	enum { CHAIN = 2000, MSGS = 20000 };
	struct big b;
	struct str out = STR_INIT, refs = STR_INIT, want = STR_INIT;
	big_new(&b, CHAIN + MSGS);
	for (size_t i = 1; i < CHAIN; i++)
		b.m[i].in_reply_to = b.ids[i - 1];
	for (size_t k = 0; k < IMAP_THREAD_MAX_REFS - 1; k++)
		str_append(&refs, b.ids[CHAIN - 1 - k],
			   strlen(b.ids[CHAIN - 1 - k]) + 1);
	str_append(&refs, b.ids[0], strlen(b.ids[0]) + 1);
	for (size_t i = CHAIN; i < CHAIN + MSGS; i++) {
		b.m[i].refs = refs.data;
		b.m[i].nrefs = IMAP_THREAD_MAX_REFS;
		b.m[i].msgid = NULL;
	}
	cur = "a References field that loops, 20,000 times";
	imap_thread_references(b.m, b.n, &out);
	str_append(&out, "", 0);
	/* Each message hangs below the chain's first message (its last
	 * reference); the chain keeps its shape. */
	str_appends(&want, " (1 (2");
	for (size_t i = 3; i <= CHAIN; i++)
		str_printf(&want, " %zu", i);
	str_appendc(&want, ')');
	for (size_t i = CHAIN + 1; i <= CHAIN + MSGS; i++)
		str_printf(&want, "(%zu)", i);
	str_appends(&want, ")");
	str_append(&want, "", 0);
	EXPECT(strcmp(out.data, want.data) == 0);
	str_free(&out);
	str_free(&refs);
	str_free(&want);
	big_free(&b);
}

/* ---- msg-ids ---- */

/* The ids as "a|b|c". */
static void ids_text(const struct str *ids, size_t n, struct str *o)
{
	const char *p = ids->data;
	str_clear(o);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			str_appendc(o, '|');
		str_appends(o, p);
		p += strlen(p) + 1;
	}
	str_append(o, "", 0);
}

static void test_msgids(void **state)
{
	static const struct {
		const char *in;
		size_t len;	/* 0: strlen */
		size_t max;
		const char *want;
	} t[] = {
		{"<a@b>", 0, 100, "a@b"},
		{"  <a@b>  (comment) <c@d>", 0, 100, "a@b|c@d"},
		{"<a@b>\r\n <c@d>\r\n\t<e@f>", 0, 100, "a@b|c@d|e@f"},
		{"<a@b><c@d>", 0, 100, "a@b|c@d"},
		/* RFC 5256's example of one id written two ways. */
		{"<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>", 0, 100,
		 "01KF8JCEOCBS0045PS@xxx.yyy.com"},
		{"<01KF8JCEOCBS0045PS@xxx.yyy.com>", 0, 100,
		 "01KF8JCEOCBS0045PS@xxx.yyy.com"},
		{"<\"a\\\"b\"@x>", 0, 100, "a\"b@x"},
		{"<a.\"b c\"@x>", 0, 100, "a.b c@x"},
		{"<\"a\r\n b\"@x>", 0, 100, "a b@x"},
		{"<a (comment) @ x>", 0, 100, "a@x"},
		{"<a\r\n @x>", 0, 100, "a@x"},
		{"<a@[127.0.0.1]>", 0, 100, "a@[127.0.0.1]"},
		{"<\xc3\xbc@x>", 0, 100, "\xc3\xbc@x"},
		/* A quote inside a word is a character: one stray quote
		 * must not eat the ids after it. */
		{"<a\"b@x> <c@y>", 0, 100, "a\"b@x|c@y"},
		/* Not ids. */
		{"<abc>", 0, 100, ""},
		{"<@x>", 0, 100, ""},
		{"<a@>", 0, 100, ""},
		{"<>", 0, 100, ""},
		{"a@b", 0, 100, ""},
		{"<a@b", 0, 100, ""},
		{"<a@b> <c@d", 0, 100, "a@b"},
		{"<a\0b@c> <d@e>", 13, 100, "d@e"},
		{"<\"abc@x> <d@y>", 0, 100, ""},
		/* What is around ids. */
		{"(comment <x@y>) <z@w>", 0, 100, "z@w"},
		{"(a (nested <x@y>) comment) <z@w>", 0, 100, "z@w"},
		{"(unclosed <x@y>", 0, 100, ""},
		{"Your message of \"Mon, <x@y>\" <real@id>", 0, 100,
		 "real@id"},
		{"<id@host> (from user <a@b> at home)", 0, 100, "id@host"},
		{"<id@host> user@host", 0, 100, "id@host"},
		{"<<a@b>>", 0, 100, "a@b"},
		{"<x <a@b>", 0, 100, "a@b"},
		/* Only the last max. */
		{"<1@x> <2@x> <3@x>", 0, 2, "2@x|3@x"},
		{"<1@x> <2@x> <3@x>", 0, 3, "1@x|2@x|3@x"},
		{"<1@x> <2@x> <3@x>", 0, 1, "3@x"},
		{"<1@x> <2@x>", 0, 0, ""},
		{"", 0, 100, ""},
	};
	struct str out = STR_INIT, text = STR_INIT;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cur = t[i].in;
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);
		char *in = exact(t[i].in, len);
		str_clear(&out);
		str_appends(&out, "junk");
		size_t n = mime_msgid_list(in, len, t[i].max, &out);
		EXPECT(out.len <= 4 + len + 1);
		EXPECT(memcmp(out.data, "junk", 4) == 0);
		str_consume(&out, 4);
		ids_text(&out, n, &text);
		EXPECT_STR(text.data, t[i].want);
		/* The bytes appended are exactly the n ids. */
		size_t total = 0;
		for (const char *p = out.data; total < out.len;
		     p += strlen(p) + 1)
			total += strlen(p) + 1;
		EXPECT_INT(total, out.len);

		/* The first id alone is the first of all of them. */
		str_clear(&out);
		str_clear(&text);
		int rc = mime_msgid_first(in, len, &out);
		size_t all = mime_msgid_list(in, len, SIZE_MAX, &text);
		EXPECT_INT(rc, all > 0);
		if (rc > 0)
			EXPECT_STR(out.data, text.data);
		else
			EXPECT_INT(out.len, 0);
		free(in);
	}
	str_free(&out);
	str_free(&text);
}

static void test_first_msgid(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{"<a@b> <c@d>", "a@b"},
		{"junk <x> <c@d>", "c@d"},
		{"Your message <a@b> of yesterday", "a@b"},
		{"none", NULL},
	};
	struct str out = STR_INIT;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cur = t[i].in;
		char *in = exact(t[i].in, strlen(t[i].in));
		str_clear(&out);
		int rc = mime_msgid_first(in, strlen(t[i].in), &out);
		EXPECT_INT(rc, t[i].want != NULL);
		if (t[i].want != NULL) {
			EXPECT_INT(out.len, strlen(t[i].want) + 1);
			EXPECT_STR(out.data, t[i].want);
		} else {
			EXPECT_INT(out.len, 0);
		}
		free(in);
	}
	str_free(&out);
}

/* ---- a whole header ---- */

static void collated(const char *s, struct str *out)
{
	str_clear(out);
	mime_text_normalize(s, strlen(s), out);
	str_append(out, "", 0);
}

static void test_fields(void **state)
{
	static const struct {
		const char *hdr;
		const char *msgid, *irt, *refs, *subject;
		bool reply;
	} t[] = {
		{"Message-ID: <m@x>\r\nIn-Reply-To: <p@x>\r\n"
		 "References: <r@x>\r\n <p@x>\r\nSubject: Re: [list] Hello"
		 "\r\n\r\nbody <no@x>\r\n",
		 "m@x", "p@x", "r@x|p@x", "hello", true},
		{"message-id:<m@x>\nsubject: Hello\n\n", "m@x", "", "",
		 "HELLO", false},
		{"Subject: =?utf-8?q?Fwd=3A_=C3=A9t=C3=A9?=\r\n\r\n", "", "",
		 "", "\xc3\xa9t\xc3\xa9", true},
		{"Subject: x (fwd)\r\n", "", "", "", "x", true},
		/* The first field of each name counts. */
		{"Message-ID: <a@x>\r\nMessage-ID: <b@x>\r\n"
		 "References: <c@x>\r\nReferences: <d@x>\r\n\r\n",
		 "a@x", "", "c@x", "", false},
		{"Message-ID: junk\r\nMessage-ID: <b@x>\r\n\r\n", "", "", "",
		 "", false},
		/* Cut short: no blank line, a field not ended. */
		{"Message-ID: <a@x>\r\nReferences: <c@x> <d@", "a@x", "",
		 "c@x", "", false},
		{"", "", "", "", "", false},
	};
	struct str text = STR_INIT, want = STR_INIT;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct imap_thread_fields f = IMAP_THREAD_FIELDS_INIT;
		struct imap_thread_msg m = {0};
		cur = t[i].hdr;
		size_t len = strlen(t[i].hdr);
		char *hdr = exact(t[i].hdr, len);
		imap_thread_fields_parse(hdr, len, &f);
		imap_thread_fields_apply(&f, &m);
		EXPECT_STR(m.msgid, t[i].msgid);
		EXPECT_STR(m.in_reply_to, t[i].irt);
		ids_text(&f.refs, m.nrefs, &text);
		EXPECT_STR(text.data, t[i].refs);
		collated(t[i].subject, &want);
		EXPECT_INT(m.subject_len, want.len);
		EXPECT_STR(m.subject, want.data);
		EXPECT_INT(m.reply, t[i].reply);
		imap_thread_fields_clear(&f);
		free(hdr);
	}
	str_free(&text);
	str_free(&want);
}

/* A References field of 150 ids keeps the last IMAP_THREAD_MAX_REFS. */
static void test_fields_many_refs(void **state)
{
	struct str hdr = STR_INIT, text = STR_INIT, want = STR_INIT;
	struct imap_thread_fields f = IMAP_THREAD_FIELDS_INIT;
	str_appends(&hdr, "References:");
	for (int i = 1; i <= 150; i++)
		str_printf(&hdr, "\r\n <%d@x>", i);
	str_appends(&hdr, "\r\n\r\n");
	for (int i = 151 - IMAP_THREAD_MAX_REFS; i <= 150; i++)
		str_printf(&want, i < 150 ? "%d@x|" : "%d@x", i);
	str_append(&want, "", 0);
	cur = "150 references";
	imap_thread_fields_parse(hdr.data, hdr.len, &f);
	EXPECT_INT(f.nrefs, IMAP_THREAD_MAX_REFS);
	ids_text(&f.refs, f.nrefs, &text);
	EXPECT_STR(text.data, want.data);
	imap_thread_fields_clear(&f);
	str_free(&hdr);
	str_free(&text);
	str_free(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_loops),
		cmocka_unit_test(test_dummies),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_subjects),
		cmocka_unit_test(test_sorting),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_hostile_references),
		cmocka_unit_test(test_msgids),
		cmocka_unit_test(test_first_msgid),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_fields_many_refs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
