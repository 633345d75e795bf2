#include "mime/mime_sort.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mime/mime_decode.h"

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Skip whitespace and comments (nested, with quoted pairs) from p[i];
 * the text inside the first outermost comment met, if any and if com_r is
 * not NULL, goes to com_r/com_len_r.  Returns the new position. */
static size_t cfws_skip(const char *p, size_t n, size_t i,
			const char **com_r, size_t *com_len_r)
{
	size_t depth = 0, open = 0;
	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		if (depth == 0 && is_space(c)) {
			i++;
		} else if (c == '(') {
			if (depth++ == 0)
				open = i + 1;
			i++;
		} else if (depth == 0) {
			break;
		} else if (c == ')') {
			if (--depth == 0 && com_r != NULL && *com_r == NULL) {
				*com_r = p + open;
				*com_len_r = i - open;
			}
			i++;
		} else {
			i += c == '\\' && i + 1 < n ? 2 : 1;
		}
	}
	if (depth > 0 && com_r != NULL && *com_r == NULL) {
		*com_r = p + open;	/* unterminated: to the end */
		*com_len_r = n - open;
	}
	return i;
}

/* ---- RFC 5256 base subject ---- */

static bool ci_prefix(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len >= n && strncasecmp(s, word, n) == 0;
}

/* Step (1): tabs and line breaks become spaces, runs of spaces one. */
static void subject_spaces(const char *in, size_t len, struct str *t)
{
	char *o = str_reserve(t, len);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = is_space((unsigned char)in[i]) ? ' ' : in[i];
		if (c != ' ' || n == 0 || o[n - 1] != ' ')
			o[n++] = c;
	}
	str_commit(t, n);
}

/* Step (2): remove trailing subj-trailers; true if one was "(fwd)". */
static bool subject_trailers(const char *s, size_t start, size_t *end)
{
	bool fwd = false;
	while (*end > start) {
		if (s[*end - 1] == ' ') {
			(*end)--;
		} else if (*end - start >= 5 &&
			   ci_prefix(s + *end - 5, 5, "(fwd)")) {
			*end -= 5;
			fwd = true;
		} else {
			break;
		}
	}
	return fwd;
}

/* The end of the subj-blob ("[" *BLOBCHAR "]" *WSP) at p, or 0. */
static size_t blob_end(const char *s, size_t p, size_t end)
{
	if (p >= end || s[p] != '[')
		return 0;
	size_t q = p + 1;
	while (q < end && s[q] != '[' && s[q] != ']' && s[q] != '\0')
		q++;
	if (q == end || s[q] != ']')
		return 0;
	for (q++; q < end && s[q] == ' '; q++)
		;
	return q;
}

/* The end of the subj-refwd at p:
 * ("re" / ("fw" ["d"])) *WSP [subj-blob] ":", or 0. */
static size_t refwd_end(const char *s, size_t p, size_t end)
{
	size_t q;
	if (ci_prefix(s + p, end - p, "re"))
		q = p + 2;
	else if (ci_prefix(s + p, end - p, "fwd"))
		q = p + 3;
	else if (ci_prefix(s + p, end - p, "fw"))
		q = p + 2;
	else
		return 0;
	while (q < end && s[q] == ' ')
		q++;
	size_t b = blob_end(s, q, end);
	if (b != 0)
		q = b;
	return q < end && s[q] == ':' ? q + 1 : 0;
}

/* Step (3) once: the end of the subj-leader "*subj-blob subj-refwd" at p,
 * or 0; *last_blob_r is where the last of the leading blobs starts (p if
 * there is none). */
static size_t leader_end(const char *s, size_t p, size_t end,
			 size_t *last_blob_r)
{
	size_t b;
	*last_blob_r = p;
	while ((b = blob_end(s, p, end)) != 0) {
		*last_blob_r = p;
		p = b;
	}
	return refwd_end(s, p, end);
}

