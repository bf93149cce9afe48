/*
 * Starting the native launcher without Node's child_process, and waiting on
 * it and reading its pipes without holding libuv's threadpool.
 *
 * spawnLauncher(file, args, stdio, explain) -> {pid, plan, sync, explain}
 *   Makes the launcher's channels (plan pipe for fd 3, a socketpair for the
 *   bidirectional sync fd 4, an explain pipe for fd 5 when explain is true),
 *   starts `file` with them and with stdio[0..2] (a file descriptor of this
 *   process, or -1 for /dev/null) as its fds 0-2, and returns the parent's
 *   ends (close-on-exec, so no other child of this process inherits them).
 *   The child gets exactly fds 0-5 (0-4 without explain): nothing else.
 *
 *   It is posix_spawn(3): glibc starts the child with clone(CLONE_VM |
 *   CLONE_VFORK) on a stack of its own, so nothing of this process is copied
 *   (libuv's uv_spawn forks the whole address space first: 6-10 ms for a
 *   Node process, against well under 1 ms here), and glibc already does what
 *   a child sharing our memory must: it blocks signals around the clone and
 *   resets the handlers in the child before it runs any of our code, and it
 *   reports an execve failure (ENOENT...) as the call's own error. Like
 *   uv_spawn, it gives the child default dispositions for every signal (Node
 *   ignores SIGPIPE; the container must not inherit that) and an empty mask.
 *   (Unlike uv_spawn it does not start a new process group or session; nor
 *   did the launcher's spawn, which was not detached.)
 *
 * waitExit(pid) -> Promise<{code, signal}>
 *   Waits on a thread of its own for the child to end, then reaps it on the
 *   JavaScript thread: the wait is waitid(WNOWAIT), which leaves the zombie,
 *   so until the promise settles the pid cannot be reused and kill(pid) from
 *   JavaScript can only reach our child. It waits for that pid only, and
 *   libuv's SIGCHLD handler waitpid()s only the pids of its own process
 *   handles: neither can take the other's child.
 *
 * readFd(fd, length) -> Promise<Buffer> (empty at EOF)
 *   One blocking read(2) on a thread of its own.
 *
 * Why threads of our own rather than napi async work: a container's wait
 * lasts as long as the container. On libuv's threadpool (4 threads) a few
 * foreground containers would block every fs.promises call, dns.lookup and
 * zlib job of the process, and the reads their own launch still needs.
 */
#include "../common/cleanup.h"
#include "js.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The child's fds: 0-2 stdio, 3 plan, 4 sync, 5 explain. */
#define CHILD_FDS 6
/* Sources are first copied at or above this number, so that no dup2 onto 0-5 overwrites another source. */
#define SOURCE_FLOOR 10

/* Cleanup for an array of CHILD_FDS descriptors (-1: none). */
static void close_child_fds(int (*fds)[CHILD_FDS]) {
  int saved = errno;
  for (int i = 0; i < CHILD_FDS; i++)
    if ((*fds)[i] >= 0) close((*fds)[i]);
  errno = saved;
}

static void free_strings(char **list) {
  if (list == NULL) return;
  for (char **s = list; *s != NULL; s++) free(*s);
  free(list);
}

static void free_string_list(char ***list) {
  free_strings(*list);
}

/* argv for execve: file, then the strings of the args array; NULL-terminated. */
static int read_argv(napi_env env, napi_value array, const char *file, char ***out) {
  bool is_array = false;
  uint32_t count = 0;
  *out = NULL;
  if (js_check(env, napi_is_array(env, array, &is_array)) < 0) return -1;
  if (!is_array) return napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "the \"args\" argument must be an array of strings"), -1;
  if (js_check(env, napi_get_array_length(env, array, &count)) < 0) return -1;
  char **argv = calloc((size_t)count + 2, sizeof *argv);
  if (argv == NULL) return js_throw_errno(env, ENOMEM, "malloc", NULL), -1;
  argv[0] = strdup(file);
  if (argv[0] == NULL) return free(argv), js_throw_errno(env, ENOMEM, "malloc", NULL), -1;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    if (js_check(env, napi_get_element(env, array, i, &item)) < 0 || js_string(env, item, "args[]", 0, &argv[i + 1]) < 0)
      return free_strings(argv), -1;
  }
  *out = argv;
  return 0;
}

