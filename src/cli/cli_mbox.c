/* posthorn import mbox: one mbox file into one mailbox, or a directory
 * of them as Thunderbird (and mutt) keep them: each file a folder named
 * after it, "Foo.sbd/" holding the children of "Foo", Thunderbird's own
 * files (.msf indexes, .dat, .json, .html) left alone.
 *
 * A file is mapped, never read into memory; each message's internal date
 * is its From_ line's date (or its Date: field, or the file's mtime). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_mailbox.h"
#include "cli/cli_mailfmt.h"
#include "cli/cli_source.h"
#include "core/str.h"
#include "core/xalloc.h"

#define DEPTH_MAX 32

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcasecmp(s + n - k, suffix) == 0;
}

/* Files of a mail client's folder directory that are not mail. */
static bool not_mail(const char *name)
{
	static const char *const skip[] = {".msf", ".dat", ".json", ".html",
					   ".sqlite", ".mozmsgs", ".plist",
					   ".lock", ".summary"};
	if (name[0] == '.')
		return true;
	for (size_t i = 0; i < sizeof(skip) / sizeof(*skip); i++)
		if (ends_with(name, skip[i]))
			return true;
	return false;
}

struct mbox_file {
	const char *label;	/* the file as the admin named it */
	const char *data;
	size_t len;
	int64_t mtime;
};

static int import_messages(struct mail_import *im, const struct mbox_file *f)
{
	struct mailfmt_mbox_msg mm;
	struct str kw = STR_INIT, label = STR_INIT;
	size_t pos = 0, count = 0, gone_n = 0;
	int rc = 1;
	while (rc > 0 && mailfmt_mbox_next(f->data, f->len, &pos, &mm)) {
		unsigned flags;
		bool gone;
		count++;
		str_clear(&kw);
		mailfmt_mbox_flags(f->data + mm.off, mm.len, &flags, &kw, &gone);
		if (gone) {
			gone_n++;
			continue;
		}
		str_clear(&label);
		str_printf(&label, "%s: message %zu (at byte %zu)", f->label,
			   count, mm.from);
		struct mail_import_msg m = {
			.label = label.data, .data = f->data + mm.off,
			.len = mm.len, .how = MAILFMT_CRLF | MAILFMT_UNQUOTE,
			.flags = flags, .keywords = kw.len ? kw.data : NULL};
		if (mailfmt_mbox_date(f->data + mm.from, mm.from_len, &m.date) <=
		    0) {
			m.date = f->mtime;
			m.date_guess = true;
		}
		rc = mail_import_message(im, &m);
	}
	mail_import_dropped(im, gone_n);
	str_free(&kw);
	str_free(&label);
	return rc;
}

/* One mbox file into the mailbox `name`. */
static int import_file(struct mail_import *im, struct cli_source *src,
		       const char *rel, const char *label, const char *name)
{
	struct stat st;
	int rc = 1, fd = cli_source_open(src, rel);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "posthorn: %s: %s; skipped\n", label,
			strerror(errno));
		goto out;
	}
	struct mbox_file f = {label, NULL, (size_t)st.st_size,
			      (int64_t)st.st_mtime};
	void *map = NULL;
	if (f.len > 0) {
		map = mmap(NULL, f.len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			fprintf(stderr, "posthorn: %s: %s; skipped\n", label,
				strerror(errno));
			goto out;
		}
		madvise(map, f.len, MADV_SEQUENTIAL);
		f.data = map;
	}
	if (!mailfmt_mbox_is(f.data, f.len))
		fprintf(stderr, "posthorn: %s: not an mbox file (it does not "
				"start with a \"From \" line); skipped\n",
			label);
	else if ((rc = mail_import_folder(im, name)) > 0)
		rc = import_messages(im, &f);
	if (map != NULL)
		munmap(map, f.len);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* prefix (a mailbox name and "/", or "") and the folder a file name
 * stands for; NULL after saying why when it makes no valid name. */
static char *folder_name(const char *prefix, const char *file,
			 const char *label)
{
	struct str name = STR_INIT;
	size_t len = strlen(file);
	if (ends_with(file, ".mbox"))
		len -= 5;
	str_appends(&name, prefix);
	if (mailfmt_folder_decode(file, len, '/', &name) < 0 ||
	    !mailfmt_name_ok(name.data, name.len)) {
		fprintf(stderr, "posthorn: %s: its name does not make a "
				"mailbox name; skipped\n", label);
		str_free(&name);
		return NULL;
	}
	return name.data;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(struct mail_import *im, struct cli_source *src,
		const char *path, const char *rel, const char *prefix,
		int depth);

/* One entry of a folder directory: a file is a folder, "X.sbd" holds the
 * children of X. */
static int walk_entry(struct mail_import *im, struct cli_source *src,
		      const char *path, const char *rel, const char *prefix,
		      const char *e, int depth)
{
	struct str child = STR_INIT, label = STR_INIT, sub = STR_INIT;
	struct stat st;
	int rc = 1;
	str_printf(&child, "%s%s%s", rel, rel[0] ? "/" : "", e);
	str_printf(&label, "%s/%s", path, child.data);
	int fd = cli_source_open(src, child.data);
	bool dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
	if (fd >= 0)
		close(fd);
	if (dir && ends_with(e, ".sbd")) {
		char *parent = xstrndup(e, strlen(e) - 4);
		char *name = folder_name(prefix, parent, label.data);
		if (name != NULL) {
			str_printf(&sub, "%s/", name);
			rc = walk(im, src, path, child.data, sub.data,
				  depth + 1);
		}
		free(name);
		free(parent);
	} else if (!dir && fd >= 0) {
		char *name = folder_name(prefix, e, label.data);
		if (name != NULL)
			rc = import_file(im, src, child.data, label.data, name);
		free(name);
	} else if (fd < 0) {
		fprintf(stderr, "posthorn: %s: %s; skipped\n", label.data,
			strerror(errno));
	}
	str_free(&child);
	str_free(&label);
	str_free(&sub);
	return rc;
}

static int walk(struct mail_import *im, struct cli_source *src,
		const char *path, const char *rel, const char *prefix,
		int depth)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 1, fd = cli_source_open(src, rel);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		fprintf(stderr, "posthorn: %s/%s: %s; skipped\n", path, rel,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (not_mail(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (rc > 0 && depth <= DEPTH_MAX)
			rc = walk_entry(im, src, path, rel, prefix, names[i],
					depth);
		free(names[i]);
	}
	free(names);
	return rc;
}

int cli_mbox_import(struct mail_import *im, struct cli_source *src,
		    const char *path, const char *into)
{
	int rc;
	if (cli_source_is_dir(src)) {
		rc = walk(im, src, path, "", "", 0);
	} else {
		const char *base = strrchr(path, '/');
		base = base != NULL ? base + 1 : path;
		char *name = into == NULL ? folder_name("", base, path)
			     : strcasecmp(into, "INBOX") == 0 ? xstrdup("INBOX")
							      : xstrdup(into);
		rc = name != NULL ? import_file(im, src, "", path, name) : -1;
		free(name);
	}
	/* mbox files know nothing of subscriptions: what was imported is
	 * subscribed, so that clients showing only those see it. */
	return rc > 0 ? mail_import_subscribe_all(im) : rc;
}
