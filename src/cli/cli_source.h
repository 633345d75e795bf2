/* cli_source: the files of a mail tree being imported (a Maildir, an mbox
 * file, a directory of mbox files), opened with the rights of whoever ran
 * the command.
 *
 * Admin commands leave root before they open the store (core/priv.h), but
 * the tree to import usually belongs to another user (Dovecot's vmail,
 * mode 0700).  So when run as root, cli_source_new() starts a helper
 * process that keeps root's rights for one thing only: opening files
 * below the source path, read-only, and handing the descriptors over a
 * socket.  The command itself then drops to server.user as usual, and
 * every byte it stores is written as that user.  Not as root, files are
 * opened in-process, relative to the source's directory.
 *
 * Symbolic links are never followed below the source path, and a name
 * with a ".." component is refused, so a tree cannot lead the helper to
 * a file outside it. */
#ifndef POSTHORN_CLI_SOURCE_H
#define POSTHORN_CLI_SOURCE_H

#include <stdbool.h>

struct cli_source;

/* Open `path` (a directory or a file) and, as root, start the helper.
 * Call it before anything leaves root.  Returns 1, or -1 with errno set
 * (the caller reports the path). */
int cli_source_new(const char *path, struct cli_source **src_r);
/* Stops the helper (and waits for it). */
void cli_source_free(struct cli_source **src);

/* Whether the source path is a directory. */
bool cli_source_is_dir(const struct cli_source *src);

/* A new read-only descriptor (O_CLOEXEC) for `rel`, a path relative to
 * the source ("" for the source itself), a directory or a regular file;
 * anything else (device, FIFO, socket, symbolic link) is refused with
 * EINVAL, as is a ".." component or a leading "/".  Returns the fd, or -1
 * with errno set. */
int cli_source_open(struct cli_source *src, const char *rel);

/* Whether `rel` is one a source opens (see above).  Pure. */
bool cli_source_rel_ok(const char *rel);

#endif
