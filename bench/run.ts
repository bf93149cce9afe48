/**
 * `run --rm IMAGE true` side by side in one run (issue 4's and issue 6's
 * benchmark): our CLI (default network and --network none), `runc run` of an
 * equivalent bundle, podman with runc, docker, and `node -e 0` as the floor.
 * The commands are interleaved, one of each per round, in a rotating order,
 * so that all of them see the same machine load. Prints medians, p90 and the
 * ratios against podman and against `node -e 0`.
 *
 *   node dist/bench/run.js [--iterations N] [--without podman,docker,runc] [--live]
 *
 * Our CLI runs from a copy of the build taken at the start (--live: from the
 * tree itself), so that others rebuilding the tree meanwhile change nothing.
 *
 * Needs root; podman and docker come from bench/setup-peers.sh. Everything the
 * bench creates lives in one temp dir (our root, podman's storage, dockerd's
 * data root, the runc bundle) and is removed at the end, as are dockerd, the
 * bridges and cgroup parents the peers create. The image is the test busybox
 * image (test/helpers/images.ts) given to every engine offline: pushed to a
 * loopback registry for our `pull`, copied by skopeo into podman's storage and
 * into a docker-archive for `docker load`. Not part of the tests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { planSpec } from '../src/spec/index.js';
import { buildBusyboxLayerTar, ETC_GROUP, ETC_PASSWD, IMAGE_PATH_ENV, pushWithSkopeo, writeTestImageLayout } from '../test/helpers/images.js';
import { startRegistry } from '../test/helpers/registry.js';
import { unmountBelow } from '../test/helpers/tmp-root.js';

const TREE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOCKER = '/usr/bin/docker'; // Debian's client; /usr/local/bin may hold another one
const TAG = 'didactic-bench/busybox:latest';
const DOCKER_BRIDGE_CIDR = '172.31.254.1/24';
const CGROUP_ROOT = '/sys/fs/cgroup';
const PODMAN_IPAM = '/var/lib/cni/networks/podman';
/** What dockerd and its containerd make outside their roots, whatever the flags; removed when a run made them. */
const DOCKER_OUTSIDE = ['/run/docker', '/run/containerd', '/etc/docker/key.json'];

// ---------------------------------------------------------------- arguments

const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
}
const iterations = Math.max(1, Number(flag('--iterations') ?? 20) || 20);
const live = argv.includes('--live');
/** Our CLI: a snapshot of the build (see snapshotBuild), or the tree itself with --live. */
let BIN = path.join(TREE, 'bin', 'didactic-container.js');
const without = new Set((flag('--without') ?? '').split(',').filter(Boolean));

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

// ---------------------------------------------------------------- small helpers

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: Buffer): Result {
  const result = spawnSync(command, args, { encoding: 'utf8', env, input, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.error ? -1 : result.status, stdout: result.stdout ?? '', stderr: result.stderr || (result.error ? String(result.error) : '') };
}

function must(what: string, result: Result): Result {
  if (result.status !== 0) throw new Error(`${what} failed (${result.status}): ${lastLines(result.stderr)}`);
  return result;
}

function lastLines(text: string, count = 3): string {
  return text.trim().split('\n').slice(-count).join(' | ') || '(no output)';
}

function which(command: string): boolean {
  return run('sh', ['-c', `command -v ${command}`]).status === 0;
}

function firstLine(command: string, args: string[]): string {
  const result = run(command, args);
  return result.status === 0 ? (result.stdout.trim().split('\n')[0] ?? '') : 'unavailable';
}

/** Soft and hard limits of this process from /proc/self/limits ("Max open files" ...). */
function hardLimit(name: string): number {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name));
  const hard = line?.slice(26).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(hard);
}

function links(): Set<string> {
  return new Set(fs.readdirSync('/sys/class/net'));
}

/** Top-level cgroup dirs of every v1 hierarchy (and the unified one). */
function cgroupTops(): Set<string> {
  const tops = new Set<string>();
  for (const hierarchy of safeList(CGROUP_ROOT)) {
    const dir = path.join(CGROUP_ROOT, hierarchy);
    for (const entry of safeList(dir)) if (fs.statSync(path.join(dir, entry), { throwIfNoEntry: false })?.isDirectory()) tops.add(entry);
  }
  return tops;
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** A file, or a directory holding nothing but (nested) empty directories. */
function onlyEmptyDirs(file: string): boolean {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isDirectory()) return stat !== undefined;
  return safeList(file).every((name) => fs.lstatSync(path.join(file, name), { throwIfNoEntry: false })?.isDirectory() === true && onlyEmptyDirs(path.join(file, name)));
}

