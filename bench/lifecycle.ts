/**
 * Issue 5's benchmark, side by side with podman and docker in one run:
 *
 * 1. Memory of idle detached containers: N (20) of `run -d --network none
 *    IMAGE sleep 3600` per engine, one engine at a time. For each: the
 *    system's used memory (MemTotal - MemAvailable of /proc/meminfo) before
 *    and after the N starts, and the resident memory of each container's
 *    parent on the host: the process that watches it (ours: the
 *    didactic-launcher --detach monitor; podman: conmon, runc having exited;
 *    docker: containerd-shim-runc-v2), found as the parent of the container's
 *    first process. VmRSS counts shared pages in every process; Pss shares
 *    them out, so it is the fairer sum. Then all are removed.
 * 2. `ps -a` with M (1000) containers in the store: M `create --network none
 *    IMAGE true` through our CLI (J at a time; how long that took is
 *    reported) against as many `podman create`; then `ps -a` timed R (10)
 *    times each, median; also on the empty store first. Then all removed.
 *
 *   node dist/bench/lifecycle.js [--idle N] [--store M] [--jobs J] [--ps-runs R]
 *                                [--without podman,docker] [--only memory|ps] [--live]
 *
 * Needs root; the peers come from bench/setup-peers.sh and are set up as for
 * bench/run.ts (bench/peers.ts). Not part of the tests.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeTestImageLayout } from '../test/helpers/images.js';
import {
  addCleanup,
  cleanUp,
  DOCKER,
  firstLine,
  flag,
  gitState,
  hostBefore,
  lastLines,
  loadAverage,
  log,
  must,
  pad,
  prepareDocker,
  prepareOurs,
  preparePodman,
  quantile,
  run,
  snapshotBuild,
  TAG,
  TREE,
  which,
  type PeerBench,
} from './peers.js';

const argv = process.argv.slice(2);
function count(name: string, fallback: number): number {
  return Math.max(1, Number(flag(name) ?? fallback) || fallback);
}
const idle = count('--idle', 20);
const store = count('--store', 1000);
const jobs = count('--jobs', 2);
const psRuns = count('--ps-runs', 10);
const without = new Set((flag('--without') ?? '').split(',').filter(Boolean));
const only = flag('--only');
const live = argv.includes('--live');

/** Ctrl-C or SIGTERM: stop at the next step and clean up. */
let interrupted = false;
function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

/** One engine as the bench drives it. */
interface Engine {
  name: string;
  /** The command and its leading arguments (global options). */
  command: string;
  base: string[];
  env: NodeJS.ProcessEnv;
  runDetached: string[];
  create: string[];
  ps: string[];
  /** Removes every container of this engine's store. */
  removeAll(): void;
  /** The host pid of a container's first process. */
  pidOf(id: string): number;
  unavailable?: string;
}

// ---------------------------------------------------------------- /proc

/** Used memory now: the median of 5 readings 200 ms apart, against the machine's own jitter. */
async function memUsedSettledKiB(): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(memUsedKiB());
    await sleep(200);
  }
  return quantile(readings, 0.5);
}

function memUsedKiB(): number {
  const fields = new Map<string, number>();
  for (const line of fs.readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const match = /^(\w+):\s+(\d+)/.exec(line);
    if (match) fields.set(match[1]!, Number(match[2]));
  }
  return fields.get('MemTotal')! - fields.get('MemAvailable')!;
}

function statusField(pid: number, name: string): string | undefined {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim();
}

function kib(value: string | undefined): number {
  return Number(/^(\d+)/.exec(value ?? '')?.[1] ?? NaN);
}

function pssKiB(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n').find((l) => l.startsWith('Pss:'));
  return kib(line?.slice(4).trim());
}

interface Watcher {
  pid: number;
  comm: string;
  rssKiB: number;
  pssKiB: number;
}

