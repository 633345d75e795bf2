/* priv: leaving root.  posthorn never runs as root: started as root, the
 * server binds its ports first, then calls priv_drop(); admin commands call
 * it before opening the store, so that every file in the data directory
 * belongs to the same unprivileged user. */
#ifndef POSTHORN_PRIV_H
#define POSTHORN_PRIV_H

/* Whether we could leave root for `user` (server.user): always 0 when not
 * running as root; as root, -1 after printing why to stderr when `user` is
 * empty, does not exist, or is root itself (uid 0).  Cheap, no side
 * effects: call it before binding ports or creating anything. */
int priv_check(const char *user);

/* Create data_dir if needed.  As root, after priv_check(): give data_dir
 * to `user` and switch to its uid and gids for good.  Returns 0, or -1
 * after printing why to stderr. */
int priv_drop(const char *user, const char *data_dir);

#endif
