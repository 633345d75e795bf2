#include "cli/cli_mailfmt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/str.h"
#include "core/xalloc.h"
#include "imap/imap_date.h"
#include "imap/imap_utf7.h"
#include "store/store.h"

#define KEYWORD_MAX 100

bool mailfmt_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > MAILFMT_NAME_MAX || name[0] == '/' ||
	    name[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '%' || c == '*' ||
		    (c == '/' && name[i + 1] == '/'))
			return false;
	}
	return imap_utf7_utf8_valid(name, len);
}

bool mailfmt_keyword_ok(const char *kw, size_t len)
{
	if (len == 0 || len > KEYWORD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kw[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

/* ---- Maildir ---- */

size_t mailfmt_maildir_base(const char *name, size_t len)
{
	const char *colon = memchr(name, ':', len);
	return colon != NULL ? (size_t)(colon - name) : len;
}

void mailfmt_maildir_info(const char *name, size_t len, unsigned *flags_r,
			  uint32_t *letters_r)
{
	size_t i = mailfmt_maildir_base(name, len);
	*flags_r = 0;
	*letters_r = 0;
	if (len - i < 3 || memcmp(name + i, ":2,", 3) != 0)
		return;
	for (i += 3; i < len; i++) {
		char c = name[i];
		if (c >= 'a' && c <= 'z')
			*letters_r |= 1u << (c - 'a');
		else if (c == 'S')
			*flags_r |= STORE_FLAG_SEEN;
		else if (c == 'R')
			*flags_r |= STORE_FLAG_ANSWERED;
		else if (c == 'F')
			*flags_r |= STORE_FLAG_FLAGGED;
		else if (c == 'T')
			*flags_r |= STORE_FLAG_DELETED;
		else if (c == 'D')
			*flags_r |= STORE_FLAG_DRAFT;
	}
}

void mailfmt_maildir_info_write(unsigned flags, uint32_t letters,
				char out[40])
{
	static const struct {
		char c;
		unsigned flag;
	} order[] = {{'D', STORE_FLAG_DRAFT}, {'F', STORE_FLAG_FLAGGED},
		     {'R', STORE_FLAG_ANSWERED}, {'S', STORE_FLAG_SEEN},
		     {'T', STORE_FLAG_DELETED}};
	size_t o = 0;
	memcpy(out, ":2,", 3);
	o = 3;
	for (size_t i = 0; i < sizeof(order) / sizeof(*order); i++)
		if (flags & order[i].flag)
			out[o++] = order[i].c;
	for (int i = 0; i < MAILFMT_KEYWORDS; i++)
		if (letters & (1u << i))
			out[o++] = (char)('a' + i);
	out[o] = '\0';
}

/* The line at *pos (without CR LF); *pos moves past it.  Returns false at
 * the end. */
static bool next_line(const char *text, size_t len, size_t *pos,
		      const char **line_r, size_t *n_r)
{
	if (*pos >= len)
		return false;
	const char *s = text + *pos;
	const char *nl = memchr(s, '\n', len - *pos);
	size_t n = nl != NULL ? (size_t)(nl - s) : len - *pos;
	*pos += n + (nl != NULL);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	*line_r = s;
	*n_r = n;
	return true;
}

/* Leading decimal digits of s[0..n) as a number below `limit`; returns
 * how many digits, 0 if none or too large. */
static size_t parse_num(const char *s, size_t n, uint64_t limit,
			uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v >= limit)
			return 0;
	}
	*v_r = v;
	return i;
}

void mailfmt_keywords_parse(const char *text, size_t len,
			    char *names_r[MAILFMT_KEYWORDS])
{
	const char *line;
	size_t n, pos = 0;
	uint64_t idx;
	memset(names_r, 0, MAILFMT_KEYWORDS * sizeof(*names_r));
	while (next_line(text, len, &pos, &line, &n)) {
		size_t d = parse_num(line, n, MAILFMT_KEYWORDS, &idx);
		if (d == 0 || d >= n || line[d] != ' ' ||
		    !mailfmt_keyword_ok(line + d + 1, n - d - 1))
			continue;
		free(names_r[idx]);
		names_r[idx] = xstrndup(line + d + 1, n - d - 1);
	}
}

void mailfmt_keywords_clear(char *names[MAILFMT_KEYWORDS])
{
	for (int i = 0; i < MAILFMT_KEYWORDS; i++) {
		free(names[i]);
		names[i] = NULL;
	}
}

static int uid_cmp(const void *a, const void *b)
{
	const struct mailfmt_uid *x = a, *y = b;
	return strcmp(x->base, y->base);
}

/* "uid [fields] :name" (version 3) or "uid name" (versions 1 and 2). */
static bool uid_line(const char *line, size_t n, struct mailfmt_uid *u)
{
	uint64_t uid;
	size_t d = parse_num(line, n, (uint64_t)UINT32_MAX + 1, &uid);
	if (d == 0 || uid == 0 || d >= n || line[d] != ' ')
		return false;
	const char *name = NULL;
	for (size_t i = d; i + 1 < n && name == NULL; i++)
		if (line[i] == ' ' && line[i + 1] == ':')
			name = line + i + 2;
	if (name == NULL) {
		name = line + n;
		while (name > line + d && name[-1] != ' ')
			name--;
	}
	size_t len = mailfmt_maildir_base(name, (size_t)(line + n - name));
	if (len == 0 || memchr(name, '\0', len) != NULL)
		return false;
	u->uid = (uint32_t)uid;
	u->base = xstrndup(name, len);
	return true;
}

void mailfmt_uidlist_parse(const char *text, size_t len,
			   struct mailfmt_uid **r, size_t *n_r)
{
	const char *line;
	size_t n, pos = 0, count = 0, cap = 0;
	struct mailfmt_uid *uids = NULL, u;
	/* The first line is the header. */
	if (!next_line(text, len, &pos, &line, &n)) {
		*r = NULL;
		*n_r = 0;
		return;
	}
	while (next_line(text, len, &pos, &line, &n)) {
		if (!uid_line(line, n, &u))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			uids = xreallocarray(uids, cap, sizeof(*uids));
		}
		uids[count++] = u;
	}
	if (count > 1)
		qsort(uids, count, sizeof(*uids), uid_cmp);
	*r = uids;
	*n_r = count;
}

