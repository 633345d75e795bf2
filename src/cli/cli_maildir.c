/* posthorn import maildir: a Maildir tree as Dovecot writes it.
 *
 * DIR/{cur,new} is INBOX.  Folders are found in Maildir++ form
 * (DIR/.Sub.Folder/{cur,new}) or, when there is none, in Dovecot's
 * LAYOUT=fs form (DIR/Sub/Folder/{cur,new}).  In each folder, messages
 * go in the order of their Dovecot UID (dovecot-uidlist), then those
 * without one by file name; flags come from the file name, keywords
 * through dovecot-keywords, the internal date is the file's mtime (which
 * Dovecot sets to it). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_mailbox.h"
#include "cli/cli_mailfmt.h"
#include "cli/cli_source.h"
#include "core/str.h"
#include "core/xalloc.h"

/* LAYOUT=fs nesting we follow; deeper levels are not looked at. */
#define FS_DEPTH_MAX 32
#define KEYWORDS_FILE_MAX (1024 * 1024)
#define UIDLIST_FILE_MAX (256 * 1024 * 1024)
#define SUBSCRIPTIONS_FILE_MAX (16 * 1024 * 1024)

struct folder {
	char *rel;	/* its directory below the source, "" for INBOX */
	char *name;	/* UTF-8 mailbox name */
};

struct folders {
	struct folder *v;
	size_t n;
};

struct msgfile {
	char *name;
	bool is_new;
	uint32_t uid;	/* 0: not in dovecot-uidlist */
};

static char *join(const char *a, const char *b)
{
	struct str s = STR_INIT;
	if (a[0] != '\0')
		str_printf(&s, "%s/%s", a, b);
	else
		str_appends(&s, b);
	return s.data;
}

/* The entries of a directory of the source, "." and ".." left out;
 * types_r[i] is d_type (DT_UNKNOWN when the file system does not say).
 * Returns 1, 0 when it does not exist, -1 with errno. */
static int list_dir(struct cli_source *src, const char *rel, char ***names_r,
		    unsigned char **types_r, size_t *n_r)
{
	int fd = cli_source_open(src, rel);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	char **names = NULL;
	unsigned char *types = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xreallocarray(names, cap, sizeof(*names));
			types = xreallocarray(types, cap, sizeof(*types));
		}
		names[n] = xstrdup(e->d_name);
		types[n++] = e->d_type;
	}
	closedir(d);
	*names_r = names;
	*types_r = types;
	*n_r = n;
	return 1;
}

static void free_names(char **names, unsigned char *types, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(types);
}

static bool is_dir(struct cli_source *src, const char *rel)
{
	struct stat st;
	int fd = cli_source_open(src, rel);
	bool dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
	if (fd >= 0)
		close(fd);
	return dir;
}

/* A directory is a mail folder when it has cur/ or new/. */
static bool is_folder(struct cli_source *src, const char *rel)
{
	char *cur = join(rel, "cur"), *new = join(rel, "new");
	bool yes = is_dir(src, cur) || is_dir(src, new);
	free(cur);
	free(new);
	return yes;
}

static void add_folder(struct folders *fs, const char *rel, const char *enc,
		       char sep)
{
	struct str name = STR_INIT;
	if (mailfmt_folder_decode(enc, strlen(enc), sep, &name) < 0) {
		fprintf(stderr, "posthorn: folder %s: its name does not "
				"make a mailbox name; skipped\n", rel);
		return;
	}
	fs->v = xreallocarray(fs->v, fs->n + 1, sizeof(*fs->v));
	fs->v[fs->n++] = (struct folder){xstrdup(rel), name.data};
}

static bool maildir_reserved(const char *name)
{
	return strcmp(name, "cur") == 0 || strcmp(name, "new") == 0 ||
	       strcmp(name, "tmp") == 0;
}

static void find_plusplus(struct cli_source *src, char **names, size_t n,
			  struct folders *fs)
{
	for (size_t i = 0; i < n; i++)
		if (names[i][0] == '.' && names[i][1] != '\0' &&
		    is_folder(src, names[i]))
			add_folder(fs, names[i], names[i] + 1, '.');
}

