/* imap_out: the strings the server sends, in the grammar's forms: an
 * atom when it is one, a quoted string when it can be, else a literal;
 * and mailbox names in modified UTF-7 unless the client enabled UTF-8. */
#ifndef POSTHORN_IMAP_OUT_H
#define POSTHORN_IMAP_OUT_H

#include <stdbool.h>
#include <stddef.h>

struct str;

/* string = quoted / literal: quoted unless s holds CR, LF, NUL or 8-bit
 * bytes (8-bit is quoted when utf8 and s is valid UTF-8), or is long. */
void imap_out_string(struct str *out, const char *s, size_t len, bool utf8);
/* nstring: NIL for s == NULL. */
void imap_out_nstring(struct str *out, const char *s, size_t len, bool utf8);
/* astring: an atom when every byte is an ASTRING-CHAR, else a string. */
void imap_out_astring(struct str *out, const char *s, size_t len, bool utf8);
/* A mailbox name from the store (UTF-8): modified UTF-7 unless utf8. */
void imap_out_mailbox(struct str *out, const char *name, bool utf8);

#endif
