import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEngineError } from '../common/index.js';
import { execFailureStatus, launchError, launchFailureOf } from './launcher.js';

test('an ERR line becomes an EngineError naming the step, with the failure as its cause', () => {
  const error = launchError('ERR 22 pivot_root /var/lib/x/rootfs');
  assert.ok(isEngineError(error, 'INVALID_ARGUMENT'));
  assert.equal(error.message, 'start container: pivot_root: /var/lib/x/rootfs: invalid argument');
  const failure = launchFailureOf(error)!;
  assert.deepEqual([failure.errno, failure.errnoName, failure.step, failure.detail], [22, 'EINVAL', 'pivot_root', '/var/lib/x/rootfs']);
  assert.equal(execFailureStatus(error), undefined);
  assert.equal(launchError('ERR 1 capset').message, 'start container: capset: operation not permitted');
});

test('exec failures use Docker\'s words and map to 127 and 126', () => {
  const bare = launchError('ERR 2 exec nosuch');
  assert.ok(isEngineError(bare, 'NOT_FOUND'));
  assert.equal(bare.message, 'start container: exec: "nosuch": executable file not found in $PATH');
  assert.equal(execFailureStatus(bare), 127);
  const pathed = launchError('ERR 2 exec /bin/nosuch');
  assert.equal(pathed.message, 'start container: exec: "/bin/nosuch": stat /bin/nosuch: no such file or directory');
  const denied = launchError('ERR 13 exec /etc/passwd');
  assert.ok(isEngineError(denied, 'PERMISSION_DENIED'));
  assert.equal(denied.message, 'start container: exec: "/etc/passwd": permission denied');
  assert.equal(execFailureStatus(denied), 126);
  assert.equal(execFailureStatus(new Error('x', { cause: denied })), 126);
});

test('anything else from the launcher is an internal error', () => {
  const error = launchError('HELLO');
  assert.ok(isEngineError(error, 'INTERNAL'));
  assert.equal(launchFailureOf(error), undefined);
});
