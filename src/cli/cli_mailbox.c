/* posthorn import maildir|mbox, posthorn export: the commands, and the
 * import's store side that the format readers feed. */
#include "cli/cli_mailbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_mailfmt.h"
#include "cli/cli_source.h"
#include "core/config.h"
#include "core/spool.h"
#include "core/str.h"
#include "core/xalloc.h"
#include "deliver/deliver.h"
#include "mime/mime_meta.h"
#include "store/store.h"

/* A converted message up to this size is built in memory; a larger one
 * in a spool file, mapped, so that no message is in memory twice. */
#define CONVERT_MEMORY (1024 * 1024)
/* Bytes compared at a time when a message may be one already there. */
#define COMPARE_PIECE (64 * 1024)

/* A message the mailbox held before the import came to it. */
struct have {
	uint64_t size;
	int64_t date;
	uint32_t uid;
};

struct mail_import {
	struct store_account *acct;
	char *spool_dir;
	char *cmp;		/* COMPARE_PIECE bytes, when needed */
	/* the current folder */
	char *folder;
	int64_t mbox_id;
	struct have *have;
	size_t nhave, cap_have;
	size_t done, dup, bad, dropped;
	/* the whole import */
	size_t total, folders;
	char **names;
	size_t nnames;
};

/* ---- folders ---- */

static void folder_end(struct mail_import *im)
{
	if (im->folder == NULL)
		return;
	printf("%s: %zu imported", im->folder, im->done);
	if (im->dup > 0)
		printf(", %zu already there", im->dup);
	if (im->dropped > 0)
		printf(", %zu deleted left out", im->dropped);
	if (im->bad > 0)
		printf(", %zu skipped (see above)", im->bad);
	printf("\n");
	fflush(stdout);
	free(im->folder);
	im->folder = NULL;
	free(im->have);
	im->have = NULL;
	im->nhave = im->cap_have = 0;
}

static bool have_add(const struct store_msginfo *m, void *ctx)
{
	struct mail_import *im = ctx;
	if (im->nhave == im->cap_have) {
		im->cap_have = im->cap_have ? im->cap_have * 2 : 256;
		im->have = xreallocarray(im->have, im->cap_have,
					 sizeof(*im->have));
	}
	im->have[im->nhave++] = (struct have){m->size, m->internaldate,
					      m->uid};
	return true;
}

static int have_cmp(const void *a, const void *b)
{
	const struct have *x = a, *y = b;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->date < y->date ? -1 : x->date > y->date;
}

static int open_folder(struct mail_import *im, const char *name,
		       const char **err_r)
{
	struct store_mailbox mb;
	int rc = store_mailbox_find(im->acct, name, &mb, err_r);
	if (rc == 0) {
		rc = store_mailbox_create(im->acct, name, STORE_SPECIAL_NONE,
					  err_r);
		if (rc >= 0)
			rc = store_mailbox_find(im->acct, name, &mb, err_r);
		if (rc == 0)
			*err_r = "it vanished as it was made";
	}
	if (rc <= 0)
		return -1;
	im->mbox_id = mb.id;
	if (store_msg_scan(im->acct, mb.id, 1, UINT32_MAX, 0, have_add, im,
			   err_r) < 0)
		return -1;
	if (im->nhave > 1)
		qsort(im->have, im->nhave, sizeof(*im->have), have_cmp);
	return 1;
}

static void remember_name(struct mail_import *im, const char *name)
{
	for (size_t i = 0; i < im->nnames; i++)
		if (strcmp(im->names[i], name) == 0)
			return;
	im->names = xreallocarray(im->names, im->nnames + 1,
				  sizeof(*im->names));
	im->names[im->nnames++] = xstrdup(name);
}

int mail_import_folder(struct mail_import *im, const char *name)
{
	const char *err = "unknown error";
	folder_end(im);
	im->done = im->dup = im->bad = im->dropped = 0;
	if (open_folder(im, name, &err) < 0) {
		fprintf(stderr, "posthorn: cannot open or create mailbox "
				"'%s': %s\n", name, err);
		return -1;
	}
	im->folder = xstrdup(name);
	im->folders++;
	remember_name(im, name);
	return 1;
}

void mail_import_bad(struct mail_import *im, const char *label,
		     const char *why)
{
	fprintf(stderr, "posthorn: %s: %s; skipped\n", label, why);
	im->bad++;
}

