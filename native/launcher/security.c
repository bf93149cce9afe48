/*
 * Who the container's process is and what it may do: resource limits, user
 * and groups, the five capability sets, and the seccomp filter. Then the
 * command's lookup in the container's own PATH.
 */
#include "steps.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum { BOUNDING, EFFECTIVE, PERMITTED, INHERITABLE, AMBIENT };

static const char *const RLIMIT_NAMES[] = {"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
                                           "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};

int apply_rlimits(const struct launch_plan *plan, struct failure *f) {
  for (size_t i = 0; i < plan->count; i++) {
    if (plan->records[i].tag != TAG_RLIMIT) continue;
    struct cursor c = plan_cursor(&plan->records[i]);
    uint64_t resource, soft, hard;
    take_u64(&c, &resource), take_u64(&c, &soft), take_u64(&c, &hard);
    struct rlimit now, want = {(rlim_t)soft, (rlim_t)hard};
    if (getrlimit((int)resource, &now) < 0) return fail(f, "setrlimit", "resource %llu", (unsigned long long)resource);
    /* Raising a hard limit needs CAP_SYS_RESOURCE, which the engine may lack: stay under ours. */
    if (want.rlim_max > now.rlim_max) want.rlim_max = now.rlim_max;
    if (want.rlim_cur > want.rlim_max) want.rlim_cur = want.rlim_max;
    const char *name = resource < sizeof RLIMIT_NAMES / sizeof RLIMIT_NAMES[0] ? RLIMIT_NAMES[resource] : "?";
    explain("security", "limit %s to soft %llu, hard %llu%s\tsetrlimit(RLIMIT_%s, {%llu, %llu})", name, (unsigned long long)want.rlim_cur,
            (unsigned long long)want.rlim_max, hard > now.rlim_max ? " (the engine's own hard limit)" : "", name,
            (unsigned long long)want.rlim_cur, (unsigned long long)want.rlim_max);
    if (setrlimit((int)resource, &want) < 0) return fail(f, "setrlimit", "resource %llu", (unsigned long long)resource);
  }
  return 0;
}

static int drop_bounding(uint64_t keep, struct failure *f) {
  for (int cap = 0; cap < 64; cap++) {
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break; /* past the kernel's last capability */
    if ((keep >> cap) & 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return fail(f, "capabilities", "drop %d from the bounding set", cap);
  }
  return 0;
}

static int set_groups(const struct launch_plan *plan, struct failure *f) {
  gid_t groups[NGROUPS_MAX];
  size_t count = 0;
  for (size_t i = 0; i < plan->count; i++) {
    if (plan->records[i].tag != TAG_GROUPS) continue;
    struct cursor c = plan_cursor(&plan->records[i]);
    for (uint64_t gid; count < NGROUPS_MAX && take_u64(&c, &gid) == 0;) groups[count++] = (gid_t)gid;
  }
  explain("security", "set %zu supplementary groups\tsetgroups(%zu, [...])", count, count);
  return setgroups(count, groups) < 0 ? fail(f, "setgroups", "%zu groups", count) : 0;
}

static int set_caps(const uint64_t *caps, struct failure *f) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  for (int k = 0; k < 2; k++) {
    data[k].effective = (uint32_t)(caps[EFFECTIVE] >> (32 * k));
    data[k].permitted = (uint32_t)(caps[PERMITTED] >> (32 * k));
    data[k].inheritable = (uint32_t)(caps[INHERITABLE] >> (32 * k));
  }
  explain("security", "keep capabilities effective %#llx, permitted %#llx, inheritable %#llx\tcapset(eff=%#llx, prm=%#llx, inh=%#llx)",
          (unsigned long long)caps[EFFECTIVE], (unsigned long long)caps[PERMITTED], (unsigned long long)caps[INHERITABLE],
          (unsigned long long)caps[EFFECTIVE], (unsigned long long)caps[PERMITTED], (unsigned long long)caps[INHERITABLE]);
  if (syscall(SYS_capset, &header, data) < 0) return fail(f, "capset", "eff=%#llx", (unsigned long long)caps[EFFECTIVE]);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return fail(f, "capabilities", "clear ambient");
  for (int cap = 0; cap < 64; cap++) {
    if (((caps[AMBIENT] >> cap) & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      return fail(f, "capabilities", "raise %d in the ambient set", cap);
  }
  return 0;
}

int set_identity(const struct launch_plan *plan, struct failure *f) {
  if (plan->has_caps) {
    explain("security", "limit the bounding set to %#llx\tprctl(PR_CAPBSET_DROP, ...)", (unsigned long long)plan->caps[BOUNDING]);
    if (drop_bounding(plan->caps[BOUNDING], f) < 0) return -1;
  }
  /* Keep the permitted set across the uid change; capset below decides what stays. */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return fail(f, "capabilities", "PR_SET_KEEPCAPS");
  if (set_groups(plan, f) < 0) return -1;
  explain("security", "become group %u\tsetresgid(%u, %u, %u)", plan->gid, plan->gid, plan->gid, plan->gid);
  if (setresgid(plan->gid, plan->gid, plan->gid) < 0) return fail(f, "setresgid", "%u", plan->gid);
  explain("security", "become user %u\tsetresuid(%u, %u, %u)", plan->uid, plan->uid, plan->uid, plan->uid);
  if (setresuid(plan->uid, plan->uid, plan->uid) < 0) return fail(f, "setresuid", "%u", plan->uid);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return fail(f, "capabilities", "PR_SET_KEEPCAPS");
  return plan->has_caps ? set_caps(plan->caps, f) : 0;
}

int apply_seccomp(const struct launch_plan *plan, struct failure *f) {
  struct sock_fprog program = {(unsigned short)(plan->seccomp_len / sizeof(struct sock_filter)),
                               (struct sock_filter *)plan->seccomp};
  explain("security", "install the seccomp filter (%u BPF instructions)\tprctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=%u})",
          program.len, program.len);
  if (program.len == 0 || plan->seccomp_len / sizeof(struct sock_filter) > BPF_MAXINSNS) return errno = EINVAL, fail(f, "seccomp", "%zu bytes", plan->seccomp_len);
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) < 0) return fail(f, "seccomp", "%u instructions", program.len);
  return 0;
}

/* 0 when path is an executable regular file; else -1 with ENOENT or EACCES. */
static int check_executable(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) return errno == ENOENT || errno == ENOTDIR ? (errno = ENOENT, -1) : -1;
  if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0) return errno = EACCES, -1;
  return 0;
}

