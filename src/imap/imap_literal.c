/* Receiving an APPEND's message literal: into memory up to
 * IMAP_APPEND_MEMORY while the server-wide budget allows, else into a
 * nameless spool file on a worker, a piece at a time, so an APPEND of a
 * large message holds one piece in memory, never the message.  The
 * command itself is in imap_append.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/budget.h"
#include "core/spool.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "imap/imap_args.h"
#include "imap/imap_private.h"

/* Bytes taken from the socket before each spool write. */
#define SPOOL_PIECE (64 * 1024)

struct imap_append_data {
	uint64_t size;
	bool binary;
	bool utf8;		/* UTF8 (~{n}): ")" ends the command */
	size_t held;		/* bytes taken from the budget */
	struct str data;	/* in memory, or a piece on its way to spool */
	struct spool *spool;
	const char *err;	/* the spool failed: the APPEND will say NO */
	int spool_errno;
};

int imap_append_parse_head(struct imap_parser *p, struct imap_append *a_r)
{
	struct imap_string tag, name;
	int rc = imap_parse_tag(p, &tag);
	if (rc > 0)
		rc = imap_parse_command_name(p, &name);
	if (rc > 0 && !imap_string_eq(&name, "APPEND"))
		rc = imap_parser_fail(p, "Not APPEND");
	return rc > 0 ? imap_args_append(p, a_r) : rc;
}

int imap_append_is_message(const char *cmd, size_t len, unsigned flags)
{
	struct imap_parser *p = imap_parser_new(cmd, len, flags);
	struct imap_append a;
	int rc = imap_append_parse_head(p, &a);
	imap_parser_free(&p);
	return rc <= 0 ? 0 : a.utf8 ? 2 : 1;
}

void imap_append_new(struct imap_session *s, uint64_t size, bool binary,
		     bool utf8)
{
	struct imap_append_data *a = xcalloc(1, sizeof(*a));
	a->size = size;
	a->binary = binary;
	a->utf8 = utf8;
	if (size <= IMAP_APPEND_MEMORY && budget_take(s->env->budget, size))
		a->held = size;
	s->append = a;
}

bool imap_append_end_ok(const struct imap_session *s, const char *line,
			size_t len)
{
	return s->append->utf8 ? len == 1 && line[0] == ')' : len == 0;
}

void imap_append_free(struct imap_session *s)
{
	struct imap_append_data *a = s->append;
	if (a == NULL)
		return;
	budget_give(s->env->budget, a->held);
	spool_free(&a->spool);
	str_free(&a->data);
	free(a);
	s->append = NULL;
}

static void spool_run(void *arg)
{
	struct imap_session *s = arg;
	struct imap_append_data *a = s->append;
	if (a->err == NULL && a->spool == NULL &&
	    spool_new(s->env->spool_dir, &a->spool, &a->err) < 0)
		a->spool_errno = errno;
	if (a->err == NULL &&
	    spool_write(a->spool, a->data.data, a->data.len, &a->err) < 0)
		a->spool_errno = spool_errno(a->spool);
	str_clear(&a->data);
}

static void spool_done(void *arg)
{
	(void)arg;
}

bool imap_append_read(struct imap_session *s)
{
	struct imap_append_data *a = s->append;
	if (a->held > 0) {
		s->literal_left -= session_read_bytes(
			s->sess, (size_t)s->literal_left, &a->data);
		return s->literal_left == 0;
	}
	size_t room = SPOOL_PIECE - a->data.len;
	size_t want = s->literal_left < room ? (size_t)s->literal_left : room;
	s->literal_left -= session_read_bytes(s->sess, want, &a->data);
	if (a->data.len < SPOOL_PIECE && s->literal_left > 0)
		return false;
	if (a->data.len > 0 &&
	    !session_run(s->sess, s->env->workers, spool_run, spool_done)) {
		session_close(s->sess);
		return false;
	}
	return s->literal_left == 0 && !session_busy(s->sess);
}


const char *imap_append_error(const struct imap_session *s)
{
	return s->append->err;
}

uint64_t imap_append_size(const struct imap_session *s)
{
	return s->append->size;
}

const char *imap_append_bytes(const struct imap_session *s, void **map,
			      size_t *len)
{
	const struct imap_append_data *a = s->append;
	*map = NULL;
	*len = a->size;
	if (a->spool == NULL)
		return a->data.data != NULL ? a->data.data : "";
	if (a->size == 0)
		return "";
	*map = mmap(NULL, a->size, PROT_READ, MAP_PRIVATE, spool_fd(a->spool),
		    0);
	return *map == MAP_FAILED ? NULL : *map;
}
