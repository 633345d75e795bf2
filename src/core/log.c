#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Written once before any thread starts, read-only afterwards. */
static enum log_level min_level = LOG_INFO;

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
static void log_emit(const char *level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void log_emit(const char *level, const char *fmt, va_list ap)
{
	char msg[4096];
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s.%03ldZ %s %s\n", stamp, ts.tv_nsec / 1000000L,
		level, msg);
}

#define LOG_FN(name, level, tag)                                           \
	void name(const char *fmt, ...)                                    \
	{                                                                  \
		if (!log_enabled(level))                                   \
			return;                                            \
		va_list ap;                                                \
		va_start(ap, fmt);                                         \
		log_emit(tag, fmt, ap);                                    \
		va_end(ap);                                                \
	}

LOG_FN(log_debug, LOG_DEBUG, "debug")
LOG_FN(log_info, LOG_INFO, "info")
LOG_FN(log_warn, LOG_WARN, "warn")
LOG_FN(log_error, LOG_ERROR, "error")

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
