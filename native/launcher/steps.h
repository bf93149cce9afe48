/*
 * The steps the container's first process takes between clone and execve, in
 * the order child.c runs them. Each returns 0, or -1 with the failure in f.
 */
#ifndef DIDACTIC_LAUNCHER_STEPS_H
#define DIDACTIC_LAUNCHER_STEPS_H

#include "plan.h"
#include "report.h"

#include <stddef.h>

/* mounts.c: propagation, rootfs bind, the mount list, /dev, pivot_root. */
int setup_rootfs(const struct launch_plan *plan, struct failure *f);
/* mounts.c: read-only and masked paths, then the rootfs read-only if asked. */
int protect_paths(const struct launch_plan *plan, struct failure *f);

/* security.c: setrlimit for each RLIMIT record, never above the current hard limit. */
int apply_rlimits(const struct launch_plan *plan, struct failure *f);
/* security.c: bounding set, groups, gid, uid, then the other capability sets. */
int set_identity(const struct launch_plan *plan, struct failure *f);
/* security.c: installs the seccomp filter. */
int apply_seccomp(const struct launch_plan *plan, struct failure *f);
/* security.c: finds argv[0] in the container's PATH (ENOENT: not found, EACCES: not executable). */
int find_command(const struct launch_plan *plan, char *out, size_t size, struct failure *f);

/* security.c: the last steps before the command, shared with the join helper: seccomp, identity,
 * working directory, no_new_privs, umask, the PATH search and execve. Returns -1 only on failure; `replaced` finishes "replace ..." in the explain line. */
int exec_command(const struct launch_plan *plan, const char *replaced, struct failure *f);

/* child.c: everything from GO to execve; never returns. */
void run_child(const struct launch_plan *plan) __attribute__((noreturn));

#endif
