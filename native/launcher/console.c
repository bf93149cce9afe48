/* Pseudo-terminals: made inside the container's devpts, relayed in the foreground (see console.h). */
#include "console.h"
#include "wait.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int console_socket = -1;

int pty_open(int *master, int *slave, struct failure *f) {
  char name[64];
  *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*master < 0) return fail(f, "pty", "open /dev/ptmx");
  if (grantpt(*master) < 0 || unlockpt(*master) < 0 || ptsname_r(*master, name, sizeof name) != 0) {
    int saved = errno;
    close(*master);
    return errno = saved, fail(f, "pty", "unlock the terminal of /dev/ptmx");
  }
  *slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*slave < 0) {
    int saved = errno;
    close(*master);
    return errno = saved, fail(f, "pty", "open %s", name);
  }
  explain("process", "allocate a pseudo-terminal in the container's devpts\topen(\"/dev/ptmx\"), unlockpt, open(\"%s\")", name);
  return 0;
}

int pty_take_slave(int slave, uid_t uid, struct failure *f) {
  if (fchown(slave, uid, (gid_t)-1) < 0) return fail(f, "pty", "chown the terminal to %u", (unsigned)uid);
  if (setsid() < 0) return fail(f, "pty", "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0) return fail(f, "pty", "make the terminal the controlling one (TIOCSCTTY)");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) return fail(f, "pty", "dup2 the terminal onto fd %d", fd);
  if (slave > 2) close(slave);
  explain("process", "the terminal becomes the process's controlling terminal and stdio\tsetsid(), ioctl(TIOCSCTTY), dup2(pts, 0/1/2)");
  return 0;
}

static int send_fd(int sock, int fd) {
  char byte = 'M';
  struct iovec iov = {&byte, 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET, cmsg->cmsg_type = SCM_RIGHTS, cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  for (;;) {
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) == 1) return 0;
    if (errno != EINTR) return -1;
  }
}

int console_receive(int sock) {
  char byte;
  struct iovec iov = {&byte, 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  ssize_t got;
  while ((got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  if (got != 1) return -1;
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int))) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  return fd;
}

/* Binds the terminal onto /dev/console, as Docker does; a container without one keeps going. */
static void bind_console(int slave) {
  char source[64];
  snprintf(source, sizeof source, "/proc/self/fd/%d", slave);
  int fd = open("/dev/console", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
  if (fd >= 0 && mount(source, "/dev/console", NULL, MS_BIND, NULL) == 0)
    explain("mount", "the terminal is also the container's /dev/console\tmount(\"%s\", \"/dev/console\", MS_BIND)", source);
}

int console_setup(const struct launch_plan *plan, struct failure *f) {
  int master, slave;
  if (pty_open(&master, &slave, f) < 0) return -1;
  bind_console(slave);
  if (pty_take_slave(slave, plan->uid, f) < 0) return close(master), -1;
  if (send_fd(console_socket, master) < 0) return close(master), fail(f, "pty", "send the terminal's master to the launcher");
  close(master), close(console_socket);
  console_socket = -1;
  return 0;
}

void pty_set_size(int fd, unsigned rows, unsigned cols) {
  struct winsize size = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  ioctl(fd, TIOCSWINSZ, &size);
}

/* The size of our own terminal (fd 0, else fd 1) onto the container's. */
static void copy_size(int master) {
  struct winsize size;
  if (ioctl(0, TIOCGWINSZ, &size) == 0 || ioctl(1, TIOCGWINSZ, &size) == 0) ioctl(master, TIOCSWINSZ, &size);
}

/* One read from the master to fd 1; -1 once the terminal has no slave left (EIO) or on EOF. */
static int copy_out(int master) {
  char buf[4096];
  ssize_t got = read(master, buf, sizeof buf);
  if (got > 0) return write_all(1, buf, (size_t)got), 0;
  if (got < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  return -1;
}

int pty_relay(int master, pid_t child) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD), sigaddset(&set, SIGWINCH);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  copy_size(master);
  int in_open = 1, master_open = 1;
  for (;;) {
    siginfo_t info;
    info.si_pid = 0;
    /* WNOWAIT: wait_exit_status below reaps it and says how it ended. */
    if (waitid(P_PID, (id_t)child, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == child) break;
    if (waitid(P_PID, (id_t)child, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD) break;
    struct pollfd fds[3] = {{sig_fd, POLLIN, 0}, {master_open ? master : -1, POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0}};
    if (poll(fds, 3, sig_fd < 0 ? 100 : -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) {
      struct signalfd_siginfo si;
      while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
        if (si.ssi_signo == SIGWINCH) copy_size(master);
    }
    if (fds[1].revents && copy_out(master) < 0) master_open = 0;
    if (fds[2].revents) {
      char buf[4096];
      ssize_t got = read(0, buf, sizeof buf);
      if (got > 0) write_all(master, buf, (size_t)got);
      else if (got == 0 || errno != EINTR) in_open = 0; /* no EOF to the terminal: Docker does not send one either */
    }
  }
  /* What the process wrote just before it ended. */
  fcntl(master, F_SETFL, O_NONBLOCK);
  if (master_open)
    for (int i = 0; i < 1024; i++) {
      char buf[4096];
      ssize_t got = read(master, buf, sizeof buf);
      if (got <= 0) break;
      write_all(1, buf, (size_t)got);
    }
  if (sig_fd >= 0) close(sig_fd);
  int status = wait_exit_status(child);
  close(master);
  return status < 0 ? 125 : status;
}
