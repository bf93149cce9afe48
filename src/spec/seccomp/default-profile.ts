/**
 * A seccomp profile with the same effect as Docker's default
 * (moby/profiles/seccomp/default.json), written as our own data: groups of
 * syscalls by what they are for, then the ones that need a capability, then
 * the ones allowed only with certain arguments.
 *
 * Anything not listed fails with EPERM. Syscalls newer than every syscall
 * named here fail with ENOSYS instead (the compiler does that), so that
 * libcs probing for a new syscall fall back to an old one, as under runc.
 */
import type { LinuxSeccompArg } from '../types.js';
import type { ProfileRule, SeccompProfile } from './profile.js';

const words = (text: string): string[] => text.trim().split(/\s+/);

/** Syscalls every container may make, grouped by purpose (32-bit variants included). */
const ALWAYS_ALLOWED: Record<string, string> = {
  files: `
    access faccessat faccessat2 open openat openat2 creat close close_range read readv pread64 preadv preadv2
    write writev pwrite64 pwritev pwritev2 lseek _llseek dup dup2 dup3 fcntl fcntl64 flock fsync fdatasync
    sync syncfs sync_file_range fadvise64 fadvise64_64 fallocate readahead truncate truncate64 ftruncate
    ftruncate64 copy_file_range sendfile sendfile64 splice tee vmsplice`,
  metadata: `
    stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat statx statfs statfs64 fstatfs fstatfs64
    chmod fchmod fchmodat chown chown32 fchown fchown32 fchownat lchown lchown32 utime utimes utimensat
    utimensat_time64 futimesat umask name_to_handle_at`,
  xattrs: `
    getxattr lgetxattr fgetxattr setxattr lsetxattr fsetxattr listxattr llistxattr flistxattr removexattr
    lremovexattr fremovexattr`,
  directories: `
    chdir fchdir getcwd mkdir mkdirat rmdir getdents getdents64 link linkat unlink unlinkat symlink symlinkat
    readlink readlinkat rename renameat renameat2 mknod mknodat`,
  waiting: `
    poll ppoll ppoll_time64 select _newselect pselect6 pselect6_time64 epoll_create epoll_create1 epoll_ctl
    epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait epoll_pwait2 eventfd eventfd2 signalfd signalfd4
    timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 inotify_init
    inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark pipe pipe2`,
  asyncIo: `
    io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents io_pgetevents_time64 io_uring_setup
    io_uring_enter io_uring_register ioctl`,
  memory: `
    brk mmap mmap2 munmap mremap mprotect madvise mincore msync mlock mlock2 mlockall munlock munlockall
    remap_file_pages membarrier memfd_create memfd_secret pkey_alloc pkey_free pkey_mprotect`,
  processes: `
    fork vfork execve execveat exit exit_group wait4 waitid waitpid getpid getppid gettid getpgid setpgid
    getpgrp getsid setsid set_tid_address set_robust_list get_robust_list set_thread_area get_thread_area
    rseq restart_syscall prctl seccomp getcpu pidfd_open pidfd_send_signal process_mrelease
    landlock_create_ruleset landlock_add_rule landlock_restrict_self futex futex_time64 futex_waitv`,
  identity: `
    getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32 getresuid getresuid32 getresgid
    getresgid32 getgroups getgroups32 setuid setuid32 setgid setgid32 setreuid setreuid32 setregid setregid32
    setresuid setresuid32 setresgid setresgid32 setfsuid setfsuid32 setfsgid setfsgid32 setgroups setgroups32
    capget capset`,
  limitsAndScheduling: `
    getrlimit ugetrlimit setrlimit prlimit64 getrusage getpriority setpriority ioprio_get ioprio_set
    sched_yield sched_getaffinity sched_setaffinity sched_getattr sched_setattr sched_getparam
    sched_setparam sched_getscheduler sched_setscheduler sched_get_priority_max sched_get_priority_min
    sched_rr_get_interval sched_rr_get_interval_time64`,
  signals: `
    kill tkill tgkill rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_tgsigqueueinfo
    rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 sigaltstack sigprocmask sigreturn
    pause alarm`,
  time: `
    time gettimeofday clock_gettime clock_gettime64 clock_getres clock_getres_time64 clock_nanosleep
    clock_nanosleep_time64 nanosleep clock_adjtime clock_adjtime64 adjtimex times getitimer setitimer
    timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64`,
  network: `
    socketpair socketcall bind connect listen accept accept4 getsockname getpeername getsockopt setsockopt
    send sendto sendmsg sendmmsg recv recvfrom recvmsg recvmmsg recvmmsg_time64 shutdown`,
  sysvAndPosixIpc: `
    ipc shmget shmat shmdt shmctl semget semop semtimedop semtimedop_time64 semctl msgget msgsnd msgrcv
    msgctl mq_open mq_unlink mq_timedsend mq_timedsend_time64 mq_timedreceive mq_timedreceive_time64
    mq_notify mq_getsetattr`,
  system: `uname sysinfo getrandom`,
};

