/*
 * The container's side of `cp`, reading: unpacks a tar stream after the
 * mount namespace was joined, so every path the archive names lands inside
 * the container's own tree, whatever symlinks lie on the way.
 *
 * Understood: ustar (with the prefix field), pax 'x' records (path,
 * linkpath, size, uid, gid, mtime), GNU 'L'/'K' long names; 'g' is skipped.
 * That covers the engine's own tar writer (src/snapshot/tar-writer.ts).
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
