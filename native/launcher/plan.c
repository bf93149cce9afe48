/*
 * Reading the launch plan (format: plan.h). Every record is checked against
 * its shape once, here, so the steps that use the plan later can take fields
 * without checking again.
 */
#include "plan.h"
#include "../common/cleanup.h"

#include <endian.h>
#include <string.h>

#define MAX_PLAN_SIZE (64u << 20)

/* u = u64, s = string; NULL means a payload of 8-byte units (GROUPS, SECCOMP). */
static const char *const SHAPES[TAG_COUNT] = {
  [TAG_MAGIC] = "s", [TAG_CLONE] = "u", [TAG_JOIN_NS] = "us", [TAG_ROOTFS] = "uus",
  [TAG_HOSTNAME] = "s", [TAG_MOUNT] = "uussss", [TAG_DEVICE] = "uuuuus", [TAG_SYMLINK] = "ss",
  [TAG_MASK] = "s", [TAG_READONLY] = "s", [TAG_SYSCTL] = "ss", [TAG_USER] = "uuu",
  [TAG_GROUPS] = NULL, [TAG_CAPS] = "uuuuu", [TAG_NO_NEW_PRIVS] = "", [TAG_RLIMIT] = "uuu",
  [TAG_OOM_SCORE_ADJ] = "u", [TAG_CWD] = "s", [TAG_ARG] = "s", [TAG_ENV] = "s", [TAG_SECCOMP] = NULL,
  [TAG_LOOPBACK_UP] = "",
};

struct cursor plan_cursor(const struct record *record) {
  struct cursor c = {record->data, record->length};
  return c;
}

int take_u64(struct cursor *c, uint64_t *out) {
  if (c->left < 8) {
    errno = EINVAL;
    return -1;
  }
  uint64_t raw;
  memcpy(&raw, c->at, 8);
  *out = le64toh(raw);
  c->at += 8;
  c->left -= 8;
  return 0;
}

int take_str(struct cursor *c, const char **out) {
  const uint8_t *nul = c->left > 0 ? memchr(c->at, '\0', c->left) : NULL;
  if (nul == NULL) {
    errno = EINVAL;
    return -1;
  }
  *out = (const char *)c->at;
  c->left -= (size_t)(nul - c->at) + 1;
  c->at = nul + 1;
  return 0;
}

static int check_shape(const struct record *record) {
  if (record->tag == 0 || record->tag >= TAG_COUNT) return -1;
  const char *shape = SHAPES[record->tag];
  if (shape == NULL) return record->length % 8 == 0 ? 0 : -1;
  struct cursor c = plan_cursor(record);
  for (; *shape != '\0'; shape++) {
    uint64_t number;
    const char *text;
    if ((*shape == 'u' ? take_u64(&c, &number) : take_str(&c, &text)) < 0) return -1;
  }
  return c.left == 0 ? 0 : -1;
}

static int read_all(int fd, struct launch_plan *plan) {
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  if (buf == NULL) return -1;
  for (;;) {
    if (len == cap) {
      uint8_t *bigger = cap < MAX_PLAN_SIZE ? realloc(buf, cap * 2) : NULL;
      if (bigger == NULL) {
        free(buf);
        errno = cap < MAX_PLAN_SIZE ? ENOMEM : EFBIG;
        return -1;
      }
      buf = bigger;
      cap *= 2;
    }
    ssize_t got = read(fd, buf + len, cap - len);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      free(buf);
      return -1;
    }
    if (got == 0) break;
    len += (size_t)got;
  }
  plan->buffer = buf;
  plan->size = len;
  return 0;
}

/* Splits the buffer into records, checking each one's shape. */
static int split_records(struct launch_plan *plan) {
  size_t count = 0, args = 0, envs = 0;
  for (size_t at = 0; at < plan->size; count++) {
    uint32_t head[2];
    if (plan->size - at < 8) return -1;
    memcpy(head, plan->buffer + at, 8);
    uint32_t length = le32toh(head[1]);
    if (plan->size - at - 8 < length) return -1;
    at += 8 + (size_t)length;
  }
  plan->records = calloc(count + 1, sizeof(struct record));
  if (plan->records == NULL) return -1;
  size_t at = 0;
  for (size_t i = 0; i < count; i++) {
    uint32_t head[2];
    memcpy(head, plan->buffer + at, 8);
    struct record *r = &plan->records[i];
    r->tag = le32toh(head[0]);
    r->length = le32toh(head[1]);
    r->data = plan->buffer + at + 8;
    at += 8 + (size_t)r->length;
    if (check_shape(r) < 0) return -1;
    args += r->tag == TAG_ARG;
    envs += r->tag == TAG_ENV;
  }
  plan->count = count;
  plan->argv = calloc(args + 1, sizeof(char *));
  plan->envp = calloc(envs + 1, sizeof(char *));
  return plan->argv != NULL && plan->envp != NULL && args > 0 ? 0 : -1;
}

/* Fills the singletons and argv/envp from the (already checked) records. */
static void decode(struct launch_plan *plan) {
  size_t args = 0, envs = 0;
  plan->umask = 022;
  for (size_t i = 0; i < plan->count; i++) {
    const struct record *r = &plan->records[i];
    struct cursor c = plan_cursor(r);
    uint64_t a = 0, b = 0, d = 0;
    const char *text = NULL;
    switch (r->tag) {
    case TAG_CLONE: take_u64(&c, &plan->clone_flags); break;
    case TAG_ROOTFS:
      take_u64(&c, &plan->root_propagation);
      take_u64(&c, &a);
      take_str(&c, &plan->rootfs);
      plan->root_readonly = a != 0;
      break;
    case TAG_HOSTNAME: take_str(&c, &plan->hostname); break;
    case TAG_CWD: take_str(&c, &plan->cwd); break;
    case TAG_USER:
      take_u64(&c, &a), take_u64(&c, &b), take_u64(&c, &d);
      plan->uid = (uid_t)a, plan->gid = (gid_t)b, plan->umask = (mode_t)(d & 07777);
      break;
    case TAG_CAPS:
      for (int k = 0; k < 5; k++) take_u64(&c, &plan->caps[k]);
      plan->has_caps = 1;
      break;
    case TAG_NO_NEW_PRIVS: plan->no_new_privs = 1; break;
    case TAG_LOOPBACK_UP: plan->loopback_up = 1; break;
    case TAG_OOM_SCORE_ADJ:
      take_u64(&c, &a);
      plan->has_oom_score_adj = 1, plan->oom_score_adj = (int)(int64_t)a;
      break;
    case TAG_SECCOMP: plan->seccomp = r->data, plan->seccomp_len = r->length; break;
    case TAG_ARG: take_str(&c, &text), plan->argv[args++] = (char *)text; break;
    case TAG_ENV: take_str(&c, &text), plan->envp[envs++] = (char *)text; break;
    default: break;
    }
  }
}

int plan_read(int fd, struct launch_plan *plan) {
  memset(plan, 0, sizeof *plan);
  if (read_all(fd, plan) < 0) return -1;
  if (split_records(plan) < 0 || plan->count == 0 || plan->records[0].tag != TAG_MAGIC ||
      strcmp((const char *)plan->records[0].data, PLAN_MAGIC) != 0) {
    errno = EINVAL;
    return -1;
  }
  decode(plan);
  if (plan->rootfs == NULL || plan->rootfs[0] != '/' || plan->cwd == NULL || plan->cwd[0] != '/') {
    errno = EINVAL;
    return -1;
  }
  return 0;
}
