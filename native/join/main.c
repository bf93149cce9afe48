/*
 * didactic-join (see join.h): joins a running container's namespaces, then
 * runs a command there (exec) or copies files as a tar stream (cp).
 *
 *   fd 3  the plan, read until EOF
 *   fd 4  sync: "PID <n>\n", or "ERR <errno> <step> <detail>\n"; close-on-exec,
 *         so EOF after PID means the command is running
 *   fd 5  explain lines, optional
 *   0-2   the command's stdio (exec), or the tar stream (stdin or stdout)
 *
 * `exec --tty`: once the namespaces are joined the helper opens a
 * pseudo-terminal in the container's devpts (its /dev/ptmx), the command
 * takes the slave as controlling terminal and stdio, and the helper relays
 * between it and its own fd 0 and 1 (native/launcher/console.h).
 *
 * Every namespace file is opened before the first setns: once the mount
 * namespace is joined, /proc is the container's and /proc/<pid> names
 * another process or none.
 */
#include "join.h"
#include "../launcher/console.h"
#include "../launcher/steps.h"
#include "../launcher/wait.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PLAN_FD 3
#define ENGINE_ERROR 125
#define MAX_NAMESPACES 8

enum mode { MODE_EXEC, MODE_DETACH, MODE_TAR_CREATE, MODE_TAR_EXTRACT };

static int join_namespaces(const struct launch_plan *plan, struct failure *f) {
  int fds[MAX_NAMESPACES];
  uint64_t types[MAX_NAMESPACES];
  const char *paths[MAX_NAMESPACES];
  size_t count = 0;
  int result = 0;
  for (size_t i = 0; i < plan->count && result == 0; i++) {
    if (plan->records[i].tag != TAG_JOIN_NS) continue;
    if (count == MAX_NAMESPACES) {
      errno = E2BIG;
      result = fail(f, "setns", "more than %d namespaces", MAX_NAMESPACES);
      break;
    }
    struct cursor c = plan_cursor(&plan->records[i]);
    take_u64(&c, &types[count]), take_str(&c, &paths[count]);
    fds[count] = open(paths[count], O_RDONLY | O_CLOEXEC);
    if (fds[count] < 0) result = fail(f, "setns", "open %s", paths[count]);
    else count++;
  }
  char names[64];
  for (size_t i = 0; i < count && result == 0; i++) {
    explain("namespace", "join the container's namespace %s\tsetns(%s, %s)", paths[i], paths[i], clone_flag_names(types[i], names, sizeof names));
    if (setns(fds[i], (int)types[i]) < 0) result = fail(f, "setns", "%s", paths[i]);
  }
  for (size_t i = 0; i < count; i++) close(fds[i]);
  return result;
}

/* The container's OOM score adjustment, as its first process has it. */
static int set_oom_score_adj(const struct launch_plan *plan, struct failure *f) {
  char value[16];
  if (!plan->has_oom_score_adj) return 0;
  int len = snprintf(value, sizeof value, "%d", plan->oom_score_adj);
  explain("process", "set the OOM score adjustment\twrite /proc/self/oom_score_adj = %s", value);
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  int result = fd < 0 || write_all(fd, value, (size_t)len) < 0 ? fail(f, "oom_score_adj", "%s", value) : 0;
  if (fd >= 0) close(fd);
  return result;
}

static void finish(const struct failure *f) __attribute__((noreturn));
static void finish(const struct failure *f) {
  report_failure(f);
  _exit(f->step != NULL && strcmp(f->step, "exec") == 0 ? (f->err == ENOENT ? 127 : 126) : ENGINE_ERROR);
}

/* The command's process: the container's limits, identity and filter, then execve. */
static void exec_child(const struct launch_plan *plan) __attribute__((noreturn));
static void exec_child(const struct launch_plan *plan) {
  struct failure f = {0, NULL, ""};
  if (apply_rlimits(plan, &f) < 0 || set_oom_score_adj(plan, &f) < 0) finish(&f);
  exec_command(plan, "the joined process with the command", &f);
  finish(&f);
}

static int wait_command(pid_t child) {
  int status = 0;
  for (;;) {
    pid_t got = waitpid(child, &status, 0);
    if (got == child) break;
    if (got < 0 && errno != EINTR) return ENGINE_ERROR;
  }
  if (WIFEXITED(status)) {
    explain("process", "the command exited with status %d\twaitpid(%d) = exited(%d)", WEXITSTATUS(status), (int)child, WEXITSTATUS(status));
    return WEXITSTATUS(status);
  }
  explain("process", "the command was killed by signal %d\twaitpid(%d) = signaled(%d)", WTERMSIG(status), (int)child, WTERMSIG(status));
  return 128 + WTERMSIG(status);
}