/** The parent of a container's first process: what watches it. */
function watcherOf(containerPid: number): Watcher {
  const pid = Number(statusField(containerPid, 'PPid'));
  const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  return { pid, comm, rssKiB: kib(statusField(pid, 'VmRSS')), pssKiB: pssKiB(pid) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- the engines

function idsOf(text: string): string[] {
  return text.split('\n').map((line) => line.trim()).filter(Boolean);
}

function ourEngine(bin: string, ours: { root: string; runRoot: string; ref: string }): Engine {
  const base = [bin, '--root', ours.root, '--run-root', ours.runRoot];
  const cli = (...args: string[]) => run(process.execPath, [...base, ...args]);
  return {
    name: 'didactic-container',
    command: process.execPath,
    base,
    env: process.env,
    runDetached: ['run', '-d', '--network', 'none', ours.ref, 'sleep', '3600'],
    create: ['create', '--network', 'none', ours.ref, 'true'],
    ps: ['ps', '-a'],
    removeAll() {
      const ids = idsOf(cli('ps', '-aq', '--no-trunc').stdout);
      for (let at = 0; at < ids.length; at += 100) {
        const done = cli('rm', '-f', ...ids.slice(at, at + 100));
        if (done.status !== 0) log(`ours: rm -f: ${lastLines(done.stderr)}`);
      }
    },
    pidOf: (id) => Number(must('inspect', cli('inspect', '-f', '{{.State.Pid}}', id)).stdout.trim()),
  };
}

function podmanEngine(podman: { args: string[]; env: NodeJS.ProcessEnv }): Engine {
  const image = `localhost/${TAG}`;
  const cli = (...args: string[]) => run('podman', [...podman.args, ...args], podman.env);
  return {
    name: 'podman (runc, conmon)',
    command: 'podman',
    base: podman.args,
    env: podman.env,
    runDetached: ['run', '-d', '--runtime', 'runc', '--network', 'none', image, 'sleep', '3600'],
    create: ['create', '--runtime', 'runc', '--network', 'none', image, 'true'],
    ps: ['ps', '-a'],
    removeAll() {
      const done = cli('rm', '--all', '--force', '--time', '0');
      if (done.status !== 0) log(`podman: rm --all: ${lastLines(done.stderr)}`);
    },
    pidOf: (id) => Number(must('podman inspect', cli('inspect', '--format', '{{.State.Pid}}', id)).stdout.trim()),
  };
}

function dockerEngine(env: NodeJS.ProcessEnv): Engine {
  const cli = (...args: string[]) => run(DOCKER, args, env);
  return {
    name: 'docker (containerd-shim)',
    command: DOCKER,
    base: [],
    env,
    runDetached: ['run', '-d', '--network', 'none', TAG, 'sleep', '3600'],
    create: ['create', '--network', 'none', TAG, 'true'],
    ps: ['ps', '-a'],
    removeAll() {
      const ids = idsOf(cli('ps', '-aq').stdout);
      if (ids.length > 0) cli('rm', '-f', ...ids);
    },
    pidOf: (id) => Number(must('docker inspect', cli('inspect', '--format', '{{.State.Pid}}', id)).stdout.trim()),
  };
}

function engineRun(engine: Engine, args: string[]) {
  return run(engine.command, [...engine.base, ...args], engine.env);
}

// ---------------------------------------------------------------- 1. memory of idle containers

interface MemoryResult {
  engine: string;
  started: number;
  usedDeltaKiB: number;
  watchers: Watcher[];
  startSeconds: number;
}

async function measureMemory(engine: Engine): Promise<MemoryResult> {
  engine.removeAll();
  await sleep(3000);
  const before = await memUsedSettledKiB();
  const began = process.hrtime.bigint();
  const ids: string[] = [];
  for (let i = 0; i < idle; i++, checkInterrupted()) ids.push(must(`${engine.name} run -d`, engineRun(engine, engine.runDetached)).stdout.trim().split('\n').at(-1)!);
  const startSeconds = Number(process.hrtime.bigint() - began) / 1e9;
  // Let the starts' transient memory (CLIs, runc, page cache of the writes) settle.
  await sleep(5000);
  const after = await memUsedSettledKiB();
  const watchers = ids.map((id) => watcherOf(engine.pidOf(id)));
  engine.removeAll();
  return { engine: engine.name, started: ids.length, usedDeltaKiB: after - before, watchers, startSeconds };
}

// ---------------------------------------------------------------- 2. ps -a with a full store

interface PsResult {
  engine: string;
  emptyMs: number[];
  fullMs: number[];
  created: number;
  createSeconds: number;
  createFailures: number;
  listed: number;
}

function timeMs(engine: Engine, args: string[]): { ms: number; stdout: string } {
  const start = process.hrtime.bigint();
  const result = must(`${engine.name} ${args.join(' ')}`, engineRun(engine, args));
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, stdout: result.stdout };
}

function timePs(engine: Engine): { samples: number[]; lines: number } {
  timeMs(engine, engine.ps); // warm-up
  const samples: number[] = [];
  let lines = 0;
  for (let i = 0; i < psRuns; i++) {
    const { ms, stdout } = timeMs(engine, engine.ps);
    samples.push(ms);
    lines = stdout.trim().split('\n').length - 1;
  }
  return { samples, lines };
}

/** Runs `create` count times, `jobs` at a time; returns the failures. */
async function createMany(engine: Engine, total: number): Promise<{ failures: number; lastError?: string }> {
  let next = 0;
  let failures = 0;
  let lastError: string | undefined;
  const worker = async () => {
    while (next < total && !interrupted) {
      next++;
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(engine.command, [...engine.base, ...engine.create], { env: engine.env, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('close', (status) => resolve({ code: status, stderr: err }));
        child.on('error', (error) => resolve({ code: -1, stderr: String(error) }));
      });
      if (code !== 0) {
        failures++;
        lastError = lastLines(stderr);
      }
      if (next % 100 === 0) log(`${engine.name}: ${next}/${total} created (load ${loadAverage()})`);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  return { failures, lastError };
}

async function measurePs(engine: Engine): Promise<PsResult> {
  engine.removeAll();
  const empty = timePs(engine);
  const began = process.hrtime.bigint();
  const { failures, lastError } = await createMany(engine, store);
  checkInterrupted();
  const createSeconds = Number(process.hrtime.bigint() - began) / 1e9;
  if (failures > 0) log(`${engine.name}: ${failures} of ${store} creates failed, last: ${lastError}`);
  const full = timePs(engine);
  engine.removeAll();
  return { engine: engine.name, emptyMs: empty.samples, fullMs: full.samples, created: store - failures, createSeconds, createFailures: failures, listed: full.lines };
}

// ---------------------------------------------------------------- report

function mib(kibValue: number): string {
  return (kibValue / 1024).toFixed(2);
}

function report(memory: MemoryResult[], ps: PsResult[], skipped: string[], loadBefore: string, loadAfter: string): void {
  const lines: string[] = [];
  lines.push(`issue 5 lifecycle benchmark, ${new Date().toISOString()}`);
  lines.push(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}, node ${process.version}`);
  lines.push(`load average (1, 5, 15 min): before ${loadBefore}; after ${loadAfter}`);
  lines.push(`code: ${gitState()}; peers: ${firstLine('runc', ['--version'])}, ${firstLine('podman', ['--version'])}, ${firstLine('conmon', ['--version'])}, ${firstLine('dockerd', ['--version'])}`);
  for (const note of skipped) lines.push(`not run: ${note}`);
  if (memory.length > 0) {
    lines.push('');
    lines.push(`1. ${idle} idle detached containers (run -d --network none IMAGE sleep 3600), per container:`);
    const header = `${pad('engine', 28)} ${pad('watcher', 22)} ${pad('RSS MiB', 8, true)} ${pad('PSS MiB', 8, true)} ${pad('system MiB', 11, true)} ${pad('start s', 8, true)}`;
    lines.push(header);
    lines.push('-'.repeat(header.length));
    for (const result of memory) {
      const n = result.watchers.length;
      const rss = result.watchers.reduce((sum, w) => sum + w.rssKiB, 0) / n;
      const pss = result.watchers.reduce((sum, w) => sum + w.pssKiB, 0) / n;
      const comms = [...new Set(result.watchers.map((w) => w.comm))].join(',');
      const distinct = new Set(result.watchers.map((w) => w.pid)).size;
      lines.push(
        `${pad(result.engine, 28)} ${pad(`${comms}${distinct !== n ? ` (${distinct} for ${n})` : ''}`, 22)} ${pad(mib(rss), 8, true)} ${pad(mib(pss), 8, true)} ${pad(mib(result.usedDeltaKiB / result.started), 11, true)} ${pad((result.startSeconds / result.started).toFixed(2), 8, true)}`,
      );
    }
    const ours = memory.find((m) => m.engine === 'didactic-container');
    const perContainer = (m: MemoryResult, key: 'rssKiB' | 'pssKiB') => m.watchers.reduce((sum, w) => sum + w[key], 0) / m.watchers.length;
    for (const peer of memory.filter((m) => m !== ours)) {
      if (ours === undefined) break;
      lines.push(
        `ours / ${peer.engine}: watcher RSS ${(perContainer(ours, 'rssKiB') / perContainer(peer, 'rssKiB')).toFixed(2)}x, PSS ${(perContainer(ours, 'pssKiB') / perContainer(peer, 'pssKiB')).toFixed(2)}x, system ${(ours.usedDeltaKiB / ours.started / (peer.usedDeltaKiB / peer.started)).toFixed(2)}x`,
      );
    }
    if (ours !== undefined) {
      const rss = perContainer(ours, 'rssKiB');
      lines.push(`issue 5 goal: our monitor's resident memory <= 1 MiB per idle container: ${mib(rss)} MiB RSS (${mib(perContainer(ours, 'pssKiB'))} MiB PSS) ${rss <= 1024 ? 'MET' : 'NOT MET'}`);
    }
    lines.push('(watcher: the parent of the container\'s first process; system: (MemTotal - MemAvailable) after minus before, divided by the count; it includes the container\'s own process, the engine\'s daemons and bookkeeping, and whatever else the machine did meanwhile)');
  }
  if (ps.length > 0) {
    lines.push('');
    lines.push(`2. ps -a, median of ${psRuns} runs (after one warm-up):`);
    const header = `${pad('engine', 28)} ${pad('empty ms', 9, true)} ${pad(`${store} ms`, 9, true)} ${pad('p90 ms', 8, true)} ${pad('listed', 7, true)}   creating them`;
    lines.push(header);
    lines.push('-'.repeat(header.length));
    for (const result of ps) {
      lines.push(
        `${pad(result.engine, 28)} ${pad(quantile(result.emptyMs, 0.5).toFixed(1), 9, true)} ${pad(quantile(result.fullMs, 0.5).toFixed(1), 9, true)} ${pad(quantile(result.fullMs, 0.9).toFixed(1), 8, true)} ${pad(String(result.listed), 7, true)}   ${result.created} in ${result.createSeconds.toFixed(1)} s, ${jobs} at a time (about ${((result.createSeconds * 1000 * jobs) / store).toFixed(0)} ms each)${result.createFailures > 0 ? `, ${result.createFailures} failed` : ''}`,
      );
    }
    const ours = ps.find((p) => p.engine === 'didactic-container');
    for (const peer of ps.filter((p) => p !== ours)) {
      if (ours === undefined) break;
      lines.push(`ours / ${peer.engine}: ps -a with ${store}: ${(quantile(ours.fullMs, 0.5) / quantile(peer.fullMs, 0.5)).toFixed(2)}x; empty: ${(quantile(ours.emptyMs, 0.5) / quantile(peer.emptyMs, 0.5)).toFixed(2)}x`);
    }
  }
  console.log(lines.join('\n'));
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the lifecycle benchmark needs root');
  const loadBefore = loadAverage();
  const before = hostBefore();
  const bench: PeerBench = { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-bench-life-')), cleanups: [] };
  const onSignal = () => {
    interrupted = true;
    log('interrupted; cleaning up');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const skipped: string[] = [];
  const memory: MemoryResult[] = [];
  const ps: PsResult[] = [];
  try {
    const bin = live ? path.join(TREE, 'bin', 'didactic-container.js') : snapshotBuild(bench);
    const layout = path.join(bench.dir, 'layout');
    writeTestImageLayout(layout);
    const engines: Engine[] = [];

    const ours = ourEngine(bin, await prepareOurs(bench, bin, layout, before.links));
    addCleanup(bench, 'our containers', () => ours.removeAll());
    engines.push(ours);

    if (without.has('podman')) skipped.push('podman: left out with --without');
    else if (!which('podman')) skipped.push('podman: not installed (bench/setup-peers.sh)');
    else {
      try {
        engines.push(podmanEngine(preparePodman(bench, layout)));
      } catch (error) {
        skipped.push(`podman: ${(error as Error).message}`);
      }
    }
    if (without.has('docker')) skipped.push('docker: left out with --without');
    else if (!which('dockerd') || !fs.existsSync(DOCKER)) skipped.push('docker: docker.io is not installed (bench/setup-peers.sh)');
    else {
      try {
        engines.push(dockerEngine(await prepareDocker(bench, layout)));
      } catch (error) {
        skipped.push(`docker: ${(error as Error).message}`);
      }
    }

    if (only !== 'ps') {
      for (const engine of engines) {
        log(`memory: ${idle} idle containers of ${engine.name} (load ${loadAverage()})`);
        try {
          memory.push(await measureMemory(engine));
        } catch (error) {
          skipped.push(`memory, ${engine.name}: ${(error as Error).message}`);
          engine.removeAll();
        }
      }
    }
    if (only !== 'memory') {
      // docker is not asked for: the issue compares ps -a with podman's.
      for (const engine of engines.filter((e) => e.command !== DOCKER)) {
        log(`ps -a: ${store} containers of ${engine.name} (load ${loadAverage()})`);
        try {
          ps.push(await measurePs(engine));
        } catch (error) {
          skipped.push(`ps -a, ${engine.name}: ${(error as Error).message}`);
          engine.removeAll();
        }
      }
    }
    report(memory, ps, skipped, loadBefore, loadAverage());
  } finally {
    await cleanUp(bench, before);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((error: unknown) => {
  log(`bench/lifecycle: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
});
