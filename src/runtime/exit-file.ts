/**
 * The files a container's monitor leaves in its run dir (<run-root>/<id>/),
 * read here; native/launcher/monitor.h writes them.
 *
 *   exit     {"status":3,"signal":null,"finishedAt":"2024-...Z","oomKilled":false,"restartCount":0}
 *            written once, tmp + fsync + rename, when the container is gone for good
 *   started  {"pid":1234,"startedAt":"2024-...Z","restartCount":0}, on every (re)start
 *
 * status is the exit code, or 128 + signal when a signal ended the process.
 * The monitor cannot know about OOM kills; the engine asks the cgroup and
 * may write the record again with oomKilled set (writeExitFile).
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError } from '../common/index.js';

export interface ExitRecord {
  status: number;
  /** The signal that ended the process, or null when it exited. */
  signal: number | null;
  /** RFC 3339 with nanoseconds, UTC. */
  finishedAt: string;
  oomKilled: boolean;
  /** Restarts done by the monitor before this end. */
  restartCount: number;
}

export interface StartRecord {
  pid: number;
  startedAt: string;
  restartCount: number;
}

export const EXIT_FILE = 'exit';
export const START_FILE = 'started';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new EngineError('INTEGRITY', `read ${what}: not JSON`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EngineError('INTEGRITY', `read ${what}: not an object`);
  return value as Record<string, unknown>;
}

/** Parses an exit file's text; INTEGRITY when it is not one. */
export function parseExitRecord(text: string): ExitRecord {
  const o = parseObject(text, 'exit file');
  const { status, signal, finishedAt, oomKilled, restartCount = 0 } = o;
  if (!isCount(status) || status > 255) throw new EngineError('INTEGRITY', 'read exit file: bad status');
  if (signal !== null && (!isCount(signal) || signal === 0 || signal > 64)) throw new EngineError('INTEGRITY', 'read exit file: bad signal');
  if (typeof finishedAt !== 'string' || !RFC3339.test(finishedAt)) throw new EngineError('INTEGRITY', 'read exit file: bad finishedAt');
  if (typeof oomKilled !== 'boolean') throw new EngineError('INTEGRITY', 'read exit file: bad oomKilled');
  if (!isCount(restartCount)) throw new EngineError('INTEGRITY', 'read exit file: bad restartCount');
  return { status, signal, finishedAt, oomKilled, restartCount };
}

/** The exit file's text for a record, as the monitor writes it. */
export function formatExitRecord(record: ExitRecord): string {
  const { status, signal, finishedAt, oomKilled, restartCount } = record;
  return `${JSON.stringify({ status, signal, finishedAt, oomKilled, restartCount })}\n`;
}

/** Parses a started file's text; INTEGRITY when it is not one. */
export function parseStartRecord(text: string): StartRecord {
  const { pid, startedAt, restartCount } = parseObject(text, 'started file');
  if (!isCount(pid) || pid === 0) throw new EngineError('INTEGRITY', 'read started file: bad pid');
  if (typeof startedAt !== 'string' || !RFC3339.test(startedAt)) throw new EngineError('INTEGRITY', 'read started file: bad startedAt');
  if (!isCount(restartCount)) throw new EngineError('INTEGRITY', 'read started file: bad restartCount');
  return { pid, startedAt, restartCount };
}

function readIfThere(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EngineError('UNAVAILABLE', `read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** The container's exit record, or undefined while there is none (running, restarting, or its monitor was lost). */
export function readExitFile(runDir: string): ExitRecord | undefined {
  const text = readIfThere(path.join(runDir, EXIT_FILE));
  return text === undefined ? undefined : parseExitRecord(text);
}

/** The latest start the monitor recorded, or undefined. */
export function readStartFile(runDir: string): StartRecord | undefined {
  const text = readIfThere(path.join(runDir, START_FILE));
  return text === undefined ? undefined : parseStartRecord(text);
}

/** Writes an exit record the way the monitor does: temp file, fsync, rename, fsync the dir. */
export function writeExitFile(runDir: string, record: ExitRecord): void {
  const tmp = path.join(runDir, `.${EXIT_FILE}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, formatExitRecord(record));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(runDir, EXIT_FILE));
  const dir = fs.openSync(runDir, 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

