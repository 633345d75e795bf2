/* Needles over a stream of text pieces.  Each stream (the header text,
 * the body text) keeps the last bytes it was given, one fewer than its
 * longest needle: a match that begins in earlier pieces ends within that
 * many bytes of the next one, so it is found in the short edge made of
 * the two, and every other match lies inside one piece. */
#include "mime/mime_scan.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "mime/mime.h"
#include "mime/mime_text.h"

struct scan_key {
	enum mime_scan_in in;
	bool any_name;
	struct str name, needle;
	bool hit;
};

struct stream {
	struct str tail, edge;
	size_t keep;		/* longest needle - 1 */
};

struct mime_scan {
	struct scan_key *keys;
	size_t n, cap, left;	/* left: keys not found yet */
	struct stream head, body;
	/* Keeping the text for the index. */
	struct str *kh, *kb;
	size_t room;
	bool keeping, cut;
};

struct mime_scan *mime_scan_new(void)
{
	return xcalloc(1, sizeof(struct mime_scan));
}

void mime_scan_free(struct mime_scan **scp)
{
	struct mime_scan *sc = *scp;
	if (sc == NULL)
		return;
	for (size_t i = 0; i < sc->n; i++) {
		str_free(&sc->keys[i].name);
		str_free(&sc->keys[i].needle);
	}
	free(sc->keys);
	str_free(&sc->head.tail);
	str_free(&sc->head.edge);
	str_free(&sc->body.tail);
	str_free(&sc->body.edge);
	free(sc);
	*scp = NULL;
}

size_t mime_scan_add(struct mime_scan *sc, enum mime_scan_in in,
		     const char *name, size_t name_len, const char *needle,
		     size_t needle_len)
{
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 4;
		sc->keys = xreallocarray(sc->keys, sc->cap, sizeof(*sc->keys));
	}
	struct scan_key *k = &sc->keys[sc->n];
	*k = (struct scan_key){.in = in, .any_name = name == NULL};
	str_append(&k->name, name != NULL ? name : "", name_len);
	str_append(&k->needle, needle, needle_len);
	return sc->n++;
}

bool mime_scan_hit(const struct mime_scan *sc, size_t key)
{
	return key < sc->n && sc->keys[key].hit;
}

static void found(struct mime_scan *sc, struct scan_key *k)
{
	k->hit = true;
	sc->left--;
}

static bool in_stream(const struct scan_key *k, bool body)
{
	return k->in == MIME_SCAN_TEXT || (body && k->in == MIME_SCAN_BODY);
}

/* The edge of the stream's tail and the piece's first bytes. */
static void make_edge(struct stream *st, const char *p, size_t n)
{
	str_clear(&st->edge);
	if (st->tail.len > 0)
		str_append(&st->edge, st->tail.data, st->tail.len);
	str_append(&st->edge, p, n < st->keep ? n : st->keep);
}

static bool edge_has(const struct stream *st, const struct str *needle)
{
	size_t nl = needle->len, t = st->tail.len;
	if (nl < 2 || t == 0)
		return false;
	size_t from = t > nl - 1 ? t - (nl - 1) : 0;
	return st->edge.len - from >= nl &&
	       memmem(st->edge.data + from, st->edge.len - from, needle->data,
		      nl) != NULL;
}

static void keep_tail(struct stream *st, const char *p, size_t n)
{
	if (n >= st->keep) {
		str_clear(&st->tail);
		str_append(&st->tail, p + n - st->keep, st->keep);
		return;
	}
	str_append(&st->tail, p, n);
	if (st->tail.len > st->keep)
		str_consume(&st->tail, st->tail.len - st->keep);
}

static void find_in(struct mime_scan *sc, struct stream *st, bool body,
		    const char *p, size_t n)
{
	make_edge(st, p, n);
	for (size_t i = 0; i < sc->n && sc->left > 0; i++) {
		struct scan_key *k = &sc->keys[i];
		if (k->hit || !in_stream(k, body))
			continue;
		if (edge_has(st, &k->needle) ||
		    mime_text_contains(p, n, k->needle.data, k->needle.len))
			found(sc, k);
	}
	keep_tail(st, p, n);
}

static void find_fields(struct mime_scan *sc, const char *p, size_t n)
{
	for (size_t i = 0; i < sc->n && sc->left > 0; i++) {
		struct scan_key *k = &sc->keys[i];
		if (!k->hit && k->in == MIME_SCAN_FIELD &&
		    mime_text_field_has(p, n, k->any_name ? NULL : k->name.data,
					k->name.len, k->needle.data,
					k->needle.len))
			found(sc, k);
	}
}

/* As mime_text_extract keeps it: lines whole, body text cut between two
 * characters; once something does not fit, nothing more. */
static void keep_text(struct mime_scan *sc, enum mime_text_piece kind,
		      const char *p, size_t n)
{
	size_t fit = n <= sc->room ? n : 0;
	if (kind == MIME_TEXT_BODY && fit < n) {
		fit = sc->room;
		while (fit > 0 && ((unsigned char)p[fit] & 0xc0) == 0x80)
			fit--;
	}
	if (fit > 0)
		str_append(kind == MIME_TEXT_HEADER_LINE ? sc->kh : sc->kb, p,
			   fit);
	sc->room -= fit;
	if (fit < n) {
		sc->cut = true;
		sc->keeping = false;
	}
}

static bool scan_piece(void *ctx, enum mime_text_piece kind, const char *p,
		       size_t n)
{
	struct mime_scan *sc = ctx;
	if (sc->keeping)
		keep_text(sc, kind, p, n);
	if (sc->left > 0 && kind == MIME_TEXT_HEADER_LINE) {
		find_fields(sc, p, n);
		find_in(sc, &sc->head, false, p, n);
	} else if (sc->left > 0) {
		find_in(sc, &sc->body, true, p, n);
	}
	return sc->left > 0 || sc->keeping;
}

/* Per stream, the longest needle; whether the body is needed at all. */
static bool scan_reset(struct mime_scan *sc)
{
	bool body = false;
	sc->left = sc->n;
	sc->head.keep = sc->body.keep = 0;
	str_clear(&sc->head.tail);
	str_clear(&sc->body.tail);
	for (size_t i = 0; i < sc->n; i++) {
		struct scan_key *k = &sc->keys[i];
		size_t keep = k->needle.len > 0 ? k->needle.len - 1 : 0;
		k->hit = false;
		if (k->in != MIME_SCAN_FIELD && k->needle.len == 0)
			found(sc, k);
		if (k->in == MIME_SCAN_TEXT && keep > sc->head.keep)
			sc->head.keep = keep;
		if (k->in != MIME_SCAN_FIELD && keep > sc->body.keep)
			sc->body.keep = keep;
		body = body || (k->in != MIME_SCAN_FIELD && !k->hit);
	}
	return body;
}

bool mime_scan_run(struct mime_scan *sc, const struct mime_msg *msg,
		   size_t chunk, size_t keep_max, struct str *header_r,
		   struct str *body_r)
{
	bool body = scan_reset(sc);
	sc->kh = header_r;
	sc->kb = body_r;
	sc->room = keep_max;
	sc->keeping = header_r != NULL && body_r != NULL;
	sc->cut = false;
	if (sc->left > 0 || sc->keeping)
		mime_text_walk(msg, body || sc->keeping, chunk, scan_piece, sc);
	if (header_r != NULL && body_r != NULL) {
		str_append(header_r, "", 0);
		str_append(body_r, "", 0);
	}
	return !sc->cut;
}
