/* Helpers of the monitor: atomic files in the run dir and line I/O on sync sockets. */
#ifndef DIDACTIC_LAUNCHER_MONITOR_FILES_H
#define DIDACTIC_LAUNCHER_MONITOR_FILES_H

#include <stddef.h>

/* Writes name in dir_fd through ".name.tmp": write, fsync, rename, fsync the dir. */
int write_atomic(int dir_fd, const char *name, const char *text);

/* Writes "<prefix><number>\n" to fd. */
int write_number_line(int fd, const char *prefix, long number);

/* Reads one line (with its '\n') into line, NUL-terminated; returns its length, 0 at EOF. */
int read_line(int fd, char *line, size_t size);

/* Reads the first line, then everything else until EOF. */
void drain_line(int fd, char *line, size_t size);

#endif
