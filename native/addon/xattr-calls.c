/*
 * lsetxattr(2), lgetxattr(2) and llistxattr(2) for JavaScript. The l* forms act
 * on a symbolic link itself, never on what it points to, which is what layer
 * unpacking and overlay whiteouts need.
 */
#include "../common/cleanup.h"
#include "js.h"

#include <errno.h>
#include <string.h>
#include <sys/xattr.h>

/* Reads a value of unknown size: ask for the size, then read; retry if it grew meanwhile. */
static ssize_t read_sized(const char *path, const char *name, char **out) {
  for (int attempt = 0; attempt < 8; attempt++) {
    ssize_t size = name != NULL ? lgetxattr(path, name, NULL, 0) : llistxattr(path, NULL, 0);
    if (size < 0) return -1;
    char *buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL) return -1;
    ssize_t got = name != NULL ? lgetxattr(path, name, buf, (size_t)size) : llistxattr(path, buf, (size_t)size);
    if (got >= 0) {
      *out = buf;
      return got;
    }
    didactic_free(&buf);
    if (errno != ERANGE) return -1;
  }
  errno = ERANGE;
  return -1;
}

/* lsetxattr(path, name, value: Buffer, flags) -> undefined */
napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  CLEANUP_FREE char *path = NULL;
  CLEANUP_FREE char *name = NULL;
  void *value = NULL;
  size_t len = 0;
  uint32_t flags = 0;
  if (js_args(env, info, 4, argv) < 0) return NULL;
  if (js_string(env, argv[0], "path", 0, &path) < 0) return NULL;
  if (js_string(env, argv[1], "name", 0, &name) < 0) return NULL;
  if (js_bytes(env, argv[2], "value", &value, &len) < 0) return NULL;
  if (js_uint32(env, argv[3], "flags", &flags) < 0) return NULL;
  if (lsetxattr(path, name, len > 0 ? value : "", len, (int)flags) < 0)
    js_throw_errno(env, errno, "lsetxattr", path);
  return NULL;
}

/* lgetxattr(path, name) -> Buffer, or null when the attribute is absent (ENODATA). */
napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  CLEANUP_FREE char *path = NULL;
  CLEANUP_FREE char *name = NULL;
  CLEANUP_FREE char *buf = NULL;
  if (js_args(env, info, 2, argv) < 0) return NULL;
  if (js_string(env, argv[0], "path", 0, &path) < 0) return NULL;
  if (js_string(env, argv[1], "name", 0, &name) < 0) return NULL;
  ssize_t size = read_sized(path, name, &buf);
  if (size < 0) {
    if (errno == ENODATA) {
      if (js_check(env, napi_get_null(env, &result)) < 0) return NULL;
      return result;
    }
    js_throw_errno(env, errno, "lgetxattr", path);
    return NULL;
  }
  if (js_check(env, napi_create_buffer_copy(env, (size_t)size, buf, NULL, &result)) < 0) return NULL;
  return result;
}

/* llistxattr(path) -> string[] (the names this process may see). */
napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, item;
  CLEANUP_FREE char *path = NULL;
  CLEANUP_FREE char *buf = NULL;
  if (js_args(env, info, 1, argv) < 0) return NULL;
  if (js_string(env, argv[0], "path", 0, &path) < 0) return NULL;
  ssize_t size = read_sized(path, NULL, &buf);
  if (size < 0) {
    js_throw_errno(env, errno, "llistxattr", path);
    return NULL;
  }
  if (js_check(env, napi_create_array(env, &result)) < 0) return NULL;
  uint32_t index = 0;
  /* The list is names separated by NUL bytes, each one terminated. */
  for (ssize_t at = 0; at < size;) {
    size_t len = strnlen(buf + at, (size_t)(size - at));
    if (js_check(env, napi_create_string_utf8(env, buf + at, len, &item)) < 0) return NULL;
    if (js_check(env, napi_set_element(env, result, index++, item)) < 0) return NULL;
    at += (ssize_t)len + 1;
  }
  return result;
}
