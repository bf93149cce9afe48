/**
 * One starter at a time per container: a lock file in its run dir holding
 * the starter's pid, taken with O_EXCL. A lock whose process is gone (a
 * killed CLI) is stale and taken over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError, shortId } from '../common/index.js';

const LOCK_FILE = 'start.lock';

/** The pid of a live process holding the start lock of the run dir, or undefined. */
export function startLockHolder(runDir: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(runDir, LOCK_FILE), 'utf8').trim();
  } catch {
    return undefined;
  }
  const pid = Number(text);
  return Number.isInteger(pid) && pid > 0 && fs.existsSync(`/proc/${pid}`) ? pid : undefined;
}

/** Takes the start lock (CONFLICT while another live process holds it); returns the release. */
export function takeStartLock(runDir: string, id: string): () => void {
  const file = path.join(runDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = startLockHolder(runDir);
    if (holder !== undefined && holder !== process.pid) {
      throw new EngineError('CONFLICT', `start container ${shortId(id)}: another process (${holder}) is starting it`);
    }
    fs.rmSync(file, { force: true });
  }
  throw new EngineError('CONFLICT', `start container ${shortId(id)}: could not take the start lock`);
}
