#include "imap/imap_search_parse.h"

#include <string.h>
#include <strings.h>

/* What follows a key's name. */
enum arg {
	ARG_NONE, ARG_ASTRING, ARG_KEYWORD, ARG_OBJECTID, ARG_HEADER,
	ARG_DATE, ARG_NUMBER64, ARG_INTERVAL, ARG_MODSEQ, ARG_SEQSET,
	ARG_NOT, ARG_OR,
};

static const struct {
	const char *name;
	enum imap_search_key key;
	enum arg arg;
} keys[] = {
	{"ALL", IMAP_SK_ALL, ARG_NONE},
	{"ANSWERED", IMAP_SK_ANSWERED, ARG_NONE},
	{"DELETED", IMAP_SK_DELETED, ARG_NONE},
	{"DRAFT", IMAP_SK_DRAFT, ARG_NONE},
	{"FLAGGED", IMAP_SK_FLAGGED, ARG_NONE},
	{"NEW", IMAP_SK_NEW, ARG_NONE},
	{"OLD", IMAP_SK_OLD, ARG_NONE},
	{"RECENT", IMAP_SK_RECENT, ARG_NONE},
	{"SEEN", IMAP_SK_SEEN, ARG_NONE},
	{"UNANSWERED", IMAP_SK_UNANSWERED, ARG_NONE},
	{"UNDELETED", IMAP_SK_UNDELETED, ARG_NONE},
	{"UNDRAFT", IMAP_SK_UNDRAFT, ARG_NONE},
	{"UNFLAGGED", IMAP_SK_UNFLAGGED, ARG_NONE},
	{"UNSEEN", IMAP_SK_UNSEEN, ARG_NONE},
	{"SAVEDATESUPPORTED", IMAP_SK_SAVEDATESUPPORTED, ARG_NONE},
	{"BCC", IMAP_SK_BCC, ARG_ASTRING},
	{"BODY", IMAP_SK_BODY, ARG_ASTRING},
	{"CC", IMAP_SK_CC, ARG_ASTRING},
	{"FROM", IMAP_SK_FROM, ARG_ASTRING},
	{"SUBJECT", IMAP_SK_SUBJECT, ARG_ASTRING},
	{"TEXT", IMAP_SK_TEXT, ARG_ASTRING},
	{"TO", IMAP_SK_TO, ARG_ASTRING},
	{"KEYWORD", IMAP_SK_KEYWORD, ARG_KEYWORD},
	{"UNKEYWORD", IMAP_SK_UNKEYWORD, ARG_KEYWORD},
	{"EMAILID", IMAP_SK_EMAILID, ARG_OBJECTID},
	{"THREADID", IMAP_SK_THREADID, ARG_OBJECTID},
	{"HEADER", IMAP_SK_HEADER, ARG_HEADER},
	{"BEFORE", IMAP_SK_BEFORE, ARG_DATE},
	{"ON", IMAP_SK_ON, ARG_DATE},
	{"SINCE", IMAP_SK_SINCE, ARG_DATE},
	{"SENTBEFORE", IMAP_SK_SENTBEFORE, ARG_DATE},
	{"SENTON", IMAP_SK_SENTON, ARG_DATE},
	{"SENTSINCE", IMAP_SK_SENTSINCE, ARG_DATE},
	{"SAVEDBEFORE", IMAP_SK_SAVEDBEFORE, ARG_DATE},
	{"SAVEDON", IMAP_SK_SAVEDON, ARG_DATE},
	{"SAVEDSINCE", IMAP_SK_SAVEDSINCE, ARG_DATE},
	{"LARGER", IMAP_SK_LARGER, ARG_NUMBER64},
	{"SMALLER", IMAP_SK_SMALLER, ARG_NUMBER64},
	{"OLDER", IMAP_SK_OLDER, ARG_INTERVAL},
	{"YOUNGER", IMAP_SK_YOUNGER, ARG_INTERVAL},
	{"MODSEQ", IMAP_SK_MODSEQ, ARG_MODSEQ},
	{"UID", IMAP_SK_UID, ARG_SEQSET},
	{"NOT", IMAP_SK_NOT, ARG_NOT},
	{"OR", IMAP_SK_OR, ARG_OR},
};

