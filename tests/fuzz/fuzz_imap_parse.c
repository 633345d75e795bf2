/* Fuzz the IMAP command grammar: imap_parse and the command parsers built
 * on it (imap_fetch_parse, imap_search_parse, imap_args), modified UTF-7
 * (imap_utf7) and the writers (imap_write, imap_date).
 *
 * The first byte picks what the rest is fed to (its low bits the reader,
 * its top bit IMAP_PARSE_UTF8): a whole command (tag, name, then the
 * command's own parser), or one reader alone.
 *
 * Invariants:
 *   - a reader returns 1 or -1, with an error exactly when -1, and never
 *     reads past the command (ASan: the input is an exactly sized copy);
 *   - the arena stays within 32 bytes per command byte plus 8 KiB, and
 *     nesting within its caps (the tree's depth is checked);
 *   - every string is NUL-terminated, holds no NUL and is no longer than
 *     the command (9/8 of it for a decoded mailbox name); what is written back with imap_write_* parses to the
 *     same string; a decoded mailbox name encodes back to its wire form;
 *   - a sequence set written back parses to the same ranges, and
 *     normalized it is sorted, disjoint and covers every member;
 *   - FETCH sections keep the grammar's rules (parts >= 1, MIME only
 *     after a part, fields only with HEADER.FIELDS, BINARY parts only);
 *   - a date-time written back parses to the same moment;
 *   - modified UTF-7 round-trips both ways in canonical form. */
#include "fuzz.h"

#include "core/str.h"
#include "imap/imap_args.h"
#include "imap/imap_date.h"
#include "imap/imap_fetch_parse.h"
#include "imap/imap_parse.h"
#include "imap/imap_search_parse.h"
#include "imap/imap_utf7.h"
#include "imap/imap_write.h"

static size_t g_len;
static unsigned g_flags;

/* Decoded from modified UTF-7, a name may grow by 1/8 (imap_utf7.h). */
static void check_string(const struct imap_string *s)
{
	if (s->data == NULL) {
		CHECK(s->len == 0);
		return;
	}
	CHECK(s->len <= g_len + g_len / 8);
	CHECK(s->data[s->len] == '\0');
	CHECK(memchr(s->data, '\0', s->len) == NULL);
}

/* Written as an astring (or nstring) and read back: the same bytes. */
static void check_rewrite(const struct imap_string *s, bool nstring)
{
	struct str o = STR_INIT;
	struct imap_string back;
	bool utf8 = g_flags & IMAP_PARSE_UTF8;
	if (nstring)
		imap_write_nstring(&o, s->data, s->len, utf8);
	else
		imap_write_astring(&o, s->data, s->len, utf8);
	struct imap_parser *p = imap_parser_new(o.data, o.len, g_flags);
	int rc = nstring ? imap_parse_nstring(p, &back)
			 : imap_parse_astring(p, &back);
	CHECK(rc == 1 && imap_parse_at_end(p));
	CHECK((back.data == NULL) == (s->data == NULL));
	CHECK(back.len == s->len);
	CHECK(s->len == 0 || memcmp(back.data, s->data, s->len) == 0);
	imap_parser_free(&p);
	str_free(&o);
}

/* A name as imap_parse_mailbox returns it encodes back to mUTF-7. */
static void check_mailbox(const struct imap_string *s)
{
	check_string(s);
	if (g_flags & IMAP_PARSE_UTF8) {
		CHECK(imap_utf7_utf8_valid(s->data, s->len));
		return;
	}
	struct str e = STR_INIT;
	CHECK(imap_utf7_encode(s->data, s->len, &e) == 1);
	CHECK(imap_utf7_valid(e.data ? e.data : "", e.len));
	str_free(&e);
}

/* A LIST reference or pattern: a name as check_mailbox wants it, or
 * kept as sent exactly when it does not decode. */
