/*
 * Scope-bound cleanup for the C parts of didactic-container.
 *
 * A variable declared with one of these attributes is released when it goes
 * out of scope, on every return path, so error paths cannot leak descriptors
 * or memory. The release functions keep errno intact: callers often return
 * right after a failed call and read errno afterwards.
 *
 * Error convention used by all native code: a function that can fail returns a
 * negative number and leaves the reason in errno (like a system call).
 */
#ifndef DIDACTIC_CLEANUP_H
#define DIDACTIC_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void didactic_close_fd(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}

static inline void didactic_free(void *ptr) {
  int saved = errno;
  free(*(void **)ptr);
  errno = saved;
}

static inline void didactic_close_dir(DIR **dir) {
  if (*dir != NULL) {
    int saved = errno;
    closedir(*dir);
    errno = saved;
  }
}

static inline void didactic_close_file(FILE **file) {
  if (*file != NULL) {
    int saved = errno;
    fclose(*file);
    errno = saved;
  }
}

#define CLEANUP_FD __attribute__((cleanup(didactic_close_fd)))
#define CLEANUP_FREE __attribute__((cleanup(didactic_free)))
#define CLEANUP_DIR __attribute__((cleanup(didactic_close_dir)))
#define CLEANUP_FILE __attribute__((cleanup(didactic_close_file)))

#endif
