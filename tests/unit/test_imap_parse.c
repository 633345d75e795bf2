/* imap_parse, imap_fetch_parse, imap_search_parse and imap_args: each case
 * is a command (or the part of one a reader takes) and what the parser
 * must make of it, written out in a canonical text by the dump functions
 * below, or the exact error ("BAD text" / "NO text").  Every case is also
 * fed cut short at every length from an exactly sized heap buffer. */
#include "unit.h"

#include "core/str.h"
#include "imap/imap_args.h"
#include "imap/imap_fetch_parse.h"
#include "imap/imap_parse.h"
#include "imap/imap_search_parse.h"
#include "imap/imap_write.h"

enum kind {
	K_CMD, K_ATOM, K_ASTRING, K_STRING, K_NSTRING, K_MAILBOX, K_LISTMB,
	K_NUMBER, K_NZ, K_NUM64, K_NZ64, K_SEQSET, K_FLAGS, K_DATE, K_DATETIME,
	K_FETCH, K_UIDFETCH, K_SEARCH, K_SORT, K_THREAD,
	K_STORE, K_LIST, K_LSUB, K_STATUS, K_ENABLE, K_CREATE,
	K_SELECT, K_APPEND, K_ID, K_LOGIN, K_AUTH, K_COPY, K_RENAME,
};

struct pcase {
	enum kind kind;
	unsigned flags;
	const char *in;
	const char *want;	/* the dump, or "BAD text" / "NO text" */
	size_t len;		/* 0: strlen(in) */
};

/* --- dumps --- */

static void d_str(struct str *o, const struct imap_string *s)
{
	if (s->data == NULL) {
		str_appends(o, "NIL");
		return;
	}
	EXPECT(s->data[s->len] == '\0');
	str_appendc(o, '"');
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->data[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			str_appendc(o, (char)c);
		else
			str_printf(o, "\\x%02x", c);
	}
	str_appendc(o, '"');
}

static void d_flags(struct str *o, const struct imap_flags *f)
{
	static const char *const names[] = {"\\Answered", "\\Flagged",
					    "\\Deleted", "\\Seen", "\\Draft"};
	bool first = true;
	for (unsigned i = 0; i < 5; i++) {
		if (f->system & (1u << i)) {
			str_printf(o, "%s%s", first ? "" : " ", names[i]);
			first = false;
		}
	}
	for (unsigned i = 0; i < f->n_keywords; i++) {
		str_appends(o, first ? "" : " ");
		d_str(o, &f->keywords[i]);
		first = false;
	}
	EXPECT(f->system < 32);
}

static void d_set(struct str *o, const struct imap_seqset *s)
{
	EXPECT(s->count >= 1);
	imap_write_seqset(o, s->ranges, s->count);
}

static void d_section(struct str *o, const struct imap_section *s)
{
	static const char *const text[] = {"", "HEADER", "HEADER.FIELDS",
					   "HEADER.FIELDS.NOT", "TEXT",
					   "MIME"};
	str_appendc(o, '[');
	for (unsigned i = 0; i < s->depth; i++)
		str_printf(o, "%s%u", i ? "." : "", s->part[i]);
	if (s->depth && s->text)
		str_appendc(o, '.');
	str_appends(o, text[s->text]);
	if (s->n_fields) {
		str_appends(o, " (");
		for (unsigned i = 0; i < s->n_fields; i++) {
			str_appends(o, i ? " " : "");
			d_str(o, &s->fields[i]);
		}
		str_appendc(o, ')');
	}
	str_appendc(o, ']');
}

static void d_att(struct str *o, const struct imap_fetch_att *a)
{
	static const char *const names[] = {
		"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY",
		"BODYSTRUCTURE", "UID", "MODSEQ", "RFC822=BODY",
		"RFC822.HEADER=BODY", "RFC822.TEXT=BODY", "BODY", "BINARY",
		"BINARY.SIZE", "PREVIEW", "EMAILID", "THREADID", "SAVEDATE"};
	bool sect = a->item >= IMAP_FETCH_RFC822 &&
		    a->item <= IMAP_FETCH_BINARY_SIZE;
	str_appends(o, names[a->item]);
	if (a->peek)
		str_appends(o, ".PEEK");
	if (sect)
		d_section(o, &a->section);
	else
		EXPECT(a->section.depth == 0 && a->section.text == 0);
	if (a->partial)
		str_printf(o, "<%llu.%llu>",
			   (unsigned long long)a->partial_start,
			   (unsigned long long)a->partial_count);
	if (a->lazy)
		str_appends(o, " (LAZY)");
}

static void d_fetch(struct str *o, const struct imap_fetch *f)
{
	d_set(o, &f->set);
	for (unsigned i = 0; i < f->n_atts; i++) {
		str_appendc(o, ' ');
		d_att(o, &f->atts[i]);
	}
	if (f->changedsince)
		str_printf(o, " changedsince=%llu",
			   (unsigned long long)f->changedsince_modseq);
	if (f->vanished)
		str_appends(o, " vanished");
}

static const char *const sk_names[] = {
	"AND", "OR", "NOT", "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED",
	"NEW", "OLD", "RECENT", "SEEN", "UNANSWERED", "UNDELETED", "UNDRAFT",
	"UNFLAGGED", "UNSEEN", "SAVEDATESUPPORTED", "BCC", "BODY", "CC",
	"FROM", "SUBJECT", "TEXT", "TO", "KEYWORD", "UNKEYWORD", "EMAILID",
	"THREADID", "HEADER", "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON",
	"SENTSINCE", "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE", "LARGER",
	"SMALLER", "OLDER", "YOUNGER", "MODSEQ", "SEQSET", "UID"};

static void d_node(struct str *o, const struct imap_search_node *n)
{
	static const char *const types[] = {"", "priv", "shared", "all"};
	const struct imap_search_node *c;
	unsigned k = 0;
	if (n->key >= IMAP_SK_ALL && n->key <= IMAP_SK_SAVEDATESUPPORTED) {
		str_appends(o, sk_names[n->key]);
		return;
	}
	str_printf(o, "(%s", sk_names[n->key]);
	if (n->key <= IMAP_SK_NOT) {
		for (c = n->children; c != NULL; c = c->next, k++) {
			str_appendc(o, ' ');
			d_node(o, c);
		}
		EXPECT(k >= 1);
		EXPECT(n->key != IMAP_SK_OR || k == 2);
		EXPECT(n->key != IMAP_SK_NOT || k == 1);
	} else if (n->key <= IMAP_SK_THREADID) {
		str_appendc(o, ' ');
		d_str(o, &n->str);
	} else if (n->key == IMAP_SK_HEADER) {
		str_appendc(o, ' ');
		d_str(o, &n->header->name);
		str_appendc(o, ' ');
		d_str(o, &n->header->value);
	} else if (n->key <= IMAP_SK_SAVEDSINCE) {
		str_printf(o, " %lld", (long long)n->date);
	} else if (n->key <= IMAP_SK_YOUNGER) {
		str_printf(o, " %llu", (unsigned long long)n->number);
	} else if (n->key == IMAP_SK_MODSEQ) {
		if (n->modseq->type) {
			str_appendc(o, ' ');
			d_str(o, &n->modseq->flag);
			str_printf(o, " %s", types[n->modseq->type]);
		}
		str_printf(o, " %llu", (unsigned long long)n->modseq->modseq);
	} else {
		str_appendc(o, ' ');
		d_set(o, &n->set);
	}
	str_appendc(o, ')');
}

static void d_search(struct str *o, const struct imap_search *s)
{
	static const char *const cs[] = {"", "charset=US-ASCII ",
					 "charset=UTF-8 "};
	static const char *const ret[] = {"MIN", "MAX", "ALL", "COUNT",
					  "SAVE"};
	str_appends(o, cs[s->charset]);
	if (s->esearch) {
		str_appends(o, "return=");
		for (unsigned i = 0, k = 0; i < 5; i++)
			if (s->ret & (1u << i))
				str_printf(o, "%s%s", k++ ? "," : "", ret[i]);
		str_appendc(o, ' ');
	} else {
		EXPECT(s->ret == 0);
	}
	EXPECT(s->root->key == IMAP_SK_AND && s->root->next == NULL);
	d_node(o, s->root);
}

static void d_sort(struct str *o, const struct imap_sort *s)
{
	static const char *const keys[] = {
		"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
		"DISPLAYFROM", "DISPLAYTO"};
	for (unsigned i = 0; i < s->n_criteria; i++)
		str_printf(o, "%s%s%s", i ? "," : "",
			   s->criteria[i].reverse ? "-" : "",
			   keys[s->criteria[i].key]);
	str_appendc(o, ' ');
	d_search(o, &s->search);
}

static void d_bits(struct str *o, const char *label, unsigned bits,
		   const char *const *names, unsigned n)
{
	str_printf(o, " %s=", label);
	for (unsigned i = 0, k = 0; i < n; i++)
		if (bits & (1u << i))
			str_printf(o, "%s%s", k++ ? "," : "", names[i]);
	EXPECT(bits < (1u << n));
}

static const char *const status_names[] = {
	"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE",
	"RECENT", "HIGHESTMODSEQ", "APPENDLIMIT", "MAILBOXID"};

static void d_list(struct str *o, const struct imap_list *l)
{
	static const char *const sel[] = {"SUBSCRIBED", "REMOTE",
					  "RECURSIVEMATCH", "SPECIAL-USE"};
	static const char *const ret[] = {"SUBSCRIBED", "CHILDREN",
					  "SPECIAL-USE", "STATUS"};
	d_str(o, &l->reference);
	if (l->reference_raw)
		str_appends(o, "(raw)");
	for (unsigned i = 0; i < l->n_patterns; i++) {
		str_appends(o, i ? "," : " ");
		d_str(o, &l->patterns[i]);
		if (l->patterns_raw[i])
			str_appends(o, "(raw)");
	}
	EXPECT(l->n_patterns >= 1);
	if (l->extended)
		str_appends(o, " ext");
	if (l->select)
		d_bits(o, "sel", l->select, sel, 4);
	if (l->ret)
		d_bits(o, "ret", l->ret, ret, 4);
	if (l->status_items)
		d_bits(o, "status", l->status_items, status_names, 10);
	EXPECT(!l->status_items || (l->ret & IMAP_LIST_RET_STATUS));
}

