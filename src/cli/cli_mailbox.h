/* cli_mailbox: `posthorn import maildir|mbox USER PATH` and `posthorn
 * export USER DIR` (docs/admin.md, "Moving from Dovecot").
 *
 * The readers of each format (cli_maildir.c, cli_mbox.c) walk the source
 * and hand folders and messages to the import here, which stores them
 * into the user's mailboxes the way IMAP APPEND does: flags, keywords,
 * internal date and the cached MIME meta, one durable commit a message.
 *
 * What import does with the bytes: a bare LF becomes CRLF (what Dovecot
 * serves over IMAP from its LF files, and what IMAP requires), mbox body
 * lines lose one ">" of mboxrd quoting, and mbox's From_ line is dropped;
 * everything else, mbox status headers included, is kept as it is.
 *
 * Running it again is safe: a message is skipped when its mailbox already
 * holds one with the same bytes and the same internal date, so an import
 * that stopped (quota, full disk) goes on where it stopped. */
#ifndef POSTHORN_CLI_MAILBOX_H
#define POSTHORN_CLI_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cli;
struct cli_source;
struct mail_import;

struct store_account;

/* The mail of the user `address` (canonical), opening the store (and
 * leaving root) first; NULL after saying why. */
struct store_account *mail_account_open(struct cli *cli, const char *address);

/* ---- for the readers ---- */

struct mail_import_msg {
	const char *label;	/* names it in reports: a file, a position */
	const char *data;	/* as read from the source */
	size_t len;
	unsigned how;		/* MAILFMT_CRLF, MAILFMT_UNQUOTE */
	unsigned flags;		/* STORE_FLAG_* */
	const char *keywords;	/* space-separated, valid, NULL if none */
	int64_t date;		/* internal date */
	bool date_guess;	/* date is only a fallback: the Date: field
				   wins when the message has one */
};

/* Make `name` the folder messages go to: created when missing.  The
 * previous folder's line is printed first.  Returns 1, or -1 when the
 * import must stop (reported). */
int mail_import_folder(struct mail_import *im, const char *name);
/* Store one message in the current folder.  Returns 1 (stored, or
 * skipped as already there or malformed; reported), or -1 when the import
 * must stop (the store refused it: reported with the count so far). */
int mail_import_message(struct mail_import *im,
			const struct mail_import_msg *m);
/* Report something of the source that is skipped, counted in the current
 * folder's line. */
void mail_import_bad(struct mail_import *im, const char *label,
		     const char *why);
/* Messages left out on purpose (deleted in Thunderbird, not compacted),
 * counted in the folder's line. */
void mail_import_dropped(struct mail_import *im, size_t n);
/* Subscribe to a mailbox by its UTF-8 name.  Returns 1 or -1 (stop). */
int mail_import_subscribe(struct mail_import *im, const char *name);
/* Subscribe to every folder imported so far (for sources without a
 * subscriptions file). */
int mail_import_subscribe_all(struct mail_import *im);

/* The readers: return 1 when done, -1 when the import stopped. */
int cli_maildir_import(struct mail_import *im, struct cli_source *src);
/* `into`: the mailbox for a single file (NULL: named after the file). */
int cli_mbox_import(struct mail_import *im, struct cli_source *src,
		    const char *path, const char *into);

/* Read a whole small file of the source (a keywords or uidlist file) into
 * a malloc'ed NUL-terminated buffer.  Returns 1, 0 if it does not exist,
 * -1 if it cannot be read or is over max bytes (reported). */
int mail_import_read_file(struct mail_import *im, struct cli_source *src,
			  const char *rel, size_t max, char **data_r,
			  size_t *len_r);

#endif
