/* mime_sort: the sort keys of IMAP SORT and THREAD (RFC 5256) and SORT
 * DISPLAY (RFC 5957), computed from header values.
 *
 * The keys are computed once, when a message is stored, and compared
 * later by the caller with the collation the command names (i;ascii-
 * casemap by default).  Input is untrusted: every function takes any
 * bytes, runs in time linear in its input, and its output is no longer
 * than a small multiple of it. */
#ifndef POSTHORN_MIME_SORT_H
#define POSTHORN_MIME_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* Append the base subject of RFC 5256 section 2.1 to out, following its
 * steps exactly, for a subject already decoded to UTF-8
 * (mime_decode_header()):
 *   (1) tabs and line breaks become spaces, runs of spaces one space;
 *   (2) trailing "(fwd)" and spaces are removed, repeatedly;
 *   (3) leading spaces and leaders are removed: any number of "[blob]"s
 *       followed by "re", "fw" or "fwd", optional spaces, an optional
 *       "[blob]" and ":";
 *   (4) a leading "[blob]" is removed if text remains after it;
 *   (5) (3) and (4) repeat while they remove something;
 *   (6) a "[fwd: ...]" wrapping the whole text is unwrapped and all
 *       begins again from (2).
 * Letters match in either case.  Bytes of UTF-8 count as the ABNF's
 * BLOBCHAR and NONWSP.  Output <= len.
 * *reply_r (may be NULL) tells THREAD whether the subject marks a reply or
 * forward (RFC 5256 section 2.1 end): the steps removed a "re"/"fw"/"fwd"
 * leader, a "(fwd)" trailer or a "[fwd: ...]" wrapping. */
void mime_base_subject(const char *subject, size_t len, struct str *out,
		       bool *reply_r);

/* Parse an RFC 5322 date-time, obsolete forms included, into seconds
 * since the epoch (UTC) in *t_r:
 *   - the day of week is optional (and not checked against the date),
 *     month and day names are read by their first three letters, in any
 *     case;
 *   - years of 2 digits are 20xx below 50 and 19xx from 50, of 3 digits
 *     19xx (RFC 5322 4.3); 4 digits as they are; more are refused;
 *   - seconds are optional; 60 (a leap second) is taken;
 *   - comments and any whitespace between the parts are skipped;
 *   - the zone is +hhmm/-hhmm, UT, GMT, Z, or the US zones EST EDT CST
 *     CDT MST MDT PST PDT; a missing, malformed or unknown zone (military
 *     letters other than Z included, as RFC 5322 4.3 says) is taken as
 *     UTC, as RFC 5256 section 2.2 asks; text after the zone is ignored.
 * Returns 1, or 0 if the text is not a date (a missing part, a day past
 * its month's end, 24:00) and SORT uses the INTERNALDATE instead. */
int mime_parse_date(const char *in, size_t len, int64_t *t_r);
/* The same date-time as written, its zone left out: the seconds since
 * the epoch of its date and time read as UTC, so that t / 86400 is the
 * day the text names (IMAP SEARCH's SENTON, RFC 9051 6.4.4).  Returns as
 * mime_parse_date() does. */
int mime_parse_date_local(const char *in, size_t len, int64_t *t_r);

/* From the value of an address header (From, To, Cc; raw, not decoded),
 * append the sort keys of its first address:
 *   - mailbox (may be NULL): for SORT FROM/TO/CC (RFC 5256), the [IMAP]
 *     addr-mailbox: the local part, unquoted, its bytes as they are;
 *   - display (may be NULL): for SORT DISPLAYFROM/DISPLAYTO (RFC 5957
 *     section 3), the display name decoded (mime_decode_header()), else
 *     "mailbox@host", else the mailbox, else nothing; always UTF-8 (8-bit
 *     bytes that are not are read as windows-1252).
 * As in an IMAP ENVELOPE, a group's first address is its start marker:
 * the mailbox is the group's name and the display name empty.  Old-style
 * "user@host (Name)" counts "Name" as the display name.  An empty header
 * appends nothing to either.  Output <= len (mailbox), 3 * len + 1
 * (display). */
void mime_sort_address(const char *value, size_t len, struct str *mailbox,
		       struct str *display);

#endif
