/* Docker json-file log lines (see json-log.h). */
#include "json-log.h"
#include "report.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int log_fd = -1;

/* Bytes of an unfinished line, per stream; static so an idle monitor touches no more than it uses. */
static char pending[2][LOG_LINE_MAX];
static size_t pending_len[2];

/* One JSON line is built here and written when full or done. */
static char out[8192];
static size_t out_len;

static void out_flush(void) {
  if (out_len > 0 && log_fd >= 0) write_all(log_fd, out, out_len);
  out_len = 0;
}

static void out_put(const char *text, size_t len) {
  while (len > 0) {
    if (out_len == sizeof out) out_flush();
    size_t n = sizeof out - out_len < len ? sizeof out - out_len : len;
    memcpy(out + out_len, text, n);
    out_len += n, text += n, len -= n;
  }
}

static void out_str(const char *text) {
  out_put(text, strlen(text));
}

/* Length of the valid UTF-8 sequence at s (at most left bytes), or 0 when it is not one. */
static size_t utf8_length(const unsigned char *s, size_t left) {
  size_t need;
  uint32_t min, code;
  if (s[0] < 0x80) return 1;
  if ((s[0] & 0xe0) == 0xc0) need = 2, min = 0x80, code = s[0] & 0x1f;
  else if ((s[0] & 0xf0) == 0xe0) need = 3, min = 0x800, code = s[0] & 0x0f;
  else if ((s[0] & 0xf8) == 0xf0) need = 4, min = 0x10000, code = s[0] & 0x07;
  else return 0;
  if (need > left) return 0;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    code = (code << 6) | (s[i] & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return need;
}

static void out_escaped(const unsigned char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  char esc[8];
  for (size_t i = 0; i < len;) {
    unsigned char c = s[i];
    const char *rep = NULL;
    if (c == '"') rep = "\\\"";
    else if (c == '\\') rep = "\\\\";
    else if (c == '\n') rep = "\\n";
    else if (c == '\r') rep = "\\r";
    else if (c == '\t') rep = "\\t";
    else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15], esc[6] = '\0';
      rep = esc;
    }
    if (rep != NULL) {
      out_str(rep);
      i++;
      continue;
    }
    size_t n = utf8_length(s + i, len - i);
    if (n == 0) {
      out_str("\\ufffd");
      i++;
    } else if (n == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
      out_str(s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
      i += 3;
    } else {
      out_put((const char *)s + i, n);
      i += n;
    }
  }
}

void format_time_now(char *buf, size_t size) {
  struct timespec now;
  struct tm tm;
  char frac[16];
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  size_t len = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(frac, sizeof frac, ".%09ld", now.tv_nsec);
  size_t flen = strlen(frac);
  while (flen > 1 && frac[flen - 1] == '0') frac[--flen] = '\0';
  if (flen == 1) frac[0] = '\0';
  snprintf(buf + len, size - len, "%sZ", frac);
}

static void write_entry(enum log_stream stream, const char *text, size_t len) {
  char time[48];
  format_time_now(time, sizeof time);
  out_str("{\"log\":\"");
  out_escaped((const unsigned char *)text, len);
  out_str(stream == LOG_STDOUT ? "\",\"stream\":\"stdout\",\"time\":\"" : "\",\"stream\":\"stderr\",\"time\":\"");
  out_str(time);
  out_str("\"}\n");
  out_flush();
}

void log_init(int fd) {
  log_fd = fd;
}

void log_take(enum log_stream stream, const char *data, size_t len) {
  char *buf = pending[stream];
  size_t *have = &pending_len[stream];
  while (len > 0) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl != NULL ? (size_t)(nl - data) + 1 : len;
    if (take > LOG_LINE_MAX - *have) take = LOG_LINE_MAX - *have;
    int complete = take > 0 && data[take - 1] == '\n';
    if (*have == 0 && complete) {
      write_entry(stream, data, take); /* a whole line in one read: no copy */
    } else {
      memcpy(buf + *have, data, take);
      *have += take;
      if (complete || *have == LOG_LINE_MAX) write_entry(stream, buf, *have), *have = 0;
    }
    data += take, len -= take;
  }
}

void log_flush_partial(void) {
  for (int s = 0; s < 2; s++) {
    if (pending_len[s] > 0) write_entry((enum log_stream)s, pending[s], pending_len[s]);
    pending_len[s] = 0;
  }
}