/* Steps (3) to (5).  When (3) fails after a run of blobs, (4) would
 * remove them one at a time, each leaving the others, with (3) failing
 * again in between at the same place: so all but the last go at once,
 * which keeps this linear. */
static bool subject_leaders(const char *s, size_t *start, size_t end)
{
	bool refwd = false;
	for (;;) {
		size_t last_blob = *start, q;
		while (*start < end) {
			if (s[*start] == ' ') {
				(*start)++;
			} else if ((q = leader_end(s, *start, end, &last_blob))) {
				*start = q;
				refwd = true;
			} else {
				break;
			}
		}
		if (*start == end)
			break;
		*start = last_blob;
		q = blob_end(s, last_blob, end);
		if (q == 0 || q == end)
			break;
		*start = q;
	}
	return refwd;
}

void mime_base_subject(const char *subject, size_t len, struct str *out,
		       bool *reply_r)
{
	struct str t = STR_INIT;
	bool reply = false;

	subject_spaces(subject, len, &t);
	const char *s = t.len ? t.data : "";
	size_t start = 0, end = t.len;
	for (;;) {
		reply |= subject_trailers(s, start, &end);
		reply |= subject_leaders(s, &start, end);
		/* Step (6): "[fwd:" ... "]" around everything. */
		if (end - start < 6 || !ci_prefix(s + start, 5, "[fwd:") ||
		    s[end - 1] != ']')
			break;
		start += 5, end -= 1;
		reply = true;
	}
	str_append(out, s + start, end - start);
	if (reply_r != NULL)
		*reply_r = reply;
	str_free(&t);
}

/* ---- RFC 5322 date-time ---- */

enum date_tok_type { DT_END, DT_NUM, DT_WORD, DT_CHAR };

struct date_tok {
	enum date_tok_type type;
	const char *s;
	size_t len;
	int value;	/* DT_NUM with at most 9 digits */
};

struct date_lexer {
	const char *p;
	size_t i, n;
};

static struct date_tok date_next(struct date_lexer *lx)
{
	struct date_tok t = {DT_END, NULL, 0, 0};
	lx->i = cfws_skip(lx->p, lx->n, lx->i, NULL, NULL);
	if (lx->i == lx->n)
		return t;
	size_t j = lx->i;
	unsigned char c = (unsigned char)lx->p[j];
	if (is_digit(c)) {
		t.type = DT_NUM;
		while (j < lx->n && is_digit((unsigned char)lx->p[j])) {
			if (j - lx->i < 9)
				t.value = t.value * 10 + (lx->p[j] - '0');
			j++;
		}
	} else if (is_alpha(c)) {
		t.type = DT_WORD;
		while (j < lx->n && is_alpha((unsigned char)lx->p[j]))
			j++;
	} else {
		t.type = DT_CHAR;
		j++;
	}
	t.s = lx->p + lx->i;
	t.len = j - lx->i;
	lx->i = j;
	return t;
}

static bool tok_is_char(struct date_tok t, char c)
{
	return t.type == DT_CHAR && t.s[0] == c;
}

/* The index in names of the word (at least its first three letters, and
 * no more than the full name: "Tue", "Tues", "Tuesday"), or -1. */
static int name_index(struct date_tok t, const char *const *names, int n)
{
	if (t.type != DT_WORD || t.len < 3)
		return -1;
	for (int i = 0; i < n; i++)
		if (t.len <= strlen(names[i]) &&
		    strncasecmp(t.s, names[i], t.len) == 0)
			return i;
	return -1;
}

static const char *const day_names[] = {
	"monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
	"sunday",
};

static const char *const month_names[] = {
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december",
};

/* Minutes east of UTC for a zone; 0 for UT, GMT, Z and every zone we
 * cannot read (RFC 5322 4.3: "-0000", RFC 5256 2.2: UTC). */