static void d_select(struct str *o, const struct imap_select *s)
{
	d_str(o, &s->mailbox);
	if (s->condstore)
		str_appends(o, " condstore");
	if (s->qresync)
		str_printf(o, " qresync=%u,%llu", s->uidvalidity,
			   (unsigned long long)s->modseq);
	else
		EXPECT(s->uidvalidity == 0 && s->modseq == 0);
	if (s->known_uids.count) {
		str_appendc(o, ' ');
		d_set(o, &s->known_uids);
	}
	EXPECT((s->match_seqs.count == 0) == (s->match_uids.count == 0));
	if (s->match_seqs.count) {
		str_appends(o, " (");
		d_set(o, &s->match_seqs);
		str_appendc(o, ' ');
		d_set(o, &s->match_uids);
		str_appendc(o, ')');
	}
}

static void d_append(struct str *o, const struct imap_append *a)
{
	d_str(o, &a->mailbox);
	str_appends(o, " (");
	d_flags(o, &a->flags);
	str_appendc(o, ')');
	if (a->has_date)
		str_printf(o, " %lld%+d", (long long)a->date, a->zone);
	str_printf(o, " %s{%llu%s}%s", a->binary ? "~" : "",
		   (unsigned long long)a->size, a->nonsync ? "+" : "",
		   a->utf8 ? " utf8" : "");
}

static void d_id(struct str *o, const struct imap_id_param *ip, unsigned n)
{
	str_printf(o, "%u", n);
	for (unsigned i = 0; i < n; i++) {
		str_appendc(o, ' ');
		d_str(o, &ip[i].field);
		str_appendc(o, '=');
		d_str(o, &ip[i].value);
	}
}

/* The reader of each kind, at the start of p; results written to o. */
static int run_reader(enum kind k, struct imap_parser *p, struct str *o);

static int run_strings(enum kind k, struct imap_parser *p, struct str *o)
{
	struct imap_string s = {0}, s2 = {0};
	bool raw = false;
	int rc;
	switch (k) {
	case K_CMD:
		rc = imap_parse_tag(p, &s);
		if (rc == 1)
			rc = imap_parse_command_name(p, &s2);
		if (s.data != NULL)
			d_str(o, &s);
		else
			str_appendc(o, '*');
		if (rc == 1) {
			str_appendc(o, ' ');
			d_str(o, &s2);
		}
		return rc;
	case K_ATOM: rc = imap_parse_atom(p, &s); break;
	case K_ASTRING: rc = imap_parse_astring(p, &s); break;
	case K_STRING: rc = imap_parse_string(p, &s); break;
	case K_NSTRING: rc = imap_parse_nstring(p, &s); break;
	case K_MAILBOX: rc = imap_parse_mailbox(p, &s); break;
	case K_LISTMB: rc = imap_parse_list_mailbox(p, &s, &raw); break;
	default: return run_reader(k, p, o);
	}
	if (rc == 1)
		d_str(o, &s);
	if (rc == 1 && raw)
		str_appends(o, "(raw)");
	return rc == 1 ? imap_parse_end(p) : rc;
}

static int run_values(enum kind k, struct imap_parser *p, struct str *o)
{
	uint32_t n32;
	uint64_t n64;
	int64_t t;
	int zone, rc;
	struct imap_seqset set;
	struct imap_flags flags;
	switch (k) {
	case K_NUMBER: case K_NZ:
		rc = (k == K_NZ ? imap_parse_nz_number : imap_parse_number)(
			p, &n32);
		if (rc == 1)
			str_printf(o, "%u", n32);
		break;
	case K_NUM64: case K_NZ64:
		rc = (k == K_NZ64 ? imap_parse_nz_number64
				  : imap_parse_number64)(p, &n64);
		if (rc == 1)
			str_printf(o, "%llu", (unsigned long long)n64);
		break;
	case K_SEQSET:
		if ((rc = imap_parse_seqset(p, &set)) == 1)
			d_set(o, &set);
		break;
	case K_FLAGS:
		if ((rc = imap_parse_flag_list(p, &flags)) == 1)
			d_flags(o, &flags);
		break;
	case K_DATE:
		if ((rc = imap_parse_date(p, &t)) == 1)
			str_printf(o, "%lld", (long long)t);
		break;
	default:
		if ((rc = imap_parse_date_time(p, &t, &zone)) == 1)
			str_printf(o, "%lld %d", (long long)t, zone);
		break;
	}
	return rc == 1 ? imap_parse_end(p) : rc;
}

static int run_commands(enum kind k, struct imap_parser *p, struct str *o)
{
	struct imap_fetch f;
	struct imap_search s;
	struct imap_sort so;
	struct imap_thread th;
	int rc;
	switch (k) {
	case K_FETCH: case K_UIDFETCH:
		if ((rc = imap_fetch_parse(p, k == K_UIDFETCH, &f)) == 1)
			d_fetch(o, &f);
		return rc;
	case K_SEARCH:
		if ((rc = imap_search_parse(p, &s)) == 1)
			d_search(o, &s);
		return rc;
	case K_SORT:
		if ((rc = imap_search_parse_sort(p, &so)) == 1)
			d_sort(o, &so);
		return rc;
	default:
		rc = imap_search_parse_thread(p, &th);
		if (rc == 1) {
			str_appends(o, th.alg == IMAP_THREAD_REFERENCES
					       ? "REFERENCES "
					       : "ORDEREDSUBJECT ");
			d_search(o, &th.search);
		}
		return rc;
	}
}

static int run_args(enum kind k, struct imap_parser *p, struct str *o)
{
	static const char *const use[] = {"All", "Archive", "Drafts",
					  "Flagged", "Junk", "Sent", "Trash"};
	struct imap_store st;
	struct imap_status ss;
	struct imap_list l;
	struct imap_create c;
	struct imap_string *caps;
	unsigned n;
	int rc;
	switch (k) {
	case K_STORE:
		if ((rc = imap_args_store(p, &st)) == 1) {
			d_set(o, &st.set);
			str_printf(o, " %sFLAGS%s (",
				   (const char *[]){"", "+", "-"}[st.op],
				   st.silent ? ".SILENT" : "");
			d_flags(o, &st.flags);
			str_appendc(o, ')');
			if (st.unchangedsince)
				str_printf(o, " unchangedsince=%llu",
					   (unsigned long long)
						   st.unchangedsince_modseq);
		}
		return rc;
	case K_STATUS:
		if ((rc = imap_args_status(p, &ss)) == 1) {
			d_str(o, &ss.mailbox);
			d_bits(o, "items", ss.items, status_names, 10);
		}
		return rc;
	case K_LIST: case K_LSUB:
		rc = k == K_LIST ? imap_args_list(p, &l) : imap_args_lsub(p, &l);
		if (rc == 1)
			d_list(o, &l);
		return rc;
	case K_ENABLE:
		if ((rc = imap_args_enable(p, &caps, &n)) == 1)
			for (unsigned i = 0; i < n; i++) {
				str_appends(o, i ? " " : "");
				d_str(o, &caps[i]);
			}
		return rc;
	default:
		if ((rc = imap_args_create(p, &c)) == 1) {
			d_str(o, &c.mailbox);
			if (c.use)
				d_bits(o, "use", c.use, use, 7);
		}
		return rc;
	}
}

static int run_more_args(enum kind k, struct imap_parser *p, struct str *o)
{
	struct imap_select sel;
	struct imap_append ap;
	struct imap_id_param *ip;
	struct imap_string a, b;
	struct imap_seqset set;
	unsigned n;
	int rc;
	switch (k) {
	case K_SELECT:
		if ((rc = imap_args_select(p, &sel)) == 1)
			d_select(o, &sel);
		return rc;
	case K_APPEND:
		if ((rc = imap_args_append(p, &ap)) == 1)
			d_append(o, &ap);
		return rc;
	case K_ID:
		if ((rc = imap_args_id(p, &ip, &n)) == 1)
			d_id(o, ip, n);
		return rc;
	case K_COPY:
		if ((rc = imap_args_copy(p, &set, &a)) == 1) {
			d_set(o, &set);
			str_appendc(o, ' ');
			d_str(o, &a);
		}
		return rc;
	default:
		if (k == K_LOGIN)
			rc = imap_args_login(p, &a, &b);
		else if (k == K_AUTH)
			rc = imap_args_authenticate(p, &a, &b);
		else
			rc = imap_args_rename(p, &a, &b);
		if (rc == 1) {
			d_str(o, &a);
			str_appendc(o, ' ');
			d_str(o, &b);
		}
		return rc;
	}
}

static int run_reader(enum kind k, struct imap_parser *p, struct str *o)
{
	if (k <= K_LISTMB)
		return run_strings(k, p, o);
	if (k <= K_DATETIME)
		return run_values(k, p, o);
	if (k <= K_THREAD)
		return run_commands(k, p, o);
	if (k <= K_CREATE)
		return run_args(k, p, o);
	return run_more_args(k, p, o);
}

/* Run a case's reader over buf[0..len); the dump or the error in o. */
static int run(const struct pcase *c, const char *buf, size_t len,
	       struct str *o)
{
	struct imap_parser *p = imap_parser_new(buf, len, c->flags);
	str_clear(o);
	int rc = run_reader(c->kind, p, o);
	EXPECT(rc == 1 || rc == -1);
	EXPECT((rc == 1) == (imap_parser_error(p) == NULL));
	EXPECT(imap_parser_pos(p) <= len);
	/* What the arena holds stays within the bound of the header. */
	EXPECT(imap_parser_allocated(p) <= 32 * len + 8192);
	if (rc < 0) {
		const char *t = c->kind == K_CMD ? o->len ? o->data : "" : "";
		char tag[64];
		snprintf(tag, sizeof(tag), "%s", t);
		str_clear(o);
		str_printf(o, "%s%s%s %s",
			   imap_parser_error_reply(p) == IMAP_REPLY_NO ? "NO"
								       : "BAD",
			   c->kind == K_CMD ? " " : "", tag,
			   imap_parser_error(p));
	}
	imap_parser_free(&p);
	EXPECT(p == NULL);
	return rc;
}

/* The length is optional: T(kind, flags, in, want[, len]). */
#define T(k, f, in, want, ...) {k, f, in, want, __VA_ARGS__ + 0}

