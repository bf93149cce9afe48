/**
 * A container's files on the host: its bundle dir (<root>/containers/<id>/
 * with upper/, work/, rootfs/ and config.json), the overlay mount that
 * merges the image's layers at rootfs/, the /etc files generated for it, and
 * reading or creating paths inside the merged rootfs without letting an
 * image's symlink lead outside of it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineError, type Explainer } from '../common/index.js';
import { describeRootfsMount } from '../snapshot/index.js';
import { nativeConstants, sys } from '../sys/index.js';

export interface BundlePaths {
  dir: string;
  upper: string;
  work: string;
  rootfs: string;
  config: string;
  hosts: string;
  hostname: string;
  resolvConf: string;
}

export function bundlePaths(containersDir: string, id: string): BundlePaths {
  const dir = path.join(containersDir, id);
  return {
    dir,
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    rootfs: path.join(dir, 'rootfs'),
    config: path.join(dir, 'config.json'),
    hosts: path.join(dir, 'hosts'),
    hostname: path.join(dir, 'hostname'),
    resolvConf: path.join(dir, 'resolv.conf'),
  };
}

/** Makes the bundle dir and its upper/, work/ and rootfs/ (the dir must not exist yet). */
export function createBundleDirs(bundle: BundlePaths, explainer: Explainer): void {
  fs.mkdirSync(path.dirname(bundle.dir), { recursive: true, mode: 0o711 });
  fs.mkdirSync(bundle.dir, { mode: 0o711 });
  for (const dir of [bundle.upper, bundle.work, bundle.rootfs]) fs.mkdirSync(dir, { mode: 0o755 });
  explainer.step({
    topic: 'storage',
    say: `make the container's bundle: a writable layer (upper), overlayfs' scratch dir (work) and the mount point of its root (rootfs)`,
    call: `mkdir ${bundle.upper} ${bundle.work} ${bundle.rootfs}`,
  });
}

/** Mounts the image's layers (topmost first) plus the container's upper dir at rootfs/. */
export function mountRootfs(bundle: BundlePaths, lowerDirs: readonly string[], explainer: Explainer): void {
  const mount = describeRootfsMount({ lowerDirs, upperDir: bundle.upper, workDir: bundle.work, target: bundle.rootfs });
  const c = nativeConstants();
  const flags = mount.options.includes('ro') ? c.MS_RDONLY : 0;
  explainer.step({
    topic: 'mount',
    say: `merge the image's ${lowerDirs.length} layer${lowerDirs.length === 1 ? '' : 's'} (read-only, topmost first) and the container's writable upper dir into one root file system`,
    call: `mount("${mount.source}", "${mount.target}", "${mount.fstype}", ${flags === 0 ? 0 : 'MS_RDONLY'}, "${mount.data}")${mount.cwd ? ` in ${mount.cwd}` : ''}`,
  });
  const previous = mount.cwd === undefined ? undefined : process.cwd();
  try {
    if (mount.cwd !== undefined) process.chdir(mount.cwd);
    sys.mount(mount.source, mount.target, mount.fstype, flags, mount.data);
  } catch (cause) {
    throw new EngineError('FAILED_PRECONDITION', `mount the root file system of the container at ${bundle.rootfs}: ${(cause as Error).message}`, { cause });
  } finally {
    if (previous !== undefined) process.chdir(previous);
  }
}

/** Mount points at or below `dir` in this mount namespace, deepest (and latest) first. */
export function mountsBelow(dir: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    if (point === dir || point.startsWith(`${dir}/`)) found.push(point);
  }
  return found.reverse().sort((a, b) => b.length - a.length);
}

/**
 * rm -rf of a container's bundle. Refused while anything is mounted below it:
 * deleting through a still-mounted root would write whiteouts into the upper
 * dir and empty the view of the image, and an rmdir would fail anyway. No
 * symlink is followed (readdir's type says symlink: it is unlinked). Cheaper
 * than fs.rmSync's general remover (which lstat's every entry and tries rmdir
 * on directories first), which is 5-10 ms of a `run --rm`.
 */
export function removeBundle(bundle: BundlePaths): void {
  const mounted = mountsBelow(bundle.dir);
  if (mounted.length > 0) {
    throw new EngineError('FAILED_PRECONDITION', `remove bundle ${bundle.dir}: still mounted at ${mounted.join(', ')}`);
  }
  removeTree(bundle.dir);
}

function removeTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) removeTree(child);
    else fs.unlinkSync(child);
  }
  fs.rmdirSync(dir);
}

/** Detaches everything mounted at or below `dir`, deepest first; returns the mount points. */
export function unmountBelow(dir: string, explainer: Explainer): string[] {
  const mounts = mountsBelow(dir);
  const detach = mounts.length === 0 ? 0 : nativeConstants().MNT_DETACH;
  for (const point of mounts) {
    explainer.step({ topic: 'mount', say: `unmount ${point}`, call: `umount2("${point}", MNT_DETACH)` });
    try {
      sys.umount2(point, detach);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOENT') {
        throw new EngineError('INTERNAL', `unmount ${point}: ${(cause as Error).message}`, { cause });
      }
    }
  }
  return mounts;
}

/**
 * unmountBelow with each umount2 on a worker thread: the RCU grace period a
 * detach waits for (milliseconds, more on a busy host) overlaps with whatever
 * the caller does meanwhile.
 */
export async function unmountBelowAsync(dir: string, explainer: Explainer): Promise<string[]> {
  const mounts = mountsBelow(dir);
  const detach = mounts.length === 0 ? 0 : nativeConstants().MNT_DETACH;
  for (const point of mounts) {
    explainer.step({ topic: 'mount', say: `unmount ${point}`, call: `umount2("${point}", MNT_DETACH)` });
    try {
      await sys.umount2Async(point, detach);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOENT') {
        throw new EngineError('INTERNAL', `unmount ${point}: ${(cause as Error).message}`, { cause });
      }
    }
  }
  return mounts;
}

