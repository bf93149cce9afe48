/**
 * A container's log in Docker's json-file format, as the monitor writes it
 * (native/launcher/json-log.h): one JSON object per line,
 *
 *   {"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
 *
 * "log" ends with "\n" unless the line was longer than 16 KiB (the rest comes
 * in the next entries) or the stream ended without one. readLogs reads such a
 * file the way `docker logs` does: --tail, --since, --until, -t, -f, and a
 * follow that ends when the container has ended and the file is fully read.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError } from '../common/index.js';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  stream: LogStream;
  /** The bytes written, as text; ends with "\n" for a whole line. */
  log: string;
  /** RFC 3339 as written (nanoseconds, UTC). */
  time: string;
}

export interface LogChunk extends LogEntry {
  /** What `docker logs` prints for the entry: log, or "<time with 9 digits> <log>" with timestamps. */
  text: string;
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;

/** Nanoseconds since the epoch of an RFC 3339 time; INVALID_ARGUMENT when it is not one. */
export function parseLogTime(text: string): bigint {
  const m = TIME.exec(text);
  if (m === null) throw new EngineError('INVALID_ARGUMENT', `parse time ${JSON.stringify(text)}: not RFC 3339`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(ms)) throw new EngineError('INVALID_ARGUMENT', `parse time ${JSON.stringify(text)}: out of range`);
  const offsetMinutes = m[8] === 'Z' ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  const fraction = BigInt((m[7] ?? '').padEnd(9, '0') || '0');
  return (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1_000_000n + fraction;
}

/** The time with exactly nine fraction digits, as `docker logs -t` prints it. */
export function fixedNanoTime(text: string): string {
  const m = /^([^.]*?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (m === null) return text;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}${m[3]}`;
}

/** One line of the file; INTEGRITY when it is not a json-file entry. */
export function parseLogLine(line: string): LogEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (cause) {
    throw new EngineError('INTEGRITY', 'read log: a line is not JSON', { cause });
  }
  const { log, stream, time } = (value ?? {}) as Record<string, unknown>;
  if (typeof log !== 'string' || (stream !== 'stdout' && stream !== 'stderr') || typeof time !== 'string' || !TIME.test(time)) {
    throw new EngineError('INTEGRITY', 'read log: a line is not a json-file entry');
  }
  return { log, stream, time };
}

/** A json-file line for an entry (with its newline), keys in Docker's order. */
export function formatLogLine(entry: LogEntry): string {
  return `${JSON.stringify({ log: entry.log, stream: entry.stream, time: entry.time })}\n`;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A --since/--until value as nanoseconds since the epoch: RFC 3339 (zone
 * optional, then UTC), a date, Unix seconds with an optional fraction, or a
 * Go duration ("10m", "1h30m") counted back from now.
 */
export function parseSince(value: string, now: Date = new Date()): bigint {
  const text = value.trim();
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    let ms = 0;
    for (const part of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(part[1]) * DURATION_UNITS[part[2]!]!;
    return BigInt(now.getTime()) * 1_000_000n - BigInt(Math.round(ms * 1e6));
  }
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (unix !== null) return BigInt(unix[1]!) * 1_000_000_000n + BigInt((unix[2] ?? '').padEnd(9, '0') || '0');
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return parseLogTime(`${text}T00:00:00Z`);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)) return parseLogTime(`${text.length === 16 ? `${text}:00` : text}Z`);
  try {
    return parseLogTime(text);
  } catch {
    throw new EngineError('INVALID_ARGUMENT', `parse time ${JSON.stringify(value)}: expected a duration, a Unix time or RFC 3339`);
  }
}

export interface ReadLogsOptions {
  /** Only the last N entries (before since/until filtering, as Docker does); default all. */
  tail?: number;
  /** Only entries at or after this time (ns since the epoch, or a --since string). */
  since?: bigint | string;
  /** Only entries before this time. */
  until?: bigint | string;
  /** Prefix text with the time (docker logs -t). */
  timestamps?: boolean;
  /** Which streams; default both. */
  streams?: readonly LogStream[];
  /** Keep reading as the file grows, until done() says the container has ended and all is read. */
  follow?: boolean;
  /** With follow: true once nothing more will be written (e.g. the exit file exists). Default: never. */
  done?: () => boolean;
  signal?: AbortSignal;
  /** With follow: how often to look for more, in ms; default 100. */
  pollMs?: number;
}

/** Where the last `count` lines of the file start (the file's size when count is 0). */
async function tailOffset(file: fs.promises.FileHandle, size: number, count: number): Promise<number> {
  if (count <= 0) return size;
  const chunk = Buffer.alloc(64 * 1024);
  let position = size;
  let newlines = 0;
  let first = true;
  while (position > 0) {
    const length = Math.min(chunk.length, position);
    position -= length;
    await file.read(chunk, 0, length, position);
    for (let i = length - 1; i >= 0; i--) {
      if (first) {
        first = false;
        // The final newline ends the last line; a torn last line (no newline yet) takes no place in the count.
        if (chunk[i] === 0x0a) continue;
        count++;
      }
      if (chunk[i] === 0x0a && ++newlines === count) return position + i + 1;
    }
  }
  return 0;
}

async function openWhenThere(path: string, options: ReadLogsOptions): Promise<fs.promises.FileHandle | undefined> {
  for (;;) {
    try {
      return await fs.promises.open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new EngineError('UNAVAILABLE', `read log ${path}: ${(error as Error).message}`, { cause: error });
      }
      if (!options.follow || options.done?.() === true || options.signal?.aborted) return undefined;
      await sleep(options.pollMs ?? 100, undefined, { signal: options.signal }).catch(() => {});
    }
  }
}

function toNanos(value: bigint | string | undefined): bigint | undefined {
  return typeof value === 'string' ? parseSince(value) : value;
}

/**
 * The log's entries in order, as `docker logs` shows them. Unparseable lines
 * are skipped (a crash can leave a torn last line). With follow, waits for
 * more until options.done() is true and the file has been read to its end,
 * or until options.signal aborts.
 */
export async function* readLogs(path: string, options: ReadLogsOptions = {}): AsyncGenerator<LogChunk> {
  const since = toNanos(options.since);
  const until = toNanos(options.until);
  const streams = new Set(options.streams ?? ['stdout', 'stderr']);
  const file = await openWhenThere(path, options);
  if (file === undefined) return;
  try {
    const { size } = await file.stat();
    let position = options.tail === undefined || options.tail < 0 ? 0 : await tailOffset(file, size, options.tail);
    const buffer = Buffer.alloc(64 * 1024);
    let partial = Buffer.alloc(0);
    for (;;) {
      if (options.signal?.aborted) return;
      // Look at done() before reading: whatever was written before it turned true is then read below.
      const finished = !options.follow || options.done?.() === true;
      let readSome = false;
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        readSome = true;
        position += bytesRead;
        const lines = Buffer.concat([partial, buffer.subarray(0, bytesRead)]);
        let start = 0;
        for (let nl = lines.indexOf(0x0a); nl >= 0; nl = lines.indexOf(0x0a, start)) {
          const line = lines.toString('utf8', start, nl);
          start = nl + 1;
          let entry: LogEntry;
          try {
            entry = parseLogLine(line);
          } catch {
            continue;
          }
          if (!streams.has(entry.stream)) continue;
          if (since !== undefined || until !== undefined) {
            const at = parseLogTime(entry.time);
            if ((since !== undefined && at < since) || (until !== undefined && at >= until)) continue;
          }
          yield { ...entry, text: options.timestamps ? `${fixedNanoTime(entry.time)} ${entry.log}` : entry.log };
          if (options.signal?.aborted) return;
        }
        partial = lines.subarray(start);
      }
      if (finished) return;
      if (!readSome) await sleep(options.pollMs ?? 100, undefined, { signal: options.signal }).catch(() => {});
    }
  } finally {
    await file.close();
  }
}
