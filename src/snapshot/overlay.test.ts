import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { MOUNT_DATA_MAX, describeRootfsMount, escapeOverlayPath } from './overlay.js';

test('a container rootfs: lower dirs topmost first, upper and work dirs', () => {
  const mount = describeRootfsMount({
    lowerDirs: ['/l/3/diff', '/l/2/diff', '/l/1/diff'],
    upperDir: '/c/upper',
    workDir: '/c/work',
    target: '/c/rootfs',
  });
  assert.deepEqual(mount, {
    source: 'overlay',
    fstype: 'overlay',
    target: '/c/rootfs',
    options: [],
    data: 'lowerdir=/l/3/diff:/l/2/diff:/l/1/diff,upperdir=/c/upper,workdir=/c/work',
  });
});

test('a read-only view of several layers needs no upper dir', () => {
  const mount = describeRootfsMount({ lowerDirs: ['/l/2/diff', '/l/1/diff'], target: '/m' });
  assert.equal(mount.fstype, 'overlay');
  assert.deepEqual(mount.options, ['ro']);
  assert.equal(mount.data, 'lowerdir=/l/2/diff:/l/1/diff');
});

test('a read-only view of one layer is a read-only bind mount', () => {
  const mount = describeRootfsMount({ lowerDirs: ['/l/1/diff'], target: '/m', readonly: true });
  assert.deepEqual(mount, { source: '/l/1/diff', fstype: 'none', target: '/m', options: ['bind', 'ro'], data: '' });
});

test('one layer with an upper dir is a normal overlay', () => {
  const mount = describeRootfsMount({ lowerDirs: ['/l/1/diff'], upperDir: '/u', workDir: '/w', target: '/m' });
  assert.equal(mount.data, 'lowerdir=/l/1/diff,upperdir=/u,workdir=/w');
});

test('separators in paths are escaped', () => {
  assert.equal(escapeOverlayPath('/a:b,c\\d'), '/a\\:b\\,c\\\\d');
});

test('too long for one page: paths relative to the layers dir', () => {
  const hex = (i: number): string => i.toString(16).padStart(64, '0');
  const lowerDirs = Array.from({ length: 40 }, (_, i) => `/var/lib/didactic-container/layers/${hex(i)}/diff`);
  const mount = describeRootfsMount({ lowerDirs, upperDir: '/c/u', workDir: '/c/w', target: '/c/r' });
  assert.equal(mount.cwd, '/var/lib/didactic-container/layers');
  assert.ok(mount.data.length <= MOUNT_DATA_MAX);
  assert.ok(mount.data.startsWith(`lowerdir=${hex(0)}/diff:${hex(1)}/diff:`));
  const many = Array.from({ length: 100 }, (_, i) => `/x/${hex(i)}/diff`);
  assert.throws(() => describeRootfsMount({ lowerDirs: many, target: '/r' }), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
});

test('bad requests are refused', () => {
  assert.throws(() => describeRootfsMount({ lowerDirs: [], target: '/m' }), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
  assert.throws(() => describeRootfsMount({ lowerDirs: ['rel'], target: '/m' }), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
  assert.throws(() => describeRootfsMount({ lowerDirs: ['/a'], upperDir: '/u', target: '/m' }), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
});
