/* Argument conversion and error throwing for the addon (see js.h). */
#include "js.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int js_check(napi_env env, napi_status status) {
  if (status == napi_ok) return 0;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info = NULL;
    napi_get_last_error_info(env, &info);
    const char *text = info != NULL && info->error_message != NULL ? info->error_message : "unknown";
    napi_throw_error(env, "ERR_NATIVE", text);
  }
  return -1;
}

static void throw_type(napi_env env, const char *name, const char *expected) {
  char text[160];
  snprintf(text, sizeof text, "the \"%s\" argument must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
}

int js_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (js_check(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL)) < 0) return -1;
  if (argc < want) {
    char text[80];
    snprintf(text, sizeof text, "expected %zu arguments, got %zu", want, argc);
    napi_throw_type_error(env, "ERR_MISSING_ARGS", text);
    return -1;
  }
  return 0;
}

int js_string(napi_env env, napi_value value, const char *name, int allow_null, char **out) {
  napi_valuetype type;
  *out = NULL;
  if (js_check(env, napi_typeof(env, value, &type)) < 0) return -1;
  if (allow_null && (type == napi_null || type == napi_undefined)) return 0;
  if (type != napi_string) {
    throw_type(env, name, allow_null ? "a string or null" : "a string");
    return -1;
  }
  size_t len = 0;
  if (js_check(env, napi_get_value_string_utf8(env, value, NULL, 0, &len)) < 0) return -1;
  char *text = malloc(len + 1);
  if (text == NULL) {
    js_throw_errno(env, ENOMEM, "malloc", NULL);
    return -1;
  }
  if (js_check(env, napi_get_value_string_utf8(env, value, text, len + 1, &len)) < 0) {
    free(text);
    return -1;
  }
  if (strlen(text) != len) {
    /* An embedded NUL would silently cut a path short: refuse it. */
    free(text);
    char msg[160];
    snprintf(msg, sizeof msg, "the \"%s\" argument must not contain null bytes", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return -1;
  }
  *out = text;
  return 0;
}

int js_uint32(napi_env env, napi_value value, const char *name, uint32_t *out) {
  napi_valuetype type;
  double number = 0;
  if (js_check(env, napi_typeof(env, value, &type)) < 0) return -1;
  if (type != napi_number) {
    throw_type(env, name, "a number");
    return -1;
  }
  if (js_check(env, napi_get_value_double(env, value, &number)) < 0) return -1;
  /* Flags combined with | in JS become signed 32-bit numbers; accept both forms. */
  if (!(number >= -2147483648.0 && number <= 4294967295.0) || number != (double)(int64_t)number) {
    char msg[160];
    snprintf(msg, sizeof msg, "the \"%s\" argument must be a 32-bit integer", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return -1;
  }
  *out = number < 0 ? (uint32_t)(int32_t)number : (uint32_t)number;
  return 0;
}

int js_bytes(napi_env env, napi_value value, const char *name, void **data, size_t *len) {
  bool is_typed = false;
  if (js_check(env, napi_is_typedarray(env, value, &is_typed)) < 0) return -1;
  if (!is_typed) {
    throw_type(env, name, "a Buffer or Uint8Array");
    return -1;
  }
  napi_typedarray_type kind;
  if (js_check(env, napi_get_typedarray_info(env, value, &kind, len, data, NULL, NULL)) < 0) return -1;
  if (kind != napi_uint8_array) {
    throw_type(env, name, "a Buffer or Uint8Array");
    return -1;
  }
  return 0;
}

void js_throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  const char *code = strerrorname_np(err);
  char unknown[32];
  if (code == NULL) {
    snprintf(unknown, sizeof unknown, "E%d", err);
    code = unknown;
  }
  /* Node's wording: "ENOENT: no such file or directory, mount '/x'". */
  char reason[128];
  snprintf(reason, sizeof reason, "%s", strerror(err));
  reason[0] = (char)tolower((unsigned char)reason[0]);
  char text[512];
  if (path != NULL)
    snprintf(text, sizeof text, "%s: %s, %s '%s'", code, reason, syscall, path);
  else
    snprintf(text, sizeof text, "%s: %s, %s", code, reason, syscall);

  napi_value js_code, js_text, error, value;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code) != napi_ok) return;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &js_text) != napi_ok) return;
  if (napi_create_error(env, js_code, js_text, &error) != napi_ok) return;
  js_set_number(env, error, "errno", -(double)err);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "syscall", value);
  if (path != NULL && napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "path", value);
  napi_throw(env, error);
}

int js_set_number(napi_env env, napi_value obj, const char *name, double number) {
  napi_value value;
  if (js_check(env, napi_create_double(env, number, &value)) < 0) return -1;
  return js_check(env, napi_set_named_property(env, obj, name, value));
}

int js_export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (js_check(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn)) < 0) return -1;
  return js_check(env, napi_set_named_property(env, exports, name, fn));
}
