/**
 * Which cgroup versions a machine has, read from /proc/self/mountinfo.
 *
 * A mountinfo line looks like
 *   35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
 * (id, parent, dev, root, mount point, mount options, optional fields, "-",
 * fs type, source, super options). A v1 hierarchy's super options name its
 * controllers; the cgroup2 hierarchy lists its own in cgroup.controllers.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CgroupLayout } from './types.js';

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

/** The controllers a v1 hierarchy can carry (the super options name them). */
export const V1_CONTROLLER_NAMES = [
  'blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'memory',
  'misc', 'net_cls', 'net_prio', 'perf_event', 'pids', 'rdma',
] as const;

export interface CgroupMount {
  fsType: 'cgroup' | 'cgroup2';
  mountPoint: string;
  /** The subtree of the hierarchy mounted there ("/" unless inside a cgroup namespace or a bind). */
  root: string;
  /** v1 only: the controllers bound to this hierarchy. */
  controllers: string[];
  /** v1 only: a named hierarchy without controllers, e.g. "systemd". */
  name?: string;
}

/** Reads a text file, or undefined when it cannot be read. */
export type TextReader = (file: string) => string | undefined;

const unescapeMountinfo = (field: string): string =>
  field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** Every cgroup and cgroup2 mount in a mountinfo text, in order. Pure. */
export function parseCgroupMounts(mountinfoText: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfoText.split('\n')) {
    const fields = line.trim().split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    const fsType = fields[dash + 1];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const mount: CgroupMount = {
      fsType,
      mountPoint: unescapeMountinfo(fields[4]!),
      root: unescapeMountinfo(fields[3]!),
      controllers: [],
    };
    if (fsType === 'cgroup') {
      for (const option of (fields[dash + 3] ?? '').split(',')) {
        if ((V1_CONTROLLER_NAMES as readonly string[]).includes(option)) mount.controllers.push(option);
        else if (option.startsWith('name=')) mount.name = option.slice('name='.length);
      }
    }
    mounts.push(mount);
  }
  return mounts;
}

const isUnder = (dir: string, root: string): boolean => dir === root || dir.startsWith(root.endsWith('/') ? root : root + '/');

const defaultReader: TextReader = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The cgroup layout from a mountinfo text (default: this process's own).
 * When a hierarchy is mounted more than once, the mount under `fsRoot` wins.
 * `readText` reads the unified mount's cgroup.controllers (injectable for tests).
 */
export function detectCgroupLayout(
  mountinfoText?: string,
  fsRoot: string = DEFAULT_CGROUP_ROOT,
  readText: TextReader = defaultReader,
): CgroupLayout {
  const text = mountinfoText ?? readText('/proc/self/mountinfo') ?? '';
  const root = path.resolve(fsRoot);
  // Mounts under fsRoot first, the rest after, each group in mountinfo order.
  const mounts = parseCgroupMounts(text);
  const ordered = [...mounts.filter((m) => isUnder(m.mountPoint, root)), ...mounts.filter((m) => !isUnder(m.mountPoint, root))];

  const v1Mounts: Record<string, string> = {};
  let unifiedMount: string | undefined;
  for (const mount of ordered) {
    if (mount.fsType === 'cgroup2') {
      unifiedMount ??= mount.mountPoint;
      continue;
    }
    for (const controller of mount.controllers) v1Mounts[controller] ??= mount.mountPoint;
  }
  const v1Controllers = Object.keys(v1Mounts).sort();

  let v2Controllers: string[] = [];
  if (unifiedMount !== undefined) {
    const listed = readText(path.join(unifiedMount, 'cgroup.controllers')) ?? '';
    v2Controllers = listed.split(/\s+/).filter((c) => c !== '');
  }

  let mode: CgroupLayout['mode'];
  if (v1Controllers.length > 0) mode = unifiedMount === undefined ? 'v1' : 'hybrid';
  else mode = unifiedMount === undefined ? 'none' : 'v2';

  const layout: CgroupLayout = {
    mode,
    v1Controllers,
    v2Controllers,
    v1Mounts,
    usableControllers: mode === 'v2' ? [...v2Controllers] : mode === 'none' ? [] : [...v1Controllers],
  };
  if (unifiedMount !== undefined) layout.unifiedMount = unifiedMount;
  return layout;
}
