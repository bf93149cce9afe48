/*
 * `didactic-probe report`: one JSON object describing what a process sees from
 * inside a container: identity, hostname, capabilities and seccomp state,
 * whether privileged operations are allowed, how /proc is masked, how many
 * processes are visible, the environment and the open-files limit.
 *
 * Privileged operations are tried in a forked child so that a success leaves
 * the probe unchanged and a seccomp kill shows up as a signal, not a crash.
 */
#include "../common/cleanup.h"
#include "json.h"
#include "probe.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

extern char **environ;

struct outcome {
  int ok;
  int err;          /* errno when !ok */
  int sig;          /* signal that killed the child trying, 0 if none */
  const char *step; /* the step that failed when it is not the call itself */
};

/* Reads a whole (small, /proc-style) file into a NUL-terminated buffer. */
static ssize_t read_text(const char *path, char **out) {
  CLEANUP_FD int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t cap = 4096, len = 0;
  CLEANUP_FREE char *buf = malloc(cap);
  if (buf == NULL) return -1;
  for (;;) {
    if (len + 1 >= cap) {
      char *bigger = realloc(buf, cap * 2);
      if (bigger == NULL) return -1;
      buf = bigger;
      cap *= 2;
    }
    ssize_t got = read(fd, buf + len, cap - len - 1);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got == 0) break;
    len += (size_t)got;
  }
  buf[len] = '\0';
  *out = buf;
  buf = NULL;
  return (ssize_t)len;
}

/* Copies the value of "Name:\tvalue" from /proc/self/status text; NULL if absent. */
static const char *status_field(const char *status, const char *name, char *value, size_t size) {
  size_t name_len = strlen(name);
  for (const char *line = status; line != NULL && *line != '\0';) {
    const char *end = strchr(line, '\n');
    size_t line_len = end != NULL ? (size_t)(end - line) : strlen(line);
    if (line_len > name_len && strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
      const char *start = line + name_len + 1;
      while (start < line + line_len && isspace((unsigned char)*start)) start++;
      size_t n = (size_t)(line + line_len - start);
      if (n >= size) n = size - 1;
      memcpy(value, start, n);
      value[n] = '\0';
      return value;
    }
    line = end != NULL ? end + 1 : NULL;
  }
  return NULL;
}

/* Runs try(arg) in a child process; the child's exit status carries errno. */
static struct outcome try_in_child(int (*try)(const char *), const char *arg) {
  struct outcome result = {0, 0, 0, NULL};
  pid_t pid = fork();
  if (pid < 0) {
    result.err = errno;
    result.step = "fork";
    return result;
  }
  if (pid == 0) _exit(try(arg) < 0 ? (errno > 0 && errno < 256 ? errno : 255) : 0);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      result.err = errno;
      result.step = "waitpid";
      return result;
    }
  }
  if (WIFSIGNALED(status)) result.sig = WTERMSIG(status);
  else if (WEXITSTATUS(status) == 0) result.ok = 1;
  else result.err = WEXITSTATUS(status);
  return result;
}

static int try_mount(const char *dir) {
  if (mount("didactic-probe", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k") < 0) return -1;
  return umount2(dir, MNT_DETACH);
}

static int try_unshare(const char *unused) {
  (void)unused;
  return unshare(CLONE_NEWNS);
}

/*
 * PTRACE_SEIZE does not stop the tracee; the child's exit detaches it again.
 * When the probe itself is pid 1, the child traces its own parent, which the
 * same credentials allow: then this says more about seccomp than about caps.
 */
static int try_ptrace(const char *unused) {
  (void)unused;
  return ptrace(PTRACE_SEIZE, (pid_t)1, NULL, NULL) < 0 ? -1 : 0;
}

/* Mounts a small tmpfs on a fresh directory and unmounts it at once. */
static struct outcome check_mount(void) {
  static const char *const bases[] = {"/tmp", "/dev/shm", "/run"};
  struct outcome result = {0, ENOENT, 0, "mkdtemp"};
  for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/didactic-probe-XXXXXX", bases[i]);
    if (mkdtemp(dir) == NULL) {
      result.err = errno;
      continue;
    }
    result = try_in_child(try_mount, dir);
    rmdir(dir);
    return result;
  }
  return result;
}

static struct outcome check_open_write(const char *path) {
  struct outcome result = {0, 0, 0, NULL};
  CLEANUP_FD int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) result.ok = 1;
  else result.err = errno;
  return result;
}

static void write_outcome(struct json *j, const char *key, struct outcome o) {
  json_begin_object(j, key);
  json_bool(j, "ok", o.ok);
  json_string(j, "errno", o.ok || o.sig ? NULL : strerrorname_np(o.err));
  if (o.sig) json_int(j, "signal", o.sig);
  if (o.step != NULL) json_string(j, "step", o.step);
  json_end_object(j);
}