static int date_zone(struct date_lexer *lx, struct date_tok t)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{"EDT", -4}, {"EST", -5}, {"CDT", -5}, {"CST", -6},
		{"MDT", -6}, {"MST", -7}, {"PDT", -7}, {"PST", -8},
	};
	if (tok_is_char(t, '+') || tok_is_char(t, '-')) {
		struct date_tok z = date_next(lx);
		if (z.type != DT_NUM || z.len != 4 || z.value % 100 > 59)
			return 0;
		int minutes = z.value / 100 * 60 + z.value % 100;
		return t.s[0] == '-' ? -minutes : minutes;
	}
	if (t.type == DT_WORD && t.len == 3)
		for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
			if (strncasecmp(t.s, zones[i].name, 3) == 0)
				return zones[i].hours * 60;
	return 0;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
				   31};
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Leap years in [1, y), y >= 1. */
static int64_t leaps_before(int64_t y)
{
	return (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
}

/* Days from 1970-01-01 to y-m-d (y >= 1, proleptic Gregorian). */
static int64_t days_since_epoch(int y, int m, int d)
{
	static const int before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243,
				     273, 304, 334};
	return 365 * ((int64_t)y - 1970) + leaps_before(y) - leaps_before(1970) +
	       before[m - 1] + (m > 2 && is_leap(y)) + d - 1;
}

/* "year": 2 digits are 1950-2049, 3 digits 19xx-29xx (RFC 5322 4.3). */
static int date_year(struct date_tok t)
{
	if (t.type != DT_NUM || t.len < 2 || t.len > 4)
		return -1;
	if (t.len == 2)
		return t.value < 50 ? 2000 + t.value : 1900 + t.value;
	if (t.len == 3)
		return 1900 + t.value;
	return t.value;
}

struct date_fields {
	int year, month, day, hour, minute, second;
};

/* hour ":" minute [":" second], each of one or two digits. */
static bool date_time(struct date_lexer *lx, struct date_tok *t,
		      struct date_fields *f)
{
	struct date_tok h = *t, m;
	if (h.type != DT_NUM || h.len > 2 || !tok_is_char(date_next(lx), ':'))
		return false;
	m = date_next(lx);
	if (m.type != DT_NUM || m.len > 2)
		return false;
	f->hour = h.value, f->minute = m.value, f->second = 0;
	*t = date_next(lx);
	if (tok_is_char(*t, ':')) {
		struct date_tok s = date_next(lx);
		if (s.type != DT_NUM || s.len > 2)
			return false;
		f->second = s.value;
		*t = date_next(lx);
	}
	return true;
}

/* [day-of-week ","] day month year: "-" between them is taken too. */
static bool date_date(struct date_lexer *lx, struct date_tok *t,
		      struct date_fields *f)
{
	if (t->type == DT_WORD) {
		if (name_index(*t, day_names, 7) < 0)
			return false;
		*t = date_next(lx);
		if (tok_is_char(*t, ','))
			*t = date_next(lx);
	}
	if (t->type != DT_NUM || t->len > 2)
		return false;
	f->day = t->value;
	*t = date_next(lx);
	if (tok_is_char(*t, '-'))
		*t = date_next(lx);
	f->month = name_index(*t, month_names, 12) + 1;
	*t = date_next(lx);
	if (tok_is_char(*t, '-'))
		*t = date_next(lx);
	f->year = date_year(*t);
	*t = date_next(lx);
	return f->month > 0 && f->year > 0;
}

/* As written (local) or in UTC. */
static int parse_date(const char *in, size_t len, bool local, int64_t *t_r)
{
	struct date_lexer lx = {in, 0, len};
	struct date_fields f;
	struct date_tok t = date_next(&lx);

	if (!date_date(&lx, &t, &f) || !date_time(&lx, &t, &f))
		return 0;
	if (f.day < 1 || f.day > month_days(f.year, f.month) || f.hour > 23 ||
	    f.minute > 59 || f.second > 60)
		return 0;
	int zone = local ? 0 : date_zone(&lx, t);
	*t_r = days_since_epoch(f.year, f.month, f.day) * 86400 +
	       f.hour * 3600 + f.minute * 60 + f.second - zone * 60;
	return 1;
}

