#include "imap/imap_date.h"

#include <stdbool.h>

#include "core/str.h"

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int upper(char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* The days-from-civil algorithm: counted in 400-year eras from March 1st,
 * so that the leap day falls at the end of each year. */
int64_t imap_date_days(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y_r, int *m_r, int *d_r)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d_r = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m_r = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = yoe + era * 400 + (*m_r <= 2);
}

/* n digits at s[*i]. */
static int fixed(const char *s, size_t len, size_t *i, size_t n, int *v_r)
{
	int v = 0;
	if (len - *i < n)
		return -1;
	for (size_t k = 0; k < n; k++) {
		if (!is_digit(s[*i + k]))
			return -1;
		v = v * 10 + (s[*i + k] - '0');
	}
	*i += n;
	*v_r = v;
	return 0;
}

static bool skip(const char *s, size_t len, size_t *i, char c)
{
	if (*i < len && s[*i] == c) {
		(*i)++;
		return true;
	}
	return false;
}

/* "-" month "-" year after the day, into days since the epoch. */
static int month_year(const char *s, size_t len, size_t *i, int d,
		      int64_t *days_r)
{
	int m = 0, y;
	if (!skip(s, len, i, '-') || len - *i < 3)
		return -1;
	for (int k = 0; k < 12 && m == 0; k++)
		if (upper(s[*i]) == upper(months[k][0]) &&
		    upper(s[*i + 1]) == upper(months[k][1]) &&
		    upper(s[*i + 2]) == upper(months[k][2]))
			m = k + 1;
	*i += 3;
	if (m == 0 || !skip(s, len, i, '-') || fixed(s, len, i, 4, &y) < 0)
		return -1;
	if (d < 1 || d > month_days(y, m))
		return -1;
	*days_r = imap_date_days(y, m, d);
	return 0;
}

/* date-day = 1*2DIGIT. */
static int day(const char *s, size_t len, size_t *i, int *d_r)
{
	size_t n = len - *i >= 2 && is_digit(s[*i + 1]) ? 2 : 1;
	return fixed(s, len, i, n, d_r);
}

int imap_date_parse(const char *s, size_t len, int64_t *t_r)
{
	size_t i = 0;
	int d;
	int64_t days;
	if (day(s, len, &i, &d) < 0 || month_year(s, len, &i, d, &days) < 0 ||
	    i != len)
		return -1;
	*t_r = days * 86400;
	return 1;
}

/* SP time SP zone. */
static int time_zone(const char *s, size_t len, size_t *i, int *secs_r,
		     int *zone_r)
{
	int h, mi, sec, zh, zm, sign;
	if (!skip(s, len, i, ' ') || fixed(s, len, i, 2, &h) < 0 ||
	    !skip(s, len, i, ':') || fixed(s, len, i, 2, &mi) < 0 ||
	    !skip(s, len, i, ':') || fixed(s, len, i, 2, &sec) < 0 ||
	    !skip(s, len, i, ' '))
		return -1;
	if (skip(s, len, i, '+'))
		sign = 1;
	else if (skip(s, len, i, '-'))
		sign = -1;
	else
		return -1;
	if (fixed(s, len, i, 2, &zh) < 0 || fixed(s, len, i, 2, &zm) < 0)
		return -1;
	if (h > 23 || mi > 59 || sec > 60 || zm > 59)
		return -1;
	*secs_r = h * 3600 + mi * 60 + sec;
	*zone_r = sign * (zh * 60 + zm);
	return 0;
}

int imap_date_time_parse(const char *s, size_t len, int64_t *t_r,
			 int *zone_r)
{
	size_t i = 0;
	int d, secs, zone;
	int64_t days;
	if (skip(s, len, &i, ' ') ? fixed(s, len, &i, 1, &d) < 0
				  : day(s, len, &i, &d) < 0)
		return -1;
	if (month_year(s, len, &i, d, &days) < 0 ||
	    time_zone(s, len, &i, &secs, &zone) < 0 || i != len)
		return -1;
	*t_r = days * 86400 + secs - (int64_t)zone * 60;
	*zone_r = zone;
	return 1;
}

void imap_date_time_write(struct str *out, int64_t t, int zone)
{
	const int64_t min = imap_date_days(0, 1, 1) * 86400;
	const int64_t max = imap_date_days(9999, 12, 31) * 86400 + 86399;
	int64_t y;
	int m, d;
	if (zone > 99 * 60 + 59 || zone < -(99 * 60 + 59))
		zone = 0;
	int64_t local = t > max ? max : t < min ? min : t;
	local += (int64_t)zone * 60;
	local = local > max ? max : local < min ? min : local;
	int64_t days = (local >= 0 ? local : local - 86399) / 86400;
	int64_t secs = local - days * 86400;
	civil_from_days(days, &y, &m, &d);
	int az = zone < 0 ? -zone : zone;
	str_printf(out, "\"%2d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", d,
		   months[m - 1], (int)y, (int)(secs / 3600),
		   (int)(secs / 60 % 60), (int)(secs % 60),
		   zone < 0 ? '-' : '+', az / 60, az % 60);
}
