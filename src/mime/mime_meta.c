/* The meta of a message, in one parse. */
#include "mime/mime_meta.h"

#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_imap.h"
#include "mime/mime_layout.h"
#include "mime/mime_sort.h"
#include "mime/mime_text.h"

/* Longest text looked at for the preview: enough for 256 characters after
 * quoted-printable or base64, even in a 4-byte script. */
#define PREVIEW_INPUT (8 * 1024)

static void top_fields(const struct mime_msg *msg, struct mime_meta *m)
{
	const struct mime_part *top = mime_part(msg, 0);
	const char *data = mime_data(msg);
	struct mime_hdr_iter it;
	struct mime_field f;
	struct str v = STR_INIT, dec = STR_INIT, junk = STR_INIT;
	bool date = false, subject = false, from = false, to = false, cc = false;
	mime_hdr_init(&it, data + top->hdr, top->body - top->hdr);
	while (mime_hdr_next(&it, &f) > 0) {
		str_clear(&v);
		if (!date && mime_name_is(f.name, "Date")) {
			date = true;
			mime_unfold(f.value, &v);
			if (mime_parse_date(v.data ? v.data : "", v.len,
					    &m->sentdate) <= 0)
				m->sentdate = 0;
		} else if (!subject && mime_name_is(f.name, "Subject")) {
			subject = true;
			str_clear(&dec);
			mime_decode_header(f.value.p, f.value.len, &dec);
			mime_base_subject(dec.data ? dec.data : "", dec.len,
					  &m->subject, NULL);
		} else if (!from && mime_name_is(f.name, "From")) {
			from = true;
			mime_sort_address(f.value.p, f.value.len, &m->from,
					  &junk);
		} else if (!to && mime_name_is(f.name, "To")) {
			to = true;
			mime_sort_address(f.value.p, f.value.len, &m->to, &junk);
		} else if (!cc && mime_name_is(f.name, "Cc")) {
			cc = true;
			mime_sort_address(f.value.p, f.value.len, &m->cc, &junk);
		}
	}
	str_free(&v);
	str_free(&dec);
	str_free(&junk);
}

static bool is_text_plain(const struct mime_part *p)
{
	return p->kind == MIME_LEAF &&
	       p->type.len == 4 && strncasecmp(p->type.p, "text", 4) == 0 &&
	       p->subtype.len == 5 && strncasecmp(p->subtype.p, "plain", 5) == 0;
}

/* The charset parameter of a part's Content-Type, into cs. */
static void charset_of(const struct mime_part *p, struct str *cs)
{
	struct mime_param_iter it;
	struct str name = STR_INIT;
	if (p->content_type.p == NULL)
		return;
	mime_params_init(&it, p->content_type);
	while (mime_params_next(&it, &name, cs) > 0)
		if (name.len == 7 && strncasecmp(name.data, "charset", 7) == 0)
			break;
		else
			str_clear(cs);
	str_free(&name);
}

/* RFC 8970: the first text/plain part, decoded, cut to 256 characters. */
static void preview(const struct mime_msg *msg, struct mime_meta *m)
{
	const char *data = mime_data(msg);
	for (uint32_t i = 0; i < mime_part_count(msg); i++) {
		const struct mime_part *p = mime_part(msg, i);
		if (!is_text_plain(p))
			continue;
		size_t len = p->end - p->body;
		if (len > PREVIEW_INPUT)
			len = PREVIEW_INPUT;
		struct str raw = STR_INIT, cs = STR_INIT, text = STR_INIT;
		static const char *const ctes[] = {"7bit", "8bit", "binary",
						   "quoted-printable",
						   "base64", "7bit"};
		const char *cte = ctes[p->cte];
		mime_decode_cte(cte, strlen(cte), data + p->body, len, &raw);
		charset_of(p, &cs);
		if (cs.len == 0 ||
		    mime_charset_to_utf8(cs.data, cs.len, raw.data ? raw.data : "",
					 raw.len, &text) <= 0) {
			str_clear(&text);
			mime_charset_to_utf8("utf-8", 5, raw.data ? raw.data : "",
					     raw.len, &text);
		}
		mime_preview(text.data ? text.data : "", text.len, &m->preview);
		str_free(&raw);
		str_free(&cs);
		str_free(&text);
		return;
	}
}

void mime_meta_compute(const char *data, size_t len, unsigned what,
		       struct mime_meta *m)
{
	mime_meta_clear(m);
	struct mime_msg *msg = mime_parse(data, len);
	mime_imap_envelope(msg, &m->envelope);
	mime_imap_bodystructure(msg, true, &m->bodystructure);
	mime_imap_bodystructure(msg, false, &m->body);
	mime_layout_encode(msg, &m->layout);
	top_fields(msg, m);
	preview(msg, m);
	if (what & MIME_META_TEXT) {
		mime_text_extract(msg, &m->header_text, &m->body_text);
		/* Past the index's bounds: no text, so the message stays out
		 * of the index and SEARCH reads it. */
		if (!mime_text_indexable(m->header_text.data,
					 m->header_text.len,
					 m->body_text.data, m->body_text.len)) {
			str_free(&m->header_text);
			str_free(&m->body_text);
		}
	}
	/* Empty, not missing: the index tells "none" from "not computed". */
	str_append(&m->subject, "", 0);
	str_append(&m->from, "", 0);
	str_append(&m->to, "", 0);
	str_append(&m->cc, "", 0);
	str_append(&m->preview, "", 0);
	mime_free(&msg);
}

void mime_meta_clear(struct mime_meta *m)
{
	str_free(&m->envelope);
	str_free(&m->bodystructure);
	str_free(&m->body);
	str_free(&m->layout);
	str_free(&m->subject);
	str_free(&m->from);
	str_free(&m->to);
	str_free(&m->cc);
	str_free(&m->preview);
	str_free(&m->header_text);
	str_free(&m->body_text);
	m->sentdate = 0;
}
