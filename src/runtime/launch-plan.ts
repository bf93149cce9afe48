/**
 * planLaunch: an OCI runtime spec -> the launch plan, the exact list of
 * kernel steps the C launcher (native/launcher) takes; encodeLaunchPlan: the
 * plan -> the bytes the launcher reads from its fd 3. Pure: all decisions
 * (flag numbers, option parsing, default devices, cgroup mounts) are made
 * here, so the C side only executes.
 *
 * Wire format (native/launcher/plan.h has the same table), little-endian:
 *
 *   plan    = record*                 (the first record is MAGIC)
 *   record  = u32 tag, u32 length, payload[length]
 *   payload = u64 numbers first, then NUL-terminated strings ("" = none);
 *             GROUPS is u64 gids, SECCOMP is struct sock_filter[] bytes.
 *
 *    1 MAGIC str            |  8 SYMLINK str target, str path  | 15 NO_NEW_PRIVS -
 *    2 CLONE u64            |  9 MASK str                      | 16 RLIMIT u64 res, soft, hard
 *    3 JOIN_NS u64, str     | 10 READONLY str                  | 17 OOM_SCORE_ADJ u64 (signed)
 *    4 ROOTFS u64 prop, u64 ro, str | 11 SYSCTL str path, str  | 18 CWD str
 *    5 HOSTNAME str         | 12 USER u64 uid, gid, umask      | 19 ARG str (repeated)
 *    6 MOUNT u64 flags, u64 prop, str source, target, fstype, data | 20 ENV str (repeated)
 *    7 DEVICE u64 mode, major, minor, uid, gid, str path       | 21 SECCOMP bytes
 *   13 GROUPS u64*          | 14 CAPS u64 bounding, effective, permitted, inheritable, ambient
 *   22 LOOPBACK_UP -        (bring up lo in the new network namespace)
 */
import path from 'node:path';
import { EngineError } from '../common/index.js';
import { capabilityNumber, type LinuxCapabilities, type LinuxDevice, type LinuxNamespaceType, type Spec } from '../spec/index.js';
import type { CgroupLayout } from './cgroups/index.js';

/** mount(2) flags (linux/mount.h; the same numbers on every architecture). */
export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64, DIRSYNC: 128,
  NOSYMFOLLOW: 256, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, MOVE: 8192, REC: 16384,
  UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19, SHARED: 1 << 20, RELATIME: 1 << 21,
  STRICTATIME: 1 << 24, LAZYTIME: 1 << 25,
} as const;

/** clone(2) namespace flags by OCI namespace type. */
export const CLONE_FLAGS: Readonly<Record<LinuxNamespaceType, number>> = {
  mount: 0x00020000, cgroup: 0x02000000, uts: 0x04000000, ipc: 0x08000000,
  user: 0x10000000, pid: 0x20000000, network: 0x40000000,
};

const RLIMITS = ['CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NPROC', 'NOFILE', 'MEMLOCK', 'AS', 'LOCKS',
  'SIGPENDING', 'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME'];
export const RLIM_INFINITY = (1n << 64n) - 1n;
const S_IF = { c: 0o020000, u: 0o020000, b: 0o060000, p: 0o010000 } as const;

export interface PlannedMount { source: string; target: string; fstype: string; flags: number; propagation: number; data: string }
export interface PlannedDevice { path: string; mode: number; major: number; minor: number; uid: number; gid: number }
export interface CapabilityMasks { bounding: bigint; effective: bigint; permitted: bigint; inheritable: bigint; ambient: bigint }

export interface LaunchPlan {
  /** CLONE_NEW* flags of the namespaces created (those joined by path are not in it). */
  cloneFlags: number;
  /** Namespaces joined with setns before clone, user first. */
  joinNamespaces: { type: LinuxNamespaceType; flag: number; path: string }[];
  rootfs: string;
  rootfsReadonly: boolean;
  rootfsPropagation: number;
  hostname?: string;
  mounts: PlannedMount[];
  devices: PlannedDevice[];
  /** Symlinks made in /dev: [path, target]. */
  links: [string, string][];
  maskedPaths: string[];
  readonlyPaths: string[];
  /** Sysctls as the file below /proc/sys and the value. */
  sysctls: { path: string; value: string }[];
  uid: number;
  gid: number;
  additionalGids: number[];
  umask: number;
  capabilities?: CapabilityMasks;
  noNewPrivileges: boolean;
  rlimits: { resource: number; soft: bigint; hard: bigint }[];
  oomScoreAdj?: number;
  cwd: string;
  args: string[];
  env: string[];
  seccompFilter?: Buffer;
  /** lo is brought up in the container's own new network namespace. */
  loopbackUp?: boolean;
}

