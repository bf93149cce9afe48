import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isEngineError } from '../common/index.js';
import { checkRestartPolicy, isMonitorAlive, MONITOR_FILES, readMonitorPid, requestMonitorStop } from './monitor.js';

test('restart policies as Docker accepts them', () => {
  for (const ok of ['no', 'always', 'unless-stopped', 'on-failure', 'on-failure:0', 'on-failure:5']) assert.equal(checkRestartPolicy(ok), ok);
  assert.throws(() => checkRestartPolicy('always:3'), (e: unknown) => isEngineError(e) && e.code === 'INVALID_ARGUMENT' && /only be used with on-failure/.test(e.message));
  for (const bad of ['sometimes', 'on-failure:', 'on-failure:-1', 'on-failure:x', '']) {
    assert.throws(() => checkRestartPolicy(bad), (e: unknown) => isEngineError(e) && e.code === 'INVALID_ARGUMENT', bad);
  }
});

test('isMonitorAlive: false for processes that are not a monitor, for bad pids and for gone ones', () => {
  assert.equal(isMonitorAlive(process.pid), false);
  assert.equal(isMonitorAlive(0), false);
  assert.equal(isMonitorAlive(-1), false);
  assert.equal(isMonitorAlive(1.5), false);
  assert.equal(isMonitorAlive(2 ** 22 + 1), false);
});

test('readMonitorPid and requestMonitorStop work on the run dir files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monitor-unit-'));
  try {
    assert.equal(readMonitorPid(dir), undefined);
    fs.writeFileSync(path.join(dir, MONITOR_FILES.pid), '4242\n');
    assert.equal(readMonitorPid(dir), 4242);
    fs.writeFileSync(path.join(dir, MONITOR_FILES.pid), 'garbage');
    assert.equal(readMonitorPid(dir), undefined);
    // Our own pid is no monitor: only the stop file is written, no signal is sent.
    requestMonitorStop(dir, process.pid);
    assert.ok(fs.existsSync(path.join(dir, MONITOR_FILES.stop)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
