/*
 * A minimal streaming JSON writer for the probe's report: values are written
 * as they are produced, commas and escaping are handled here. Pass key NULL
 * for values inside arrays and for the top-level value.
 */
#ifndef DIDACTIC_PROBE_JSON_H
#define DIDACTIC_PROBE_JSON_H

#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
  FILE *out;
  int depth;
  int count[JSON_MAX_DEPTH]; /* values written so far at each depth */
};

void json_init(struct json *j, FILE *out);
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);
void json_string(struct json *j, const char *key, const char *value); /* NULL -> null */
void json_int(struct json *j, const char *key, long long value);
void json_bool(struct json *j, const char *key, int value);
void json_null(struct json *j, const char *key);

#endif
