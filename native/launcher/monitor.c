/*
 * The per-container monitor (see monitor.h): detach from the engine, start
 * the container, copy its output into the log, reap it, restart it when the
 * policy says so, and leave its exit status in the run dir.
 */
#include "console.h"
#include "json-log.h"
#include "monitor.h"
#include "monitor-files.h"
#include "steps.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#define MAX_DELAY_MS 60000L
#define RESET_AFTER_MS 10000L

static struct {
  int dir_fd, log_fd, null_fd, sig_fd;
  int stdin_fd;         /* /dev/null, or the FIFO DIR/stdin with --stdin fifo */
  int out[2], err[2];
  int cgroup_fds[MAX_CGROUP_FILES];
  pid_t child;          /* the container's first process; 0 while there is none */
  unsigned restarts;
  long delay_ms;        /* the last back-off, 0 before the first restart */
  long started_ms;      /* CLOCK_MONOTONIC of the current start */
  long restart_at_ms;   /* when to start again; -1 when no restart is due */
  int stop_requested;   /* SIGUSR1 or DIR/stop: never restart again */
  int done;
  int last_status, last_signal; /* of the run before a pending restart */
  sigset_t old_mask;
  /* --stdin tty (monitor.h): the terminal's master, the attach socket and its clients. */
  int master, listen_fd;
  unsigned rows, cols;  /* the last size a client asked for, kept across restarts */
  struct client {
    int fd;
    size_t len;
    unsigned char buf[3 + 4096];
  } clients[MAX_ATTACH];
} m = {.restart_at_ms = -1, .master = -1, .listen_fd = -1};