export interface PlanLaunchOptions {
  /** The already mounted root filesystem on the host, absolute. */
  rootfs: string;
  /** The compiled seccomp filter (struct sock_filter[]). */
  seccompFilter?: Buffer;
  /** How a `cgroup` mount is made: v1 hierarchies one by one, or cgroup2. Default cgroup2. */
  cgroupLayout?: Pick<CgroupLayout, 'mode' | 'v1Mounts'>;
  /** Bring up lo in the container's new network namespace before the mounts (as runc does for a new one). */
  loopbackUp?: boolean;
}

/** The spec fields planLaunch reads (src/spec's Spec fits). */
export type LaunchSpec = Pick<Spec, 'process' | 'mounts' | 'hostname'> & { linux: Partial<Spec['linux']>; root?: Partial<Spec['root']> };

const invalid = (message: string): EngineError => new EngineError('INVALID_ARGUMENT', `plan launch: ${message}`);

const FLAG_OPTIONS: Record<string, [set: number, clear: number]> = {
  defaults: [0, 0], ro: [MS.RDONLY, 0], rw: [0, MS.RDONLY], nosuid: [MS.NOSUID, 0], suid: [0, MS.NOSUID],
  nodev: [MS.NODEV, 0], dev: [0, MS.NODEV], noexec: [MS.NOEXEC, 0], exec: [0, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0], async: [0, MS.SYNCHRONOUS], dirsync: [MS.DIRSYNC, 0], remount: [MS.REMOUNT, 0],
  mand: [MS.MANDLOCK, 0], nomand: [0, MS.MANDLOCK], noatime: [MS.NOATIME, 0], atime: [0, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0], diratime: [0, MS.NODIRATIME], relatime: [MS.RELATIME, 0], norelatime: [0, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0], nostrictatime: [0, MS.STRICTATIME], lazytime: [MS.LAZYTIME, 0],
  nolazytime: [0, MS.LAZYTIME], nosymfollow: [MS.NOSYMFOLLOW, 0], symfollow: [0, MS.NOSYMFOLLOW],
  bind: [MS.BIND, 0], rbind: [MS.BIND | MS.REC, 0],
};
const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** OCI mount options -> mount flags, propagation flags and the fs-specific data string. */
export function parseMountOptions(options: readonly string[] = []): { flags: number; propagation: number; data: string } {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const option of options) {
    const flag = FLAG_OPTIONS[option];
    if (flag !== undefined) flags = (flags & ~flag[1]) | flag[0];
    else if (PROPAGATION_OPTIONS[option] !== undefined) propagation = PROPAGATION_OPTIONS[option];
    else if (!option.startsWith('x-')) data.push(option); // x-*: annotations for tools, not the kernel
  }
  return { flags, propagation, data: data.join(',') };
}

function text(value: string, what: string): string {
  if (value.includes('\0')) throw invalid(`${what} contains a NUL byte`);
  return value;
}

function containerPath(value: string, what: string): string {
  if (!value.startsWith('/')) throw invalid(`${what} ${JSON.stringify(value)} is not absolute`);
  return text(path.posix.normalize(value), what);
}

function capabilityMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const number = capabilityNumber(name);
    if (number === undefined) throw invalid(`unknown capability ${JSON.stringify(name)}`);
    mask |= 1n << BigInt(number);
  }
  return mask;
}

export function capabilityMasks(caps: LinuxCapabilities): CapabilityMasks {
  return {
    bounding: capabilityMask(caps.bounding), effective: capabilityMask(caps.effective), permitted: capabilityMask(caps.permitted),
    inheritable: capabilityMask(caps.inheritable), ambient: capabilityMask(caps.ambient),
  };
}

function rlimitValue(value: number): bigint {
  return value < 0 || value >= 2 ** 63 ? RLIM_INFINITY : BigInt(Math.floor(value));
}