/* The three stdio fds: an integer >= 0 is passed on, -1 means /dev/null. */
static int read_stdio(napi_env env, napi_value array, int stdio[3]) {
  bool is_array = false;
  uint32_t count = 0;
  if (js_check(env, napi_is_array(env, array, &is_array)) < 0) return -1;
  if (is_array && js_check(env, napi_get_array_length(env, array, &count)) < 0) return -1;
  if (!is_array || count != 3)
    return napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "the \"stdio\" argument must be an array of three fds (-1: /dev/null)"), -1;
  for (uint32_t i = 0; i < 3; i++) {
    napi_value item;
    int32_t fd;
    napi_valuetype type;
    if (js_check(env, napi_get_element(env, array, i, &item)) < 0 || js_check(env, napi_typeof(env, item, &type)) < 0) return -1;
    if (type != napi_number || js_check(env, napi_get_value_int32(env, item, &fd)) < 0 || fd < -1)
      return napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "the \"stdio\" argument must be an array of three fds (-1: /dev/null)"), -1;
    stdio[i] = fd;
  }
  return 0;
}

/* Moves a pair from pipe2/socketpair into two variables. */
static void take_pair(const int pair[2], int *first, int *second) {
  *first = pair[0];
  *second = pair[1];
}

/* Starts the child; returns 0 or an errno value, with *syscall naming the failed call. */
static int start_child(const char *file, char **argv, const int stdio[3], int explain, pid_t *pid, int parent[3], const char **syscall) {
  /* The parent's ends (moved out on success), the child's ends, /dev/null: all closed here on return. */
  CLEANUP_FD int plan_out = -1, plan_in = -1, sync_mine = -1, sync_child = -1, lines_mine = -1, lines_child = -1, null_fd = -1;
  /* sources[i], at or above SOURCE_FLOOR, becomes the child's fd i. */
  __attribute__((cleanup(close_child_fds))) int sources[CHILD_FDS] = {-1, -1, -1, -1, -1, -1};
  int pair[2];

  *syscall = "pipe2";
  if (pipe2(pair, O_CLOEXEC) < 0) return errno;
  take_pair(pair, &plan_in, &plan_out);
  *syscall = "socketpair";
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) return errno;
  take_pair(pair, &sync_mine, &sync_child);
  *syscall = "pipe2";
  if (explain) {
    if (pipe2(pair, O_CLOEXEC) < 0) return errno;
    take_pair(pair, &lines_mine, &lines_child);
  }
  *syscall = "open";
  if ((stdio[0] < 0 || stdio[1] < 0 || stdio[2] < 0) && (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) return errno;
  const int wanted[CHILD_FDS] = {stdio[0] >= 0 ? stdio[0] : null_fd, stdio[1] >= 0 ? stdio[1] : null_fd,
                                 stdio[2] >= 0 ? stdio[2] : null_fd, plan_in, sync_child, lines_child};
  *syscall = "fcntl";
  for (int i = 0; i < CHILD_FDS; i++)
    if (wanted[i] >= 0 && (sources[i] = fcntl(wanted[i], F_DUPFD_CLOEXEC, SOURCE_FLOOR)) < 0) return errno;

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t none, all;
  int err;
  *syscall = "posix_spawn";
  if ((err = posix_spawn_file_actions_init(&actions)) != 0) return err;
  if ((err = posix_spawnattr_init(&attr)) != 0) return posix_spawn_file_actions_destroy(&actions), err;
  sigemptyset(&none);
  /*
   * Every signal back to SIG_DFL, glibc's own two (32 and 33) too: sigfillset
   * leaves those out, and posix_spawn then sets them to SIG_IGN in the
   * child, which the container's process would inherit through execve
   * (uv_spawn resets all of them). Setting every bit of the set by hand is
   * the only way to name them; posix_spawn only tests the bits.
   */
  memset(&all, 0xff, sizeof all);
  for (int i = 0; i < CHILD_FDS && err == 0; i++)
    if (sources[i] >= 0) err = posix_spawn_file_actions_adddup2(&actions, sources[i], i);
  /* Without explain fd 5 stays closed: the launcher tells from that whether to explain. */
  if (err == 0) err = posix_spawn_file_actions_addclosefrom_np(&actions, explain ? CHILD_FDS : CHILD_FDS - 1);
  if (err == 0) err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr, &none);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &all);
  if (err == 0) err = posix_spawn(pid, file, &actions, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return err;
  parent[0] = plan_out, plan_out = -1;
  parent[1] = sync_mine, sync_mine = -1;
  parent[2] = lines_mine, lines_mine = -1;
  return 0;
}