static void check_pattern(const struct imap_string *s, bool raw)
{
	if (!raw) {
		check_mailbox(s);
		return;
	}
	check_string(s);
	if (!(g_flags & IMAP_PARSE_UTF8)) {
		CHECK(!imap_utf7_valid(s->data, s->len));
		return;
	}
	bool ctl = false;
	for (size_t i = 0; i < s->len; i++)
		ctl |= (unsigned char)s->data[i] < 0x20 || s->data[i] == 0x7f;
	CHECK(ctl || !imap_utf7_utf8_valid(s->data, s->len));
}

static void check_set(const struct imap_seqset *set)
{
	struct str o = STR_INIT;
	struct imap_seqset back;
	CHECK(set->count >= 1 && set->count <= g_len);
	for (unsigned i = 0; i < set->count; i++)
		if (set->ranges[i].saved)
			CHECK(set->ranges[i].lo == 0 && set->ranges[i].hi == 0);
	imap_write_seqset(&o, set->ranges, set->count);
	struct imap_parser *p = imap_parser_new(o.data, o.len, 0);
	CHECK(imap_parse_seqset(p, &back) == 1 && imap_parse_at_end(p));
	CHECK(back.count == set->count);
	for (unsigned i = 0; i < set->count; i++) {
		const struct imap_seq_range *a = &set->ranges[i];
		const struct imap_seq_range *b = &back.ranges[i];
		CHECK(a->saved == b->saved);
		CHECK(a->saved || (a->lo == b->lo && a->hi == b->hi) ||
		      (a->lo == b->hi && a->hi == b->lo));
	}
	imap_parser_free(&p);
	str_free(&o);
}

/* Normalized against a max from the input: sorted, disjoint, covering. */
static void check_normalize(const struct imap_seqset *set, uint32_t max)
{
	unsigned n = 0;
	struct imap_seq_range *r = malloc(set->count * sizeof(*r));
	for (unsigned i = 0; i < set->count; i++)
		if (!set->ranges[i].saved)
			r[n++] = set->ranges[i];
	unsigned k = imap_seqset_normalize(r, n, max);
	CHECK(k <= n);
	for (unsigned i = 0; i < k; i++) {
		CHECK(r[i].lo >= 1 && r[i].lo <= r[i].hi);
		if (i > 0)
			CHECK(r[i].lo > r[i - 1].hi && r[i].lo - r[i - 1].hi > 1);
	}
	for (unsigned i = 0; i < set->count; i++) {
		const struct imap_seq_range *a = &set->ranges[i];
		uint32_t lo = a->lo ? a->lo : max, hi = a->hi ? a->hi : max;
		if (a->saved || (lo == 0 && hi == 0))
			continue;
		if (lo != 0)
			CHECK(imap_seqset_contains(r, k, lo));
		if (hi != 0)
			CHECK(imap_seqset_contains(r, k, hi));
	}
	free(r);
}

static void check_flags(const struct imap_flags *f)
{
	CHECK(f->system < (1u << 5));
	for (unsigned i = 0; i < f->n_keywords; i++) {
		check_string(&f->keywords[i]);
		CHECK(f->keywords[i].len > 0 && f->keywords[i].data[0] != '\\');
	}
}

static void check_att(const struct imap_fetch_att *a)
{
	const struct imap_section *s = &a->section;
	struct str o = STR_INIT;
	for (unsigned i = 0; i < s->depth; i++)
		CHECK(s->part[i] >= 1);
	CHECK(s->text != IMAP_SECTION_MIME || s->depth > 0);
	CHECK((s->n_fields > 0) == (s->text == IMAP_SECTION_HEADER_FIELDS ||
				    s->text == IMAP_SECTION_HEADER_FIELDS_NOT));
	for (unsigned i = 0; i < s->n_fields; i++)
		check_string(&s->fields[i]);
	if (a->item == IMAP_FETCH_BINARY || a->item == IMAP_FETCH_BINARY_SIZE)
		CHECK(s->text == IMAP_SECTION_ALL);
	CHECK(!a->partial || a->partial_count >= 1);
	CHECK(a->partial_start <= INT64_MAX && a->partial_count <= INT64_MAX);
	imap_write_fetch_name(&o, a);
	CHECK(o.len > 0);
	str_free(&o);
}

