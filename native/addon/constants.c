/*
 * The kernel constants the engine needs, taken from the C headers at build time
 * so JavaScript never carries a hand-copied number that could be wrong.
 */
#include "js.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>

struct constant {
  const char *name;
  double value;
};

#define C(name) {#name, (double)(name)}

static const struct constant constants[] = {
    /* mount(2) flags */
    C(MS_RDONLY), C(MS_NOSUID), C(MS_NODEV), C(MS_NOEXEC), C(MS_SYNCHRONOUS),
    C(MS_REMOUNT), C(MS_MANDLOCK), C(MS_DIRSYNC), C(MS_NOSYMFOLLOW), C(MS_NOATIME),
    C(MS_NODIRATIME), C(MS_BIND), C(MS_MOVE), C(MS_REC), C(MS_SILENT),
    C(MS_UNBINDABLE), C(MS_PRIVATE), C(MS_SLAVE), C(MS_SHARED), C(MS_RELATIME),
    C(MS_STRICTATIME), C(MS_LAZYTIME),
    /* umount2(2) flags */
    C(MNT_FORCE), C(MNT_DETACH), C(MNT_EXPIRE), C(UMOUNT_NOFOLLOW),
    /* file types for mknod(2) and stat modes */
    C(S_IFMT), C(S_IFSOCK), C(S_IFLNK), C(S_IFREG), C(S_IFBLK), C(S_IFDIR),
    C(S_IFCHR), C(S_IFIFO),
    /* setxattr(2) flags */
    C(XATTR_CREATE), C(XATTR_REPLACE),
    /* statfs(2) f_type values */
    C(OVERLAYFS_SUPER_MAGIC), C(TMPFS_MAGIC), C(RAMFS_MAGIC), C(EXT4_SUPER_MAGIC),
    C(BTRFS_SUPER_MAGIC), C(XFS_SUPER_MAGIC), C(F2FS_SUPER_MAGIC), C(FUSE_SUPER_MAGIC),
    C(NFS_SUPER_MAGIC), C(PROC_SUPER_MAGIC), C(SYSFS_MAGIC), C(DEVPTS_SUPER_MAGIC),
    C(CGROUP_SUPER_MAGIC), C(CGROUP2_SUPER_MAGIC), C(NSFS_MAGIC), C(SQUASHFS_MAGIC),
    C(EROFS_SUPER_MAGIC_V1),
};

/* exports.constants = frozen {NAME: number, ...} */
int js_define_constants(napi_env env, napi_value exports) {
  napi_value object;
  if (js_check(env, napi_create_object(env, &object)) < 0) return -1;
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    if (js_set_number(env, object, constants[i].name, constants[i].value) < 0) return -1;
  }
  if (js_check(env, napi_object_freeze(env, object)) < 0) return -1;
  return js_check(env, napi_set_named_property(env, exports, "constants", object));
}
