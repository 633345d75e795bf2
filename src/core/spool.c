#include "core/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"

struct spool {
	int fd;
	uint64_t len;
	int err;
};

/* Where O_TMPFILE is not supported (some file systems), a named file
 * unlinked at once does the same. */
static int open_nameless(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
			errno != EINVAL))
		return fd;
	size_t n = strlen(dir) + sizeof("/spool-XXXXXX");
	char *path = xmalloc(n);
	snprintf(path, n, "%s/spool-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	free(path);
	return fd;
}

int spool_new(const char *dir, struct spool **spool_r, const char **err_r)
{
	int fd = open_nameless(dir);
	if (fd < 0) {
		*err_r = strerror(errno);
		return -1;
	}
	struct spool *sp = xcalloc(1, sizeof(*sp));
	sp->fd = fd;
	*spool_r = sp;
	return 1;
}

void spool_free(struct spool **spp)
{
	struct spool *sp = *spp;
	if (sp == NULL)
		return;
	close(sp->fd);
	free(sp);
	*spp = NULL;
}

int spool_write(struct spool *sp, const void *p, size_t n,
		const char **err_r)
{
	const char *at = p;
	while (n > 0) {
		ssize_t w = pwrite(sp->fd, at, n, (off_t)sp->len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			sp->err = w < 0 ? errno : ENOSPC;
			*err_r = strerror(sp->err);
			return -1;
		}
		at += w;
		n -= (size_t)w;
		sp->len += (uint64_t)w;
	}
	return 1;
}

int spool_errno(const struct spool *sp)
{
	return sp->err;
}

int spool_fd(const struct spool *sp)
{
	return sp->fd;
}

uint64_t spool_len(const struct spool *sp)
{
	return sp->len;
}
