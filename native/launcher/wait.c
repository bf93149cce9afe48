/* Signal forwarding and the exit status of the container's first process (see wait.h). */
#include "wait.h"
#include "report.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>

static const int FORWARDED[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define FORWARDED_COUNT (sizeof FORWARDED / sizeof FORWARDED[0])

static volatile sig_atomic_t forward_to = 0;

static void forward(int sig) {
  int saved = errno;
  if (forward_to > 0) kill((pid_t)forward_to, sig);
  errno = saved;
}

void block_forwarded_signals(sigset_t *old) {
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaddset(&set, FORWARDED[i]);
  sigprocmask(SIG_BLOCK, &set, old);
}

void forward_signals_to(pid_t child, const sigset_t *old) {
  forward_to = child;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = forward;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(FORWARDED[i], &action, NULL);
  /* The engine may go away while the container runs; a write to it must not kill us. */
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_SETMASK, old, NULL);
}

int wait_exit_status(pid_t child) {
  int status = 0;
  for (;;) {
    pid_t got = waitpid(child, &status, 0);
    if (got == child) break;
    if (got < 0 && errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) {
    explain("process", "the container's first process exited with status %d\twaitpid(%d) = exited(%d)", WEXITSTATUS(status),
            (int)child, WEXITSTATUS(status));
    return WEXITSTATUS(status);
  }
  int sig = WTERMSIG(status);
  explain("process", "the container's first process was killed by signal %d (%s)\twaitpid(%d) = signaled(%d)", sig,
          sigabbrev_np(sig) != NULL ? sigabbrev_np(sig) : "?", (int)child, sig);
  return 128 + sig;
}
