/* log: one event per line on stderr.
 *
 *   2024-05-01T12:00:00.000Z info smtp[00002a] connect client=192.0.2.7
 *   TIMESTAMP                LEVEL TAG        EVENT   FIELDS...
 *
 * panic is for our own bugs (a broken invariant) and aborts; fatal is for a
 * broken environment at start-up and exits 1; error/warn/info/debug are for
 * runtime events.  A client's mistake is never a panic.
 *
 * Event lines are built with log_begin(), then fields, then log_put().  A
 * field is " key=value".  Keys are ours (lower-case letters, digits, '_').
 * A value is written bare when it is a non-empty run of printable ASCII
 * other than space, '"', '\' and '='; otherwise it is quoted:
 *
 *   "..."   with \" for '"', \\ for '\', and \xNN (lower-case hex) for
 *           every byte outside 0x20-0x7e; nothing else is escaped.
 *
 * So a quoted value never holds an unescaped '"', and "key=" can start a
 * field only outside quotes: no text a client sends can make a field.
 * A value cut for length is quoted, ends in "..." inside the quotes, and is
 * followed by the field KEY_len=N giving the length of the whole value in
 * bytes; keys ending in "_len" and "_more" are kept for that and for
 * log_more().
 *
 * Order: the fields whose values we make (client address, result, size,
 * id, code) first, with log_field(), which never cuts; then text that came
 * from a client, with log_value(), each value cut at LOG_VALUE_MAX; then
 * lists, with log_item(), which keeps the first items that fit the line and
 * counts the rest for log_more().  Text values and lists are cut to keep
 * the line within LOG_LINE_MAX bytes; once the fields before them have
 * filled it, a text value shrinks to "..." with its _len field.  The line
 * is written whole, whatever its length: nothing is cut when it is written,
 * so the fixed fields always reach the log. */
#ifndef POSTHORN_LOG_H
#define POSTHORN_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* A whole written line, timestamp and newline included.  The fields of an
 * event line get this less the room the timestamp and level take. */
#define LOG_LINE_MAX 8192
/* Bytes of one value as written by log_value(), between its quotes. */
#define LOG_VALUE_MAX 512

/* Set once at start-up, before threads exist. */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/* Free-text lines for our own messages (start-up, shutdown, environment
 * errors).  Text from a client goes through the event-line API instead.
 * Longer than LOG_LINE_MAX, a line is cut. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Start an event line in *line (which must be empty): "proto[id] event".
 * id and event may be NULL: "proto event", "proto[id]".  All three are
 * ours, never a client's text. */
void log_begin(struct str *line, const char *proto, const char *id,
	       const char *event);

/* Append " key=VALUE" with a value we generate (a number, an address we
 * formatted, a result keyword), printf-style.  Never cut; quoted like any
 * value if it holds anything that is not safe bare. */
void log_field(struct str *line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Append " key=VALUE" for len bytes of untrusted text: bare, quoted or cut
 * as the header says.  value may hold any bytes, NUL included. */
void log_value(struct str *line, const char *key, const void *value,
	       size_t len);
/* The same for a NUL-terminated string. */
void log_cvalue(struct str *line, const char *key, const char *value);

/* One item of a list (e.g. recipients), each as its own " key=VALUE".
 * Written as log_value() would while the line keeps room for it and a
 * final log_more(); otherwise, and for every item after the first one
 * left out, only counted in *dropped. */
void log_item(struct str *line, const char *key, const void *value,
	      size_t len, size_t *dropped);
/* Append " key_more=N" when n > 0: how many items log_item() left out. */
void log_more(struct str *line, const char *key, size_t n);

/* Write the line at level (if enabled) with one write, then free it. */
void log_put(enum log_level level, struct str *line);

#endif
