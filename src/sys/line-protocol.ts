/**
 * The line protocol the native executables speak on their pipes: the sync
 * pipe (`PID n`, `GO`, `ERR errno step detail`) and the explain pipe
 * (`topic<TAB>what happens<TAB>the call`), read here for the launcher, the
 * monitor and the exec helper alike.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { ExplainTopic, Explainer } from '../common/index.js';
import { readFdAsync } from './native.js';

export interface LineReader {
  /** The next line without its newline; null at EOF. */
  next(): Promise<string | null>;
}

/** A LineReader straight on a file descriptor it owns (no stream, no node:net). */
export interface FdLineReader extends LineReader {
  /** Closes the fd now, or once a read still under way returns (idempotent). EOF closes it too. */
  close(): void;
}

/**
 * Lines from a pipe or socket fd, each read a blocking read(2) on a thread of
 * the addon's own: nothing is read ahead of next(), so closing between calls
 * never races a read.
 */
export function fdLineReader(fd: number): FdLineReader {
  const lines: string[] = [];
  const decoder = new TextDecoder();
  let partial = '';
  let state: 'open' | 'reading' | 'closing' | 'closed' = 'open';
  const closeFd = () => {
    state = 'closed';
    fs.closeSync(fd); // at once: the caller may count its fds next
  };
  return {
    async next() {
      while (lines.length === 0 && state === 'open') {
        state = 'reading';
        let chunk: Buffer;
        try {
          chunk = await readFdAsync(fd, 4096);
        } catch {
          chunk = Buffer.alloc(0); // ECONNRESET and the like: the other side is gone, as at EOF
        }
        if ((state as string) === 'closing' || chunk.length === 0) {
          closeFd();
          break;
        }
        state = 'open';
        const parts = (partial + decoder.decode(chunk, { stream: true })).split('\n');
        partial = parts.pop()!;
        lines.push(...parts);
      }
      return lines.shift() ?? null;
    },
    close() {
      if (state === 'open') closeFd();
      else if (state === 'reading') state = 'closing';
    },
  };
}

export function lineReader(stream: Readable): LineReader {
  const lines: string[] = [];
  let partial = '';
  let ended = false;
  let wake: (() => void) | undefined;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    wake?.();
  });
  const end = () => {
    ended = true;
    wake?.();
  };
  stream.on('end', end).on('close', end).on('error', end);
  return {
    async next() {
      while (lines.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
      return lines.shift() ?? null;
    },
  };
}

const TOPICS = new Set<ExplainTopic>(['image', 'storage', 'namespace', 'mount', 'cgroup', 'security', 'process', 'network', 'state']);

/** Turns explain lines into Explainer events until the pipe closes. */
export async function forwardExplainLines(source: Readable | LineReader, explainer: Explainer): Promise<void> {
  const reader = 'next' in source && typeof source.next === 'function' ? source : lineReader(source as Readable);
  for (let line = await reader.next(); line !== null; line = await reader.next()) {
    const [topic = '', say = '', call] = line.split('\t');
    explainer.step({ topic: TOPICS.has(topic as ExplainTopic) ? (topic as ExplainTopic) : 'process', say, ...(call ? { call } : {}) });
  }
}
