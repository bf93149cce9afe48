/*
 * crc32(bytes): the CRC-32 of zlib and gzip (polynomial 0xEDB88320,
 * reflected), for the CLI's code-cache check. node:zlib has one too, but
 * loading it (and node:stream behind it) costs a short command 3-5 ms; this
 * addon is loaded by nearly every engine command anyway.
 */
#include "js.h"

static uint32_t table[8][256];
static int table_ready;

static void make_table(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[0][n] = c;
  }
  /* Slicing by 8: table[k][n] is the CRC of byte n followed by k zero bytes. */
  for (uint32_t n = 0; n < 256; n++)
    for (int k = 1; k < 8; k++) table[k][n] = (table[k - 1][n] >> 8) ^ table[0][table[k - 1][n] & 0xff];
  table_ready = 1;
}

static uint32_t crc32_of(const uint8_t *p, size_t len) {
  uint32_t c = 0xFFFFFFFFu;
  while (len >= 8) {
    uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
        table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^ table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
    p += 8, len -= 8;
  }
  while (len-- > 0) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

napi_value js_crc32(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  void *data;
  size_t len;
  if (js_args(env, info, 1, argv) < 0 || js_bytes(env, argv[0], "data", &data, &len) < 0) return NULL;
  if (!table_ready) make_table();
  if (js_check(env, napi_create_uint32(env, crc32_of(data, len), &result)) < 0) return NULL;
  return result;
}
