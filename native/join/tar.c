/*
 * The container's side of `cp`: a ustar writer and reader that run after the
 * mount namespace was joined, so every path (and every symlink in it) is
 * resolved by the kernel inside the container's own tree and cannot reach
 * the host's files.
 *
 * Written: ustar headers, GNU 'L'/'K' records for names and link targets
 * over 100 bytes, base-256 numbers for values too big for octal. Read: the
 * same plus pax 'x' records (path, linkpath, size, uid, gid, mtime) and the
 * ustar prefix field, which is what the engine's tar writer produces.
 * Header layout: src/snapshot/tar-writer.ts.
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

/* ---- writing ---- */

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

/* ---- reading ---- */

struct pending {
  char *path, *link;
  int has_size, has_uid, has_gid, has_mtime;
  uint64_t size, uid, gid;
  int64_t mtime;
};

struct dir_meta {
  char *path;
  mode_t mode;
  uid_t uid;
  gid_t gid;
  int64_t mtime;
};

static int read_full(int in, void *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t got = read(in, (char *)buf + done, len - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got == 0) return errno = EPROTO, -1;
    done += (size_t)got;
  }
  return 0;
}

static uint64_t get_number(const uint8_t *field, size_t width) {
  uint64_t value = 0;
  if (field[0] & 0x80) {
    for (size_t i = 1; i < width; i++) value = (value << 8) | field[i];
    return value;
  }
  for (size_t i = 0; i < width && field[i] != '\0'; i++)
    if (field[i] >= '0' && field[i] <= '7') value = (value << 3) | (uint64_t)(field[i] - '0');
  return value;
}

/* Reads a body of size bytes (plus padding) into a NUL-terminated buffer, or skips it when out is NULL. */
static int read_body(int in, uint64_t size, char **out) {
  uint64_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
  if (out != NULL) {
    if (size > (16u << 20)) return errno = EFBIG, -1;
    *out = calloc(1, (size_t)padded + 1);
    return *out == NULL ? -1 : read_full(in, *out, (size_t)padded);
  }
  char buf[BLOCK];
  for (uint64_t i = 0; i < padded; i += BLOCK)
    if (read_full(in, buf, BLOCK) < 0) return -1;
  return 0;
}

/* pax records: "<len> <key>=<value>\n" each. */
static void parse_pax(char *body, size_t size, struct pending *p) {
  for (size_t at = 0; at < size;) {
    char *record = body + at, *space = memchr(record, ' ', size - at);
    size_t len = (size_t)strtoull(record, NULL, 10);
    if (space == NULL || len == 0 || len > size - at) return;
    record[len - 1] = '\0';
    char *key = space + 1, *eq = strchr(key, '=');
    at += len;
    if (eq == NULL) continue;
    *eq = '\0';
    char *value = eq + 1;
    if (strcmp(key, "path") == 0) free(p->path), p->path = strdup(value);
    else if (strcmp(key, "linkpath") == 0) free(p->link), p->link = strdup(value);
    else if (strcmp(key, "size") == 0) p->has_size = 1, p->size = strtoull(value, NULL, 10);
    else if (strcmp(key, "uid") == 0) p->has_uid = 1, p->uid = strtoull(value, NULL, 10);
    else if (strcmp(key, "gid") == 0) p->has_gid = 1, p->gid = strtoull(value, NULL, 10);
    else if (strcmp(key, "mtime") == 0) p->has_mtime = 1, p->mtime = strtoll(value, NULL, 10);
  }
}

