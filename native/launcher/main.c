/*
 * didactic-launcher: starts one container from a launch plan.
 *
 *   fd 3  the plan (see plan.h), read until EOF
 *   fd 4  the sync channel with the engine (see report.h)
 *   fd 5  explain lines, optional
 *   0-2   the container's stdio
 *
 * In the foreground ([--tty] [--new-netns] [--join-cgroup FILE]...) a helper
 * it forks makes the network namespace (--new-netns), joins the container's
 * cgroups, reads the plan, joins the namespaces given by path and clones the
 * container's first process into new ones as the launcher's child, then
 * exits (run_helper below). The launcher reports the pid, and then only
 * forwards signals to it and waits: it exits with the container's status.
 *
 * With --tty the container's first process gets a pseudo-terminal
 * (console.h) and the launcher relays between it and its own fd 0 and 1
 * instead of passing its stdio on.
 *
 * With --detach (monitor.h) the launcher forks a monitor that outlives the
 * engine, owns the container's stdio and restarts it; the launcher exits at once.
 */
#include "console.h"
#include "monitor.h"
#include "steps.h"
#include "wait.h"
#include "../common/cleanup.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <errno.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

/* The foreground launcher's arguments: [--tty] [--new-netns] [--join-cgroup FILE]... */
struct foreground_options {
  int tty;
  int new_netns;
  const char *join_cgroup[MAX_CGROUP_FILES];
  size_t join_count;
};

static int parse_foreground(int argc, char **argv, struct foreground_options *opts, struct failure *f) {
  memset(opts, 0, sizeof *opts);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--tty") == 0) {
      opts->tty = 1;
    } else if (strcmp(argv[i], "--new-netns") == 0) {
      opts->new_netns = 1;
    } else if (strcmp(argv[i], "--join-cgroup") == 0 && i + 1 < argc) {
      if (opts->join_count == MAX_CGROUP_FILES) return errno = E2BIG, fail(f, "arguments", "too many --join-cgroup");
      opts->join_cgroup[opts->join_count++] = argv[++i];
    } else {
      return errno = EINVAL, fail(f, "arguments", "unknown argument %s", argv[i]);
    }
  }
  return 0;
}

/* Writes 0 (the writer itself) into each cgroup.procs file: this process joins those groups. */
static int join_cgroups(const struct foreground_options *opts, struct failure *f) {
  for (size_t i = 0; i < opts->join_count; i++) {
    explain("cgroup", "move the launcher's helper into the container's group, so that the container's first process is born in it\twrite %s = 0 (itself, pid %d)",
            opts->join_cgroup[i], (int)getpid());
    CLEANUP_FD int fd = open(opts->join_cgroup[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) return fail(f, "cgroup", "join %s", opts->join_cgroup[i]);
  }
  return 0;
}

/*
 * The helper: a child of the launcher that joins the container's cgroups (if
 * asked), reads the plan, joins the namespaces given by path and clones the
 * container's first process as the launcher's child (CLONE_PARENT), then
 * sends its pid up the pipe and exits. The first process so starts inside
 * its cgroups without anyone moving it, and the launcher itself stays out.
 *
 * Why a helper: the first write into a cgroup.procs file of a burst waits
 * for an RCU grace period (10-20 ms here). Started before the engine has
 * finished planning, the helper's wait overlaps that work instead of
 * delaying the container; and leaving a group costs the same again, which
 * a helper that just exits never pays.
 */
static void run_helper(const struct foreground_options *opts, const int console[2], const sigset_t *old, int report) __attribute__((noreturn));
static void run_helper(const struct foreground_options *opts, const int console[2], const sigset_t *old, int report) {
  struct launch_plan plan;
  struct failure f = {0, NULL, ""};
  char names[256];
  if (opts->new_netns) {
    /*
     * The network namespace first, and its holder's pid to the engine at
     * once: the network plugins can attach it while the engine still plans
     * (and this helper waits for its cgroups), instead of after the clone.
     */
    explain("namespace", "make the container's network namespace now, so that its network is attached while the rest is planned\tunshare(CLONE_NEWNET)");
    if (unshare(CLONE_NEWNET) < 0) fail(&f, "unshare", "CLONE_NEWNET"), report_failure(&f), _exit(ENGINE_ERROR);
    char line[32];
    int len = snprintf(line, sizeof line, "NET %d\n", (int)getpid());
    if (write_all(SYNC_FD, line, (size_t)len) < 0) _exit(ENGINE_ERROR);
  }
  if (join_cgroups(opts, &f) < 0) report_failure(&f), _exit(ENGINE_ERROR);
  if (plan_read(PLAN_FD, &plan) < 0) fail(&f, "plan", "read the launch plan from fd 3"), report_failure(&f), _exit(ENGINE_ERROR);
  close(PLAN_FD);
  if (opts->new_netns && !(plan.clone_flags & CLONE_NEWNET))
    errno = EINVAL, fail(&f, "plan", "a network namespace was made for a plan without one"), report_failure(&f), _exit(ENGINE_ERROR);
  if (join_namespaces(&plan, &f) < 0) report_failure(&f), _exit(ENGINE_ERROR);
  /* CLONE_NEWCGROUP waits until the process is in its cgroup and the engine says GO (child.c);
   * with --new-netns the helper is already in the container's network namespace, and the clone inherits it. */
  uint64_t flags = plan.clone_flags & ~(uint64_t)CLONE_NEWCGROUP & ~(uint64_t)(opts->new_netns ? CLONE_NEWNET : 0);
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(flags | CLONE_PARENT) | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) fail(&f, "clone", "%s", clone_flag_names(flags, names, sizeof names)), report_failure(&f), _exit(ENGINE_ERROR);
  if (pid == 0) {
    close(report);
    sigprocmask(SIG_SETMASK, old, NULL);
    if (console[0] >= 0) close(console[0]), console_socket = console[1];
    run_child(&plan);
  }
  explain("namespace", "start the container's first process in new namespaces, as the launcher's child\tclone(%s|CLONE_PARENT|SIGCHLD) = %d",
          clone_flag_names(flags, names, sizeof names), (int)pid);
  _exit(write_all(report, (const char *)&pid, sizeof pid) < 0 ? ENGINE_ERROR : 0);
}

