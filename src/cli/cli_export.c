/* posthorn export USER DIR: the user's mailboxes as a Maildir++ tree that
 * Dovecot reads as it is (and `posthorn import maildir` too).
 *
 * Each message is a file in cur/ named "<date>.M<uid>P<pid>.<host>:2,
 * <flags>", its mtime the internal date, its bytes those stored.  Each
 * folder gets dovecot-keywords (the keyword letters; 26 at most, as the
 * format allows) and dovecot-uidlist with our UIDs and UIDVALIDITY, so a
 * client that moves with the mail does not have to fetch it all again.
 * The subscriptions file is Dovecot's version 2.
 *
 * DIR must be new or empty.  Run as root, DIR is made over to server.user
 * before the command leaves root, as the data directory is; give it to
 * Dovecot's user afterwards (chown -R). */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_mailbox.h"
#include "cli/cli_mailfmt.h"
#include "core/config.h"
#include "core/str.h"
#include "core/xalloc.h"
#include "store/store.h"

#define PIECE (64 * 1024)

struct ex_mailbox {
	char *name;
	int64_t id;
	bool subscribed;
	uint32_t uidvalidity, uidnext;
};

struct ex_msg {
	uint32_t uid;
	unsigned flags;
	char *keywords;
	int64_t date;
};

struct export {
	struct store_account *acct;
	int dir;
	char host[256];
	char *buf;	/* PIECE bytes */
	struct ex_mailbox *boxes;
	size_t nboxes;
	size_t total, folders;
};

static void box_add(const struct store_mailbox_info *mb, void *ctx)
{
	struct export *ex = ctx;
	ex->boxes = xreallocarray(ex->boxes, ex->nboxes + 1,
				  sizeof(*ex->boxes));
	ex->boxes[ex->nboxes++] = (struct ex_mailbox){
		xstrdup(mb->name), mb->id, mb->subscribed, mb->uidvalidity,
		mb->uidnext};
}

struct msgs {
	struct ex_msg *v;
	size_t n, cap;
};

static bool msg_add(const struct store_msginfo *m, void *ctx)
{
	struct msgs *ms = ctx;
	if (ms->n == ms->cap) {
		ms->cap = ms->cap ? ms->cap * 2 : 256;
		ms->v = xreallocarray(ms->v, ms->cap, sizeof(*ms->v));
	}
	ms->v[ms->n++] = (struct ex_msg){m->uid, m->flags,
					 xstrdup(m->keywords), m->internaldate};
	return true;
}

/* ---- keyword letters ---- */

struct letters {
	char *names[MAILFMT_KEYWORDS];
	size_t n;
	size_t dropped;	/* distinct keywords past the 26th */
	struct str seen_dropped;
};

/* The letter of a keyword: its index, given on first sight while there
 * are letters left; -1 when there are none. */
static int letter_index(struct letters *l, const char *w, size_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->names[i]) == n && memcmp(l->names[i], w, n) == 0)
			return (int)i;
	if (l->n == MAILFMT_KEYWORDS)
		return -1;
	l->names[l->n] = xstrndup(w, n);
	return (int)l->n++;
}

/* A keyword left out, counted once however many messages have it. */
static void note_dropped(struct letters *l, const char *w, size_t n)
{
	struct str key = STR_INIT;
	str_printf(&key, " %.*s ", (int)n, w);
	if (l->seen_dropped.len == 0)
		str_appendc(&l->seen_dropped, ' ');
	if (strstr(l->seen_dropped.data, key.data) == NULL) {
		str_append(&l->seen_dropped, key.data + 1, key.len - 1);
		l->dropped++;
	}
	str_free(&key);
}

static uint32_t letters_of(struct letters *l, const char *kw)
{
	uint32_t bits = 0;
	for (const char *p = kw; *p;) {
		size_t n = strcspn(p, " ");
		int i = n > 0 ? letter_index(l, p, n) : 0;
		if (n > 0 && i >= 0)
			bits |= 1u << i;
		else if (n > 0)
			note_dropped(l, p, n);
		p += n;
		while (*p == ' ')
			p++;
	}
	return bits;
}

static void letters_clear(struct letters *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	str_free(&l->seen_dropped);
}

/* ---- files ---- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_file(struct export *ex, const char *rel, const struct str *s)
{
	int fd = openat(ex->dir, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);
	int rc = fd < 0 || write_all(fd, s->data ? s->data : "", s->len) < 0
			 ? -1
			 : 0;
	if (fd >= 0 && close(fd) < 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "posthorn: cannot write %s: %s\n", rel,
			strerror(errno));
	return rc;
}

/* Copy one message into rel/tmp/base, then move it into rel/cur.
 * Returns 1, 0 if it was expunged meanwhile, -1 (reported). */
