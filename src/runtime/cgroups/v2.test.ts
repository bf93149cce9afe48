/**
 * The v2 manager on a tmpdir tree laid out like a cgroup2 mount. The tree
 * holds only the files the kernel would offer, so a write to a file the
 * kernel lacks fails here as it would there (writes never create files).
 * The real cgroup2 mount is exercised in test/integration/cgroups.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { createRecordingExplainer, isEngineError } from '../../common/index.js';
import { createCgroupManager, DEVICES_V2_WARNING, V2CgroupManager } from './index.js';
import type { CgroupLayout } from './types.js';

const ID = 'c0ffee';
const LEAF_FILES = [
  'cgroup.procs', 'cgroup.freeze', 'cgroup.events', 'cgroup.kill', 'cgroup.subtree_control',
  'memory.max', 'memory.swap.max', 'memory.current', 'memory.peak', 'memory.events',
  'cpu.weight', 'cpu.max', 'cpu.stat', 'cpuset.cpus', 'cpuset.mems', 'pids.max', 'pids.current',
];

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'dctr-cg2-'));
  writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
  writeFileSync(path.join(root, 'cgroup.subtree_control'), 'memory pids\n');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Lays out the parent group and (optionally) the container group as the kernel would populate them. */
function populate(options: { leaf: boolean; omit?: string[] }): string {
  const parent = path.join(root, 'didactic-container');
  mkdirSync(parent);
  writeFileSync(path.join(parent, 'cgroup.subtree_control'), '');
  const leaf = path.join(parent, ID);
  if (options.leaf) {
    mkdirSync(leaf);
    for (const file of LEAF_FILES) if (!options.omit?.includes(file)) writeFileSync(path.join(leaf, file), '');
  }
  return leaf;
}

const layoutV2 = (): CgroupLayout => ({ mode: 'v2', v1Controllers: [], v2Controllers: ['cpu', 'memory'], v1Mounts: {}, unifiedMount: root, usableControllers: ['cpu', 'memory'] });

test('createCgroupManager picks v2 on a pure v2 layout', () => {
  const manager = createCgroupManager({ layout: layoutV2(), name: ID });
  assert.ok(manager instanceof V2CgroupManager);
  assert.deepEqual(manager.directories(), [path.join(root, 'didactic-container', ID)]);
});

test('create enables controllers down the path and writes every limit file', async () => {
  const leaf = populate({ leaf: true });
  const explainer = createRecordingExplainer();
  const manager = new V2CgroupManager({ fsRoot: root, parent: 'didactic-container', name: ID, explainer });
  const report = await manager.create({
    memory: { limit: 32 << 20, swap: 64 << 20 },
    cpu: { shares: 512, quota: 50_000, period: 100_000, cpus: '0', mems: '0' },
    pids: { limit: 10 },
  });
  assert.deepEqual(report.warnings, []);
  const read = (file: string): string => readFileSync(path.join(leaf, file), 'utf8');
  assert.equal(read('memory.max'), String(32 << 20));
  assert.equal(read('memory.swap.max'), String(32 << 20), 'swap alone: memory+swap minus memory');
  assert.equal(read('cpu.weight'), '20');
  assert.equal(read('cpu.max'), '50000 100000');
  assert.equal(read('cpuset.cpus'), '0');
  assert.equal(read('cpuset.mems'), '0');
  assert.equal(read('pids.max'), '10');
  const calls = explainer.events.map((e) => e.call);
  // The root already had memory and pids; only the missing ones are asked for, one write each.
  const enabled = (dir: string): string[] =>
    calls.filter((c) => c?.startsWith(`write ${path.join(dir, 'cgroup.subtree_control')} = `)).map((c) => c!.split(' = ')[1]!);
  assert.deepEqual(enabled(root), ['+cpu', '+cpuset', '+io']);
  assert.deepEqual(enabled(path.join(root, 'didactic-container')), ['+cpu', '+cpuset', '+io', '+memory', '+pids']);
  assert.equal(enabled(leaf).length, 0, 'the container group itself enables nothing');
  assert.ok(calls.includes(`write ${path.join(leaf, 'memory.max')} = 33554432`));
  assert.ok(explainer.events.every((e) => e.topic === 'cgroup' && e.say.length > 0));
});