static int key_at(struct imap_parser *p, unsigned depth,
		  struct imap_search_node **node_r);

static struct imap_search_node *node_new(struct imap_parser *p,
					 enum imap_search_key key)
{
	struct imap_search_node *n = imap_parser_alloc(p, sizeof(*n));
	n->key = key;
	return n;
}

/* objectid = 1*255(ALPHA / DIGIT / "_" / "-") (RFC 8474). */
static int objectid(struct imap_parser *p, struct imap_string *s)
{
	if (imap_parse_word(p, s) < 0)
		return -1;
	if (s->len > 255 || memchr(s->data, '.', s->len) != NULL)
		return imap_parser_fail(p, "Invalid object id");
	return 1;
}

/* The flag of an entry name "/flags/<flag>": "\" atom or an atom. */
static bool entry_flag_ok(const struct imap_string *f)
{
	size_t i = f->len > 0 && f->data[0] == '\\';
	if (i >= f->len)
		return false;
	for (; i < f->len; i++) {
		unsigned char c = (unsigned char)f->data[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return false;
	}
	return true;
}

/* [SP entry-name SP entry-type-req] SP mod-sequence-valzer, after
 * MODSEQ's space (RFC 7162 3.1.5). */
static int modseq_arg(struct imap_parser *p, struct imap_search_node *n)
{
	struct imap_search_modseq *m = imap_parser_alloc(p, sizeof(*m));
	n->modseq = m;
	if (imap_parser_peek(p) == '"') {
		struct imap_string name;
		if (imap_parse_string(p, &name) < 0)
			return -1;
		if (name.len < 7 || strncasecmp(name.data, "/flags/", 7) != 0)
			return imap_parser_fail(p, "Invalid MODSEQ entry name");
		m->flag.data = name.data + 7;
		m->flag.len = name.len - 7;
		if (!entry_flag_ok(&m->flag))
			return imap_parser_fail(p, "Invalid MODSEQ entry name");
		if (imap_parse_sp(p) < 0)
			return -1;
		if (imap_parse_skip_word(p, "PRIV"))
			m->type = IMAP_MODSEQ_ENTRY_PRIV;
		else if (imap_parse_skip_word(p, "SHARED"))
			m->type = IMAP_MODSEQ_ENTRY_SHARED;
		else if (imap_parse_skip_word(p, "ALL"))
			m->type = IMAP_MODSEQ_ENTRY_ALL;
		else
			return imap_parser_fail(p, "Invalid MODSEQ entry type");
		if (imap_parse_sp(p) < 0)
			return -1;
	}
	return imap_parse_modseq(p, true, &m->modseq);
}

static int header_arg(struct imap_parser *p, struct imap_search_node *n)
{
	struct imap_search_header *h = imap_parser_alloc(p, sizeof(*h));
	n->header = h;
	if (imap_parse_astring(p, &h->name) < 0 || imap_parse_sp(p) < 0)
		return -1;
	return imap_parse_astring(p, &h->value);
}

static int arg(struct imap_parser *p, unsigned depth, enum arg a,
	       struct imap_search_node *n)
{
	uint32_t secs;
	switch (a) {
	case ARG_NONE: return 1;
	case ARG_ASTRING: return imap_parse_astring(p, &n->str);
	case ARG_KEYWORD: return imap_parse_atom(p, &n->str);
	case ARG_OBJECTID: return objectid(p, &n->str);
	case ARG_HEADER: return header_arg(p, n);
	case ARG_DATE: return imap_parse_date(p, &n->date);
	case ARG_NUMBER64: return imap_parse_number64(p, &n->number);
	case ARG_INTERVAL:
		if (imap_parse_nz_number(p, &secs) < 0)
			return -1;
		n->number = secs;
		return 1;
	case ARG_MODSEQ: return modseq_arg(p, n);
	case ARG_SEQSET: return imap_parse_seqset(p, &n->set);
	case ARG_NOT: return key_at(p, depth + 1, &n->children);
	case ARG_OR:
		if (key_at(p, depth + 1, &n->children) < 0 ||
		    imap_parse_sp(p) < 0)
			return -1;
		return key_at(p, depth + 1, &n->children->next);
	}
	return imap_parser_fail(p, "Invalid search key");
}

/* search-key *(SP search-key) up to ")" or the end, as a list. */
static int key_list(struct imap_parser *p, unsigned depth,
		    struct imap_search_node **first_r)
{
	struct imap_search_node **tail = first_r;
	do {
		if (key_at(p, depth, tail) < 0)
			return -1;
		tail = &(*tail)->next;
	} while (imap_parse_skip(p, ' '));
	return 1;
}

static int named_key(struct imap_parser *p, unsigned depth,
		     struct imap_search_node **node_r)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!imap_parse_skip_word(p, keys[i].name))
			continue;
		struct imap_search_node *n = node_new(p, keys[i].key);
		*node_r = n;
		if (keys[i].arg != ARG_NONE && imap_parse_sp(p) < 0)
			return -1;
		return arg(p, depth, keys[i].arg, n);
	}
	if (imap_parser_peek(p) < 0)
		return imap_parser_fail(p, "Missing search key");
	if (imap_parser_peek(p) == ' ')
		return imap_parser_fail(p, "Unexpected space");
	return imap_parser_fail(p, "Unknown search key");
}