/* The entry's path below dir: no absolute names, no "..", the first component renamed when asked. */
static int place(const char *dir, const char *name, const char *rename_to, char *out, size_t size) {
  char clean[PATH_MAX] = "";
  size_t len = 0;
  int first = 1;
  if (name[0] == '/') return errno = EINVAL, -1;
  for (const char *part = name; *part != '\0';) {
    size_t n = strcspn(part, "/");
    if (n == 2 && part[0] == '.' && part[1] == '.') return errno = EINVAL, -1;
    if (n > 0 && !(n == 1 && part[0] == '.')) {
      const char *text = first && rename_to != NULL ? rename_to : part;
      size_t text_len = first && rename_to != NULL ? strlen(rename_to) : n;
      if (len + text_len + 2 > sizeof clean) return errno = ENAMETOOLONG, -1;
      if (len > 0) clean[len++] = '/';
      memcpy(clean + len, text, text_len);
      clean[len += text_len] = '\0';
      first = 0;
    }
    part += n;
    while (*part == '/') part++;
  }
  if (len == 0) return 1; /* the archive's root entry itself */
  return (size_t)snprintf(out, size, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, clean) >= size ? (errno = ENAMETOOLONG, -1) : 0;
}

/* Makes room for a new non-directory entry: an existing one is replaced, a directory is an error. */
static int clear_path(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -1;
  if (S_ISDIR(st.st_mode)) return errno = EISDIR, -1;
  return unlink(path);
}

/* The modification time of path (not followed); the access time is left as it is. */
static int set_times(const char *path, int64_t mtime) {
  struct timespec times[2] = {{0, UTIME_OMIT}, {(time_t)mtime, 0}};
  return utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
}

static int extract_file(int in, const char *path, mode_t mode, uid_t uid, gid_t gid, int64_t mtime, uint64_t size) {
  if (clear_path(path) < 0) return -1;
  CLEANUP_FD int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  char buf[65536];
  uint64_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
  for (uint64_t done = 0; done < padded;) {
    size_t want = padded - done < sizeof buf ? (size_t)(padded - done) : sizeof buf;
    if (read_full(in, buf, want) < 0) return -1;
    size_t data = done >= size ? 0 : size - done < want ? (size_t)(size - done) : want;
    if (data > 0 && write_all(fd, buf, data) < 0) return -1;
    done += want;
  }
  /* chown first: it clears setuid bits that chmod then sets again. */
  if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0) return -1;
  struct timespec times[2] = {{0, UTIME_OMIT}, {(time_t)mtime, 0}};
  return futimens(fd, times);
}