static const struct monitor_options *options;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_files(const struct monitor_options *opts, struct failure *f) {
  m.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (m.null_fd < 0) return fail(f, "monitor", "open /dev/null");
  if (m.null_fd < 3) m.null_fd = fcntl(m.null_fd, F_DUPFD_CLOEXEC, 3);
  for (int fd = 0; fd < 3; fd++) dup2(m.null_fd, fd);
  /* Hold fd 5 even without an explainer: it is overwritten with /dev/null once started. */
  if (fcntl(EXPLAIN_FD, F_GETFD) < 0) dup3(m.null_fd, EXPLAIN_FD, O_CLOEXEC);
  m.dir_fd = open(opts->run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (m.dir_fd < 0) return fail(f, "monitor", "open the run dir %s", opts->run_dir);
  m.stdin_fd = m.null_fd;
  if (opts->stdin_fifo) {
    /* Held open for reading and writing: the container never reads EOF, writers come and go. */
    explain("process", "keep the container's stdin open as a FIFO\tmkfifo(\"%s/stdin\", 0600)", opts->run_dir);
    if (mkfifoat(m.dir_fd, "stdin", 0600) < 0 && errno != EEXIST) return fail(f, "monitor", "mkfifo %s/stdin", opts->run_dir);
    m.stdin_fd = openat(m.dir_fd, "stdin", O_RDWR | O_CLOEXEC);
    if (m.stdin_fd < 0) return fail(f, "monitor", "open %s/stdin", opts->run_dir);
  }
  m.log_fd = open(opts->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (m.log_fd < 0) return fail(f, "monitor", "open the log %s", opts->log_path);
  for (size_t i = 0; i < opts->cgroup_count; i++) {
    m.cgroup_fds[i] = open(opts->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (m.cgroup_fds[i] < 0) return fail(f, "monitor", "open %s", opts->cgroup_procs[i]);
  }
  for (int i = 0; i < MAX_ATTACH; i++) m.clients[i].fd = -1;
  if (opts->tty) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "%s/attach", opts->run_dir) >= sizeof addr.sun_path)
      return errno = ENAMETOOLONG, fail(f, "monitor", "attach socket %s/attach", opts->run_dir);
    unlinkat(m.dir_fd, "attach", 0);
    m.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (m.listen_fd < 0 || bind(m.listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(m.listen_fd, MAX_ATTACH) < 0)
      return fail(f, "monitor", "listen on %s", addr.sun_path);
    explain("process", "serve the container's terminal to attach clients\tbind(\"%s\"), listen()", addr.sun_path);
  }
  if (pipe2(m.out, O_CLOEXEC) < 0 || pipe2(m.err, O_CLOEXEC) < 0) return fail(f, "monitor", "pipe for the container's output");
  /* Only our ends: the container's writes must block as usual when we fall behind. */
  fcntl(m.out[0], F_SETFL, O_NONBLOCK), fcntl(m.err[0], F_SETFL, O_NONBLOCK);
  log_init(m.log_fd);
  return 0;
}

int monitor_detach(const struct monitor_options *opts, struct failure *f) {
  options = opts;
  if (open_files(opts, f) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return fail(f, "monitor", "fork");
  if (pid > 0) _exit(0); /* the engine's child ends now; the monitor is nobody's child but init's */
  explain("process", "detach the container's monitor from the engine\tfork() = %d, setsid()", (int)getpid());
  if (setsid() < 0) return fail(f, "monitor", "setsid");
  explain("process", "orphans below the monitor are reparented to it\tprctl(PR_SET_CHILD_SUBREAPER, 1)");
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return fail(f, "monitor", "PR_SET_CHILD_SUBREAPER");
  char text[32];
  snprintf(text, sizeof text, "%d\n", (int)getpid());
  if (write_atomic(m.dir_fd, "monitor.pid", text) < 0) return fail(f, "monitor", "write monitor.pid in %s", opts->run_dir);
  return write_number_line(SYNC_FD, "MONITOR ", (long)getpid());
}

/* In the clone: stdio from the monitor, die with it, then the launcher's usual steps. */
static void become_container(const struct launch_plan *plan, int sync) __attribute__((noreturn));
static void become_container(const struct launch_plan *plan, int sync) {
  if (dup3(sync, SYNC_FD, O_CLOEXEC) < 0) _exit(125);
  dup2(m.stdin_fd, 0), dup2(m.out[1], 1), dup2(m.err[1], 2);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, &m.old_mask, NULL);
  run_child(plan);
}

static void write_started(void) {
  char text[160], time[48];
  format_time_now(time, sizeof time);
  snprintf(text, sizeof text, "{\"pid\":%d,\"startedAt\":\"%s\",\"restartCount\":%u}\n", (int)m.child, time, m.restarts);
  write_atomic(m.dir_fd, "started", text);
}

/* Starts the container's first process once more; on the first start the engine is asked for GO. */
static int start_container(const struct launch_plan *plan, int first) {
  char names[256], line[600];
  struct failure f = {0, NULL, ""};
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return first ? fail(&f, "monitor", "socketpair"), report_failure(&f), -1 : -1;
  int cs[2] = {-1, -1};
  if (options->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) < 0) {
    close(sv[0]), close(sv[1]);
    return first ? fail(&f, "pty", "socketpair for the terminal"), report_failure(&f), -1 : -1;
  }
  uint64_t flags = plan->clone_flags & ~(uint64_t)CLONE_NEWCGROUP;
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid == 0) {
    close(sv[0]);
    if (cs[0] >= 0) close(cs[0]), console_socket = cs[1];
    become_container(plan, sv[1]);
  }
  int saved = errno;
  close(sv[1]);
  if (cs[1] >= 0) close(cs[1]);
  if (pid < 0) {
    if (cs[0] >= 0) close(cs[0]);
    close(sv[0]), errno = saved;
    if (first) fail(&f, "clone", "%s", clone_flag_names(flags, names, sizeof names)), report_failure(&f);
    return -1;
  }
  explain("namespace", "start the container's first process in new namespaces\tclone(%s|SIGCHLD) = %d", clone_flag_names(flags, names, sizeof names), (int)pid);
  m.child = pid;
  m.started_ms = now_ms();
  const char *go = "GO\n";
  if (first) {
    write_number_line(SYNC_FD, "PID ", (long)pid);
    if (read_line(SYNC_FD, line, sizeof line) != 3 || strcmp(line, "GO\n") != 0) go = "NO\n"; /* the engine is gone or gave up */
  } else {
    snprintf(line, sizeof line, "%d", (int)pid);
    for (size_t i = 0; i < options->cgroup_count; i++)
      if (write(m.cgroup_fds[i], line, strlen(line)) < 0) go = "NO\n";
  }
  write_all(sv[0], go, 3);
  drain_line(sv[0], line, sizeof line); /* EOF: execve closed the child's end; or ERR first */
  close(sv[0]);
  if (cs[0] >= 0) {
    /* The child has exec'd or died by now: its end is closed, so this does not block. */
    int master = console_receive(cs[0]);
    close(cs[0]);
    if (m.master >= 0) close(m.master);
    m.master = master;
    if (master >= 0) {
      fcntl(master, F_SETFL, O_NONBLOCK);
      if (m.rows > 0 && m.cols > 0) pty_set_size(master, m.rows, m.cols);
    }
  }
  if (!first) return write_started(), 0;
  if (line[0] != '\0' && go[0] == 'G') write_all(SYNC_FD, line, strlen(line));
  if (line[0] != '\0' || go[0] != 'G') {
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    unlinkat(m.dir_fd, "monitor.pid", 0);
    return -1;
  }
  write_started();
  /* The engine reads EOF: the command runs. From here on nothing depends on it. */
  dup3(m.null_fd, SYNC_FD, O_CLOEXEC), dup3(m.null_fd, EXPLAIN_FD, O_CLOEXEC);
  return 0;
}

