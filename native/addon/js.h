/*
 * Small helpers between Node-API values and C for the didactic_native addon.
 *
 * Convention: a helper returns 0 on success and a negative number on failure;
 * on failure a JavaScript exception is already pending, so the caller only
 * returns NULL to Node.
 */
#ifndef DIDACTIC_JS_H
#define DIDACTIC_JS_H

#include <stddef.h>
#include <stdint.h>

#define NAPI_VERSION 8
#include <node_api.h>

/* Reads exactly `want` arguments; fewer is a TypeError. */
int js_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

/* A string argument as a malloc'd UTF-8 C string; NULL for JS null/undefined when allow_null. */
int js_string(napi_env env, napi_value value, const char *name, int allow_null, char **out);

/* A non-negative integer argument that fits in 32 bits (bit flags may be negative in JS). */
int js_uint32(napi_env env, napi_value value, const char *name, uint32_t *out);

/* The bytes of a Buffer / Uint8Array argument (borrowed, valid during the call). */
int js_bytes(napi_env env, napi_value value, const char *name, void **data, size_t *len);

/* Throws an Error shaped like Node's fs errors: code, errno (negative), syscall, path. */
void js_throw_errno(napi_env env, int err, const char *syscall, const char *path);

/* Sets obj[name] = number. */
int js_set_number(napi_env env, napi_value obj, const char *name, double number);

/* Defines one exported function. */
int js_export_function(napi_env env, napi_value exports, const char *name, napi_callback cb);

/* Pending-exception-safe check: on a napi failure throw a generic error and return -1. */
int js_check(napi_env env, napi_status status);

/* The functions of each part of the addon. */
napi_value js_mount(napi_env env, napi_callback_info info);
napi_value js_umount2(napi_env env, napi_callback_info info);
napi_value js_umount2_async(napi_env env, napi_callback_info info);
napi_value js_mknod(napi_env env, napi_callback_info info);
napi_value js_statfs(napi_env env, napi_callback_info info);
napi_value js_lsetxattr(napi_env env, napi_callback_info info);
napi_value js_lgetxattr(napi_env env, napi_callback_info info);
napi_value js_llistxattr(napi_env env, napi_callback_info info);
napi_value js_spawn_launcher(napi_env env, napi_callback_info info);
napi_value js_wait_exit(napi_env env, napi_callback_info info);
napi_value js_read_fd(napi_env env, napi_callback_info info);
napi_value js_crc32(napi_env env, napi_callback_info info);
int js_define_constants(napi_env env, napi_value exports);

#endif
