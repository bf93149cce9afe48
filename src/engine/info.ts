/**
 * `info`: what this machine offers a container engine, read without changing
 * anything. Every probe degrades to a plain statement (and a warning) instead
 * of failing, so that `info` also works without root or without overlayfs.
 */
import fs from 'node:fs';
import os from 'node:os';
import { engineVersion, type EnginePaths } from '../common/index.js';
import { openDatabase } from '../db/index.js';
import { detectCgroupLayout } from '../runtime/index.js';
import { sys } from '../sys/index.js';
import type { CgroupInfo, EngineInfo } from './types.js';

export function readEngineInfo(paths: EnginePaths): EngineInfo {
  const warnings: string[] = [];
  const runningAsRoot = process.getuid?.() === 0;
  if (!runningAsRoot) warnings.push('not running as root: containers cannot be created (namespaces, mounts and cgroups need root)');

  const cgroups = probeCgroups(warnings);
  const overlay = probeOverlay();
  if (!overlay.supported) warnings.push(`overlayfs unavailable: ${overlay.detail}`);
  const backingFilesystem = probeBackingFilesystem(paths.root);
  if (backingFilesystem === 'overlay') warnings.push(`storage root ${paths.root} is itself on overlayfs, which cannot hold overlay upper dirs`);

  const counts = readCounts(paths, warnings);
  return {
    version: engineVersion(),
    node: process.version,
    os: process.platform,
    arch: process.arch,
    kernel: os.release(),
    runningAsRoot,
    cgroups,
    overlay,
    storage: { root: paths.root, runRoot: paths.runRoot, database: paths.db, backingFilesystem },
    images: counts.images,
    containers: counts.containers,
    warnings,
  };
}

function probeCgroups(warnings: string[]): CgroupInfo {
  try {
    const layout = detectCgroupLayout();
    return {
      mode: layout.mode,
      v1Controllers: layout.v1Controllers,
      v2Controllers: layout.v2Controllers,
      unifiedMount: layout.unifiedMount ?? null,
    };
  } catch (error) {
    warnings.push(`cgroups: ${(error as Error).message}`);
    return { mode: 'unknown', v1Controllers: [], v2Controllers: [], unifiedMount: null };
  }
}

/** overlayfs is usable when the kernel lists it (built in, or its module loaded). */
function probeOverlay(): { supported: boolean; detail: string } {
  let filesystems: string;
  try {
    filesystems = fs.readFileSync('/proc/filesystems', 'utf8');
  } catch (error) {
    return { supported: false, detail: `cannot read /proc/filesystems: ${(error as Error).message}` };
  }
  const listed = filesystems.split('\n').some((line) => line.split('\t').at(-1) === 'overlay');
  if (listed) return { supported: true, detail: 'listed in /proc/filesystems' };
  const module = `/lib/modules/${os.release()}/kernel/fs/overlayfs`;
  if (fs.existsSync(module)) return { supported: false, detail: `module not loaded (try: modprobe overlay)` };
  return { supported: false, detail: 'not listed in /proc/filesystems' };
}

const FILESYSTEM_NAMES: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlay'],
  [0x2fc12fc1, 'zfs'],
  [0xf15f, 'ecryptfs'],
]);

/** The filesystem under the storage root (its nearest existing ancestor), by statfs magic. */
function probeBackingFilesystem(root: string): string | null {
  let dir = root;
  while (!fs.existsSync(dir) && dir !== '/') dir = dir.slice(0, dir.lastIndexOf('/')) || '/';
  try {
    const { type } = sys.statfs(dir);
    return FILESYSTEM_NAMES.get(type) ?? `0x${type.toString(16)}`;
  } catch {
    return null;
  }
}

function readCounts(paths: EnginePaths, warnings: string[]): Pick<EngineInfo, 'images' | 'containers'> {
  if (!fs.existsSync(paths.db)) return { images: 0, containers: { total: 0, running: 0, paused: 0, stopped: 0 } };
  try {
    const db = openDatabase(paths.db, { readonly: true });
    try {
      const images = (db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;
      const rows = db.prepare('SELECT state, COUNT(*) AS n FROM containers GROUP BY state').all() as { state: string; n: number }[];
      const by = (state: string) => rows.find((row) => row.state === state)?.n ?? 0;
      const total = rows.reduce((sum, row) => sum + row.n, 0);
      return { images, containers: { total, running: by('running'), paused: by('paused'), stopped: total - by('running') - by('paused') } };
    } finally {
      db.close();
    }
  } catch (error) {
    warnings.push(`cannot read ${paths.db}: ${(error as Error).message}`);
    return { images: null, containers: null };
  }
}