static void find_fs(struct cli_source *src, const char *rel, int depth,
		    struct folders *fs)
{
	char **names;
	unsigned char *types;
	size_t n;
	if (depth > FS_DEPTH_MAX || list_dir(src, rel, &names, &types, &n) <= 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (names[i][0] == '.' || maildir_reserved(names[i]) ||
		    (types[i] != DT_DIR && types[i] != DT_UNKNOWN))
			continue;
		char *child = join(rel, names[i]);
		if (is_dir(src, child)) {
			if (is_folder(src, child))
				add_folder(fs, child, child, '/');
			find_fs(src, child, depth + 1, fs);
		}
		free(child);
	}
	free_names(names, types, n);
}

static int folder_cmp(const void *a, const void *b)
{
	const struct folder *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* ---- one folder ---- */

static int msgfile_cmp(const void *a, const void *b)
{
	const struct msgfile *x = a, *y = b;
	if ((x->uid != 0) != (y->uid != 0))
		return x->uid != 0 ? -1 : 1;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct folder_ctx {
	struct mail_import *im;
	struct cli_source *src;
	const struct folder *f;
	char *keywords[MAILFMT_KEYWORDS];
	struct mailfmt_uid *uids;
	size_t nuids;
	struct msgfile *files;
	size_t nfiles;
};

static void collect(struct folder_ctx *c, bool is_new)
{
	char **names;
	unsigned char *types;
	size_t n;
	char *rel = join(c->f->rel, is_new ? "new" : "cur");
	int rc = list_dir(c->src, rel, &names, &types, &n);
	if (rc < 0)
		fprintf(stderr, "posthorn: %s: %s; skipped\n", rel,
			strerror(errno));
	free(rel);
	if (rc <= 0)
		return;
	c->files = xreallocarray(c->files, c->nfiles + n, sizeof(*c->files));
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		if (names[i][0] == '.' || types[i] == DT_DIR) {
			free(names[i]);
			continue;
		}
		uint32_t uid = mailfmt_uid_find(
			c->uids, c->nuids, names[i],
			mailfmt_maildir_base(names[i], len));
		c->files[c->nfiles++] = (struct msgfile){names[i], is_new, uid};
	}
	free(names);
	free(types);
}

static void keywords_of(struct folder_ctx *c, uint32_t letters,
			struct str *kw)
{
	str_clear(kw);
	for (int i = 0; i < MAILFMT_KEYWORDS; i++) {
		if (!(letters & (1u << i)) || c->keywords[i] == NULL)
			continue;
		if (kw->len > 0)
			str_appendc(kw, ' ');
		str_appends(kw, c->keywords[i]);
	}
}

static int import_file(struct folder_ctx *c, const struct msgfile *mf,
		       struct str *kw)
{
	struct stat st;
	char *dir = join(c->f->rel, mf->is_new ? "new" : "cur");
	char *rel = join(dir, mf->name);
	int rc = 1, fd = cli_source_open(c->src, rel);
	free(dir);
	if (fd < 0 || fstat(fd, &st) < 0) {
		mail_import_bad(c->im, rel, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode))
		goto out;
	size_t len = (size_t)st.st_size;
	void *map = len > 0 ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0)
			    : NULL;
	if (map == MAP_FAILED) {
		mail_import_bad(c->im, rel, strerror(errno));
		goto out;
	}
	if (map != NULL)
		madvise(map, len, MADV_SEQUENTIAL);
	unsigned flags;
	uint32_t letters;
	mailfmt_maildir_info(mf->name, strlen(mf->name), &flags, &letters);
	keywords_of(c, letters, kw);
	struct mail_import_msg m = {
		.label = rel, .data = map, .len = len, .how = MAILFMT_CRLF,
		.flags = flags, .keywords = kw->len ? kw->data : NULL,
		.date = (int64_t)st.st_mtime};
	rc = mail_import_message(c->im, &m);
	if (map != NULL)
		munmap(map, len);
out:
	if (fd >= 0)
		close(fd);
	free(rel);
	return rc;
}

