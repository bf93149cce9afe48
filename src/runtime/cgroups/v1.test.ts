/**
 * The v1 manager on a tmpdir tree laid out like /sys/fs/cgroup/<controller>
 * hierarchies, holding only files the kernel would offer (writes never create
 * files). The real hierarchies are exercised in test/integration/cgroups.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { createRecordingExplainer, isEngineError } from '../../common/index.js';
import { createCgroupManager, V1CgroupManager } from './index.js';
import type { CgroupLayout } from './types.js';

const ID = 'feedbeef';
const UNLIMITED = '9223372036854771712\n';
const FILES: Record<string, Record<string, string>> = {
  memory: { 'memory.limit_in_bytes': UNLIMITED, 'memory.memsw.limit_in_bytes': UNLIMITED, 'memory.usage_in_bytes': '0\n', 'memory.max_usage_in_bytes': '0\n', 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n' },
  'cpu,cpuacct': { 'cpu.shares': '1024\n', 'cpu.cfs_quota_us': '-1\n', 'cpu.cfs_period_us': '100000\n', 'cpuacct.usage': '0\n' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  pids: { 'pids.max': 'max\n', 'pids.current': '0\n' },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' },
  freezer: { 'freezer.state': 'THAWED\n' },
};

let root: string;
let mounts: Record<string, string>;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'dctr-cg1-'));
  mounts = {};
  for (const hierarchy of Object.keys(FILES)) {
    mkdirSync(path.join(root, hierarchy));
    for (const controller of hierarchy.split(',')) mounts[controller] = path.join(root, hierarchy);
  }
  writeFileSync(path.join(root, 'cpuset', 'cpuset.cpus'), '0-1\n');
  writeFileSync(path.join(root, 'cpuset', 'cpuset.mems'), '0\n');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** What the kernel shows in a new group of each hierarchy, at the parent and the container level. */
function populate(omit: string[] = []): void {
  for (const [hierarchy, files] of Object.entries(FILES)) {
    for (const dir of ['didactic-container', `didactic-container/${ID}`]) {
      mkdirSync(path.join(root, hierarchy, dir), { recursive: true });
      for (const [file, text] of Object.entries({ 'cgroup.procs': '', ...files })) {
        if (!omit.includes(file)) writeFileSync(path.join(root, hierarchy, dir, file), text);
      }
    }
  }
}

const read = (hierarchy: string, file: string, dir = `didactic-container/${ID}`): string => readFileSync(path.join(root, hierarchy, dir, file), 'utf8');

test('createCgroupManager picks v1 on a hybrid layout, one directory per hierarchy', () => {
  const layout: CgroupLayout = { mode: 'hybrid', v1Controllers: Object.keys(mounts).sort(), v2Controllers: [], v1Mounts: mounts, unifiedMount: '/x', usableControllers: [] };
  const manager = createCgroupManager({ layout, name: ID });
  assert.ok(manager instanceof V1CgroupManager);
  assert.equal(manager.directories().length, Object.keys(FILES).length, 'cpu and cpuacct share one directory');
});

test('create writes the v1 files, copying cpuset mems from the parent', async () => {
  populate();
  const explainer = createRecordingExplainer();
  const manager = new V1CgroupManager({ mounts, parent: 'didactic-container', name: ID, explainer });
  const report = await manager.create({
    memory: { limit: 32 << 20, swap: 64 << 20 },
    cpu: { shares: 512, quota: 50_000, period: 100_000, cpus: '1' },
    pids: { limit: 10 },
  });
  assert.deepEqual(report.warnings, []);
  assert.equal(read('memory', 'memory.limit_in_bytes'), String(32 << 20));
  assert.equal(read('memory', 'memory.memsw.limit_in_bytes'), String(64 << 20));
  assert.equal(read('cpu,cpuacct', 'cpu.shares'), '512');
  assert.equal(read('cpu,cpuacct', 'cpu.cfs_quota_us'), '50000');
  assert.equal(read('cpu,cpuacct', 'cpu.cfs_period_us'), '100000');
  assert.equal(read('cpuset', 'cpuset.cpus', 'didactic-container'), '0-1', 'the parent inherits the root cpus');
  assert.equal(read('cpuset', 'cpuset.mems', 'didactic-container'), '0');
  assert.equal(read('cpuset', 'cpuset.mems'), '0');
  assert.equal(read('cpuset', 'cpuset.cpus'), '1');
  assert.equal(read('pids', 'pids.max'), '10');
  // From unlimited, the memory limit goes first (memsw may never be below it).
  const memoryWrites = explainer.events.map((e) => e.call ?? '').filter((c) => c.includes('/memory/'));
  assert.match(memoryWrites[0]!, /memory\.limit_in_bytes = 33554432$/);
  assert.match(memoryWrites[1]!, /memory\.memsw\.limit_in_bytes = 67108864$/);
});

