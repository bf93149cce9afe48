/**
 * The native addon (native/addon, C over Node-API) and the native executables
 * built beside it (native/probe, later native/launcher).
 *
 * The addon offers the system calls Node lacks: mount, umount2, mknod, the l*
 * xattr calls and statfs, plus the kernel constants they take, read from the C
 * headers at build time. Each call is synchronous and throws an fs-style error
 * on failure ({code: 'EPERM', errno: -1, syscall: 'mount', path}), with errno
 * negative as in Node's own fs errors. Turning those into EngineErrors is the
 * caller's job: only the caller knows what the call was for.
 *
 * The addon is loaded on first use, so importing this module never fails; a
 * missing build is reported then as an EngineError UNAVAILABLE.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../common/index.js';

/** What statfs(2) reports; `type` is the filesystem magic number (TMPFS_MAGIC...). */
export interface StatfsInfo {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
  frsize: number;
  /** Mount flags as statvfs reports them (ST_RDONLY = 1, ST_NOSUID = 2, ...). */
  flags: number;
}

/** The constants the addon exports, as defined by the system headers it was built with. */
export interface NativeConstants {
  readonly MS_RDONLY: number;
  readonly MS_NOSUID: number;
  readonly MS_NODEV: number;
  readonly MS_NOEXEC: number;
  readonly MS_SYNCHRONOUS: number;
  readonly MS_REMOUNT: number;
  readonly MS_MANDLOCK: number;
  readonly MS_DIRSYNC: number;
  readonly MS_NOSYMFOLLOW: number;
  readonly MS_NOATIME: number;
  readonly MS_NODIRATIME: number;
  readonly MS_BIND: number;
  readonly MS_MOVE: number;
  readonly MS_REC: number;
  readonly MS_SILENT: number;
  readonly MS_UNBINDABLE: number;
  readonly MS_PRIVATE: number;
  readonly MS_SLAVE: number;
  readonly MS_SHARED: number;
  readonly MS_RELATIME: number;
  readonly MS_STRICTATIME: number;
  readonly MS_LAZYTIME: number;
  readonly MNT_FORCE: number;
  readonly MNT_DETACH: number;
  readonly MNT_EXPIRE: number;
  readonly UMOUNT_NOFOLLOW: number;
  readonly S_IFMT: number;
  readonly S_IFSOCK: number;
  readonly S_IFLNK: number;
  readonly S_IFREG: number;
  readonly S_IFBLK: number;
  readonly S_IFDIR: number;
  readonly S_IFCHR: number;
  readonly S_IFIFO: number;
  readonly XATTR_CREATE: number;
  readonly XATTR_REPLACE: number;
  readonly OVERLAYFS_SUPER_MAGIC: number;
  readonly TMPFS_MAGIC: number;
  readonly RAMFS_MAGIC: number;
  readonly EXT4_SUPER_MAGIC: number;
  readonly BTRFS_SUPER_MAGIC: number;
  readonly XFS_SUPER_MAGIC: number;
  readonly F2FS_SUPER_MAGIC: number;
  readonly FUSE_SUPER_MAGIC: number;
  readonly NFS_SUPER_MAGIC: number;
  readonly PROC_SUPER_MAGIC: number;
  readonly SYSFS_MAGIC: number;
  readonly DEVPTS_SUPER_MAGIC: number;
  readonly CGROUP_SUPER_MAGIC: number;
  readonly CGROUP2_SUPER_MAGIC: number;
  readonly NSFS_MAGIC: number;
  readonly SQUASHFS_MAGIC: number;
  readonly EROFS_SUPER_MAGIC_V1: number;
}

/**
 * The kernel calls of the addon, as an interface so that a recording fake can
 * stand in for it in unit tests. Flags are the numbers from nativeConstants().
 */
export interface NativeSys {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  /** umount2 on a libuv worker thread: the grace period a detach waits for does not block the event loop. */
  umount2Async(target: string, flags: number): Promise<void>;
  /** `mode` includes the file type: S_IFCHR, S_IFBLK, S_IFIFO, S_IFREG or S_IFSOCK. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Uint8Array | string, flags: number): void;
  /** The value, or null when the attribute is not set (ENODATA). */
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  statfs(path: string): StatfsInfo;
}

/** The error the addon throws, shaped like Node's fs errors. */
export interface NativeError extends Error {
  /** The errno name, e.g. 'EPERM'. */
  code: string;
  /** The errno value, negative like in Node's fs errors (-1 for EPERM). */
  errno: number;
  syscall: string;
  path?: string;
}

/** A process started by spawnWithChannels, and this process's ends of its channels. */
export interface SpawnedWithChannels {
  pid: number;
  /** The write end of the pipe that is the child's fd 3. */
  plan: number;
  /** This end of the socketpair that is the child's fd 4 (both ways). */
  sync: number;
  /** The read end of the pipe that is the child's fd 5; -1 when not asked for. */
  explain: number;
}

/** How a child ended: its exit code, or the number of the signal that killed it. */
export interface NativeExit {
  code: number | null;
  signal: number | null;
}

