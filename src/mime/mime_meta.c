/* The meta of a message, in one parse. */
#include "mime/mime_meta.h"

#include "mime/mime.h"
#include "mime/mime_imap.h"
#include "mime/mime_layout.h"

void mime_meta_compute(const char *data, size_t len, struct mime_meta *m)
{
	mime_meta_clear(m);
	struct mime_msg *msg = mime_parse(data, len);
	mime_imap_envelope(msg, &m->envelope);
	mime_imap_bodystructure(msg, true, &m->bodystructure);
	mime_imap_bodystructure(msg, false, &m->body);
	mime_layout_encode(msg, &m->layout);
	mime_free(&msg);
}

void mime_meta_clear(struct mime_meta *m)
{
	str_free(&m->envelope);
	str_free(&m->bodystructure);
	str_free(&m->body);
	str_free(&m->layout);
	m->sentdate = 0;
}