/** Removes the empty cgroup dir `name` below every hierarchy, deepest first. */
function removeCgroupTree(name: string): void {
  const remove = (dir: string) => {
    for (const entry of safeList(dir)) {
      const child = path.join(dir, entry);
      if (fs.statSync(child, { throwIfNoEntry: false })?.isDirectory()) remove(child);
    }
    try {
      fs.rmdirSync(dir);
    } catch (error) {
      log(`cleanup: cannot remove cgroup ${dir}: ${(error as Error).message}`);
    }
  };
  for (const hierarchy of safeList(CGROUP_ROOT)) {
    const dir = path.join(CGROUP_ROOT, hierarchy, name);
    if (fs.existsSync(dir)) remove(dir);
  }
}

// ---------------------------------------------------------------- the contenders

interface Contender {
  name: string;
  /** Which goal row it belongs to: the podman it is compared with. */
  network: 'default' | 'none' | 'floor';
  command: string;
  args: () => string[];
  env?: NodeJS.ProcessEnv;
  /** Why it cannot run here, when it cannot. */
  unavailable?: string;
  samples: number[];
  /** Timed runs that exited non-zero (not in samples), and the last such error. */
  failures: number;
  lastError?: string;
}

interface Bench {
  dir: string;
  contenders: Contender[];
  cleanups: Array<{ what: string; fn: () => void | Promise<void> }>;
}

function addCleanup(bench: Bench, what: string, fn: () => void | Promise<void>): void {
  bench.cleanups.push({ what, fn });
}

/**
 * A copy of the built CLI (bin/, dist/src/, the native executables and addon,
 * package.json; node_modules linked), so that a rebuild of the tree while the
 * bench runs cannot mix two versions of the code within one run.
 */
function snapshotBuild(bench: Bench): string {
  const snapshot = path.join(bench.dir, 'build');
  fs.mkdirSync(snapshot, { recursive: true });
  fs.cpSync(path.join(TREE, 'bin'), path.join(snapshot, 'bin'), { recursive: true });
  fs.cpSync(path.join(TREE, 'dist', 'src'), path.join(snapshot, 'dist', 'src'), { recursive: true });
  const release = path.join(TREE, 'build', 'Release');
  fs.mkdirSync(path.join(snapshot, 'build', 'Release'), { recursive: true });
  for (const entry of fs.readdirSync(release, { withFileTypes: true })) {
    if (entry.isFile()) fs.copyFileSync(path.join(release, entry.name), path.join(snapshot, 'build', 'Release', entry.name));
  }
  fs.copyFileSync(path.join(TREE, 'package.json'), path.join(snapshot, 'package.json'));
  fs.symlinkSync(path.join(TREE, 'node_modules'), path.join(snapshot, 'node_modules'));
  return path.join(snapshot, 'bin', 'didactic-container.js');
}

/** Our CLI with a private root; the image comes from a loopback registry through our own `pull`. */
async function prepareOurs(bench: Bench, layout: string, linksBefore: Set<string>): Promise<{ root: string; runRoot: string; ref: string }> {
  const root = path.join(bench.dir, 'ours', 'root');
  const runRoot = path.join(bench.dir, 'ours', 'run');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(runRoot, { recursive: true });
  // The bridges of our networks outlive the containers; the temp root is going away, so they go too.
  // Asked through the CLI, so the answer comes from the same build as the runs.
  addCleanup(bench, 'our bridges', () => {
    const listed = run(process.execPath, [BIN, '--root', root, '--run-root', runRoot, 'network', 'ls', '--format', 'json']);
    if (listed.status !== 0) throw new Error(`network ls: ${lastLines(listed.stderr)}`);
    const networks = JSON.parse(listed.stdout || '[]') as Array<{ Options?: Record<string, string> }>;
    for (const network of networks) {
      const bridge = network.Options?.['com.docker.network.bridge.name'];
      if (bridge && !linksBefore.has(bridge) && links().has(bridge)) run('ip', ['link', 'delete', bridge]);
    }
  });
  const registry = await startRegistry();
  try {
    const ref = `${registry.host}/${TAG}`;
    await pushWithSkopeo(layout, 'busybox', ref);
    must('our pull', run(process.execPath, [BIN, '--root', root, '--run-root', runRoot, 'pull', '-q', ref]));
    return { root, runRoot, ref };
  } finally {
    await registry.stop();
  }
}

