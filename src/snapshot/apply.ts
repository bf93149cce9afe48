/**
 * Applies tar entries to a layer directory the way overlay snapshotters do,
 * with synchronous fs calls (a layer is thousands of small files; awaiting
 * each call costs more than the call itself).
 *
 * Safety: every entry is placed relative to `root` by walking its parent
 * components with lstat; a parent that is a symlink, or a name that climbs out
 * with `..` or starts with `/`, is refused before anything is written for it.
 * Files are created with O_EXCL|O_NOFOLLOW and all metadata calls are the l*
 * variants, so nothing ever follows a symlink that the layer itself made.
 *
 * Metadata order matters: chown clears setuid bits and file capabilities, and
 * writing data clears capabilities too, so it is data, chown, xattrs, chmod,
 * then times; directories' times are set at the very end, after their
 * children stopped changing them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError } from '../common/index.js';
import type { NativeConstants, NativeSys } from '../sys/index.js';
import { cleanEntryPath, parentsOf, whiteoutOf } from './entry-path.js';
import type { TarHeader, TarSink } from './tar-reader.js';

export interface ApplierDeps {
  sys: Pick<NativeSys, 'mknod' | 'lsetxattr'>;
  constants: Pick<NativeConstants, 'S_IFCHR' | 'S_IFBLK' | 'S_IFIFO'>;
}

export interface LayerApplier extends TarSink {
  /** Sets the deferred directory times; call after the last entry. */
  finish(): void;
  /** Closes a file left open by a failure. */
  close(): void;
}

const OPEN_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/**
 * @param root an existing directory, given as a real path (no symlinks in it)
 * @param what prefix of error messages, e.g. `layer sha256:...`
 */
