/**
 * The executor against small stand-in plugins (shell scripts in a temp dir)
 * that log what they were given and can be told to fail: order of calls,
 * prevResult chaining, runtimeConfig, the CNI_* environment, DEL after a
 * failed ADD, and DEL errors collected while every plugin is still called.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRecordingExplainer, isEngineError, silentExplainer } from '../common/index.js';
import { addNetworkList, checkNetworkList, delNetworkList, findPlugin } from './cni.js';
import type { CniConfList } from './types.js';

interface Logged {
  command: string;
  type: string;
  env: Record<string, string>;
  stdin: Record<string, unknown>;
}

function setUp(t: { after(fn: () => void): void }, failing: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-cni-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'log');
  for (const type of ['alpha', 'beta', 'gamma']) {
    const fail = failing[type];
    // Each call appends one JSON line: command, type, env, stdin. ADD answers with a result naming the plugin.
    const script = `#!/bin/sh
input=$(cat)
printf '{"command":"%s","type":"${type}","env":{"CNI_CONTAINERID":"%s","CNI_NETNS":"%s","CNI_IFNAME":"%s","CNI_PATH":"%s"},"stdin":%s}\\n' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_PATH" "$input" >> ${log}
${fail ? `if [ "$CNI_COMMAND" = "${fail}" ]; then echo '{"cniVersion":"1.0.0","code":11,"msg":"${type} is busy"}'; exit 1; fi` : ''}
if [ "$CNI_COMMAND" = ADD ]; then echo '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"10.1.0.2/24","interface":0}],"by":"${type}"}'; fi
exit 0
`;
    fs.writeFileSync(path.join(dir, type), script, { mode: 0o755 });
  }
  const calls = (): Logged[] => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Logged) : []);
  return { dir, calls };
}

const list: CniConfList = {
  cniVersion: '1.0.0',
  name: 'testnet',
  plugins: [{ type: 'alpha', x: 1 }, { type: 'beta', capabilities: { portMappings: true } }, { type: 'gamma' }],
};
const invocation = { containerId: 'c'.repeat(64), netns: '/proc/1/ns/net', ifname: 'eth0' };
const ports = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }] };

test('ADD runs in order, chaining each result as the next prevResult; the environment carries the CNI_* variables', async (t) => {
  const { dir, calls } = setUp(t);
  const explainer = createRecordingExplainer();
  const result = await addNetworkList(list, invocation, ports, { pluginDirs: ['/nonexistent', dir], explainer });
  assert.equal(result.by, 'gamma');
  const log = calls();
  assert.deepEqual(log.map((call) => `${call.command} ${call.type}`), ['ADD alpha', 'ADD beta', 'ADD gamma']);
  assert.deepEqual(log[0]!.env, { CNI_CONTAINERID: invocation.containerId, CNI_NETNS: '/proc/1/ns/net', CNI_IFNAME: 'eth0', CNI_PATH: `/nonexistent:${dir}` });
  assert.deepEqual(log[0]!.stdin, { type: 'alpha', x: 1, cniVersion: '1.0.0', name: 'testnet' });
  assert.equal((log[1]!.stdin.prevResult as { by: string }).by, 'alpha');
  assert.deepEqual(log[1]!.stdin.runtimeConfig, ports);
  assert.equal((log[2]!.stdin.prevResult as { by: string }).by, 'beta');
  assert.equal(log[2]!.stdin.runtimeConfig, undefined);
  assert.ok(explainer.events.some((event) => event.call?.startsWith('CNI_COMMAND=ADD CNI_CONTAINERID=') && event.call.includes(`${dir}/beta <<< '`)));
  assert.ok(explainer.events.some((event) => event.say === 'gamma answered: eth0 (container), address 10.1.0.2/24'));
});

test('a failed ADD is undone by DEL of the whole list in reverse order, and its error says which plugin and why', async (t) => {
  const { dir, calls } = setUp(t, { gamma: 'ADD' });
  await assert.rejects(addNetworkList(list, invocation, ports, { pluginDirs: [dir], explainer: silentExplainer }), (error: unknown) => {
    return isEngineError(error, 'UNAVAILABLE') && error.message === `cni ADD gamma on network testnet for ${'c'.repeat(12)}: gamma is busy (cni error 11)`;
  });
  assert.deepEqual(calls().map((call) => `${call.command} ${call.type}`), ['ADD alpha', 'ADD beta', 'ADD gamma', 'DEL gamma', 'DEL beta', 'DEL alpha']);
  assert.equal((calls()[3]!.stdin.prevResult as { by: string }).by, 'beta');
});

test('DEL calls every plugin in reverse even when one fails, and returns the errors', async (t) => {
  const { dir, calls } = setUp(t, { beta: 'DEL' });
  const prev = { cniVersion: '1.0.0', by: 'stored' };
  const errors = await delNetworkList(list, invocation, ports, prev, { pluginDirs: [dir], explainer: silentExplainer });
  assert.deepEqual(calls().map((call) => `${call.command} ${call.type}`), ['DEL gamma', 'DEL beta', 'DEL alpha']);
  assert.ok(calls().every((call) => (call.stdin.prevResult as { by: string }).by === 'stored'));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /cni DEL beta .*beta is busy/);
});

test('CHECK runs in order with the stored result', async (t) => {
  const { dir, calls } = setUp(t);
  await checkNetworkList(list, invocation, {}, { cniVersion: '1.0.0', by: 'stored' }, { pluginDirs: [dir], explainer: silentExplainer });
  assert.deepEqual(calls().map((call) => `${call.command} ${call.type}`), ['CHECK alpha', 'CHECK beta', 'CHECK gamma']);
});

test('a missing plugin names the package that provides it', () => {
  assert.throws(() => findPlugin('bridge', ['/nonexistent-dir']), (error: unknown) => {
    return isEngineError(error, 'FAILED_PRECONDITION') && error.message === 'cni plugin bridge: not found in /nonexistent-dir' && /containernetworking-plugins/.test(error.hint ?? '');
  });
  assert.throws(() => findPlugin('../bin/sh', ['/usr']), (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT'));
});
