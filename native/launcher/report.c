/* The sync and explain channels (see report.h). */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static int explain_fd = -1;

int fail(struct failure *f, const char *step, const char *fmt, ...) {
  f->err = errno != 0 ? errno : EIO;
  f->step = step;
  va_list args;
  va_start(args, fmt);
  vsnprintf(f->detail, sizeof f->detail, fmt, args);
  va_end(args);
  errno = f->err;
  return -1;
}

int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t done = write(fd, data, len);
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) return -1;
    data += done;
    len -= (size_t)done;
  }
  return 0;
}

/* Keeps a line a line: newlines and tabs inside a field become spaces. */
static void flatten(char *text) {
  for (; *text != '\0'; text++)
    if (*text == '\n' || *text == '\t') *text = ' ';
}

void report_failure(const struct failure *f) {
  char detail[sizeof f->detail];
  char line[sizeof detail + 64];
  snprintf(detail, sizeof detail, "%s", f->detail);
  flatten(detail);
  int len = snprintf(line, sizeof line, "ERR %d %s %s\n", f->err, f->step, detail);
  if (len > (int)sizeof line - 1) len = (int)sizeof line - 1, line[len - 1] = '\n';
  write_all(SYNC_FD, line, (size_t)len);
}

void explain_init(void) {
  explain_fd = fcntl(EXPLAIN_FD, F_GETFD) >= 0 ? EXPLAIN_FD : -1;
  if (explain_fd >= 0) fcntl(explain_fd, F_SETFD, FD_CLOEXEC);
}

void explain(const char *topic, const char *fmt, ...) {
  if (explain_fd < 0) return;
  int saved = errno;
  char body[1024], line[1100];
  va_list args;
  va_start(args, fmt);
  vsnprintf(body, sizeof body, fmt, args);
  va_end(args);
  for (char *c = body; *c != '\0'; c++)
    if (*c == '\n') *c = ' ';
  int len = snprintf(line, sizeof line, "%s\t%s\n", topic, body);
  if (len > (int)sizeof line - 1) len = (int)sizeof line - 1, line[len - 1] = '\n';
  write_all(explain_fd, line, (size_t)len);
  errno = saved;
}

struct flag_name {
  uint64_t flag;
  const char *name;
};

static const struct flag_name MOUNT_FLAGS[] = {
  {MS_RDONLY, "MS_RDONLY"}, {MS_NOSUID, "MS_NOSUID"}, {MS_NODEV, "MS_NODEV"},
  {MS_NOEXEC, "MS_NOEXEC"}, {MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {MS_REMOUNT, "MS_REMOUNT"},
  {MS_DIRSYNC, "MS_DIRSYNC"}, {MS_NOATIME, "MS_NOATIME"}, {MS_NODIRATIME, "MS_NODIRATIME"},
  {MS_BIND, "MS_BIND"}, {MS_MOVE, "MS_MOVE"}, {MS_REC, "MS_REC"}, {MS_UNBINDABLE, "MS_UNBINDABLE"},
  {MS_PRIVATE, "MS_PRIVATE"}, {MS_SLAVE, "MS_SLAVE"}, {MS_SHARED, "MS_SHARED"},
  {MS_RELATIME, "MS_RELATIME"}, {MS_STRICTATIME, "MS_STRICTATIME"}, {MS_LAZYTIME, "MS_LAZYTIME"},
  {0, NULL},
};

static const struct flag_name CLONE_FLAGS[] = {
  {CLONE_NEWNS, "CLONE_NEWNS"}, {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {CLONE_NEWUTS, "CLONE_NEWUTS"},
  {CLONE_NEWIPC, "CLONE_NEWIPC"}, {CLONE_NEWUSER, "CLONE_NEWUSER"}, {CLONE_NEWPID, "CLONE_NEWPID"},
  {CLONE_NEWNET, "CLONE_NEWNET"}, {0, NULL},
};

static const char *names(const struct flag_name *table, uint64_t flags, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  for (; table->name != NULL; table++) {
    if ((flags & table->flag) == 0) continue;
    flags &= ~table->flag;
    int n = snprintf(buf + len, size - len, "%s%s", len > 0 ? "|" : "", table->name);
    if (n < 0 || (size_t)n >= size - len) return buf;
    len += (size_t)n;
  }
  if (flags != 0) snprintf(buf + len, size - len, "%s%#llx", len > 0 ? "|" : "", (unsigned long long)flags);
  else if (len == 0) snprintf(buf, size, "0");
  return buf;
}

const char *mount_flag_names(uint64_t flags, char *buf, size_t size) {
  return names(MOUNT_FLAGS, flags, buf, size);
}

const char *clone_flag_names(uint64_t flags, char *buf, size_t size) {
  return names(CLONE_FLAGS, flags, buf, size);
}
