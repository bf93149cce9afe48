/*
 * The container's file system view: propagation, the rootfs bind, the mount
 * list, /dev nodes and links, pivot_root, then the masked and read-only paths.
 *
 * Every path inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT): a
 * symlink in an image (say /proc -> /etc) is followed as if the rootfs were
 * already /, so no mount target can land outside it. Missing components are
 * created one at a time and the mount goes through /proc/self/fd/N of the
 * resolved directory, never through the path text again.
 */
#include "steps.h"
#include "../common/cleanup.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#define PROPAGATION (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)
#define PER_MOUNT (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW)

static int open_beneath(int rootfd, const char *path) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

/*
 * An O_PATH fd for path inside the root, creating what is missing: directories
 * on the way, and the last component as a directory (kind 'd') or an empty
 * file (kind 'f'); kind 0 creates nothing.
 */
static int open_in_root(int rootfd, const char *path, int kind) {
  char prefix[PATH_MAX];
  if (strlen(path) >= sizeof prefix) return errno = ENAMETOOLONG, -1;
  int fd = open_beneath(rootfd, path);
  if (fd >= 0 || errno != ENOENT || kind == 0) return fd;
  CLEANUP_FD int parent = dup(rootfd);
  if (parent < 0) return -1;
  size_t len = strlen(path);
  for (size_t end = 0; end < len;) {
    size_t start = end;
    while (start < len && path[start] == '/') start++;
    end = start;
    while (end < len && path[end] != '/') end++;
    if (end == start) break;
    memcpy(prefix, path, end);
    prefix[end] = '\0';
    char name[NAME_MAX + 1];
    snprintf(name, sizeof name, "%.*s", (int)(end - start), path + start);
    int next = open_beneath(rootfd, prefix);
    if (next < 0 && errno == ENOENT) {
      int last = end >= len || path[end + strspn(path + end, "/")] == '\0';
      if (last && kind == 'f') {
        int made = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (made < 0) return -1;
        close(made);
      } else if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
        return -1;
      }
      next = open_beneath(rootfd, prefix);
    }
    if (next < 0) return -1;
    close(parent);
    parent = next;
  }
  int out = parent;
  parent = -1;
  return out;
}

/* mount(2) on the object an O_PATH fd names. */
static int mount_on_fd(const char *source, int fd, const char *fstype, unsigned long flags, const char *data) {
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  return mount(source, target, fstype, flags, data);
}

static const char *or_null(const char *text) {
  return text != NULL && text[0] != '\0' ? text : NULL;
}

/* One entry of the mount list. Read-only and other per-mount flags of a bind take a remount. */
static int mount_one(int rootfd, struct cursor c, struct failure *f) {
  uint64_t flags, propagation;
  const char *source, *target, *fstype, *data;
  take_u64(&c, &flags), take_u64(&c, &propagation);
  take_str(&c, &source), take_str(&c, &target), take_str(&c, &fstype), take_str(&c, &data);
  char names[256];
  struct stat st;
  if (flags & MS_REMOUNT) { /* change the flags of what an earlier entry mounted there */
    CLEANUP_FD int fd = open_in_root(rootfd, target, 0);
    unsigned long again = MS_REMOUNT | MS_BIND | (unsigned long)(flags & PER_MOUNT);
    explain("mount", "remount %s\tmount(NULL, \"%s\", NULL, %s, NULL)", target, target, mount_flag_names(again, names, sizeof names));
    return fd < 0 || mount_on_fd(NULL, fd, NULL, again, NULL) < 0 ? fail(f, "mount", "remount %s", target) : 0;
  }
  int is_bind = (flags & MS_BIND) != 0;
  int kind = is_bind && stat(source, &st) == 0 && !S_ISDIR(st.st_mode) ? 'f' : 'd';
  CLEANUP_FD int fd = open_in_root(rootfd, target, kind);
  if (fd < 0) return fail(f, "mount", "%s on %s: resolve the target in the rootfs", source, target);
  unsigned long first = (unsigned long)(flags & ~(PROPAGATION | (is_bind ? PER_MOUNT : MS_RDONLY)));
  explain("mount", "mount %s on %s\tmount(\"%s\", \"%s\", \"%s\", %s, %s%s%s)", or_null(fstype) ? fstype : source, target, source,
          target, fstype, mount_flag_names(first, names, sizeof names), data[0] ? "\"" : "", data[0] ? data : "NULL", data[0] ? "\"" : "");
  if (mount_on_fd(or_null(source), fd, or_null(fstype), first, or_null(data)) < 0)
    return fail(f, "mount", "%s on %s (%s)", source, target, fstype[0] ? fstype : "bind");
  unsigned long again = (unsigned long)(flags & PER_MOUNT);
  int remount = (again & (is_bind ? PER_MOUNT : MS_RDONLY)) != 0;
  if (!remount && propagation == 0) return 0;
  CLEANUP_FD int mounted = open_in_root(rootfd, target, 0);
  if (mounted < 0) return fail(f, "mount", "%s: reopen after mounting", target);
  if (remount) {
    explain("mount", "remount %s with its flags\tmount(NULL, \"%s\", NULL, MS_REMOUNT|MS_BIND|%s, NULL)", target, target,
            mount_flag_names(again, names, sizeof names));
    if (mount_on_fd(NULL, mounted, NULL, MS_REMOUNT | MS_BIND | again, NULL) < 0)
      return fail(f, "mount", "remount %s %s", target, mount_flag_names(again, names, sizeof names));
  }
  if (propagation != 0) {
    explain("mount", "set propagation of %s\tmount(NULL, \"%s\", NULL, %s, NULL)", target, target,
            mount_flag_names(propagation, names, sizeof names));
    if (mount_on_fd(NULL, mounted, NULL, (unsigned long)propagation, NULL) < 0)
      return fail(f, "mount", "propagation of %s", target);
  }
  return 0;
}

