import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEngineError } from '../../common/index.js';
import { checkGroupPath, cpuMaxValue, deviceRuleLine, formatBytes, parseKeyValues, parseLimit, parsePids, pidsMaxValue, sharesToWeight, swapMaxValue } from './convert.js';

test('cpu shares map to cpu.weight the way runc does', () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(512), 20);
  assert.equal(sharesToWeight(262_144), 10_000);
  assert.equal(sharesToWeight(1), 1, 'clamped to the v1 minimum');
  assert.equal(sharesToWeight(0), undefined);
});

test('cpu.max from quota and period', () => {
  assert.equal(cpuMaxValue({ quota: 50_000 }), '50000 100000');
  assert.equal(cpuMaxValue({ quota: 150_000, period: 100_000 }), '150000 100000');
  assert.equal(cpuMaxValue({ quota: -1, period: 20_000 }), 'max 20000');
  assert.equal(cpuMaxValue({ shares: 512 }), undefined);
  assert.equal(cpuMaxValue(undefined), undefined);
});

test('memory.swap.max is memory+swap minus memory', () => {
  assert.equal(swapMaxValue({ limit: 32 << 20, swap: 64 << 20 }), String(32 << 20));
  assert.equal(swapMaxValue({ limit: 32 << 20, swap: 32 << 20 }), '0');
  assert.equal(swapMaxValue({ limit: 32 << 20, swap: -1 }), 'max');
  assert.equal(swapMaxValue({ limit: 32 << 20 }), undefined);
  assert.throws(() => swapMaxValue({ limit: 64 << 20, swap: 32 << 20 }), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
  assert.throws(() => swapMaxValue({ swap: 32 << 20 }), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
});

test('device rules as devices.allow lines', () => {
  assert.equal(deviceRuleLine({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }), 'c 1:3 rwm');
  assert.equal(deviceRuleLine({ allow: true, type: 'c', major: 136, access: 'rw' }), 'c 136:* rw');
  assert.equal(deviceRuleLine({ allow: false, type: 'b' }), 'b *:* rwm');
  assert.equal(deviceRuleLine({ allow: false }), 'a');
  assert.throws(() => deviceRuleLine({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwx' }), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
});

test('limits and counters parse from the kernel files', () => {
  assert.equal(parseLimit('max\n'), null);
  assert.equal(parseLimit('9223372036854771712\n'), null, 'v1 unlimited');
  assert.equal(parseLimit('33554432\n'), 33_554_432);
  assert.equal(pidsMaxValue(10), '10');
  assert.equal(pidsMaxValue(-1), 'max');
  assert.equal(pidsMaxValue(0), undefined);
  assert.equal(parseKeyValues('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n').get('oom_kill'), 2);
  assert.deepEqual(parsePids('12\n345\n'), [12, 345]);
  assert.equal(formatBytes(33_554_432), '32 MiB');
  assert.equal(formatBytes(1000), '1000 bytes');
});

test('group paths must be plain relative segments', () => {
  checkGroupPath('didactic-container', 'parent');
  checkGroupPath('a/b', 'parent');
  for (const bad of ['', '../x', '/abs', 'a//b', '.', 'a/..']) {
    assert.throws(() => checkGroupPath(bad, 'name'), (e) => isEngineError(e, 'INVALID_ARGUMENT'), bad);
  }
});
