/*
 * The container's side of `cp`, writing: a ustar archive of a path, made
 * after the mount namespace was joined, so every path (and every symlink in
 * it) is resolved by the kernel inside the container's own tree.
 *
 * ustar headers, GNU 'L'/'K' records for names and link targets over 100
 * bytes, base-256 numbers for values too big for octal. Symlinks are
 * archived as links, never followed. Header layout: src/snapshot/tar-writer.ts.
 */
#include "join.h"
#include "../common/cleanup.h"

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define BLOCK 512


/* An octal field of width bytes (NUL last), or base-256 when the value does not fit. */
static void put_number(uint8_t *field, size_t width, uint64_t value) {
  if (value < (1ULL << (3 * (width - 1)))) {
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0; value >>= 3) field[i] = (uint8_t)('0' + (value & 7));
    return;
  }
  memset(field, 0, width);
  for (size_t i = width - 1; i > 0; i--, value >>= 8) field[i] = (uint8_t)(value & 0xff);
  field[0] = 0x80;
}

static void put_checksum(uint8_t *block) {
  unsigned sum = 0;
  memset(block + 148, ' ', 8);
  for (int i = 0; i < BLOCK; i++) sum += block[i];
  snprintf((char *)block + 148, 8, "%06o", sum);
  block[155] = ' ';
}

static int write_padded(int out, const void *data, size_t len) {
  static const char zeros[BLOCK];
  if (write_all(out, data, len) < 0) return -1;
  return len % BLOCK == 0 ? 0 : write_all(out, zeros, BLOCK - len % BLOCK);
}

/* A GNU long name ('L') or long link ('K') record for text over 100 bytes. */
static int write_long(int out, char type, const char *text) {
  uint8_t block[BLOCK] = {0};
  size_t len = strlen(text) + 1;
  memcpy(block, "././@LongLink", 13);
  put_number(block + 100, 8, 0), put_number(block + 108, 8, 0), put_number(block + 116, 8, 0);
  put_number(block + 124, 12, len), put_number(block + 136, 12, 0);
  block[156] = (uint8_t)type;
  memcpy(block + 257, "ustar\0" "00", 8);
  put_checksum(block);
  return write_all(out, (const char *)block, BLOCK) < 0 ? -1 : write_padded(out, text, len);
}

static int write_header(int out, const char *name, const char *link, const struct stat *st, char type, uint64_t size) {
  uint8_t block[BLOCK] = {0};
  if (strlen(name) > 100 && write_long(out, 'L', name) < 0) return -1;
  if (link != NULL && strlen(link) > 100 && write_long(out, 'K', link) < 0) return -1;
  memcpy(block, name, strnlen(name, 100));
  put_number(block + 100, 8, st->st_mode & 07777);
  put_number(block + 108, 8, st->st_uid), put_number(block + 116, 8, st->st_gid);
  put_number(block + 124, 12, size), put_number(block + 136, 12, (uint64_t)st->st_mtim.tv_sec);
  block[156] = (uint8_t)type;
  if (link != NULL) memcpy(block + 157, link, strnlen(link, 100));
  memcpy(block + 257, "ustar\0" "00", 8);
  if (type == '3' || type == '4') put_number(block + 329, 8, major(st->st_rdev)), put_number(block + 337, 8, minor(st->st_rdev));
  put_checksum(block);
  return write_all(out, (const char *)block, BLOCK);
}

/* Copies exactly size bytes of fd (zeros if the file shrank meanwhile), padded to a block. */
static int write_body(int out, int fd, uint64_t size) {
  char buf[65536];
  uint64_t left = size;
  while (left > 0) {
    size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
    ssize_t got = read(fd, buf, want);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got == 0) memset(buf, 0, want), got = (ssize_t)want;
    if (write_all(out, buf, (size_t)got) < 0) return -1;
    left -= (uint64_t)got;
  }
  static const char zeros[BLOCK];
  return size % BLOCK == 0 ? 0 : write_all(out, zeros, BLOCK - size % BLOCK);
}

static int add_entry(int out, const char *path, const char *name, struct failure *f) {
  struct stat st;
  char entry[PATH_MAX + 2];
  if (lstat(path, &st) < 0) return fail(f, "lstat", "%s", path);
  if (S_ISREG(st.st_mode)) {
    CLEANUP_FD int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) return fail(f, "open", "%s", path);
    if (write_header(out, name, NULL, &st, '0', (uint64_t)st.st_size) < 0 || write_body(out, fd, (uint64_t)st.st_size) < 0)
      return fail(f, "tar", "write %s", path);
    return 0;
  }
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len < 0) return fail(f, "readlink", "%s", path);
    target[len] = '\0';
    return write_header(out, name, target, &st, '2', 0) < 0 ? fail(f, "tar", "write %s", path) : 0;
  }
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
    char type = S_ISCHR(st.st_mode) ? '3' : S_ISBLK(st.st_mode) ? '4' : '6';
    return write_header(out, name, NULL, &st, type, 0) < 0 ? fail(f, "tar", "write %s", path) : 0;
  }
  if (!S_ISDIR(st.st_mode)) return 0; /* sockets are not copied */
  snprintf(entry, sizeof entry, "%s/", name);
  if (write_header(out, entry, NULL, &st, '5', 0) < 0) return fail(f, "tar", "write %s", path);
  CLEANUP_DIR DIR *dir = opendir(path);
  if (dir == NULL) return fail(f, "opendir", "%s", path);
  for (struct dirent *d; (errno = 0, d = readdir(dir)) != NULL;) {
    if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
    char child[PATH_MAX], child_name[PATH_MAX];
    if ((size_t)snprintf(child, sizeof child, "%s/%s", strcmp(path, "/") == 0 ? "" : path, d->d_name) >= sizeof child ||
        (size_t)snprintf(child_name, sizeof child_name, "%s/%s", name, d->d_name) >= sizeof child_name)
      return errno = ENAMETOOLONG, fail(f, "tar", "%s/%s", path, d->d_name);
    if (add_entry(out, child, child_name, f) < 0) return -1;
  }
  return errno != 0 ? fail(f, "readdir", "%s", path) : 0;
}

int tar_create(int out, const char *path, const char *name, struct failure *f) {
  static const char end[2 * BLOCK];
  if (add_entry(out, path, name, f) < 0) return -1;
  return write_all(out, end, sizeof end) < 0 ? fail(f, "tar", "write the end of the archive") : 0;
}

