/**
 * The container lifecycle through the CLI, as root, on the real kernel:
 * start (detached, under the monitor), ps, inspect, logs, top, stats,
 * pause/unpause, stop, kill, wait, rename, rm, prune, and the reliability
 * cases (a killed monitor, two removers at once, twenty containers started
 * and removed by separate CLIs at once). After each test nothing of its
 * containers may be left: no mounts, cgroups, run dirs, bundles, rows,
 * monitor processes.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/db/index.js';
import { sharedImages } from '../helpers/images.js';
import { createTempRoot, mountsBelow, type TempRoot } from '../helpers/tmp-root.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/didactic-container.js');
const skip = process.getuid?.() !== 0 ? 'needs root' : false;


let root: TempRoot;
let imageRef: string;
let counter = 0;
const made = new Set<string>();

const cli = (args: string[]): Promise<CliResult> => runCli(root, args);

function ok(result: CliResult, what: string): CliResult {
  assert.equal(result.status, 0, `${what}: exit ${result.status}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

function newName(): string {
  const name = `lc-${process.pid}-${++counter}`;
  made.add(name);
  return name;
}

/** A shell loop that exits 7 on SIGTERM (pid 1 ignores signals it does not handle). */
const LOOP = 'trap "exit 7" TERM; echo started; while :; do sleep 0.1; done';

/** A running detached container (run -d); its name. */
async function startLong(script = LOOP, name = newName()): Promise<string> {
  const started = ok(await cli(['run', '-d', '--name', name, '--network', 'none', imageRef, 'sh', '-c', script]), 'run -d');
  assert.match(started.stdout, /^[0-9a-f]{64}\n$/);
  assert.equal(rowOf(name)?.id, started.stdout.trim());
  return name;
}

/** Every container id this file has seen: the cgroups of other tests on the machine are not ours to judge. */
const seenIds = new Set<string>();

function rowOf(name: string): { id: string; state: string; exit_code: number | null; error: string | null } | undefined {
  const db = openDatabase(path.join(root.root, 'db.sqlite'));
  try {
    const row = db.prepare('SELECT id, state, exit_code, error FROM containers WHERE name = ?').get(name) as ReturnType<typeof rowOf>;
    if (row !== undefined) seenIds.add(row.id);
    return row;
  } finally {
    db.close();
  }
}

function allRows(): string[] {
  const db = openDatabase(path.join(root.root, 'db.sqlite'));
  try {
    return db.prepare('SELECT name FROM containers').pluck().all() as string[];
  } finally {
    db.close();
  }
}

function cgroupDirs(): string[] {
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => / - cgroup2? /.test(line))
    .map((line) => line.split(' ')[4]!);
  const found: string[] = [];
  for (const point of points) {
    const parent = path.join(point, 'didactic-container');
    if (!fs.existsSync(parent)) continue;
    for (const entry of fs.readdirSync(parent, { withFileTypes: true })) if (entry.isDirectory()) found.push(path.join(parent, entry.name));
  }
  return found;
}

/** Processes (monitors, containers) whose command line or cwd is below the test root. */
function ourProcesses(): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(root.dir)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The bridge devices of this root's networks outlive it unless deleted. */
function removeBridges(): void {
  try {
    const db = openDatabase(path.join(root.root, 'db.sqlite'));
    try {
      for (const bridge of db.prepare('SELECT bridge FROM networks').pluck().all() as string[]) {
        if (fs.existsSync(`/sys/class/net/${bridge}`)) spawnSync('ip', ['link', 'del', bridge]);
      }
    } finally {
      db.close();
    }
  } catch {
    // No database: no networks.
  }
}

/** Nothing of the removed container is left anywhere. */
function assertGone(id: string, name: string): void {
  assert.equal(rowOf(name), undefined, `row of ${name} left`);
  assert.equal(fs.existsSync(path.join(root.root, 'containers', id)), false, 'bundle left');
  assert.equal(fs.existsSync(path.join(root.runRoot, id)), false, 'run dir left');
  assert.deepEqual(mountsBelow(path.join(root.root, 'containers', id)), [], 'mounts left');
  assert.deepEqual(cgroupDirs().filter((dir) => dir.endsWith(id)), [], 'cgroups left');
}