static int run_exec(const struct launch_plan *plan, int detach, int tty, struct failure *f) {
  int master = -1, slave = -1;
  if (tty && pty_open(&master, &slave, f) < 0) return report_failure(f), ENGINE_ERROR;
  sigset_t old;
  block_forwarded_signals(&old);
  pid_t pid = fork();
  if (pid < 0) return fail(f, "fork", "the command's process"), report_failure(f), ENGINE_ERROR;
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (tty) {
      close(master);
      if (pty_take_slave(slave, plan->uid, f) < 0) finish(f);
    } else if (detach) {
      setsid();
    }
    exec_child(plan);
  }
  explain("process", "start the command's process, inside the container's pid namespace\tfork() = %d", (int)pid);
  char line[32];
  int len = snprintf(line, sizeof line, "PID %d\n", (int)pid);
  write_all(SYNC_FD, line, (size_t)len);
  close(SYNC_FD); /* the child holds the other copy until it execs */
  if (tty) close(slave);
  if (detach) return 0;
  forward_signals_to(pid, &old);
  if (tty) return pty_relay(master, pid);
  return wait_command(pid);
}

static const char *arg(const struct launch_plan *plan, size_t index) {
  for (size_t i = 0; i <= index; i++)
    if (plan->argv[i] == NULL) return NULL;
  return plan->argv[index];
}

int main(int argc, char **argv) {
  struct launch_plan plan;
  struct failure f = {0, NULL, ""};
  if (fcntl(SYNC_FD, F_SETFD, FD_CLOEXEC) < 0) {
    fputs("didactic-join: fd 4 (sync) must be open; this program is started by didactic-container\n", stderr);
    return ENGINE_ERROR;
  }
  explain_init();
  close_range(PLAN_FD + 3, ~0U, CLOSE_RANGE_CLOEXEC);
  const char *name = argc > 1 ? argv[1] : "exec";
  enum mode mode = strcmp(name, "exec") == 0 ? MODE_EXEC : strcmp(name, "exec-detach") == 0 ? MODE_DETACH
                   : strcmp(name, "tar-create") == 0 ? MODE_TAR_CREATE : strcmp(name, "tar-extract") == 0 ? MODE_TAR_EXTRACT : -1;
  if ((int)mode < 0) return errno = EINVAL, fail(&f, "plan", "unknown mode %s", name), report_failure(&f), ENGINE_ERROR;
  if (plan_read(PLAN_FD, &plan) < 0) return fail(&f, "plan", "read the join plan from fd 3"), report_failure(&f), ENGINE_ERROR;
  close(PLAN_FD);
  if (plan.clone_flags != 0 || strcmp(plan.rootfs, "/") != 0)
    return errno = EINVAL, fail(&f, "plan", "a join plan creates no namespaces and keeps the root"), report_failure(&f), ENGINE_ERROR;
  if (join_namespaces(&plan, &f) < 0) return report_failure(&f), ENGINE_ERROR;
  if (mode == MODE_EXEC || mode == MODE_DETACH) return run_exec(&plan, mode == MODE_DETACH, argc > 2 && strcmp(argv[2], "--tty") == 0, &f);

  /* cp: the kernel now resolves every path in the container's own tree, symlinks included. */
  signal(SIGPIPE, SIG_IGN);
  int result;
  if (mode == MODE_TAR_CREATE) {
    const char *path = arg(&plan, 0), *top = arg(&plan, 1);
    if (path == NULL || top == NULL) return errno = EINVAL, fail(&f, "plan", "tar-create needs a path and a name"), report_failure(&f), ENGINE_ERROR;
    explain("storage", "write %s as a tar stream, from inside the container's mount namespace\ttar -c %s", path, path);
    result = tar_create(STDOUT_FILENO, path, top, &f);
  } else {
    explain("storage", "unpack a tar stream into %s, from inside the container's mount namespace\ttar -x -C %s", plan.argv[0], plan.argv[0]);
    result = tar_extract(STDIN_FILENO, plan.argv[0], &f);
  }
  if (result < 0) return report_failure(&f), 1;
  return 0;
}
