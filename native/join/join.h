/*
 * didactic-join: runs a process inside a running container (exec) or copies
 * files in and out of it (cp), by joining the container's namespaces.
 *
 * It reads the same launch plan as the launcher (native/launcher/plan.h,
 * encoded by src/runtime/launch-plan.ts) from fd 3, and uses these records:
 *
 *   JOIN_NS   /proc/<pid>/ns/<type> of the container's first process, one per
 *             namespace to join, in the order they are joined (user first)
 *   ROOTFS    must be "/": the root is the joined mount namespace's own
 *   USER, GROUPS, CAPS, NO_NEW_PRIVS, RLIMIT, OOM_SCORE_ADJ, SECCOMP, CWD, ENV (exec)
 *   ARG       exec: the command; tar-create: path, archive name;
 *             tar-extract: destination path
 *
 * CLONE must be 0 and the mount, device and path records are not used.
 *
 * Modes (argv[1]):
 *   exec         fork after joining (the pid namespace applies to children),
 *                the child sets its identity and execs; the parent reports
 *                "PID <n>" on fd 4, forwards signals, exits with its status
 *   exec-detach  the same, but the parent exits as soon as the pid is reported
 *   tar-create   writes a tar of ARG path (named ARG name in the archive) to stdout
 *   tar-extract  reads a tar from stdin into ARG destination
 *
 * The cgroup is joined from outside: the engine writes this process's pid
 * into the container's cgroup.procs files before it sends the plan, so the
 * child inherits them.
 */
#ifndef DIDACTIC_JOIN_H
#define DIDACTIC_JOIN_H

#include "../launcher/plan.h"
#include "../launcher/report.h"

/* tar-write.c: a ustar archive of path (lstat, not followed; directories recursively) to fd out. */
int tar_create(int out, const char *path, const char *name, struct failure *f);

/*
 * tar-read.c: the archive on fd in, into dest. When dest is a directory the entries
 * land below it as named; otherwise the archive's first name component is
 * renamed to dest's last one and the entries land in dest's parent.
 */
int tar_extract(int in, const char *dest, struct failure *f);

#endif