static int key_at(struct imap_parser *p, unsigned depth,
		  struct imap_search_node **node_r)
{
	int c = imap_parser_peek(p);
	if (depth >= IMAP_SEARCH_DEPTH_MAX)
		return imap_parser_fail(p, "Search keys too deeply nested");
	if (c == '(') {
		struct imap_search_node *n = node_new(p, IMAP_SK_AND);
		*node_r = n;
		if (imap_parse_list_open(p) < 0 ||
		    key_list(p, depth + 1, &n->children) < 0)
			return -1;
		return imap_parse_list_close(p);
	}
	if ((c >= '0' && c <= '9') || c == '*' || c == '$') {
		struct imap_search_node *n = node_new(p, IMAP_SK_SEQSET);
		*node_r = n;
		return imap_parse_seqset(p, &n->set);
	}
	return named_key(p, depth, node_r);
}

int imap_search_parse_key(struct imap_parser *p,
			  struct imap_search_node **node_r)
{
	return key_at(p, 0, node_r);
}

/* "RETURN" SP "(" [option *(SP option)] ")" after the space. */
static int return_opts(struct imap_parser *p, struct imap_search *s)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
		{"MIN", IMAP_SEARCH_RET_MIN}, {"MAX", IMAP_SEARCH_RET_MAX},
		{"ALL", IMAP_SEARCH_RET_ALL}, {"COUNT", IMAP_SEARCH_RET_COUNT},
		{"SAVE", IMAP_SEARCH_RET_SAVE},
	};
	s->esearch = true;
	if (imap_parse_sp(p) < 0 || imap_parse_list_open(p) < 0)
		return -1;
	if (imap_parser_peek(p) == ')') {
		s->ret = IMAP_SEARCH_RET_ALL;
		return imap_parse_list_close(p);
	}
	do {
		size_t i = 0;
		while (i < sizeof(opts) / sizeof(opts[0]) &&
		       !imap_parse_skip_word(p, opts[i].name))
			i++;
		if (i == sizeof(opts) / sizeof(opts[0]))
			return imap_parser_fail(p, "Unknown RETURN option");
		s->ret |= opts[i].bit;
	} while (imap_parse_skip(p, ' '));
	return imap_parse_list_close(p);
}

