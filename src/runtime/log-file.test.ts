import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { fixedNanoTime, formatLogLine, parseLogLine, parseLogTime, parseSince, readLogs, type LogChunk, type LogEntry, type ReadLogsOptions } from './log-file.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-file-'));
  file = path.join(dir, 'c-json.log');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const entry = (log: string, stream: 'stdout' | 'stderr', second: number): LogEntry => ({
  log, stream, time: `2026-11-29T10:00:${String(second).padStart(2, '0')}.5Z`,
});

async function all(options: ReadLogsOptions = {}): Promise<LogChunk[]> {
  const out: LogChunk[] = [];
  for await (const chunk of readLogs(file, options)) out.push(chunk);
  return out;
}

test('Docker json-file lines parse; escapes as Docker writes them come back as text', () => {
  const line = '{"log":"a \\u003cb\\u003e \\u0026 \\"q\\" \\t\\ufffd\\u2028\\n","stream":"stderr","time":"2026-11-29T21:57:24.123456789Z"}';
  assert.deepEqual(parseLogLine(line), { log: 'a <b> & "q" \t\ufffd\u2028\n', stream: 'stderr', time: '2026-11-29T21:57:24.123456789Z' });
  assert.throws(() => parseLogLine('{"log":"x","stream":"stdin","time":"2026-11-29T21:57:24Z"}'), /not a json-file entry/);
  assert.throws(() => parseLogLine('{"log":"x"'), /not JSON/);
  assert.deepEqual(parseLogLine(formatLogLine(entry('x\n', 'stdout', 1)).trimEnd()), entry('x\n', 'stdout', 1));
});

test('times: nanoseconds since the epoch, zones, fixed nine digits for -t', () => {
  assert.equal(parseLogTime('1970-01-01T00:00:01.000000002Z'), 1_000_000_002n);
  assert.equal(parseLogTime('1970-01-01T01:00:01+01:00'), 1_000_000_000n);
  assert.equal(fixedNanoTime('2026-11-29T21:57:24.5Z'), '2026-11-29T21:57:24.500000000Z');
  assert.equal(fixedNanoTime('2026-11-29T21:57:24Z'), '2026-11-29T21:57:24.000000000Z');
  assert.throws(() => parseLogTime('2026-11-29 21:57'), /not RFC 3339/);
});

test('--since: durations back from now, Unix seconds, dates, RFC 3339', () => {
  const now = new Date('2026-11-29T12:00:00Z');
  assert.equal(parseSince('10m', now), parseLogTime('2026-11-29T11:50:00Z'));
  assert.equal(parseSince('1h30m', now), parseLogTime('2026-11-29T10:30:00Z'));
  assert.equal(parseSince('1700000000.5'), 1_700_000_000_500_000_000n);
  assert.equal(parseSince('2026-11-29'), parseLogTime('2026-11-29T00:00:00Z'));
  assert.equal(parseSince('2026-11-29T10:00'), parseLogTime('2026-11-29T10:00:00Z'));
  assert.throws(() => parseSince('last tuesday'), /expected a duration/);
});

test('readLogs: both streams in order, tail counts entries from the end, since/until, -t, stream filter', async () => {
  const entries = [entry('one\n', 'stdout', 1), entry('two\n', 'stderr', 2), entry('thr', 'stdout', 3), entry('ee\n', 'stdout', 3), entry('four\n', 'stdout', 4)];
  // A torn last line (a crash mid-write) is neither read nor counted.
  fs.writeFileSync(file, entries.map(formatLogLine).join('') + '{"log":"torn');
  assert.deepEqual((await all()).map((c) => c.text), ['one\n', 'two\n', 'thr', 'ee\n', 'four\n']);
  assert.deepEqual((await all({ tail: 2 })).map((c) => c.text), ['ee\n', 'four\n']);
  assert.deepEqual((await all({ tail: 0 })).map((c) => c.text), []);
  assert.deepEqual((await all({ tail: 99 })).length, 5);
  assert.deepEqual((await all({ since: '2026-11-29T10:00:03Z' })).map((c) => c.text), ['thr', 'ee\n', 'four\n']);
  assert.deepEqual((await all({ until: parseLogTime('2026-11-29T10:00:02.5Z') })).map((c) => c.text), ['one\n']);
  assert.deepEqual((await all({ streams: ['stderr'] })).map((c) => c.text), ['two\n']);
  assert.equal((await all({ timestamps: true, tail: 1 }))[0]!.text, '2026-11-29T10:00:04.500000000Z four\n');
});

test('tail across more than one 64 KiB read from the end', async () => {
  const many = Array.from({ length: 3000 }, (_, i) => formatLogLine(entry(`line ${i} ${'x'.repeat(40)}\n`, 'stdout', 5)));
  fs.writeFileSync(file, many.join(''));
  const got = await all({ tail: 2500 });
  assert.equal(got.length, 2500);
  assert.ok(got[0]!.text.startsWith('line 500 '));
});

test('follow: sees lines written later, stops once done() and all is read; waits for the file to appear', async () => {
  let finished = false;
  const reading = all({ follow: true, pollMs: 10, done: () => finished });
  await new Promise((r) => setTimeout(r, 50));
  fs.writeFileSync(file, formatLogLine(entry('early\n', 'stdout', 1)));
  await new Promise((r) => setTimeout(r, 50));
  fs.appendFileSync(file, formatLogLine(entry('late', 'stdout', 2)).slice(0, 10));
  await new Promise((r) => setTimeout(r, 50));
  fs.appendFileSync(file, formatLogLine(entry('late', 'stdout', 2)).slice(10));
  fs.appendFileSync(file, formatLogLine(entry('last\n', 'stderr', 3)));
  finished = true;
  assert.deepEqual((await reading).map((c) => c.text), ['early\n', 'late', 'last\n']);
});

test('follow ends when the signal aborts', async () => {
  fs.writeFileSync(file, formatLogLine(entry('a\n', 'stdout', 1)));
  const controller = new AbortController();
  const reading = all({ follow: true, pollMs: 10, signal: controller.signal });
  setTimeout(() => controller.abort(), 60);
  assert.deepEqual((await reading).map((c) => c.text), ['a\n']);
});