export function createLayerApplier(root: string, what: string, deps: ApplierDeps): LayerApplier {
  /** Relative paths known to be real directories (not symlinks) created or checked in this layer. */
  const knownDirs = new Set<string>(['']);
  const dirTimes: Array<{ full: string; atime: number; mtime: number }> = [];
  const owner = { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1 };
  const umask = readUmask();
  let fd: number | undefined;
  let current: { header: TarHeader; full: string } | undefined;

  const fail = (name: string, message: string, code: 'INTEGRITY' | 'INTERNAL' = 'INTEGRITY', cause?: unknown) =>
    new EngineError(code, `${what}: entry ${JSON.stringify(name)} ${message}`, cause === undefined ? {} : { cause });

  const clean = (name: string, label = name): string => {
    const result = cleanEntryPath(name);
    if (result.ok) return result.path;
    if (result.reason === 'invalid') throw fail(label, 'has an invalid name');
    throw fail(label, 'escapes the layer directory');
  };

  const full = (rel: string): string => (rel === '' ? root : path.join(root, rel));

  /** Makes sure every parent of rel is a real directory inside root, creating missing ones. */
  const ensureParents = (rel: string, name: string, create: boolean): void => {
    for (const dir of parentsOf(rel)) {
      if (knownDirs.has(dir)) continue;
      // throwIfNoEntry: building an ENOENT exception per new file costs more than the call.
      const stat = fs.lstatSync(full(dir), { throwIfNoEntry: false });
      if (stat === undefined) {
        if (!create) throw fail(name, `refers to ${JSON.stringify(dir)}, which does not exist in the layer`);
        fs.mkdirSync(full(dir), 0o755);
        fs.chmodSync(full(dir), 0o755);
      } else if (stat.isSymbolicLink()) {
        throw fail(name, `escapes the layer directory (through the symlink ${JSON.stringify(dir)})`);
      } else if (!stat.isDirectory()) {
        throw fail(name, `has a parent ${JSON.stringify(dir)} that is not a directory`);
      }
      knownDirs.add(dir);
    }
  };

  /** Clears the way for a new entry at rel; true when an existing directory is kept instead. */
  const makeRoom = (rel: string, keepDirectory: boolean): boolean => {
    const stat = fs.lstatSync(full(rel), { throwIfNoEntry: false });
    if (stat === undefined) return false;
    if (stat.isDirectory()) {
      if (keepDirectory) return true;
      if (rel === '') throw fail('/', 'would replace the layer root');
      fs.rmSync(full(rel), { recursive: true, force: true });
      // Anything cached below it is gone (and may come back as a symlink).
      for (const dir of knownDirs) if (dir === rel || dir.startsWith(`${rel}/`)) knownDirs.delete(dir);
    } else {
      fs.unlinkSync(full(rel));
    }
    return false;
  };

  const setXattrs = (file: string, header: TarHeader): void => {
    for (const [name, value] of header.xattrs) {
      try {
        deps.sys.lsetxattr(file, name, value, 0);
      } catch (error) {
        throw fail(header.name, `cannot set xattr ${name}`, 'INTERNAL', error);
      }
    }
  };

  const times = (header: TarHeader): [number, number] => [header.atime ?? header.mtime, header.mtime];

  const mknod = (file: string, header: TarHeader, type: number, major: number, minor: number): void => {
    try {
      deps.sys.mknod(file, type | (header.mode & 0o7777), major, minor);
    } catch (error) {
      throw fail(header.name, 'cannot be created as a device node', 'INTERNAL', error);
    }
  };

  const applyWhiteout = (header: TarHeader, rel: string): boolean => {
    const whiteout = whiteoutOf(rel);
    switch (whiteout.kind) {
      case 'none':
        return false;
      case 'meta':
        return true;
      case 'opaque': {
        ensureParents(rel, header.name, true);
        try {
          deps.sys.lsetxattr(full(whiteout.dir), 'trusted.overlay.opaque', Buffer.from('y'), 0);
        } catch (error) {
          throw fail(header.name, 'cannot mark its directory opaque', 'INTERNAL', error);
        }
        return true;
      }
      case 'whiteout': {
        ensureParents(whiteout.target, header.name, true);
        makeRoom(whiteout.target, false);
        const file = full(whiteout.target);
        mknod(file, { ...header, mode: 0 }, deps.constants.S_IFCHR, 0, 0);
        fs.lchownSync(file, header.uid, header.gid);
        return true;
      }
    }
  };

  const applyHardlink = (header: TarHeader, rel: string, file: string): void => {
    const target = cleanEntryPath(header.linkname);
    if (!target.ok || target.path === '') {
      throw fail(header.name, `links to ${JSON.stringify(header.linkname)}, outside the layer directory`);
    }
    if (target.path === rel) return;
    ensureParents(target.path, header.name, false);
    const stat = fs.lstatSync(full(target.path), { throwIfNoEntry: false });
    if (stat === undefined) {
      throw fail(header.name, `links to ${JSON.stringify(header.linkname)}, which is not in the layer`);
    }
    if (stat.isDirectory()) throw fail(header.name, `links to the directory ${JSON.stringify(header.linkname)}`);
    makeRoom(rel, false);
    // link(2) does not follow a symlink target: the link shares the symlink's inode.
    fs.linkSync(full(target.path), file);
  };

  return {
    entry(header) {
      const rel = clean(header.name);
      if (applyWhiteout(header, rel)) return;
      ensureParents(rel, header.name, true);
      const file = full(rel);
      switch (header.kind) {
        case 'directory': {
          if (!makeRoom(rel, true)) fs.mkdirSync(file, 0o700);
          knownDirs.add(rel);
          fs.lchownSync(file, header.uid, header.gid);
          setXattrs(file, header);
          fs.chmodSync(file, header.mode);
          const [atime, mtime] = times(header);
          dirTimes.push({ full: file, atime, mtime });
          return;
        }
        case 'file': {
          // Created with its final permission bits (the fd stays writable); an
          // existing entry is only looked at when the exclusive create fails.
          const createMode = header.mode & 0o777;
          try {
            fd = fs.openSync(file, OPEN_NEW, createMode);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
            makeRoom(rel, false);
            fd = fs.openSync(file, OPEN_NEW, createMode);
          }
          current = { header, full: file };
          return;
        }
        case 'symlink': {
          if (header.linkname === '') throw fail(header.name, 'is a symlink with an empty target');
          try {
            fs.symlinkSync(header.linkname, file);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
            makeRoom(rel, false);
            fs.symlinkSync(header.linkname, file);
          }
          fs.lchownSync(file, header.uid, header.gid);
          setXattrs(file, header);
          fs.lutimesSync(file, ...times(header));
          return;
        }
        case 'hardlink':
          applyHardlink(header, rel, file);
          return;
        case 'char-device':
        case 'block-device':
        case 'fifo': {
          makeRoom(rel, false);
          const type =
            header.kind === 'char-device'
              ? deps.constants.S_IFCHR
              : header.kind === 'block-device'
                ? deps.constants.S_IFBLK
                : deps.constants.S_IFIFO;
          mknod(file, header, type, header.devmajor, header.devminor);
          fs.lchownSync(file, header.uid, header.gid);
          setXattrs(file, header);
          fs.chmodSync(file, header.mode);
          fs.lutimesSync(file, ...times(header));
          return;
        }
      }
    },

    data(chunk) {
      if (fd === undefined) return;
      let done = 0;
      while (done < chunk.length) done += fs.writeSync(fd, chunk, done, chunk.length - done);
    },

    end() {
      if (fd === undefined || current === undefined) return;
      const { header, full: file } = current;
      const handle = fd;
      fd = undefined;
      current = undefined;
      try {
        // Most files of an image belong to root, as the new file already does.
        if (header.uid !== owner.uid || header.gid !== owner.gid) fs.fchownSync(handle, header.uid, header.gid);
        setXattrs(file, header);
        // chmod only when the umask took bits away or setuid/setgid/sticky are wanted.
        if ((header.mode & 0o7000) !== 0 || (header.mode & umask) !== 0) fs.fchmodSync(handle, header.mode);
        fs.futimesSync(handle, ...times(header));
      } finally {
        fs.closeSync(handle);
      }
    },

    finish() {
      // Innermost last-seen first does not matter: utimes on a directory does not touch its parent.
      for (const { full: file, atime, mtime } of dirTimes) {
        try {
          fs.lutimesSync(file, atime, mtime);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    },

    close() {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
      current = undefined;
    },
  };
}

/** The process umask, read without changing it (process.umask() with no argument is deprecated). */
function readUmask(): number {
  try {
    const match = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number.parseInt(match[1]!, 8);
  } catch {
    // not Linux procfs: assume the worst, always chmod
  }
  return 0o777;
}