static unsigned check_node(const struct imap_search_node *n, unsigned depth)
{
	unsigned count = 1, kids = 0;
	CHECK(depth <= IMAP_SEARCH_DEPTH_MAX);
	if (n->key <= IMAP_SK_NOT) {
		for (const struct imap_search_node *c = n->children; c;
		     c = c->next, kids++)
			count += check_node(c, depth + 1);
		CHECK(kids >= 1);
		CHECK(n->key != IMAP_SK_OR || kids == 2);
		CHECK(n->key != IMAP_SK_NOT || kids == 1);
	} else if (n->key >= IMAP_SK_BCC && n->key <= IMAP_SK_THREADID) {
		check_string(&n->str);
	} else if (n->key == IMAP_SK_HEADER) {
		check_string(&n->header->name);
		check_string(&n->header->value);
	} else if (n->key == IMAP_SK_MODSEQ) {
		CHECK(n->modseq->modseq <= INT64_MAX);
		CHECK((n->modseq->flag.data == NULL) ==
		      (n->modseq->type == IMAP_MODSEQ_ENTRY_NONE));
	} else if (n->key == IMAP_SK_SEQSET || n->key == IMAP_SK_UID) {
		check_set(&n->set);
	}
	return count;
}

static void check_search(const struct imap_search *s)
{
	CHECK(s->root->key == IMAP_SK_AND);
	CHECK(check_node(s->root, 0) <= g_len);
	CHECK(s->esearch || s->ret == 0);
}

static int command_args(struct imap_parser *p, const struct imap_string *name,
			bool uid)
{
	struct imap_fetch f;
	struct imap_search s;
	struct imap_sort so;
	struct imap_thread th;
	if (imap_string_eq(name, "FETCH")) {
		if (imap_fetch_parse(p, uid, &f) < 0)
			return -1;
		check_set(&f.set);
		CHECK(f.n_atts >= 1);
		for (unsigned i = 0; i < f.n_atts; i++)
			check_att(&f.atts[i]);
		CHECK(!f.vanished || (uid && f.changedsince));
		return 1;
	}
	if (imap_string_eq(name, "SEARCH")) {
		if (imap_search_parse(p, &s) < 0)
			return -1;
		check_search(&s);
		return 1;
	}
	if (imap_string_eq(name, "SORT")) {
		if (imap_search_parse_sort(p, &so) < 0)
			return -1;
		CHECK(so.n_criteria >= 1);
		check_search(&so.search);
		return 1;
	}
	if (imap_string_eq(name, "THREAD")) {
		if (imap_search_parse_thread(p, &th) < 0)
			return -1;
		check_search(&th.search);
		return 1;
	}
	return 0;
}

static int mailbox_args(struct imap_parser *p, const struct imap_string *name)
{
	struct imap_list l;
	struct imap_status st;
	struct imap_select sel;
	struct imap_create c;
	if (imap_string_eq(name, "LIST") || imap_string_eq(name, "LSUB")) {
		if ((imap_string_eq(name, "LIST") ? imap_args_list(p, &l)
						  : imap_args_lsub(p, &l)) < 0)
			return -1;
		check_pattern(&l.reference, l.reference_raw);
		CHECK(l.n_patterns >= 1);
		for (unsigned i = 0; i < l.n_patterns; i++)
			check_pattern(&l.patterns[i], l.patterns_raw[i]);
		return 1;
	}
	if (imap_string_eq(name, "STATUS")) {
		if (imap_args_status(p, &st) < 0)
			return -1;
		check_mailbox(&st.mailbox);
		CHECK(st.items != 0);
		return 1;
	}
	if (imap_string_eq(name, "SELECT") || imap_string_eq(name, "EXAMINE")) {
		if (imap_args_select(p, &sel) < 0)
			return -1;
		check_mailbox(&sel.mailbox);
		if (sel.known_uids.count)
			check_set(&sel.known_uids);
		CHECK(!sel.qresync || (sel.uidvalidity && sel.modseq));
		return 1;
	}
	if (imap_string_eq(name, "CREATE")) {
		if (imap_args_create(p, &c) < 0)
			return -1;
		check_mailbox(&c.mailbox);
		return 1;
	}
	return 0;
}