int tar_extract(int in, const char *dest, struct failure *f) {
  char dir[PATH_MAX], base[PATH_MAX], path[PATH_MAX];
  const char *rename_to = NULL;
  struct stat st;
  snprintf(dir, sizeof dir, "%s", dest);
  errno = 0;
  if (stat(dest, &st) < 0 || !S_ISDIR(st.st_mode)) {
    if (errno != 0 && errno != ENOENT) return fail(f, "stat", "%s", dest);
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", dest);
    snprintf(base, sizeof base, "%s", basename(copy));
    snprintf(copy, sizeof copy, "%s", dest);
    snprintf(dir, sizeof dir, "%s", dirname(copy));
    if (stat(dir, &st) < 0) return fail(f, "stat", "%s", dir);
    if (!S_ISDIR(st.st_mode)) return errno = ENOTDIR, fail(f, "stat", "%s", dir);
    rename_to = base;
  }
  struct dir_meta *dirs = NULL;
  size_t ndirs = 0;
  struct pending p;
  memset(&p, 0, sizeof p);
  int result = 0;
  for (;;) {
    uint8_t block[BLOCK];
    errno = 0;
    if (read_full(in, block, BLOCK) < 0) {
      result = fail(f, "tar", "read the archive");
      break;
    }
    int zero = 1;
    for (int i = 0; i < BLOCK && zero; i++) zero = block[i] == 0;
    if (zero) break;
    char type = (char)block[156];
    uint64_t size = p.has_size ? p.size : get_number(block + 124, 12);
    char *body = NULL;
    if (type == 'x' || type == 'L' || type == 'K') {
      if (read_body(in, size, &body) < 0) {
        result = fail(f, "tar", "read a %c record", type);
        break;
      }
      if (type == 'x') parse_pax(body, (size_t)size, &p), free(body);
      else if (type == 'L') free(p.path), p.path = body;
      else free(p.link), p.link = body;
      continue;
    }
    if (type == 'g') {
      if (read_body(in, size, NULL) < 0) result = fail(f, "tar", "read a pax global record");
      if (result < 0) break;
      continue;
    }
    char name[PATH_MAX], linkname[PATH_MAX];
    if (p.path != NULL) snprintf(name, sizeof name, "%s", p.path);
    else if (block[345] != '\0' && memcmp(block + 257, "ustar", 5) == 0)
      snprintf(name, sizeof name, "%.155s/%.100s", (const char *)block + 345, (const char *)block);
    else snprintf(name, sizeof name, "%.100s", (const char *)block);
    snprintf(linkname, sizeof linkname, "%s", p.link != NULL ? p.link : "");
    if (p.link == NULL) snprintf(linkname, sizeof linkname, "%.100s", (const char *)block + 157);
    mode_t mode = (mode_t)(get_number(block + 100, 8) & 07777);
    uid_t uid = (uid_t)(p.has_uid ? p.uid : get_number(block + 108, 8));
    gid_t gid = (gid_t)(p.has_gid ? p.gid : get_number(block + 116, 8));
    int64_t mtime = p.has_mtime ? p.mtime : (int64_t)get_number(block + 136, 12);
    free(p.path), free(p.link);
    memset(&p, 0, sizeof p);

    int where = place(dir, name, rename_to, path, sizeof path);
    if (where < 0) {
      result = fail(f, "tar", "refuse the entry %s", name);
      break;
    }
    int ok = 0;
    if (where == 1) {
      ok = read_body(in, type == '0' || type == '\0' || type == '7' ? size : 0, NULL);
    } else if (type == '5') {
      ok = mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
      if (ok == 0 && (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))) ok = -1, errno = errno ? errno : EEXIST;
      struct dir_meta *more = ok == 0 ? realloc(dirs, (ndirs + 1) * sizeof *dirs) : NULL;
      if (ok == 0 && more == NULL) ok = -1;
      if (ok == 0) dirs = more, dirs[ndirs++] = (struct dir_meta){strdup(path), mode, uid, gid, mtime};
    } else if (type == '0' || type == '\0' || type == '7') {
      ok = extract_file(in, path, mode, uid, gid, mtime, size);
    } else if (type == '2') {
      ok = clear_path(path) < 0 || symlink(linkname, path) < 0 || lchown(path, uid, gid) < 0 || set_times(path, mtime) < 0 ? -1 : 0;
    } else if (type == '1') {
      char target[PATH_MAX];
      ok = place(dir, linkname, rename_to, target, sizeof target) != 0 || clear_path(path) < 0 || link(target, path) < 0 ? -1 : 0;
    } else if (type == '3' || type == '4' || type == '6') {
      mode_t kind = type == '3' ? S_IFCHR : type == '4' ? S_IFBLK : S_IFIFO;
      dev_t dev = makedev((unsigned)get_number(block + 329, 8), (unsigned)get_number(block + 337, 8));
      ok = clear_path(path) < 0 || mknod(path, kind | mode, dev) < 0 || lchown(path, uid, gid) < 0 || chmod(path, mode) < 0 ||
                   set_times(path, mtime) < 0 ? -1 : 0;
    } else {
      ok = read_body(in, size, NULL);
    }
    if (ok < 0) {
      result = fail(f, "tar", "extract %s", path);
      break;
    }
  }
  free(p.path), free(p.link);
  /* Directories last, deepest first: their children no longer change their times. */
  for (size_t i = ndirs; i-- > 0;) {
    struct dir_meta *d = &dirs[i];
    if (result == 0 && (d->path == NULL || chown(d->path, d->uid, d->gid) < 0 || chmod(d->path, d->mode) < 0 || set_times(d->path, d->mtime) < 0))
      result = fail(f, "tar", "set the metadata of %s", d->path != NULL ? d->path : "a directory");
    free(d->path);
  }
  free(dirs);
  return result;
}
