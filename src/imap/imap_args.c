#include "imap/imap_args.h"

#include <string.h>

struct name_bit {
	const char *name;
	unsigned bit;
};

/* The bit of the word at the parser's position in table t[0..n), or 0
 * (nothing consumed) if it is none of them. */
static unsigned word_bit(struct imap_parser *p, const struct name_bit *t,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (imap_parse_skip_word(p, t[i].name))
			return t[i].bit;
	return 0;
}

#define WORD_BIT(p, t) word_bit((p), (t), sizeof(t) / sizeof((t)[0]))

int imap_args_login(struct imap_parser *p, struct imap_string *user_r,
		    struct imap_string *pass_r)
{
	if (imap_parse_sp(p) < 0 || imap_parse_astring(p, user_r) < 0 ||
	    imap_parse_sp(p) < 0 || imap_parse_astring(p, pass_r) < 0)
		return -1;
	return imap_parse_end(p);
}

static bool base64_ok(const struct imap_string *s)
{
	size_t i = 0;
	if (s->len == 1 && s->data[0] == '=')
		return true;
	while (i < s->len && s->data[i] != '=') {
		char c = s->data[i++];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	size_t pad = s->len - i;
	if (pad > 2 || s->len % 4 != 0)
		return false;
	for (; i < s->len; i++)
		if (s->data[i] != '=')
			return false;
	return true;
}

int imap_args_authenticate(struct imap_parser *p, struct imap_string *mech_r,
			   struct imap_string *initial_r)
{
	initial_r->data = NULL;
	initial_r->len = 0;
	if (imap_parse_sp(p) < 0 || imap_parse_atom(p, mech_r) < 0)
		return -1;
	if (!imap_parse_at_end(p)) {
		if (imap_parse_sp(p) < 0 || imap_parse_atom(p, initial_r) < 0)
			return -1;
		if (!base64_ok(initial_r))
			return imap_parser_fail(p, "Invalid BASE64");
	}
	return imap_parse_end(p);
}

int imap_args_mailbox(struct imap_parser *p, struct imap_string *mbox_r)
{
	if (imap_parse_sp(p) < 0 || imap_parse_mailbox(p, mbox_r) < 0)
		return -1;
	return imap_parse_end(p);
}

int imap_args_rename(struct imap_parser *p, struct imap_string *from_r,
		     struct imap_string *to_r)
{
	if (imap_parse_sp(p) < 0 || imap_parse_mailbox(p, from_r) < 0 ||
	    imap_parse_sp(p) < 0 || imap_parse_mailbox(p, to_r) < 0)
		return -1;
	return imap_parse_end(p);
}

int imap_args_copy(struct imap_parser *p, struct imap_seqset *set_r,
		   struct imap_string *mbox_r)
{
	if (imap_parse_sp(p) < 0 || imap_parse_seqset(p, set_r) < 0 ||
	    imap_parse_sp(p) < 0 || imap_parse_mailbox(p, mbox_r) < 0)
		return -1;
	return imap_parse_end(p);
}

/* --- STORE --- */

/* SP "(" store-modifier *(SP store-modifier) ")". */
static int store_modifiers(struct imap_parser *p, struct imap_store *s)
{
	if (imap_parse_sp(p) < 0 || imap_parse_list_open(p) < 0)
		return -1;
	do {
		if (s->unchangedsince ||
		    !imap_parse_skip_word(p, "UNCHANGEDSINCE"))
			return imap_parser_fail(p, "Invalid STORE modifier");
		s->unchangedsince = true;
		if (imap_parse_sp(p) < 0 ||
		    imap_parse_modseq(p, true, &s->unchangedsince_modseq) < 0)
			return -1;
	} while (imap_parse_skip(p, ' '));
	return imap_parse_list_close(p);
}

int imap_args_store(struct imap_parser *p, struct imap_store *s)
{
	memset(s, 0, sizeof(*s));
	if (imap_parse_sp(p) < 0 || imap_parse_seqset(p, &s->set) < 0)
		return -1;
	if (imap_parse_ahead(p, " (") && store_modifiers(p, s) < 0)
		return -1;
	if (imap_parse_sp(p) < 0)
		return -1;
	if (imap_parse_skip(p, '+'))
		s->op = IMAP_STORE_ADD;
	else if (imap_parse_skip(p, '-'))
		s->op = IMAP_STORE_REMOVE;
	if (imap_parse_skip_word(p, "FLAGS.SILENT"))
		s->silent = true;
	else if (!imap_parse_skip_word(p, "FLAGS"))
		return imap_parser_fail(p, "Invalid STORE data item");
	if (imap_parse_sp(p) < 0)
		return -1;
	if (imap_parser_peek(p) == '('
		    ? imap_parse_flag_list(p, &s->flags) < 0
		    : imap_parse_flag_seq(p, &s->flags) < 0)
		return -1;
	return imap_parse_end(p);
}

/* --- STATUS --- */

static const struct name_bit status_items[] = {
	{"MESSAGES", IMAP_STATUS_MESSAGES},
	{"UIDNEXT", IMAP_STATUS_UIDNEXT},
	{"UIDVALIDITY", IMAP_STATUS_UIDVALIDITY},
	{"UNSEEN", IMAP_STATUS_UNSEEN},
	{"DELETED", IMAP_STATUS_DELETED},
	{"SIZE", IMAP_STATUS_SIZE},
	{"RECENT", IMAP_STATUS_RECENT},
	{"HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ},
	{"APPENDLIMIT", IMAP_STATUS_APPENDLIMIT},
	{"MAILBOXID", IMAP_STATUS_MAILBOXID},
};

int imap_args_status_items(struct imap_parser *p, unsigned *items_r)
{
	*items_r = 0;
	if (imap_parse_list_open(p) < 0)
		return -1;
	do {
		unsigned bit = WORD_BIT(p, status_items);
		if (bit == 0)
			return imap_parser_fail(p, "Unknown STATUS item");
		*items_r |= bit;
	} while (imap_parse_skip(p, ' '));
	return imap_parse_list_close(p);
}

int imap_args_status(struct imap_parser *p, struct imap_status *s)
{
	memset(s, 0, sizeof(*s));
	if (imap_parse_sp(p) < 0 || imap_parse_mailbox(p, &s->mailbox) < 0 ||
	    imap_parse_sp(p) < 0 || imap_args_status_items(p, &s->items) < 0)
		return -1;
	return imap_parse_end(p);
}

/* --- LIST --- */

static int select_opts(struct imap_parser *p, struct imap_list *l)
{
	static const struct name_bit opts[] = {
		{"SUBSCRIBED", IMAP_LIST_SEL_SUBSCRIBED},
		{"REMOTE", IMAP_LIST_SEL_REMOTE},
		{"RECURSIVEMATCH", IMAP_LIST_SEL_RECURSIVEMATCH},
		{"SPECIAL-USE", IMAP_LIST_SEL_SPECIAL_USE},
	};
	if (imap_parse_list_open(p) < 0)
		return -1;
	if (imap_parser_peek(p) != ')') {
		do {
			unsigned bit = WORD_BIT(p, opts);
			if (bit == 0)
				return imap_parser_fail(p,
							"Unknown LIST option");
			l->select |= bit;
		} while (imap_parse_skip(p, ' '));
	}
	/* RECURSIVEMATCH only modifies a base option (RFC 5258 3). */
	if ((l->select & IMAP_LIST_SEL_RECURSIVEMATCH) &&
	    !(l->select &
	      (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE)))
		return imap_parser_fail(p, "RECURSIVEMATCH needs another option");
	return imap_parse_list_close(p);
}

static int return_opt(struct imap_parser *p, struct imap_list *l)
{
	static const struct name_bit opts[] = {
		{"SUBSCRIBED", IMAP_LIST_RET_SUBSCRIBED},
		{"CHILDREN", IMAP_LIST_RET_CHILDREN},
		{"SPECIAL-USE", IMAP_LIST_RET_SPECIAL_USE},
		{"STATUS", IMAP_LIST_RET_STATUS},
	};
	unsigned bit = WORD_BIT(p, opts);
	if (bit == 0)
		return imap_parser_fail(p, "Unknown LIST return option");
	l->ret |= bit;
	if (bit == IMAP_LIST_RET_STATUS &&
	    (imap_parse_sp(p) < 0 ||
	     imap_args_status_items(p, &l->status_items) < 0))
		return -1;
	return 1;
}

static int return_opts(struct imap_parser *p, struct imap_list *l)
{
	if (imap_parse_sp(p) < 0 || !imap_parse_skip_word(p, "RETURN"))
		return imap_parser_fail(p, "Extra arguments");
	if (imap_parse_sp(p) < 0 || imap_parse_list_open(p) < 0)
		return -1;
	if (imap_parser_peek(p) != ')') {
		do {
			if (return_opt(p, l) < 0)
				return -1;
		} while (imap_parse_skip(p, ' '));
	}
	return imap_parse_list_close(p);
}

/* cap[0] and cap[1]: of the patterns and of their raw flags. */
static int add_pattern(struct imap_parser *p, struct imap_list *l,
		       unsigned *cap)
{
	unsigned n = l->n_patterns++;
	l->patterns = imap_parser_grow(p, l->patterns, n, &cap[0],
				       sizeof(*l->patterns));
	l->patterns_raw = imap_parser_grow(p, l->patterns_raw, n, &cap[1],
					   sizeof(*l->patterns_raw));
	return imap_parse_list_mailbox(p, &l->patterns[n],
				       &l->patterns_raw[n]);
}

static int patterns(struct imap_parser *p, struct imap_list *l)
{
	unsigned cap[2] = {0, 0};
	if (imap_parser_peek(p) != '(')
		return add_pattern(p, l, cap);
	l->extended = true;
	if (imap_parse_list_open(p) < 0)
		return -1;
	do {
		if (add_pattern(p, l, cap) < 0)
			return -1;
	} while (imap_parse_skip(p, ' '));
	return imap_parse_list_close(p);
}

int imap_args_list(struct imap_parser *p, struct imap_list *l)
{
	memset(l, 0, sizeof(*l));
	if (imap_parse_sp(p) < 0)
		return -1;
	if (imap_parser_peek(p) == '(') {
		l->extended = true;
		if (select_opts(p, l) < 0 || imap_parse_sp(p) < 0)
			return -1;
	}
	if (imap_parse_list_reference(p, &l->reference, &l->reference_raw) <
		    0 ||
	    imap_parse_sp(p) < 0 || patterns(p, l) < 0)
		return -1;
	if (!imap_parse_at_end(p)) {
		l->extended = true;
		if (return_opts(p, l) < 0)
			return -1;
	}
	return imap_parse_end(p);
}

int imap_args_lsub(struct imap_parser *p, struct imap_list *l)
{
	unsigned cap[2] = {0, 0};
	memset(l, 0, sizeof(*l));
	if (imap_parse_sp(p) < 0 ||
	    imap_parse_list_reference(p, &l->reference, &l->reference_raw) <
		    0 ||
	    imap_parse_sp(p) < 0 || add_pattern(p, l, cap) < 0)
		return -1;
	return imap_parse_end(p);
}

/* --- SELECT and EXAMINE --- */

/* A sequence set of known numbers: no "*", no "$" (RFC 7162 known-uids,
 * known-sequence-set, known-uid-set). */
static int known_set(struct imap_parser *p, struct imap_seqset *set)
{
	if (imap_parse_seqset(p, set) < 0)
		return -1;
	for (unsigned i = 0; i < set->count; i++)
		if (set->ranges[i].saved || set->ranges[i].lo == IMAP_SEQ_STAR ||
		    set->ranges[i].hi == IMAP_SEQ_STAR)
			return imap_parser_fail(p, "Invalid QRESYNC set");
	return 1;
}

/* "(" uidvalidity SP mod-sequence-value [SP known-uids]
 * [SP seq-match-data] ")" after QRESYNC's space. */
static int qresync(struct imap_parser *p, struct imap_select *s)
{
	s->qresync = true;
	if (imap_parse_list_open(p) < 0 ||
	    imap_parse_nz_number(p, &s->uidvalidity) < 0 ||
	    imap_parse_sp(p) < 0 || imap_parse_modseq(p, false, &s->modseq) < 0)
		return -1;
	if (!imap_parse_ahead(p, " (") && imap_parse_skip(p, ' ') &&
	    known_set(p, &s->known_uids) < 0)
		return -1;
	if (imap_parse_ahead(p, " (")) {
		imap_parse_sp(p);
		if (imap_parse_list_open(p) < 0 ||
		    known_set(p, &s->match_seqs) < 0 || imap_parse_sp(p) < 0 ||
		    known_set(p, &s->match_uids) < 0 ||
		    imap_parse_list_close(p) < 0)
			return -1;
	}
	return imap_parse_list_close(p);
}

int imap_args_select(struct imap_parser *p, struct imap_select *s)
{
	memset(s, 0, sizeof(*s));
	if (imap_parse_sp(p) < 0 || imap_parse_mailbox(p, &s->mailbox) < 0)
		return -1;
	if (imap_parse_at_end(p))
		return 1;
	if (imap_parse_sp(p) < 0 || imap_parse_list_open(p) < 0)
		return -1;
	do {
		if (!s->condstore && imap_parse_skip_word(p, "CONDSTORE")) {
			s->condstore = true;
		} else if (!s->qresync && imap_parse_skip_word(p, "QRESYNC")) {
			if (imap_parse_sp(p) < 0 || qresync(p, s) < 0)
				return -1;
		} else {
			return imap_parser_fail(p, "Invalid SELECT parameter");
		}
	} while (imap_parse_skip(p, ' '));
	if (imap_parse_list_close(p) < 0)
		return -1;
	return imap_parse_end(p);
}

/* --- APPEND --- */

int imap_args_append(struct imap_parser *p, struct imap_append *a)
{
	memset(a, 0, sizeof(*a));
	if (imap_parse_sp(p) < 0 || imap_parse_mailbox(p, &a->mailbox) < 0 ||
	    imap_parse_sp(p) < 0)
		return -1;
	if (imap_parser_peek(p) == '(' &&
	    (imap_parse_flag_list(p, &a->flags) < 0 || imap_parse_sp(p) < 0))
		return -1;
	if (imap_parser_peek(p) == '"') {
		a->has_date = true;
		if (imap_parse_date_time(p, &a->date, &a->zone) < 0 ||
		    imap_parse_sp(p) < 0)
			return -1;
	}
	if (imap_parse_skip_word(p, "UTF8")) {
		a->utf8 = true;
		if (imap_parse_sp(p) < 0 || !imap_parse_skip(p, '(') ||
		    imap_parser_peek(p) != '~')
			return imap_parser_fail(p, "UTF8 needs (~{n}");
	}
	return imap_parse_final_literal(p, &a->size, &a->nonsync, &a->binary);
}

/* --- ENABLE, ID, CREATE --- */

int imap_args_enable(struct imap_parser *p, struct imap_string **caps_r,
		     unsigned *n_r)
{
	unsigned cap = 0;
	*caps_r = NULL;
	*n_r = 0;
	do {
		if (imap_parse_sp(p) < 0)
			return -1;
		*caps_r = imap_parser_grow(p, *caps_r, *n_r, &cap,
					   sizeof(**caps_r));
		if (imap_parse_atom(p, &(*caps_r)[(*n_r)++]) < 0)
			return -1;
	} while (!imap_parse_at_end(p));
	return 1;
}

static int id_pair(struct imap_parser *p, struct imap_id_param *ip)
{
	if (imap_parse_string(p, &ip->field) < 0 || imap_parse_sp(p) < 0 ||
	    imap_parse_nstring(p, &ip->value) < 0)
		return -1;
	if (ip->field.len > IMAP_ID_FIELD_MAX)
		return imap_parser_fail(p, "ID field name too long");
	if (ip->value.len > IMAP_ID_VALUE_MAX)
		return imap_parser_fail(p, "ID value too long");
	return 1;
}

int imap_args_id(struct imap_parser *p, struct imap_id_param **params_r,
		 unsigned *n_r)
{
	unsigned cap = 0;
	*params_r = NULL;
	*n_r = 0;
	if (imap_parse_sp(p) < 0)
		return -1;
	if (imap_parse_skip_word(p, "NIL"))
		return imap_parse_end(p);
	if (imap_parse_list_open(p) < 0)
		return -1;
	if (imap_parser_peek(p) != ')') {
		do {
			if (*n_r == IMAP_ID_PAIRS_MAX)
				return imap_parser_fail(p, "Too many ID fields");
			*params_r = imap_parser_grow(p, *params_r, *n_r, &cap,
						     sizeof(**params_r));
			if (id_pair(p, &(*params_r)[(*n_r)++]) < 0)
				return -1;
		} while (imap_parse_skip(p, ' '));
	}
	if (imap_parse_list_close(p) < 0)
		return -1;
	return imap_parse_end(p);
}

/* use-attr = "\\" atom, a known one. */
static int use_attr(struct imap_parser *p, const struct name_bit *t,
		    size_t n, unsigned *bit_r)
{
	struct imap_string a;
	if (!imap_parse_skip(p, '\\'))
		return imap_parser_fail(p, "Invalid special-use attribute");
	if (imap_parse_atom(p, &a) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (imap_string_eq(&a, t[i].name)) {
			*bit_r = t[i].bit;
			return 1;
		}
	}
	return imap_parser_fail_no(
		p, "[USEATTR] Unsupported special-use attribute");
}

/* "USE" SP "(" [use-attr *(SP use-attr)] ")" after USE. */
static int use_attrs(struct imap_parser *p, struct imap_create *c)
{
	static const struct name_bit attrs[] = {
		{"ALL", IMAP_USE_ALL},	   {"ARCHIVE", IMAP_USE_ARCHIVE},
		{"DRAFTS", IMAP_USE_DRAFTS}, {"FLAGGED", IMAP_USE_FLAGGED},
		{"JUNK", IMAP_USE_JUNK},   {"SENT", IMAP_USE_SENT},
		{"TRASH", IMAP_USE_TRASH},
	};
	if (imap_parse_sp(p) < 0 || imap_parse_list_open(p) < 0)
		return -1;
	if (imap_parser_peek(p) != ')') {
		do {
			unsigned bit = 0;
			if (use_attr(p, attrs, sizeof(attrs) / sizeof(attrs[0]),
				     &bit) < 0)
				return -1;
			c->use |= bit;
		} while (imap_parse_skip(p, ' '));
	}
	return imap_parse_list_close(p);
}

int imap_args_create(struct imap_parser *p, struct imap_create *c)
{
	memset(c, 0, sizeof(*c));
	if (imap_parse_sp(p) < 0 || imap_parse_mailbox(p, &c->mailbox) < 0)
		return -1;
	if (imap_parse_at_end(p))
		return 1;
	if (imap_parse_sp(p) < 0 || imap_parse_list_open(p) < 0)
		return -1;
	do {
		if (!imap_parse_skip_word(p, "USE"))
			return imap_parser_fail(p, "Invalid CREATE parameter");
		if (use_attrs(p, c) < 0)
			return -1;
	} while (imap_parse_skip(p, ' '));
	if (imap_parse_list_close(p) < 0)
		return -1;
	return imap_parse_end(p);
}