void mail_import_dropped(struct mail_import *im, size_t n)
{
	im->dropped += n;
}

/* ---- one message ---- */

/* The message's bytes as they will be stored. */
struct msg_bytes {
	const char *p;
	size_t len;
	struct str mem;
	struct spool *spool;
	void *map;
	const char *err;
};

static void to_mem(const char *p, size_t n, void *ctx)
{
	str_append(ctx, p, n);
}

static void to_spool(const char *p, size_t n, void *ctx)
{
	struct msg_bytes *b = ctx;
	if (b->err == NULL)
		spool_write(b->spool, p, n, &b->err);
}

static int bytes_convert(struct mail_import *im,
			 const struct mail_import_msg *m, struct msg_bytes *b)
{
	if (m->len <= CONVERT_MEMORY) {
		mailfmt_convert(m->data, m->len, m->how, to_mem, &b->mem);
		b->p = b->mem.data;
		b->len = b->mem.len;
		return 1;
	}
	if (spool_new(im->spool_dir, &b->spool, &b->err) < 0)
		return -1;
	uint64_t n = mailfmt_convert(m->data, m->len, m->how, to_spool, b);
	if (b->err != NULL)
		return -1;
	if (n > SIZE_MAX) {
		b->err = "too large";
		return -1;
	}
	b->len = (size_t)n;
	b->map = mmap(NULL, b->len, PROT_READ, MAP_PRIVATE,
		      spool_fd(b->spool), 0);
	if (b->map == MAP_FAILED) {
		b->map = NULL;
		b->err = strerror(errno);
		return -1;
	}
	b->p = b->map;
	return 1;
}

static int bytes_get(struct mail_import *im, const struct mail_import_msg *m,
		     struct msg_bytes *b)
{
	memset(b, 0, sizeof(*b));
	/* A large message goes through a spool file even as it is: the
	 * store then copies it from the file a piece at a time, where
	 * bytes in memory would be copied whole into SQLite's record. */
	if (m->len <= CONVERT_MEMORY &&
	    !mailfmt_convert_needed(m->data, m->len, m->how)) {
		b->p = m->data;
		b->len = m->len;
		return 1;
	}
	return bytes_convert(im, m, b);
}

static void bytes_free(struct msg_bytes *b)
{
	if (b->map != NULL)
		munmap(b->map, b->len);
	spool_free(&b->spool);
	str_free(&b->mem);
}

/* Whether the stored message `uid` has exactly these bytes. */
static bool same_bytes(struct mail_import *im, uint32_t uid, const char *p,
		       size_t len)
{
	const char *err;
	char *buf = im->cmp != NULL ? im->cmp : (im->cmp = xmalloc(COMPARE_PIECE));
	size_t off = 0, got;
	while (off < len) {
		size_t want = len - off < COMPARE_PIECE ? len - off : COMPARE_PIECE;
		if (store_msg_read(im->acct, im->mbox_id, uid, off, buf, want,
				   &got, &err) <= 0 ||
		    got == 0 || memcmp(buf, p + off, got) != 0)
			return false;
		off += got;
	}
	return true;
}

