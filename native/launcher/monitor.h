/*
 * Detached mode: `didactic-launcher --detach --run-dir DIR --log FILE
 * [--restart POLICY] [--stdin null|fifo|tty] [--cgroup-procs FILE]...` starts the container like the
 * foreground launcher (plan on fd 3, sync on fd 4, explain on fd 5) and then
 * stays as its monitor, outliving the engine process that started it.
 *
 * The launcher forks; the fork calls setsid, becomes a child subreaper and is
 * the container's parent from then on, and the launcher itself exits at once.
 * On the sync channel the engine reads "MONITOR <pid>\n", then "PID <pid>\n",
 * answers "GO\n" once the pid is in its cgroup, and then reads EOF (the
 * command runs) or "ERR ..." followed by EOF (the monitor has cleaned up and
 * exited). EOF instead of GO (the engine died) kills the container's process.
 *
 * The monitor owns the container's stdio: stdin is /dev/null, or with
 * --stdin fifo the FIFO DIR/stdin, which the monitor holds open so the
 * container never reads EOF and anyone may write to it; stdout and
 * stderr are pipes it copies into FILE in Docker's json-file format. Files in
 * DIR: "monitor.pid"; "started" on every start, {"pid","startedAt",
 * "restartCount"}; "exit" once the container is gone for good, {"status",
 * "signal","finishedAt","oomKilled","restartCount"}, written tmp + fsync + rename.
 *
 * With --stdin tty the container's first process gets a pseudo-terminal
 * (console.h) whose master the monitor holds: what comes out is logged as
 * stdout, and the monitor listens on the unix socket DIR/attach (removed when
 * it exits). Any number of clients (up to MAX_ATTACH) may connect; each gets
 * the terminal's output from then on as raw bytes, and sends frames:
 *
 *   frame = u8 type, u16 length (big-endian), payload[length]   (length <= 4096)
 *   'i'   input bytes for the terminal
 *   'w'   window size: u16 rows, u16 cols (big-endian) -> TIOCSWINSZ
 *
 * A client detaches by closing its connection; the container goes on. When
 * the container's process ends the monitor closes every connection (the
 * exit status is in DIR/exit). A client that cannot keep up loses output
 * rather than stalling the container.
 *
 * Signals to the monitor: SIGUSR1 (or a file DIR/stop) means "stopping, do not
 * restart"; SIGTERM, SIGINT, SIGQUIT and SIGUSR2 are forwarded to the
 * container; SIGHUP and SIGPIPE are ignored. The container's first process
 * gets SIGKILL if the monitor dies (PR_SET_PDEATHSIG).
 *
 * POLICY: no (default), always, unless-stopped, on-failure or on-failure:N.
 * Restarts wait 100 ms, doubling each time up to a minute, back to 100 ms after
 * a run of 10 s or more; each restart writes the new pid into every
 * --cgroup-procs file before the process goes on.
 */
#ifndef DIDACTIC_LAUNCHER_MONITOR_H
#define DIDACTIC_LAUNCHER_MONITOR_H

#include "plan.h"
#include "report.h"

#define MAX_CGROUP_FILES 16
#define MAX_ATTACH 8

struct monitor_options {
  const char *run_dir;
  const char *log_path;
  int stdin_fifo;       /* --stdin fifo */
  int tty;              /* --stdin tty: a pseudo-terminal and DIR/attach */
  int restart_always;   /* always or unless-stopped */
  int restart_failure;  /* on-failure */
  unsigned max_restarts; /* on-failure:N, 0 = no limit */
  const char *cgroup_procs[MAX_CGROUP_FILES];
  size_t cgroup_count;
};

/* Parses argv (after "--detach"); -1 with the failure in f on a bad option. */
int monitor_parse(int argc, char **argv, struct monitor_options *opts, struct failure *f);

/* Forks the monitor off (the launcher exits in the parent), opens its files and reports MONITOR. */
int monitor_detach(const struct monitor_options *opts, struct failure *f);

/* Runs the container from the plan and watches it until it is gone for good; returns the exit code. */
int monitor_run(const struct launch_plan *plan, const struct monitor_options *opts);

#endif