/* Starts the helper and returns the pid of the container's first process, or -1 (the helper has reported why). */
static pid_t start_through_helper(const struct foreground_options *opts, const int console[2], const sigset_t *old, struct failure *f) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) return fail(f, "pipe", "for the helper"), -1;
  pid_t helper = fork();
  if (helper < 0) return close(report[0]), close(report[1]), fail(f, "fork", "the helper"), -1;
  if (helper == 0) close(report[0]), run_helper(opts, console, old, report[1]);
  close(report[1]);
  close(PLAN_FD); /* the helper reads it */
  pid_t pid = -1;
  ssize_t got;
  while ((got = read(report[0], &pid, sizeof pid)) < 0 && errno == EINTR) {}
  close(report[0]);
  while (waitpid(helper, NULL, 0) < 0 && errno == EINTR) {}
  /* Only now may the engine say GO: the helper has left the groups, so the first process counts alone in pids.max. */
  return got == (ssize_t)sizeof pid ? pid : -1;
}

int main(int argc, char **argv) {
  struct failure f = {0, NULL, ""};
  char line[64];
  if (fcntl(SYNC_FD, F_SETFD, FD_CLOEXEC) < 0) {
    fputs("didactic-launcher: fd 4 (sync) must be open; this program is started by didactic-container\n", stderr);
    return ENGINE_ERROR;
  }
  explain_init();
  /* Nothing the engine did not mean to pass may reach the container. */
  close_range(PLAN_FD + 3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (argc > 1 && strcmp(argv[1], "--detach") == 0) {
    struct launch_plan plan;
    struct monitor_options monitor;
    if (plan_read(PLAN_FD, &plan) < 0) return fail(&f, "plan", "read the launch plan from fd 3"), report_failure(&f), ENGINE_ERROR;
    close(PLAN_FD);
    if (monitor_parse(argc, argv, &monitor, &f) < 0 || monitor_detach(&monitor, &f) < 0) return report_failure(&f), ENGINE_ERROR;
    if (join_namespaces(&plan, &f) < 0) return report_failure(&f), ENGINE_ERROR;
    return monitor_run(&plan, &monitor);
  }

  struct foreground_options opts;
  if (parse_foreground(argc, argv, &opts, &f) < 0) return report_failure(&f), ENGINE_ERROR;
  int console[2] = {-1, -1};
  if (opts.tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0)
    return fail(&f, "pty", "socketpair for the terminal"), report_failure(&f), ENGINE_ERROR;
  sigset_t old;
  block_forwarded_signals(&old);
  pid_t pid = start_through_helper(&opts, console, &old, &f);
  if (pid < 0) {
    if (f.step != NULL) report_failure(&f);
    return ENGINE_ERROR;
  }
  int len = snprintf(line, sizeof line, "PID %d\n", (int)pid);
  write_all(SYNC_FD, line, (size_t)len);
  close(SYNC_FD); /* the child holds the other copy: EOF at the engine means it exec'd or died */
  forward_signals_to(pid, &old);
  if (opts.tty) {
    close(console[1]);
    int master = console_receive(console[0]); /* -1: the child ended before it had a terminal */
    close(console[0]);
    if (master >= 0) return pty_relay(master, pid);
  }
  int status = wait_exit_status(pid);
  return status < 0 ? ENGINE_ERROR : status;
}
