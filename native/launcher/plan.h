/*
 * The launch plan: everything the launcher does, decided in TypeScript
 * (src/runtime/launch-plan.ts) and read here from fd 3 until EOF.
 *
 * Wire format (all numbers little-endian):
 *
 *   plan    = record*                      the first record must be MAGIC
 *   record  = u32 tag, u32 length, payload[length]
 *   payload = the record's fields in order: u64 numbers first, then strings,
 *             each string NUL-terminated (an empty string means "none");
 *             SECCOMP and GROUPS are the exception, see below.
 *
 *   tag  name           payload
 *    1   MAGIC          str "didactic-launch-plan-v1"
 *    2   CLONE          u64 clone flags (CLONE_NEW*)
 *    3   JOIN_NS        u64 namespace type (a CLONE_NEW* flag), str path   (setns)
 *    4   ROOTFS         u64 propagation flags for /, u64 readonly, str host path
 *    5   HOSTNAME       str
 *    6   MOUNT          u64 flags, u64 propagation flags, str source, str target
 *                       (inside the rootfs), str fstype, str data
 *    7   DEVICE         u64 mode (S_IF* | permissions), u64 major, u64 minor,
 *                       u64 uid, u64 gid, str path
 *    8   SYMLINK        str target, str link path
 *    9   MASK           str path
 *   10   READONLY       str path
 *   11   SYSCTL         str path below /proc/sys, str value
 *   12   USER           u64 uid, u64 gid, u64 umask
 *   13   GROUPS         u64 gid, repeated (length / 8 of them)
 *   14   CAPS           u64 bounding, effective, permitted, inheritable, ambient
 *   15   NO_NEW_PRIVS   empty
 *   16   RLIMIT         u64 resource, u64 soft, u64 hard (~0 = unlimited)
 *   17   OOM_SCORE_ADJ  u64 (two's complement of the signed value)
 *   18   CWD            str
 *   19   ARG            str, repeated in order
 *   20   ENV            str NAME=VALUE, repeated in order
 *   21   SECCOMP        struct sock_filter[] as compiled (8 bytes each)
 *   22   LOOPBACK_UP    empty: bring up lo in the new network namespace
 *
 * Records of a kind that repeats (MOUNT, DEVICE, ...) are kept in plan order.
 * Strings point into the plan buffer, which lives as long as the process.
 */
#ifndef DIDACTIC_LAUNCHER_PLAN_H
#define DIDACTIC_LAUNCHER_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PLAN_MAGIC "didactic-launch-plan-v1"

enum plan_tag {
  TAG_MAGIC = 1, TAG_CLONE, TAG_JOIN_NS, TAG_ROOTFS, TAG_HOSTNAME, TAG_MOUNT,
  TAG_DEVICE, TAG_SYMLINK, TAG_MASK, TAG_READONLY, TAG_SYSCTL, TAG_USER,
  TAG_GROUPS, TAG_CAPS, TAG_NO_NEW_PRIVS, TAG_RLIMIT, TAG_OOM_SCORE_ADJ,
  TAG_CWD, TAG_ARG, TAG_ENV, TAG_SECCOMP, TAG_LOOPBACK_UP, TAG_COUNT
};

/* One record as read: its tag and payload (a view into the plan buffer). */
struct record {
  uint32_t tag;
  uint32_t length;
  const uint8_t *data;
};

/* A reader over one record's payload. */
struct cursor {
  const uint8_t *at;
  size_t left;
};

struct launch_plan {
  uint8_t *buffer; /* the whole plan as read */
  size_t size;
  struct record *records;
  size_t count;
  /* Singletons, decoded once (0 / NULL when absent). */
  uint64_t clone_flags;
  uint64_t root_propagation;
  int root_readonly;
  const char *rootfs;
  const char *hostname;
  const char *cwd;
  uid_t uid;
  gid_t gid;
  mode_t umask;
  int has_caps;
  uint64_t caps[5]; /* bounding, effective, permitted, inheritable, ambient */
  int no_new_privs;
  int has_oom_score_adj;
  int oom_score_adj;
  const uint8_t *seccomp;
  size_t seccomp_len;
  int loopback_up;
  char **argv; /* NULL-terminated */
  char **envp; /* NULL-terminated */
};

/* Reads and checks the plan from fd until EOF. Returns 0, or negative with errno set. */
int plan_read(int fd, struct launch_plan *plan);

/* Starts a cursor over a record's payload. */
struct cursor plan_cursor(const struct record *record);

/* Takes the next u64 / string of a payload; negative with errno EINVAL when absent. */
int take_u64(struct cursor *c, uint64_t *out);
int take_str(struct cursor *c, const char **out);

#endif
