#include "core/priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void hint(const char *name)
{
	fprintf(stderr,
		"Create it (useradd --system --no-create-home "
		"--shell /usr/sbin/nologin %s),\n"
		"or set server.user to another unprivileged user.\n",
		name);
}

static void suggest(void)
{
	fprintf(stderr,
		"Set server.user to an unprivileged user, such as the "
		"default 'posthorn'\n"
		"(create it with: useradd --system --no-create-home "
		"--shell /usr/sbin/nologin posthorn).\n");
}

int priv_check(const char *user)
{
	if (geteuid() != 0)
		return 0;
	if (user[0] == '\0') {
		/* Root with no one to become would keep every session, and
		 * every file it writes, root's. */
		fprintf(stderr,
			"posthorn: running as root, and server.user is empty; "
			"posthorn does not run as root.\n");
		suggest();
		return -1;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		fprintf(stderr,
			"posthorn: running as root, and user '%s' "
			"(server.user) does not exist.\n",
			user);
		hint(user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		fprintf(stderr,
			"posthorn: server.user '%s' is root (uid 0); "
			"posthorn does not run as root.\n",
			user);
		suggest();
		return -1;
	}
	return 0;
}

int priv_drop(const char *user, const char *data_dir)
{
	if (priv_check(user) < 0)
		return -1;
	if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "posthorn: cannot create %s: %s\n", data_dir,
			strerror(errno));
		return -1;
	}
	if (geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		fprintf(stderr, "posthorn: user '%s' (server.user) is gone\n",
			user);
		return -1;
	}
	if (chown(data_dir, pw->pw_uid, pw->pw_gid) < 0) {
		fprintf(stderr, "posthorn: cannot give %s to %s: %s\n",
			data_dir, user, strerror(errno));
		return -1;
	}
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "posthorn: cannot switch to user %s: %s\n",
			user, strerror(errno));
		return -1;
	}
	/* Make sure there is no way back. */
	if (setuid(0) == 0) {
		fprintf(stderr, "posthorn: could regain root after dropping "
				"privileges; refusing to run\n");
		return -1;
	}
	return 0;
}