static const struct pcase cases[] = {
	/* The tag and command name (RFC 9051 9: tag, command). */
	T(K_CMD, 0, "A1 LOGIN x y", "\"A1\" \"LOGIN\""),
	T(K_CMD, 0, "a]b NOOP", "\"a]b\" \"NOOP\""),
	T(K_CMD, 0, "A1 UID FETCH", "\"A1\" \"UID\""),
	T(K_CMD, 0, "", "BAD * Missing tag"),
	T(K_CMD, 0, " NOOP", "BAD * Invalid tag"),
	T(K_CMD, 0, "+A NOOP", "BAD * Invalid tag"),
	T(K_CMD, 0, "A+ NOOP", "BAD * Invalid tag"),
	T(K_CMD, 0, "A1", "BAD \"A1\" Missing command"),
	T(K_CMD, 0, "A1 ", "BAD \"A1\" Missing command"),
	T(K_CMD, 0, "A1(NOOP", "BAD \"A1\" Missing space after tag"),
	T(K_CMD, 0, "A1\tNOOP", "BAD \"A1\" Missing space after tag"),
	T(K_CMD, 0, "A1  NOOP", "BAD \"A1\" Unexpected space"),
	T(K_CMD, 0, "A1 (x", "BAD \"A1\" Invalid command name"),
	T(K_CMD, 0, "\xc3\xa9 NOOP", "BAD * Invalid tag"),
	T(K_CMD, 0, "%1 NOOP", "BAD * Invalid tag"),

	/* atom, astring, string, nstring. */
	T(K_ATOM, 0, "abc", "\"abc\""),
	T(K_ATOM, 0, "a]b", "BAD Extra arguments"),
	T(K_ATOM, 0, "", "BAD Missing argument"),
	T(K_ATOM, 0, " a", "BAD Unexpected space"),
	T(K_ATOM, 0, "%", "BAD Invalid atom"),
	T(K_ASTRING, 0, "a]b", "\"a]b\""),
	T(K_ASTRING, 0, "NIL", "\"NIL\""),
	T(K_ASTRING, 0, "\"hello world\"", "\"hello world\""),
	T(K_ASTRING, 0, "\"\"", "\"\""),
	T(K_ASTRING, 0, "\"a\\\"b\\\\c\"", "\"a\\x22b\\x5cc\""),
	T(K_ASTRING, 0, "\"a\tb\"", "\"a\\x09b\""),
	T(K_ASTRING, 0, "\"a\\nb\"", "BAD Invalid escape in quoted string"),
	T(K_ASTRING, 0, "\"abc", "BAD Unterminated quoted string"),
	T(K_ASTRING, 0, "\"abc\\", "BAD Unterminated quoted string"),
	T(K_ASTRING, 0, "\"abc\\\"", "BAD Unterminated quoted string"),
	T(K_ASTRING, 0, "\"a\rb\"", "BAD CR, LF or NUL in quoted string"),
	T(K_ASTRING, 0, "\"a\nb\"", "BAD CR, LF or NUL in quoted string"),
	T(K_ASTRING, 0, "\"a\0b\"", "BAD CR, LF or NUL in quoted string", 5),
	T(K_ASTRING, 0, "\"caf\xc3\xa9\"",
	 "BAD 8-bit character in quoted string"),
	T(K_ASTRING, IMAP_PARSE_UTF8, "\"caf\xc3\xa9\"", "\"caf\\xc3\\xa9\""),
	T(K_ASTRING, IMAP_PARSE_UTF8, "\"\xc3\"",
	 "BAD Invalid UTF-8 in quoted string"),
	T(K_ASTRING, IMAP_PARSE_UTF8, "\"\xed\xa0\x80\"",
	 "BAD Invalid UTF-8 in quoted string"),
	T(K_ASTRING, 0, "caf\xc3\xa9", "BAD Extra arguments"),
	T(K_ASTRING, 0, "{5}\r\nhello", "\"hello\""),
	T(K_ASTRING, 0, "{5+}\r\nhello", "\"hello\""),
	T(K_ASTRING, 0, "{0}\r\n", "\"\""),
	T(K_ASTRING, 0, "{005}\r\nhe\"lo", "\"he\\x22lo\""),
	T(K_ASTRING, 0, "{3}\r\n\xff\r\n", "\"\\xff\\x0d\\x0a\""),
	T(K_ASTRING, 0, "{6}\r\nhello", "BAD Literal truncated"),
	T(K_ASTRING, 0, "{4}\r\nhello", "BAD Extra arguments"),
	T(K_ASTRING, 0, "{5}hello", "BAD Missing CRLF after literal"),
	T(K_ASTRING, 0, "{5}\nhello", "BAD Missing CRLF after literal"),
	T(K_ASTRING, 0, "{}\r\n", "BAD Invalid literal"),
	T(K_ASTRING, 0, "{+}\r\n", "BAD Invalid literal"),
	T(K_ASTRING, 0, "{5-}\r\nhello", "BAD Invalid literal"),
	T(K_ASTRING, 0, "{5", "BAD Invalid literal"),
	T(K_ASTRING, 0, "{99999999999999999999}\r\n",
	 "BAD Literal size too large"),
	T(K_ASTRING, 0, "{9223372036854775808}\r\n",
	 "BAD Literal size too large"),
	T(K_ASTRING, 0, "{9223372036854775807}\r\n", "BAD Literal truncated"),
	T(K_ASTRING, 0, "{3}\r\na\0b", "BAD NUL in literal", 8),
	T(K_ASTRING, 0, "~{3}\r\nabc", "BAD Literal8 not allowed here"),
	T(K_ASTRING, 0, "~peter", "\"~peter\""),
	T(K_ASTRING, 0, "", "BAD Missing argument"),
	T(K_ASTRING, 0, " a", "BAD Unexpected space"),
	T(K_ASTRING, 0, "(a", "BAD Invalid string"),
	T(K_STRING, 0, "abc", "BAD Expected a quoted string or literal"),
	T(K_STRING, 0, "\"abc\"", "\"abc\""),
	T(K_STRING, 0, "{1}\r\n]", "\"]\""),
	T(K_NSTRING, 0, "NIL", "NIL"),
	T(K_NSTRING, 0, "nil", "NIL"),
	T(K_NSTRING, 0, "\"NIL\"", "\"NIL\""),
	T(K_NSTRING, 0, "NILS", "BAD Expected a quoted string or literal"),

	/* Mailbox names: INBOX in any case, modified UTF-7 decoded. */
	T(K_MAILBOX, 0, "inbox", "\"INBOX\""),
	T(K_MAILBOX, 0, "\"InBoX\"", "\"INBOX\""),
	T(K_MAILBOX, 0, "INBOX.foo", "\"INBOX.foo\""),
	T(K_MAILBOX, 0, "inbox/foo", "\"INBOX/foo\""),
	T(K_MAILBOX, 0, "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	 "\"~peter/mail/\\xe5\\x8f\\xb0\\xe5\\x8c\\x97/"
	 "\\xe6\\x97\\xa5\\xe6\\x9c\\xac\\xe8\\xaa\\x9e\""),
	T(K_MAILBOX, IMAP_PARSE_UTF8, "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	 "\"~peter/mail/&U,BTFw-/&ZeVnLIqe-\""),
	T(K_MAILBOX, 0, "Entw&APw-rfe", "\"Entw\\xc3\\xbcrfe\""),
	T(K_MAILBOX, 0, "\"a&-b\"", "\"a&b\""),
	T(K_MAILBOX, 0, "&", "NO Mailbox name is not valid modified UTF-7"),
	T(K_MAILBOX, 0, "&AGE-", "NO Mailbox name is not valid modified UTF-7"),
	T(K_MAILBOX, 0, "{2}\r\n\xc3\xbc",
	 "NO Mailbox name is not valid modified UTF-7"),
	T(K_MAILBOX, 0, "\"a\tb\"", "NO Mailbox name is not valid modified UTF-7"),
	T(K_MAILBOX, IMAP_PARSE_UTF8, "\"Entw\xc3\xbcrfe\"",
	 "\"Entw\\xc3\\xbcrfe\""),
	T(K_MAILBOX, IMAP_PARSE_UTF8, "{3}\r\n\xff\xff\xff",
	 "NO Mailbox name is not valid UTF-8"),
	T(K_MAILBOX, IMAP_PARSE_UTF8, "\"a\tb\"",
	 "NO Control character in mailbox name"),
	T(K_MAILBOX, 0, "", "BAD Missing argument"),
	T(K_LISTMB, 0, "*", "\"*\""),
	T(K_LISTMB, 0, "%/foo]", "\"%/foo]\""),
	T(K_LISTMB, 0, "\"*\"", "\"*\""),
	T(K_LISTMB, 0, "inbox", "\"inbox\""),
	T(K_LISTMB, 0, "&U,BTFw-*", "\"\\xe5\\x8f\\xb0\\xe5\\x8c\\x97*\""),
	/* A pattern that is not valid modified UTF-7 (UTF-8) is kept as
	 * sent, to match names as they are written (RFC 3501 6.3.8). */
	T(K_LISTMB, 0, "a&b", "\"a&b\"(raw)"),
	T(K_LISTMB, 0, "!#$&'+,-.0123456789:;<=>?@^_`|[}%*",
	 "\"!#$&'+,-.0123456789:;<=>?@^_`|[}%*\"(raw)"),
	T(K_LISTMB, 0, "&AOk-*", "\"\\xc3\\xa9*\""),
	T(K_LISTMB, IMAP_PARSE_UTF8, "{2}\r\n\xff*", "\"\\xff*\"(raw)"),
	T(K_LISTMB, IMAP_PARSE_UTF8, "\"a\tb\"", "\"a\\x09b\"(raw)"),
	T(K_LISTMB, IMAP_PARSE_UTF8, "&U,BTFw-", "\"&U,BTFw-\""),
	T(K_LISTMB, 0, "a(b", "BAD Extra arguments"),
	T(K_LISTMB, 0, "(", "BAD Invalid mailbox pattern"),
	T(K_LISTMB, 0, "", "BAD Missing argument"),

	/* Numbers. */
	T(K_NUMBER, 0, "0", "0"),
	T(K_NUMBER, 0, "007", "7"),
	T(K_NUMBER, 0, "4294967295", "4294967295"),
	T(K_NUMBER, 0, "4294967296", "BAD Number too large"),
	T(K_NUMBER, 0, "99999999999999999999999", "BAD Number too large"),
	T(K_NUMBER, 0, "-1", "BAD Invalid number"),
	T(K_NUMBER, 0, "1a", "BAD Extra arguments"),
	T(K_NUMBER, 0, "", "BAD Missing argument"),
	T(K_NZ, 0, "1", "1"),
	T(K_NZ, 0, "0", "BAD Invalid number"),
	T(K_NZ, 0, "01", "BAD Invalid number"),
	T(K_NUM64, 0, "9223372036854775807", "9223372036854775807"),
	T(K_NUM64, 0, "9223372036854775808", "BAD Number too large"),
	T(K_NUM64, 0, "18446744073709551616", "BAD Number too large"),
	T(K_NUM64, 0, "0", "0"),
	T(K_NZ64, 0, "0", "BAD Invalid number"),
	T(K_NZ64, 0, "12345678901234", "12345678901234"),

	/* Sequence sets (RFC 9051 9, RFC 5182 "$"). */
	T(K_SEQSET, 0, "1", "1"),
	T(K_SEQSET, 0, "1:*", "1:*"),
	T(K_SEQSET, 0, "*:4", "*:4"),
	T(K_SEQSET, 0, "*", "*"),
	T(K_SEQSET, 0, "2,4:7,9,12:*", "2,4:7,9,12:*"),
	T(K_SEQSET, 0, "5:3", "5:3"),
	T(K_SEQSET, 0, "3:3", "3"),
	T(K_SEQSET, 0, "$", "$"),
	T(K_SEQSET, 0, "1,$,3:5", "1,$,3:5"),
	T(K_SEQSET, 0, "4294967295", "4294967295"),
	T(K_SEQSET, 0, "4294967296", "BAD Number too large"),
	T(K_SEQSET, 0, "0", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "1:0", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "01", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "1,", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, ",1", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "1::2", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "1:2:3", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "$:1", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "$$", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "**", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "1 2", "BAD Extra arguments"),
	T(K_SEQSET, 0, "a", "BAD Invalid sequence set"),
	T(K_SEQSET, 0, "", "BAD Missing argument"),

	/* Flag lists. */
	T(K_FLAGS, 0, "(\\Seen \\Deleted $Forwarded foo)",
	 "\\Deleted \\Seen \"$Forwarded\" \"foo\""),
	T(K_FLAGS, 0, "(\\seen \\ANSWERED \\Flagged \\Draft)",
	 "\\Answered \\Flagged \\Seen \\Draft"),
	T(K_FLAGS, 0, "()", ""),
	T(K_FLAGS, 0, "(\\Recent)", "BAD \\Recent cannot be set"),
	T(K_FLAGS, 0, "(\\Foo)", "BAD Invalid system flag"),
	T(K_FLAGS, 0, "(\\*)", "BAD Invalid flag"),
	T(K_FLAGS, 0, "(\\)", "BAD Invalid flag"),
	T(K_FLAGS, 0, "(a b", "BAD Missing ')'"),
	T(K_FLAGS, 0, "(a  b)", "BAD Unexpected space"),
	T(K_FLAGS, 0, "(a )", "BAD Invalid atom"),
	T(K_FLAGS, 0, "( a)", "BAD Unexpected space"),
	T(K_FLAGS, 0, "(a]b)", "BAD Expected ')'"),
	T(K_FLAGS, 0, "\\Seen", "BAD Missing '('"),

	/* Dates (RFC 9051 9 date, date-time). */
	T(K_DATE, 0, "1-Feb-1994", "760060800"),
	T(K_DATE, 0, "\"1-Feb-1994\"", "760060800"),
	T(K_DATE, 0, "01-feb-1994", "760060800"),
	T(K_DATE, 0, "1-FEB-1994", "760060800"),
	T(K_DATE, 0, "1-Jan-1970", "0"),
	T(K_DATE, 0, "31-Dec-1969", "-86400"),
	T(K_DATE, 0, "29-Feb-2000", "951782400"),
	T(K_DATE, 0, "1-Jan-0000", "-62167219200"),
	T(K_DATE, 0, "31-Dec-9999", "253402214400"),
	T(K_DATE, 0, "29-Feb-1900", "BAD Invalid date"),
	T(K_DATE, 0, "29-Feb-1995", "BAD Invalid date"),
	T(K_DATE, 0, "31-Apr-2000", "BAD Invalid date"),
	T(K_DATE, 0, "0-Apr-2000", "BAD Invalid date"),
	T(K_DATE, 0, "1-Foo-1994", "BAD Invalid date"),
	T(K_DATE, 0, "1-Feb-94", "BAD Invalid date"),
	T(K_DATE, 0, "1-Feb-19940", "BAD Invalid date"),
	T(K_DATE, 0, "001-Feb-1994", "BAD Invalid date"),
	T(K_DATE, 0, "\"1-Feb-1994", "BAD Invalid date"),
	T(K_DATE, 0, "\" 1-Feb-1994\"", "BAD Invalid date"),
	T(K_DATE, 0, "1-Feb-1994)", "BAD Extra arguments"),
	T(K_DATE, 0, "", "BAD Missing argument"),
	T(K_DATETIME, 0, "\"17-Jul-1996 02:44:25 -0700\"", "837596665 -420"),
	T(K_DATETIME, 0, "\" 7-Jul-1996 00:00:00 +0000\"", "836697600 0"),
	T(K_DATETIME, 0, "\"07-Jul-1996 00:00:00 +0130\"", "836692200 90"),
	T(K_DATETIME, 0, "\"7-Jul-1996 00:00:00 +0000\"", "836697600 0"),
	T(K_DATETIME, 0, "\"31-Dec-1999 23:59:60 +0000\"", "946684800 0"),
	T(K_DATETIME, 0, "\"17-Jul-1996 24:00:00 +0000\"",
	 "BAD Invalid date-time"),
	T(K_DATETIME, 0, "\"17-Jul-1996 02:60:00 +0000\"",
	 "BAD Invalid date-time"),
	T(K_DATETIME, 0, "\"17-Jul-1996 02:44:25 0700\"",
	 "BAD Invalid date-time"),
	T(K_DATETIME, 0, "\"17-Jul-1996 02:44:25 -0760\"",
	 "BAD Invalid date-time"),
	T(K_DATETIME, 0, "\"17-Jul-1996 02:44:25 -07000\"",
	 "BAD Invalid date-time"),
	T(K_DATETIME, 0, "\"17-Jul-1996 2:44:25 -0700\"",
	 "BAD Invalid date-time"),
	T(K_DATETIME, 0, "\" 17-Jul-1996 02:44:25 -0700\"",
	 "BAD Invalid date-time"),
	T(K_DATETIME, 0, "\"17-Jul-1996  02:44:25 -0700\"",
	 "BAD Invalid date-time"),
	T(K_DATETIME, 0, "\"17-Jul-1996 02:44:25 -0700",
	 "BAD Invalid date-time"),
	T(K_DATETIME, 0, "17-Jul-1996", "BAD Invalid date-time"),
	T(K_DATETIME, 0, "", "BAD Missing argument"),

	/* FETCH (RFC 9051 6.4.5 and its examples, RFC 3501's). */
	T(K_FETCH, 0, " 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])",
	 "2:4 FLAGS BODY[HEADER.FIELDS (\"DATE\" \"FROM\")]"),
	T(K_FETCH, 0, " 1 ALL", "1 FLAGS INTERNALDATE RFC822.SIZE ENVELOPE"),
	T(K_FETCH, 0, " 1 fast", "1 FLAGS INTERNALDATE RFC822.SIZE"),
	T(K_FETCH, 0, " 1 FULL",
	 "1 FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY"),
	T(K_FETCH, 0, " 1 (ALL)", "BAD Invalid FETCH attribute"),
	T(K_FETCH, 0, " 12 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)",
	 "12 FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY"),
	T(K_FETCH, 0, " 1:* (UID BODYSTRUCTURE MODSEQ EMAILID THREADID "
		     "SAVEDATE)",
	 "1:* UID BODYSTRUCTURE MODSEQ EMAILID THREADID SAVEDATE"),
	T(K_FETCH, 0, " 1 (RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE)",
	 "1 RFC822=BODY[] RFC822.HEADER=BODY.PEEK[HEADER] "
	 "RFC822.TEXT=BODY[TEXT] RFC822.SIZE"),
	/* Outlook's whole message without \Seen (RFC 1730's name). */
	T(K_FETCH, 0, " 7 (UID RFC822.SIZE RFC822.peek)",
	 "7 UID RFC822.SIZE RFC822=BODY.PEEK[]"),
	T(K_FETCH, 0, " 1 body[]", "1 BODY[]"),
	T(K_FETCH, 0, " 1 BODY.PEEK[]<0.1024>", "1 BODY.PEEK[]<0.1024>"),
	T(K_FETCH, 0, " 1 BODY[1.2.3.MIME]", "1 BODY[1.2.3.MIME]"),
	T(K_FETCH, 0, " 1 BODY[1.2.3]", "1 BODY[1.2.3]"),
	T(K_FETCH, 0, " 1 BODY[4.2.TEXT]<5.10>", "1 BODY[4.2.TEXT]<5.10>"),
	T(K_FETCH, 0, " 1 BODY[1.HEADER.FIELDS.NOT (Subject \"X-A\")]",
	 "1 BODY[1.HEADER.FIELDS.NOT (\"Subject\" \"X-A\")]"),
	T(K_FETCH, 0, " 1 BODY[header]", "1 BODY[HEADER]"),
	T(K_FETCH, 0, " 1 BODY[TEXT]<9223372036854775807.9223372036854775807>",
	 "1 BODY[TEXT]<9223372036854775807.9223372036854775807>"),
	T(K_FETCH, 0, " 1 BODY[MIME]", "BAD Invalid section"),
	T(K_FETCH, 0, " 1 BODY[0]", "BAD Invalid section"),
	T(K_FETCH, 0, " 1 BODY[1.0]", "BAD Invalid section"),
	T(K_FETCH, 0, " 1 BODY[1.]", "BAD Invalid section"),
	T(K_FETCH, 0, " 1 BODY[1.FOO]", "BAD Invalid section"),
	T(K_FETCH, 0, " 1 BODY[HEADER.FIELDS]", "BAD Missing space"),
	T(K_FETCH, 0, " 1 BODY[HEADER.FIELDS ()]", "BAD Invalid string"),
	T(K_FETCH, 0, " 1 BODY[HEADER.FIELDS (a b]", "BAD Missing ')'"),
	T(K_FETCH, 0, " 1 BODY[HEADER.FIELDS (a b)", "BAD Invalid section"),
	T(K_FETCH, 0, " 1 BODY[TEXT", "BAD Invalid section"),
	T(K_FETCH, 0, " 1 BODY.PEEK", "BAD Missing section"),
	T(K_FETCH, 0, " 1 BODY[]<0.0>", "BAD Invalid partial"),
	T(K_FETCH, 0, " 1 BODY[]<5>", "BAD Invalid partial"),
	T(K_FETCH, 0, " 1 BODY[]<5.01>", "BAD Invalid partial"),
	T(K_FETCH, 0, " 1 BODY[]<x.1>", "BAD Invalid partial"),
	T(K_FETCH, 0, " 1 BODY[]<1.1", "BAD Invalid partial"),
	T(K_FETCH, 0, " 1 BODY[]<1.99999999999999999999>",
	  "BAD Number too large"),
	T(K_FETCH, 0, " 1 (BODY BODY[])", "1 BODY BODY[]"),
	T(K_FETCH, 0, " 1 BINARY[1]", "1 BINARY[1]"),
	T(K_FETCH, 0, " 1 BINARY[]", "1 BINARY[]"),
	T(K_FETCH, 0, " 1 BINARY.PEEK[1.2]<0.10>", "1 BINARY.PEEK[1.2]<0.10>"),
	T(K_FETCH, 0, " 1 BINARY.SIZE[1]", "1 BINARY.SIZE[1]"),
	T(K_FETCH, 0, " 1 BINARY[TEXT]", "BAD Invalid section"),
	T(K_FETCH, 0, " 1 BINARY[1.MIME]", "BAD Invalid section"),
	T(K_FETCH, 0, " 1 BINARY.SIZE[1]<0.1>", "BAD Missing space"),
	T(K_FETCH, 0, " 1 (PREVIEW)", "1 PREVIEW"),
	T(K_FETCH, 0, " 1 (PREVIEW (LAZY) FLAGS)", "1 PREVIEW (LAZY) FLAGS"),
	T(K_FETCH, 0, " 1 PREVIEW (lazy)", "1 PREVIEW (LAZY)"),
	T(K_FETCH, 0, " 1 (PREVIEW (LAZY FOO))", "BAD Invalid PREVIEW modifier"),
	T(K_FETCH, 0, " 1 (PREVIEW (FUZZY))", "BAD Invalid FETCH attribute"),
	T(K_FETCH, 0, " 1:* (UID FLAGS) (CHANGEDSINCE 12345)",
	 "1:* UID FLAGS changedsince=12345"),
	T(K_FETCH, 0, " 1 FLAGS (changedsince 1)", "1 FLAGS changedsince=1"),
	T(K_FETCH, 0, " 1 FLAGS (CHANGEDSINCE 0)", "BAD Invalid mod-sequence"),
	T(K_FETCH, 0, " 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
	 "BAD Invalid FETCH modifier"),
	T(K_UIDFETCH, 0, " 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
	 "300:500 FLAGS changedsince=12345 vanished"),
	T(K_FETCH, 0, " 1 FLAGS (CHANGEDSINCE 1 VANISHED)",
	 "BAD VANISHED needs UID FETCH"),
	T(K_UIDFETCH, 0, " 1 FLAGS (VANISHED)", "BAD VANISHED needs CHANGEDSINCE"),
	T(K_FETCH, 0, " 1 FLAGS (FOO 1)", "BAD Invalid FETCH modifier"),
	T(K_FETCH, 0, " 1 FLAGS ()", "BAD Invalid FETCH modifier"),
	T(K_FETCH, 0, " 1 FOO", "BAD Invalid FETCH attribute"),
	T(K_FETCH, 0, " 1 FLAGSX", "BAD Invalid FETCH attribute"),
	T(K_FETCH, 0, " 1 (FLAGS", "BAD Missing ')'"),
	T(K_FETCH, 0, " 1 (FLAGS )", "BAD Invalid FETCH attribute"),
	T(K_FETCH, 0, " 1 ()", "BAD Invalid FETCH attribute"),
	T(K_FETCH, 0, " 1  FLAGS", "BAD Invalid FETCH attribute"),
	T(K_FETCH, 0, " 1 FLAGS ", "BAD Missing argument"),
	T(K_FETCH, 0, " 1", "BAD Missing argument"),
	T(K_FETCH, 0, " 1 ", "BAD Missing argument"),
	T(K_FETCH, 0, "", "BAD Missing argument"),
	T(K_FETCH, 0, "1 FLAGS", "BAD Missing space"),
	T(K_FETCH, 0, " 0 FLAGS", "BAD Invalid sequence set"),

	/* STORE (RFC 9051 6.4.6, RFC 7162 3.1.3). */
	T(K_STORE, 0, " 2:4 +FLAGS (\\Deleted)", "2:4 +FLAGS (\\Deleted)"),
	T(K_STORE, 0, " 1 FLAGS.SILENT (\\Seen $Forwarded)",
	 "1 FLAGS.SILENT (\\Seen \"$Forwarded\")"),
	T(K_STORE, 0, " 1 -flags \\Seen \\Flagged",
	 "1 -FLAGS (\\Flagged \\Seen)"),
	T(K_STORE, 0, " 1 FLAGS ()", "1 FLAGS ()"),
	T(K_STORE, 0, " 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT "
		     "(\\Deleted)",
	 "7,5,9 +FLAGS.SILENT (\\Deleted) unchangedsince=320162338"),
	T(K_STORE, 0, " 1 (UNCHANGEDSINCE 0) FLAGS ()",
	 "1 FLAGS () unchangedsince=0"),
	T(K_STORE, 0, " 1 +FLAGS (\\Recent)", "BAD \\Recent cannot be set"),
	T(K_STORE, 0, " 1 +FLAGS \\Recent", "BAD \\Recent cannot be set"),
	T(K_STORE, 0, " 1 *FLAGS (a)", "BAD Invalid STORE data item"),
	T(K_STORE, 0, " 1 FLAGS.SILENTX (a)", "BAD Invalid STORE data item"),
	T(K_STORE, 0, " 1 FLAGS", "BAD Missing argument"),
	T(K_STORE, 0, " 1 FLAGS ", "BAD Missing argument"),
	T(K_STORE, 0, " 1 FLAGS a ", "BAD Missing argument"),
	T(K_STORE, 0, " 1 FLAGS (a) b", "BAD Extra arguments"),
	T(K_STORE, 0, " 1 (FOO 1) FLAGS (a)", "BAD Invalid STORE modifier"),
	T(K_STORE, 0, " 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS (a)",
	 "BAD Invalid STORE modifier"),

	/* SEARCH (RFC 9051 6.4.4 and its examples). */
	T(K_SEARCH, 0, " FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
	 "(AND FLAGGED (SINCE 760060800) (NOT (FROM \"Smith\")))"),
	T(K_SEARCH, 0, " TEXT \"string not in mailbox\"",
	 "(AND (TEXT \"string not in mailbox\"))"),
	T(K_SEARCH, 0, " CHARSET UTF-8 TEXT {4}\r\nXXXX",
	 "charset=UTF-8 (AND (TEXT \"XXXX\"))"),
	T(K_SEARCH, 0, " CHARSET \"us-ascii\" ALL",
	 "charset=US-ASCII (AND ALL)"),
	T(K_SEARCH, 0, " CHARSET ISO-8859-1 ALL",
	 "NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset"),
	T(K_SEARCH, 0, " RETURN (MIN COUNT) UNSEEN",
	 "return=MIN,COUNT (AND UNSEEN)"),
	T(K_SEARCH, 0, " RETURN () ALL", "return=ALL (AND ALL)"),
	T(K_SEARCH, 0, " RETURN (SAVE MAX ALL) 1:5",
	 "return=MAX,ALL,SAVE (AND (SEQSET 1:5))"),
	T(K_SEARCH, 0, " RETURN (SAVE) CHARSET UTF-8 ALL",
	 "charset=UTF-8 return=SAVE (AND ALL)"),
	T(K_SEARCH, 0, " RETURN (FOO) ALL", "BAD Unknown RETURN option"),
	T(K_SEARCH, 0, " RETURN (ALL)", "BAD Missing argument"),
	T(K_SEARCH, 0, " RETURN", "BAD Unknown search key"),
	T(K_SEARCH, 0, " OR SEEN (DELETED 1:5)",
	 "(AND (OR SEEN (AND DELETED (SEQSET 1:5))))"),
	T(K_SEARCH, 0, " NOT NOT SEEN", "(AND (NOT (NOT SEEN)))"),
	T(K_SEARCH, 0, " OR OR A1 A2 A3", "BAD Unknown search key"),
	T(K_SEARCH, 0, " HEADER X-Foo bar",
	 "(AND (HEADER \"X-Foo\" \"bar\"))"),
	T(K_SEARCH, 0, " HEADER \"Message-ID\" \"<x@y>\"",
	 "(AND (HEADER \"Message-ID\" \"<x@y>\"))"),
	T(K_SEARCH, 0, " HEADER X-Foo", "BAD Missing argument"),
	T(K_SEARCH, 0, " LARGER 1000 SMALLER 9223372036854775807",
	 "(AND (LARGER 1000) (SMALLER 9223372036854775807))"),
	T(K_SEARCH, 0, " UID 1:*,$ $ 2",
	 "(AND (UID 1:*,$) (SEQSET $) (SEQSET 2))"),
	T(K_SEARCH, 0, " MODSEQ 12345", "(AND (MODSEQ 12345))"),
	T(K_SEARCH, 0, " MODSEQ \"/flags/\\\\draft\" all 620162338",
	 "(AND (MODSEQ \"\\x5cdraft\" all 620162338))"),
	T(K_SEARCH, 0, " MODSEQ \"/FLAGS/$Junk\" PRIV 0",
	 "(AND (MODSEQ \"$Junk\" priv 0))"),
	T(K_SEARCH, 0, " MODSEQ \"/flags/x\" shared 5",
	 "(AND (MODSEQ \"x\" shared 5))"),
	T(K_SEARCH, 0, " MODSEQ \"/foo/x\" all 5",
	 "BAD Invalid MODSEQ entry name"),
	T(K_SEARCH, 0, " MODSEQ \"/flags/\" all 5",
	 "BAD Invalid MODSEQ entry name"),
	T(K_SEARCH, 0, " MODSEQ \"/flags/a b\" all 5",
	 "BAD Invalid MODSEQ entry name"),
	T(K_SEARCH, 0, " MODSEQ \"/flags/\\\\draft\" bogus 5",
	 "BAD Invalid MODSEQ entry type"),
	T(K_SEARCH, 0, " MODSEQ \"/flags/\\\\draft\" all", "BAD Missing argument"),
	T(K_SEARCH, 0, " MODSEQ x", "BAD Invalid number"),
	T(K_SEARCH, 0, " KEYWORD $Forwarded UNKEYWORD foo",
	 "(AND (KEYWORD \"$Forwarded\") (UNKEYWORD \"foo\"))"),
	T(K_SEARCH, 0, " KEYWORD \\Seen", "BAD Invalid atom"),
	T(K_SEARCH, 0, " SENTBEFORE 1-Jan-2000 SENTON 2-Jan-2000 SENTSINCE "
		      "3-Jan-2000 BEFORE 4-Jan-2000 ON 5-Jan-2000 SAVEDBEFORE "
		      "6-Jan-2000 SAVEDON 7-Jan-2000 SAVEDSINCE 8-Jan-2000 "
		      "SAVEDATESUPPORTED",
	 "(AND (SENTBEFORE 946684800) (SENTON 946771200) (SENTSINCE "
	 "946857600) (BEFORE 946944000) (ON 947030400) (SAVEDBEFORE "
	 "947116800) (SAVEDON 947203200) (SAVEDSINCE 947289600) "
	 "SAVEDATESUPPORTED)"),
	T(K_SEARCH, 0, " EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9",
	 "(AND (EMAILID \"M6d99ac3275bb4e\") (THREADID \"T64b478a75b7ea9\"))"),
	T(K_SEARCH, 0, " EMAILID a.b", "BAD Invalid object id"),
	T(K_SEARCH, 0, " EMAILID Mb-dd_x", "(AND (EMAILID \"Mb-dd_x\"))"),
	T(K_SEARCH, 0, " NOT THREADID T1 SAVEDSINCE 1-Feb-2024",
	 "(AND (NOT (THREADID \"T1\")) (SAVEDSINCE 1706745600))"),
	T(K_SEARCH, 0, " EMAILID", "BAD Missing argument"),
	T(K_SEARCH, 0, " OLDER 3600 YOUNGER 60",
	 "(AND (OLDER 3600) (YOUNGER 60))"),
	T(K_SEARCH, 0, " OLDER 0", "BAD Invalid number"),
	T(K_SEARCH, 0, " new old recent answered deleted draft unanswered "
		      "undeleted undraft unflagged unseen seen all",
	 "(AND NEW OLD RECENT ANSWERED DELETED DRAFT UNANSWERED UNDELETED "
	 "UNDRAFT UNFLAGGED UNSEEN SEEN ALL)"),
	T(K_SEARCH, 0, " BCC a CC b TO c SUBJECT \"d e\" BODY {1}\r\nf",
	 "(AND (BCC \"a\") (CC \"b\") (TO \"c\") (SUBJECT \"d e\") "
	 "(BODY \"f\"))"),
	T(K_SEARCH, IMAP_PARSE_UTF8, " SUBJECT \"\xc3\xa9t\xc3\xa9\"",
	 "(AND (SUBJECT \"\\xc3\\xa9t\\xc3\\xa9\"))"),
	T(K_SEARCH, 0, " SUBJECT \"\xc3\xa9t\xc3\xa9\"",
	 "BAD 8-bit character in quoted string"),
	T(K_SEARCH, 0, " ((SEEN) (1 2))",
	 "(AND (AND (AND SEEN) (AND (SEQSET 1) (SEQSET 2))))"),
	T(K_SEARCH, 0, "", "BAD Missing argument"),
	T(K_SEARCH, 0, " ", "BAD Missing search key"),
	T(K_SEARCH, 0, "ALL", "BAD Missing space"),
	T(K_SEARCH, 0, " FOO", "BAD Unknown search key"),
	T(K_SEARCH, 0, " ALLX", "BAD Unknown search key"),
	T(K_SEARCH, 0, " ALL ", "BAD Missing search key"),
	T(K_SEARCH, 0, " ALL  SEEN", "BAD Unexpected space"),
	T(K_SEARCH, 0, " (ALL", "BAD Missing ')'"),
	T(K_SEARCH, 0, " ALL)", "BAD Extra arguments"),
	T(K_SEARCH, 0, " ()", "BAD Unknown search key"),
	T(K_SEARCH, 0, " OR SEEN", "BAD Missing argument"),
	T(K_SEARCH, 0, " NOT", "BAD Missing argument"),
	T(K_SEARCH, 0, " SINCE 30-Feb-2000", "BAD Invalid date"),
	T(K_SEARCH, 0, " SINCE", "BAD Missing argument"),
	T(K_SEARCH, 0, " LARGER -1", "BAD Invalid number"),
	T(K_SEARCH, 0, " UID ALL", "BAD Invalid sequence set"),
	T(K_SEARCH, 0, " CHARSET", "BAD Unknown search key"),
	T(K_SEARCH, 0, " CHARSET UTF-8", "BAD Missing argument"),

	/* SORT and THREAD (RFC 5256 examples, RFC 5957, RFC 5267). */
	T(K_SORT, 0, " (SUBJECT) UTF-8 SINCE 1-Feb-1994",
	 "SUBJECT charset=UTF-8 (AND (SINCE 760060800))"),
	T(K_SORT, 0, " (SUBJECT REVERSE DATE) UTF-8 ALL",
	 "SUBJECT,-DATE charset=UTF-8 (AND ALL)"),
	T(K_SORT, 0, " (ARRIVAL CC FROM SIZE TO DISPLAYFROM reverse DISPLAYTO) "
		    "us-ascii ALL",
	 "ARRIVAL,CC,FROM,SIZE,TO,DISPLAYFROM,-DISPLAYTO charset=US-ASCII "
	 "(AND ALL)"),
	T(K_SORT, 0, " RETURN (COUNT) (DATE) UTF-8 ALL",
	 "DATE charset=UTF-8 return=COUNT (AND ALL)"),
	T(K_SORT, 0, " (REVERSE REVERSE DATE) UTF-8 ALL",
	 "BAD Unknown sort criterion"),
	T(K_SORT, 0, " () UTF-8 ALL", "BAD Unknown sort criterion"),
	T(K_SORT, 0, " (DATE) ALL",
	 "NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset"),
	T(K_SORT, 0, " (DATE) UTF-8", "BAD Missing argument"),
	T(K_SORT, 0, " DATE UTF-8 ALL", "BAD Missing '('"),
	T(K_THREAD, 0, " ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000",
	 "ORDEREDSUBJECT charset=UTF-8 (AND (SINCE 952214400))"),
	T(K_THREAD, 0, " references US-ASCII ALL",
	 "REFERENCES charset=US-ASCII (AND ALL)"),
	T(K_THREAD, 0, " FOO UTF-8 ALL", "BAD Unknown THREAD algorithm"),
	T(K_THREAD, 0, " ", "BAD Missing argument"),

	/* LIST and LSUB (RFC 9051 6.3.9, RFC 5258 examples, RFC 5819). */
	T(K_LIST, 0, " \"\" *", "\"\" \"*\""),
	T(K_LIST, 0, " \"\" \"\"", "\"\" \"\""),
	T(K_LIST, 0, " ~/Mail/ %", "\"~/Mail/\" \"%\""),
	T(K_LIST, 0, " #news.comp.mail.misc \"\"",
	 "\"#news.comp.mail.misc\" \"\""),
	T(K_LIST, 0, " (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN)",
	 "\"\" \"*\" ext sel=SUBSCRIBED ret=CHILDREN"),
	T(K_LIST, 0, " (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"",
	 "\"\" \"%\" ext sel=SUBSCRIBED,RECURSIVEMATCH"),
	T(K_LIST, 0, " (SPECIAL-USE RECURSIVEMATCH REMOTE) \"\" \"%\"",
	 "\"\" \"%\" ext sel=REMOTE,RECURSIVEMATCH,SPECIAL-USE"),
	T(K_LIST, 0, " (RECURSIVEMATCH) \"\" *",
	 "BAD RECURSIVEMATCH needs another option"),
	T(K_LIST, 0, " (REMOTE RECURSIVEMATCH) \"\" *",
	 "BAD RECURSIVEMATCH needs another option"),
	T(K_LIST, 0, " () \"\" (\"INBOX\" Drafts %/x)",
	 "\"\" \"INBOX\",\"Drafts\",\"%/x\" ext"),
	T(K_LIST, 0, " \"\" (\"*\")", "\"\" \"*\" ext"),
	T(K_LIST, 0, " \"\" * RETURN (STATUS (MESSAGES UNSEEN) SPECIAL-USE "
		    "SUBSCRIBED)",
	 "\"\" \"*\" ext ret=SUBSCRIBED,SPECIAL-USE,STATUS "
	 "status=MESSAGES,UNSEEN"),
	T(K_LIST, 0, " \"\" * RETURN ()", "\"\" \"*\" ext"),
	T(K_LIST, 0, " \"\" * RETURN (STATUS ())", "BAD Unknown STATUS item"),
	T(K_LIST, 0, " \"\" * RETURN (STATUS)", "BAD Missing space"),
	T(K_LIST, 0, " (FOO) \"\" *", "BAD Unknown LIST option"),
	T(K_LIST, 0, " (SUBSCRIBED ) \"\" *", "BAD Unknown LIST option"),
	T(K_LIST, 0, " \"\" * RETURN (FOO)", "BAD Unknown LIST return option"),
	T(K_LIST, 0, " \"\" * EXTRA", "BAD Extra arguments"),
	T(K_LIST, 0, " \"\" () ", "BAD Invalid mailbox pattern"),
	T(K_LIST, 0, " \"\"", "BAD Missing argument"),
	T(K_LIST, 0, " & *", "\"&\"(raw) \"*\""),
	T(K_LIST, 0, " \"\" (% &x)", "\"\" \"%\",\"&x\"(raw) ext"),
	T(K_LSUB, 0, " &- &", "\"&\" \"&\"(raw)"),
	T(K_LSUB, 0, " \"#news.\" \"comp.mail.*\"",
	 "\"#news.\" \"comp.mail.*\""),
	T(K_LSUB, 0, " \"\" (*)", "BAD Invalid mailbox pattern"),

	/* STATUS (RFC 9051 6.3.11). */
	T(K_STATUS, 0, " blurdybloop (UIDNEXT MESSAGES)",
	 "\"blurdybloop\" items=MESSAGES,UIDNEXT"),
	T(K_STATUS, 0, " inbox (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED "
		      "SIZE RECENT HIGHESTMODSEQ APPENDLIMIT MAILBOXID)",
	 "\"INBOX\" items=MESSAGES,UIDNEXT,UIDVALIDITY,UNSEEN,DELETED,SIZE,"
	 "RECENT,HIGHESTMODSEQ,APPENDLIMIT,MAILBOXID"),
	T(K_STATUS, 0, " INBOX ()", "BAD Unknown STATUS item"),
	T(K_STATUS, 0, " INBOX (FOO)", "BAD Unknown STATUS item"),
	T(K_STATUS, 0, " INBOX MESSAGES", "BAD Missing '('"),
	T(K_STATUS, 0, " INBOX", "BAD Missing argument"),

	/* SELECT / EXAMINE (RFC 7162 examples). */
	T(K_SELECT, 0, " INBOX", "\"INBOX\""),
	T(K_SELECT, 0, " inbox (CONDSTORE)", "\"INBOX\" condstore"),
	T(K_SELECT, 0, " INBOX (QRESYNC (67890007 20050715194045000 "
		      "41,43:211,214:541))",
	 "\"INBOX\" qresync=67890007,20050715194045000 41,43:211,214:541"),
	T(K_SELECT, 0, " INBOX (QRESYNC (67890007 90060115194045000 1:29997 "
		      "(5000,7500,9000,9990:9999 15000,22500,27000,29970)))",
	 "\"INBOX\" qresync=67890007,90060115194045000 1:29997 "
	 "(5000,7500,9000,9990:9999 15000,22500,27000,29970)"),
	T(K_SELECT, 0, " INBOX (QRESYNC (1 2 (3 4)) CONDSTORE)",
	 "\"INBOX\" condstore qresync=1,2 (3 4)"),
	T(K_SELECT, 0, " INBOX (QRESYNC (1 2))", "\"INBOX\" qresync=1,2"),
	T(K_SELECT, 0, " INBOX (QRESYNC (67890007 1 1:*))",
	 "BAD Invalid QRESYNC set"),
	T(K_SELECT, 0, " INBOX (QRESYNC (1 2 $))", "BAD Invalid QRESYNC set"),
	T(K_SELECT, 0, " INBOX (QRESYNC (1 2 3 ))", "BAD Expected ')'"),
	T(K_SELECT, 0, " INBOX (QRESYNC (1 2 (3)))", "BAD Missing space"),
	T(K_SELECT, 0, " INBOX (QRESYNC (0 1))", "BAD Invalid number"),
	T(K_SELECT, 0, " INBOX (QRESYNC (1 0))", "BAD Invalid mod-sequence"),
	T(K_SELECT, 0, " INBOX (CONDSTORE CONDSTORE)",
	 "BAD Invalid SELECT parameter"),
	T(K_SELECT, 0, " INBOX ()", "BAD Invalid SELECT parameter"),
	T(K_SELECT, 0, " INBOX (CONDSTORE", "BAD Missing ')'"),
	T(K_SELECT, 0, " INBOX x", "BAD Missing '('"),
	T(K_SELECT, 0, " INBOX ", "BAD Missing argument"),

	/* APPEND up to the message's literal (RFC 9051 6.3.12). */
	T(K_APPEND, 0, " saved-messages (\\Seen) {310}",
	 "\"saved-messages\" (\\Seen) {310}"),
	T(K_APPEND, 0, " INBOX {5+}", "\"INBOX\" () {5+}"),
	T(K_APPEND, 0, " INBOX {0}", "\"INBOX\" () {0}"),
	T(K_APPEND, 0, " INBOX \"17-Jul-1996 02:44:25 -0700\" {10}",
	 "\"INBOX\" () 837596665-420 {10}"),
	T(K_APPEND, 0, " INBOX (\\Seen $x) \"17-Jul-1996 02:44:25 +0000\" "
		      "~{10}",
	 "\"INBOX\" (\\Seen \"$x\") 837571465+0 ~{10}"),
	T(K_APPEND, 0, " Drafts UTF8 (~{10+}", "\"Drafts\" () ~{10+} utf8"),
	T(K_APPEND, 0, " {6}\r\nDrafts () {3}", "\"Drafts\" () {3}"),
	T(K_APPEND, 0, " INBOX UTF8 ({10}", "BAD UTF8 needs (~{n}"),
	T(K_APPEND, 0, " INBOX {5} x", "BAD Literal must end the line"),
	T(K_APPEND, 0, " INBOX {5}\r\nhello", "BAD Literal must end the line"),
	T(K_APPEND, 0, " INBOX {}", "BAD Invalid literal"),
	T(K_APPEND, 0, " INBOX {99999999999999999999}",
	 "BAD Literal size too large"),
	T(K_APPEND, 0, " INBOX", "BAD Missing argument"),
	T(K_APPEND, 0, " INBOX x", "BAD Expected a literal"),
	T(K_APPEND, 0, " INBOX (\\Recent) {1}", "BAD \\Recent cannot be set"),
	T(K_APPEND, 0, " INBOX \"bad date\" {3}", "BAD Invalid date-time"),
	T(K_APPEND, 0, " INBOX \"17-Jul-1996 02:44:25 -0700\" (\\Seen) {3}",
	 "BAD Expected a literal"),

	/* ENABLE, ID, CREATE. */
	T(K_ENABLE, 0, " CONDSTORE QRESYNC", "\"CONDSTORE\" \"QRESYNC\""),
	T(K_ENABLE, 0, " UTF8=ACCEPT", "\"UTF8=ACCEPT\""),
	T(K_ENABLE, 0, "", "BAD Missing argument"),
	T(K_ENABLE, 0, " X ", "BAD Missing argument"),
	T(K_ENABLE, 0, " (X)", "BAD Invalid atom"),
	T(K_ID, 0, " (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" "
		  "\"Pink Floyd Music Limited\")",
	 "3 \"name\"=\"sodr\" \"version\"=\"19.34\" "
	 "\"vendor\"=\"Pink Floyd Music Limited\""),
	T(K_ID, 0, " NIL", "0"),
	T(K_ID, 0, " ()", "0"),
	T(K_ID, 0, " (\"a\" NIL)", "1 \"a\"=NIL"),
	T(K_ID, 0, " (\"a\")", "BAD Missing space"),
	T(K_ID, 0, " (\"a\" \"b\" )", "BAD Expected a quoted string or literal"),
	T(K_ID, 0, " (a b)", "BAD Expected a quoted string or literal"),
	T(K_ID, 0, " (\"0123456789012345678901234567890\" \"b\")",
	 "BAD ID field name too long"),
	T(K_ID, 0, " (\"012345678901234567890123456789\" \"b\")",
	 "1 \"012345678901234567890123456789\"=\"b\""),
	T(K_ID, 0, " NIL x", "BAD Extra arguments"),
	T(K_CREATE, 0, " owatagusiam/", "\"owatagusiam/\""),
	T(K_CREATE, 0, " Foo (USE (\\Sent))", "\"Foo\" use=Sent"),
	T(K_CREATE, 0, " Foo (USE (\\drafts \\Junk \\All \\Archive \\Flagged "
		      "\\Trash))",
	 "\"Foo\" use=All,Archive,Drafts,Flagged,Junk,Trash"),
	T(K_CREATE, 0, " Foo (USE ())", "\"Foo\""),
	T(K_CREATE, 0, " Foo (USE (\\Important))",
	 "NO [USEATTR] Unsupported special-use attribute"),
	T(K_CREATE, 0, " Foo (USE (Sent))", "BAD Invalid special-use attribute"),
	T(K_CREATE, 0, " Foo (USE (\\Sent )", "BAD Invalid special-use attribute"),
	T(K_CREATE, 0, " Foo (FOO)", "BAD Invalid CREATE parameter"),
	T(K_CREATE, 0, " Foo ()", "BAD Invalid CREATE parameter"),
	T(K_CREATE, 0, " Foo (USE (\\Sent)) x", "BAD Extra arguments"),

	/* LOGIN, AUTHENTICATE, COPY, RENAME. */
	T(K_LOGIN, 0, " SMITH SESAME", "\"SMITH\" \"SESAME\""),
	T(K_LOGIN, 0, " {5}\r\nalice {6+}\r\nsecret", "\"alice\" \"secret\""),
	T(K_LOGIN, 0, " \"fred foobar\" \"fat fingers\"",
	 "\"fred foobar\" \"fat fingers\""),
	T(K_LOGIN, 0, " a", "BAD Missing argument"),
	T(K_LOGIN, 0, " a b c", "BAD Extra arguments"),
	T(K_LOGIN, 0, " a {7}\r\nsecret", "BAD Literal truncated"),
	T(K_AUTH, 0, " PLAIN", "\"PLAIN\" NIL"),
	T(K_AUTH, 0, " PLAIN dGVzdAB0ZXN0AHRlc3Q=",
	 "\"PLAIN\" \"dGVzdAB0ZXN0AHRlc3Q=\""),
	T(K_AUTH, 0, " PLAIN =", "\"PLAIN\" \"=\""),
	T(K_AUTH, 0, " PLAIN abc", "BAD Invalid BASE64"),
	T(K_AUTH, 0, " PLAIN a=bc", "BAD Invalid BASE64"),
	T(K_AUTH, 0, " PLAIN a===", "BAD Invalid BASE64"),
	T(K_AUTH, 0, " PLAIN eHl6 y", "BAD Extra arguments"),
	T(K_COPY, 0, " 2:4 MEETING", "2:4 \"MEETING\""),
	T(K_COPY, 0, " 2:4", "BAD Missing argument"),
	T(K_RENAME, 0, " blurdybloop sarasoop",
	 "\"blurdybloop\" \"sarasoop\""),
	T(K_RENAME, 0, " Foo inbox", "\"Foo\" \"INBOX\""),
};

