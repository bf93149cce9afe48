/*
 * didactic-probe: a small static program that tests run inside containers.
 *
 *   didactic-probe report          print one JSON object: what this process sees
 *   didactic-probe hog MB          allocate and touch MB mebibytes, then wait to be killed
 *   didactic-probe forks N         fork N sleeping children, print how many forks succeeded
 *   didactic-probe exit N          exit with status N
 *   didactic-probe sleep SECONDS   sleep (fractions allowed), then exit 0
 *
 * Linked statically so it runs in any root filesystem, even an empty one.
 * Usage errors exit 2; failures are reported on stderr and exit 1.
 */
#include "../common/cleanup.h"
#include "probe.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#define MIB (1024 * 1024)

static int usage(void) {
  fputs("usage: didactic-probe report | hog MB | forks N | exit N | sleep SECONDS\n", stderr);
  return 2;
}

/* Parses a whole decimal number in [min, max]; returns negative with errno EINVAL otherwise. */
static int parse_long(const char *text, long min, long max, long *out) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    errno = EINVAL;
    return -1;
  }
  *out = value;
  return 0;
}

static void wait_forever(void) {
  for (;;) pause();
}

/* Touches every page so the memory is really charged to the cgroup. */
static int run_hog(long mib) {
  for (long done = 0; done < mib; done++) {
    char *chunk = malloc(MIB);
    if (chunk == NULL) {
      fprintf(stderr, "didactic-probe: hog: malloc after %ld MiB: %s\n", done, strerror(errno));
      return 1;
    }
    memset(chunk, 0x5a, MIB);
    printf("allocated %ld MiB\n", done + 1);
    fflush(stdout);
  }
  printf("hog: holding %ld MiB\n", mib);
  fflush(stdout);
  wait_forever();
  return 0;
}

/* Forks children that sleep until killed, so they all count against pids.max at once. */
static int run_forks(long count) {
  CLEANUP_FREE pid_t *children = calloc((size_t)count + 1, sizeof(pid_t));
  if (children == NULL) {
    perror("didactic-probe: forks");
    return 1;
  }
  pid_t parent = getpid();
  long started = 0;
  fflush(stdout);
  while (started < count) {
    pid_t pid = fork();
    if (pid < 0) {
      fprintf(stderr, "didactic-probe: fork %ld: %s\n", started + 1, strerrorname_np(errno));
      break;
    }
    if (pid == 0) {
      /* Die with the parent even if it is killed before it can clean up. */
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      wait_forever();
    }
    children[started++] = pid;
  }
  printf("%ld\n", started);
  fflush(stdout);
  for (long i = 0; i < started; i++) kill(children[i], SIGKILL);
  for (long i = 0; i < started; i++) {
    while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR) {
    }
  }
  return 0;
}

static int run_sleep(const char *text) {
  char *end = NULL;
  double seconds = strtod(text, &end);
  if (end == text || *end != '\0' || !(seconds >= 0) || seconds > 1e9) return usage();
  time_t whole = (time_t)seconds;
  struct timespec left = {whole, (long)((seconds - (double)whole) * 1e9)};
  while (nanosleep(&left, &left) < 0) {
    if (errno != EINTR) {
      perror("didactic-probe: nanosleep");
      return 1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  long number = 0;
  if (argc == 2 && strcmp(argv[1], "report") == 0) {
    if (probe_report(stdout) < 0) {
      perror("didactic-probe: report");
      return 1;
    }
    return 0;
  }
  if (argc != 3) return usage();
  const char *command = argv[1], *arg = argv[2];
  if (strcmp(command, "sleep") == 0) return run_sleep(arg);
  if (strcmp(command, "exit") == 0) return parse_long(arg, 0, 255, &number) < 0 ? usage() : (int)number;
  if (strcmp(command, "hog") == 0) return parse_long(arg, 0, 1L << 30, &number) < 0 ? usage() : run_hog(number);
  if (strcmp(command, "forks") == 0) return parse_long(arg, 0, 1L << 20, &number) < 0 ? usage() : run_forks(number);
  return usage();
}
