import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ROOT, DEFAULT_RUN_ROOT, resolvePaths } from './paths.js';

test('roots come from options, then the environment, then the defaults', () => {
  assert.equal(resolvePaths({}, {}).root, DEFAULT_ROOT);
  assert.equal(resolvePaths({}, {}).runRoot, DEFAULT_RUN_ROOT);
  assert.equal(resolvePaths({}, { DIDACTIC_CONTAINER_ROOT: '/srv/dc' }).root, '/srv/dc');
  assert.equal(resolvePaths({ root: '/opt/x' }, { DIDACTIC_CONTAINER_ROOT: '/srv/dc' }).root, '/opt/x');
  const paths = resolvePaths({ root: '/r', runRoot: '/run/r' }, {});
  assert.equal(paths.db, '/r/db.sqlite');
  assert.equal(paths.blobs, '/r/content/blobs');
  assert.equal(paths.layers, '/r/layers');
  assert.equal(paths.runRoot, '/run/r');
});
