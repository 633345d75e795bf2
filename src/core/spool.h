/* spool: a temporary file holding one message while it arrives, so that
 * message data is never held whole in memory.
 *
 * The file has no name (O_TMPFILE, or unlinked at once), so a crash
 * leaves nothing behind and nothing else can open it.  Writes block:
 * call them on a worker thread. */
#ifndef POSTHORN_SPOOL_H
#define POSTHORN_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/* Create one in dir.  Returns 1, or -1 with errno's text in *err_r. */
int spool_new(const char *dir, struct spool **spool_r, const char **err_r);
void spool_free(struct spool **spool);

/* Append n bytes.  Returns 1, or -1 with the cause ("No space left on
 * device") in *err_r, valid until the spool is freed. */
int spool_write(struct spool *spool, const void *p, size_t n,
		const char **err_r);
/* The errno of the last failure (ENOSPC, ...), 0 if none. */
int spool_errno(const struct spool *spool);

int spool_fd(const struct spool *spool);
uint64_t spool_len(const struct spool *spool);

#endif
