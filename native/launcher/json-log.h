/*
 * The container's log in Docker's json-file format, one object per line:
 *
 *   {"log":"text\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
 *
 * Output is cut into lines at '\n' (kept in "log"); a line longer than
 * LOG_LINE_MAX is written in pieces of that size without a trailing "\n", and
 * so is a last line without a newline when the stream ends, as Docker does.
 * Strings are escaped like Docker's encoder: quotes, backslashes and control
 * characters, '<' '>' '&' as \u003c \u003e \u0026, U+2028/U+2029, and bytes that are
 * not valid UTF-8 as \ufffd.
 */
#ifndef DIDACTIC_LAUNCHER_JSON_LOG_H
#define DIDACTIC_LAUNCHER_JSON_LOG_H

#include <stddef.h>

#define LOG_LINE_MAX (16 * 1024)

enum log_stream { LOG_STDOUT = 0, LOG_STDERR = 1 };

/* Sets the file the lines go to (opened O_APPEND by the caller). */
void log_init(int fd);

/* Takes bytes the container wrote on one stream; writes every line completed by them. */
void log_take(enum log_stream stream, const char *data, size_t len);

/* Writes what is left of a line without a newline on both streams (the container ended). */
void log_flush_partial(void);

/* The current time as RFC 3339 with nanoseconds, trailing zeros dropped, UTC ("...Z"). */
void format_time_now(char *out, size_t size);

#endif
