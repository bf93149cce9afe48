/*
 * The parent's side of a running container: forward the signals the launcher
 * receives to the container's first process, wait for it, and turn its end
 * into an exit status. Kept apart so a detached "monitor" mode can reuse it.
 */
#ifndef DIDACTIC_LAUNCHER_WAIT_H
#define DIDACTIC_LAUNCHER_WAIT_H

#include <signal.h>
#include <sys/types.h>

/* Blocks the signals that get forwarded, saving the previous mask in old. */
void block_forwarded_signals(sigset_t *old);

/* Forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to child from now on, then restores old. */
void forward_signals_to(pid_t child, const sigset_t *old);

/* Waits for child to end; its exit code, or 128 + the signal that killed it, or -1 on error. */
int wait_exit_status(pid_t child);

#endif
