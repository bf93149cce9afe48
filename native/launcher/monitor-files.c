/* The monitor's options and the small files it keeps in its run dir (see monitor.h). */
#include "monitor.h"
#include "monitor-files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_restart(const char *policy, struct monitor_options *opts) {
  if (strcmp(policy, "no") == 0) return 0;
  if (strcmp(policy, "always") == 0 || strcmp(policy, "unless-stopped") == 0) return opts->restart_always = 1, 0;
  if (strncmp(policy, "on-failure", 10) != 0) return -1;
  opts->restart_failure = 1;
  if (policy[10] == '\0') return 0;
  if (policy[10] != ':' || policy[11] < '0' || policy[11] > '9') return -1;
  char *end;
  errno = 0;
  unsigned long max = strtoul(policy + 11, &end, 10);
  if (*end != '\0' || errno != 0 || max > 1000000) return -1;
  opts->max_restarts = (unsigned)max;
  return 0;
}

int monitor_parse(int argc, char **argv, struct monitor_options *opts, struct failure *f) {
  memset(opts, 0, sizeof *opts);
  for (int i = 2; i < argc; i += 2) {
    const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
    errno = EINVAL;
    if (value == NULL) return fail(f, "monitor", "option %s needs a value", name);
    if (strcmp(name, "--run-dir") == 0) opts->run_dir = value;
    else if (strcmp(name, "--log") == 0) opts->log_path = value;
    else if (strcmp(name, "--stdin") == 0) {
      if (strcmp(value, "fifo") != 0 && strcmp(value, "null") != 0 && strcmp(value, "tty") != 0) return fail(f, "monitor", "bad --stdin %s", value);
      opts->stdin_fifo = strcmp(value, "fifo") == 0;
      opts->tty = strcmp(value, "tty") == 0;
    }
    else if (strcmp(name, "--restart") == 0) {
      if (parse_restart(value, opts) < 0) return fail(f, "monitor", "bad restart policy %s", value);
    } else if (strcmp(name, "--cgroup-procs") == 0) {
      if (opts->cgroup_count == MAX_CGROUP_FILES) return fail(f, "monitor", "too many --cgroup-procs");
      opts->cgroup_procs[opts->cgroup_count++] = value;
    } else {
      return fail(f, "monitor", "unknown option %s", name);
    }
  }
  errno = EINVAL;
  if (opts->run_dir == NULL || opts->log_path == NULL) return fail(f, "monitor", "--run-dir and --log are required");
  return 0;
}

int write_atomic(int dir_fd, const char *name, const char *text) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, ".%s.tmp", name);
  int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
    int saved = errno;
    close(fd), unlinkat(dir_fd, tmp, 0);
    return errno = saved, -1;
  }
  close(fd);
  if (renameat(dir_fd, tmp, dir_fd, name) < 0) return -1;
  return fsync(dir_fd);
}

int write_number_line(int fd, const char *prefix, long number) {
  char line[64];
  int len = snprintf(line, sizeof line, "%s%ld\n", prefix, number);
  return write_all(fd, line, (size_t)len);
}

int read_line(int fd, char *line, size_t size) {
  size_t len = 0;
  while (len + 1 < size) {
    ssize_t got = read(fd, line + len, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (line[len++] == '\n') break;
  }
  line[len] = '\0';
  return (int)len;
}

void drain_line(int fd, char *line, size_t size) {
  char rest[256];
  read_line(fd, line, size);
  for (;;) {
    ssize_t got = read(fd, rest, sizeof rest);
    if (got > 0 || (got < 0 && errno == EINTR)) continue;
    break;
  }
}
