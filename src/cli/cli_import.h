/* cli_import: `posthorn user import FILE`, CSV lines
 * "address,password[,quota][,name]".
 *
 * The whole file is checked first; every bad line is reported with its
 * number, and nothing is imported when any line is bad.  A password that
 * starts with a scheme in braces ("{SHA512-CRYPT}$6$...") or is a bare
 * crypt(3) hash ("$6$...", "$y$...", "$2b$...") is an existing hash and is
 * kept as it is; "{PLAIN}..." and anything else is a plain-text password
 * and is hashed with argon2id (see auth_pass_import_field).  The file is opened before the command leaves
 * root, so a file only root can read imports when run as root. */
#ifndef POSTHORN_CLI_IMPORT_H
#define POSTHORN_CLI_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "mime/addr.h"

struct cli;

#define IMPORT_FIELD_MAX 1024

struct import_line {
	char address[ADDR_TEXT_MAX];	/* canonical */
	char password[IMPORT_FIELD_MAX];
	uint64_t quota;
	char name[IMPORT_FIELD_MAX];
};

/* Parse one line (without its newline).  Fields may be quoted
 * ("a ""b"", c").  Returns 1 for an entry, 0 for a blank or # comment
 * line, -1 with a reason in err_r.  Pure. */
int import_parse_line(const char *line, size_t len, struct import_line *r,
		      const char **err_r);

int cli_import(struct cli *cli, const char *path);

#endif