/** A runc bundle: the busybox rootfs unpacked, and config.json from our own spec planner. */
function prepareRunc(bench: Bench): { bundle: string; state: string } {
  const bundle = path.join(bench.dir, 'runc', 'bundle');
  const state = path.join(bench.dir, 'runc', 'state');
  const rootfs = path.join(bundle, 'rootfs');
  fs.mkdirSync(rootfs, { recursive: true });
  fs.mkdirSync(state, { recursive: true });
  must('unpack busybox rootfs', run('tar', ['-x', '-C', rootfs], process.env, buildBusyboxLayerTar()));
  const spec = planSpec(
    {
      containerId: randomBytes(32).toString('hex'),
      imageConfig: { Env: [IMAGE_PATH_ENV], Cmd: ['sh'], WorkingDir: '/' },
      rootfsPath: rootfs,
      command: ['true'],
      network: 'none',
    },
    {
      passwd: ETC_PASSWD,
      group: ETC_GROUP,
      nofileHard: hardLimit('Max open files'),
      hostCpus: os.cpus().length,
      cgroupsPath: '/didactic-bench-runc',
    },
  );
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  addCleanup(bench, 'runc containers', () => {
    const listed = run('runc', ['--root', state, 'list', '-q']);
    for (const id of listed.stdout.split('\n').filter(Boolean)) run('runc', ['--root', state, 'delete', '--force', id]);
  });
  return { bundle, state };
}

/** Podman with runc, cgroupfs and limits that fit these machines, storage in the temp dir. */
function preparePodman(bench: Bench, layout: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const base = path.join(bench.dir, 'podman');
  const conf = path.join(base, 'containers.conf');
  fs.mkdirSync(base, { recursive: true });
  // podman raises nofile and nproc to values CAP_SYS_RESOURCE would be needed
  // for (it is not in the bounding set here); crun refuses hybrid cgroups.
  const nproc = Math.min(32768, hardLimit('Max processes'));
  const nofile = Math.min(20000, hardLimit('Max open files'));
  fs.writeFileSync(
    conf,
    [
      '[containers]',
      `default_ulimits = ["nofile=1024:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const storage = path.join(base, 'storage');
  const runRoot = path.join(base, 'run');
  const tmp = path.join(base, 'tmp');
  const args = ['--root', storage, '--runroot', runRoot, '--tmpdir', tmp];
  addCleanup(bench, 'podman containers', () => {
    // Not `system reset`: that would also drop networks outside the temp dir.
    run('podman', [...args, 'rm', '--all', '--force'], env);
  });
  must('skopeo copy into podman storage', run('skopeo', ['--insecure-policy', 'copy', '-q', `oci:${layout}:busybox`, `containers-storage:[overlay@${storage}+${runRoot}]localhost/${TAG}`], env));
  return { args, env };
}

/** dockerd with its data in the temp dir, no iptables changes, limits that fit; stopped by pid at the end. */
async function prepareDocker(bench: Bench, layout: string): Promise<NodeJS.ProcessEnv> {
  const base = path.join(bench.dir, 'docker');
  fs.mkdirSync(base, { recursive: true });
  const socket = path.join(base, 'docker.sock');
  const nofile = Math.min(20000, hardLimit('Max open files'));
  const daemonLog = fs.openSync(path.join(base, 'dockerd.log'), 'w');
  const daemon: ChildProcess = spawn(
    'dockerd',
    [
      '--data-root', path.join(base, 'data'),
      '--exec-root', path.join(base, 'exec'),
      '--pidfile', path.join(base, 'dockerd.pid'),
      '--host', `unix://${socket}`,
      '--iptables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--bip', DOCKER_BRIDGE_CIDR,
      '--default-ulimit', `nofile=1024:${nofile}`,
      '--cgroup-parent', 'didactic-bench-docker',
      '--storage-driver', 'overlay2',
      '--log-level', 'warn',
    ],
    // Its own process group: a Ctrl-C at the terminal is for the bench, which stops dockerd itself.
    { stdio: ['ignore', daemonLog, daemonLog], detached: true },
  );
  fs.closeSync(daemonLog);
  addCleanup(bench, 'dockerd', () => stopDaemon(daemon));
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}` };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (daemon.exitCode !== null || daemon.signalCode !== null) {
      throw new Error(`dockerd exited (${daemon.exitCode ?? daemon.signalCode}): ${lastLines(fs.readFileSync(path.join(base, 'dockerd.log'), 'utf8'))}`);
    }
    if (run(DOCKER, ['version', '--format', '{{.Server.Version}}'], env).status === 0) break;
    if (Date.now() > deadline) throw new Error(`dockerd did not answer within 30 s: ${lastLines(fs.readFileSync(path.join(base, 'dockerd.log'), 'utf8'))}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const archive = path.join(base, 'busybox.tar');
  must('skopeo copy to docker-archive', run('skopeo', ['--insecure-policy', 'copy', '-q', `oci:${layout}:busybox`, `docker-archive:${archive}:${TAG}`]));
  must('docker load', run(DOCKER, ['load', '-q', '-i', archive], env));
  addCleanup(bench, 'docker containers', () => {
    const listed = run(DOCKER, ['ps', '-aq'], env);
    for (const id of listed.stdout.split('\n').filter(Boolean)) run(DOCKER, ['rm', '-f', id], env);
  });
  return env;
}

