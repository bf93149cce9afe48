/**
 * Docker's copy-up: a new, empty volume mounted over a directory that holds
 * data in the image is first filled with that data, owners, modes, times,
 * xattrs, symlinks, hard links and device nodes kept.
 *
 * The source is read through the container's merged rootfs (the overlay is
 * mounted, the container not started yet) with lstat and O_NOFOLLOW only: a
 * symlink in the image is copied as a symlink, never followed, so nothing
 * outside the image's root is ever read. The copy is made in a staging
 * directory beside _data, which no container sees, and renamed over the
 * empty _data at the end (rename(2) replaces an empty directory atomically):
 * a container never sees a half-filled volume, and if something was written
 * to _data meanwhile, the copy is dropped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError, type Explainer } from '../common/index.js';
import { nativeConstants, sys } from '../sys/index.js';

const CHUNK = 1024 * 1024;

export interface CopyUpResult {
  copied: boolean;
  /** Entries below the directory that were copied. */
  entries: number;
}

function major(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}

function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

function isEmptyDir(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

function copyXattrs(source: string, target: string): void {
  let names: string[];
  try {
    names = sys.llistxattr(source);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTSUP' || code === 'EOPNOTSUPP') return;
    throw error;
  }
  for (const name of names) {
    if (name.startsWith('trusted.overlay.')) continue;
    const value = sys.lgetxattr(source, name);
    if (value === null) continue;
    try {
      sys.lsetxattr(target, name, value, 0);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    }
  }
}

/** Copies a regular file's bytes through descriptors opened without following links. */
function copyFileData(source: string, target: string, expected: fs.Stats): void {
  const c = fs.constants;
  const input = fs.openSync(source, c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK);
  try {
    const st = fs.fstatSync(input);
    if (!st.isFile() || st.ino !== expected.ino || st.dev !== expected.dev) {
      throw new EngineError('CONFLICT', `copy ${source}: it changed while being copied`);
    }
    const output = fs.openSync(target, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, 0o600);
    try {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, st.size)));
      for (;;) {
        const n = fs.readSync(input, buffer, 0, buffer.length, null);
        if (n === 0) break;
        let written = 0;
        while (written < n) written += fs.writeSync(output, buffer, written, n - written);
      }
      fs.fchownSync(output, st.uid, st.gid);
    } finally {
      fs.closeSync(output);
    }
  } finally {
    fs.closeSync(input);
  }
}

interface Walk {
  links: Map<string, string>;
  entries: number;
}

/** Copies one entry (and, for a directory, everything below it) from source to target (which must not exist). */
function copyEntry(source: string, target: string, walk: Walk): void {
  const st = fs.lstatSync(source);
  const constants = nativeConstants();
  if (st.isDirectory()) {
    fs.mkdirSync(target, { mode: 0o700 });
    for (const name of fs.readdirSync(source)) {
      copyEntry(path.join(source, name), path.join(target, name), walk);
      walk.entries++;
    }
    fs.lchownSync(target, st.uid, st.gid);
    copyXattrs(source, target);
    fs.chmodSync(target, st.mode & 0o7777);
    fs.lutimesSync(target, st.atime, st.mtime);
    return;
  }
  if (!st.isSymbolicLink() && st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = walk.links.get(key);
    if (first !== undefined) {
      fs.linkSync(first, target);
      return;
    }
    walk.links.set(key, target);
  }
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(source), target);
    fs.lchownSync(target, st.uid, st.gid);
    fs.lutimesSync(target, st.atime, st.mtime);
    return;
  }
  if (st.isFile()) {
    copyFileData(source, target, st);
  } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
    const type = st.isCharacterDevice() ? constants.S_IFCHR : st.isBlockDevice() ? constants.S_IFBLK : constants.S_IFIFO;
    sys.mknod(target, type | 0o600, major(st.rdev), minor(st.rdev));
    fs.lchownSync(target, st.uid, st.gid);
  } else {
    // A socket belongs to the process that made it; there is nothing to copy.
    return;
  }
  // Data and owner first, then xattrs, then the mode: chown clears setuid bits.
  copyXattrs(source, target);
  fs.chmodSync(target, st.mode & 0o7777);
  fs.lutimesSync(target, st.atime, st.mtime);
}

/**
 * Fills `<volumeDir>/_data` with a copy of `source` (a directory inside the
 * container's merged rootfs, already resolved in that root) when _data is
 * empty. The volume's root takes the owner, mode and xattrs of `source`.
 * Returns copied: false when there is nothing to copy (no such directory
 * in the image) or the volume is not empty.
 */
export function copyUp(source: string, volumeDir: string, explainer: Explainer, label: string): CopyUpResult {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(source);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { copied: false, entries: 0 };
    throw error;
  }
  if (!st.isDirectory()) return { copied: false, entries: 0 };
  const data = path.join(volumeDir, '_data');
  if (!isEmptyDir(data)) return { copied: false, entries: 0 };
  const staging = fs.mkdtempSync(path.join(volumeDir, '.copy-up-'));
  fs.rmdirSync(staging);
  const walk: Walk = { links: new Map(), entries: 0 };
  try {
    copyEntry(source, staging, walk);
    try {
      fs.renameSync(staging, data);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return { copied: false, entries: 0 };
      throw error;
    }
  } catch (cause) {
    throw new EngineError('INTERNAL', `copy the image's ${label} into volume ${path.basename(volumeDir)}: ${(cause as Error).message}`, { cause });
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  explainer.step({
    topic: 'storage',
    say: `fill the new volume ${path.basename(volumeDir).slice(0, 12)} with what the image has at ${label} (${walk.entries} entries; owners, modes, xattrs and links kept, symlinks never followed)`,
    call: `cp -a ${source}/. ${staging}; rename("${staging}", "${data}")`,
  });
  return { copied: true, entries: walk.entries };
}
