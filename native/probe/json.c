/* Streaming JSON writer (see json.h). */
#include "json.h"

void json_init(struct json *j, FILE *out) {
  j->out = out;
  j->depth = 0;
  j->count[0] = 0;
}

static void write_escaped(FILE *out, const char *text) {
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
    switch (*c) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    default:
      /* Control bytes are escaped; other bytes pass through (env may hold any UTF-8). */
      if (*c < 0x20) fprintf(out, "\\u%04x", *c);
      else fputc(*c, out);
    }
  }
  fputc('"', out);
}

/* Writes the separator and the key that come before any value. */
static void before_value(struct json *j, const char *key) {
  if (j->count[j->depth]++ > 0) fputc(',', j->out);
  if (key != NULL) {
    write_escaped(j->out, key);
    fputc(':', j->out);
  }
}

static void open_container(struct json *j, const char *key, char bracket) {
  before_value(j, key);
  fputc(bracket, j->out);
  if (j->depth + 1 < JSON_MAX_DEPTH) j->depth++;
  j->count[j->depth] = 0;
}

static void close_container(struct json *j, char bracket) {
  fputc(bracket, j->out);
  if (j->depth > 0) j->depth--;
}

void json_begin_object(struct json *j, const char *key) { open_container(j, key, '{'); }
void json_end_object(struct json *j) { close_container(j, '}'); }
void json_begin_array(struct json *j, const char *key) { open_container(j, key, '['); }
void json_end_array(struct json *j) { close_container(j, ']'); }

void json_string(struct json *j, const char *key, const char *value) {
  before_value(j, key);
  if (value == NULL) fputs("null", j->out);
  else write_escaped(j->out, value);
}

void json_int(struct json *j, const char *key, long long value) {
  before_value(j, key);
  fprintf(j->out, "%lld", value);
}

void json_bool(struct json *j, const char *key, int value) {
  before_value(j, key);
  fputs(value ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key) {
  before_value(j, key);
  fputs("null", j->out);
}