describe('container lifecycle', { skip, timeout: 300_000 }, () => {
  before(async () => {
    root = createTempRoot('dctr-lc-');
    const images = await sharedImages();
    imageRef = images.busybox.ref;
    ok(await cli(['pull', '-q', imageRef]), 'pull');
  });
  afterEach(async () => {
    const names = [...made].filter((name) => allRows().includes(name));
    made.clear();
    if (names.length > 0) await cli(['rm', '-f', ...names]);
  });
  after(async () => {
    try {
      await waitFor('no processes of the test root', () => ourProcesses().length === 0, 5000).catch(() => undefined);
      assert.deepEqual(ourProcesses(), [], 'processes left');
      assert.deepEqual(mountsBelow(root.dir), [], 'mounts left');
      assert.deepEqual(cgroupDirs().filter((dir) => seenIds.has(path.basename(dir))), [], 'cgroups left');
    } finally {
      for (const pid of ourProcesses()) process.kill(pid, 'SIGKILL');
      removeBridges();
      root?.dispose();
    }
  });

  test('start, ps, inspect, logs, top, stats, pause, unpause, stop, rm', async () => {
    const name = await startLong();
    const ps = ok(await cli(['ps']), 'ps');
    const line = ps.stdout.split('\n').find((l) => l.endsWith(name));
    assert.ok(line, `ps does not list ${name}:\n${ps.stdout}`);
    assert.match(line, /Up (Less than a second|\d+ seconds?)/);
    assert.match(ps.stdout.split('\n')[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);

    const [info] = JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout) as [Record<string, any>];
    assert.equal(info.Name, `/${name}`);
    assert.equal(info.State.Status, 'running');
    assert.equal(info.State.Running, true);
    assert.ok(info.State.Pid > 0);
    assert.equal(info.Path, 'sh');
    assert.equal(info.Config.Image, imageRef);
    assert.equal(info.HostConfig.NetworkMode, 'none');
    assert.ok(fs.existsSync(`/proc/${info.State.Pid}`), 'the pid of inspect is not a live process');
    assert.equal(ok(await cli(['inspect', '-f', '{{.State.Pid}} {{.State.Status}}', name]), 'inspect -f').stdout, `${info.State.Pid} running\n`);

    await waitFor('the log line', async () => (await cli(['logs', name])).stdout.includes('started\n'));
    const stamped = ok(await cli(['logs', '-t', '--tail', '1', name]), 'logs -t');
    assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z started\n$/);

    const top = ok(await cli(['top', name]), 'top');
    assert.match(top.stdout.split('\n')[0]!, /^PID\s+USER\s+TIME\s+CMD$/);
    assert.ok(top.stdout.includes(`${info.State.Pid} `), top.stdout);
    assert.match(top.stdout, /root\s+\d\d:\d\d:\d\d\s+sh -c/);

    const stats = ok(await cli(['stats', '--no-stream', '--format', 'json', name]), 'stats');
    const sample = JSON.parse(stats.stdout.trim()) as Record<string, string>;
    assert.equal(sample.Name, name);
    assert.match(sample.CPUPerc!, /^\d+\.\d\d%$/);
    assert.match(sample.MemUsage!, /^[\d.]+[KMG]?i?B \/ [\d.]+[KMG]iB$/);
    assert.ok(Number(sample.PIDs) >= 1);

    ok(await cli(['pause', name]), 'pause');
    const paused = JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout)[0];
    assert.equal(paused.State.Status, 'paused');
    assert.equal(paused.State.Paused, true);
    assert.match(ok(await cli(['ps']), 'ps').stdout, /\(Paused\)/);
    const freezer = cgroupDirs().find((dir) => dir.includes('/freezer/') && dir.endsWith(info.Id));
    if (freezer) assert.equal(fs.readFileSync(path.join(freezer, 'freezer.state'), 'utf8').trim(), 'FROZEN');
    ok(await cli(['unpause', name]), 'unpause');
    assert.equal(JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout)[0].State.Status, 'running');

    const stopped = ok(await cli(['stop', '--explain', '-t', '5', name]), 'stop');
    assert.equal(stopped.stdout, `${name}\n`);
    assert.match(stopped.stderr, /tell the container's monitor not to restart it/);
    assert.match(stopped.stderr, /kill\(\d+, SIGTERM\)/);
    const after = JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout)[0];
    assert.equal(after.State.Status, 'exited');
    assert.equal(after.State.ExitCode, 7, 'the trap should have ended it with 7');
    assert.equal(after.State.Pid, 0);
    assert.match(ok(await cli(['ps', '-a']), 'ps -a').stdout, new RegExp(`Exited \\(7\\) .* ago\\s+${name}`));
    assert.doesNotMatch(ok(await cli(['ps']), 'ps').stdout, new RegExp(name));
    assert.deepEqual(mountsBelow(path.join(root.root, 'containers', info.Id)), [], 'rootfs still mounted after stop');
    assert.deepEqual(cgroupDirs().filter((dir) => dir.endsWith(info.Id)), [], 'cgroup left after stop');

    // A stopped container starts again, with its writable layer kept.
    ok(await cli(['start', name]), 'start again');
    assert.equal(JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout)[0].State.Status, 'running');
    ok(await cli(['rm', '-f', name]), 'rm -f');
    assertGone(info.Id, name);
  });

  test('rm refuses a running container without -f; kill, wait, rename', async () => {
    const name = await startLong();
    const refused = await cli(['rm', name]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /container is running: stop the container before removing or force remove/);
    const waiting = cli(['wait', name]);
    ok(await cli(['kill', '-s', 'TERM', name]), 'kill -s TERM');
    const waited = ok(await waiting, 'wait');
    assert.equal(waited.stdout, '7\n');
    const notRunning = await cli(['kill', name]);
    assert.equal(notRunning.status, 1);
    assert.match(notRunning.stderr, /is not running/);
    const renamed = newName();
    ok(await cli(['rename', name, renamed]), 'rename');
    const [info] = JSON.parse(ok(await cli(['inspect', renamed]), 'inspect').stdout);
    assert.equal(info.Name, `/${renamed}`);
    ok(await cli(['rm', renamed]), 'rm');
    assertGone(info.Id, renamed);
  });

  test('unknown and ambiguous names, ps filters, -q, --no-trunc, prune', async () => {
    const unknown = await cli(['rm', 'no-such-container']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /No such container: no-such-container/);
    for (const verb of ['stop', 'kill', 'inspect', 'start', 'wait', 'pause', 'logs', 'top']) {
      const result = await cli([verb, 'no-such-container']);
      assert.equal(result.status, 1, `${verb}: ${result.stderr}`);
      assert.match(result.stderr, /No such container: no-such-container/);
    }
    const [a, b] = [newName(), newName()];
    assert.equal((await cli(['run', '--name', a, '--network', 'none', imageRef, 'sh', '-c', 'exit 3'])).status, 3);
    await cli(['run', '--name', b, '--network', 'none', imageRef, 'true']);
    const idA = rowOf(a)!.id;
    const idB = rowOf(b)!.id;
    let prefix = 0;
    while (idA[prefix] === idB[prefix]) prefix++;
    if (prefix > 0) {
      const ambiguous = await cli(['inspect', idA.slice(0, prefix)]);
      assert.equal(ambiguous.status, 1);
      assert.match(ambiguous.stderr, /multiple containers found with provided prefix/);
    }
    const byPrefix = JSON.parse(ok(await cli(['inspect', idA.slice(0, prefix + 1)]), 'inspect prefix').stdout);
    assert.equal(byPrefix[0].Id, idA);

    const exited = ok(await cli(['ps', '--filter', 'status=exited', '--filter', `name=${a}`, '--format', 'json']), 'ps filter');
    const rows = exited.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, 1);
    assert.equal(rows[0].Names, a);
    assert.match(rows[0].Status, /^Exited \(3\) /);
    assert.equal(rows[0].Command, '"sh -c exit 3"');
    assert.equal(ok(await cli(['ps', '-aq', '--no-trunc', '--filter', `name=${b}`]), 'ps -q').stdout, `${idB}\n`);
    assert.equal(ok(await cli(['ps', '-q', '--filter', `ancestor=${imageRef}`, '--filter', 'status=exited']), 'ps ancestor').stdout.split('\n').filter(Boolean).length >= 2, true);
    const bad = await cli(['ps', '--filter', 'colour=red']);
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /invalid filter 'colour'/);

    const noLog = await cli(['logs', a]);
    assert.notEqual(noLog.status, 0);
    assert.match(noLog.stderr, /ran in the foreground/);

    const running = await startLong();
    const pruned = ok(await cli(['container', 'prune', '-f']), 'prune');
    assert.match(pruned.stdout, /Deleted Containers:/);
    assert.ok(pruned.stdout.includes(idA) && pruned.stdout.includes(idB), pruned.stdout);
    assert.equal(rowOf(a), undefined);
    assert.ok(rowOf(running), 'prune removed a running container');
    ok(await cli(['rm', '-f', running]), 'rm -f');
  });

  test('start -a streams the output and exits with the status; logs -f follows until the end; restart', { timeout: 60_000 }, async () => {
    const name = newName();
    const script = 'echo out; echo err >&2; exit 5';
    ok(await cli(['run', '--name', name, '--network', 'none', imageRef, 'sh', '-c', `if [ -e /ran-once ]; then ${script}; fi; touch /ran-once`]), 'run');
    const id = rowOf(name)!.id;
    const attached = await cli(['start', '-a', name]);
    assert.equal(attached.status, 5, attached.stderr);
    assert.equal(attached.stdout, 'out\n');
    assert.equal(attached.stderr, 'err\n');
    const logs = ok(await cli(['logs', name]), 'logs');
    assert.equal(logs.stdout, 'out\n');
    assert.equal(logs.stderr, 'err\n');
    ok(await cli(['rm', name]), 'rm');
    assertGone(id, name);

    const long = await startLong('trap "exit 0" TERM; i=0; while :; do echo line$i; i=$((i+1)); sleep 0.1; done');
    const following = cli(['logs', '-f', long]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = JSON.parse(ok(await cli(['inspect', long]), 'inspect').stdout)[0].State.StartedAt;
    ok(await cli(['restart', '-t', '5', long]), 'restart');
    const restarted = JSON.parse(ok(await cli(['inspect', long]), 'inspect').stdout)[0];
    assert.equal(restarted.State.Status, 'running');
    assert.notEqual(restarted.State.StartedAt, before);
    const followed = ok(await following, 'logs -f');
    assert.match(followed.stdout, /^line0\nline1\n/);
    ok(await cli(['stop', long]), 'stop');
    const all = ok(await cli(['logs', long]), 'logs').stdout.split('\n').filter(Boolean);
    assert.ok(all.filter((line) => line === 'line0').length === 2, 'both runs are in the log');
  });

  test('create makes a container that runs only on start; a bad command exits 127 under run -d', async () => {
    const name = newName();
    const created = ok(await cli(['create', '--name', name, '--network', 'none', imageRef, 'sh', '-c', 'echo from-start; exit 4']), 'create');
    const id = created.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const [info] = JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout);
    assert.equal(info.State.Status, 'created');
    assert.equal(info.State.StartedAt, '0001-01-01T00:00:00Z');
    assert.deepEqual(mountsBelow(path.join(root.root, 'containers', id)), [], 'a created container has nothing mounted');
    assert.match(ok(await cli(['ps', '-a', '--filter', `name=${name}`]), 'ps').stdout, /\sCreated\s/);
    const attached = await cli(['start', '-a', name]);
    assert.equal(attached.status, 4);
    assert.equal(attached.stdout, 'from-start\n');
    ok(await cli(['rm', name]), 'rm');
    assertGone(id, name);

    const bad = newName();
    const failed = await cli(['run', '-d', '--name', bad, '--network', 'none', imageRef, 'nosuchcommand']);
    assert.equal(failed.status, 127, failed.stderr);
    assert.match(failed.stderr, /executable file not found/);
    assert.equal(JSON.parse(ok(await cli(['inspect', bad]), 'inspect').stdout)[0].State.ExitCode, 127);
    const conflicting = await cli(['run', '-d', '--rm', '--restart', 'always', imageRef, 'true']);
    assert.equal(conflicting.status, 125);
    assert.match(conflicting.stderr, /Conflicting options: --restart and --rm/);
  });

  test('--restart on-failure:2: the monitor restarts a failing container twice, then it stays exited', { timeout: 60_000 }, async () => {
    const restarting = newName();
    ok(await cli(['run', '-d', '--name', restarting, '--network', 'none', '--restart', 'on-failure:2', imageRef, 'sh', '-c', 'echo attempt; exit 3']), 'run -d');
    const code = ok(await cli(['wait', restarting]), 'wait');
    assert.equal(code.stdout, '3\n');
    const [info] = JSON.parse(ok(await cli(['inspect', restarting]), 'inspect').stdout);
    assert.equal(info.RestartCount, 2);
    assert.deepEqual(info.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    assert.equal(ok(await cli(['logs', restarting]), 'logs').stdout, 'attempt\nattempt\nattempt\n');
  });

  test('--stop-signal is what stop sends; --restart always shows Restarting between runs and stop ends it', { timeout: 60_000 }, async () => {
    const name = newName();
    ok(await cli(['run', '-d', '--name', name, '--network', 'none', '--stop-signal', 'USR1', imageRef, 'sh', '-c', 'trap "exit 9" USR1; while :; do sleep 0.1; done']), 'run -d');
    ok(await cli(['stop', name]), 'stop');
    const [stopped] = JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout);
    assert.equal(stopped.State.ExitCode, 9);
    assert.equal(stopped.Config.StopSignal, 'USR1');

    const always = newName();
    ok(await cli(['run', '-d', '--name', always, '--network', 'none', '--restart', 'always', imageRef, 'sh', '-c', 'exit 1']), 'run -d');
    const seen = await waitFor('a Restarting status', async () => {
      const [info] = JSON.parse(ok(await cli(['inspect', always]), 'inspect').stdout);
      return info.State.Restarting === true ? info : undefined;
    }, 20_000);
    assert.equal(seen.State.Status, 'restarting');
    ok(await cli(['stop', always]), 'stop');
    const [ended] = JSON.parse(ok(await cli(['inspect', always]), 'inspect').stdout);
    assert.equal(ended.State.Status, 'exited');
    assert.ok(ended.RestartCount >= 1, `RestartCount ${ended.RestartCount}`);
  });

  test('run -d --rm: the container is removed once it is seen ended', async () => {
    const name = newName();
    const id = ok(await cli(['run', '-d', '--rm', '--name', name, '--network', 'none', imageRef, 'sh', '-c', 'exit 2']), 'run -d --rm').stdout.trim();
    assert.equal(ok(await cli(['wait', name]), 'wait').stdout, '2\n');
    assertGone(id, name);
  });

  test('on the default bridge: a published port answers, survives restart, and rm -f takes the container off the network', { timeout: 60_000 }, async () => {
    const name = newName();
    ok(await cli(['run', '-d', '--name', name, '-p', '8080', imageRef, 'sh', '-c', 'echo hello-from-web > /tmp/index.html; exec httpd -f -p 8080 -h /tmp']), 'run -d');
    const id = rowOf(name)!.id;
    const portOf = async () => {
      const [info] = JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout);
      return Number(info.NetworkSettings.Ports['8080/tcp'][0].HostPort);
    };
    const get = async (port: number) => (await fetch(`http://127.0.0.1:${port}/index.html`)).text();
    const port = await portOf();
    assert.match(ok(await cli(['ps', '--filter', `name=${name}`]), 'ps').stdout, new RegExp(`0\\.0\\.0\\.0:${port}->8080/tcp`));
    assert.equal(await waitFor('httpd', () => get(port).catch(() => undefined)), 'hello-from-web\n');
    ok(await cli(['restart', '-t', '1', name]), 'restart');
    const again = await portOf();
    assert.equal(await waitFor('httpd after restart', () => get(again).catch(() => undefined)), 'hello-from-web\n');
    ok(await cli(['rm', '-f', name]), 'rm -f');
    assertGone(id, name);
    const networks = JSON.parse(ok(await cli(['network', 'inspect', 'bridge']), 'network inspect').stdout);
    assert.deepEqual(networks[0].Containers, {}, 'still attached to the bridge');
    await assert.rejects(get(again), 'the published port still answers');
  });

  test('kill -9 of the monitor: exited with "monitor lost"; rm -f cleans up', async () => {
    const name = await startLong();
    const id = rowOf(name)!.id;
    const monitorPid = Number(fs.readFileSync(path.join(root.runRoot, id, 'monitor.pid'), 'utf8'));
    process.kill(monitorPid, 'SIGKILL');
    await waitFor('the monitor to be gone', () => !fs.existsSync(`/proc/${monitorPid}`) || fs.readFileSync(`/proc/${monitorPid}/stat`, 'utf8').includes(') Z'));
    const [info] = JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout);
    assert.equal(info.State.Status, 'exited');
    assert.equal(info.State.Error, 'monitor lost');
    assert.equal(info.State.Running, false);
    assert.match(ok(await cli(['ps', '-a']), 'ps -a').stdout, new RegExp(`Exited \\(\\d+\\) .*${name}`));
    ok(await cli(['rm', '-f', name]), 'rm -f');
    assertGone(id, name);
  });

  test('kill -9 of the CLI during run -d: rm -f of what it left leaves nothing behind', { timeout: 90_000 }, async (t) => {
    let caught = 0;
    for (const delay of [150, 250, 300, 350, 400, 450, 500, 600]) {
      const name = newName();
      const child = spawn(process.execPath, [BIN, '--root', root.root, '--run-root', root.runRoot, 'run', '-d', '--name', name, '--network', 'none', imageRef, 'sh', '-c', LOOP], {
        stdio: 'ignore',
      });
      const closed = new Promise((resolve) => child.once('close', resolve));
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      await closed;
      const left = rowOf(name);
      if (left === undefined) continue;
      caught++;
      // A container whose monitor lives is running, whatever moment the CLI died at.
      const monitorFile = path.join(root.runRoot, left.id, 'monitor.pid');
      const monitor = fs.existsSync(monitorFile) ? Number(fs.readFileSync(monitorFile, 'utf8')) : 0;
      const [seen] = JSON.parse(ok(await cli(['inspect', name]), 'inspect').stdout);
      const monitorAlive = monitor > 0 && fs.existsSync(`/proc/${monitor}/cmdline`) && fs.readFileSync(`/proc/${monitor}/cmdline`, 'utf8').includes('--detach');
      if (monitorAlive && !fs.existsSync(path.join(root.runRoot, left.id, 'exit'))) assert.equal(seen.State.Status, 'running', `delay ${delay}`);
      const removed = await cli(['rm', '-f', name]);
      assert.equal(removed.status, 0, `delay ${delay}: ${removed.stderr}`);
      assertGone(left.id, name);
    }
    t.diagnostic(`${caught} of 8 CLIs were killed after the row existed`);
    assert.ok(caught > 0, 'every CLI was killed before it made the row: the test proved nothing');
    await waitFor('no monitors left', () => ourProcesses().length === 0, 5000);
  });

  test('two rm -f of one running container at once: one removes it, the other gets a clear error', async () => {
    const name = await startLong();
    const id = rowOf(name)!.id;
    const results = await Promise.all([cli(['rm', '-f', name]), cli(['rm', '-f', name])]);
    const statuses = results.map((r) => r.status).sort();
    assert.ok(statuses[0] === 0, `nobody removed it: ${JSON.stringify(results)}`);
    for (const result of results) {
      assert.ok(result.status === 0 || result.status === 1, JSON.stringify(result));
      if (result.status === 1) assert.match(result.stderr, /removal of container .* is already in progress|No such container/);
      assert.doesNotMatch(result.stderr, /TypeError|at .*\.js:\d+/);
    }
    assertGone(id, name);
  });

  test('stop and rm -f of one container at once; a paused container stops and is removed', { timeout: 60_000 }, async () => {
    const name = await startLong();
    const id = rowOf(name)!.id;
    const [stopped, removed] = await Promise.all([cli(['stop', '-t', '5', name]), cli(['rm', '-f', name])]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.ok(stopped.status === 0 || /No such container|already in progress/.test(stopped.stderr), JSON.stringify(stopped));
    assertGone(id, name);

    const paused = await startLong();
    const pausedId = rowOf(paused)!.id;
    ok(await cli(['pause', paused]), 'pause');
    ok(await cli(['stop', '-t', '5', paused]), 'stop of a paused container');
    assert.equal(JSON.parse(ok(await cli(['inspect', paused]), 'inspect').stdout)[0].State.ExitCode, 7);
    ok(await cli(['start', paused]), 'start');
    ok(await cli(['pause', paused]), 'pause');
    ok(await cli(['rm', '-f', paused]), 'rm -f of a paused container');
    assertGone(pausedId, paused);
  });

  test('twenty containers started and removed concurrently by separate CLIs leave nothing behind', { timeout: 240_000 }, async () => {
    const names = Array.from({ length: 20 }, () => newName());
    const started = await Promise.all(names.map((name) => cli(['run', '-d', '--name', name, '--network', 'none', imageRef, 'sh', '-c', LOOP])));
    started.forEach((result) => ok(result, 'run -d'));
    const ids = names.map((name) => rowOf(name)!.id);
    const running = ok(await cli(['ps', '-q']), 'ps').stdout.split('\n').filter(Boolean);
    assert.equal(running.length, 20);
    const removed = await Promise.all(names.map((name) => cli(['rm', '-f', name])));
    removed.forEach((result) => ok(result, 'rm -f'));
    names.forEach((name, i) => assertGone(ids[i]!, name));
    await waitFor('no monitors left', () => ourProcesses().length === 0, 5000);
  });
});
