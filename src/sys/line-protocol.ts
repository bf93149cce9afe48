/**
 * The line protocol the native executables speak on their pipes: the sync
 * pipe (`PID n`, `GO`, `ERR errno step detail`) and the explain pipe
 * (`topic<TAB>what happens<TAB>the call`), read here for the launcher, the
 * monitor and the exec helper alike.
 */
import type { Readable } from 'node:stream';
import type { ExplainTopic, Explainer } from '../common/index.js';

export interface LineReader {
  /** The next line without its newline; null at EOF. */
  next(): Promise<string | null>;
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
export async function forwardExplainLines(stream: Readable, explainer: Explainer): Promise<void> {
  const reader = lineReader(stream);
  for (let line = await reader.next(); line !== null; line = await reader.next()) {
    const [topic = '', say = '', call] = line.split('\t');
    explainer.step({ topic: TOPICS.has(topic as ExplainTopic) ? (topic as ExplainTopic) : 'process', say, ...(call ? { call } : {}) });
  }
}