async function stopDaemon(daemon: ChildProcess): Promise<void> {
  if (daemon.exitCode !== null || daemon.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  daemon.kill('SIGTERM');
  const timer = setTimeout(() => daemon.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------- timing

function timeOnce(contender: Contender): { ms: number; result: Result } {
  const args = contender.args();
  const start = process.hrtime.bigint();
  const result = run(contender.command, args, contender.env ?? process.env);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, result };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The commit measured, and whether the work tree differed from it. */
function gitState(): string {
  const cwd = TREE;
  const head = spawnSync('git', ['-C', cwd, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return 'not a git checkout';
  const dirty = spawnSync('git', ['-C', cwd, 'status', '--porcelain', '--untracked-files=no', '--', 'src', 'native'], { encoding: 'utf8' });
  return `commit ${head.stdout.trim()}${dirty.stdout.trim() === '' ? '' : ' + uncommitted changes in src/ or native/'}`;
}

function loadAverage(): string {
  return os.loadavg().map((value) => value.toFixed(2)).join(', ');
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function report(bench: Bench, rounds: number, loadBefore: string, loadAfter: string): void {
  const median = (name: string) => {
    const found = bench.contenders.find((c) => c.name === name && c.unavailable === undefined && c.samples.length > 0);
    return found ? quantile(found.samples, 0.5) : undefined;
  };
  const floor = median('node -e 0');
  const podmanFor: Record<string, number | undefined> = {
    none: median('podman run --rm --network none'),
    default: median('podman run --rm (default network)'),
  };
  const lines: string[] = [];
  lines.push(`run --rm IMAGE true, ${rounds} interleaved rounds${rounds < iterations ? ` (of ${iterations}; interrupted)` : ''}, ${new Date().toISOString()}`);
  lines.push(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}, node ${process.version}`);
  lines.push(`load average (1, 5, 15 min): before ${loadBefore}; after ${loadAfter}`);
  lines.push(`code: ${gitState()}; peers: ${firstLine('runc', ['--version'])}, ${firstLine('podman', ['--version'])}, ${firstLine('dockerd', ['--version'])}`);
  lines.push('');
  const header = `${pad('command', 44)} ${pad('median ms', 10, true)} ${pad('p90 ms', 9, true)} ${pad('x podman', 9, true)} ${pad('x node -e 0', 12, true)}`;
  lines.push(header);
  lines.push('-'.repeat(header.length));
  for (const contender of bench.contenders) {
    if (contender.unavailable !== undefined) {
      lines.push(`${pad(contender.name, 44)} not run: ${contender.unavailable}`);
      continue;
    }
    if (contender.samples.length === 0) {
      lines.push(`${pad(contender.name, 44)} no samples`);
      continue;
    }
    const m = quantile(contender.samples, 0.5);
    const p90 = quantile(contender.samples, 0.9);
    const podman = contender.network === 'floor' ? undefined : podmanFor[contender.network];
    const vsPodman = podman === undefined ? '-' : `${(m / podman).toFixed(2)}x`;
    const vsNode = floor === undefined ? '-' : `${(m / floor).toFixed(2)}x`;
    lines.push(`${pad(contender.name, 44)} ${pad(m.toFixed(1), 10, true)} ${pad(p90.toFixed(1), 9, true)} ${pad(vsPodman, 9, true)} ${pad(vsNode, 12, true)}`);
  }
  for (const contender of bench.contenders) {
    if (contender.failures > 0 && contender.unavailable === undefined) {
      lines.push(`note: ${contender.name} failed ${contender.failures} of ${contender.failures + contender.samples.length} timed runs (left out of its row); last ${contender.lastError}`);
    }
  }
  lines.push('');
  const goal = (text: string, value: number | undefined, limit: number) =>
    lines.push(`${pad(text, 62)} ${value === undefined ? 'cannot tell (a side did not run)' : `${value.toFixed(2)}x ${value <= limit ? 'MET' : 'NOT MET'}`}`);
  const oursNone = median('didactic-container run --rm --network none');
  const oursDefault = median('didactic-container run --rm (default network)');
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a / b);
  goal('issue 4 goal: ours (--network none) <= 0.5x podman (none)', ratio(oursNone, podmanFor['none']), 0.5);
  goal('issue 4 goal: ours (--network none) <= 1.6x node -e 0', ratio(oursNone, floor), 1.6);
  goal('issue 4 goal: ours (default network) <= 1.6x node -e 0', ratio(oursDefault, floor), 1.6);
  goal('issue 6 goal: ours (default) <= 0.4x podman (default)', ratio(oursDefault, podmanFor['default']), 0.4);
  console.log(lines.join('\n'));
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the run benchmark needs root');
  const loadBefore = loadAverage();
  const linksBefore = links();
  const cgroupsBefore = cgroupTops();
  const podmanIpamBefore = fs.existsSync(PODMAN_IPAM);
  const dockerOutsideBefore = DOCKER_OUTSIDE.filter((file) => fs.existsSync(file));
  const bench: Bench = { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-bench-run-')), contenders: [], cleanups: [] };
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log('interrupted; reporting the rounds so far and cleaning up');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (!live) BIN = snapshotBuild(bench);
    const layout = path.join(bench.dir, 'layout');
    writeTestImageLayout(layout);

    const node: Contender = { name: 'node -e 0', network: 'floor', command: process.execPath, args: () => ['-e', '0'], samples: [], failures: 0 };
    const ours = await prepareOurs(bench, layout, linksBefore);
    const ourArgs = ['--root', ours.root, '--run-root', ours.runRoot, 'run', '--rm'];
    const oursDefault: Contender = { name: 'didactic-container run --rm (default network)', network: 'default', command: process.execPath, args: () => [BIN, ...ourArgs, ours.ref, 'true'], samples: [], failures: 0 };
    const oursNone: Contender = { name: 'didactic-container run --rm --network none', network: 'none', command: process.execPath, args: () => [BIN, ...ourArgs, '--network', 'none', ours.ref, 'true'], samples: [], failures: 0 };
    // The CLI's own start (no engine work): what is left of ours above it is the container.
    const cliStart: Contender = { name: 'didactic-container version (CLI start)', network: 'floor', command: process.execPath, args: () => [BIN, 'version'], samples: [], failures: 0 };
    bench.contenders.push(node, cliStart, oursDefault, oursNone);

    const runc: Contender = { name: 'runc run (same spec, plain rootfs dir)', network: 'none', command: 'runc', args: () => [], samples: [], failures: 0 };
    bench.contenders.push(runc);
    if (without.has('runc')) runc.unavailable = 'left out with --without';
    else if (!which('runc')) runc.unavailable = 'runc is not installed (apt-get install runc)';
    else {
      try {
        const { bundle, state } = prepareRunc(bench);
        let counter = 0;
        runc.args = () => ['--root', state, 'run', '--bundle', bundle, `bench-${process.pid}-${++counter}`];
      } catch (error) {
        runc.unavailable = (error as Error).message;
      }
    }

    const podmanNone: Contender = { name: 'podman run --rm --network none', network: 'none', command: 'podman', args: () => [], samples: [], failures: 0 };
    const podmanDefault: Contender = { name: 'podman run --rm (default network)', network: 'default', command: 'podman', args: () => [], samples: [], failures: 0 };
    bench.contenders.push(podmanNone, podmanDefault);
    const noPodman = without.has('podman') ? 'left out with --without' : !which('podman') ? 'podman is not installed (bench/setup-peers.sh)' : undefined;
    if (noPodman) podmanNone.unavailable = podmanDefault.unavailable = noPodman;
    else {
      try {
        const podman = preparePodman(bench, layout);
        podmanNone.env = podmanDefault.env = podman.env;
        podmanNone.args = () => [...podman.args, 'run', '--runtime', 'runc', '--rm', '--network', 'none', `localhost/${TAG}`, 'true'];
        podmanDefault.args = () => [...podman.args, 'run', '--runtime', 'runc', '--rm', `localhost/${TAG}`, 'true'];
      } catch (error) {
        podmanNone.unavailable = podmanDefault.unavailable = (error as Error).message;
      }
    }

    const dockerNone: Contender = { name: 'docker run --rm --network none', network: 'none', command: DOCKER, args: () => [], samples: [], failures: 0 };
    const dockerDefault: Contender = { name: 'docker run --rm (default bridge)', network: 'default', command: DOCKER, args: () => [], samples: [], failures: 0 };
    bench.contenders.push(dockerNone, dockerDefault);
    const noDocker = without.has('docker') ? 'left out with --without' : !which('dockerd') || !fs.existsSync(DOCKER) ? 'docker.io is not installed (bench/setup-peers.sh)' : undefined;
    if (noDocker) dockerNone.unavailable = dockerDefault.unavailable = noDocker;
    else {
      try {
        const env = await prepareDocker(bench, layout);
        dockerNone.env = dockerDefault.env = env;
        dockerNone.args = () => ['run', '--rm', '--network', 'none', TAG, 'true'];
        dockerDefault.args = () => ['run', '--rm', TAG, 'true'];
      } catch (error) {
        dockerNone.unavailable = dockerDefault.unavailable = (error as Error).message;
      }
    }

    // Untimed runs warm caches and find the ones that cannot run here (two tries each).
    for (const contender of bench.contenders) {
      for (let attempt = 0; attempt < 2 && contender.unavailable === undefined; attempt++) {
        const { result } = timeOnce(contender);
        if (result.status === 0) break;
        if (attempt === 1) contender.unavailable = `exited ${result.status}: ${lastLines(result.stderr)}`;
      }
    }
    const active = bench.contenders.filter((c) => c.unavailable === undefined);
    log(`timing ${active.map((c) => c.name).join('; ')}`);
    let rounds = 0;
    for (let round = 0; round < iterations && !interrupted; round++) {
      for (let k = 0; k < active.length && !interrupted; k++) {
        const contender = active[(round + k) % active.length]!;
        if (contender.unavailable !== undefined) continue;
        const { ms, result } = timeOnce(contender);
        // spawnSync blocks the event loop; let a pending SIGINT/SIGTERM handler run between runs.
        await new Promise((resolve) => setImmediate(resolve));
        if (interrupted) break; // the signal went to that run too
        if (result.status === 0) contender.samples.push(ms);
        else {
          contender.failures++;
          contender.lastError = `round ${round + 1}: exited ${result.status}: ${lastLines(result.stderr)}`;
          log(`${contender.name}: ${contender.lastError}`);
          // A failed run may leave what --rm would have removed; give up on a contender that keeps failing.
          if (contender.failures > Math.max(2, iterations / 4)) contender.unavailable = `failed ${contender.failures} times, last ${contender.lastError}`;
        }
      }
      if (interrupted) break;
      rounds++;
      log(`round ${round + 1}/${iterations} done (load ${loadAverage()})`);
    }
    report(bench, rounds, loadBefore, loadAverage());
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const { what, fn } of bench.cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        log(`cleanup of ${what} failed: ${(error as Error).message}`);
      }
    }
    // What the peers leave on the host: bridges and cgroup parents that were not there before.
    for (const link of links()) if (!linksBefore.has(link) && ['docker0', 'cni-podman0', 'podman0'].includes(link)) run('ip', ['link', 'delete', link]);
    for (const top of cgroupTops()) if (!cgroupsBefore.has(top) && ['docker', 'didactic-bench-docker', 'didactic-bench-runc', 'libpod_parent'].includes(top)) removeCgroupTree(top);
    // podman's host-local IPAM store for its default network, when this run made it and holds no address.
    if (!podmanIpamBefore && safeList(PODMAN_IPAM).every((name) => name === 'lock' || name.startsWith('last_reserved_ip'))) {
      fs.rmSync(PODMAN_IPAM, { recursive: true, force: true });
    }
    // Directories only when nothing but empty directories is left in them (/run/docker/plugins, /run/containerd/s).
    for (const file of DOCKER_OUTSIDE) if (!dockerOutsideBefore.includes(file) && fs.existsSync(file) && onlyEmptyDirs(file)) fs.rmSync(file, { recursive: true, force: true });
    const left = unmountBelow(bench.dir);
    if (left.length > 0) log(`cleanup: detached ${left.length} mount(s) left below ${bench.dir}`);
    fs.rmSync(bench.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

main().catch((error: unknown) => {
  log(`bench/run: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
});
