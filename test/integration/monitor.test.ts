/**
 * Detached containers and their monitor against the real kernel, as root: a
 * busybox rootfs, Docker's defaults through the spec planner, started with
 * sys/monitor.ts startDetached. After every test no process of it may be left
 * (containers and monitors, found by pid and by their command lines) and
 * nothing mounted below its temp dir.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createRecordingExplainer, isEngineError } from '../../src/common/index.js';
import { createCgroupManager, detectCgroupLayout } from '../../src/runtime/index.js';
import { readExitFile, readStartFile, type ExitRecord } from '../../src/runtime/exit-file.js';
import { parseLogLine, readLogs, type LogEntry } from '../../src/runtime/log-file.js';
import { encodeLaunchPlan, planLaunch } from '../../src/runtime/launch-plan.js';
import { compileSeccomp, planSpec } from '../../src/spec/index.js';
import {
  execFailureStatus, isMonitorAlive, readMonitorPid, requestMonitorStop, startDetached,
  type DetachedContainer, type StartDetachedOptions,
} from '../../src/sys/index.js';
import { createTempRoot, mountsBelow, type TempRoot } from '../helpers/tmp-root.js';

const needsRoot = { skip: process.getuid?.() !== 0 ? 'needs root' : false };
const APPLETS = ['sh', 'cat', 'sleep', 'head', 'tr', 'printf', 'touch', 'true'];
const ID = 'face'.padEnd(64, '0');

function buildRootfs(dir: string): string {
  const rootfs = path.join(dir, 'rootfs');
  for (const sub of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, sub), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  fs.writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n');
  fs.writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
  return rootfs;
}

/** The encoded launch plan for a command with Docker's defaults (caps, masks, namespaces, seccomp). */
function planFor(rootfs: string, command: string[], user?: string): Buffer {
  const spec = planSpec(
    { containerId: ID, imageConfig: { Env: ['PATH=/bin'] }, rootfsPath: rootfs, command, network: 'none', ...(user ? { user } : {}) },
    { nofileHard: 20000, passwd: fs.readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8'), group: fs.readFileSync(path.join(rootfs, 'etc/group'), 'utf8') },
  );
  const seccompFilter = spec.linux.seccomp ? compileSeccomp(spec.linux.seccomp).toBuffer() : undefined;
  return encodeLaunchPlan(planLaunch(spec, { rootfs, cgroupLayout: detectCgroupLayout(), ...(seccompFilter ? { seccompFilter } : {}) }));
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function statField(pid: number, index: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[index]);
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Processes whose command line mentions dir (monitors have --run-dir below it). */
function processesMentioning(dir: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(dir)) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

describe('detached containers and their monitor (root)', needsRoot, () => {
  let tmp: TempRoot;
  let rootfs: string;
  let runDir: string;
  let logPath: string;
  const pids: number[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(() => {
    tmp = createTempRoot('didactic-monitor-it-');
    rootfs = buildRootfs(tmp.dir);
    runDir = path.join(tmp.runRoot, ID);
    logPath = path.join(tmp.dir, `${ID}-json.log`);
  });

  afterEach(async () => {
    const leftMounts = mountsBelow(tmp.dir);
    const alive = [...new Set([...pids.splice(0), ...processesMentioning(tmp.dir)])].filter((pid) => {
      if (!running(pid)) return false;
      process.kill(pid, 'SIGKILL');
      return true;
    });
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
    tmp.dispose();
    assert.deepEqual(leftMounts, [], 'mounts left behind');
    assert.deepEqual(alive, [], 'processes left behind');
  });

  async function start(command: string[], options: Partial<StartDetachedOptions> & { user?: string } = {}): Promise<DetachedContainer> {
    const started = await startDetached(planFor(rootfs, command, options.user), {
      bundleDir: tmp.dir, runDir, logPath, ...options,
      onPid: async (pid) => {
        pids.push(pid);
        await options.onPid?.(pid);
      },
    });
    pids.push(started.monitorPid);
    return started;
  }

  /** The exit file, once the monitor that wrote it has exited too. */
  const exitFile = async (): Promise<ExitRecord> => {
    const exit = await waitFor('the exit file', () => readExitFile(runDir));
    await waitFor('the monitor to exit after writing it', () => processesMentioning(runDir).filter(running).length === 0 || undefined);
    return exit;
  };
  const logEntries = (): LogEntry[] => fs.readFileSync(logPath, 'utf8').split('\n').filter(Boolean).map(parseLogLine);

  test('returns at once; both streams in json-file format; exit file with the status; the monitor then leaves', { timeout: 20_000 }, async () => {
    const begun = Date.now();
    const { pid, monitorPid } = await start(['sh', '-c', 'echo out; echo err >&2; sleep 1; exit 3']);
    const took = Date.now() - begun;
    assert.ok(took < 900, `startDetached took ${took} ms`);
    assert.equal(readExitFile(runDir), undefined, 'no exit file while it runs');
    assert.ok(running(pid));
    assert.ok(isMonitorAlive(monitorPid, runDir));
    assert.ok(!isMonitorAlive(monitorPid, path.join(tmp.runRoot, 'other')), 'another run dir is another monitor');
    assert.equal(readMonitorPid(runDir), monitorPid);
    assert.equal(statField(pid, 1), monitorPid, "the monitor is the container's parent");
    assert.notEqual(statField(monitorPid, 1), process.pid, 'the monitor is not our child');
    assert.equal(statField(monitorPid, 3), monitorPid, 'the monitor leads its own session');
    assert.deepEqual(readStartFile(runDir)?.pid, pid);

    const exit = await exitFile();
    assert.deepEqual({ ...exit, finishedAt: 'x' }, { status: 3, signal: null, finishedAt: 'x', oomKilled: false, restartCount: 0 });
    assert.match(exit.finishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    const lines = fs.readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
    for (const line of lines) assert.match(line, /^\{"log":".*","stream":"std(out|err)","time":"[^"]+Z"\}$/);
    const entries = lines.map(parseLogLine);
    assert.deepEqual(entries.map((e) => [e.stream, e.log]).sort(), [['stderr', 'err\n'], ['stdout', 'out\n']]);
    await waitFor('the monitor to exit', () => !isMonitorAlive(monitorPid));
    assert.ok(!running(pid));
  });

  test('the log: lines over 16 KiB in pieces, a last line without newline, Docker\'s escapes', { timeout: 20_000 }, async () => {
    const script = "head -c 40000 /dev/zero | tr '\\0' a; echo; printf '<&>\"\\\\\\t\\001\\303\\251\\377\\n' >&2; printf 'no newline'";
    await start(['sh', '-c', script]);
    assert.equal((await exitFile()).status, 0);
    const raw = fs.readFileSync(logPath, 'utf8');
    assert.ok(raw.includes('\\u003c\\u0026\\u003e\\"\\\\\\t\\u0001é\\ufffd\\n'), raw.slice(-300));
    const out = logEntries().filter((e) => e.stream === 'stdout').map((e) => e.log);
    assert.deepEqual(out.map((l) => l.length), [16384, 16384, 7233, 10]);
    assert.ok(out[0]!.endsWith('a') && out[2]!.endsWith('a\n'));
    assert.equal(out[3], 'no newline');
    assert.deepEqual(logEntries().filter((e) => e.stream === 'stderr').map((e) => e.log), ['<&>"\\\t\u0001é\ufffd\n']);
  });

  test('logs -f follows across the end of the container and stops once the exit file is there', { timeout: 20_000 }, async () => {
    await start(['sh', '-c', 'echo one; sleep 0.5; echo two >&2; sleep 0.5; echo three']);
    const seen: string[] = [];
    for await (const chunk of readLogs(logPath, { follow: true, pollMs: 20, done: () => readExitFile(runDir) !== undefined })) seen.push(chunk.text);
    assert.deepEqual(seen, ['one\n', 'two\n', 'three\n']);
    await exitFile();
  });

  test('the monitor outlives the process that started it', { timeout: 20_000 }, async () => {
    const planFile = path.join(tmp.dir, 'plan.bin');
    fs.writeFileSync(planFile, planFor(rootfs, ['sh', '-c', 'sleep 1; echo done']));
    const sys = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/sys/index.js');
    const script = `import fs from 'node:fs';
      const { startDetached } = await import(${JSON.stringify(sys)});
      const started = await startDetached(fs.readFileSync(${JSON.stringify(planFile)}), ${JSON.stringify({ bundleDir: tmp.dir, runDir, logPath })});
      process.stdout.write(JSON.stringify(started));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    const { pid, monitorPid } = JSON.parse(output) as DetachedContainer;
    pids.push(pid, monitorPid);
    assert.ok(isMonitorAlive(monitorPid, runDir), 'the monitor lives on after its starter exited');
    assert.ok(running(pid));
    assert.equal((await exitFile()).status, 0);
    assert.deepEqual(logEntries().map((e) => e.log), ['done\n']);
  });

  test('kill -9 of the monitor kills the container (PR_SET_PDEATHSIG) and leaves no exit file: "monitor lost"', { timeout: 20_000 }, async () => {
    const { pid, monitorPid } = await start(['sleep', '30']);
    process.kill(monitorPid, 'SIGKILL');
    await waitFor('the container to die with its monitor', () => !running(pid), 5000);
    assert.ok(!isMonitorAlive(monitorPid, runDir));
    assert.equal(readExitFile(runDir), undefined);
  });

  test('restart on-failure:2 runs the command three times, with back-off, then records the last exit', { timeout: 20_000 }, async () => {
    const begun = Date.now();
    const { monitorPid } = await start(['sh', '-c', 'echo run; exit 1'], { restart: 'on-failure:2' });
    const exit = await exitFile();
    assert.equal(exit.status, 1);
    assert.equal(exit.restartCount, 2);
    assert.ok(Date.now() - begun >= 300, 'waited 100 ms, then 200 ms');
    assert.deepEqual(logEntries().map((e) => e.log), ['run\n', 'run\n', 'run\n']);
    await waitFor('the monitor to exit', () => !isMonitorAlive(monitorPid));
  });

  test('restart always: a restarted process goes into the cgroup; a stop request ends the restarts', { timeout: 30_000 }, async () => {
    const layout = detectCgroupLayout();
    const cgroup = createCgroupManager({ name: `monitor-it-${process.pid}`, parent: 'didactic-test-monitor', layout });
    cleanups.push(async () => {
      await cgroup.destroy();
      await cgroup.removeParentIfEmpty();
    });
    await cgroup.create();
    const procs = cgroup.directories().map((dir) => path.join(dir, 'cgroup.procs'));
    // The first run exits 0 at once; the ones after it wait (the rootfs keeps the marker).
    const { pid: first, monitorPid } = await start(['sh', '-c', 'if [ -e /tmp/ran ]; then echo again; sleep 30; fi; touch /tmp/ran'], {
      restart: 'always', cgroupProcs: procs, onPid: (pid) => cgroup.apply(pid),
    });
    const again = await waitFor('a restart', () => {
      const started = readStartFile(runDir);
      return started !== undefined && started.restartCount === 1 && started;
    });
    pids.push(again.pid);
    assert.notEqual(again.pid, first);
    await waitFor('output of the second run', () => fs.readFileSync(logPath, 'utf8').includes('again'));
    for (const file of procs) assert.ok(fs.readFileSync(file, 'utf8').split('\n').includes(String(again.pid)), `${again.pid} in ${file}`);
    requestMonitorStop(runDir, monitorPid);
    process.kill(again.pid, 'SIGKILL');
    const exit = await exitFile();
    assert.deepEqual([exit.status, exit.signal, exit.restartCount], [137, 9, 1]);
    await waitFor('the monitor to exit', () => !isMonitorAlive(monitorPid));
    assert.equal(readStartFile(runDir)?.restartCount, 1, 'no restart after the stop request');
  });

  test('an idle monitor stays small (VmRSS)', { timeout: 20_000 }, async (t) => {
    const { pid, monitorPid } = await start(['sleep', '30']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const status = fs.readFileSync(`/proc/${monitorPid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
    t.diagnostic(`idle monitor VmRSS ${rss} kB (${/^RssAnon:.*$/m.exec(status)?.[0]}; ${/^RssFile:.*$/m.exec(status)?.[0]})`);
    assert.ok(rss > 0 && rss <= 1536, `VmRSS ${rss} kB`);
    // A second start for the same run dir is refused while its monitor lives.
    await assert.rejects(start(['true']), (e: unknown) => isEngineError(e) && e.code === 'FAILED_PRECONDITION');
    assert.equal(readMonitorPid(runDir), monitorPid);
    requestMonitorStop(runDir, monitorPid);
    process.kill(pid, 'SIGKILL');
    assert.equal((await exitFile()).signal, 9);
    await waitFor('the monitor to exit', () => !isMonitorAlive(monitorPid));
  });

  test('a command that cannot run: the error comes back, the monitor is gone, no exit file', { timeout: 20_000 }, async () => {
    await assert.rejects(start(['/no/such/command']), (error: unknown) => isEngineError(error) && execFailureStatus(error) === 127);
    const monitors = processesMentioning(runDir);
    assert.deepEqual(monitors.filter(running), []);
    assert.equal(readExitFile(runDir), undefined);
    assert.equal(readMonitorPid(runDir), undefined);
  });

  test('onPid throwing: the monitor kills the process and exits; the error is the caller\'s', { timeout: 20_000 }, async () => {
    let seen = 0;
    await assert.rejects(
      start(['sleep', '30'], {
        onPid: (pid) => {
          seen = pid;
          throw new Error('no cgroup for you');
        },
      }),
      /no cgroup for you/,
    );
    await waitFor('the process to be gone', () => !running(seen), 5000);
    assert.deepEqual(processesMentioning(runDir).filter(running), []);
    assert.equal(readExitFile(runDir), undefined);
  });


  test('SIGTERM to the monitor reaches the container; explain lines show the detach', { timeout: 20_000 }, async () => {
    const explainer = createRecordingExplainer();
    const { monitorPid } = await start(['sh', '-c', 'trap "echo got TERM; exit 7" TERM; echo ready; while true; do sleep 0.05; done'], { explainer });
    const says = explainer.events.map((e) => e.call ?? '');
    assert.ok(says.some((call) => call.includes('setsid()')), says.join('\n'));
    assert.ok(says.some((call) => call.includes('PR_SET_CHILD_SUBREAPER')));
    assert.ok(says.some((call) => call.startsWith('execve(')));
    await waitFor('the trap to be set', () => fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').includes('ready'));
    process.kill(monitorPid, 'SIGTERM');
    assert.equal((await exitFile()).status, 7);
    assert.deepEqual(logEntries().map((e) => e.log), ['ready\n', 'got TERM\n']);
    await waitFor('the monitor to exit', () => !isMonitorAlive(monitorPid));
  });

  test('kill -9 of the engine before GO: the monitor kills the process and leaves', { timeout: 20_000 }, async () => {
    const planFile = path.join(tmp.dir, 'plan.bin');
    fs.writeFileSync(planFile, planFor(rootfs, ['sleep', '30']));
    const sys = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/sys/index.js');
    const script = `import fs from 'node:fs';
      const { startDetached } = await import(${JSON.stringify(sys)});
      await startDetached(fs.readFileSync(${JSON.stringify(planFile)}), { ...${JSON.stringify({ bundleDir: tmp.dir, runDir, logPath })},
        onPid: (pid) => { process.stdout.write(String(pid)); return new Promise(() => setInterval(() => {}, 1000)); } });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString()))));
    pids.push(pid);
    const monitorPid = readMonitorPid(runDir)!;
    assert.ok(isMonitorAlive(monitorPid, runDir));
    child.kill('SIGKILL');
    await waitFor('the process to be gone', () => !running(pid), 5000);
    await waitFor('the monitor to be gone', () => !isMonitorAlive(monitorPid), 5000);
    assert.equal(readExitFile(runDir), undefined);
    assert.equal(readMonitorPid(runDir), undefined);
  });

  test('kill -9 of the monitor of a non-root container kills it too (the parent-death signal survives the uid change)', { timeout: 20_000 }, async () => {
    const { pid, monitorPid } = await start(['sleep', '30'], { user: '1000' });
    process.kill(monitorPid, 'SIGKILL');
    await waitFor('the monitor to be gone', () => !isMonitorAlive(monitorPid), 5000);
    await waitFor('the container to be gone', () => !running(pid), 5000);
  });

  test('keepStdin: the container reads what is written to the FIFO in the run dir, and no EOF in between', { timeout: 20_000 }, async () => {
    const { pid, monitorPid } = await start(['cat'], { keepStdin: true });
    const fifo = path.join(runDir, 'stdin');
    assert.ok(fs.statSync(fifo).isFIFO());
    fs.writeFileSync(fifo, 'hello\n');
    fs.writeFileSync(fifo, 'again\n'); // a writer closing is no EOF for the container
    await waitFor('both lines in the log', () => fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').includes('again'));
    assert.ok(running(pid));
    assert.deepEqual(logEntries().map((e) => e.log), ['hello\n', 'again\n']);
    requestMonitorStop(runDir, monitorPid);
    process.kill(pid, 'SIGKILL');
    assert.equal((await exitFile()).status, 137);
  });
});