static void copy_output(int fd, enum log_stream stream) {
  char buf[4096];
  for (;;) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got > 0) log_take(stream, buf, (size_t)got);
    else if (got < 0 && errno == EINTR) continue;
    else return;
  }
}

static void drop_client(struct client *c) {
  close(c->fd);
  c->fd = -1, c->len = 0;
}

/* The terminal's output: into the log as stdout and to every attached client. */
static void copy_terminal(void) {
  char buf[4096];
  for (int rounds = 0; m.master >= 0 && rounds < 64; rounds++) {
    ssize_t got = read(m.master, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got == 0 || errno != EAGAIN) close(m.master), m.master = -1; /* EIO: no slave left */
      return;
    }
    log_take(LOG_STDOUT, buf, (size_t)got);
    for (int i = 0; i < MAX_ATTACH; i++) {
      struct client *c = &m.clients[i];
      if (c->fd >= 0 && send(c->fd, buf, (size_t)got, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != EINTR) drop_client(c);
    }
  }
}

static void accept_client(void) {
  int fd = accept4(m.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return;
  for (int i = 0; i < MAX_ATTACH; i++)
    if (m.clients[i].fd < 0) {
      m.clients[i].fd = fd, m.clients[i].len = 0;
      return;
    }
  close(fd); /* full */
}

/* Reads a client's frames: input goes to the terminal, 'w' sets its size. */
static void read_client(struct client *c) {
  ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (got <= 0) return drop_client(c);
  c->len += (size_t)got;
  for (;;) {
    if (c->len < 3) return;
    size_t length = ((size_t)c->buf[1] << 8) | c->buf[2];
    if (length > sizeof c->buf - 3) return drop_client(c);
    if (c->len < 3 + length) return;
    const unsigned char *payload = c->buf + 3;
    if (c->buf[0] == 'i' && m.master >= 0) {
      write_all(m.master, (const char *)payload, length);
    } else if (c->buf[0] == 'w' && length == 4) {
      m.rows = ((unsigned)payload[0] << 8) | payload[1], m.cols = ((unsigned)payload[2] << 8) | payload[3];
      if (m.master >= 0) pty_set_size(m.master, m.rows, m.cols);
    }
    memmove(c->buf, c->buf + 3 + length, c->len - 3 - length);
    c->len -= 3 + length;
  }
}

static void finish(int status, int sig) {
  char text[200], time[48];
  format_time_now(time, sizeof time);
  char signame[16] = "null";
  if (sig > 0) snprintf(signame, sizeof signame, "%d", sig);
  snprintf(text, sizeof text, "{\"status\":%d,\"signal\":%s,\"finishedAt\":\"%s\",\"oomKilled\":false,\"restartCount\":%u}\n", status,
           signame, time, m.restarts);
  write_atomic(m.dir_fd, "exit", text);
  m.done = 1;
}

static int stop_requested(void) {
  return m.stop_requested || faccessat(m.dir_fd, "stop", F_OK, 0) == 0;
}

static void container_ended(int wait_status) {
  copy_output(m.out[0], LOG_STDOUT), copy_output(m.err[0], LOG_STDERR);
  copy_terminal();
  log_flush_partial();
  m.child = 0;
  /* Attached clients see the end of the container as the end of their connection. */
  if (m.master >= 0) close(m.master), m.master = -1;
  for (int i = 0; i < MAX_ATTACH; i++)
    if (m.clients[i].fd >= 0) drop_client(&m.clients[i]);
  int sig = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
  int status = sig > 0 ? 128 + sig : WEXITSTATUS(wait_status);
  long ran = now_ms() - m.started_ms;
  int again = options->restart_always || (options->restart_failure && status != 0 &&
                                          (options->max_restarts == 0 || m.restarts < options->max_restarts));
  if (!again || stop_requested()) return finish(status, sig);
  m.delay_ms = ran >= RESET_AFTER_MS || m.delay_ms == 0 ? 100 : m.delay_ms * 2;
  if (m.delay_ms > MAX_DELAY_MS) m.delay_ms = MAX_DELAY_MS;
  m.restart_at_ms = now_ms() + m.delay_ms;
  m.last_status = status, m.last_signal = sig;
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
    if (pid == m.child) container_ended(status);
}

static void take_signals(void) {
  struct signalfd_siginfo info;
  while (read(m.sig_fd, &info, sizeof info) == (ssize_t)sizeof info) {
    int sig = (int)info.ssi_signo;
    if (sig == SIGCHLD) reap();
    else if (sig == SIGUSR1) m.stop_requested = 1;
    else if (sig != SIGHUP && m.child > 0) kill(m.child, sig);
  }
}

int monitor_run(const struct launch_plan *plan, const struct monitor_options *opts) {
  static const int HANDLED[] = {SIGCHLD, SIGUSR1, SIGTERM, SIGINT, SIGQUIT, SIGUSR2, SIGHUP};
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof HANDLED / sizeof HANDLED[0]; i++) sigaddset(&set, HANDLED[i]);
  sigprocmask(SIG_BLOCK, &set, &m.old_mask);
  signal(SIGPIPE, SIG_IGN);
  m.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (m.sig_fd < 0) {
    struct failure f = {0, NULL, ""};
    fail(&f, "monitor", "signalfd"), report_failure(&f);
    return 125;
  }
  options = opts;
  if (start_container(plan, 1) < 0) return 125;
  while (!m.done) {
    struct pollfd fds[5 + MAX_ATTACH] = {{m.sig_fd, POLLIN, 0}, {m.out[0], POLLIN, 0}, {m.err[0], POLLIN, 0},
                                         {m.master, POLLIN, 0}, {m.listen_fd, POLLIN, 0}};
    for (int i = 0; i < MAX_ATTACH; i++) fds[5 + i] = (struct pollfd){m.clients[i].fd, POLLIN, 0};
    int timeout = -1;
    if (m.restart_at_ms >= 0) timeout = m.restart_at_ms > now_ms() ? (int)(m.restart_at_ms - now_ms()) : 0;
    if (poll(fds, 5 + MAX_ATTACH, timeout) < 0 && errno != EINTR) return 125;
    if (fds[1].revents) copy_output(m.out[0], LOG_STDOUT);
    if (fds[2].revents) copy_output(m.err[0], LOG_STDERR);
    if (fds[3].revents && fds[3].fd == m.master) copy_terminal();
    if (fds[4].revents) accept_client();
    for (int i = 0; i < MAX_ATTACH; i++)
      if (fds[5 + i].revents && m.clients[i].fd == fds[5 + i].fd) read_client(&m.clients[i]);
    if (fds[0].revents) take_signals();
    if (m.restart_at_ms < 0 || m.child > 0) continue;
    if (stop_requested()) {
      finish(m.last_status, m.last_signal);
    } else if (now_ms() >= m.restart_at_ms) {
      m.restart_at_ms = -1;
      m.restarts++;
      explain("process", "restart the container (restart %u)\tclone()", m.restarts);
      if (start_container(plan, 0) < 0) finish(m.last_status, m.last_signal);
    }
  }
  if (m.listen_fd >= 0) unlinkat(m.dir_fd, "attach", 0);
  return 0;
}