/* Splits "/dev/pts/ptmx" into an O_PATH fd of the (created) parent and the last name. */
static int open_parent(int rootfd, const char *path, char *name, size_t size) {
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX];
  if (slash == NULL || slash[1] == '\0' || (size_t)(slash - path) >= sizeof dir) return errno = EINVAL, -1;
  snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  snprintf(name, size, "%s", slash + 1);
  return open_in_root(rootfd, dir, 'd');
}

/* A device node; where mknod is not allowed (a user namespace), the host's node is bound instead. */
static int make_device(int rootfd, struct cursor c, struct failure *f) {
  uint64_t mode, major, minor, uid, gid;
  const char *path;
  take_u64(&c, &mode), take_u64(&c, &major), take_u64(&c, &minor), take_u64(&c, &uid), take_u64(&c, &gid);
  take_str(&c, &path);
  char name[NAME_MAX + 1];
  CLEANUP_FD int dir = open_parent(rootfd, path, name, sizeof name);
  if (dir < 0) return fail(f, "mknod", "%s: resolve the parent in the rootfs", path);
  dev_t dev = makedev((unsigned)major, (unsigned)minor);
  explain("mount", "create device %s\tmknod(\"%s\", %#llo, makedev(%llu, %llu))", path, path, (unsigned long long)mode,
          (unsigned long long)major, (unsigned long long)minor);
  if (mknodat(dir, name, (mode_t)mode, dev) < 0) {
    if (errno != EPERM) return fail(f, "mknod", "%s", path);
    CLEANUP_FD int node = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    CLEANUP_FD int target = node >= 0 ? open_beneath(dir, name) : -1;
    if (target < 0 || mount_on_fd(path, target, NULL, MS_BIND, NULL) < 0) return fail(f, "mknod", "%s (bind the host's)", path);
    return 0;
  }
  if (fchownat(dir, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0) return fail(f, "mknod", "chown %s", path);
  if (fchmodat(dir, name, (mode_t)(mode & 07777), 0) < 0) return fail(f, "mknod", "chmod %s", path);
  return 0;
}

static int make_link(int rootfd, struct cursor c, struct failure *f) {
  const char *target, *path;
  take_str(&c, &target), take_str(&c, &path);
  char name[NAME_MAX + 1];
  CLEANUP_FD int dir = open_parent(rootfd, path, name, sizeof name);
  explain("mount", "link %s -> %s\tsymlink(\"%s\", \"%s\")", path, target, target, path);
  if (dir < 0 || (symlinkat(target, dir, name) < 0 && errno != EEXIST)) return fail(f, "symlink", "%s -> %s", path, target);
  return 0;
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching "." then drops it. */
static int pivot(const char *rootfs, struct failure *f) {
  explain("mount", "make %s the root and detach the old one\tpivot_root(\".\", \".\"); umount2(\".\", MNT_DETACH)", rootfs);
  if (chdir(rootfs) < 0) return fail(f, "pivot_root", "chdir %s", rootfs);
  if (syscall(SYS_pivot_root, ".", ".") < 0) return fail(f, "pivot_root", "%s", rootfs);
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) return fail(f, "pivot_root", "make the old root a slave");
  if (umount2(".", MNT_DETACH) < 0) return fail(f, "pivot_root", "detach the old root");
  return chdir("/") < 0 ? fail(f, "pivot_root", "chdir /") : 0;
}

int setup_rootfs(const struct launch_plan *plan, struct failure *f) {
  char names[128];
  explain("mount", "keep the container's mount events to itself\tmount(NULL, \"/\", NULL, %s, NULL)",
          mount_flag_names(plan->root_propagation, names, sizeof names));
  if (mount(NULL, "/", NULL, (unsigned long)plan->root_propagation, NULL) < 0) return fail(f, "mount", "propagation of /");
  explain("mount", "bind the rootfs on itself so that it is a mount point\tmount(\"%s\", \"%s\", NULL, MS_BIND|MS_REC, NULL)",
          plan->rootfs, plan->rootfs);
  if (mount(plan->rootfs, plan->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) return fail(f, "mount", "bind the rootfs %s", plan->rootfs);
  CLEANUP_FD int rootfd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return fail(f, "mount", "open the rootfs %s", plan->rootfs);
  for (size_t i = 0; i < plan->count; i++) {
    const struct record *r = &plan->records[i];
    int rc = 0;
    if (r->tag == TAG_MOUNT) rc = mount_one(rootfd, plan_cursor(r), f);
    else if (r->tag == TAG_DEVICE) rc = make_device(rootfd, plan_cursor(r), f);
    else if (r->tag == TAG_SYMLINK) rc = make_link(rootfd, plan_cursor(r), f);
    if (rc < 0) return -1;
  }
  return pivot(plan->rootfs, f);
}

/* The per-mount flags a path's mount has now, to keep them when remounting it read-only. */
static unsigned long current_flags(const char *path) {
  struct statvfs st;
  if (statvfs(path, &st) < 0) return 0;
  unsigned long out = 0;
  if (st.f_flag & ST_NOSUID) out |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) out |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) out |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) out |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

