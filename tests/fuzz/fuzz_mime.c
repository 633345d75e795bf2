/* Fuzz mime_parse(), the IMAP writers and the part layout: any bytes as a
 * message.
 *
 * Invariants: the tree's ranges nest (every part inside its parent's body,
 * siblings in order, a message/rfc822 part's child filling its body), line
 * counts are the LFs of each body, depth and part count keep their limits;
 * ENVELOPE, BODY and BODYSTRUCTURE are one balanced list of NIL, numbers,
 * quoted strings and literals whose lengths are exact; the layout resolves
 * the IMAP path of every part (up to a bound) to that part's bytes, and
 * random paths to nothing or to a range inside the message, never -1; a
 * layout with a byte changed gives -1, 0 or a range nested in the top
 * one; HEADER.FIELDS output is no longer than the header. */
#include "fuzz.h"

#include "mime/mime.h"
#include "mime/mime_imap.h"
#include "mime/mime_layout.h"

/* One parenthesised list of NIL, numbers, quoted strings and literals. */
static void check_imap_syntax(const char *s, size_t n)
{
	size_t i = 0;
	int depth = 0;
	CHECK(n > 0 && s[0] == '(');
	while (i < n) {
		char c = s[i];
		if (c == '(') {
			depth++;
			i++;
		} else if (c == ')') {
			CHECK(depth > 0);
			depth--;
			i++;
			CHECK(depth > 0 || i == n);
		} else if (c == ' ') {
			i++;
		} else if (c == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				unsigned char q = (unsigned char)s[i];
				CHECK(q != '\r' && q != '\n' && q != 0 && q < 0x80);
				if (q == '\\') {
					i++;
					CHECK(i < n && (s[i] == '"' || s[i] == '\\'));
				}
			}
			CHECK(i < n);
			i++;
		} else if (c == '{') {
			size_t len = 0;
			for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				len = len * 10 + (size_t)(s[i] - '0');
			CHECK(i + 3 <= n && memcmp(s + i, "}\r\n", 3) == 0);
			i += 3;
			CHECK(len <= n - i);
			CHECK(memchr(s + i, '\0', len) == NULL);
			i += len;
		} else if (c >= '0' && c <= '9') {
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
		} else {
			CHECK(n - i >= 3 && memcmp(s + i, "NIL", 3) == 0);
			i += 3;
		}
	}
	CHECK(depth == 0);
}

static void check_tree(const struct mime_msg *m, size_t len)
{
	uint32_t count = mime_part_count(m);
	CHECK(count >= 1 && count <= MIME_MAX_PARTS);
	const struct mime_part *root = mime_part(m, 0);
	CHECK(root->hdr == 0 && root->end == len && root->parent == MIME_NONE);
	for (uint32_t i = 0; i < count; i++) {
		const struct mime_part *p = mime_part(m, i);
		CHECK(p->hdr <= p->body && p->body <= p->end && p->end <= len);
		size_t lf = 0;
		for (size_t k = p->body; k < p->end; k++)
			lf += mime_data(m)[k] == '\n';
		CHECK(p->lines == lf);
		CHECK(p->depth <= MIME_MAX_DEPTH);
		uint32_t n = 0;
		size_t prev = p->body;
		for (uint32_t k = p->child; k != MIME_NONE;
		     k = mime_part(m, k)->next, n++) {
			const struct mime_part *c = mime_part(m, k);
			CHECK(k > i && c->parent == i && c->depth == p->depth + 1);
			CHECK(c->hdr >= prev && c->end <= p->end);
			prev = c->end;
		}
		CHECK(n == p->nchildren);
		CHECK(p->kind != MIME_LEAF || n == 0);
		if (p->kind == MIME_MESSAGE) {
			const struct mime_part *c = mime_part(m, p->child);
			CHECK(n == 1 && c->hdr == p->body && c->end == p->end);
		}
	}
}

/* IMAP part paths (RFC 3501 6.4.5).  A message (the top-level one, or
 * the one inside a message/rfc822 part) is reached by msg_path: "" or
 * the path of the part holding it.  A part is reached by part_path: its
 * number after the path its multipart's parts count from; and a message
 * that is not multipart is its own part 1. */
static bool is_message(const struct mime_msg *m, const struct mime_part *p)
{
	return p->parent == MIME_NONE ||
	       mime_part(m, p->parent)->kind == MIME_MESSAGE;
}

static void part_path(const struct mime_msg *m, uint32_t i, struct str *path);

static void msg_path(const struct mime_msg *m, uint32_t i, struct str *path)
{
	const struct mime_part *p = mime_part(m, i);
	if (p->parent == MIME_NONE)
		str_clear(path);
	else
		part_path(m, p->parent, path);
}

/* Where the parts of multipart i are numbered from. */
static void children_path(const struct mime_msg *m, uint32_t i,
			  struct str *path)
{
	if (is_message(m, mime_part(m, i)))
		msg_path(m, i, path);
	else
		part_path(m, i, path);
}

static void join(struct str *path, uint32_t n)
{
	str_printf(path, "%s%u", path->len ? "." : "", n);
}

