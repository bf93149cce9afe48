/**
 * Describes (never performs) the mount that stacks an image's layers into a
 * container's root filesystem. `sys/` carries it out with mount(2):
 *
 *   mount("overlay", target, "overlay", 0, "lowerdir=L3:L2:L1,upperdir=U,workdir=W")
 *
 * lowerdir lists the topmost layer first. Without an upper dir overlayfs
 * needs at least two lower dirs, so a read-only view of a single layer is a
 * read-only bind mount of that layer instead.
 */
import path from 'node:path';
import { EngineError } from '../common/index.js';

export interface RootfsMountRequest {
  /** Layer directories, topmost first. */
  lowerDirs: readonly string[];
  /** Writable layer of the container; omitted for a read-only view. */
  upperDir?: string | undefined;
  /** overlayfs' scratch dir, on the same filesystem as upperDir; required with upperDir. */
  workDir?: string | undefined;
  target: string;
  readonly?: boolean;
}

export interface MountDescription {
  /** What mount(2) gets as source: "overlay", or the directory of a bind mount. */
  source: string;
  /** "overlay", or "none" for a bind mount. */
  fstype: 'overlay' | 'none';
  target: string;
  /** Generic options in the OCI runtime spec's words: "ro", "bind"... */
  options: string[];
  /** The filesystem-specific data string passed to mount(2). */
  data: string;
  /**
   * Set when the absolute paths would not fit in one page of mount data: the
   * data then uses paths relative to this directory, and the executor must
   * mount with this as its working directory.
   */
  cwd?: string;
}

/** mount(2) copies at most one page of data. */
export const MOUNT_DATA_MAX = 4095;

export function describeRootfsMount(request: RootfsMountRequest): MountDescription {
  const { lowerDirs, upperDir, workDir, target } = request;
  const readonly = request.readonly ?? upperDir === undefined;
  if (lowerDirs.length === 0) throw new EngineError('INVALID_ARGUMENT', `rootfs mount ${target}: no layers`);
  for (const dir of [...lowerDirs, upperDir, workDir, target]) {
    if (dir !== undefined && !path.isAbsolute(dir)) {
      throw new EngineError('INVALID_ARGUMENT', `rootfs mount ${target}: ${JSON.stringify(dir)} is not an absolute path`);
    }
  }
  if ((upperDir === undefined) !== (workDir === undefined)) {
    throw new EngineError('INVALID_ARGUMENT', `rootfs mount ${target}: upperDir and workDir go together`);
  }

  if (upperDir === undefined && lowerDirs.length === 1) {
    return { source: lowerDirs[0]!, fstype: 'none', target, options: ['bind', 'ro'], data: '' };
  }

  const options = readonly ? ['ro'] : [];
  const build = (dirs: readonly string[], upper?: string, work?: string): string => {
    const parts = [`lowerdir=${dirs.map(escapeOverlayPath).join(':')}`];
    if (upper !== undefined && work !== undefined) {
      parts.push(`upperdir=${escapeOverlayPath(upper)}`, `workdir=${escapeOverlayPath(work)}`);
    }
    return parts.join(',');
  };

  const data = build(lowerDirs, upperDir, workDir);
  if (data.length <= MOUNT_DATA_MAX) return { source: 'overlay', fstype: 'overlay', target, options, data };

  // Too long: make the layer paths relative to their common parent (the layers dir).
  const cwd = commonParent(lowerDirs);
  const relative = (dir: string): string => path.relative(cwd, dir) || '.';
  const short = build(lowerDirs.map(relative), upperDir, workDir);
  if (short.length > MOUNT_DATA_MAX) {
    throw new EngineError('INVALID_ARGUMENT', `rootfs mount ${target}: too many layers (${lowerDirs.length}) for one overlay mount`);
  }
  return { source: 'overlay', fstype: 'overlay', target, options, data: short, cwd };
}

/** overlayfs splits its options at `,` and lower dirs at `:`; a backslash escapes either. */
export function escapeOverlayPath(dir: string): string {
  return dir.replace(/[\\:,]/g, (c) => `\\${c}`);
}

function commonParent(dirs: readonly string[]): string {
  let common = path.dirname(dirs[0]!);
  for (const dir of dirs) {
    while (common !== '/' && !dir.startsWith(`${common}/`)) common = path.dirname(common);
  }
  return common;
}
