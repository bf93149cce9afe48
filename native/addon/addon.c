/*
 * didactic_native: the few system calls Node does not offer, as a Node-API
 * addon in C. Every function is synchronous and thin (but umount2Async, the
 * same call on a worker thread): it converts arguments,
 * makes exactly one system call (plus size queries for xattrs) and throws an
 * fs-style error ({code, errno, syscall, path}) when the call fails. Deciding
 * what to mount, and turning errors into engine errors, happens in TypeScript.
 * spawn-calls.c adds starting the launcher without forking Node, and waiting
 * for it and reading its pipes on threads of its own.
 */
#include "js.h"

static napi_value init(napi_env env, napi_value exports) {
  if (js_export_function(env, exports, "mount", js_mount) < 0 ||
      js_export_function(env, exports, "umount2", js_umount2) < 0 ||
      js_export_function(env, exports, "umount2Async", js_umount2_async) < 0 ||
      js_export_function(env, exports, "mknod", js_mknod) < 0 ||
      js_export_function(env, exports, "statfs", js_statfs) < 0 ||
      js_export_function(env, exports, "lsetxattr", js_lsetxattr) < 0 ||
      js_export_function(env, exports, "lgetxattr", js_lgetxattr) < 0 ||
      js_export_function(env, exports, "llistxattr", js_llistxattr) < 0 ||
      js_export_function(env, exports, "spawnLauncher", js_spawn_launcher) < 0 ||
      js_export_function(env, exports, "waitExit", js_wait_exit) < 0 ||
      js_export_function(env, exports, "readFd", js_read_fd) < 0 ||
      js_export_function(env, exports, "crc32", js_crc32) < 0 ||
      js_define_constants(env, exports) < 0)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
