/* priv: leaving root.  The server binds its ports first, then calls this;
 * admin commands call it before opening the store, so that every file in
 * the data directory belongs to the same unprivileged user. */
#ifndef POSTHORN_PRIV_H
#define POSTHORN_PRIV_H

/* When running as root and `user` is not empty: create data_dir if
 * needed, give it to that user, and switch to the user's uid and gids.
 * Otherwise only creates data_dir.  Returns 0, or -1 after printing why
 * to stderr. */
int priv_drop(const char *user, const char *data_dir);

#endif