uint32_t mailfmt_uid_find(const struct mailfmt_uid *uids, size_t n,
			  const char *base, size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(uids[mid].base, base, len);
		if (c == 0 && uids[mid].base[len] != '\0')
			c = 1;
		if (c == 0)
			return uids[mid].uid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void mailfmt_uids_free(struct mailfmt_uid **uids, size_t n)
{
	if (*uids == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*uids)[i].base);
	free(*uids);
	*uids = NULL;
}

/* ---- folder names ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One level: "\XX" escapes undone (Maildir++ only), then modified UTF-7
 * decoded, or kept as it is when it is UTF-8 already (as Dovecot's UTF-8
 * option stores it). */
static int level_decode(const char *s, size_t len, bool unescape,
			struct str *out)
{
	struct str raw = STR_INIT;
	for (size_t i = 0; i < len; i++) {
		int hi = unescape && i + 2 < len ? hexval(s[i + 1]) : -1;
		int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
		if (s[i] == '\\' && lo >= 0 && hi * 16 + lo >= 0x20 &&
		    hi * 16 + lo < 0x7f) {
			str_appendc(&raw, (char)(hi * 16 + lo));
			i += 2;
		} else {
			str_appendc(&raw, s[i]);
		}
	}
	int rc = -1;
	if (raw.len > 0) {
		rc = imap_utf7_decode(raw.data, raw.len, out);
		if (rc < 0 && imap_utf7_utf8_valid(raw.data, raw.len)) {
			str_append(out, raw.data, raw.len);
			rc = 1;
		}
	}
	str_free(&raw);
	return rc;
}