interface Addon extends Omit<NativeSys, 'lsetxattr'> {
  lsetxattr(path: string, name: string, value: Uint8Array, flags: number): void;
  spawnLauncher(file: string, args: readonly string[], stdio: readonly [number, number, number], explain: boolean): SpawnedWithChannels;
  waitExit(pid: number): Promise<NativeExit>;
  readFd(fd: number, length: number): Promise<Buffer>;
  constants: NativeConstants;
}

const ADDON_FILE = 'didactic_native.node';
const BINARY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const BUILD_HINT = 'run npm ci (needs g++ and make)';

/** Where node-gyp puts the addon and the native executables. */
export function nativeBuildDir(): string {
  // This file is compiled to <root>/dist/src/sys/native.js: the package root is three levels up.
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  return path.join(root, 'build', 'Release');
}

/** The absolute path of a native executable (e.g. 'didactic-probe'); it must exist. */
export function nativeBinaryPath(name: string): string {
  if (!BINARY_NAME.test(name)) {
    throw new EngineError('INVALID_ARGUMENT', `find native binary ${JSON.stringify(name)}: not a plain file name`);
  }
  const file = path.join(nativeBuildDir(), name);
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch (cause) {
    throw new EngineError('UNAVAILABLE', `find native binary ${file}: not built`, { hint: BUILD_HINT, cause });
  }
  return file;
}

let cached: Addon | undefined;

/**
 * Loads the addon from `file` (the built one by default; loaded once and
 * cached). Throws EngineError UNAVAILABLE when it is missing or cannot load.
 */
export function loadNativeAddon(file: string = path.join(nativeBuildDir(), ADDON_FILE)): Addon {
  const isDefault = file === path.join(nativeBuildDir(), ADDON_FILE);
  if (isDefault && cached !== undefined) return cached;
  if (!fs.existsSync(file)) {
    throw new EngineError('UNAVAILABLE', `load native addon ${file}: file not found`, { hint: BUILD_HINT });
  }
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(file) as Addon;
  } catch (cause) {
    throw new EngineError('UNAVAILABLE', `load native addon ${file}: cannot be loaded`, {
      hint: 'rebuild it with npm run build:native (needs g++ and make)',
      cause,
    });
  }
  if (isDefault) cached = addon;
  return addon;
}

/** The kernel constants, from the headers the addon was compiled against. */
export function nativeConstants(): NativeConstants {
  return loadNativeAddon().constants;
}

/** True for an error thrown by the addon, optionally with the given errno name. */
export function isNativeError(error: unknown, code?: string): error is NativeError {
  if (!(error instanceof Error)) return false;
  const candidate = error as Partial<NativeError>;
  return (
    typeof candidate.code === 'string' &&
    typeof candidate.errno === 'number' &&
    typeof candidate.syscall === 'string' &&
    (code === undefined || candidate.code === code)
  );
}

/**
 * Starts `file` with argv [file, ...args] the way the native launchers want it
 * (see native/addon/spawn-calls.c): fds 0-2 from `stdio` (an fd of this
 * process, or -1 for /dev/null), fd 3 a plan pipe, fd 4 a sync socket, fd 5
 * an explain pipe when `explain`, and no other fd. No fork of this process:
 * posix_spawn, a vfork-style clone. Throws a NativeError (syscall
 * 'posix_spawn', path `file`) when it cannot start, e.g. ENOENT.
 */
export function spawnWithChannels(file: string, args: readonly string[], stdio: readonly [number, number, number], explain: boolean): SpawnedWithChannels {
  return loadNativeAddon().spawnLauncher(file, args, stdio, explain);
}

/**
 * Settles when the child `pid` of this process has ended, and reaps it then
 * (only it). The wait runs on a thread of its own, not libuv's threadpool.
 */
export function waitChildExit(pid: number): Promise<NativeExit> {
  return loadNativeAddon().waitExit(pid);
}

/** One read(2) of up to `length` bytes on a thread of its own; an empty Buffer at EOF. */
export function readFdAsync(fd: number, length: number): Promise<Buffer> {
  return loadNativeAddon().readFd(fd, length);
}

/** The real kernel calls, through the addon (loaded on first call). */
export const sys: NativeSys = {
  mount: (source, target, fstype, flags, data) => loadNativeAddon().mount(source, target, fstype, flags, data),
  umount2: (target, flags) => loadNativeAddon().umount2(target, flags),
  umount2Async: async (target, flags) => loadNativeAddon().umount2Async(target, flags),
  mknod: (file, mode, major, minor) => loadNativeAddon().mknod(file, mode, major, minor),
  lsetxattr: (file, name, value, flags) =>
    loadNativeAddon().lsetxattr(file, name, typeof value === 'string' ? Buffer.from(value) : value, flags),
  lgetxattr: (file, name) => loadNativeAddon().lgetxattr(file, name),
  llistxattr: (file) => loadNativeAddon().llistxattr(file),
  statfs: (file) => loadNativeAddon().statfs(file),
};
