/* addr: mailbox syntax (RFC 5321 section 4.1.2, RFC 6531 for UTF-8) and
 * the canonical form in which the store keeps addresses.
 *
 * Canonical: ASCII letters of the local part in lower case (we treat local
 * parts case-insensitively, as nearly every server does; non-ASCII letters
 * keep their case), a UTF-8 local part in Unicode NFC (RFC 6532 3.1), so
 * "café" composed and decomposed are one account, quotes only where the
 * local part needs them, and the domain as lower-case A-labels (IDNA2008),
 * so "Anna@BÜCHER.example" and "anna@xn--bcher-kva.example" are the same
 * account.  Malformed UTF-8 (overlong forms, surrogates, code points past
 * U+10FFFF, cut sequences) is refused.  Pure functions: no I/O; only the
 * Unicode libraries allocate, and free before returning. */
#ifndef POSTHORN_ADDR_H
#define POSTHORN_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define ADDR_LOCAL_MAX 64	/* octets, RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255	/* octets, RFC 5321 4.5.3.1.2 */
/* Room for any canonical address: quoted local part with escapes, '@',
 * domain, NUL. */
#define ADDR_TEXT_MAX (2 * ADDR_LOCAL_MAX + 3 + 1 + ADDR_DOMAIN_MAX + 1)

enum addr_flags {
	ADDR_UTF8 = 1 << 0, /* UTF-8 allowed (SMTPUTF8 was given) */
};

struct addr {
	char local[ADDR_LOCAL_MAX + 1]; /* unquoted, case-folded, NFC */
	char domain[ADDR_DOMAIN_MAX + 1];
	bool literal;	/* domain is an address literal "[...]" */
	bool quoted;	/* local part is not a dot-string: print quoted */
};

/* Parse "local@domain" filling the whole input.  Returns 1, or -1 with a
 * short reason in err_r (static text). */
int addr_parse(const char *s, size_t len, unsigned flags, struct addr *r,
	       const char **err_r);

/* Canonicalize a domain name (no address literals).  out has
 * ADDR_DOMAIN_MAX + 1 bytes.  Returns 1 or -1. */
int addr_domain_canon(const char *s, size_t len, unsigned flags, char *out,
		      const char **err_r);

/* Write the canonical text of a into out (ADDR_TEXT_MAX bytes). */
void addr_format(const struct addr *a, char *out);

/* True if the local part or domain has non-ASCII octets. */
bool addr_is_utf8(const char *s, size_t len);

#endif