static void part_path(const struct mime_msg *m, uint32_t i, struct str *path)
{
	const struct mime_part *p = mime_part(m, i);
	if (is_message(m, p)) {
		msg_path(m, i, path);
		join(path, 1);
		return;
	}
	uint32_t k = 1;
	const struct mime_part *up = mime_part(m, p->parent);
	for (uint32_t c = up->child; c != i; c = mime_part(m, c)->next)
		k++;
	children_path(m, p->parent, path);
	join(path, k);
}

static void expect_range(const struct str *lay, const struct str *path,
			 enum mime_section kind, size_t off, size_t end)
{
	struct mime_range r;
	const char *s = path->data == NULL ? "" : path->data;
	CHECK(mime_layout_section(lay->data, lay->len, s, path->len, kind,
				  &r) == 1);
	CHECK(r.off == off && r.len == end - off);
}

/* Every part (of the first 200) is found at its path. */
static void check_paths(const struct mime_msg *m, const struct str *lay)
{
	struct str path = STR_INIT;
	uint32_t count = mime_part_count(m);
	for (uint32_t i = 0; i < count && i < 200; i++) {
		const struct mime_part *p = mime_part(m, i);
		if (p->kind == MIME_MULTIPART && p->nchildren == 0) {
			/* The one empty part it shows. */
			children_path(m, i, &path);
			join(&path, 1);
			expect_range(lay, &path, MIME_SECTION_WHOLE, p->end,
				     p->end);
		}
		if (p->kind == MIME_MULTIPART && is_message(m, p))
			continue;	/* has no part number of its own */
		part_path(m, i, &path);
		expect_range(lay, &path, MIME_SECTION_WHOLE, p->body, p->end);
		expect_range(lay, &path, MIME_SECTION_MIME, p->hdr, p->body);
		if (p->kind == MIME_MESSAGE) {
			const struct mime_part *e = mime_part(m, p->child);
			expect_range(lay, &path, MIME_SECTION_HEADER, e->hdr,
				     e->body);
			expect_range(lay, &path, MIME_SECTION_TEXT, e->body,
				     e->end);
		}
	}
	str_free(&path);
}

/* Paths made from the input's last bytes. */
static void check_random_paths(const struct str *lay, const uint8_t *data,
			       size_t size, size_t len)
{
	struct str path = STR_INIT;
	struct mime_range r;
	for (size_t i = 0; i + 4 <= size && i < 64; i += 4) {
		const uint8_t *b = data + size - 4 - i;
		str_clear(&path);
		for (int k = 0; k < 1 + (b[0] & 3); k++)
			str_printf(&path, "%s%d", k ? "." : "", 1 + (b[1 + (k % 3)] >> (k * 2) & 7));
		enum mime_section kind = (enum mime_section)(b[0] >> 2) % 6;
		int rc = mime_layout_section(lay->data, lay->len, path.data,
					     path.len, kind, &r);
		CHECK(rc == 0 || rc == 1);
		if (rc == 1)
			CHECK(r.off <= len && r.len <= len - r.off);
	}
	str_free(&path);
}

/* A layout with one byte changed is refused or gives ranges that nest in
 * the top-level one it states. */
static void check_corrupt(const struct str *lay, const uint8_t *data,
			  size_t size)
{
	if (size < 2 || lay->len < 2)
		return;
	struct str bad = STR_INIT;
	struct mime_range r, top;
	str_append(&bad, lay->data, lay->len);
	bad.data[1 + data[0] % (lay->len - 1)] = (char)data[1];
	int rt = mime_layout_section(bad.data, bad.len, "", 0,
				     MIME_SECTION_WHOLE, &top);
	int rc = mime_layout_section(bad.data, bad.len, "1.1", 3,
				     MIME_SECTION_TEXT, &r);
	CHECK(rc >= -1 && rc <= 1 && rt >= -1 && rt <= 1);
	/* Every lookup checks the top record; only a walk checks those
	 * it passes. */
	CHECK(rt != -1 || rc == -1);
	if (rc == 1)
		CHECK(r.off >= top.off && r.len <= top.len &&
		      r.off - top.off <= top.len - r.len);
	str_free(&bad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	struct mime_msg *m = mime_parse(buf, size);
	check_tree(m, size);

	struct str out = STR_INIT, lay = STR_INIT;
	mime_imap_envelope(m, &out);
	check_imap_syntax(out.data, out.len);
	str_clear(&out);
	mime_imap_bodystructure(m, false, &out);
	check_imap_syntax(out.data, out.len);
	str_clear(&out);
	mime_imap_bodystructure(m, true, &out);
	check_imap_syntax(out.data, out.len);

	mime_layout_encode(m, &lay);
	struct str empty = STR_INIT;
	expect_range(&lay, &empty, MIME_SECTION_WHOLE, 0, size);
	check_paths(m, &lay);
	check_random_paths(&lay, data, size, size);
	check_corrupt(&lay, data, size);

	static const char *const names[] = {"subject", "To", "content-type"};
	const struct mime_part *root = mime_part(m, 0);
	for (int not = 0; not < 2; not++) {
		str_clear(&out);
		mime_imap_header_fields(buf, root->body, names, 3, not, &out);
		CHECK(out.len <= root->body);
	}
	str_free(&out);
	str_free(&lay);
	mime_free(&m);
	CHECK(m == NULL);
	free(buf);
	return 0;
}
