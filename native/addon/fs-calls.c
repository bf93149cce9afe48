/*
 * mount(2), umount2(2), mknod(2) and statfs(2) for JavaScript.
 * Each function is synchronous and throws an fs-style error on failure.
 */
#include "../common/cleanup.h"
#include "js.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

/* mount(source|null, target, fstype|null, flags, data|null) -> undefined */
napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  CLEANUP_FREE char *source = NULL;
  CLEANUP_FREE char *target = NULL;
  CLEANUP_FREE char *fstype = NULL;
  CLEANUP_FREE char *data = NULL;
  uint32_t flags = 0;
  if (js_args(env, info, 5, argv) < 0) return NULL;
  if (js_string(env, argv[0], "source", 1, &source) < 0) return NULL;
  if (js_string(env, argv[1], "target", 0, &target) < 0) return NULL;
  if (js_string(env, argv[2], "fstype", 1, &fstype) < 0) return NULL;
  if (js_uint32(env, argv[3], "flags", &flags) < 0) return NULL;
  if (js_string(env, argv[4], "data", 1, &data) < 0) return NULL;
  if (mount(source, target, fstype, flags, data) < 0) js_throw_errno(env, errno, "mount", target);
  return NULL;
}

/* umount2(target, flags) -> undefined */
napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  CLEANUP_FREE char *target = NULL;
  uint32_t flags = 0;
  if (js_args(env, info, 2, argv) < 0) return NULL;
  if (js_string(env, argv[0], "target", 0, &target) < 0) return NULL;
  if (js_uint32(env, argv[1], "flags", &flags) < 0) return NULL;
  if (umount2(target, (int)flags) < 0) js_throw_errno(env, errno, "umount2", target);
  return NULL;
}

/* mknod(path, mode, major, minor) -> undefined; mode carries the file type (S_IFCHR...). */
napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  CLEANUP_FREE char *path = NULL;
  uint32_t mode = 0, major_number = 0, minor_number = 0;
  if (js_args(env, info, 4, argv) < 0) return NULL;
  if (js_string(env, argv[0], "path", 0, &path) < 0) return NULL;
  if (js_uint32(env, argv[1], "mode", &mode) < 0) return NULL;
  if (js_uint32(env, argv[2], "major", &major_number) < 0) return NULL;
  if (js_uint32(env, argv[3], "minor", &minor_number) < 0) return NULL;
  if (mknod(path, (mode_t)mode, makedev(major_number, minor_number)) < 0)
    js_throw_errno(env, errno, "mknod", path);
  return NULL;
}

/* statfs(path) -> {type, bsize, blocks, bfree, bavail, files, ffree, namelen, frsize, flags} */
napi_value js_statfs(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  CLEANUP_FREE char *path = NULL;
  struct statfs st;
  if (js_args(env, info, 1, argv) < 0) return NULL;
  if (js_string(env, argv[0], "path", 0, &path) < 0) return NULL;
  if (statfs(path, &st) < 0) {
    js_throw_errno(env, errno, "statfs", path);
    return NULL;
  }
  if (js_check(env, napi_create_object(env, &result)) < 0) return NULL;
  /* f_type is a signed word; magic numbers are 32-bit, so keep it unsigned 32. */
  if (js_set_number(env, result, "type", (double)(uint32_t)st.f_type) < 0 ||
      js_set_number(env, result, "bsize", (double)st.f_bsize) < 0 ||
      js_set_number(env, result, "blocks", (double)st.f_blocks) < 0 ||
      js_set_number(env, result, "bfree", (double)st.f_bfree) < 0 ||
      js_set_number(env, result, "bavail", (double)st.f_bavail) < 0 ||
      js_set_number(env, result, "files", (double)st.f_files) < 0 ||
      js_set_number(env, result, "ffree", (double)st.f_ffree) < 0 ||
      js_set_number(env, result, "namelen", (double)st.f_namelen) < 0 ||
      js_set_number(env, result, "frsize", (double)st.f_frsize) < 0 ||
      js_set_number(env, result, "flags", (double)st.f_flags) < 0)
    return NULL;
  return result;
}

/*
 * umount2Async(target, flags) -> Promise<undefined>: the same call on a
 * libuv worker thread. Detaching a mount waits for an RCU grace period
 * (milliseconds); this lets the engine do other cleanup meanwhile.
 */
struct umount_work {
  napi_async_work work;
  napi_deferred deferred;
  char *target;
  int flags;
  int err;
};

static void umount_execute(napi_env env, void *data) {
  (void)env;
  struct umount_work *job = data;
  job->err = umount2(job->target, job->flags) < 0 ? errno : 0;
}

static void umount_complete(napi_env env, napi_status status, void *data) {
  struct umount_work *job = data;
  napi_value result = NULL;
  if (status == napi_ok && job->err == 0) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    js_throw_errno(env, status == napi_ok ? job->err : ECANCELED, "umount2", job->target);
    if (napi_get_and_clear_last_exception(env, &result) != napi_ok || result == NULL) napi_get_undefined(env, &result);
    napi_reject_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free(job->target);
  free(job);
}

napi_value js_umount2_async(napi_env env, napi_callback_info info) {
  napi_value argv[2], promise, name;
  char *target = NULL;
  uint32_t flags = 0;
  if (js_args(env, info, 2, argv) < 0) return NULL;
  if (js_string(env, argv[0], "target", 0, &target) < 0) return NULL;
  if (js_uint32(env, argv[1], "flags", &flags) < 0) return free(target), NULL;
  struct umount_work *job = calloc(1, sizeof *job);
  if (job == NULL) return free(target), js_throw_errno(env, ENOMEM, "malloc", NULL), NULL;
  job->target = target;
  job->flags = (int)flags;
  if (js_check(env, napi_create_promise(env, &job->deferred, &promise)) < 0 ||
      js_check(env, napi_create_string_utf8(env, "umount2", NAPI_AUTO_LENGTH, &name)) < 0 ||
      js_check(env, napi_create_async_work(env, NULL, name, umount_execute, umount_complete, job, &job->work)) < 0)
    return free(target), free(job), NULL;
  if (js_check(env, napi_queue_async_work(env, job->work)) < 0) {
    napi_delete_async_work(env, job->work);
    return free(target), free(job), NULL;
  }
  return promise;
}