int mailfmt_folder_decode(const char *s, size_t len, char sep,
			  struct str *out)
{
	struct str name = STR_INIT;
	int rc = 1;
	size_t i = 0;
	while (rc > 0) {
		const char *end = memchr(s + i, sep, len - i);
		size_t n = end != NULL ? (size_t)(end - s) - i : len - i;
		if (name.len > 0 || i > 0)
			str_appendc(&name, '/');
		if (i == 0 && n == 5 && strncasecmp(s, "INBOX", 5) == 0)
			str_appends(&name, "INBOX");
		else
			rc = level_decode(s + i, n, sep == '.', &name);
		if (end == NULL)
			break;
		i += n + 1;
	}
	if (rc > 0 && !mailfmt_name_ok(name.data, name.len))
		rc = -1;
	if (rc > 0)
		str_append(out, name.data, name.len);
	str_free(&name);
	return rc;
}

int mailfmt_folder_encode(const char *name, struct str *out)
{
	size_t len = strlen(name);
	struct str level = STR_INIT;
	if (!mailfmt_name_ok(name, len))
		return -1;
	size_t start = out->len;
	for (size_t i = 0; i <= len;) {
		size_t n = strcspn(name + i, "/");
		str_clear(&level);
		if (imap_utf7_encode(name + i, n, &level) < 0) {
			str_truncate(out, start);
			str_free(&level);
			return -1;
		}
		if (i > 0)
			str_appendc(out, '.');
		for (size_t j = 0; j < level.len; j++) {
			char c = level.data[j];
			if (c == '.' || c == '\\')
				str_printf(out, "\\%02x", (unsigned char)c);
			else
				str_appendc(out, c);
		}
		i += n + 1;
	}
	str_free(&level);
	return 1;
}

void mailfmt_subscriptions_parse(const char *text, size_t len, char sep,
				 void (*fn)(const char *name, void *ctx),
				 void *ctx)
{
	const char *line;
	size_t n, pos = 0;
	bool v2 = len >= 2 && text[0] == 'V' && text[1] == '\t';
	struct str name = STR_INIT;
	if (v2) /* the header ends with an empty line */
		while (next_line(text, len, &pos, &line, &n) && n > 0)
			;
	while (next_line(text, len, &pos, &line, &n)) {
		if (n == 0)
			continue;
		char s = v2 ? '\t' : memchr(line, '/', n) ? '/' : sep;
		str_clear(&name);
		if (mailfmt_folder_decode(line, n, s, &name) > 0)
			fn(name.data, ctx);
	}
	str_free(&name);
}

int mailfmt_subscription_write(const char *name, struct str *out)
{
	size_t len = strlen(name), start = out->len;
	if (!mailfmt_name_ok(name, len))
		return -1;
	for (size_t i = 0; i <= len;) {
		size_t n = strcspn(name + i, "/");
		if (i > 0)
			str_appendc(out, '\t');
		if (imap_utf7_encode(name + i, n, out) < 0) {
			str_truncate(out, start);
			return -1;
		}
		i += n + 1;
	}
	str_appendc(out, '\n');
	return 1;
}

/* ---- mbox ---- */

bool mailfmt_mbox_is(const char *data, size_t len)
{
	return len == 0 || (len >= 5 && memcmp(data, "From ", 5) == 0);
}

/* The length of the empty line that ends just before p ("\n" 1, "\r\n"
 * 2), 0 if the line before p is not empty or starts before lo. */
static size_t blank_before(const char *d, size_t lo, size_t p)
{
	if (p < lo + 1 || d[p - 1] != '\n')
		return 0;
	if (p - 1 == lo || d[p - 2] == '\n')
		return 1;
	if (p - 2 >= lo && d[p - 2] == '\r' && (p - 2 == lo || d[p - 3] == '\n'))
		return 2;
	return 0;
}

