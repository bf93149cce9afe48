/**
 * cgroups on the real kernel, as root: the v1 hierarchies of this machine
 * (hybrid), and a real cgroup2 mount made for the test (the same hierarchy as
 * /sys/fs/cgroup/unified, with few controllers, but real cgroup.procs,
 * cgroup.freeze and cgroup.kill). Every group lives under a parent named for
 * this test run and everything is removed even when a test fails.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { createRecordingExplainer, isEngineError } from '../../src/common/index.js';
import { createCgroupManager, detectCgroupLayout, V2CgroupManager, type CgroupManager } from '../../src/runtime/cgroups/index.js';

const notRoot = process.getuid?.() !== 0 ? 'needs root' : false;
const layout = detectCgroupLayout();
const noV1 = notRoot || (layout.mode === 'v1' || layout.mode === 'hybrid' ? false : 'no cgroup v1 hierarchies here');
const PARENT = `didactic-container-test-${process.pid}`;
const MiB = 1 << 20;

const newId = (): string => randomBytes(8).toString('hex');

/** A shell that waits for a line on stdin (so it starts its work inside the group), then runs `script`. */
function spawnGated(script: string): { child: ChildProcess; pid: number; go(): void } {
  const child = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  assert.ok(child.pid);
  return { child, pid: child.pid, go: () => child.stdin!.write('go\n') };
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const processState = (pid: number): string => /^State:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';

const exited = (child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve([child.exitCode, child.signalCode])
    : (once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>);

/** Kills what a test left running and removes its group, whatever happened. */
async function cleanUp(manager: CgroupManager | undefined, child?: ChildProcess): Promise<void> {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited(child);
  }
  if (manager) {
    await manager.thaw().catch(() => undefined);
    await manager.kill().catch(() => undefined);
    await manager.destroy();
  }
}

/** Every directory named `name` directly under a v1 hierarchy of /sys/fs/cgroup. */
function leftovers(name: string): string[] {
  const found: string[] = [];
  for (const mount of new Set(Object.values(layout.v1Mounts).concat(layout.unifiedMount ?? []))) {
    if (existsSync(path.join(mount, name))) found.push(path.join(mount, name));
  }
  return found;
}

after(async () => {
  // Remove this run's parent group everywhere (it is empty when every test cleaned up).
  for (const dir of leftovers(PARENT)) {
    try {
      rmdirSync(dir);
    } catch {
      // left for the assertion below to report
    }
  }
});

describe('cgroup layout of this machine', { skip: notRoot }, () => {
  test('v1 controllers match the hierarchies listed in /proc/cgroups', () => {
    const bound = readFileSync('/proc/cgroups', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.split('\t'))
      .filter((f) => f.length === 4 && Number(f[1]) > 0 && f[3] === '1')
      .map((f) => f[0]!)
      .sort();
    assert.deepEqual(layout.v1Controllers, bound);
    for (const controller of layout.v1Controllers) assert.ok(existsSync(path.join(layout.v1Mounts[controller]!, 'cgroup.procs')), controller);
    if (layout.unifiedMount) {
      assert.ok(existsSync(path.join(layout.unifiedMount, 'cgroup.controllers')));
      assert.equal(layout.mode, layout.v1Controllers.length > 0 ? 'hybrid' : 'v2');
    }
  });
});

describe('cgroup v1 on the real hierarchies', { skip: noV1 }, () => {
  test('limits, apply, stats, freeze, thaw, kill, destroy', async () => {
    const explainer = createRecordingExplainer();
    const manager = createCgroupManager({ parent: PARENT, name: newId(), explainer });
    let proc: ReturnType<typeof spawnGated> | undefined;
    try {
      assert.equal(manager.version, 'v1');
      const report = await manager.create({
        memory: { limit: 32 * MiB, swap: 32 * MiB },
        cpu: { shares: 512, quota: 50_000, period: 100_000, cpus: '0' },
        pids: { limit: 10 },
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 5, access: 'rw' },
        ],
      });
      const read = (controller: string, file: string): string => readFileSync(path.join(layout.v1Mounts[controller]!, manager.path, file), 'utf8').trim();
      assert.equal(read('memory', 'memory.limit_in_bytes'), String(32 * MiB));
      if (existsSync(path.join(layout.v1Mounts.memory!, 'memory.memsw.limit_in_bytes'))) {
        assert.deepEqual(report.warnings, []);
        assert.equal(read('memory', 'memory.memsw.limit_in_bytes'), String(32 * MiB));
      } else {
        assert.match(report.warnings.join('\n'), /swap accounting is off/);
      }
      assert.equal(read('cpu', 'cpu.shares'), '512');
      assert.equal(read('cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(read('cpu', 'cpu.cfs_period_us'), '100000');
      assert.equal(read('cpuset', 'cpuset.cpus'), '0');
      assert.equal(read('cpuset', 'cpuset.mems'), read('cpuset', '../cpuset.mems'), 'mems copied from the parent');
      assert.equal(read('pids', 'pids.max'), '10');
      assert.deepEqual(read('devices', 'devices.list').split('\n').sort(), ['c 1:3 rwm', 'c 1:5 rw']);
      assert.ok(explainer.events.some((e) => e.call === `write ${path.join(layout.v1Mounts.memory!, manager.path, 'memory.limit_in_bytes')} = ${32 * MiB}`));

      // Moving a task does not move its old pages (v1 charges only new ones): the
      // script builds a string inside the group so that memory is charged there.
      proc = spawnGated('x=$(seq 1 20000); while :; do :; done');
      await manager.apply(proc.pid);
      proc.go();
      const membership = readFileSync(`/proc/${proc.pid}/cgroup`, 'utf8');
      for (const controller of ['memory', 'cpu', 'cpuset', 'pids', 'freezer', 'devices']) {
        assert.match(membership, new RegExp(`:${controller}:/${manager.path}$`, 'm'), controller);
      }

      await sleep(300);
      assert.deepEqual(await manager.pids(), [proc.pid], 'only the shell, once $(seq) has ended');
      const stats = await manager.stats();
      assert.ok(stats.memory.usage > 0, `memory usage ${stats.memory.usage}`);
      assert.equal(stats.memory.limit, 32 * MiB);
      assert.ok(stats.cpu.usageNs > 0, `cpu usage ${stats.cpu.usageNs}`);
      assert.deepEqual(stats.pids, { current: 1, limit: 10 });

      await manager.freeze();
      assert.equal(read('freezer', 'freezer.state'), 'FROZEN');
      assert.match(processState(proc.pid), /^D/, 'a frozen task shows as D');
      const frozenAt = cpuTicks(proc.pid);
      await sleep(300);
      assert.equal(cpuTicks(proc.pid), frozenAt, 'no CPU time while frozen');

      await manager.thaw();
      assert.equal(read('freezer', 'freezer.state'), 'THAWED');
      await sleep(300);
      assert.ok(cpuTicks(proc.pid) > frozenAt, 'runs again after thaw');

      await manager.kill();
      assert.deepEqual(await exited(proc.child), [null, 'SIGKILL']);
      assert.deepEqual(await manager.pids(), []);

      await manager.destroy();
      for (const dir of manager.directories()) assert.equal(existsSync(dir), false, dir);
      await manager.destroy();
    } finally {
      await cleanUp(manager, proc?.child);
    }
  });

  test('the pids limit stops a fork loop', async () => {
    const manager = createCgroupManager({ parent: PARENT, name: newId() });
    let proc: ReturnType<typeof spawnGated> | undefined;
    try {
      await manager.create({ pids: { limit: 5 } });
      proc = spawnGated('for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 30 & done; wait');
      await manager.apply(proc.pid);
      proc.go();
      await sleep(500);
      // The shell gives up at its first refused fork (dash exits), so the
      // group holds the sleeps that got in, at most the limit.
      const stats = await manager.stats();
      assert.ok(stats.pids.current >= 4 && stats.pids.current <= 5, `pids.current ${stats.pids.current}`);
      assert.equal(stats.pids.limit, 5);
      const events = readFileSync(path.join(layout.v1Mounts.pids!, manager.path, 'pids.events'), 'utf8');
      assert.match(events, /^max [1-9]/m, 'forks were refused');
      assert.equal((await manager.pids()).length, stats.pids.current);
      await manager.kill();
      assert.deepEqual(await manager.pids(), []);
      await exited(proc.child);
    } finally {
      await cleanUp(manager, proc?.child);
    }
  });

  test('a process allocating past 16 MiB is OOM-killed and oomKilled() says so', async () => {
    const manager = createCgroupManager({ parent: PARENT, name: newId() });
    let proc: ReturnType<typeof spawnGated> | undefined;
    try {
      await manager.create({ memory: { limit: 16 * MiB, swap: 16 * MiB } });
      assert.equal(await manager.oomKilled(), false);
      // Touches 64 MiB: python's bytes object is filled, so every page is charged.
      proc = spawnGated(`exec python3 -c "x = b'x' * (64 << 20); print(len(x))"`);
      await manager.apply(proc.pid);
      proc.go();
      const [code, signal] = await exited(proc.child);
      assert.equal(signal, 'SIGKILL', `exit code ${code}`);
      assert.equal(await manager.oomKilled(), true);
      assert.deepEqual(await manager.pids(), []);
    } finally {
      await cleanUp(manager, proc?.child);
    }
  });

  test('destroy refuses while a process is still inside, and names it', async () => {
    const manager = createCgroupManager({ parent: PARENT, name: newId(), drainTimeoutMs: 200 });
    let proc: ReturnType<typeof spawnGated> | undefined;
    try {
      await manager.create();
      proc = spawnGated('sleep 30');
      await manager.apply(proc.pid);
      await assert.rejects(manager.destroy(), (e) => isEngineError(e, 'FAILED_PRECONDITION') && e.message.includes(String(proc!.pid)));
      await manager.kill();
      await manager.destroy();
      for (const dir of manager.directories()) assert.equal(existsSync(dir), false, dir);
    } finally {
      await cleanUp(manager, proc?.child);
    }
  });

  test('the default parent is didactic-container, removed again when empty', async () => {
    const manager = createCgroupManager({ name: newId() });
    try {
      assert.match(manager.path, /^didactic-container\/[0-9a-f]{16}$/);
      await manager.create({ pids: { limit: 3 } });
      assert.ok(existsSync(path.join(layout.v1Mounts.pids!, manager.path)));
    } finally {
      await cleanUp(manager);
    }
    // Another engine process may hold a group there; only then does the parent stay.
    const removed = await manager.removeParentIfEmpty();
    if (removed) assert.deepEqual(leftovers('didactic-container'), []);
  });

  test('nothing of this run is left in the v1 hierarchies', { skip: noV1 }, async () => {
    for (const dir of leftovers(PARENT)) {
      assert.deepEqual(readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name), [], `${dir} has groups left`);
    }
  });
});