static int other_args(struct imap_parser *p, const struct imap_string *name)
{
	struct imap_store st;
	struct imap_append ap;
	struct imap_string *caps, a, b;
	struct imap_id_param *ip;
	unsigned n;
	if (imap_string_eq(name, "STORE")) {
		if (imap_args_store(p, &st) < 0)
			return -1;
		check_set(&st.set);
		check_flags(&st.flags);
		return 1;
	}
	if (imap_string_eq(name, "APPEND")) {
		if (imap_args_append(p, &ap) < 0)
			return -1;
		check_mailbox(&ap.mailbox);
		check_flags(&ap.flags);
		CHECK(ap.size <= INT64_MAX && (!ap.utf8 || ap.binary));
		return 1;
	}
	if (imap_string_eq(name, "ENABLE")) {
		if (imap_args_enable(p, &caps, &n) < 0)
			return -1;
		CHECK(n >= 1);
		for (unsigned i = 0; i < n; i++)
			check_rewrite(&caps[i], false);
		return 1;
	}
	if (imap_string_eq(name, "ID")) {
		if (imap_args_id(p, &ip, &n) < 0)
			return -1;
		CHECK(n <= IMAP_ID_PAIRS_MAX);
		for (unsigned i = 0; i < n; i++) {
			CHECK(ip[i].field.len <= IMAP_ID_FIELD_MAX);
			check_rewrite(&ip[i].value, true);
		}
		return 1;
	}
	if (imap_string_eq(name, "LOGIN")) {
		if (imap_args_login(p, &a, &b) < 0)
			return -1;
		check_rewrite(&a, false);
		check_rewrite(&b, false);
		return 1;
	}
	return imap_parse_end(p);
}

/* tag SP name [SP name] args, as the session walks a command. */
static int whole_command(struct imap_parser *p)
{
	struct imap_string tag, name;
	bool uid = false;
	int rc;
	if (imap_parse_tag(p, &tag) < 0) {
		CHECK(tag.data == NULL || tag.len > 0);
		return -1;
	}
	check_rewrite(&tag, false);
	if (imap_parse_command_name(p, &name) < 0)
		return -1;
	if (imap_string_eq(&name, "UID")) {
		uid = true;
		if (imap_parse_sp(p) < 0 || imap_parse_command_name(p, &name) < 0)
			return -1;
	}
	if ((rc = command_args(p, &name, uid)) != 0)
		return rc;
	if ((rc = mailbox_args(p, &name)) != 0)
		return rc;
	return other_args(p, &name);
}

static int one_string(struct imap_parser *p, unsigned which)
{
	struct imap_string s;
	bool raw;
	int rc;
	switch (which) {
	case 0: rc = imap_parse_astring(p, &s); break;
	case 1: rc = imap_parse_nstring(p, &s); break;
	case 2: rc = imap_parse_atom(p, &s); break;
	case 3:
		if ((rc = imap_parse_mailbox(p, &s)) == 1)
			check_mailbox(&s);
		return rc;
	default:
		if ((rc = imap_parse_list_mailbox(p, &s, &raw)) == 1)
			check_pattern(&s, raw);
		return rc;
	}
	if (rc == 1) {
		check_string(&s);
		check_rewrite(&s, which == 1);
	}
	return rc;
}

