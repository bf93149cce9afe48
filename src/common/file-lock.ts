/**
 * A lock file shared by processes: created with O_EXCL and holding the
 * owner's pid. A lock whose pid is no longer alive (the owner was killed) is
 * stale and taken over.
 *
 * Taking over is done by renaming the stale file to a unique name first, so
 * that of two processes racing for the same stale lock only one removes it;
 * the other one finds it gone and competes for the O_EXCL create again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lazyCrypto } from './lazy-crypto.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError } from './errors.js';

export interface FileLock {
  readonly path: string;
  release(): void;
}

export interface AcquireOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** Names the locked object in error messages. */
  what: string;
  /** Said when the wait times out, e.g. what the other holder is probably doing. */
  hint?: string;
}

const POLL_MS = 100;

/** True when a process with this pid exists (EPERM means it exists but is not ours). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid written in a lock file, or undefined when it is missing or unreadable. */
export function readLockPid(lockPath: string): number | undefined {
  try {
    const text = fs.readFileSync(lockPath, 'utf8').trim();
    const pid = Number.parseInt(text, 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** One attempt: the lock, or undefined when a live process holds it. */
export function tryAcquireLock(lockPath: string): FileLock | undefined {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lockPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
      try {
        fs.writeSync(fd, `${process.pid}\n`);
      } finally {
        fs.closeSync(fd);
      }
      return makeLock(lockPath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // The directory was removed by a writer that just finished; recreate it.
        fs.mkdirSync(path.dirname(lockPath), { recursive: true });
        continue;
      }
      if (code !== 'EEXIST') throw error;
    }
    const pid = readLockPid(lockPath);
    if (pid === undefined) {
      // Just created and not written yet, or its creator died in between:
      // held for a few seconds, stale after that.
      if (!isOlderThan(lockPath, 5_000)) return undefined;
    } else if (isProcessAlive(pid)) {
      return undefined;
    }
    takeOverStale(lockPath, pid);
  }
  return undefined;
}

/**
 * Waits for the lock, without blocking the event loop, until timeoutMs;
 * CONFLICT when it stays held.
 */
export async function acquireLock(lockPath: string, options: AcquireOptions): Promise<FileLock> {
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  for (;;) {
    const lock = tryAcquireLock(lockPath);
    if (lock) return lock;
    if (options.signal?.aborted) {
      throw new EngineError('CONFLICT', `${options.what}: gave up waiting for the lock`, { cause: options.signal.reason });
    }
    if (Date.now() >= deadline) {
      const pid = readLockPid(lockPath);
      throw new EngineError('CONFLICT', `${options.what}: locked by process ${pid ?? 'unknown'}`, options.hint === undefined ? {} : { hint: options.hint });
    }
    await sleep(POLL_MS, undefined, options.signal ? { signal: options.signal } : undefined).catch(() => undefined);
  }
}

function isOlderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - fs.statSync(file).mtimeMs > ms;
  } catch {
    return false;
  }
}

function takeOverStale(lockPath: string, stalePid: number | undefined): void {
  const aside = `${lockPath}.stale-${process.pid}-${lazyCrypto().randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else took it over
    throw error;
  }
  // Between reading the pid and the rename another process may have taken the
  // lock over and written its own pid: give a live lock back.
  const pid = readLockPid(aside);
  if (pid !== stalePid && pid !== undefined && isProcessAlive(pid)) {
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      // A third process created a new lock meanwhile; nothing to give back to.
    }
  }
  fs.rmSync(aside, { force: true });
}

function makeLock(lockPath: string): FileLock {
  let held = true;
  return {
    path: lockPath,
    release() {
      if (!held) return;
      held = false;
      // Only remove the file if it is still ours.
      if (readLockPid(lockPath) === process.pid) fs.rmSync(lockPath, { force: true });
    },
  };
}

/**
 * Waits for the lock, blocking the thread between attempts: for short
 * critical sections in synchronous code. CONFLICT when it stays held.
 */
export function acquireLockSync(lockPath: string, options: Omit<AcquireOptions, 'signal'>): FileLock {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const lock = tryAcquireLock(lockPath);
    if (lock) return lock;
    if (Date.now() >= deadline) {
      const pid = readLockPid(lockPath);
      throw new EngineError('CONFLICT', `${options.what}: locked by process ${pid ?? 'unknown'}`, options.hint === undefined ? {} : { hint: options.hint });
    }
    Atomics.wait(pause, 0, 0, 20);
  }
}
