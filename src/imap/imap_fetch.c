/* FETCH and UID FETCH (RFC 9051 6.4.5, 7.5.2).
 *
 * The answer is built on a worker, message after message, in pieces of
 * about IMAP_OUTPUT_PIECE bytes: after each piece the job returns, the
 * loop writes it, and the next piece is built once the client has read
 * it, so a FETCH 1:* BODY[] of a large mailbox holds one piece, not the
 * mailbox.  A literal larger than a piece is sent in pieces too.
 *
 * Index items (FLAGS, UID, sizes, dates, ENVELOPE, BODYSTRUCTURE) come from
 * the index without reading the message; sections read only their bytes,
 * found with the part layout kept at delivery.  A message stored without
 * its meta (before the index kept it) is parsed once, and its meta kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "deliver/deliver.h"
#include "imap/imap_date.h"
#include "imap/imap_fetch_parse.h"
#include "imap/imap_objectid.h"
#include "imap/imap_write.h"
#include "imap/imap_private.h"
#include "mime/mime_decode.h"
#include "mime/mime_imap.h"
#include "mime/mime_layout.h"
#include "mime/mime_meta.h"

/* Messages whose index rows are read at once. */
#define FETCH_BATCH 256

/* One message's index row, kept for the batch. */
struct fetch_msg {
	uint32_t uid, seq;
	unsigned flags;
	char *keywords;
	uint64_t modseq, size;
	int64_t internaldate, savedate, email_id, thread_id;
	char *envelope, *bodystructure, *body, *preview;
	void *layout;
	size_t layout_len;
	bool have_meta;
};

struct fetch_args {
	struct imap_fetch f;
	uint32_t *uids;		/* to answer, ascending */
	size_t n;
	size_t next;		/* first not yet answered */
	bool want_meta;		/* some item needs the MIME meta */
	bool set_seen;		/* some item sets \Seen */
	bool seen_done;
	bool add_uid;		/* UID FETCH without UID asked for */
	bool add_flags;		/* \Seen set without FLAGS asked for */
	bool unknown_cte;	/* BINARY met an encoding we do not know */
	bool add_modseq;	/* CHANGEDSINCE without MODSEQ asked for */

	struct fetch_msg batch[FETCH_BATCH];
	size_t nbatch, ibatch;
	/* Within the message being answered: the next item, and a literal
	 * being sent in pieces. */
	unsigned att;
	bool open;		/* "* n FETCH (" written */
	bool sep;		/* and an item in it: the next needs a space */
	uint64_t lit_off, lit_end;
	struct str bytes;	/* message bytes read for sections */
	uint32_t bytes_uid;
};

static void msg_clear(struct fetch_msg *m)
{
	free(m->keywords);
	free(m->envelope);
	free(m->bodystructure);
	free(m->body);
	free(m->preview);
	free(m->layout);
	memset(m, 0, sizeof(*m));
}

