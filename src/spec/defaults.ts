/**
 * Docker's security and filesystem defaults for a container, as data: the
 * capability set, the paths hidden or made read-only under /proc and /sys,
 * the standard devices and the device cgroup rules, the mounts every
 * container gets, the default rlimit and environment.
 */
import type { LinuxDevice, LinuxDeviceCgroup, Mount, POSIXRlimit } from './types.js';

/** Every capability Linux defines, by number (include/uapi/linux/capability.h). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', // 0
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL', // 5
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE', // 10
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', // 15
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', // 20
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', // 25
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL', // 30
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM', // 35
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE', // 40
];

const CAP_NUMBERS = new Map(ALL_CAPABILITIES.map((name, index) => [name, index]));

/** The number of a capability (CAP_CHOWN -> 0), or undefined if unknown. */
export function capabilityNumber(name: string): number | undefined {
  return CAP_NUMBERS.get(name);
}

/** Docker's default capability set, in Docker's order. Its mask is 0xa80425fb. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/**
 * The bit mask of a capability set, as /proc/<pid>/status shows it in CapEff
 * (bit n set for capability number n). Unknown names throw.
 */
export function capsToMask(names: Iterable<string>): bigint {
  let mask = 0n;
  for (const name of names) {
    const number = CAP_NUMBERS.get(name);
    if (number === undefined) throw new Error(`unknown capability ${name}`);
    mask |= 1n << BigInt(number);
  }
  return mask;
}

/** The capability names of a mask (the inverse of capsToMask), in number order. */
export function maskToCaps(mask: bigint): string[] {
  return ALL_CAPABILITIES.filter((_, number) => (mask >> BigInt(number)) & 1n);
}

/** Paths under /proc and /sys hidden from the container (a /dev/null or empty tmpfs is mounted over them). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Paths bind-mounted read-only over themselves. */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/**
 * The device nodes every container gets in its /dev (the OCI "default
 * devices"). /dev/ptmx is a symlink to pts/ptmx and /dev/console is bound to
 * the terminal when there is one; both are made by the runtime, not listed here.
 */
export const DEFAULT_DEVICES: readonly LinuxDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** Symlinks the runtime makes in /dev: [path, target]. */
export const DEFAULT_DEVICE_LINKS: readonly (readonly [string, string])[] = [
  ['/dev/fd', '/proc/self/fd'],
  ['/dev/stdin', '/proc/self/fd/0'],
  ['/dev/stdout', '/proc/self/fd/1'],
  ['/dev/stderr', '/proc/self/fd/2'],
  ['/dev/ptmx', 'pts/ptmx'],
  ['/dev/core', '/proc/kcore'],
];

function allowChar(major: number | undefined, minor: number | undefined, access = 'rwm'): LinuxDeviceCgroup {
  const rule: LinuxDeviceCgroup = { allow: true, type: 'c' };
  if (major !== undefined) rule.major = major;
  if (minor !== undefined) rule.minor = minor;
  rule.access = access;
  return rule;
}

/**
 * The device cgroup of an unprivileged container: deny everything, then allow
 * mknod of any node (using one still needs the rule below), the default
 * devices, /dev/console, /dev/ptmx, the pseudo-terminals and /dev/net/tun.
 * Together this is what Docker asks for plus the rules runc always adds.
 */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  return [
    { allow: false, access: 'rwm' },
    allowChar(undefined, undefined, 'm'),
    { allow: true, type: 'b', access: 'm' },
    ...DEFAULT_DEVICES.map((device) => allowChar(device.major, device.minor)),
    allowChar(5, 1), // /dev/console
    allowChar(5, 2), // /dev/ptmx
    allowChar(136, undefined), // /dev/pts/*
    allowChar(10, 200), // /dev/net/tun
  ];
}

/** The device cgroup of a privileged container: everything. */
export function privilegedDeviceRules(): LinuxDeviceCgroup[] {
  return [{ allow: true, access: 'rwm' }];
}

/** The size of /dev/shm, Docker's default of 64 MiB. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/**
 * The mounts every container gets, in mount order. `privileged` leaves /sys
 * and /sys/fs/cgroup writable, as Docker does.
 */
export function defaultMounts(options: { privileged?: boolean; shmSize?: number } = {}): Mount[] {
  const sysMode = options.privileged ? 'rw' : 'ro';
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sysMode] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', sysMode],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${options.shmSize ?? DEFAULT_SHM_SIZE}`],
    },
  ];
}

/** The soft limit on open files a container starts with. */
export const DEFAULT_NOFILE_SOFT = 1024;

/**
 * The container's RLIMIT_NOFILE: soft 1024, hard the engine's own hard limit.
 * Never more than that: raising a hard limit needs CAP_SYS_RESOURCE, which the
 * engine may not even have in its bounding set.
 */
export function defaultRlimits(engineNofileHard: number): POSIXRlimit[] {
  const hard = Math.max(0, Math.floor(engineNofileHard));
  return [{ type: 'RLIMIT_NOFILE', soft: Math.min(DEFAULT_NOFILE_SOFT, hard), hard }];
}

/** Docker's PATH for images that set none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** TERM set in containers with a terminal. */
export const DEFAULT_TERM = 'xterm';

/** The umask of the container's first process. */
export const DEFAULT_UMASK = 0o022;

/** Sysctls Docker sets in a container's own network namespace. */
export const DEFAULT_NETWORK_SYSCTLS: Readonly<Record<string, string>> = {
  'net.ipv4.ip_unprivileged_port_start': '0',
  'net.ipv4.ping_group_range': '0 2147483647',
};
