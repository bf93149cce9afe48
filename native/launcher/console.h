/*
 * Pseudo-terminals for containers (`run -t`, `exec -t`).
 *
 * Where the pair is made: inside the container's own devpts instance (its
 * /dev/ptmx, a symlink to pts/ptmx), so that the process sees its terminal as
 * /dev/pts/N of its own /dev (tty(1) prints it, ttyname works), as runc does.
 *
 *   launcher (run)  the container's first process, after its root is set up
 *                   and before anything else, opens /dev/ptmx, gives the
 *                   slave to the container's user, makes it its controlling
 *                   terminal (setsid, TIOCSCTTY), dup2s it onto 0, 1 and 2,
 *                   binds it onto /dev/console (as Docker does) and sends the
 *                   master to its parent over a socketpair (SCM_RIGHTS), the
 *                   "console socket"; the socket is close-on-exec, so the
 *                   parent reads EOF instead of a master when the child died
 *                   or exec'd without a terminal.
 *   join (exec)     after joining the mount namespace the helper itself opens
 *                   /dev/ptmx (it is now the container's), forks, and the
 *                   child takes the slave the same way; no socket needed.
 *
 * Who holds the master afterwards:
 *
 *   foreground (launcher, join): pty_relay() copies fd 0 -> master and
 *     master -> fd 1 until the process ends; the window size is copied from
 *     fd 0 (else fd 1) when it is a terminal, at start and on every SIGWINCH
 *     (the relay is in the terminal's foreground process group, so the kernel
 *     sends it SIGWINCH). The caller (the CLI) puts the terminal in raw mode.
 *   detached (monitor): the monitor keeps it, logs what comes out as stdout,
 *     and serves the attach socket (monitor.h).
 */
#ifndef DIDACTIC_LAUNCHER_CONSOLE_H
#define DIDACTIC_LAUNCHER_CONSOLE_H

#include "plan.h"
#include "report.h"

#include <sys/types.h>

/* The socket the container's first process sends its master over; -1: no terminal. Set before run_child. */
extern int console_socket;

/* Opens a master in the devpts the current root's /dev/ptmx leads to, and its slave; both close-on-exec. */
int pty_open(int *master, int *slave, struct failure *f);

/* In the process that will exec: slave owned by uid, controlling terminal, dup2 onto 0, 1, 2; closes slave. */
int pty_take_slave(int slave, uid_t uid, struct failure *f);

/* Child side (child.c): pty_open + pty_take_slave + /dev/console + send the master on console_socket. */
int console_setup(const struct launch_plan *plan, struct failure *f);

/* Parent side: the master sent on sock, or -1 when the child sent none (it ended or exec'd). */
int console_receive(int sock);

/* Sets the window size of a terminal. */
void pty_set_size(int fd, unsigned rows, unsigned cols);

/* Foreground relay between fd 0/1 and master until child ends; returns its exit status (wait_exit_status). */
int pty_relay(int master, pid_t child);

#endif