int mime_parse_date(const char *in, size_t len, int64_t *t_r)
{
	return parse_date(in, len, false, t_r);
}

int mime_parse_date_local(const char *in, size_t len, int64_t *t_r)
{
	return parse_date(in, len, true, t_r);
}

/* ---- first address of an address list ---- */

enum addr_tok_type { AT_END, AT_ATOM, AT_QUOTED, AT_LITERAL, AT_SPECIAL };

struct addr_tok {
	enum addr_tok_type type;
	const char *s;	/* AT_QUOTED: inside the quotes, still escaped */
	size_t len;
};

struct addr_lexer {
	const char *p;
	size_t i, n;
	const char *comment;	/* the first comment's text, or NULL */
	size_t comment_len;
};

static bool is_atom_char(unsigned char c)
{
	return c > ' ' && c != 0x7f && strchr("()<>[]:;@\\,\"", c) == NULL;
}

/* The end of a quoted string or domain literal whose text starts at i:
 * the closing char, or n if there is none. */
static size_t quoted_end(const char *p, size_t n, size_t i, char close)
{
	while (i < n && p[i] != close)
		i += p[i] == '\\' && i + 1 < n ? 2 : 1;
	return i < n ? i : n;
}

static struct addr_tok addr_next(struct addr_lexer *lx)
{
	struct addr_tok t = {AT_END, NULL, 0};
	lx->i = cfws_skip(lx->p, lx->n, lx->i, &lx->comment, &lx->comment_len);
	if (lx->i == lx->n)
		return t;
	size_t i = lx->i, j;
	unsigned char c = (unsigned char)lx->p[i];
	if (c == '"') {
		j = quoted_end(lx->p, lx->n, i + 1, '"');
		t = (struct addr_tok){AT_QUOTED, lx->p + i + 1, j - i - 1};
		lx->i = j < lx->n ? j + 1 : j;
	} else if (c == '[') {
		j = quoted_end(lx->p, lx->n, i + 1, ']');
		j = j < lx->n ? j + 1 : j;
		t = (struct addr_tok){AT_LITERAL, lx->p + i, j - i};
		lx->i = j;
	} else if (is_atom_char(c)) {
		for (j = i; j < lx->n && is_atom_char((unsigned char)lx->p[j]); j++)
			;
		t = (struct addr_tok){AT_ATOM, lx->p + i, j - i};
		lx->i = j;
	} else {
		t = (struct addr_tok){AT_SPECIAL, lx->p + i, 1};
		lx->i = i + 1;
	}
	return t;
}

static bool is_special(struct addr_tok t, char c)
{
	return t.type == AT_SPECIAL && t.s[0] == c;
}

/* Text with quoted pairs resolved and line breaks (folding) removed. */
static void append_unescaped(const char *s, size_t n, struct str *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '\r' || s[i] == '\n')
			continue;
		str_appendc(out, s[i]);
	}
}

/* What an IMAP ENVELOPE address holds, as far as the sort keys need. */
struct first_addr {
	struct str name;	/* the phrase, words joined by one space */
	struct str mailbox;
	struct str host;
	bool has_name, has_mailbox, has_host;
	bool group;
};

static void add_word(struct first_addr *a, struct addr_tok t)
{
	if (a->has_name)
		str_appendc(&a->name, ' ');
	append_unescaped(t.s, t.len, &a->name);
	append_unescaped(t.s, t.len, &a->mailbox);
	a->has_name = a->has_mailbox = true;
}

/* After "@": the domain, one atom or literal.  Returns the token after
 * it, which also makes the lexer see a comment there ("user@host
 * (Name)"). */