static bool already_there(struct mail_import *im, const char *p, size_t len,
			  int64_t date)
{
	struct have key = {len, date, 0};
	size_t lo = 0, hi = im->nhave;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (have_cmp(&im->have[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < im->nhave && have_cmp(&im->have[lo], &key) == 0; lo++)
		if (same_bytes(im, im->have[lo].uid, p, len))
			return true;
	return false;
}

static void stop_report(struct mail_import *im, const char *label, int rc,
			const char *err)
{
	static const char *const why[] = {
		[-STORE_FAIL_FULL] = "the disk or the database is full",
		[-STORE_FAIL_QUOTA] = "the account is over its quota",
		[-STORE_FAIL_QUOTA_NEVER] = "it is larger than the whole "
					    "quota of the account",
		[-STORE_FAIL_GONE] = "the account was removed meanwhile",
	};
	const char *what = rc < 0 && -rc < (int)(sizeof(why) / sizeof(*why))
				   ? why[-rc]
				   : NULL;
	fprintf(stderr, "posthorn: %s: cannot store %s: %s%s%s\n", im->folder,
		label, what ? what : "", what ? ": " : "",
		err ? err : store_fail_name(rc));
	fprintf(stderr, "posthorn: stopped after importing %zu message(s), "
			"%zu of them into '%s'.  Run the same command again "
			"to go on: messages already imported are skipped.\n",
		im->total, im->done, im->folder);
}

static int store_one(struct mail_import *im, const struct mail_import_msg *m,
		     const struct msg_bytes *b)
{
	struct mime_meta mm = MIME_META_INIT;
	struct store_msg_meta meta;
	const char *err = NULL;
	uint32_t uid;
	mime_meta_compute(b->p, b->len, MIME_META_TEXT, &mm);
	int64_t date = m->date_guess && mm.sentdate != 0 ? mm.sentdate
							 : m->date;
	int rc = 1;
	if (already_there(im, b->p, b->len, date)) {
		im->dup++;
	} else {
		deliver_meta_view(&mm, &meta);
		struct iovec iov = {(void *)b->p, b->len};
		struct store_source src = {&iov, 1, -1, 0};
		if (b->spool != NULL)
			src = (struct store_source){NULL, 0,
						    spool_fd(b->spool), b->len};
		rc = store_msg_append(im->acct, im->mbox_id, &src, &meta,
				      m->flags, m->keywords, date, &uid, &err);
		/* Past the mailbox's keyword limits: the message matters
		 * more than its keywords. */
		if (rc == STORE_FAIL_LIMIT) {
			fprintf(stderr, "posthorn: %s: %s: keywords left out "
					"(a mailbox holds %d of up to %d "
					"bytes)\n", im->folder, m->label,
				STORE_KEYWORDS_MAX, STORE_KEYWORD_LEN_MAX);
			rc = store_msg_append(im->acct, im->mbox_id, &src,
					      &meta, m->flags, NULL, date,
					      &uid, &err);
		}
		if (rc > 0) {
			im->done++;
			im->total++;
		} else {
			stop_report(im, m->label, rc, err);
			rc = -1;
		}
	}
	mime_meta_clear(&mm);
	return rc;
}

int mail_import_message(struct mail_import *im,
			const struct mail_import_msg *m)
{
	struct msg_bytes b;
	if (m->len == 0) {
		mail_import_bad(im, m->label, "empty message");
		return 1;
	}
	if (bytes_get(im, m, &b) < 0) {
		fprintf(stderr, "posthorn: %s: cannot convert %s: %s\n",
			im->folder, m->label, b.err);
		bytes_free(&b);
		return -1;
	}
	int rc = 1;
	if (b.len > INT32_MAX)
		mail_import_bad(im, m->label, "larger than 2 GiB");
	else
		rc = store_one(im, m, &b);
	bytes_free(&b);
	return rc;
}

int mail_import_subscribe(struct mail_import *im, const char *name)
{
	const char *err = NULL;
	if (store_mailbox_subscribe(im->acct, name, true, &err) < 0) {
		fprintf(stderr, "posthorn: cannot subscribe to '%s': %s\n",
			name, err ? err : "store error");
		return -1;
	}
	return 1;
}

int mail_import_subscribe_all(struct mail_import *im)
{
	for (size_t i = 0; i < im->nnames; i++)
		if (mail_import_subscribe(im, im->names[i]) < 0)
			return -1;
	return 1;
}

int mail_import_read_file(struct mail_import *im, struct cli_source *src,
			  const char *rel, size_t max, char **data_r,
			  size_t *len_r)
{
	struct stat st;
	int fd = cli_source_open(src, rel);
	(void)im;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > max) {
		fprintf(stderr, "posthorn: %s: %s; ignored\n", rel,
			fd < 0 ? strerror(errno) : "not a file of a sane size");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char *buf = xmalloc((size_t)st.st_size + 1);
	size_t n = 0;
	for (ssize_t r = 1; r > 0 && n < (size_t)st.st_size; n += (size_t)r)
		if ((r = read(fd, buf + n, (size_t)st.st_size - n)) < 0)
			r = 0;
	close(fd);
	buf[n] = '\0';
	*data_r = buf;
	*len_r = n;
	return 1;
}

/* ---- the commands ---- */

static int import_usage(void)
{
	fprintf(stderr,
		"usage: posthorn import maildir USER DIR\n"
		"       posthorn import mbox [--mailbox NAME] USER FILE|DIR\n"
		"Copies mail into USER's mailboxes, keeping folders, flags, "
		"keywords and\n"
		"internal dates.  DIR is a Maildir as Dovecot writes it "
		"(Maildir++ or\n"
		"LAYOUT=fs); FILE an mbox file, DIR a directory of them as "
		"Thunderbird keeps\n"
		"them.  Messages already in a mailbox are skipped, so the "
		"command can be run\n"
		"again.  See docs/admin.md, \"Moving from Dovecot\".\n");
	return 2;
}

struct store_account *mail_account_open(struct cli *cli, const char *address)
{
	struct store *store = cli_store(cli);
	struct store_user u;
	struct store_account *acct = NULL;
	const char *err = NULL;
	if (store == NULL)
		return NULL;
	int64_t id = 0;
	int rc = store_user_lookup(store, address, &u);
	if (rc > 0) {
		id = u.id;
		store_user_clear(&u);
	}
	if (rc <= 0) {
		fprintf(stderr, rc ? "posthorn: cannot read the store\n"
				   : "posthorn: no user %s\n", address);
		return NULL;
	}
	if (store_account_open(store, id, &acct, &err) < 0) {
		fprintf(stderr, "posthorn: cannot open the mail of %s: %s\n",
			address, err ? err : "store error");
		return NULL;
	}
	return acct;
}

static char *spool_dir_of(const struct config *cfg)
{
	struct str s = STR_INIT;
	str_printf(&s, "%s/tmp", cfg->server.data_dir);
	if (mkdir(s.data, 0700) < 0 && errno != EEXIST)
		fprintf(stderr, "posthorn: cannot create %s: %s\n", s.data,
			strerror(errno));
	return s.data;
}

static void import_free(struct mail_import *im)
{
	folder_end(im);
	for (size_t i = 0; i < im->nnames; i++)
		free(im->names[i]);
	free(im->names);
	free(im->spool_dir);
	free(im->cmp);
	store_account_unref(&im->acct);
}

static int run_import(struct cli *cli, bool maildir, const char *address,
		      const char *path, const char *into,
		      struct cli_source *src)
{
	struct mail_import im = {0};
	if ((im.acct = mail_account_open(cli, address)) == NULL)
		return 1;
	im.spool_dir = spool_dir_of(cli->cfg);
	int rc = maildir ? cli_maildir_import(&im, src)
			 : cli_mbox_import(&im, src, path, into);
	folder_end(&im);
	if (rc > 0)
		printf("imported %zu message(s) into %zu folder(s) of %s\n",
		       im.total, im.folders, address);
	import_free(&im);
	return rc > 0 ? 0 : 1;
}

int cli_mailbox_import(struct cli *cli, int argc, char **argv)
{
	char address[ADDR_TEXT_MAX];
	const char *into = NULL;
	struct cli_source *src = NULL;
	if (argc < 1 || (strcmp(argv[0], "maildir") != 0 &&
			 strcmp(argv[0], "mbox") != 0))
		return import_usage();
	bool maildir = strcmp(argv[0], "maildir") == 0;
	int i = 1;
	if (!maildir && i + 1 < argc && strcmp(argv[i], "--mailbox") == 0) {
		into = argv[i + 1];
		i += 2;
		if (!mailfmt_name_ok(into, strlen(into))) {
			fprintf(stderr, "posthorn: '%s' is not a valid "
					"mailbox name\n", into);
			return 1;
		}
	}
	if (argc - i != 2 || argv[i][0] == '-')
		return import_usage();
	if (cli_address(argv[i], "address", address) < 0)
		return 1;
	const char *path = argv[i + 1];
	/* Before cli_store() leaves root: see cli_source.h. */
	if (cli_source_new(path, &src) < 0) {
		fprintf(stderr, "posthorn: cannot open %s: %s\n", path,
			errno == EINVAL ? "not a file or directory"
					: strerror(errno));
		return 1;
	}
	int rc = 1;
	if (maildir && !cli_source_is_dir(src))
		fprintf(stderr, "posthorn: %s is not a directory\n", path);
	else if (into != NULL && cli_source_is_dir(src))
		fprintf(stderr, "posthorn: --mailbox is for one mbox file, "
				"and %s is a directory\n", path);
	else
		rc = run_import(cli, maildir, address, path, into, src);
	cli_source_free(&src);
	return rc;
}