/** A `cgroup` mount: cgroup2, or on v1 a tmpfs holding one mount per hierarchy, made read-only last. */
function cgroupMounts(target: string, flags: number, layout: PlanLaunchOptions['cgroupLayout']): PlannedMount[] {
  const common = { flags: flags & ~MS.RDONLY, propagation: 0 };
  if (layout === undefined || layout.mode === 'v2') return [{ source: 'cgroup2', target, fstype: 'cgroup2', data: '', ...common, flags }];
  if (layout.mode === 'none') return [];
  const hierarchies = new Map<string, string[]>();
  for (const [controller, mountPoint] of Object.entries(layout.v1Mounts)) {
    hierarchies.set(mountPoint, [...(hierarchies.get(mountPoint) ?? []), controller]);
  }
  const mounts: PlannedMount[] = [{ source: 'tmpfs', target, fstype: 'tmpfs', data: 'mode=755', ...common }];
  for (const [mountPoint, controllers] of [...hierarchies].sort()) {
    mounts.push({ source: 'cgroup', target: path.posix.join(target, path.posix.basename(mountPoint)), fstype: 'cgroup', data: controllers.sort().join(','), ...common, flags });
  }
  if (flags & MS.RDONLY) mounts.push({ source: '', target, fstype: '', data: '', flags: flags | MS.REMOUNT, propagation: 0 });
  return mounts;
}

const DEFAULT_DEVICES: [string, number, number][] = [
  ['/dev/null', 1, 3], ['/dev/zero', 1, 5], ['/dev/full', 1, 7], ['/dev/random', 1, 8], ['/dev/urandom', 1, 9], ['/dev/tty', 5, 0],
];
const DEFAULT_LINKS: [string, string][] = [
  ['/dev/fd', '/proc/self/fd'], ['/dev/stdin', '/proc/self/fd/0'], ['/dev/stdout', '/proc/self/fd/1'],
  ['/dev/stderr', '/proc/self/fd/2'], ['/dev/ptmx', 'pts/ptmx'],
];

function plannedDevice(device: LinuxDevice): PlannedDevice {
  const type = S_IF[device.type];
  if (type === undefined) throw invalid(`device ${device.path}: unknown type ${JSON.stringify(device.type)}`);
  return {
    path: containerPath(device.path, 'device path'), mode: type | ((device.fileMode ?? 0o666) & 0o7777),
    major: device.major, minor: device.minor, uid: device.uid ?? 0, gid: device.gid ?? 0,
  };
}

