/**
 * The cgroup file system, as seen by a manager: every write and directory
 * change is told to the Explainer first ("write <file> = <value>"), and every
 * failure becomes an EngineError naming the file. Reads are not explained:
 * they change nothing.
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError, type ErrorCode, type Explainer } from '../../common/index.js';
import { parsePids } from './convert.js';

const errnoOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

const CODE_FOR_ERRNO: Record<string, ErrorCode> = {
  ENOENT: 'NOT_FOUND',
  ESRCH: 'NOT_FOUND',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  EROFS: 'PERMISSION_DENIED',
  EINVAL: 'INVALID_ARGUMENT',
  ERANGE: 'INVALID_ARGUMENT',
  EBUSY: 'CONFLICT',
  ENOTEMPTY: 'CONFLICT',
  EEXIST: 'ALREADY_EXISTS',
  ENOSPC: 'FAILED_PRECONDITION',
  EOPNOTSUPP: 'NOT_IMPLEMENTED',
};

const HINT_FOR_ERRNO: Record<string, string> = {
  EACCES: 'cgroups are changed as root',
  EPERM: 'cgroups are changed as root',
  EINVAL: 'the kernel rejected this value for this file',
  ESRCH: 'the process has already exited',
  ENOSPC: 'on cgroup v1, cpuset.cpus and cpuset.mems must be set before a task can join',
};

/** An EngineError for a failed cgroup file operation, keeping the system error as its cause. */
export function cgroupError(operation: string, target: string, error: unknown): EngineError {
  const errno = errnoOf(error);
  const code = (errno && CODE_FOR_ERRNO[errno]) || 'INTERNAL';
  const hint = errno ? HINT_FOR_ERRNO[errno] : undefined;
  return new EngineError(code, `${operation} ${target}: ${errno ?? 'failed'}`, hint ? { hint, cause: error } : { cause: error });
}

export class CgroupFiles {
  constructor(private readonly explainer: Explainer) {}

  /**
   * Writes one value with a single write(2), the way cgroup files want it.
   * O_WRONLY without O_CREAT: a file the kernel does not offer is an error
   * (ENOENT), not a new file; O_TRUNC matters only for test trees on tmpfs.
   */
  write(file: string, value: string, say: string): void {
    this.explainer.step({ topic: 'cgroup', say, call: `write ${file} = ${value}` });
    let fd: number | undefined;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_TRUNC);
      writeSync(fd, value);
    } catch (error) {
      throw cgroupError('write cgroup file', file, error);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  read(file: string): string {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw cgroupError('read cgroup file', file, error);
    }
  }

  /** The file's text, or undefined when the kernel does not offer that file. */
  readOptional(file: string): string | undefined {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw cgroupError('read cgroup file', file, error);
    }
  }

  exists(file: string): boolean {
    return existsSync(file);
  }

  /** Creates one directory (a cgroup) unless it is there; returns whether it made it. */
  mkdir(dir: string, say: string): boolean {
    if (existsSync(dir)) return false;
    this.explainer.step({ topic: 'cgroup', say, call: `mkdir ${dir}` });
    try {
      mkdirSync(dir);
      return true;
    } catch (error) {
      if (errnoOf(error) === 'EEXIST') return false;
      throw cgroupError('create cgroup', dir, error);
    }
  }

  /**
   * Removes a cgroup directory and any groups nested in it (deepest first),
   * retrying while the kernel says EBUSY (tasks still exiting) until the
   * deadline. A directory that is already gone is fine.
   */
  async removeTree(dir: string, deadline: number, say: string): Promise<void> {
    // Nearly always the group is empty and has no nested group: then one rmdir
    // does it, without listing the directory (cgroupfs makes up its dozens of
    // entries at each readdir) or checking that it exists first.
    if (this.removeIfEmpty(dir, say) !== 'busy') return;
    for (const child of groupsBelow(dir).reverse()) await this.removeDir(child, deadline, 'remove a nested group');
    await this.removeDir(dir, deadline, say);
  }

  /**
   * One rmdir: 'removed' (explained), 'missing', or 'busy' when the kernel
   * keeps it (tasks inside, or nested groups: EBUSY on cgroupfs). Other
   * errors throw.
   */
  removeIfEmpty(dir: string, say: string): 'removed' | 'missing' | 'busy' {
    try {
      rmdirSync(dir);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'ENOENT') return 'missing';
      if (errno === 'EBUSY' || errno === 'ENOTEMPTY') return 'busy';
      throw cgroupError('remove cgroup', dir, error);
    }
    this.explainer.step({ topic: 'cgroup', say, call: `rmdir ${dir}` });
    return 'removed';
  }

  /** rmdir of one group, retrying on EBUSY until the deadline (0: try once). */
  async removeDir(dir: string, deadline: number, say: string): Promise<void> {
    let explained = false;
    for (;;) {
      if (!existsSync(dir)) return;
      if (!explained) this.explainer.step({ topic: 'cgroup', say, call: `rmdir ${dir}` });
      explained = true;
      try {
        rmdirSync(dir);
        return;
      } catch (error) {
        const errno = errnoOf(error);
        if (errno === 'ENOENT') return;
        if (errno !== 'EBUSY' || Date.now() >= deadline) {
          const pids = readPidsBelow(dir);
          const err = cgroupError('remove cgroup', dir, error);
          if (errno === 'EBUSY' && pids.length > 0) {
            throw new EngineError('FAILED_PRECONDITION', `remove cgroup ${dir}: processes still inside (${pids.join(', ')})`, {
              hint: 'kill them first (kill()), then destroy',
              cause: error,
            });
          }
          throw err;
        }
        await sleep(20);
      }
    }
  }
}

/** Every directory below `dir` (nested groups), parents before children. */
export function groupsBelow(dir: string): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const child = path.join(dir, entry.name);
    out.push(child, ...groupsBelow(child));
  }
  return out;
}

/** The pids in cgroup.procs of `dir` and of every group nested in it; [] when it is gone. */
export function readPidsBelow(dir: string): number[] {
  const pids: number[] = [];
  for (const group of [dir, ...groupsBelow(dir)]) {
    try {
      pids.push(...parsePids(readFileSync(path.join(group, 'cgroup.procs'), 'utf8')));
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw cgroupError('read cgroup file', path.join(group, 'cgroup.procs'), error);
    }
  }
  return [...new Set(pids)];
}

/** SIGKILL each pid, telling the explainer; a process already gone is fine. */
export function killPids(pids: number[], explainer: Explainer): void {
  for (const pid of pids) {
    explainer.step({ topic: 'cgroup', say: `kill process ${pid} of the group`, call: `kill(${pid}, SIGKILL)` });
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if (errnoOf(error) !== 'ESRCH') throw cgroupError('kill process', String(pid), error);
    }
  }
}

/** Polls `check` every `intervalMs` until it is true; false if `timeoutMs` passes first. */
export async function waitUntil(check: () => boolean, timeoutMs: number, intervalMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** rmdir of a group that may have children: true when it is gone, false when still in use. */
export async function removeEmptyGroup(files: CgroupFiles, dir: string): Promise<boolean> {
  // The kernel refuses (EBUSY) while any group is nested in it or a task is in it.
  return files.removeIfEmpty(dir, 'remove the engine\'s parent group, now empty') !== 'busy';
}