/* charset = atom / quoted. */
static int charset(struct imap_parser *p, struct imap_search *s)
{
	struct imap_string cs;
	int c = imap_parser_peek(p);
	if (c == '"' ? imap_parse_string(p, &cs) < 0
		     : imap_parse_atom(p, &cs) < 0)
		return -1;
	if (imap_string_eq(&cs, "UTF-8"))
		s->charset = IMAP_CHARSET_UTF8;
	else if (imap_string_eq(&cs, "US-ASCII"))
		s->charset = IMAP_CHARSET_US_ASCII;
	else
		return imap_parser_fail_no(
			p, "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
	return 1;
}

/* The keys up to the end of the command, under an AND. */
static int program(struct imap_parser *p, struct imap_search *s)
{
	s->root = node_new(p, IMAP_SK_AND);
	if (key_list(p, 0, &s->root->children) < 0)
		return -1;
	return imap_parse_end(p);
}

/* [SP RETURN SP (...)]. */
static int maybe_return(struct imap_parser *p, struct imap_search *s)
{
	if (!imap_parse_ahead(p, " RETURN ("))
		return 1;
	imap_parse_sp(p);
	imap_parse_skip_word(p, "RETURN");
	return return_opts(p, s);
}

int imap_search_parse(struct imap_parser *p, struct imap_search *s)
{
	memset(s, 0, sizeof(*s));
	if (maybe_return(p, s) < 0 || imap_parse_sp(p) < 0)
		return -1;
	if (imap_parse_ahead(p, "CHARSET ")) {
		imap_parse_skip_word(p, "CHARSET");
		imap_parse_sp(p);
		if (charset(p, s) < 0 || imap_parse_sp(p) < 0)
			return -1;
	}
	return program(p, s);
}

static int sort_criteria(struct imap_parser *p, struct imap_sort *s)
{
	static const char *const names[] = {
		[IMAP_SORT_ARRIVAL] = "ARRIVAL", [IMAP_SORT_CC] = "CC",
		[IMAP_SORT_DATE] = "DATE",	 [IMAP_SORT_FROM] = "FROM",
		[IMAP_SORT_SIZE] = "SIZE",	 [IMAP_SORT_SUBJECT] = "SUBJECT",
		[IMAP_SORT_TO] = "TO", [IMAP_SORT_DISPLAYFROM] = "DISPLAYFROM",
		[IMAP_SORT_DISPLAYTO] = "DISPLAYTO",
	};
	unsigned cap = 0;
	if (imap_parse_list_open(p) < 0)
		return -1;
	do {
		struct imap_sort_criterion c = {0, false};
		if (imap_parse_skip_word(p, "REVERSE")) {
			c.reverse = true;
			if (imap_parse_sp(p) < 0)
				return -1;
		}
		while (c.key < sizeof(names) / sizeof(names[0]) &&
		       !imap_parse_skip_word(p, names[c.key]))
			c.key++;
		if (c.key == sizeof(names) / sizeof(names[0]))
			return imap_parser_fail(p, "Unknown sort criterion");
		s->criteria = imap_parser_grow(p, s->criteria, s->n_criteria,
					       &cap, sizeof(c));
		s->criteria[s->n_criteria++] = c;
	} while (imap_parse_skip(p, ' '));
	return imap_parse_list_close(p);
}

int imap_search_parse_sort(struct imap_parser *p, struct imap_sort *s)
{
	memset(s, 0, sizeof(*s));
	if (maybe_return(p, &s->search) < 0 || imap_parse_sp(p) < 0 ||
	    sort_criteria(p, s) < 0 || imap_parse_sp(p) < 0 ||
	    charset(p, &s->search) < 0 || imap_parse_sp(p) < 0)
		return -1;
	return program(p, &s->search);
}

int imap_search_parse_thread(struct imap_parser *p, struct imap_thread *t)
{
	memset(t, 0, sizeof(*t));
	if (imap_parse_sp(p) < 0)
		return -1;
	if (imap_parse_skip_word(p, "ORDEREDSUBJECT"))
		t->alg = IMAP_THREAD_ORDEREDSUBJECT;
	else if (imap_parse_skip_word(p, "REFERENCES"))
		t->alg = IMAP_THREAD_REFERENCES;
	else if (imap_parser_peek(p) < 0)
		return imap_parser_fail(p, "Missing argument");
	else
		return imap_parser_fail(p, "Unknown THREAD algorithm");
	if (imap_parse_sp(p) < 0 || charset(p, &t->search) < 0 ||
	    imap_parse_sp(p) < 0)
		return -1;
	return program(p, &t->search);
}