/** The launch plan of a spec. Throws EngineError INVALID_ARGUMENT (or NOT_IMPLEMENTED) for what cannot be launched. */
export function planLaunch(spec: LaunchSpec, options: PlanLaunchOptions): LaunchPlan {
  if (!path.isAbsolute(options.rootfs)) throw invalid(`rootfs ${JSON.stringify(options.rootfs)} is not absolute`);
  const proc = spec.process;
  let cloneFlags = 0;
  const joinNamespaces: LaunchPlan['joinNamespaces'] = [];
  for (const ns of spec.linux.namespaces ?? []) {
    const flag = CLONE_FLAGS[ns.type];
    if (flag === undefined) throw invalid(`unknown namespace type ${JSON.stringify(ns.type)}`);
    if (ns.path) joinNamespaces.push({ type: ns.type, flag, path: text(ns.path, 'namespace path') });
    else cloneFlags |= flag;
  }
  joinNamespaces.sort((a, b) => Number(b.type === 'user') - Number(a.type === 'user'));
  if (!(cloneFlags & CLONE_FLAGS.mount)) throw invalid('a new mount namespace is required (the mounts would land on the host)');
  if (spec.hostname && !(cloneFlags & CLONE_FLAGS.uts)) throw invalid('setting the hostname needs a new uts namespace');

  const propagationName = spec.linux.rootfsPropagation ?? 'rprivate';
  const rootfsPropagation = PROPAGATION_OPTIONS[propagationName];
  if (rootfsPropagation === undefined) throw invalid(`unknown rootfs propagation ${JSON.stringify(propagationName)}`);
  if (rootfsPropagation & MS.SHARED) throw new EngineError('NOT_IMPLEMENTED', `plan launch: rootfs propagation ${propagationName} is not supported`);

  const mounts: PlannedMount[] = [];
  let devBound = false;
  for (const mount of spec.mounts ?? []) {
    const target = containerPath(mount.destination, 'mount destination');
    const parsed = parseMountOptions(mount.options);
    const isBind = mount.type === 'bind' || (parsed.flags & MS.BIND) !== 0;
    if (isBind) parsed.flags |= MS.BIND;
    if (target === '/dev' && isBind) devBound = true;
    if (mount.type === 'cgroup' || mount.type === 'cgroup2') {
      mounts.push(...cgroupMounts(target, parsed.flags, mount.type === 'cgroup2' ? { mode: 'v2', v1Mounts: {} } : options.cgroupLayout));
      continue;
    }
    const source = text(mount.source ?? mount.type ?? 'none', 'mount source');
    if (isBind && !path.isAbsolute(source)) throw invalid(`bind mount source ${JSON.stringify(source)} is not absolute`);
    mounts.push({ source, target, fstype: isBind ? '' : text(mount.type ?? '', 'mount type'), ...parsed, data: text(parsed.data, 'mount options') });
  }

  const devices = new Map<string, PlannedDevice>();
  const links: [string, string][] = [];
  if (!devBound) {
    for (const [file, major, minor] of DEFAULT_DEVICES) devices.set(file, { path: file, mode: S_IF.c | 0o666, major, minor, uid: 0, gid: 0 });
    links.push(...DEFAULT_LINKS);
  }
  for (const device of spec.linux.devices ?? []) devices.set(device.path, plannedDevice(device));

  const sysctls = Object.entries(spec.linux.sysctl ?? {}).map(([key, value]) => {
    if (!/^[A-Za-z0-9_-]+([./][A-Za-z0-9_-]+)*$/.test(key)) throw invalid(`invalid sysctl name ${JSON.stringify(key)}`);
    return { path: key.replaceAll('.', '/'), value: text(value, `sysctl ${key}`) };
  });

  const rlimits = (proc.rlimits ?? []).map((limit) => {
    const resource = RLIMITS.indexOf(limit.type.replace(/^RLIMIT_/, ''));
    if (resource < 0 || !limit.type.startsWith('RLIMIT_')) throw invalid(`unknown rlimit ${JSON.stringify(limit.type)}`);
    return { resource, soft: rlimitValue(limit.soft), hard: rlimitValue(limit.hard) };
  });

  if (proc.args.length === 0) throw invalid('no command to run (process.args is empty)');
  const filter = options.seccompFilter;
  if (filter !== undefined && (filter.length === 0 || filter.length % 8 !== 0 || filter.length / 8 > 4096)) {
    throw invalid(`seccomp filter of ${filter.length} bytes is not 1 to 4096 instructions of 8 bytes`);
  }
  const plan: LaunchPlan = {
    cloneFlags,
    joinNamespaces,
    rootfs: text(path.resolve(options.rootfs), 'rootfs'),
    rootfsReadonly: spec.root?.readonly === true,
    rootfsPropagation,
    mounts,
    devices: [...devices.values()],
    links,
    maskedPaths: (spec.linux.maskedPaths ?? []).map((p) => containerPath(p, 'masked path')),
    readonlyPaths: (spec.linux.readonlyPaths ?? []).map((p) => containerPath(p, 'readonly path')),
    sysctls,
    uid: proc.user.uid,
    gid: proc.user.gid,
    additionalGids: [...(proc.user.additionalGids ?? [])],
    umask: proc.user.umask ?? 0o022,
    noNewPrivileges: proc.noNewPrivileges === true,
    rlimits,
    cwd: containerPath(proc.cwd || '/', 'cwd'),
    args: proc.args.map((arg) => text(arg, 'argument')),
    env: proc.env.map((entry) => text(entry, 'environment entry')),
  };
  if (spec.hostname) plan.hostname = text(spec.hostname, 'hostname');
  if (proc.capabilities) plan.capabilities = capabilityMasks(proc.capabilities);
  if (proc.oomScoreAdj !== undefined) plan.oomScoreAdj = proc.oomScoreAdj;
  if (filter !== undefined) plan.seccompFilter = filter;
  if (options.loopbackUp === true) {
    if (!(cloneFlags & CLONE_FLAGS.network)) throw invalid('bringing up lo needs a new network namespace');
    plan.loopbackUp = true;
  }
  return plan;
}

export const LAUNCH_PLAN_MAGIC = 'didactic-launch-plan-v1';
export const TAGS = {
  MAGIC: 1, CLONE: 2, JOIN_NS: 3, ROOTFS: 4, HOSTNAME: 5, MOUNT: 6, DEVICE: 7, SYMLINK: 8, MASK: 9, READONLY: 10,
  SYSCTL: 11, USER: 12, GROUPS: 13, CAPS: 14, NO_NEW_PRIVS: 15, RLIMIT: 16, OOM_SCORE_ADJ: 17, CWD: 18, ARG: 19,
  ENV: 20, SECCOMP: 21, LOOPBACK_UP: 22,
} as const;

