/*
 * The container's first process, from clone to execve. It waits for the
 * engine's GO (the engine has put it in its cgroup by then), builds its file
 * system view, sets its identity and limits, and replaces itself with the
 * container's command. Any failure is sent to the engine as an ERR line.
 *
 * The seccomp filter comes last when no_new_privs is set. Without it, the
 * kernel only lets a process with CAP_SYS_ADMIN install a filter, so it is
 * installed before the capabilities are dropped; the calls after it
 * (setgroups, setresuid, capset, prctl, execve) are ones any sane profile allows.
 */
#include "console.h"
#include "steps.h"
#include "../common/cleanup.h"

#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* Reads "GO\n" from the engine; anything else (or EOF: the engine is gone) ends the child. */
static int wait_for_go(struct failure *f) {
  char line[8];
  size_t len = 0;
  while (len < sizeof line) {
    ssize_t got = read(SYNC_FD, line + len, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return errno = got == 0 ? EPIPE : errno, fail(f, "sync", "wait for GO");
    if (line[len++] == '\n') break;
  }
  if (len != 3 || memcmp(line, "GO\n", 3) != 0) return errno = EPROTO, fail(f, "sync", "expected GO");
  return 0;
}

/* A new network namespace has only lo, and it is down: up it goes, as the CNI loopback plugin would. */
static int loopback_up(struct failure *f) {
  explain("network", "bring up the loopback interface of the new network namespace\tioctl(socket(AF_INET, SOCK_DGRAM), SIOCSIFFLAGS, {\"lo\", IFF_UP})");
  CLEANUP_FD int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail(f, "loopback", "socket");
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFFLAGS, &request) < 0) return fail(f, "loopback", "SIOCGIFFLAGS lo");
  request.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &request) < 0) return fail(f, "loopback", "SIOCSIFFLAGS lo");
  return 0;
}

static int write_file(const char *path, const char *value) {
  CLEANUP_FD int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  return write_all(fd, value, strlen(value));
}

static int apply_sysctls(const struct launch_plan *plan, struct failure *f) {
  for (size_t i = 0; i < plan->count; i++) {
    if (plan->records[i].tag != TAG_SYSCTL) continue;
    struct cursor c = plan_cursor(&plan->records[i]);
    const char *key, *value;
    char path[PATH_MAX];
    take_str(&c, &key), take_str(&c, &value);
    snprintf(path, sizeof path, "/proc/sys/%s", key);
    explain("namespace", "set sysctl %s\twrite %s = %s", key, path, value);
    if (write_file(path, value) < 0) return fail(f, "sysctl", "%s = %s", key, value);
  }
  return 0;
}

static int set_oom_score_adj(const struct launch_plan *plan, struct failure *f) {
  char value[16];
  if (!plan->has_oom_score_adj) return 0;
  snprintf(value, sizeof value, "%d", plan->oom_score_adj);
  explain("process", "set the OOM score adjustment\twrite /proc/self/oom_score_adj = %s", value);
  return write_file("/proc/self/oom_score_adj", value) < 0 ? fail(f, "oom_score_adj", "%s", value) : 0;
}

/* Creates the working directory and its missing parents, owned by the container's user. */
static int make_cwd(const struct launch_plan *plan, struct failure *f) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s", plan->cwd);
  for (char *slash = path + 1;; slash++) {
    int end = *slash == '\0';
    if (!end && *slash != '/') continue;
    *slash = '\0';
    if (mkdir(path, 0755) == 0) {
      explain("mount", "create the working directory %s\tmkdir(\"%s\", 0755)", path, path);
      if (chown(path, plan->uid, plan->gid) < 0) return fail(f, "chdir", "chown %s", path);
    } else if (errno != EEXIST) {
      return fail(f, "chdir", "mkdir %s", path);
    }
    if (end) break;
    *slash = '/';
  }
  return 0;
}

static void finish(const struct failure *f) __attribute__((noreturn));
static void finish(const struct failure *f) {
  report_failure(f);
  _exit(f->step != NULL && strcmp(f->step, "exec") == 0 ? (f->err == ENOENT ? 127 : 126) : 125);
}

void run_child(const struct launch_plan *plan) {
  struct failure f = {0, NULL, ""};
  if (wait_for_go(&f) < 0) _exit(125);
  if (plan->loopback_up && loopback_up(&f) < 0) finish(&f);
  if (plan->clone_flags & CLONE_NEWCGROUP) {
    /* Only now: the namespace's root is the cgroup the process is in when it is made. */
    explain("namespace", "new cgroup namespace rooted at the container's cgroup\tunshare(CLONE_NEWCGROUP)");
    if (unshare(CLONE_NEWCGROUP) < 0) fail(&f, "unshare", "CLONE_NEWCGROUP"), finish(&f);
  }
  if (setup_rootfs(plan, &f) < 0) finish(&f);
  /* -t: the terminal comes from the container's own devpts, so it is made once /dev is there (console.h). */
  if (console_socket >= 0 && console_setup(plan, &f) < 0) finish(&f);
  if (plan->hostname != NULL) {
    explain("namespace", "set the hostname\tsethostname(\"%s\")", plan->hostname);
    if (sethostname(plan->hostname, strlen(plan->hostname)) < 0) fail(&f, "sethostname", "%s", plan->hostname), finish(&f);
  }
  if (apply_sysctls(plan, &f) < 0 || protect_paths(plan, &f) < 0 || set_oom_score_adj(plan, &f) < 0) finish(&f);
  if (apply_rlimits(plan, &f) < 0 || make_cwd(plan, &f) < 0) finish(&f);
  exec_command(plan, "the launcher with the container's command", &f);
  finish(&f);
}
