/*
 * didactic-launcher: starts one container from a launch plan.
 *
 *   fd 3  the plan (see plan.h), read until EOF
 *   fd 4  the sync channel with the engine (see report.h)
 *   fd 5  explain lines, optional
 *   0-2   the container's stdio
 *
 * The launcher joins the namespaces given by path, clones the container's
 * first process into new ones, reports its pid, and then only forwards
 * signals to it and waits: the launcher exits with the container's status.
 *
 * With --tty as its only argument the container's first process gets a
 * pseudo-terminal (console.h) and the launcher relays between it and its own
 * fd 0 and 1 instead of passing its stdio on.
 *
 * With --detach (monitor.h) the launcher forks a monitor that outlives the
 * engine, owns the container's stdio and restarts it; the launcher exits at once.
 */
#include "console.h"
#include "monitor.h"
#include "steps.h"
#include "wait.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PLAN_FD 3
#define ENGINE_ERROR 125

static int join_namespaces(const struct launch_plan *plan, struct failure *f) {
  char names[64];
  for (size_t i = 0; i < plan->count; i++) {
    if (plan->records[i].tag != TAG_JOIN_NS) continue;
    struct cursor c = plan_cursor(&plan->records[i]);
    uint64_t type;
    const char *path;
    take_u64(&c, &type), take_str(&c, &path);
    explain("namespace", "join the namespace at %s\tsetns(open(\"%s\"), %s)", path, path, clone_flag_names(type, names, sizeof names));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, (int)type) < 0) {
      fail(f, "setns", "%s", path);
      if (fd >= 0) close(fd);
      return -1;
    }
    close(fd);
  }
  return 0;
}

int main(int argc, char **argv) {
  struct launch_plan plan;
  struct failure f = {0, NULL, ""};
  char line[64], names[256];
  if (fcntl(SYNC_FD, F_SETFD, FD_CLOEXEC) < 0) {
    fputs("didactic-launcher: fd 4 (sync) must be open; this program is started by didactic-container\n", stderr);
    return ENGINE_ERROR;
  }
  explain_init();
  /* Nothing the engine did not mean to pass may reach the container. */
  close_range(PLAN_FD + 3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (plan_read(PLAN_FD, &plan) < 0) return fail(&f, "plan", "read the launch plan from fd 3"), report_failure(&f), ENGINE_ERROR;
  close(PLAN_FD);
  struct monitor_options monitor;
  int detached = argc > 1 && strcmp(argv[1], "--detach") == 0;
  if (detached && (monitor_parse(argc, argv, &monitor, &f) < 0 || monitor_detach(&monitor, &f) < 0))
    return report_failure(&f), ENGINE_ERROR;
  if (join_namespaces(&plan, &f) < 0) return report_failure(&f), ENGINE_ERROR;
  if (detached) return monitor_run(&plan, &monitor);

  int tty = argc > 1 && strcmp(argv[1], "--tty") == 0, console[2] = {-1, -1};
  if (tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0)
    return fail(&f, "pty", "socketpair for the terminal"), report_failure(&f), ENGINE_ERROR;
  sigset_t old;
  block_forwarded_signals(&old);
  /* CLONE_NEWCGROUP waits until the engine has moved the child into its cgroup (child.c). */
  uint64_t flags = plan.clone_flags & ~(uint64_t)CLONE_NEWCGROUP;
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) return fail(&f, "clone", "%s", clone_flag_names(flags, names, sizeof names)), report_failure(&f), ENGINE_ERROR;
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (tty) close(console[0]), console_socket = console[1];
    run_child(&plan);
  }
  explain("namespace", "start the container's first process in new namespaces\tclone(%s|SIGCHLD) = %d",
          clone_flag_names(flags, names, sizeof names), (int)pid);
  int len = snprintf(line, sizeof line, "PID %d\n", (int)pid);
  write_all(SYNC_FD, line, (size_t)len);
  close(SYNC_FD); /* the child holds the other copy: EOF at the engine means it exec'd or died */
  forward_signals_to(pid, &old);
  if (tty) {
    close(console[1]);
    int master = console_receive(console[0]); /* -1: the child ended before it had a terminal */
    close(console[0]);
    if (master >= 0) return pty_relay(master, pid);
  }
  int status = wait_exit_status(pid);
  return status < 0 ? ENGINE_ERROR : status;
}
