import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerRecord } from '../db/index.js';
import { humanDuration, parseFilters, statusText } from './container-inspect.js';
import { parseSignal } from './container-stop.js';

const record = (over: Partial<ContainerRecord>): ContainerRecord => ({
  id: 'a'.repeat(64),
  name: 'x',
  imageId: null,
  imageRef: 'busybox',
  config: '{}',
  state: 'created',
  pid: null,
  exitCode: null,
  oomKilled: false,
  error: null,
  createdAt: '2024-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  ...over,
});

test('humanDuration speaks like Docker', () => {
  assert.equal(humanDuration(300), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(3000), '3 seconds');
  assert.equal(humanDuration(61_000), 'About a minute');
  assert.equal(humanDuration(5 * 60_000), '5 minutes');
  assert.equal(humanDuration(3600_000), 'About an hour');
  assert.equal(humanDuration(5 * 3600_000), '5 hours');
  assert.equal(humanDuration(3 * 86400_000), '3 days');
});

test('statusText: Up, Paused, Exited (code) ago, Created, Dead', () => {
  const now = Date.parse('2024-01-01T00:10:00.000Z');
  assert.equal(statusText(record({ state: 'running', startedAt: '2024-01-01T00:09:57.000Z' }), now), 'Up 3 seconds');
  assert.equal(statusText(record({ state: 'paused', startedAt: '2024-01-01T00:05:00.000Z' }), now), 'Up 5 minutes (Paused)');
  assert.equal(statusText(record({ state: 'exited', exitCode: 3, finishedAt: '2024-01-01T00:08:00.000Z' }), now), 'Exited (3) 2 minutes ago');
  assert.equal(statusText(record({}), now), 'Created');
  assert.equal(statusText(record({ state: 'dead' }), now), 'Dead');
  assert.equal(statusText(record({ state: 'removing' }), now), 'Removal In Progress');
});

test('parseFilters groups keys and refuses what Docker refuses', () => {
  const grouped = parseFilters(['status=exited', 'status=created', 'name=web']);
  assert.deepEqual(grouped.get('status'), ['exited', 'created']);
  assert.deepEqual(grouped.get('name'), ['web']);
  assert.throws(() => parseFilters(['colour=red']), /invalid filter 'colour'/);
  assert.throws(() => parseFilters(['status=sleeping']), /invalid filter 'status=sleeping'/);
  assert.throws(() => parseFilters(['status']), /bad format of filter/);
});

test('parseSignal takes names with or without SIG, and numbers', () => {
  assert.deepEqual(parseSignal('KILL'), { name: 'SIGKILL', number: 9 });
  assert.deepEqual(parseSignal('sigterm'), { name: 'SIGTERM', number: 15 });
  assert.equal(parseSignal('1').name, 'SIGHUP');
  assert.throws(() => parseSignal('SIGNOPE'), /invalid signal/);
  assert.throws(() => parseSignal('0'), /invalid signal/);
});