static void run_case(const struct pcase *c)
{
	struct str o = STR_INIT;
	size_t len = c->len ? c->len : strlen(c->in);
	char *buf = exact(c->in, len);
	cur = c->in;
	run(c, buf, len, &o);
	EXPECT_STR(o.len ? o.data : "", c->want);
	free(buf);
	str_free(&o);
}

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* Every case cut short at every length: no read past the end (ASan), an
 * answer either way, and the bounds of run() hold. */
static void test_truncated(void **state)
{
	struct str o = STR_INIT;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *c = &cases[i];
		size_t full = c->len ? c->len : strlen(c->in);
		for (size_t len = 0; len < full; len++) {
			char *buf = exact(c->in, len);
			cur = c->in;
			run(c, buf, len, &o);
			free(buf);
		}
	}
	str_free(&o);
}

struct lit_case {
	const char *line;
	int rc;
	uint64_t n;
	bool nonsync, binary;
};

static void test_literal_end(void **state)
{
	static const struct lit_case t[] = {
		{"A1 LOGIN {5}", 1, 5, false, false},
		{"A1 LOGIN {5+}", 1, 5, true, false},
		{"A1 APPEND INBOX ~{5}", 1, 5, false, true},
		{"A1 APPEND INBOX ~{5+}", 1, 5, true, true},
		{"{0}", 1, 0, false, false},
		{"{000000000000000000000000005}", 1, 5, false, false},
		{"{9223372036854775807}", 1, 9223372036854775807ull, false,
		 false},
		{"{9223372036854775808}", -1, 0, false, false},
		{"{99999999999999999999999}", -1, 0, false, false},
		{"A1 LOGIN \"{5}\"", 0, 0, false, false},
		{"A1 LOGIN \"a {5}", 0, 0, false, false},
		{"A1 LOGIN \"a\\\" {5}", 0, 0, false, false},
		{"A1 LOGIN \"a\\\\\" {5}", 1, 5, false, false},
		{"A1 LOGIN \"a\" \"b\" {5}", 1, 5, false, false},
		{"{}", 0, 0, false, false},
		{"{+}", 0, 0, false, false},
		{"5}", 0, 0, false, false},
		{"}", 0, 0, false, false},
		{"", 0, 0, false, false},
		{"{5}x", 0, 0, false, false},
		{"{ 5}", 0, 0, false, false},
		{"{5 }", 0, 0, false, false},
		{"{5++}", 0, 0, false, false},
		{"{-5}", 0, 0, false, false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t n = 77;
		bool ns = false, bin = false;
		size_t len = strlen(t[i].line);
		char *buf = exact(t[i].line, len);
		cur = t[i].line;
		EXPECT_INT(imap_parse_literal_end(buf, len, &n, &ns, &bin),
			   t[i].rc);
		if (t[i].rc == 1) {
			EXPECT(n == t[i].n);
			EXPECT_INT(ns, t[i].nonsync);
			EXPECT_INT(bin, t[i].binary);
		}
		free(buf);
	}
}

static void check_normalize(const char *name,
			    const struct imap_seq_range *in, unsigned n,
			    uint32_t max, const char *want)
{
	struct imap_seq_range r[16];
	struct str o = STR_INIT;
	memcpy(r, in, n * sizeof(*r));
	cur = name;
	unsigned k = imap_seqset_normalize(r, n, max);
	if (k > 0)
		imap_write_seqset(&o, r, k);
	EXPECT_STR(o.len ? o.data : "", want);
	for (unsigned i = 0; i < k; i++) {
		EXPECT(r[i].lo >= 1 && r[i].lo <= r[i].hi && !r[i].saved);
		if (i > 0)
			EXPECT(r[i].lo > r[i - 1].hi + 1);
	}
	str_free(&o);
}

static void test_normalize(void **state)
{
	const uint32_t S = IMAP_SEQ_STAR, M = UINT32_MAX;
	const struct imap_seq_range a[] = {
		{5, 3, 0}, {10, 12, 0}, {13, 20, 0}, {2, 2, 0}, {25, S, 0}};
	check_normalize("swap merge star", a, 5, 30, "2:5,10:20,25:30");
	check_normalize("star below", a, 5, 21, "2:5,10:25");
	const struct imap_seq_range b[] = {{S, 1, 0}, {7, 9, 0}};
	check_normalize("star first", b, 2, 15, "1:15");
	check_normalize("empty mailbox", b, 2, 0, "1,7:9");
	const struct imap_seq_range c[] = {{S, S, 0}};
	check_normalize("star only", c, 1, 8, "8");
	check_normalize("star only empty", c, 1, 0, "");
	const struct imap_seq_range d[] = {
		{M, M, 0}, {1, M, 0}, {M - 1, M, 0}, {3, 3, 0}};
	check_normalize("top of range", d, 4, 5, "1:4294967295");
	const struct imap_seq_range e[] = {{M, M, 0}, {1, 1, 0}, {M - 2, 2, 0}};
	check_normalize("wide swap", e, 3, 5, "1:4294967293,4294967295");
	const struct imap_seq_range f[] = {{3, 4, 0}, {1, 1, 0}, {6, 6, 0}};
	check_normalize("adjacent not touching", f, 3, 9, "1,3:4,6");
	const struct imap_seq_range g[] = {{2, 2, 0}, {3, 3, 0}, {1, 1, 0}};
	check_normalize("adjacent", g, 3, 9, "1:3");
	check_normalize("none", g, 0, 9, "");

	struct imap_seq_range h[] = {{1, 3, 0}, {7, 7, 0}, {10, M, 0}};
	cur = "contains";
	EXPECT(!imap_seqset_contains(h, 3, 0));
	EXPECT(imap_seqset_contains(h, 3, 1));
	EXPECT(imap_seqset_contains(h, 3, 3));
	EXPECT(!imap_seqset_contains(h, 3, 4));
	EXPECT(imap_seqset_contains(h, 3, 7));
	EXPECT(!imap_seqset_contains(h, 3, 9));
	EXPECT(imap_seqset_contains(h, 3, M));
	EXPECT(!imap_seqset_contains(h, 0, 1));
}

/* Build a string of n copies of unit after prefix. */
static char *repeat(const char *prefix, const char *unit, size_t n,
		    const char *suffix, size_t *len_r)
{
	struct str s = STR_INIT;
	str_appends(&s, prefix);
	for (size_t i = 0; i < n; i++)
		str_appends(&s, unit);
	str_appends(&s, suffix);
	*len_r = s.len;
	return s.data;
}

static int search_of(const char *cmd, size_t len, const char **err_r,
		     size_t *alloc_r)
{
	static char err[128];
	struct imap_parser *p = imap_parser_new(cmd, len, 0);
	struct imap_search s;
	int rc = imap_search_parse(p, &s);
	snprintf(err, sizeof(err), "%s",
		 imap_parser_error(p) ? imap_parser_error(p) : "");
	*err_r = err;
	*alloc_r = imap_parser_allocated(p);
	imap_parser_free(&p);
	return rc;
}

/* Hostile nesting is refused at its cap; wide commands cost memory in
 * proportion to their length only. */
static void test_bounds(void **state)
{
	size_t len, alloc;
	const char *err;
	char *s;

	s = repeat(" ", "(", 64, "ALL", &len);
	s = realloc(s, len + 64 + 1);
	memset(s + len, ')', 64);
	len += 64;
	cur = "64 parentheses";
	EXPECT_INT(search_of(s, len, &err, &alloc), 1);
	free(s);
	s = repeat(" ", "(", 65, "ALL", &len);
	cur = "65 parentheses";
	EXPECT_INT(search_of(s, len, &err, &alloc), -1);
	EXPECT_STR(err, "Too deeply nested");
	free(s);
	s = repeat(" ", "NOT ", 99, "ALL", &len);
	cur = "99 NOT";
	EXPECT_INT(search_of(s, len, &err, &alloc), 1);
	free(s);
	s = repeat(" ", "NOT ", 100, "ALL", &len);
	cur = "100 NOT";
	EXPECT_INT(search_of(s, len, &err, &alloc), -1);
	EXPECT_STR(err, "Search keys too deeply nested");
	free(s);
	s = repeat(" ", "OR ALL ", 100000, "ALL", &len);
	cur = "100000 OR";
	EXPECT_INT(search_of(s, len, &err, &alloc), -1);
	EXPECT_STR(err, "Search keys too deeply nested");
	free(s);
	s = repeat(" ", "1 ", 200000, "1", &len);
	cur = "200001 keys";
	EXPECT_INT(search_of(s, len, &err, &alloc), 1);
	EXPECT(alloc <= 32 * len + 8192);
	free(s);
	s = repeat(" 1 (", "a ", 200000, "a)", &len);
	cur = "200001 flags";
	struct imap_parser *p = imap_parser_new(s, len, 0);
	struct imap_store st;
	EXPECT_INT(imap_args_store(p, &st), -1);
	imap_parser_free(&p);
	free(s);
	s = repeat(" 1 FLAGS (", "a ", 200000, "a)", &len);
	p = imap_parser_new(s, len, 0);
	EXPECT_INT(imap_args_store(p, &st), 1);
	EXPECT_INT(st.flags.n_keywords, 200001);
	EXPECT(imap_parser_allocated(p) <= 32 * len + 8192);
	imap_parser_free(&p);
	free(s);
}

/* The readers compose: a whole command walked as the session does. */
static void test_walk(void **state)
{
	static const char cmd[] = "A7 UID FETCH 1:* (FLAGS)";
	struct imap_parser *p = imap_parser_new(cmd, sizeof(cmd) - 1, 0);
	struct imap_string tag, name;
	struct imap_fetch f;
	cur = cmd;
	EXPECT_INT(imap_parse_tag(p, &tag), 1);
	EXPECT_INT(imap_parse_command_name(p, &name), 1);
	EXPECT(imap_string_eq(&name, "UID"));
	EXPECT(!imap_string_eq(&name, "UIDX"));
	EXPECT_INT(imap_parse_sp(p), 1);
	EXPECT_INT(imap_parse_command_name(p, &name), 1);
	EXPECT(imap_string_eq(&name, "FETCH"));
	EXPECT_INT(imap_fetch_parse(p, true, &f), 1);
	EXPECT_INT(f.n_atts, 1);
	EXPECT(imap_parse_at_end(p));
	EXPECT_INT(imap_parser_peek(p), -1);
	EXPECT_INT(imap_parser_pos(p), sizeof(cmd) - 1);
	/* A later error does not replace the first. */
	EXPECT_INT(imap_parser_fail_no(p, "first"), -1);
	EXPECT_INT(imap_parser_fail(p, "second"), -1);
	EXPECT_STR(imap_parser_error(p), "first");
	EXPECT_INT(imap_parser_error_reply(p), IMAP_REPLY_NO);
	imap_parser_free(&p);
	imap_parser_free(&p);

	cur = "inbox";
	EXPECT(imap_mailbox_is_inbox("inbox", 5));
	EXPECT(imap_mailbox_is_inbox("INBOX", 5));
	EXPECT(!imap_mailbox_is_inbox("INBOX/", 6));
	EXPECT(!imap_mailbox_is_inbox("INBO", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_literal_end),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
