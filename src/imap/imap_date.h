/* imap_date: IMAP's two date forms (RFC 9051 9: date-text "1-Feb-1994"
 * for SEARCH, date-time "17-Jul-1996 02:44:25 -0700" for APPEND and
 * INTERNALDATE) to and from seconds since the epoch, in the proleptic
 * Gregorian calendar, years 0000 to 9999 as four digits.  Pure. */
#ifndef POSTHORN_IMAP_DATE_H
#define POSTHORN_IMAP_DATE_H

#include <stddef.h>
#include <stdint.h>

struct str;

/* date-text, the whole of s[0..len): date-day "-" date-month "-"
 * date-year, the day one or two digits, the month's name in any case.
 * Returns 1 with midnight UTC of that day in *t_r, or -1 (a day the month
 * does not have, such as 30-Feb, is -1 too). */
int imap_date_parse(const char *s, size_t len, int64_t *t_r);

/* The inside of a date-time, the whole of s[0..len) without its quotes:
 * date-day-fixed ("17", " 7", and also "7" as some clients send it) "-"
 * month "-" year SP hh:mm:ss SP zone.  Returns 1 with the moment (UTC) in
 * *t_r and the zone's offset east of UTC in minutes in *zone_r, or -1.
 * A leap second (:60) counts as the next minute's first second. */
int imap_date_time_parse(const char *s, size_t len, int64_t *t_r,
			 int *zone_r);

/* Append the date-time for moment t shown in the zone `zone` minutes east
 * of UTC, quoted: "\"17-Jul-1996 02:44:25 -0700\"", the day padded with a
 * space.  Moments before year 0000 or after 9999 are written as the first
 * or last second of that range. */
void imap_date_time_write(struct str *out, int64_t t, int zone);

/* Days from 1970-01-01 to the date y-m-d (m 1..12, d 1..31). */
int64_t imap_date_days(int64_t y, int m, int d);

#endif
