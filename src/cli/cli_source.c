#include "cli/cli_source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/xalloc.h"

struct cli_source {
	int root;	/* the source path itself */
	bool dir;
	int sock;	/* to the helper, -1 when there is none */
	pid_t helper;
};

bool cli_source_rel_ok(const char *rel)
{
	if (rel[0] == '/' || strlen(rel) >= PATH_MAX)
		return false;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

/* One component below dir, never through a symbolic link; only a
 * directory or a regular file. */
static int open_below(int dir, const char *name, bool last)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fd = openat(dir, name, last ? flags : flags | O_DIRECTORY);
	struct stat st;
	if (fd < 0 || !last)
		return fd;
	if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* Walks rel a component at a time: O_NOFOLLOW alone would only guard
 * the last one. */
static int open_rel(int root, const char *rel)
{
	char comp[NAME_MAX + 1];
	if (!cli_source_rel_ok(rel)) {
		errno = EINVAL;
		return -1;
	}
	int dir = fcntl(root, F_DUPFD_CLOEXEC, 0);
	while (dir >= 0 && *rel) {
		size_t n = strcspn(rel, "/");
		if (n > NAME_MAX) {
			close(dir);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		rel += n;
		while (*rel == '/')
			rel++;
		if (n == 0)
			continue;
		int next = open_below(dir, comp, *rel == '\0');
		int e = errno;
		close(dir);
		errno = e;
		dir = next;
	}
	return dir;
}

static int send_fd(int sock, int err, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {&err, sizeof(err)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		msg.msg_control = ctl;
		msg.msg_controllen = sizeof(ctl);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* The helper: root's rights, nothing else to do than open what it is
 * asked for.  It dies with the command. */
static void helper_run(int sock, int root, pid_t parent)
{
	char path[PATH_MAX + 1];
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	for (;;) {
		ssize_t n = recv(sock, path, sizeof(path) - 1, 0);
		if (n <= 0)
			_exit(0);
		path[n] = '\0';
		int fd = strlen(path) == (size_t)n ? open_rel(root, path) : -1;
		int err = fd < 0 ? (errno ? errno : EINVAL) : 0;
		if (send_fd(sock, err, fd) < 0)
			_exit(1);
		if (fd >= 0)
			close(fd);
	}
}

static int start_helper(struct cli_source *s)
{
	int sv[2];
	pid_t parent = getpid();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_run(sv[1], s->root, parent);
	}
	close(sv[1]);
	s->sock = sv[0];
	s->helper = pid;
	return 0;
}

int cli_source_new(const char *path, struct cli_source **src_r)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 ||
	    (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	struct cli_source *s = xcalloc(1, sizeof(*s));
	s->root = fd;
	s->dir = S_ISDIR(st.st_mode);
	s->sock = -1;
	/* A file opened now stays readable after we leave root; the files
	 * below a directory are opened later, by the helper. */
	if (s->dir && geteuid() == 0 && start_helper(s) < 0) {
		int e = errno;
		cli_source_free(&s);
		errno = e;
		return -1;
	}
	*src_r = s;
	return 1;
}

void cli_source_free(struct cli_source **src)
{
	struct cli_source *s = *src;
	if (s == NULL)
		return;
	if (s->sock >= 0) {
		close(s->sock);
		while (waitpid(s->helper, NULL, 0) < 0 && errno == EINTR)
			;
	}
	close(s->root);
	free(s);
	*src = NULL;
}

bool cli_source_is_dir(const struct cli_source *src)
{
	return src->dir;
}

static int ask_helper(struct cli_source *s, const char *rel)
{
	int err = 0, fd = -1;
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&err, sizeof(err)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	if (send(s->sock, rel, strlen(rel), MSG_NOSIGNAL) < 0)
		return -1;
	ssize_t n = recvmsg(s->sock, &msg, MSG_CMSG_CLOEXEC);
	if (n != (ssize_t)sizeof(err)) {
		errno = EIO;
		return -1;
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c != NULL && c->cmsg_level == SOL_SOCKET &&
	    c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (err != 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		errno = err ? err : EIO;
		return -1;
	}
	return fd;
}

int cli_source_open(struct cli_source *src, const char *rel)
{
	if (!cli_source_rel_ok(rel)) {
		errno = EINVAL;
		return -1;
	}
	if (rel[0] == '\0') {
		if (!src->dir)
			return fcntl(src->root, F_DUPFD_CLOEXEC, 0);
		/* A new open, not a dup: a dup would share the offset of
		 * every other reader of the directory. */
		rel = ".";
	}
	if (src->sock >= 0)
		return ask_helper(src, rel);
	return open_rel(src->root, rel);
}