/** Every cgroup and cgroup2 mount point of this mount namespace (v1 hierarchies, name=systemd, unified). */
export function cgroupMountPoints(): string[] {
  const text = readHostFile('/proc/self/mountinfo') ?? '';
  const points: string[] = [];
  for (const line of text.split('\n')) {
    const [before, after] = line.split(' - ');
    const fstype = after?.split(' ')[0];
    const point = before?.split(' ')[4];
    if (point !== undefined && (fstype === 'cgroup' || fstype === 'cgroup2')) points.push(point.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return points;
}

/**
 * Removes `<mount>/<parent>/<name>` and then `<mount>/<parent>` in every
 * cgroup hierarchy where they exist and are empty (an OCI runtime creates
 * groups in hierarchies the engine's manager does not use, such as
 * name=systemd, and leaves their parents). rmdir(2) on a cgroup only
 * succeeds for a group without tasks or children, so this never takes a
 * group still in use.
 */
export function removeEmptyCgroups(parent: string, name: string, explainer: Explainer): void {
  for (const point of cgroupMountPoints()) {
    for (const dir of [path.join(point, parent, name), path.join(point, parent)]) {
      try {
        fs.rmdirSync(dir);
        explainer.step({ topic: 'cgroup', say: `remove the empty group ${dir}`, call: `rmdir ${dir}` });
      } catch {
        // Missing, busy or not empty: not ours to force.
      }
    }
  }
}

const MAX_SYMLINKS = 40;

/**
 * The host path of `inside` (an absolute path in the container) with every
 * symlink on the way followed as the container would see it: absolute
 * targets start again at the rootfs, `..` never climbs above it. Missing
 * components are kept as they are (the path may not exist).
 */
export function resolveInRoot(rootfs: string, inside: string): string {
  const pending = inside.split('/').filter((part) => part !== '' && part !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = path.join(rootfs, ...resolved, part);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(host);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
      resolved.push(part, ...pending.filter((p) => p !== '..'));
      break;
    }
    if (!stat.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw new EngineError('INVALID_ARGUMENT', `resolve ${inside} in the container: too many levels of symbolic links`);
    }
    const target = fs.readlinkSync(host);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return path.join(rootfs, ...resolved);
}

/** The text of a regular file inside the rootfs, or undefined when it does not exist. */
export function readRootfsFile(rootfs: string, inside: string): string | undefined {
  const host = resolveInRoot(rootfs, inside);
  let fd: number;
  try {
    fd = fs.openSync(host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new EngineError('FAILED_PRECONDITION', `read ${inside} in the container: ${(error as Error).message}`, { cause: error });
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new EngineError('FAILED_PRECONDITION', `read ${inside} in the container: not a regular file`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates a directory (and its missing parents, 0755 root) inside the rootfs unless it exists. */
export function ensureRootfsDir(rootfs: string, inside: string, explainer: Explainer): void {
  const host = resolveInRoot(rootfs, inside);
  if (fs.existsSync(host)) {
    if (!fs.statSync(host).isDirectory()) {
      throw new EngineError('FAILED_PRECONDITION', `set the working directory ${inside}: it exists and is not a directory`);
    }
    return;
  }
  // resolveInRoot followed every existing symlink: what is left to make are plain directories below rootfs.
  const relative = path.relative(rootfs, host);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new EngineError('INTERNAL', `set the working directory ${inside}: resolved outside the root file system`);
  }
  explainer.step({ topic: 'mount', say: `create the working directory ${inside} in the container's root`, call: `mkdir -p ${host}` });
  fs.mkdirSync(host, { recursive: true, mode: 0o755 });
}

export interface EtcFilesRequest {
  hostname: string;
  network: string;
  /** --dns: these nameservers replace the host's in resolv.conf. */
  dns?: readonly string[] | undefined;
}

/** Writes hosts, hostname and resolv.conf into the bundle, to be bind-mounted over /etc's. */
export function writeEtcFiles(bundle: BundlePaths, request: EtcFilesRequest, explainer: Explainer): void {
  const hostNetwork = request.network === 'host';
  const hosts = hostNetwork
    ? readHostFile('/etc/hosts') ?? '127.0.0.1\tlocalhost\n'
    : [
        '127.0.0.1\tlocalhost',
        '::1\tlocalhost ip6-localhost ip6-loopback',
        'fe00::0\tip6-localnet',
        'ff00::0\tip6-mcastprefix',
        'ff02::1\tip6-allnodes',
        'ff02::2\tip6-allrouters',
        `127.0.1.1\t${request.hostname}`,
        '',
      ].join('\n');
  fs.writeFileSync(bundle.hosts, hosts, { mode: 0o644 });
  fs.writeFileSync(bundle.hostname, `${request.hostname}\n`, { mode: 0o644 });
  fs.writeFileSync(bundle.resolvConf, resolvConf(readHostFile('/etc/resolv.conf') ?? '', hostNetwork, request.dns), { mode: 0o644 });
  explainer.step({
    topic: 'mount',
    say: 'write the container\'s own /etc/hosts, /etc/hostname and /etc/resolv.conf into its bundle (bind-mounted over the image\'s)',
    call: `write ${bundle.hosts}, ${bundle.hostname}, ${bundle.resolvConf}`,
  });
}

function readHostFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The container's resolv.conf from the host's: in its own network namespace
 * the host's loopback resolvers are unreachable, so they are dropped (and
 * public ones used if nothing is left), as Docker does. --dns servers
 * replace every nameserver line (search and options lines are kept).
 */
export function resolvConf(hostText: string, hostNetwork: boolean, dns: readonly string[] = []): string {
  if (dns.length > 0) {
    const kept = hostText.split('\n').filter((line) => line.trim() !== '' && !/^\s*nameserver\s/.test(line));
    return `${[...dns.map((server) => `nameserver ${server}`), ...kept].join('\n')}\n`;
  }
  if (hostNetwork) return hostText;
  const lines = hostText
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s*nameserver\s+(127\.|::1\b|0\.0\.0\.0)/.test(line));
  if (!lines.some((line) => /^\s*nameserver\s/.test(line))) lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${lines.join('\n')}\n`;
}

/** The engine's hard RLIMIT_NOFILE, from /proc/self/limits (the container cannot get more). */
export function nofileHardLimit(): number {
  const text = readHostFile('/proc/self/limits') ?? '';
  const match = /^Max open files\s+\S+\s+(\S+)/m.exec(text);
  if (match === null || match[1] === 'unlimited') return 1_048_576;
  return Number(match[1]);
}

/** The capabilities in the engine's bounding set (CapBnd), as a mask; undefined if unreadable. */
export function boundingCapabilityMask(): bigint | undefined {
  const match = /^CapBnd:\s*([0-9a-f]+)/m.exec(readHostFile('/proc/self/status') ?? '');
  return match === null ? undefined : BigInt(`0x${match[1]}`);
}

export function hostHostname(): string {
  return os.hostname();
}