/**
 * Writes records into one buffer, grown by doubling: a plan is some hundred
 * records, and a Buffer per record and per string, concatenated, cost a run
 * a few milliseconds of a cold process.
 */
class PlanWriter {
  private buffer = Buffer.allocUnsafe(16384);
  private length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  /** tag, payload length, then each number as a u64 (two's complement for negatives), then each string NUL-terminated. */
  push(tag: number, numbers: readonly (number | bigint)[], strings: readonly string[] = []): void {
    let payload = numbers.length * 8;
    for (const s of strings) payload += Buffer.byteLength(s, 'utf8') + 1;
    this.reserve(8 + payload);
    const start = this.length;
    this.buffer.writeUInt32LE(tag, start);
    this.buffer.writeUInt32LE(payload, start + 4);
    let at = start + 8;
    for (const n of numbers) {
      this.buffer.writeBigUInt64LE(BigInt.asUintN(64, BigInt(n)), at);
      at += 8;
    }
    for (const s of strings) {
      at += this.buffer.write(s, at, 'utf8');
      this.buffer[at++] = 0;
    }
    this.length = at;
  }

  pushRaw(tag: number, payload: Buffer): void {
    this.reserve(8 + payload.length);
    this.buffer.writeUInt32LE(tag, this.length);
    this.buffer.writeUInt32LE(payload.length, this.length + 4);
    payload.copy(this.buffer, this.length + 8);
    this.length += 8 + payload.length;
  }

  finish(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/** The plan as the launcher reads it from fd 3. */
export function encodeLaunchPlan(plan: LaunchPlan): Buffer {
  const w = new PlanWriter();
  w.push(TAGS.MAGIC, [], [LAUNCH_PLAN_MAGIC]);
  w.push(TAGS.CLONE, [plan.cloneFlags]);
  for (const ns of plan.joinNamespaces) w.push(TAGS.JOIN_NS, [ns.flag], [ns.path]);
  w.push(TAGS.ROOTFS, [plan.rootfsPropagation, plan.rootfsReadonly ? 1 : 0], [plan.rootfs]);
  if (plan.hostname !== undefined) w.push(TAGS.HOSTNAME, [], [plan.hostname]);
  for (const m of plan.mounts) w.push(TAGS.MOUNT, [m.flags, m.propagation], [m.source, m.target, m.fstype, m.data]);
  for (const d of plan.devices) w.push(TAGS.DEVICE, [d.mode, d.major, d.minor, d.uid, d.gid], [d.path]);
  for (const [link, target] of plan.links) w.push(TAGS.SYMLINK, [], [target, link]);
  for (const p of plan.maskedPaths) w.push(TAGS.MASK, [], [p]);
  for (const p of plan.readonlyPaths) w.push(TAGS.READONLY, [], [p]);
  for (const s of plan.sysctls) w.push(TAGS.SYSCTL, [], [s.path, s.value]);
  w.push(TAGS.USER, [plan.uid, plan.gid, plan.umask]);
  if (plan.additionalGids.length > 0) w.push(TAGS.GROUPS, plan.additionalGids);
  const c = plan.capabilities;
  if (c !== undefined) w.push(TAGS.CAPS, [c.bounding, c.effective, c.permitted, c.inheritable, c.ambient]);
  if (plan.noNewPrivileges) w.push(TAGS.NO_NEW_PRIVS, []);
  for (const r of plan.rlimits) w.push(TAGS.RLIMIT, [r.resource, r.soft, r.hard]);
  if (plan.oomScoreAdj !== undefined) w.push(TAGS.OOM_SCORE_ADJ, [plan.oomScoreAdj]);
  w.push(TAGS.CWD, [], [plan.cwd]);
  for (const arg of plan.args) w.push(TAGS.ARG, [], [arg]);
  for (const entry of plan.env) w.push(TAGS.ENV, [], [entry]);
  if (plan.seccompFilter !== undefined) w.pushRaw(TAGS.SECCOMP, plan.seccompFilter);
  if (plan.loopbackUp === true) w.push(TAGS.LOOPBACK_UP, []);
  return w.finish();
}