static int one_value(struct imap_parser *p, unsigned which, uint32_t max)
{
	struct imap_seqset set;
	struct imap_flags f;
	struct imap_fetch_att a;
	struct imap_search_node *n;
	int64_t t;
	int zone, rc;
	switch (which) {
	case 0:
		if ((rc = imap_parse_seqset(p, &set)) == 1) {
			check_set(&set);
			check_normalize(&set, max);
		}
		return rc;
	case 1:
		if ((rc = imap_parse_flag_list(p, &f)) == 1)
			check_flags(&f);
		return rc;
	case 2:
		if ((rc = imap_fetch_parse_att(p, &a)) == 1)
			check_att(&a);
		return rc;
	case 3:
		if ((rc = imap_search_parse_key(p, &n)) == 1)
			check_node(n, 0);
		return rc;
	default:
		if ((rc = imap_parse_date_time(p, &t, &zone)) == 1) {
			struct str o = STR_INIT;
			int64_t back;
			int bz;
			imap_date_time_write(&o, t, zone);
			CHECK(imap_date_time_parse(o.data + 1, o.len - 2, &back,
						   &bz) == 1);
			/* Past year 0000 or 9999 in its zone, the writer clamps. */
			int64_t local = t + (int64_t)zone * 60;
			if (local >= imap_date_days(0, 1, 1) * 86400 &&
			    local < imap_date_days(10000, 1, 1) * 86400)
				CHECK(back == t && bz == zone);
			str_free(&o);
		}
		return rc;
	}
}

/* mUTF-7 both ways: what decodes encodes back to the same bytes. */
static void utf7(const char *buf, size_t len)
{
	struct str d = STR_INIT, e = STR_INIT;
	if (imap_utf7_decode(buf, len, &d) == 1) {
		CHECK(d.len <= len + len / 8);
		CHECK(imap_utf7_encode(d.data ? d.data : "", d.len, &e) == 1);
		CHECK(e.len == len && (len == 0 || memcmp(e.data, buf, len) == 0));
	}
	str_clear(&d);
	str_clear(&e);
	if (imap_utf7_encode(buf, len, &e) == 1) {
		CHECK(imap_utf7_utf8_valid(buf, len));
		CHECK(imap_utf7_decode(e.data ? e.data : "", e.len, &d) == 1);
		CHECK(d.len == len && (len == 0 || memcmp(d.data, buf, len) == 0));
	}
	str_free(&d);
	str_free(&e);
}

static void literal_end(const char *buf, size_t len)
{
	uint64_t n;
	bool nonsync, binary;
	int rc = imap_parse_literal_end(buf, len, &n, &nonsync, &binary);
	CHECK(rc >= -1 && rc <= 1);
	if (rc == 1) {
		CHECK(len >= 3 && buf[len - 1] == '}' && n <= INT64_MAX);
		CHECK(!nonsync || buf[len - 2] == '+');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned sel = data[0] & 0x0f;
	uint32_t max = (uint32_t)data[0] << 3;
	g_flags = data[0] & 0x80 ? IMAP_PARSE_UTF8 : 0;
	g_len = size - 1;
	char *buf = fuzz_copy(data + 1, g_len);
	if (sel == 13) {
		utf7(buf, g_len);
	} else if (sel == 14) {
		literal_end(buf, g_len);
	} else {
		struct imap_parser *p = imap_parser_new(buf, g_len, g_flags);
		int rc = sel < 3    ? whole_command(p)
			 : sel < 8  ? one_string(p, sel - 3)
				    : one_value(p, sel - 8, max);
		CHECK(rc == 1 || rc == -1);
		CHECK((rc == 1) == (imap_parser_error(p) == NULL));
		CHECK(imap_parser_pos(p) <= g_len);
		CHECK(imap_parser_allocated(p) <= 32 * g_len + 8192);
		imap_parser_free(&p);
	}
	free(buf);
	return 0;
}
