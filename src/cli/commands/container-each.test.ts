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

test('inspect templates fill fields, json of fields, and say <no value> for missing ones', async () => {
  const { renderTemplate } = await import('./container-inspect.js');
  const info = { State: { Pid: 42, Status: 'running' }, Config: { Env: ['A=1', 'B=2'] }, Name: '/x' };
  assert.equal(renderTemplate('{{.State.Pid}}', info), '42');
  assert.equal(renderTemplate('{{ .Name }} is {{.State.Status}}', info), '/x is running');
  assert.equal(renderTemplate('{{json .Config.Env}}', info), '["A=1","B=2"]');
  assert.equal(renderTemplate('{{.Config.Env}}', info), '[A=1 B=2]');
  assert.equal(renderTemplate('{{.Nope.Deeper}}', info), '<no value>');
});