/* The next "From " line at or after lo that follows an empty line. */
static size_t next_separator(const char *d, size_t len, size_t lo)
{
	size_t q = lo;
	while (q < len) {
		const char *f = memmem(d + q, len - q, "\nFrom ", 6);
		if (f == NULL)
			break;
		size_t p = (size_t)(f - d) + 1;
		if (blank_before(d, lo, p) > 0)
			return p;
		q = p;
	}
	return len;
}

int mailfmt_mbox_next(const char *data, size_t len, size_t *pos,
		      struct mailfmt_mbox_msg *m_r)
{
	size_t p = *pos;
	if (p >= len)
		return 0;
	const char *nl = memchr(data + p, '\n', len - p);
	size_t line_end = nl != NULL ? (size_t)(nl - data) : len;
	size_t body = nl != NULL ? line_end + 1 : len;
	m_r->from = p;
	m_r->from_len = line_end - p;
	if (m_r->from_len > 0 && data[line_end - 1] == '\r')
		m_r->from_len--;
	size_t next = next_separator(data, len, body);
	size_t end = next - blank_before(data, body, next);
	m_r->off = body;
	m_r->len = end - body;
	*pos = next;
	return 1;
}

static int month_of(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s, months + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

static bool is_weekday(const char *s)
{
	static const char days[] = "MonTueWedThuFriSatSun";
	for (int i = 0; i < 7; i++)
		if (strncasecmp(s, days + 3 * i, 3) == 0)
			return true;
	return false;
}

struct from_date {
	uint64_t y, mon, d, h, mi, s;
	bool has_zone;
	int zone;	/* seconds east of UTC */
};

static size_t skip_spaces(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] == ' ')
		i++;
	return i;
}

/* A zone at s[i..]: "+hhmm"/"-hhmm", or UTC, UT, GMT; other names are
 * skipped and count as no zone (local time).  Returns the index past it,
 * or i if there is none. */
static size_t parse_zone(const char *s, size_t n, size_t i,
			 struct from_date *fd)
{
	uint64_t v;
	if (i < n && (s[i] == '+' || s[i] == '-') &&
	    parse_num(s + i + 1, n - i - 1, 10000, &v) == 4 && v % 100 < 60) {
		fd->has_zone = true;
		fd->zone = (int)(v / 100 * 3600 + v % 100 * 60) *
			   (s[i] == '-' ? -1 : 1);
		return i + 5;
	}
	size_t j = i;
	while (j < n && ((s[j] >= 'A' && s[j] <= 'Z') ||
			 (s[j] >= 'a' && s[j] <= 'z')))
		j++;
	if (j - i >= 2 && j - i <= 5) {
		if ((j - i == 3 && (strncasecmp(s + i, "UTC", 3) == 0 ||
				    strncasecmp(s + i, "GMT", 3) == 0)) ||
		    (j - i == 2 && strncasecmp(s + i, "UT", 2) == 0)) {
			fd->has_zone = true;
			fd->zone = 0;
		}
		return j;
	}
	return i;
}

/* "Www Mmm dd hh:mm[:ss] [zone] yyyy [zone]" at s[i..]. */
static bool parse_date(const char *s, size_t n, size_t i, struct from_date *fd)
{
	size_t d;
	memset(fd, 0, sizeof(*fd));
	if (n - i < 8 || s[i + 3] != ' ' || !is_weekday(s + i) ||
	    (fd->mon = (uint64_t)month_of(s + i + 4)) == 0)
		return false;
	i = skip_spaces(s, n, i + 7);
	if ((d = parse_num(s + i, n - i, 32, &fd->d)) == 0 || fd->d == 0)
		return false;
	i = skip_spaces(s, n, i + d);
	if ((d = parse_num(s + i, n - i, 24, &fd->h)) == 0 || i + d >= n ||
	    s[i + d] != ':')
		return false;
	i += d + 1;
	if ((d = parse_num(s + i, n - i, 60, &fd->mi)) != 2)
		return false;
	i += d;
	if (i < n && s[i] == ':') {
		if ((d = parse_num(s + i + 1, n - i - 1, 61, &fd->s)) != 2)
			return false;
		i += d + 1;
	}
	i = parse_zone(s, n, skip_spaces(s, n, i), fd);
	i = skip_spaces(s, n, i);
	if (parse_num(s + i, n - i, 10000, &fd->y) != 4 || fd->y < 1900)
		return false;
	parse_zone(s, n, skip_spaces(s, n, i + 4), fd);
	return true;
}