/* spawnLauncher(file, args, stdio, explain) -> {pid, plan, sync, explain} */
napi_value js_spawn_launcher(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  CLEANUP_FREE char *file = NULL;
  __attribute__((cleanup(free_string_list))) char **args = NULL;
  int stdio[3];
  bool explain = false;
  if (js_args(env, info, 4, argv) < 0) return NULL;
  if (js_string(env, argv[0], "file", 0, &file) < 0 || read_argv(env, argv[1], file, &args) < 0 || read_stdio(env, argv[2], stdio) < 0 ||
      js_check(env, napi_get_value_bool(env, argv[3], &explain)) < 0)
    return NULL;
  pid_t pid = -1;
  int parent[3] = {-1, -1, -1};
  const char *syscall = "posix_spawn";
  int err = start_child(file, args, stdio, explain, &pid, parent, &syscall);
  if (err != 0) return js_throw_errno(env, err, syscall, file), NULL;
  if (js_check(env, napi_create_object(env, &result)) < 0 || js_set_number(env, result, "pid", pid) < 0 ||
      js_set_number(env, result, "plan", parent[0]) < 0 || js_set_number(env, result, "sync", parent[1]) < 0 ||
      js_set_number(env, result, "explain", parent[2]) < 0) {
    /* The child runs; without its fds it reads EOF on fd 3 and exits. Reap it so it leaves no zombie. */
    for (int i = 0; i < 3; i++)
      if (parent[i] >= 0) close(parent[i]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    return NULL;
  }
  return result;
}

/*
 * A blocking call on a thread of its own, finished on the JavaScript thread
 * through a thread-safe function (which also keeps the event loop alive
 * meanwhile, as a child process handle or a pending read would).
 */
struct thread_job {
  napi_threadsafe_function tsfn;
  napi_deferred deferred;
  void (*run)(struct thread_job *job);
  void (*finish)(napi_env env, struct thread_job *job);
  int err;
  int fd;
  pid_t pid;
  siginfo_t exit;
  size_t length;
  ssize_t got;
  char *buffer;
};

static void free_job(struct thread_job *job) {
  free(job->buffer);
  free(job);
}

static void reject_errno(napi_env env, napi_deferred deferred, int err, const char *syscall) {
  napi_value error = NULL;
  js_throw_errno(env, err, syscall, NULL);
  if (napi_get_and_clear_last_exception(env, &error) != napi_ok || error == NULL) napi_get_undefined(env, &error);
  napi_reject_deferred(env, deferred, error);
}

static void call_finish(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb, (void)context;
  struct thread_job *job = data;
  if (env != NULL) job->finish(env, job); /* NULL: the environment is going away */
  free_job(job);
}

static void *thread_main(void *data) {
  struct thread_job *job = data;
  napi_threadsafe_function tsfn = job->tsfn;
  job->run(job);
  /* After this call the job belongs to the JavaScript thread (call_finish frees it). */
  if (napi_call_threadsafe_function(tsfn, job, napi_tsfn_blocking) != napi_ok) free_job(job);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

/* Queues job; returns its promise, or NULL with an exception pending (the job is freed). */
static napi_value start_thread_job(napi_env env, struct thread_job *job, const char *name) {
  napi_value promise, resource_name;
  pthread_t thread;
  pthread_attr_t attr;
  sigset_t all, old;
  if (js_check(env, napi_create_promise(env, &job->deferred, &promise)) < 0 ||
      js_check(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name)) < 0 ||
      js_check(env, napi_create_threadsafe_function(env, NULL, NULL, resource_name, 0, 1, NULL, NULL, NULL, call_finish, &job->tsfn)) < 0) {
    free_job(job);
    return NULL;
  }
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  /* Signals for the process stay with Node's threads: the new thread starts with all of them blocked. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&thread, &attr, thread_main, job);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    napi_release_threadsafe_function(job->tsfn, napi_tsfn_abort);
    reject_errno(env, job->deferred, err, "pthread_create");
    free_job(job);
  }
  return promise;
}

static void wait_run(struct thread_job *job) {
  memset(&job->exit, 0, sizeof job->exit);
  while (waitid(P_PID, (id_t)job->pid, &job->exit, WEXITED | WNOWAIT) < 0) {
    if (errno != EINTR) {
      job->err = errno;
      return;
    }
  }
}

/* Sets obj[name] to number, or to null when number is negative. */
static int set_number_or_null(napi_env env, napi_value obj, const char *name, int number) {
  napi_value value;
  if (number >= 0) return js_set_number(env, obj, name, number);
  if (js_check(env, napi_get_null(env, &value)) < 0) return -1;
  return js_check(env, napi_set_named_property(env, obj, name, value));
}

static void wait_finish(napi_env env, struct thread_job *job) {
  napi_value result, error;
  if (job->err != 0) return reject_errno(env, job->deferred, job->err, "waitid");
  /* Reap it now, on the thread that also sends it signals. */
  while (waitpid(job->pid, NULL, WNOHANG) < 0 && errno == EINTR) {}
  int exited = job->exit.si_code == CLD_EXITED;
  if (js_check(env, napi_create_object(env, &result)) < 0 ||
      set_number_or_null(env, result, "code", exited ? job->exit.si_status : -1) < 0 ||
      set_number_or_null(env, result, "signal", exited ? -1 : job->exit.si_status) < 0) {
    if (napi_get_and_clear_last_exception(env, &error) != napi_ok || error == NULL) napi_get_undefined(env, &error);
    napi_reject_deferred(env, job->deferred, error);
    return;
  }
  napi_resolve_deferred(env, job->deferred, result);
}

/* waitExit(pid) -> Promise<{code: number|null, signal: number|null}> */
napi_value js_wait_exit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t pid = 0;
  if (js_args(env, info, 1, argv) < 0) return NULL;
  if (js_check(env, napi_get_value_int32(env, argv[0], &pid)) < 0) return NULL;
  if (pid <= 0) return napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "the \"pid\" argument must be a positive integer"), NULL;
  struct thread_job *job = calloc(1, sizeof *job);
  if (job == NULL) return js_throw_errno(env, ENOMEM, "malloc", NULL), NULL;
  job->pid = pid;
  job->run = wait_run;
  job->finish = wait_finish;
  return start_thread_job(env, job, "waitExit");
}

