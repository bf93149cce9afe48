import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binarySize, commandColumn } from './container-each.js';

test('commandColumn quotes and shortens to 20 characters like docker ps', () => {
  assert.equal(commandColumn('sleep 1000', true), '"sleep 1000"');
  assert.equal(commandColumn('sh -c while :; do sleep 1; done', true), '"sh -c while :; do s…"');
  assert.equal(commandColumn('sh -c while :; do sleep 1; done', false), '"sh -c while :; do sleep 1; done"');
});

test('binarySize uses binary units', () => {
  assert.equal(binarySize(512), '512B');
  assert.equal(binarySize(1536), '1.5KiB');
  assert.equal(binarySize(32 * 1024 * 1024), '32MiB');
});
