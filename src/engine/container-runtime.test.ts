import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFailureStatus } from '../sys/index.js';
import { runtimeStartFailure } from './container-runtime.js';

const log = (...messages: string[]): string =>
  messages.map((msg, i) => JSON.stringify({ level: i === messages.length - 1 ? 'error' : 'warning', msg, time: '2026-01-01T00:00:00Z' })).join('\n') + '\n';

test('a runtime log without an error means the container started', () => {
  assert.equal(runtimeStartFailure('runc', ''), undefined);
  assert.equal(runtimeStartFailure('runc', `${JSON.stringify({ level: 'warning', msg: 'cgroup v1 is deprecated' })}\n`), undefined);
  assert.equal(runtimeStartFailure('runc', 'not json at all\n'), undefined);
});

test('exec failures from the runtime map to Docker\'s statuses and words', () => {
  const missing = runtimeStartFailure('runc', log('ignored', 'runc run failed: unable to start container process: exec: "nosuch": executable file not found in $PATH'));
  assert.equal(execFailureStatus(missing), 127);
  assert.equal(missing?.message, 'start container: exec: "nosuch": executable file not found in $PATH');

  const path = runtimeStartFailure('runc', log('runc run failed: unable to start container process: exec: "/no/such": stat /no/such: no such file or directory'));
  assert.equal(execFailureStatus(path), 127);
  assert.match(path!.message, /exec: "\/no\/such": stat \/no\/such: no such file or directory/);

  const denied = runtimeStartFailure('runc', log('runc run failed: unable to start container process: exec: "/etc": permission denied'));
  assert.equal(execFailureStatus(denied), 126);
  assert.match(denied!.message, /exec: "\/etc": permission denied/);
});

test('any other runtime failure is an engine error naming the runtime', () => {
  const other = runtimeStartFailure('runc', log('runc run failed: unable to apply cgroup configuration: invalid argument'));
  assert.equal(execFailureStatus(other), undefined);
  assert.equal(other?.code, 'FAILED_PRECONDITION');
  assert.equal(other?.message, 'run with runtime runc: runc run failed: unable to apply cgroup configuration: invalid argument');
});