static void read_run(struct thread_job *job) {
  while ((job->got = read(job->fd, job->buffer, job->length)) < 0 && errno == EINTR) {}
  if (job->got < 0) job->err = errno;
}

static void read_finish(napi_env env, struct thread_job *job) {
  napi_value buffer, error;
  if (job->err != 0) return reject_errno(env, job->deferred, job->err, "read");
  if (js_check(env, napi_create_buffer_copy(env, (size_t)job->got, job->buffer, NULL, &buffer)) < 0) {
    if (napi_get_and_clear_last_exception(env, &error) != napi_ok || error == NULL) napi_get_undefined(env, &error);
    napi_reject_deferred(env, job->deferred, error);
    return;
  }
  napi_resolve_deferred(env, job->deferred, buffer);
}

/* readFd(fd, length) -> Promise<Buffer>, empty at EOF */
napi_value js_read_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t fd = 0, length = 0;
  if (js_args(env, info, 2, argv) < 0) return NULL;
  if (js_uint32(env, argv[0], "fd", &fd) < 0 || js_uint32(env, argv[1], "length", &length) < 0) return NULL;
  if (fd > INT32_MAX || length == 0 || length > 1024 * 1024)
    return napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "readFd: fd must be an fd and length 1 to 1 MiB"), NULL;
  struct thread_job *job = calloc(1, sizeof *job);
  if (job == NULL) return js_throw_errno(env, ENOMEM, "malloc", NULL), NULL;
  job->buffer = malloc(length);
  if (job->buffer == NULL) return free(job), js_throw_errno(env, ENOMEM, "malloc", NULL), NULL;
  job->fd = (int)fd;
  job->length = length;
  job->run = read_run;
  job->finish = read_finish;
  return start_thread_job(env, job, "readFd");
}
