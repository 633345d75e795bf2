/* msg-ids as RFC 5322 3.6.4 writes them and senders really do: found
 * anywhere in a field's value, one forward scan, nothing recursive. */
#include <stdbool.h>
#include <string.h>

#include "mime/mime.h"
#include "mime/mime_msgid.h"

/* v[i] opens a comment: the index after it (len if it never closes). */
static size_t skip_comment(const char *v, size_t len, size_t i)
{
	size_t depth = 0;
	for (; i < len; i++) {
		if (v[i] == '\\')
			i++;
		else if (v[i] == '(')
			depth++;
		else if (v[i] == ')' && --depth == 0)
			return i + 1;
	}
	return len;
}

/* v[i] opens a quoted string: append its text unquoted (line ends of
 * folding dropped) to out if not NULL.  Returns the index after it, or
 * len with *open_r set if it never closes. */
static size_t skip_quoted(const char *v, size_t len, size_t i,
			  struct str *out, bool *open_r)
{
	*open_r = false;
	for (i++; i < len; i++) {
		char ch = v[i];
		if (ch == '"')
			return i + 1;
		if (ch == '\\' && i + 1 < len)
			ch = v[++i];
		if (out != NULL && ch != '\r' && ch != '\n')
			str_appendc(out, ch);
	}
	*open_r = true;
	return len;
}

/* An id needs an "@" with text on both sides, and no NUL: NUL ends the
 * ids of a list. */
static bool id_valid(const char *p, size_t n)
{
	const char *at = memchr(p, '@', n);
	return at != NULL && at > p && at < p + n - 1 &&
	       memchr(p, '\0', n) == NULL;
}

/* Folding white space, which an id loses. */
static bool is_fws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* How many bytes from p on are id text that needs no second look. */
static size_t plain_run(const char *p, size_t len)
{
	size_t n = 0;
	while (n < len && p[n] != '>' && p[n] != '<' && p[n] != '"' &&
	       p[n] != '(' && !is_fws(p[n]))
		n++;
	return n > 0 ? n : 1;
}

/* v[*pos] is "<": read the id up to ">" into out.  Returns true if it is
 * one; *pos is then past it, else where the scan goes on (a "<" inside
 * starts the id again). */
static bool read_id(const char *v, size_t len, size_t *pos, struct str *out)
{
	size_t start = out->len, i = *pos + 1;
	bool open;
	while (i < len) {
		char ch = v[i];
		if (ch == '>') {
			*pos = i + 1;
			/* "<>" into an empty str: no buffer to point into. */
			return out->len > start &&
			       id_valid(out->data + start, out->len - start);
		} else if (ch == '<') {
			break;
		} else if (ch == '"' && (out->len == start ||
					 out->data[out->len - 1] == '.')) {
			/* A quoted word (obs-id-left); a quote elsewhere is
			 * taken as it is, so that one stray quote cannot eat
			 * the ids after it. */
			i = skip_quoted(v, len, i, out, &open);
		} else if (ch == '(') {
			i = skip_comment(v, len, i);
		} else if (is_fws(ch)) {
			i++;
		} else {
			/* The plain run at once: every id is mostly that. */
			size_t n = plain_run(v + i, len - i);
			str_append(out, v + i, n);
			i += n;
		}
	}
	*pos = i;
	return false;
}

/* The next id from *pos, appended with its NUL.  The scan only moves
 * forward, so a whole value costs linear time. */
static bool next_id(const char *v, size_t len, size_t *pos, struct str *out)
{
	size_t i = *pos;
	bool open;
	while (i < len) {
		if (v[i] == '(') {
			i = skip_comment(v, len, i);
		} else if (v[i] == '"') {
			i = skip_quoted(v, len, i, NULL, &open);
		} else if (v[i] == '<') {
			size_t start = out->len;
			if (read_id(v, len, &i, out)) {
				str_appendc(out, '\0');
				*pos = i;
				return true;
			}
			str_truncate(out, start);
		} else {
			i++;
		}
	}
	*pos = len;
	return false;
}

size_t mime_msgid_list(const char *value, size_t len, size_t max,
		       struct str *out)
{
	size_t base = out->len, n = 0, pos = 0;
	while (next_id(value, len, &pos, out))
		n++;
	if (n <= max)
		return n;
	/* Drop the first n - max: the ids nearest the message are last. */
	const char *p = out->data + base, *end = out->data + out->len;
	for (size_t k = 0; k < n - max; k++)
		p += strlen(p) + 1;
	size_t keep = (size_t)(end - p);
	memmove(out->data + base, p, keep);
	str_truncate(out, base + keep);
	return max;
}

int mime_msgid_first(const char *value, size_t len, struct str *out)
{
	size_t pos = 0;
	return next_id(value, len, &pos, out) ? 1 : 0;
}

/* ---- the ids of a thread ---- */

/* Whether the NUL-terminated id is among the n ids of s. */
static bool has_id(const struct str *s, size_t n, const char *id)
{
	const char *p = s->data;
	for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
		if (strcmp(p, id) == 0)
			return true;
	return false;
}

/* Append the ids of `ids` (n back to back) that t->refs lacks. */
static void add_new(struct mime_msgid_thread *t, const char *ids, size_t n)
{
	for (size_t i = 0; i < n; i++, ids += strlen(ids) + 1) {
		if (has_id(&t->refs, t->nrefs, ids))
			continue;
		str_append(&t->refs, ids, strlen(ids) + 1);
		t->nrefs++;
	}
}

/* The root first, then the nearest ancestors: a root that is stored
 * joins a message to its whole conversation, whichever of the ids in
 * between are missing. */
static void add_references(struct mime_msgid_thread *t, struct mime_span v)
{
	struct str ids = STR_INIT;
	size_t n = mime_msgid_first(v.p, v.len, &ids);
	size_t root_len = ids.len;
	n += mime_msgid_list(v.p, v.len, MIME_MSGID_THREAD_REFS - 1, &ids);
	if (n > 0) {
		add_new(t, ids.data, 1);
		add_new(t, ids.data + root_len, n - 1);
	}
	str_free(&ids);
}

void mime_msgid_thread_parse(const char *hdr, size_t len,
			     struct mime_msgid_thread *t)
{
	bool mid = false, irt = false, refs = false;
	struct mime_hdr_iter it;
	struct mime_field fl;
	struct str irt_id = STR_INIT;
	mime_hdr_init(&it, hdr, len);
	while (mime_hdr_next(&it, &fl) > 0) {
		struct mime_span v = fl.value;
		if (!mid && mime_name_is(fl.name, "Message-ID")) {
			mid = true;
			/* Its NUL is a terminator here, not counted. */
			if (mime_msgid_first(v.p, v.len, &t->own) > 0)
				str_truncate(&t->own, t->own.len - 1);
		} else if (!irt && mime_name_is(fl.name, "In-Reply-To")) {
			irt = true;
			mime_msgid_first(v.p, v.len, &irt_id);
		} else if (!refs && mime_name_is(fl.name, "References")) {
			refs = true;
			add_references(t, v);
		}
	}
	/* In-Reply-To last: it names the parent, which References (when
	 * there) already holds, nearest last. */
	if (irt_id.len > 0)
		add_new(t, irt_id.data, 1);
	str_free(&irt_id);
	/* Allocated, so that an empty field reads as "". */
	str_append(&t->own, "", 0);
	str_append(&t->refs, "", 0);
}

void mime_msgid_thread_clear(struct mime_msgid_thread *t)
{
	str_free(&t->own);
	str_free(&t->refs);
	t->nrefs = 0;
}
