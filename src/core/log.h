/* log: one event per line on stderr, "LEVEL [session] key=value ...".
 *
 * panic is for our own bugs (a broken invariant) and aborts; fatal is for a
 * broken environment at start-up and exits 1; error/warn/info/debug are for
 * runtime events.  A client's mistake is never a panic. */
#ifndef POSTHORN_LOG_H
#define POSTHORN_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set once at start-up, before threads exist. */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