static bool day_ok(uint64_t y, uint64_t m, uint64_t d)
{
	static const unsigned char days[] = {31, 29, 31, 30, 31, 30,
					     31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= days[m - 1] && (m != 2 || d < 29 || leap);
}

int mailfmt_mbox_date(const char *line, size_t len, int64_t *t_r)
{
	struct from_date fd;
	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return 0;
	size_t i = 5;
	for (; i + 8 <= len; i++)
		if ((line[i - 1] == ' ') && parse_date(line, len, i, &fd))
			break;
	if (i + 8 > len || !day_ok(fd.y, fd.mon, fd.d))
		return 0;
	if (fd.has_zone) {
		*t_r = imap_date_days((int64_t)fd.y, (int)fd.mon, (int)fd.d) *
			       86400 +
		       (int64_t)(fd.h * 3600 + fd.mi * 60 + fd.s) - fd.zone;
		return 1;
	}
	struct tm tm = {.tm_year = (int)fd.y - 1900, .tm_mon = (int)fd.mon - 1,
			.tm_mday = (int)fd.d, .tm_hour = (int)fd.h,
			.tm_min = (int)fd.mi, .tm_sec = (int)fd.s,
			.tm_isdst = -1};
	time_t t = mktime(&tm);
	if (t == (time_t)-1)
		return 0;
	*t_r = (int64_t)t;
	return 1;
}

static bool kw_has(const struct str *kw, const char *w, size_t n)
{
	for (size_t i = 0; i < kw->len;) {
		size_t m = strcspn(kw->data + i, " ");
		if (m == n && memcmp(kw->data + i, w, n) == 0)
			return true;
		i += m + 1;
	}
	return false;
}

static void kw_add(struct str *kw, const char *w, size_t n)
{
	if (!mailfmt_keyword_ok(w, n) || kw_has(kw, w, n))
		return;
	if (kw->len > 0)
		str_appendc(kw, ' ');
	str_append(kw, w, n);
}

static void kw_words(struct str *kw, const char *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t m = 0;
		while (i + m < n && !strchr(" \t\r\n,", v[i + m]))
			m++;
		if (m > 0)
			kw_add(kw, v + i, m);
		i += m + (m == 0);
	}
}

static unsigned status_letters(const char *v, size_t n)
{
	unsigned f = 0;
	for (size_t i = 0; i < n; i++) {
		switch (v[i]) {
		case 'R': f |= STORE_FLAG_SEEN; break;
		case 'A': f |= STORE_FLAG_ANSWERED; break;
		case 'F': f |= STORE_FLAG_FLAGGED; break;
		case 'T': f |= STORE_FLAG_DRAFT; break;
		case 'D': f |= STORE_FLAG_DELETED; break;
		default: break;
		}
	}
	return f;
}

/* Thunderbird's X-Mozilla-Status, four hex digits (nsMsgMessageFlags). */
static void mozilla_status(const char *v, size_t n, unsigned *flags,
			   struct str *kw, bool *gone)
{
	unsigned x = 0;
	size_t i = 0, digits = 0;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (; i < n && hexval(v[i]) >= 0 && digits < 8; i++, digits++)
		x = x * 16 + (unsigned)hexval(v[i]);
	if (digits == 0)
		return;
	if (x & 0x1)
		*flags |= STORE_FLAG_SEEN;
	if (x & 0x2)
		*flags |= STORE_FLAG_ANSWERED;
	if (x & 0x4)
		*flags |= STORE_FLAG_FLAGGED;
	if (x & 0x8)
		*gone = true;
	if (x & 0x1000)
		kw_add(kw, "$Forwarded", 10);
}