static int write_msg(struct export *ex, int64_t mbox_id, const char *rel,
		     const struct ex_msg *m, const char *base,
		     const char *info)
{
	struct str tmp = STR_INIT, cur = STR_INIT;
	const char *err = NULL;
	uint64_t off = 0;
	size_t got;
	int rc;
	str_printf(&tmp, "%s%stmp/%s", rel, rel[0] ? "/" : "", base);
	str_printf(&cur, "%s%scur/%s%s", rel, rel[0] ? "/" : "", base, info);
	int fd = openat(ex->dir, tmp.data,
			O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = strerror(errno);
		rc = -1;
		goto out;
	}
	while ((rc = store_msg_read(ex->acct, mbox_id, m->uid, off, ex->buf,
				    PIECE, &got, &err)) > 0 && got > 0) {
		if (write_all(fd, ex->buf, got) < 0) {
			err = strerror(errno);
			rc = -1;
			break;
		}
		off += got;
	}
	struct timespec times[2] = {{m->date, 0}, {m->date, 0}};
	if (rc > 0 && futimens(fd, times) < 0) {
		err = strerror(errno);
		rc = -1;
	}
	if (close(fd) < 0 && rc > 0) {
		err = strerror(errno);
		rc = -1;
	}
	if (rc > 0 && renameat(ex->dir, tmp.data, ex->dir, cur.data) < 0) {
		err = strerror(errno);
		rc = -1;
	}
	if (rc <= 0)
		unlinkat(ex->dir, tmp.data, 0);
out:
	if (rc < 0)
		fprintf(stderr, "posthorn: cannot write %s: %s\n", cur.data,
			err ? err : "store error");
	str_free(&tmp);
	str_free(&cur);
	return rc < 0 ? -1 : rc;
}

static int make_dirs(struct export *ex, const char *rel)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	struct str p = STR_INIT;
	int rc = 0;
	if (rel[0] != '\0' && mkdirat(ex->dir, rel, 0700) < 0)
		rc = -1;
	for (size_t i = 0; i < 3 && rc == 0; i++) {
		str_clear(&p);
		str_printf(&p, "%s%s%s", rel, rel[0] ? "/" : "", subs[i]);
		if (mkdirat(ex->dir, p.data, 0700) < 0)
			rc = -1;
	}
	if (rc == 0 && rel[0] != '\0') {
		/* Maildir++ marks a subfolder so. */
		struct str empty = STR_INIT;
		str_clear(&p);
		str_printf(&p, "%s/maildirfolder", rel);
		rc = write_file(ex, p.data, &empty);
	} else if (rc < 0) {
		fprintf(stderr, "posthorn: cannot create %s: %s\n",
			rel[0] ? rel : "cur, new, tmp", strerror(errno));
	}
	str_free(&p);
	return rc;
}

/* ---- one mailbox ---- */

struct box_out {
	struct str uidlist;
	struct letters letters;
	size_t written;
};

static int write_msgs(struct export *ex, const struct ex_mailbox *b,
		      const char *rel, const struct msgs *ms,
		      struct box_out *o)
{
	char info[40];
	struct str base = STR_INIT;
	int rc = 1;
	for (size_t i = 0; i < ms->n && rc >= 0; i++) {
		const struct ex_msg *m = &ms->v[i];
		mailfmt_maildir_info_write(m->flags,
					   letters_of(&o->letters, m->keywords),
					   info);
		str_clear(&base);
		str_printf(&base, "%lld.M%uP%ld.%s", (long long)m->date, m->uid,
			   (long)getpid(), ex->host);
		rc = write_msg(ex, b->id, rel, m, base.data, info);
		if (rc > 0) {
			str_printf(&o->uidlist, "%u :%s\n", m->uid, base.data);
			o->written++;
		}
	}
	str_free(&base);
	return rc < 0 ? -1 : 1;
}

static int write_meta(struct export *ex, const char *rel, struct box_out *o)
{
	struct str path = STR_INIT, kw = STR_INIT;
	int rc = 0;
	for (size_t i = 0; i < o->letters.n; i++)
		str_printf(&kw, "%zu %s\n", i, o->letters.names[i]);
	if (kw.len > 0) {
		str_printf(&path, "%s%sdovecot-keywords", rel, rel[0] ? "/" : "");
		rc = write_file(ex, path.data, &kw);
	}
	str_clear(&path);
	str_printf(&path, "%s%sdovecot-uidlist", rel, rel[0] ? "/" : "");
	if (rc == 0)
		rc = write_file(ex, path.data, &o->uidlist);
	str_free(&path);
	str_free(&kw);
	return rc;
}