const allow = (names: string, extra: Partial<ProfileRule> = {}): ProfileRule => ({
  names: words(names),
  action: 'SCMP_ACT_ALLOW',
  ...extra,
});

/** Allowed only when the container holds every capability listed. */
const withCaps = (caps: string[], names: string): ProfileRule => allow(names, { includes: { caps } });
/** Allowed only on the architectures listed (Go names). */
const onArches = (arches: string[], names: string): ProfileRule => allow(names, { includes: { arches } });
const argEquals = (index: number, value: number): LinuxSeccompArg => ({ index, value, op: 'SCMP_CMP_EQ' });

/**
 * The namespace flags of clone(2): CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC
 * | NEWUSER | NEWPID | NEWNET = 0x7e020000. Without CAP_SYS_ADMIN a clone
 * with any of them is denied.
 */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** personality(2) values allowed: PER_LINUX, PER_LINUX32, UNAME26, both, and the query 0xffffffff. */
export const ALLOWED_PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** AF_VSOCK: sockets of this family are refused. */
const AF_VSOCK = 40;

const RULES: ProfileRule[] = [
  allow(Object.values(ALWAYS_ALLOWED).join(' ')),
  // Restricted by Yama and the kernel itself since 4.8, so safe without CAP_SYS_PTRACE there.
  allow('process_vm_readv process_vm_writev ptrace', { includes: { minKernel: '4.8' } }),
  allow('socket', { args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] }),
  ...ALLOWED_PERSONALITIES.map((value) => allow('personality', { args: [argEquals(0, value)] })),

  onArches(['ppc64le'], 'sync_file_range2 swapcontext'),
  onArches(['arm', 'arm64'], 'arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'),
  onArches(['amd64', 'x32'], 'arch_prctl'),
  onArches(['amd64', 'x32', 'x86'], 'modify_ldt'),
  onArches(['s390', 's390x'], 's390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'),
  onArches(['riscv64'], 'riscv_flush_icache'),

  withCaps(['CAP_DAC_READ_SEARCH'], 'open_by_handle_at'),
  withCaps(
    ['CAP_SYS_ADMIN'],
    `bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr
     move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount
     umount2 unshare`,
  ),
  // Without CAP_SYS_ADMIN: clone only without namespace flags (the flags are
  // the first argument, except on s390 where they are the second).
  allow('clone', {
    args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] },
  }),
  allow('clone', {
    args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    includes: { arches: ['s390', 's390x'] },
    excludes: { caps: ['CAP_SYS_ADMIN'] },
  }),
  // clone3 passes its flags in memory, out of seccomp's sight: say ENOSYS so
  // that libc falls back to clone, whose flags can be checked.
  {
    names: ['clone3'],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: 38,
    excludes: { caps: ['CAP_SYS_ADMIN'] },
  },
  withCaps(['CAP_SYS_BOOT'], 'reboot'),
  withCaps(['CAP_SYS_CHROOT'], 'chroot'),
  withCaps(['CAP_SYS_MODULE'], 'delete_module init_module finit_module'),
  withCaps(['CAP_SYS_PACCT'], 'acct'),
  withCaps(['CAP_SYS_PTRACE'], 'kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'),
  withCaps(['CAP_SYS_RAWIO'], 'iopl ioperm'),
  withCaps(['CAP_SYS_TIME'], 'settimeofday stime clock_settime clock_settime64'),
  withCaps(['CAP_SYS_TTY_CONFIG'], 'vhangup'),
  withCaps(['CAP_SYS_NICE'], 'get_mempolicy mbind set_mempolicy set_mempolicy_home_node'),
  withCaps(['CAP_SYSLOG'], 'syslog'),
  withCaps(['CAP_BPF'], 'bpf'),
  withCaps(['CAP_PERFMON'], 'perf_event_open'),
];

/** The default profile in Docker's format (a fresh copy each call). */
export function defaultSeccompProfile(): SeccompProfile {
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    syscalls: structuredClone(RULES),
  };
}
