/*
 * How the launcher talks back to the engine.
 *
 *   sync fd (4)     "NET <n>\n" first from the helper that made the network namespace
 *                   (--new-netns); "PID <n>\n" from the parent once the child exists; "GO\n" from
 *                   the engine to the child; "ERR <errno> <step> <detail>\n" from
 *                   whichever side fails. Close-on-exec: a successful execve closes
 *                   it, so the engine reads EOF and knows the container started.
 *   explain fd (5)  optional; one line per kernel step: "<topic>\t<words>\t<call>\n".
 */
#ifndef DIDACTIC_LAUNCHER_REPORT_H
#define DIDACTIC_LAUNCHER_REPORT_H

#include <stddef.h>
#include <stdint.h>

#define SYNC_FD 4
#define EXPLAIN_FD 5

/* Why a step failed: errno, the step's name and what it was working on. */
struct failure {
  int err;
  const char *step;
  char detail[512];
};

/* Records errno, the step and a detail in f; returns -1 so callers can `return fail(...)`. */
int fail(struct failure *f, const char *step, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sends the failure as an ERR line on the sync fd. */
void report_failure(const struct failure *f);

/* Writes a whole buffer, retrying on EINTR and short writes. */
int write_all(int fd, const char *data, size_t len);

/* Enables explain lines when fd 5 is open at start-up. */
void explain_init(void);

/* One explain line; fmt yields "<words>\t<call>". */
void explain(const char *topic, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A flag word as names joined by '|' ("0" when empty), e.g. MS_NOSUID|MS_NODEV. */
const char *mount_flag_names(uint64_t flags, char *buf, size_t size);
const char *clone_flag_names(uint64_t flags, char *buf, size_t size);

#endif