describe('cgroup v2 on a real cgroup2 mount', { skip: notRoot }, () => {
  test('create, apply, freeze, thaw, cgroup.kill, destroy', async (t) => {
    const mountPoint = mkdtempSync(path.join(tmpdir(), 'dctr-cgroup2-'));
    const mounted = spawnSync('mount', ['-t', 'cgroup2', 'none', mountPoint], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      rmdirSync(mountPoint);
      t.skip(`cannot mount cgroup2: ${mounted.stderr.trim()}`);
      return;
    }
    const manager = new V2CgroupManager({ fsRoot: mountPoint, parent: PARENT, name: newId(), explainer: createRecordingExplainer() });
    let proc: ReturnType<typeof spawnGated> | undefined;
    try {
      const available = readFileSync(path.join(mountPoint, 'cgroup.controllers'), 'utf8').split(/\s+/);
      if (!available.includes('memory')) {
        await assert.rejects(manager.create({ memory: { limit: 16 * MiB } }), (e) => isEngineError(e, 'FAILED_PRECONDITION'));
        assert.equal(existsSync(path.join(mountPoint, PARENT)), false, 'nothing created when refused');
      }
      const subtreeBefore = readFileSync(path.join(mountPoint, 'cgroup.subtree_control'), 'utf8');
      assert.deepEqual((await manager.create()).warnings, []);
      assert.equal(readFileSync(path.join(mountPoint, 'cgroup.subtree_control'), 'utf8'), subtreeBefore, 'the root was not changed for controllers it lacks');
      const dir = manager.directories()[0]!;
      assert.ok(existsSync(path.join(dir, 'cgroup.procs')));

      proc = spawnGated('while :; do :; done');
      await manager.apply(proc.pid);
      proc.go();
      assert.match(readFileSync(`/proc/${proc.pid}/cgroup`, 'utf8'), new RegExp(`^0::/${manager.path}$`, 'm'));
      assert.deepEqual(await manager.pids(), [proc.pid]);
      await sleep(200);
      assert.ok((await manager.stats()).cpu.usageNs > 0, 'cpu.stat counts without the cpu controller');

      await manager.freeze();
      assert.match(readFileSync(path.join(dir, 'cgroup.events'), 'utf8'), /^frozen 1$/m);
      const frozenAt = cpuTicks(proc.pid);
      await sleep(300);
      assert.equal(cpuTicks(proc.pid), frozenAt, 'no CPU time while frozen');
      await manager.thaw();
      assert.match(readFileSync(path.join(dir, 'cgroup.events'), 'utf8'), /^frozen 0$/m);
      await sleep(300);
      assert.ok(cpuTicks(proc.pid) > frozenAt, 'runs again after thaw');

      assert.equal(existsSync(path.join(dir, 'cgroup.kill')), true, 'kernel 5.14+ offers cgroup.kill');
      await manager.kill();
      assert.deepEqual(await exited(proc.child), [null, 'SIGKILL']);
      await manager.destroy();
      assert.equal(existsSync(dir), false);
      assert.equal(await manager.removeParentIfEmpty(), true);
      assert.equal(existsSync(path.join(mountPoint, PARENT)), false);
    } finally {
      await cleanUp(manager, proc?.child).catch(() => undefined);
      await manager.removeParentIfEmpty().catch(() => undefined);
      spawnSync('umount', [mountPoint]);
      rmdirSync(mountPoint);
    }
    assert.equal(layout.unifiedMount && existsSync(path.join(layout.unifiedMount, PARENT)), false, 'nothing left in the unified hierarchy');
  });
});