static void write_ids(struct json *j) {
  json_int(j, "pid", getpid());
  json_int(j, "ppid", getppid());
  json_int(j, "uid", getuid());
  json_int(j, "gid", getgid());
  json_int(j, "euid", geteuid());
  json_int(j, "egid", getegid());
  json_begin_array(j, "groups");
  int count = getgroups(0, NULL);
  CLEANUP_FREE gid_t *groups = count > 0 ? calloc((size_t)count, sizeof(gid_t)) : NULL;
  if (groups != NULL) {
    count = getgroups(count, groups);
    for (int i = 0; i < count; i++) json_int(j, NULL, groups[i]);
  }
  json_end_array(j);
  char host[HOST_NAME_MAX + 1] = "";
  json_string(j, "hostname", gethostname(host, sizeof host) == 0 ? host : NULL);
  CLEANUP_FREE char *cwd = getcwd(NULL, 0);
  json_string(j, "cwd", cwd);
}

static void write_status(struct json *j) {
  static const char *const fields[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"};
  CLEANUP_FREE char *status = NULL;
  if (read_text("/proc/self/status", &status) < 0) status = NULL;
  json_begin_object(j, "status");
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    char value[128];
    json_string(j, fields[i], status_field(status, fields[i], value, sizeof value));
  }
  json_end_object(j);
}

/* Docker and runc mask /proc/kcore by bind-mounting /dev/null over it. */
static void write_kcore(struct json *j) {
  struct stat st;
  json_begin_object(j, "kcore");
  if (stat("/proc/kcore", &st) < 0) {
    json_bool(j, "exists", 0);
    json_string(j, "errno", strerrorname_np(errno));
  } else {
    int chr = S_ISCHR(st.st_mode);
    json_bool(j, "exists", 1);
    json_bool(j, "char_device", chr);
    json_int(j, "size", (long long)st.st_size);
    json_bool(j, "masked", chr || st.st_size == 0);
  }
  json_end_object(j);
}

static long long count_processes(void) {
  CLEANUP_DIR DIR *proc = opendir("/proc");
  if (proc == NULL) return -1;
  long long count = 0;
  for (struct dirent *entry; (entry = readdir(proc)) != NULL;) {
    const char *c = entry->d_name;
    while (*c >= '0' && *c <= '9') c++;
    if (*c == '\0' && c != entry->d_name) count++;
  }
  return count;
}

static void write_limit(struct json *j, const char *key, rlim_t value) {
  if (value == RLIM_INFINITY) json_string(j, key, "unlimited");
  else json_int(j, key, (long long)value);
}

static void write_file_text(struct json *j, const char *key, const char *path) {
  CLEANUP_FREE char *text = NULL;
  json_string(j, key, read_text(path, &text) < 0 ? NULL : text);
}

int probe_report(FILE *out) {
  struct json j;
  json_init(&j, out);
  fflush(out); /* nothing buffered may be duplicated into forked children */
  struct outcome mounted = check_mount();
  struct outcome unshared = try_in_child(try_unshare, NULL);
  struct outcome traced = try_in_child(try_ptrace, NULL);
  struct outcome proc_sys = check_open_write("/proc/sys/kernel/hostname");

  json_begin_object(&j, NULL);
  write_ids(&j);
  write_status(&j);
  json_begin_object(&j, "checks");
  write_outcome(&j, "mount", mounted);
  write_outcome(&j, "unshare_mnt", unshared);
  write_outcome(&j, "ptrace_pid1", traced);
  write_outcome(&j, "proc_sys_write", proc_sys);
  json_end_object(&j);
  write_kcore(&j);
  json_int(&j, "processes", count_processes());
  json_begin_object(&j, "tty");
  json_bool(&j, "stdin", isatty(0));
  json_bool(&j, "stdout", isatty(1));
  json_end_object(&j);
  struct rlimit nofile;
  json_begin_object(&j, "rlimit_nofile");
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    write_limit(&j, "soft", nofile.rlim_cur);
    write_limit(&j, "hard", nofile.rlim_max);
  }
  json_end_object(&j);
  write_file_text(&j, "uid_map", "/proc/self/uid_map");
  write_file_text(&j, "gid_map", "/proc/self/gid_map");
  write_file_text(&j, "cgroup", "/proc/self/cgroup");
  json_begin_array(&j, "env");
  for (char **entry = environ; entry != NULL && *entry != NULL; entry++) json_string(&j, NULL, *entry);
  json_end_array(&j);
  json_end_object(&j);
  fputc('\n', out);
  return fflush(out) == 0 ? 0 : -1;
}