static int export_box(struct export *ex, const struct ex_mailbox *b)
{
	struct str rel = STR_INIT;
	struct msgs ms = {0};
	struct box_out o = {STR_INIT, {{0}, 0, 0, STR_INIT}, 0};
	const char *err = NULL;
	int rc = 1;
	if (strcmp(b->name, "INBOX") != 0) {
		str_appendc(&rel, '.');
		if (mailfmt_folder_encode(b->name, &rel) < 0) {
			fprintf(stderr, "posthorn: mailbox '%s' has no "
					"Maildir++ name; skipped\n", b->name);
			goto out;
		}
	}
	const char *r = rel.data != NULL ? rel.data : "";
	if (make_dirs(ex, r) < 0 ||
	    store_msg_scan(ex->acct, b->id, 1, UINT32_MAX, 0, msg_add, &ms,
			   &err) < 0) {
		if (err != NULL)
			fprintf(stderr, "posthorn: %s: %s\n", b->name, err);
		rc = -1;
		goto out;
	}
	str_printf(&o.uidlist, "3 V%u N%u\n", b->uidvalidity, b->uidnext);
	rc = write_msgs(ex, b, r, &ms, &o);
	if (rc > 0 && write_meta(ex, r, &o) < 0)
		rc = -1;
	if (o.letters.dropped > 0)
		fprintf(stderr, "posthorn: %s: a Maildir folder holds 26 "
				"keywords; %zu more were left out:%s\n",
			b->name, o.letters.dropped,
			o.letters.seen_dropped.data);
	if (rc > 0) {
		printf("%s: %zu exported\n", b->name, o.written);
		fflush(stdout);
		ex->total += o.written;
		ex->folders++;
	}
out:
	for (size_t i = 0; i < ms.n; i++)
		free(ms.v[i].keywords);
	free(ms.v);
	str_free(&o.uidlist);
	letters_clear(&o.letters);
	str_free(&rel);
	return rc;
}

/* ---- the command ---- */

static int subscriptions(struct export *ex)
{
	struct str s = STR_INIT;
	str_appends(&s, "V\t2\n\n");
	for (size_t i = 0; i < ex->nboxes; i++)
		if (ex->boxes[i].subscribed)
			mailfmt_subscription_write(ex->boxes[i].name, &s);
	int rc = write_file(ex, "subscriptions", &s);
	str_free(&s);
	return rc;
}

/* DIR, new or empty, opened before leaving root (and given to the user
 * the command becomes).  Returns the fd or -1 (reported). */
static int open_target(const char *path, const char *user)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "posthorn: cannot create %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(dup(fd)) : NULL;
	bool empty = d != NULL;
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	if (d != NULL)
		closedir(d);
	if (fd < 0 || !empty) {
		fprintf(stderr, "posthorn: %s: %s\n", path,
			fd < 0 ? strerror(errno)
			       : "not empty (export writes into a new or "
				 "empty directory)");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct passwd *pw = geteuid() == 0 ? getpwnam(user) : NULL;
	if (pw != NULL && fchown(fd, pw->pw_uid, pw->pw_gid) < 0) {
		fprintf(stderr, "posthorn: cannot give %s to %s: %s\n", path,
			user, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void host_name(char out[256])
{
	char h[256];
	size_t o = 0;
	if (gethostname(h, sizeof(h)) < 0)
		strcpy(h, "localhost");
	h[sizeof(h) - 1] = '\0';
	/* Maildir's own escapes for the two characters a name cannot
	 * hold. */
	for (const char *p = h; *p && o + 5 < 256; p++) {
		if (*p == '/' || *p == ':')
			o += (size_t)snprintf(out + o, 256 - o, "\\%03o",
					      (unsigned char)*p);
		else
			out[o++] = *p;
	}
	out[o] = '\0';
}

static int run_export(struct export *ex, const char *address)
{
	const char *err = NULL;
	if (store_mailbox_list(ex->acct, box_add, ex, &err) < 0) {
		fprintf(stderr, "posthorn: cannot list the mailboxes: %s\n",
			err ? err : "store error");
		return -1;
	}
	int rc = 1;
	for (size_t i = 0; i < ex->nboxes && rc > 0; i++)
		if (ex->boxes[i].id != 0)
			rc = export_box(ex, &ex->boxes[i]);
	if (rc > 0 && subscriptions(ex) < 0)
		rc = -1;
	if (rc > 0 && syncfs(ex->dir) < 0) {
		fprintf(stderr, "posthorn: cannot sync the export: %s\n",
			strerror(errno));
		rc = -1;
	}
	if (rc > 0)
		printf("exported %zu message(s) in %zu folder(s) of %s\n",
		       ex->total, ex->folders, address);
	return rc;
}

int cli_mailbox_export(struct cli *cli, int argc, char **argv)
{
	char address[ADDR_TEXT_MAX];
	if (argc != 2 || argv[0][0] == '-') {
		fprintf(stderr,
			"usage: posthorn export USER DIR\n"
			"Writes USER's mailboxes into DIR (new or empty) as a "
			"Maildir++ tree that\n"
			"Dovecot reads, with flags, keywords, internal dates, "
			"UIDs and subscriptions.\n");
		return 2;
	}
	if (cli_address(argv[0], "address", address) < 0)
		return 1;
	struct export ex = {.dir = open_target(argv[1], cli->cfg->server.user)};
	if (ex.dir < 0)
		return 1;
	int rc = -1;
	ex.acct = mail_account_open(cli, address);
	if (ex.acct != NULL) {
		host_name(ex.host);
		ex.buf = xmalloc(PIECE);
		rc = run_export(&ex, address);
	}
	for (size_t i = 0; i < ex.nboxes; i++)
		free(ex.boxes[i].name);
	free(ex.boxes);
	free(ex.buf);
	store_account_unref(&ex.acct);
	close(ex.dir);
	return rc > 0 ? 0 : 1;
}