test('raising memory writes memsw first; lowering writes the limit first', async () => {
  populate();
  const explainer = createRecordingExplainer();
  const manager = new V1CgroupManager({ mounts, parent: 'didactic-container', name: ID, explainer });
  writeFileSync(path.join(root, 'memory', `didactic-container/${ID}`, 'memory.limit_in_bytes'), String(32 << 20));
  await manager.set({ memory: { limit: 128 << 20, swap: 256 << 20 } });
  assert.deepEqual(explainer.events.map((e) => path.basename((e.call ?? '').split(' ')[1]!)), ['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']);
  explainer.events.length = 0;
  await manager.set({ memory: { limit: 8 << 20, swap: 16 << 20 } });
  assert.deepEqual(explainer.events.map((e) => path.basename((e.call ?? '').split(' ')[1]!)), ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes']);
});

test('without swap accounting the memory+swap limit is a warning', async () => {
  populate(['memory.memsw.limit_in_bytes']);
  const manager = new V1CgroupManager({ mounts, parent: 'didactic-container', name: ID });
  const report = await manager.create({ memory: { limit: 16 << 20, swap: 16 << 20 } });
  assert.equal(report.warnings.length, 1);
  assert.match(report.warnings[0]!, /swap accounting is off/);
  assert.equal(read('memory', 'memory.limit_in_bytes'), String(16 << 20));
});

test('device rules: deny everything, then each rule in order', async () => {
  populate();
  const explainer = createRecordingExplainer();
  const manager = new V1CgroupManager({ mounts, parent: 'didactic-container', name: ID, explainer });
  await manager.create({
    devices: [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 136, access: 'rwm' },
      { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
    ],
  });
  const dir = path.join(root, 'devices', `didactic-container/${ID}`);
  assert.deepEqual(
    explainer.events.filter((e) => e.call?.startsWith(`write ${dir}/`)).map((e) => e.call),
    [
      `write ${dir}/devices.deny = a`,
      `write ${dir}/devices.allow = c 1:3 rwm`,
      `write ${dir}/devices.allow = c 136:* rwm`,
      `write ${dir}/devices.deny = c 10:229 rwm`,
    ],
  );
});

test('apply writes the pid into every hierarchy once', async () => {
  populate();
  const explainer = createRecordingExplainer();
  const manager = new V1CgroupManager({ mounts, parent: 'didactic-container', name: ID, explainer });
  await manager.apply(4242);
  const writes = explainer.events.filter((e) => e.call?.includes('cgroup.procs'));
  assert.equal(writes.length, Object.keys(FILES).length);
  for (const hierarchy of Object.keys(FILES)) assert.equal(read(hierarchy, 'cgroup.procs'), '4242');
});

test('a controller that is not mounted is refused before anything is created', async () => {
  delete mounts.pids;
  const manager = new V1CgroupManager({ mounts, parent: 'didactic-container', name: ID });
  await assert.rejects(manager.create({ pids: { limit: 3 } }), (e) => isEngineError(e, 'FAILED_PRECONDITION') && e.message.includes('"pids"'));
  assert.equal(existsSync(path.join(root, 'memory', 'didactic-container')), false);
});

test('stats and oomKilled read the v1 files', async () => {
  populate();
  const dir = (h: string): string => path.join(root, h, `didactic-container/${ID}`);
  writeFileSync(path.join(dir('memory'), 'memory.usage_in_bytes'), '2048\n');
  writeFileSync(path.join(dir('memory'), 'memory.max_usage_in_bytes'), '4096\n');
  writeFileSync(path.join(dir('memory'), 'memory.limit_in_bytes'), '16777216\n');
  writeFileSync(path.join(dir('cpu,cpuacct'), 'cpuacct.usage'), '123456\n');
  writeFileSync(path.join(dir('pids'), 'pids.current'), '2\n');
  writeFileSync(path.join(dir('memory'), 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
  const manager = new V1CgroupManager({ mounts, parent: 'didactic-container', name: ID });
  assert.deepEqual(await manager.stats(), { memory: { usage: 2048, limit: 16_777_216, maxUsage: 4096 }, cpu: { usageNs: 123_456 }, pids: { current: 2, limit: null } });
  assert.equal(await manager.oomKilled(), true);
});

test('bad names are refused', () => {
  assert.throws(() => new V1CgroupManager({ mounts, parent: 'didactic-container', name: '../escape' }), (e) => isEngineError(e, 'INVALID_ARGUMENT'));
});