test('create makes the group directory, and a failed write removes it again', async () => {
  populate({ leaf: false });
  const explainer = createRecordingExplainer();
  const manager = new V2CgroupManager({ fsRoot: root, parent: 'didactic-container', name: ID, explainer });
  // The fake kernel offers no memory.max in the new directory: the write must fail, not create it.
  await assert.rejects(manager.create({ memory: { limit: 1 << 20 } }), (e) => isEngineError(e, 'NOT_FOUND') && e.message.includes('memory.max'));
  const leaf = path.join(root, 'didactic-container', ID);
  assert.ok(explainer.events.some((e) => e.call === `mkdir ${leaf}`));
  assert.ok(explainer.events.some((e) => e.call === `rmdir ${leaf}`));
  assert.equal(existsSync(leaf), false);
});

test('a controller the hierarchy lacks is refused before anything is created', async () => {
  writeFileSync(path.join(root, 'cgroup.controllers'), 'hugetlb\n');
  const manager = new V2CgroupManager({ fsRoot: root, parent: 'didactic-container', name: ID });
  await assert.rejects(manager.create({ pids: { limit: 5 } }), (e) => isEngineError(e, 'FAILED_PRECONDITION') && e.message.includes('"pids"'));
  assert.equal(existsSync(path.join(root, 'didactic-container')), false);
});

test('no memory.swap.max means a warning, and device rules are reported as not enforced', async () => {
  const leaf = populate({ leaf: true, omit: ['memory.swap.max'] });
  const manager = new V2CgroupManager({ fsRoot: root, parent: 'didactic-container', name: ID });
  const report = await manager.create({ memory: { limit: 16 << 20, swap: 16 << 20 }, devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3 }] });
  assert.equal(report.warnings.length, 2);
  assert.match(report.warnings[0]!, /swap/);
  assert.equal(report.warnings[1], DEVICES_V2_WARNING);
  assert.equal(existsSync(path.join(leaf, 'memory.swap.max')), false);
  assert.equal(readFileSync(path.join(leaf, 'memory.max'), 'utf8'), String(16 << 20));
});

test('stats, oomKilled and pids read the v2 files', async () => {
  const leaf = populate({ leaf: true });
  writeFileSync(path.join(leaf, 'memory.current'), '1234\n');
  writeFileSync(path.join(leaf, 'memory.max'), 'max\n');
  writeFileSync(path.join(leaf, 'memory.peak'), '4096\n');
  writeFileSync(path.join(leaf, 'cpu.stat'), 'usage_usec 7\nuser_usec 5\nsystem_usec 2\n');
  writeFileSync(path.join(leaf, 'pids.current'), '3\n');
  writeFileSync(path.join(leaf, 'pids.max'), '10\n');
  writeFileSync(path.join(leaf, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
  writeFileSync(path.join(leaf, 'cgroup.procs'), '101\n102\n');
  const manager = new V2CgroupManager({ fsRoot: root, parent: 'didactic-container', name: ID });
  assert.deepEqual(await manager.stats(), { memory: { usage: 1234, limit: null, maxUsage: 4096 }, cpu: { usageNs: 7000 }, pids: { current: 3, limit: 10 } });
  assert.equal(await manager.oomKilled(), true);
  assert.deepEqual(await manager.pids(), [101, 102]);
  writeFileSync(path.join(leaf, 'memory.events'), 'oom 0\noom_kill 0\n');
  assert.equal(await manager.oomKilled(), false);
});

test('destroy removes the group and is idempotent; stats of a removed group is NOT_FOUND', async () => {
  const leaf = populate({ leaf: true });
  // The kernel's interface files vanish with the directory; on tmpfs the test removes them.
  for (const file of LEAF_FILES) unlinkSync(path.join(leaf, file));
  const manager = new V2CgroupManager({ fsRoot: root, parent: 'didactic-container', name: ID });
  await manager.destroy();
  assert.equal(existsSync(leaf), false);
  await manager.destroy();
  await assert.rejects(manager.stats(), (e) => isEngineError(e, 'NOT_FOUND'));
  assert.deepEqual(await manager.pids(), []);
  await manager.kill();
});