static void folder_meta(struct folder_ctx *c)
{
	char *data, *rel = join(c->f->rel, "dovecot-keywords");
	size_t len;
	if (mail_import_read_file(c->im, c->src, rel, KEYWORDS_FILE_MAX, &data,
				  &len) > 0) {
		mailfmt_keywords_parse(data, len, c->keywords);
		free(data);
	}
	free(rel);
	rel = join(c->f->rel, "dovecot-uidlist");
	if (mail_import_read_file(c->im, c->src, rel, UIDLIST_FILE_MAX, &data,
				  &len) > 0) {
		mailfmt_uidlist_parse(data, len, &c->uids, &c->nuids);
		free(data);
	}
	free(rel);
}

static int import_folder(struct mail_import *im, struct cli_source *src,
			 const struct folder *f)
{
	struct folder_ctx c = {.im = im, .src = src, .f = f};
	struct str kw = STR_INIT;
	int rc = mail_import_folder(im, f->name);
	if (rc < 0)
		return rc;
	folder_meta(&c);
	collect(&c, false);
	collect(&c, true);
	if (c.nfiles > 1)
		qsort(c.files, c.nfiles, sizeof(*c.files), msgfile_cmp);
	for (size_t i = 0; i < c.nfiles && rc > 0; i++)
		rc = import_file(&c, &c.files[i], &kw);
	for (size_t i = 0; i < c.nfiles; i++)
		free(c.files[i].name);
	free(c.files);
	mailfmt_keywords_clear(c.keywords);
	mailfmt_uids_free(&c.uids, c.nuids);
	str_free(&kw);
	return rc;
}

/* ---- the tree ---- */

struct subscribe_ctx {
	struct mail_import *im;
	int rc;
};

static void subscribe_one(const char *name, void *ctx)
{
	struct subscribe_ctx *c = ctx;
	if (c->rc > 0)
		c->rc = mail_import_subscribe(c->im, name);
}

static int subscribe(struct mail_import *im, struct cli_source *src,
		     char sep)
{
	char *data;
	size_t len;
	int rc = mail_import_read_file(im, src, "subscriptions",
				       SUBSCRIPTIONS_FILE_MAX, &data, &len);
	if (rc == 0)
		return mail_import_subscribe_all(im);
	if (rc < 0)
		return 1;
	struct subscribe_ctx ctx = {im, 1};
	mailfmt_subscriptions_parse(data, len, sep, subscribe_one, &ctx);
	free(data);
	return ctx.rc;
}

int cli_maildir_import(struct mail_import *im, struct cli_source *src)
{
	char **names;
	unsigned char *types;
	size_t n;
	struct folders fs = {0};
	int rc = list_dir(src, "", &names, &types, &n);
	if (rc <= 0) {
		fprintf(stderr, "posthorn: cannot read the directory: %s\n",
			strerror(errno));
		return -1;
	}
	if (is_folder(src, ""))
		add_folder(&fs, "", "INBOX", '.');
	size_t inbox = fs.n;
	find_plusplus(src, names, n, &fs);
	char sep = fs.n > inbox ? '.' : '/';
	if (fs.n == inbox)
		find_fs(src, "", 0, &fs);
	free_names(names, types, n);
	if (fs.n > 1)
		qsort(fs.v, fs.n, sizeof(*fs.v), folder_cmp);
	if (fs.n == 0)
		fprintf(stderr, "posthorn: no Maildir folder found (a folder "
				"has cur/ and new/ directories)\n");
	for (size_t i = 0; i < fs.n && rc > 0; i++)
		rc = import_folder(im, src, &fs.v[i]);
	if (rc > 0)
		rc = subscribe(im, src, sep);
	for (size_t i = 0; i < fs.n; i++) {
		free(fs.v[i].rel);
		free(fs.v[i].name);
	}
	free(fs.v);
	return rc;
}