int find_command(const struct launch_plan *plan, char *out, size_t size, struct failure *f) {
  const char *name = plan->argv[0], *path = DEFAULT_PATH;
  if (name[0] == '\0') return errno = ENOENT, fail(f, "exec", "%s", name);
  if (strchr(name, '/') != NULL) {
    snprintf(out, size, "%s", name);
    return check_executable(out) < 0 ? fail(f, "exec", "%s", name) : 0;
  }
  for (char *const *env = plan->envp; *env != NULL; env++)
    if (strncmp(*env, "PATH=", 5) == 0) path = *env + 5;
  int denied = 0;
  for (const char *dir = path;; dir++) {
    size_t len = strcspn(dir, ":");
    snprintf(out, size, "%.*s/%s", len > 0 ? (int)len : 1, len > 0 ? dir : ".", name);
    if (check_executable(out) == 0) return 0;
    denied |= errno == EACCES;
    dir += len;
    if (*dir == '\0') break;
  }
  errno = denied ? EACCES : ENOENT;
  return fail(f, "exec", "%s", name);
}

int exec_command(const struct launch_plan *plan, const char *replaced, struct failure *f) {
  /* Without no_new_privs only a process with CAP_SYS_ADMIN may install a filter: before the caps go. */
  if (plan->seccomp != NULL && !plan->no_new_privs && apply_seccomp(plan, f) < 0) return -1;
  /* Changing uid clears a parent-death signal (a monitor asks for one); ask for it again. */
  int pdeath_signal = 0;
  prctl(PR_GET_PDEATHSIG, &pdeath_signal, 0, 0, 0);
  if (set_identity(plan, f) < 0) return -1;
  if (pdeath_signal != 0 && prctl(PR_SET_PDEATHSIG, pdeath_signal, 0, 0, 0) < 0) return fail(f, "prctl", "PR_SET_PDEATHSIG");
  explain("process", "change to the working directory\tchdir(\"%s\")", plan->cwd);
  if (chdir(plan->cwd) < 0) return fail(f, "chdir", "%s", plan->cwd);
  if (plan->no_new_privs) {
    explain("security", "no process started from here may gain privileges\tprctl(PR_SET_NO_NEW_PRIVS, 1)");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return fail(f, "no_new_privs", "prctl");
  }
  umask(plan->umask);
  char path[PATH_MAX];
  if (find_command(plan, path, sizeof path, f) < 0) return -1;
  /* With no_new_privs the filter can come last, so that it judges only the command. */
  if (plan->seccomp != NULL && plan->no_new_privs && apply_seccomp(plan, f) < 0) return -1;
  explain("process", "replace %s\texecve(\"%s\", argv, envp)", replaced, path);
  execve(path, plan->argv, plan->envp);
  return fail(f, "exec", "%s", plan->argv[0]);
}
