/**
 * One starter at a time per container: the common file lock (O_EXCL, the
 * owner's pid, stale when that process is gone) in the container's run dir.
 */
import path from 'node:path';
import { EngineError, isProcessAlive, readLockPid, shortId, tryAcquireLock } from '../common/index.js';

const LOCK_FILE = 'start.lock';

/** The pid of a live process holding the start lock of the run dir, or undefined. */
export function startLockHolder(runDir: string): number | undefined {
  const pid = readLockPid(path.join(runDir, LOCK_FILE));
  return pid !== undefined && isProcessAlive(pid) ? pid : undefined;
}

/** Takes the start lock (CONFLICT while another live process holds it); returns the release. */
export function takeStartLock(runDir: string, id: string): () => void {
  const lock = tryAcquireLock(path.join(runDir, LOCK_FILE));
  if (lock !== undefined) return () => lock.release();
  const holder = startLockHolder(runDir);
  throw new EngineError('CONFLICT', `start container ${shortId(id)}: another process (${holder ?? 'unknown'}) is starting it`);
}