static bool field_is(const char *f, size_t n, const char *name)
{
	size_t k = strlen(name);
	return n > k && strncasecmp(f, name, k) == 0 && f[k] == ':';
}

/* One header field (with its continuation lines) at msg[i..]: *end_r is
 * where the next one starts.  Returns false at the empty line or the
 * end. */
static bool next_field(const char *msg, size_t len, size_t i, size_t *end_r)
{
	if (i >= len || msg[i] == '\n' || (msg[i] == '\r' && i + 1 < len &&
					   msg[i + 1] == '\n'))
		return false;
	size_t e = i;
	do {
		const char *nl = memchr(msg + e, '\n', len - e);
		e = nl != NULL ? (size_t)(nl - msg) + 1 : len;
	} while (e < len && (msg[e] == ' ' || msg[e] == '\t'));
	*end_r = e;
	return true;
}

void mailfmt_mbox_flags(const char *msg, size_t len, unsigned *flags_r,
			struct str *kw, bool *gone_r)
{
	size_t i = 0, e;
	*flags_r = 0;
	*gone_r = false;
	for (; next_field(msg, len, i, &e); i = e) {
		const char *f = msg + i;
		size_t n = e - i;
		const char *v = memchr(f, ':', n);
		if (v == NULL)
			continue;
		size_t vn = n - (size_t)(v - f) - 1;
		v++;
		if (field_is(f, n, "Status") || field_is(f, n, "X-Status"))
			*flags_r |= status_letters(v, vn);
		else if (field_is(f, n, "X-Keywords") ||
			 field_is(f, n, "X-Mozilla-Keys"))
			kw_words(kw, v, vn);
		else if (field_is(f, n, "X-Mozilla-Status"))
			mozilla_status(v, vn, flags_r, kw, gone_r);
	}
}

/* ---- message bytes ---- */

/* A line ">...>From " at s (one or more ">"). */
static bool quoted_from(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] == '>')
		i++;
	return i > 0 && n - i >= 5 && memcmp(s + i, "From ", 5) == 0;
}

static void emit(const char *p, size_t n, uint64_t *total,
		 void (*out)(const char *p, size_t n, void *ctx), void *ctx)
{
	if (n == 0)
		return;
	*total += n;
	if (out != NULL)
		out(p, n, ctx);
}

/* With out NULL, stops at the first change and returns 1 if there is
 * one: convert_needed and convert share the one walk over the lines. */
static uint64_t walk(const char *in, size_t len, unsigned how,
		     void (*out)(const char *p, size_t n, void *ctx),
		     void *ctx)
{
	uint64_t total = 0;
	size_t i = 0, run = 0;
	while (i < len) {
		if ((how & MAILFMT_UNQUOTE) && quoted_from(in + i, len - i)) {
			if (out == NULL)
				return 1;
			emit(in + run, i - run, &total, out, ctx);
			run = i + 1;
		}
		const char *nl = memchr(in + i, '\n', len - i);
		if (nl == NULL)
			break;
		size_t e = (size_t)(nl - in);
		if ((how & MAILFMT_CRLF) && (e == 0 || in[e - 1] != '\r')) {
			if (out == NULL)
				return 1;
			emit(in + run, e - run, &total, out, ctx);
			emit("\r\n", 2, &total, out, ctx);
			run = e + 1;
		}
		i = e + 1;
	}
	if (out == NULL)
		return 0;
	emit(in + run, len - run, &total, out, ctx);
	return total;
}

bool mailfmt_convert_needed(const char *in, size_t len, unsigned how)
{
	return walk(in, len, how, NULL, NULL) != 0;
}

uint64_t mailfmt_convert(const char *in, size_t len, unsigned how,
			 void (*out)(const char *p, size_t n, void *ctx),
			 void *ctx)
{
	if (out == NULL)
		return 0;
	return walk(in, len, how, out, ctx);
}