static void batch_clear(struct fetch_args *a)
{
	for (size_t i = 0; i < a->nbatch; i++)
		msg_clear(&a->batch[i]);
	a->nbatch = a->ibatch = 0;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct batch_ctx {
	struct fetch_args *a;
	const struct imap_view *v;
	size_t want;		/* index into a->uids of the next wanted */
	size_t end;
};

static bool batch_one(const struct store_msginfo *m, void *ctx)
{
	struct batch_ctx *b = ctx;
	struct fetch_args *a = b->a;
	while (b->want < b->end && a->uids[b->want] < m->uid)
		b->want++;
	if (b->want == b->end)
		return false;
	if (a->uids[b->want] != m->uid)
		return true;
	if (a->f.changedsince && m->modseq <= a->f.changedsince_modseq) {
		b->want++;
		return b->want < b->end;
	}
	struct fetch_msg *x = &a->batch[a->nbatch++];
	x->uid = m->uid;
	x->seq = imap_view_seq(b->v, m->uid);
	x->flags = m->flags;
	x->keywords = xstrdup(m->keywords);
	x->modseq = m->modseq;
	x->size = m->size;
	x->internaldate = m->internaldate;
	x->savedate = m->savedate;
	x->email_id = m->email_id;
	x->thread_id = m->thread_id;
	if (m->meta.envelope != NULL && m->meta.bodystructure != NULL &&
	    m->meta.body != NULL && m->meta.layout != NULL) {
		x->envelope = dup_or_null(m->meta.envelope);
		x->bodystructure = dup_or_null(m->meta.bodystructure);
		x->body = dup_or_null(m->meta.body);
		x->preview = dup_or_null(m->meta.preview);
		x->layout = xmalloc(m->meta.layout_len ? m->meta.layout_len : 1);
		memcpy(x->layout, m->meta.layout, m->meta.layout_len);
		x->layout_len = m->meta.layout_len;
		x->have_meta = true;
	}
	b->want++;
	return b->want < b->end;
}

/* The index rows of the next messages to answer.  Messages expunged
 * meanwhile are not in it: they are left out of the answer. */
/* Keywords the client may not know yet: FLAGS before the batch's answers
 * (RFC 9051 7.3.5), between two FETCH responses. */
static int batch_keywords(struct imap_session *s, struct store_account *acct)
{
	struct fetch_args *a = s->args;
	for (size_t i = 0; i < a->nbatch; i++)
		if (a->batch[i].keywords != NULL &&
		    a->batch[i].keywords[0] != '\0')
			return imap_flags_keywords(s, acct, s->out.len);
	return 1;
}

static int batch_load(struct imap_session *s, struct store_account *acct)
{
	struct fetch_args *a = s->args;
	batch_clear(a);
	if (a->next >= a->n)
		return 1;
	size_t end = a->next + FETCH_BATCH < a->n ? a->next + FETCH_BATCH
						  : a->n;
	struct batch_ctx b = {a, s->view, a->next, end};
	const char *err = NULL;
	int rc = store_msg_scan(acct, s->view->id, a->uids[a->next],
				a->uids[end - 1],
				a->want_meta ? STORE_INFO_META : 0, batch_one,
				&b, &err);
	a->next = end;
	return rc > 0 ? batch_keywords(s, acct) : rc;
}

/* ---- message bytes ---- */

/* The whole message into a->bytes (sections and meta need it). */
static int load_bytes(struct imap_session *s, struct store_account *acct,
		      struct fetch_msg *m)
{
	struct fetch_args *a = s->args;
	if (a->bytes_uid == m->uid && a->bytes.len == m->size)
		return 1;
	a->bytes_uid = 0;
	int rc = imap_read_message(s, acct, m->uid, m->size, &a->bytes);
	if (rc > 0)
		a->bytes_uid = m->uid;
	return rc;
}

/* A message without its meta: parse it now, and keep the result. */
static int ensure_meta(struct imap_session *s, struct store_account *acct,
		       struct fetch_msg *m)
{
	if (m->have_meta)
		return 1;
	int rc = load_bytes(s, acct, m);
	if (rc <= 0)
		return rc;
	struct fetch_args *a = s->args;
	struct mime_meta mm = MIME_META_INIT;
	mime_meta_compute(a->bytes.data, a->bytes.len, 0, &mm);
	free(m->envelope);
	free(m->bodystructure);
	free(m->body);
	free(m->layout);
	m->envelope = xstrdup(mm.envelope.data);
	m->bodystructure = xstrdup(mm.bodystructure.data);
	m->body = xstrdup(mm.body.data);
	free(m->preview);
	m->preview = xstrdup(mm.preview.data);
	m->layout = xmalloc(mm.layout.len);
	memcpy(m->layout, mm.layout.data, mm.layout.len);
	m->layout_len = mm.layout.len;
	m->have_meta = true;
	struct store_msg_meta sm;
	deliver_meta_view(&mm, &sm);
	store_msg_set_meta(acct, m->email_id, &sm, NULL);
	mime_meta_clear(&mm);
	return 1;
}

/* ---- items ---- */

static const enum mime_section section_kinds[] = {
	[IMAP_SECTION_ALL] = MIME_SECTION_WHOLE,
	[IMAP_SECTION_HEADER] = MIME_SECTION_HEADER,
	[IMAP_SECTION_HEADER_FIELDS] = MIME_SECTION_HEADER_FIELDS,
	[IMAP_SECTION_HEADER_FIELDS_NOT] = MIME_SECTION_HEADER_FIELDS_NOT,
	[IMAP_SECTION_TEXT] = MIME_SECTION_TEXT,
	[IMAP_SECTION_MIME] = MIME_SECTION_MIME,
};

static void part_path(const struct imap_section *sec, struct str *out)
{
	for (unsigned i = 0; i < sec->depth; i++)
		str_printf(out, i ? ".%u" : "%u", sec->part[i]);
}

/* Clip [off, off+len) to the item's <start.count>. */
static void apply_partial(const struct imap_fetch_att *att, size_t *off,
			  size_t *len)
{
	if (!att->partial)
		return;
	uint64_t start = att->partial_start, count = att->partial_count;
	if (start >= *len) {
		*off += *len;
		*len = 0;
		return;
	}
	*off += start;
	*len -= start;
	if (count < *len)
		*len = count;
}

/* A literal of len bytes from the message at off: written now if small,
 * else announced and sent in pieces by fetch_stream(). */
static void literal_from_message(struct imap_session *s, uint64_t off,
				 uint64_t len)
{
	struct fetch_args *a = s->args;
	str_printf(&s->out, "{%llu}\r\n", (unsigned long long)len);
	a->lit_off = off;
	a->lit_end = off + len;
}

static int section_answer(struct imap_session *s, struct store_account *acct,
			  struct fetch_msg *m, const struct imap_fetch_att *att)
{
	struct fetch_args *a = s->args;
	const struct imap_section *sec = &att->section;
	struct str *o = &s->out;
	imap_write_fetch_name(o, att);
	str_appendc(o, ' ');
	/* The whole message needs no layout. */
	if (sec->depth == 0 && sec->text == IMAP_SECTION_ALL) {
		size_t off = 0, len = m->size;
		apply_partial(att, &off, &len);
		literal_from_message(s, off, len);
		return 1;
	}
	int rc = ensure_meta(s, acct, m);
	if (rc <= 0)
		return rc;
	struct str path = STR_INIT;
	struct mime_range r;
	part_path(sec, &path);
	rc = mime_layout_section(m->layout, m->layout_len,
				 path.data ? path.data : "", path.len,
				 section_kinds[sec->text], &r);
	str_free(&path);
	if (rc <= 0 || r.off + r.len > m->size) {
		/* A section the message does not have is empty. */
		str_appends(o, "\"\"");
		return 1;
	}
	if (sec->text != IMAP_SECTION_HEADER_FIELDS &&
	    sec->text != IMAP_SECTION_HEADER_FIELDS_NOT) {
		size_t off = r.off, len = r.len;
		apply_partial(att, &off, &len);
		literal_from_message(s, off, len);
		return 1;
	}
	rc = load_bytes(s, acct, m);
	if (rc <= 0)
		return rc;
	const char **names = xcalloc(sec->n_fields + 1, sizeof(*names));
	for (unsigned i = 0; i < sec->n_fields; i++)
		names[i] = sec->fields[i].data;
	struct str hdr = STR_INIT;
	mime_imap_header_fields(a->bytes.data + r.off, r.len, names,
				sec->n_fields,
				sec->text == IMAP_SECTION_HEADER_FIELDS_NOT,
				&hdr);
	free(names);
	size_t off = 0, len = hdr.len;
	apply_partial(att, &off, &len);
	str_printf(o, "{%zu}\r\n", len);
	str_append(o, hdr.data ? hdr.data + off : "", len);
	str_free(&hdr);
	return 1;
}

static const char *const cte_names[] = {
	[MIME_CTE_7BIT] = "7bit", [MIME_CTE_8BIT] = "8bit",
	[MIME_CTE_BINARY] = "binary", [MIME_CTE_QP] = "quoted-printable",
	[MIME_CTE_BASE64] = "base64", [MIME_CTE_OTHER] = "x-unknown",
};

/* BINARY[part] and BINARY.SIZE[part] (RFC 3516): the part's content with
 * its transfer encoding undone.  An encoding we do not know is the
 * command's failure ([UNKNOWN-CTE]), not an empty answer. */
static int binary_answer(struct imap_session *s, struct store_account *acct,
			 struct fetch_msg *m, const struct imap_fetch_att *att)
{
	struct fetch_args *a = s->args;
	const struct imap_section *sec = &att->section;
	struct str *o = &s->out;
	struct str path = STR_INIT, dec = STR_INIT;
	struct mime_range r;
	imap_write_fetch_name(o, att);
	str_appendc(o, ' ');
	int rc = ensure_meta(s, acct, m);
	if (rc > 0)
		rc = load_bytes(s, acct, m);
	if (rc <= 0)
		return rc;
	part_path(sec, &path);
	rc = mime_layout_section(m->layout, m->layout_len,
				 path.data ? path.data : "", path.len,
				 MIME_SECTION_WHOLE, &r);
	str_free(&path);
	if (rc <= 0 || r.off + r.len > a->bytes.len) {
		str_appends(o, att->item == IMAP_FETCH_BINARY ? "\"\"" : "0");
		return 1;
	}
	const char *cte = cte_names[r.cte];
	if (mime_decode_cte(cte, strlen(cte), a->bytes.data + r.off, r.len,
			    &dec) == 0) {
		a->unknown_cte = true;
		str_appends(o, "NIL");
		return 1;
	}
	if (att->item == IMAP_FETCH_BINARY_SIZE) {
		str_printf(o, "%zu", dec.len);
	} else {
		size_t off = 0, len = dec.len;
		apply_partial(att, &off, &len);
		bool nul = len > 0 && memchr(dec.data + off, '\0', len) != NULL;
		str_printf(o, "%s{%zu}\r\n", nul ? "~" : "", len);
		str_append(o, dec.data ? dec.data + off : "", len);
	}
	str_free(&dec);
	return 1;
}

/* Another session expunged the message while this FETCH read it (RFC
 * 2180 4.1): its items still get values, empty ones that keep the
 * response's grammar, rather than a name with nothing after it. */
#define GONE_ENVELOPE "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
#define GONE_BODY "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)"

static int gone_nil(struct str *o)
{
	str_appends(o, "NIL");
	return 1;
}

static int item_answer(struct imap_session *s, struct store_account *acct,
		       struct fetch_msg *m, const struct imap_fetch_att *att)
{
	struct str *o = &s->out;
	int rc = 1;
	switch (att->item) {
	case IMAP_FETCH_FLAGS:
		imap_flags_write(s, o, m->uid, m->flags, m->keywords);
		break;
	case IMAP_FETCH_UID:
		str_printf(o, "UID %u", m->uid);
		break;
	case IMAP_FETCH_INTERNALDATE:
		str_appends(o, "INTERNALDATE ");
		imap_date_time_write(o, m->internaldate, 0);
		break;
	case IMAP_FETCH_SAVEDATE:
		str_appends(o, "SAVEDATE ");
		imap_date_time_write(o, m->savedate, 0);
		break;
	case IMAP_FETCH_RFC822_SIZE:
		str_printf(o, "RFC822.SIZE %llu", (unsigned long long)m->size);
		break;
	case IMAP_FETCH_MODSEQ:
		str_printf(o, "MODSEQ (%llu)", (unsigned long long)m->modseq);
		break;
	case IMAP_FETCH_EMAILID: {
		char id[IMAP_OBJECTID_MAX];
		imap_objectid_format(IMAP_OBJECTID_EMAIL, s->user_id,
				     m->email_id, id);
		str_printf(o, "EMAILID (%s)", id);
		break;
	}
	case IMAP_FETCH_THREADID: {
		/* 0: a row the store could not place (RFC 8474 allows NIL). */
		char id[IMAP_OBJECTID_MAX];
		if (m->thread_id <= 0) {
			str_appends(o, "THREADID NIL");
			break;
		}
		imap_objectid_format(IMAP_OBJECTID_THREAD, s->user_id,
				     m->thread_id, id);
		str_printf(o, "THREADID (%s)", id);
		break;
	}
	case IMAP_FETCH_ENVELOPE:
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE:
		rc = ensure_meta(s, acct, m);
		if (rc < 0)
			break;
		str_appends(o, att->item == IMAP_FETCH_ENVELOPE ? "ENVELOPE "
			       : att->item == IMAP_FETCH_BODY	? "BODY "
								: "BODYSTRUCTURE ");
		if (rc == 0)
			str_appends(o, att->item == IMAP_FETCH_ENVELOPE
					       ? GONE_ENVELOPE
					       : GONE_BODY);
		else
			str_appends(o, att->item == IMAP_FETCH_ENVELOPE
					       ? m->envelope
				       : att->item == IMAP_FETCH_BODY
					       ? m->body
					       : m->bodystructure);
		rc = 1;
		break;
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_RFC822_HEADER:
	case IMAP_FETCH_RFC822_TEXT:
	case IMAP_FETCH_BODY_SECTION:
		rc = section_answer(s, acct, m, att);
		if (rc == 0)
			rc = gone_nil(o);
		break;
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		rc = binary_answer(s, acct, m, att);
		if (rc == 0) {
			if (att->item == IMAP_FETCH_BINARY_SIZE)
				str_appends(o, "0");
			else
				gone_nil(o);
			rc = 1;
		}
		break;
	case IMAP_FETCH_PREVIEW:
		if (m->preview == NULL) {
			/* Kept before previews were: computed now. */
			m->have_meta = false;
			rc = ensure_meta(s, acct, m);
			if (rc < 0)
				break;
		}
		str_appends(o, "PREVIEW ");
		if (rc == 0)
			rc = gone_nil(o);
		else
			imap_write_string(o, m->preview, strlen(m->preview),
					  false);
		break;
	default:
		/* Not offered in CAPABILITY: the parser knows more items than
		 * this server answers yet. */
		str_appends(o, "NIL");
		break;
	}
	return rc;
}

/* A literal may not hold NUL (RFC 9051 4.3; only BINARY's literal8
 * may): a message's NUL bytes go out as 0x80, as other servers do, so
 * the length stays what was announced and the client's parser whole. */
static void no_nul(char *p, size_t n)
{
	for (char *z = memchr(p, '\0', n); z != NULL;
	     z = memchr(z + 1, '\0', n - (size_t)(z + 1 - p)))
		*z = (char)0x80;
}

/* Send the next piece of the literal under way.  Returns 1 when it is
 * finished, 0 when more pieces remain, or a store_fail. */
static int fetch_stream(struct imap_session *s, struct store_account *acct,
			struct fetch_msg *m)
{
	struct fetch_args *a = s->args;
	while (a->lit_off < a->lit_end) {
		if (s->out.len >= IMAP_OUTPUT_PIECE)
			return 0;
		size_t want = a->lit_end - a->lit_off;
		if (want > IMAP_OUTPUT_PIECE)
			want = IMAP_OUTPUT_PIECE;
		if (a->bytes_uid == m->uid) {
			str_append(&s->out, a->bytes.data + a->lit_off, want);
			no_nul(s->out.data + s->out.len - want, want);
			a->lit_off += want;
			continue;
		}
		size_t got = 0;
		char *dst = str_reserve(&s->out, want);
		int rc = store_msg_read(acct, s->view->id, m->uid, a->lit_off,
					dst, want, &got, NULL);
		if (rc <= 0 || got == 0) {
			/* Gone meanwhile: the literal's length is promised,
			 * so fill it rather than break the stream. */
			memset(dst, ' ', want);
			got = want;
		}
		no_nul(dst, got);
		str_commit(&s->out, got);
		a->lit_off += got;
	}
	return 1;
}

/* Answer as much of one message as fits in this piece.  Returns 1 when
 * the message is done, 0 when the piece is full, or a store_fail. */
static int message_answer(struct imap_session *s, struct store_account *acct,
			  struct fetch_msg *m)
{
	struct fetch_args *a = s->args;
	const struct imap_fetch *f = &a->f;
	if (!a->open) {
		str_printf(&s->out, "* %u FETCH (", m->seq);
		a->open = true;
		a->att = 0;
		a->sep = a->add_uid;
		if (a->add_uid)
			str_printf(&s->out, "UID %u", m->uid);
	}
	for (;;) {
		int rc = fetch_stream(s, acct, m);
		if (rc <= 0)
			return rc;
		if (a->att == f->n_atts)
			break;
		size_t mark = s->out.len;
		if (a->sep)
			str_appendc(&s->out, ' ');
		rc = item_answer(s, acct, m, &f->atts[a->att++]);
		if (rc < 0)
			return rc;
		/* Expunged meanwhile, its bytes gone: the item is left out
		 * whole rather than a name without its value (imaptest's
		 * load found "BODY[...] " with nothing after it). */
		if (rc == 0)
			str_truncate(&s->out, mark);
		else
			a->sep = true;
	}
	/* \Seen was set: the client hears the new flags (RFC 9051
	 * 6.4.5). */
	if (a->add_flags) {
		str_appends(&s->out, a->sep ? " " : "");
		imap_flags_write(s, &s->out, m->uid, m->flags, m->keywords);
	}
	if (a->add_modseq)
		str_printf(&s->out, "%sMODSEQ (%llu)",
			   a->sep || a->add_flags ? " " : "",
			   (unsigned long long)m->modseq);
	/* Every item left out: the grammar wants one at least. */
	if (!a->sep && !a->add_flags && !a->add_modseq)
		str_printf(&s->out, "UID %u", m->uid);
	str_appends(&s->out, ")\r\n");
	a->open = false;
	return 1;
}

/* \Seen for the messages whose body is fetched (not PEEK), before any is
 * answered, so their FLAGS in the answer are right. */
static void seen_cb(const struct store_flag_change *c, void *ctx)
{
	(void)c;
	(void)ctx;
}

static int set_seen(struct imap_session *s, struct store_account *acct)
{
	struct fetch_args *a = s->args;
	const char *err = NULL;
	a->seen_done = true;
	if (!a->set_seen || s->view->readonly || a->n == 0)
		return 1;
	return store_msg_flags(acct, s->view->id, a->uids, a->n,
			       STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
			       seen_cb, NULL, &err);
}

static void fetch_run(struct imap_session *s)
{
	struct fetch_args *a = s->args;
	struct store_account *acct = imap_account(s);
	if (acct == NULL)
		return;
	int rc = 1;
	if (!a->seen_done && a->f.vanished)
		rc = imap_view_vanished_since(s, acct, a->f.changedsince_modseq,
					      &a->f.set, false);
	if (rc > 0 && !a->seen_done)
		rc = set_seen(s, acct);
	s->more = false;
	while (rc > 0) {
		if (a->ibatch == a->nbatch) {
			if (a->next >= a->n)
				break;
			rc = batch_load(s, acct);
			continue;
		}
		rc = message_answer(s, acct, &a->batch[a->ibatch]);
		if (rc == 0) {
			s->more = true;
			break;
		}
		if (rc > 0) {
			msg_clear(&a->batch[a->ibatch]);
			a->ibatch++;
			if (s->out.len >= IMAP_OUTPUT_PIECE &&
			    (a->ibatch < a->nbatch || a->next < a->n)) {
				s->more = true;
				break;
			}
		}
	}
	if (rc > 0 && !s->more) {
		/* New messages may be told now; expunges wait (7.5.1). */
		imap_view_sync_if_changed(s, acct, s->uid);
		if (a->unknown_cte)
			imap_tagged(s, "NO [UNKNOWN-CTE] Cannot decode a part's "
				       "content transfer encoding");
		else
			imap_tagged(s, "OK %sFETCH completed",
				    s->uid ? "UID " : "");
	}
	store_account_unref(&acct);
	if (rc < 0) {
		/* Half an answer is on its way: end it as well as we can. */
		if (a->open)
			str_appends(&s->out, ")\r\n");
		s->more = false;
		imap_tagged_fail(s, rc, "FETCH", NULL);
	}
}

static void fetch_finish(struct imap_session *s)
{
	struct fetch_args *a = s->args;
	batch_clear(a);
	free(a->uids);
	str_free(&a->bytes);
}

static bool att_needs_meta(const struct imap_fetch_att *att)
{
	switch (att->item) {
	case IMAP_FETCH_ENVELOPE:
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE:
		return true;
	case IMAP_FETCH_BODY_SECTION:
	case IMAP_FETCH_RFC822_HEADER:
	case IMAP_FETCH_RFC822_TEXT:
		return att->section.depth > 0 ||
		       att->section.text != IMAP_SECTION_ALL;
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
	case IMAP_FETCH_PREVIEW:
		return true;
	default:
		return false;
	}
}

static bool att_sets_seen(const struct imap_fetch_att *att)
{
	switch (att->item) {
	case IMAP_FETCH_RFC822_TEXT:
		return true;
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_BODY_SECTION:
	case IMAP_FETCH_BINARY:
		return !att->peek;
	default:
		return false;
	}
}

void imap_cmd_fetch(struct imap_session *s, struct imap_parser *p)
{
	struct fetch_args *a = xcalloc(1, sizeof(*a));
	s->args = a;
	s->finish = fetch_finish;
	if (imap_fetch_parse(p, s->uid, &a->f) < 0) {
		imap_reply_parse_error(s, p);
		return;
	}
	a->add_uid = s->uid;
	bool want_flags = false, want_modseq = false;
	for (unsigned i = 0; i < a->f.n_atts; i++) {
		const struct imap_fetch_att *att = &a->f.atts[i];
		if (att->item == IMAP_FETCH_UID)
			a->add_uid = false;
		if (att->item == IMAP_FETCH_FLAGS)
			want_flags = true;
		if (att->item == IMAP_FETCH_MODSEQ)
			want_modseq = true;
		a->want_meta |= att_needs_meta(att);
		a->set_seen |= att_sets_seen(att);
	}
	a->add_flags = a->set_seen && !want_flags && !s->view->readonly;
	/* CHANGEDSINCE implies MODSEQ (RFC 7162 3.1.4.1); both enable
	 * CONDSTORE for the session. */
	if (a->f.changedsince || want_modseq)
		imap_condstore_enable(s);
	a->add_modseq = a->f.changedsince && !want_modseq;
	if (!imap_check_seqset(s, &a->f.set))
		return;
	imap_view_resolve(s, &a->f.set, s->uid, &a->uids, &a->n);
	imap_take_changed(s);
	imap_job(s, fetch_run);
}
