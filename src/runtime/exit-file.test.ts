import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isEngineError } from '../common/index.js';
import { formatExitRecord, parseExitRecord, parseStartRecord, readExitFile, readStartFile, writeExitFile, type ExitRecord } from './exit-file.js';

const RECORD: ExitRecord = { status: 137, signal: 9, finishedAt: '2026-11-29T21:57:24.12345Z', oomKilled: false, restartCount: 2 };

test('the monitor\'s exit line parses, with and without a signal', () => {
  assert.deepEqual(
    parseExitRecord('{"status":3,"signal":null,"finishedAt":"2026-11-29T21:57:24.5Z","oomKilled":false,"restartCount":0}\n'),
    { status: 3, signal: null, finishedAt: '2026-11-29T21:57:24.5Z', oomKilled: false, restartCount: 0 },
  );
  assert.deepEqual(parseExitRecord(formatExitRecord(RECORD)), RECORD);
  // restartCount is optional (older writers); a whole second has no fraction.
  assert.equal(parseExitRecord('{"status":0,"signal":null,"finishedAt":"2026-11-29T21:57:24Z","oomKilled":true}').restartCount, 0);
});

test('broken exit files are INTEGRITY errors naming the field', () => {
  const bad = [
    ['{"status":3', 'not JSON'],
    ['[]', 'not an object'],
    ['{"status":-1,"signal":null,"finishedAt":"2026-11-29T21:57:24Z","oomKilled":false}', 'bad status'],
    ['{"status":300,"signal":null,"finishedAt":"2026-11-29T21:57:24Z","oomKilled":false}', 'bad status'],
    ['{"status":1,"signal":0,"finishedAt":"2026-11-29T21:57:24Z","oomKilled":false}', 'bad signal'],
    ['{"status":1,"signal":null,"finishedAt":"yesterday","oomKilled":false}', 'bad finishedAt'],
    ['{"status":1,"signal":null,"finishedAt":"2026-11-29T21:57:24Z","oomKilled":0}', 'bad oomKilled'],
  ] as const;
  for (const [text, words] of bad) {
    assert.throws(() => parseExitRecord(text), (e: unknown) => isEngineError(e) && e.code === 'INTEGRITY' && e.message.includes(words), text);
  }
});

test('started records parse and refuse pid 0', () => {
  assert.deepEqual(parseStartRecord('{"pid":42,"startedAt":"2026-11-29T21:57:24.000000001Z","restartCount":1}'), {
    pid: 42, startedAt: '2026-11-29T21:57:24.000000001Z', restartCount: 1,
  });
  assert.throws(() => parseStartRecord('{"pid":0,"startedAt":"2026-11-29T21:57:24Z","restartCount":0}'), /bad pid/);
});

test('readExitFile: undefined while there is none, the record after writeExitFile, no temp file left', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exit-file-'));
  try {
    assert.equal(readExitFile(dir), undefined);
    assert.equal(readStartFile(dir), undefined);
    writeExitFile(dir, RECORD);
    assert.deepEqual(readExitFile(dir), RECORD);
    assert.deepEqual(fs.readdirSync(dir), ['exit']);
    writeExitFile(dir, { ...RECORD, oomKilled: true });
    assert.equal(readExitFile(dir)?.oomKilled, true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