static struct addr_tok addr_domain(struct addr_lexer *lx, struct first_addr *a)
{
	struct addr_tok t = addr_next(lx);
	if (t.type != AT_ATOM && t.type != AT_LITERAL)
		return t;
	str_append(&a->host, t.s, t.len);
	a->has_host = true;
	return addr_next(lx);
}

/* After "<": [obs-route ":"] local-part ["@" domain] ">", and the token
 * after it, for a comment there. */
static void addr_angle(struct addr_lexer *lx, struct first_addr *a)
{
	struct addr_tok t = addr_next(lx);
	if (is_special(t, '@')) {
		while (t.type != AT_END && !is_special(t, ':') &&
		       !is_special(t, '>'))
			t = addr_next(lx);
		if (is_special(t, ':'))
			t = addr_next(lx);
	}
	a->has_mailbox = true;
	for (; t.type == AT_ATOM || t.type == AT_QUOTED; t = addr_next(lx))
		append_unescaped(t.s, t.len, &a->mailbox);
	if (is_special(t, '@'))
		t = addr_domain(lx, a);
	if (is_special(t, '>'))
		addr_next(lx);
}

/* Read the first address.  The words before "<", "@", ":" or the end are
 * a phrase (display or group name) or a local part, which only the token
 * after them tells: both are built. */
static void first_addr_parse(struct addr_lexer *lx, struct first_addr *a)
{
	for (;;) {
		struct addr_tok t = addr_next(lx);
		if (t.type == AT_ATOM || t.type == AT_QUOTED) {
			add_word(a, t);
			continue;
		}
		if (t.type == AT_END)
			break;
		char c = t.type == AT_SPECIAL ? t.s[0] : '\0';
		if (c == '<') {
			str_truncate(&a->mailbox, 0);
			addr_angle(lx, a);
			return;
		}
		if (c == '@') {
			a->has_name = false;
			str_truncate(&a->name, 0);
			addr_domain(lx, a);
			return;
		}
		if (c == ':' && a->has_name) {
			a->group = true;
			return;
		}
		if ((c == ',' || c == ';') && a->has_mailbox)
			break;
		/* Anything else (an empty list element, a stray ">") is
		 * skipped. */
	}
	/* A lone word: a local part without a domain. */
	a->has_name = false;
}

static void addr_display(const struct addr_lexer *lx,
			 const struct first_addr *a, struct str *display)
{
	size_t start = display->len;
	if (a->has_name && !a->group) {
		mime_decode_header(a->name.data, a->name.len, display);
	} else if (lx->comment != NULL && a->has_mailbox && !a->group) {
		struct str c = STR_INIT;
		append_unescaped(lx->comment, lx->comment_len, &c);
		mime_decode_header(c.data, c.len, display);
		str_free(&c);
	}
	if (display->len > start)
		return;
	/* Raw bytes, made UTF-8 as 8-bit header text is. */
	struct str raw = STR_INIT;
	if (a->group) {
		str_append(&raw, a->name.data, a->name.len);
	} else if (a->has_mailbox) {
		str_append(&raw, a->mailbox.data, a->mailbox.len);
		if (a->has_host) {
			str_appendc(&raw, '@');
			str_append(&raw, a->host.data, a->host.len);
		}
	}
	mime_charset_to_utf8("us-ascii", 8, raw.data, raw.len, display);
	str_free(&raw);
}

void mime_sort_address(const char *value, size_t len, struct str *mailbox,
		       struct str *display)
{
	struct addr_lexer lx = {value, 0, len, NULL, 0};
	struct first_addr a = {STR_INIT, STR_INIT, STR_INIT, false, false,
			       false, false};

	first_addr_parse(&lx, &a);
	if (mailbox != NULL) {
		const struct str *m = a.group ? &a.name : &a.mailbox;
		str_append(mailbox, m->data, m->len);
	}
	if (display != NULL)
		addr_display(&lx, &a, display);
	str_free(&a.name);
	str_free(&a.mailbox);
	str_free(&a.host);
}
