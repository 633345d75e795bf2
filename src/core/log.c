#include "core/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Written once before any thread starts, read-only afterwards. */
static enum log_level min_level = LOG_INFO;

/* "2024-05-01T12:00:00.000Z error " is 31 bytes; the rest of the slack is
 * the newline and room to spare, so a full event line is one write. */
#define LOG_PREFIX_ROOM 40
#define LOG_FIELDS_MAX (LOG_LINE_MAX - LOG_PREFIX_ROOM)
/* Room kept free by log_item() for the " key_more=N" that may follow. */
#define LOG_MORE_ROOM 48

static const char *const level_tags[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	min_level = level;
}

bool log_enabled(enum log_level level)
{
	return level >= min_level;
}

/* One fprintf call per line: stdio locks the stream for each call, so lines
 * from different threads never interleave. */
static void log_write(const char *level, const char *msg, size_t len)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %.*s\n", stamp, ts.tv_nsec / 1000000L,
		level, (int)len, msg);
}

static void log_emit(const char *level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void log_emit(const char *level, const char *fmt, va_list ap)
{
	char msg[LOG_FIELDS_MAX];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		n = 0;
	log_write(level, msg,
		  (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

#define LOG_FN(name, level)                                                \
	void name(const char *fmt, ...)                                    \
	{                                                                  \
		if (!log_enabled(level))                                   \
			return;                                            \
		va_list ap;                                                \
		va_start(ap, fmt);                                         \
		log_emit(level_tags[level], fmt, ap);                      \
		va_end(ap);                                                \
	}

LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)

void log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit("fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit("panic", fmt, ap);
	va_end(ap);
	abort();
}

/* ---- event lines ---- */

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Keys are string constants in our code, so a bad one is our bug; catching
 * it here keeps a typo from ever producing a line a parser misreads. */
static void check_key(const char *key)
{
	if (key[0] == '\0')
		log_panic("log: empty key");
	for (const char *k = key; *k; k++)
		if (!key_char(*k))
			log_panic("log: bad key \"%s\"", key);
}

static bool bare_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/* Bytes that c takes between quotes. */
static size_t quoted_size(unsigned char c)
{
	if (c == '"' || c == '\\')
		return 2;
	return c >= 0x20 && c < 0x7f ? 1 : 4;
}

static void put_quoted_byte(struct str *line, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
	if (c == '"' || c == '\\') {
		esc[1] = (char)c;
		str_append(line, esc, 2);
	} else if (c >= 0x20 && c < 0x7f) {
		str_appendc(line, (char)c);
	} else {
		str_append(line, esc, 4);
	}
}

/* Append "=VALUE" with at most max bytes between the quotes (max >= 3), or
 * the bare value when it is safe and fits.  Returns true if it was cut. */
static bool put_value(struct str *line, const unsigned char *b, size_t len,
		      size_t max)
{
	size_t bare = 0, quoted = 0;
	while (bare < len && bare_byte(b[bare]))
		bare++;
	str_appendc(line, '=');
	if (len > 0 && bare == len && len <= max) {
		str_append(line, b, len);
		return false;
	}
	for (size_t i = 0; i < len && quoted <= max; i++)
		quoted += quoted_size(b[i]);
	bool cut = quoted > max;
	size_t used = 0;
	str_appendc(line, '"');
	for (size_t i = 0; i < len; i++) {
		size_t need = quoted_size(b[i]);
		if (cut && used + need + 3 > max)
			break;
		put_quoted_byte(line, b[i]);
		used += need;
	}
	if (cut)
		str_appends(line, "...");
	str_appendc(line, '"');
	return cut;
}

void log_begin(struct str *line, const char *proto, const char *id,
	       const char *event)
{
	str_clear(line);
	str_appends(line, proto);
	if (id != NULL)
		str_printf(line, "[%s]", id);
	if (event != NULL)
		str_printf(line, " %s", event);
}

void log_field(struct str *line, const char *key, const char *fmt, ...)
{
	struct str v = STR_INIT;
	va_list ap;
	check_key(key);
	va_start(ap, fmt);
	str_vprintf(&v, fmt, ap);
	va_end(ap);
	str_printf(line, " %s", key);
	put_value(line, (const unsigned char *)(v.data ? v.data : ""), v.len,
		  SIZE_MAX);
	str_free(&v);
}

void log_value(struct str *line, const char *key, const void *value,
	       size_t len)
{
	check_key(key);
	/* What a cut value adds around its text: ` key="..." key_len=N`. */
	size_t overhead = 2 * strlen(key) + 16 + 20;
	size_t max = LOG_VALUE_MAX;
	if (line->len + overhead + max > LOG_FIELDS_MAX)
		max = line->len + overhead + 3 < LOG_FIELDS_MAX
			      ? LOG_FIELDS_MAX - line->len - overhead
			      : 3;
	str_printf(line, " %s", key);
	if (put_value(line, value, len, max))
		str_printf(line, " %s_len=%zu", key, len);
}

void log_cvalue(struct str *line, const char *key, const char *value)
{
	log_value(line, key, value, strlen(value));
}

void log_item(struct str *line, const char *key, const void *value,
	      size_t len, size_t *dropped)
{
	if (*dropped > 0) {
		(*dropped)++;
		return;
	}
	/* Written in place and taken back if it does not fit: simpler than
	 * working out the size of the escaped value beforehand. */
	size_t before = line->len;
	log_value(line, key, value, len);
	if (line->len + LOG_MORE_ROOM > LOG_FIELDS_MAX) {
		str_truncate(line, before);
		(*dropped)++;
	}
}

void log_more(struct str *line, const char *key, size_t n)
{
	check_key(key);
	if (n > 0)
		str_printf(line, " %s_more=%zu", key, n);
}

void log_put(enum log_level level, struct str *line)
{
	if (log_enabled(level))
		log_write(level_tags[level], line->data ? line->data : "",
			  line->len);
	str_free(line);
}
