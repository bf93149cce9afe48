import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError, ERROR_CODES, describeCauses, exitStatusFor, findCause, httpStatusFor, isEngineError, toEngineError } from './errors.js';

test('every code maps to an HTTP status and engine errors exit 125', () => {
  for (const code of ERROR_CODES) {
    const status = httpStatusFor(code);
    assert.ok(status >= 400 && status < 600, `${code} -> ${status}`);
    assert.equal(exitStatusFor(new EngineError(code, 'x')), 125);
  }
  assert.equal(httpStatusFor('NOT_FOUND'), 404);
  assert.equal(httpStatusFor('CONFLICT'), 409);
});

test('causes are kept as a chain, not flattened', () => {
  const root = new Error('connect ECONNREFUSED 127.0.0.1:5000');
  const error = new EngineError('UNAVAILABLE', 'pull busybox: registry 127.0.0.1:5000 unreachable', { cause: root, hint: 'is it running?' });
  assert.deepEqual(describeCauses(error), ['pull busybox: registry 127.0.0.1:5000 unreachable', 'connect ECONNREFUSED 127.0.0.1:5000']);
  assert.equal(error.hint, 'is it running?');
  assert.ok(isEngineError(error, 'UNAVAILABLE'));
  assert.ok(!isEngineError(error, 'NOT_FOUND'));
});

test('toEngineError keeps engine errors and wraps others as the cause', () => {
  const mine = new EngineError('NOT_FOUND', 'no such image: x');
  assert.equal(toEngineError(mine, 'ignored'), mine);
  const wrapped = toEngineError(new TypeError('boom'), 'read config');
  assert.equal(wrapped.code, 'INTERNAL');
  assert.equal((wrapped.cause as Error).message, 'boom');
});

test('a structured cause is shown as data, not as [object Object]', () => {
  const error = new EngineError('UNAVAILABLE', 'pull x: registry error 500', { cause: { status: 500, registryErrors: [{ code: 'UNKNOWN' }] } });
  assert.deepEqual(describeCauses(error), ['pull x: registry error 500', '{"status":500,"registryErrors":[{"code":"UNKNOWN"}]}']);
});

test('findCause finds the first matching error along the cause chain, and gives up after eight', () => {
  const inner = Object.assign(new Error('inner'), { code: 'ENODEV' });
  const outer = new Error('outer', { cause: new Error('middle', { cause: inner }) });
  assert.equal(findCause(outer, (e) => (e as NodeJS.ErrnoException).code === 'ENODEV'), inner);
  assert.equal(findCause(outer, (e) => e.message === 'outer'), outer);
  assert.equal(findCause(outer, (e) => e.message === 'nowhere'), undefined);
  assert.equal(findCause('not an error', () => true), undefined);
  let deep: Error = new Error('deepest');
  for (let i = 0; i < 8; i++) deep = new Error(`level ${i}`, { cause: deep });
  assert.equal(findCause(deep, (e) => e.message === 'deepest'), undefined);
});