static int make_readonly(const char *path, int bind_first, struct failure *f) {
  explain("mount", "make %s read-only\tmount(\"%s\", \"%s\", NULL, MS_BIND|MS_REC); mount(NULL, \"%s\", NULL, MS_REMOUNT|MS_BIND|MS_RDONLY, NULL)",
          path, path, path, path);
  if (bind_first && mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
    if (errno == ENOENT) return 0;
    return fail(f, "readonly path", "bind %s", path);
  }
  if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | current_flags(path), NULL) < 0)
    return fail(f, "readonly path", "remount %s", path);
  return 0;
}

static int mask(const char *path, struct failure *f) {
  struct stat st;
  if (stat(path, &st) < 0) return errno == ENOENT ? 0 : fail(f, "masked path", "%s", path);
  int dir = S_ISDIR(st.st_mode);
  if (dir) explain("mount", "hide the directory %s under an empty tmpfs\tmount(\"tmpfs\", \"%s\", \"tmpfs\", MS_RDONLY, NULL)", path, path);
  else explain("mount", "hide the file %s behind /dev/null\tmount(\"/dev/null\", \"%s\", NULL, MS_BIND, NULL)", path, path);
  int rc = dir ? mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) : mount("/dev/null", path, NULL, MS_BIND, NULL);
  return rc < 0 ? fail(f, "masked path", "%s", path) : 0;
}

int protect_paths(const struct launch_plan *plan, struct failure *f) {
  for (size_t i = 0; i < plan->count; i++) {
    const struct record *r = &plan->records[i];
    struct cursor c = plan_cursor(r);
    const char *path = NULL;
    if (r->tag != TAG_READONLY && r->tag != TAG_MASK) continue;
    take_str(&c, &path);
    if ((r->tag == TAG_READONLY ? make_readonly(path, 1, f) : mask(path, f)) < 0) return -1;
  }
  return plan->root_readonly ? make_readonly("/", 0, f) : 0;
}
