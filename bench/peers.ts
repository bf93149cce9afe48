/**
 * What the benchmarks share: small process helpers, the peers (podman with
 * runc, a private dockerd) set up offline in a temp dir with the test busybox
 * image, our CLI from a snapshot of the build, and the cleanup of what the
 * peers leave on the host. How and why the peers are configured this way:
 * bench/README.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushWithSkopeo } from '../test/helpers/images.js';
import { startRegistry } from '../test/helpers/registry.js';
import { removeBridgeRules, unmountBelow } from '../test/helpers/tmp-root.js';
import { parseIptablesSave, planIdleChainRemoval, renderRestoreScript } from '../src/network/index.js';

export const TREE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DOCKER = '/usr/bin/docker'; // Debian's client; /usr/local/bin may hold another one
export const TAG = 'didactic-bench/busybox:latest';
const DOCKER_BRIDGE_CIDR = '172.31.254.1/24';
const CGROUP_ROOT = '/sys/fs/cgroup';
const PODMAN_IPAM = '/var/lib/cni/networks/podman';
/** What dockerd and its containerd make outside their roots, whatever the flags; removed when a run made them. */
const DOCKER_OUTSIDE = ['/run/docker', '/run/containerd', '/etc/docker/key.json'];

export function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: Buffer): Result {
  const result = spawnSync(command, args, { encoding: 'utf8', env, input, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.error ? -1 : result.status, stdout: result.stdout ?? '', stderr: result.stderr || (result.error ? String(result.error) : '') };
}

export function must(what: string, result: Result): Result {
  if (result.status !== 0) throw new Error(`${what} failed (${result.status}): ${lastLines(result.stderr)}`);
  return result;
}

export function lastLines(text: string, count = 3): string {
  return text.trim().split('\n').slice(-count).join(' | ') || '(no output)';
}

/** The value after `name` among the bench's arguments, if it was given. */
export function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name, 2);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

export function which(command: string): boolean {
  return run('sh', ['-c', `command -v ${command}`]).status === 0;
}

export function firstLine(command: string, args: string[]): string {
  const result = run(command, args);
  return result.status === 0 ? (result.stdout.trim().split('\n')[0] ?? '') : 'unavailable';
}

/** Soft and hard limits of this process from /proc/self/limits ("Max open files" ...). */
export function hardLimit(name: string): number {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name));
  const hard = line?.slice(26).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(hard);
}

export function links(): Set<string> {
  return new Set(fs.readdirSync('/sys/class/net'));
}

/** Top-level cgroup dirs of every v1 hierarchy (and the unified one). */
export function cgroupTops(): Set<string> {
  const tops = new Set<string>();
  for (const hierarchy of safeList(CGROUP_ROOT)) {
    const dir = path.join(CGROUP_ROOT, hierarchy);
    for (const entry of safeList(dir)) if (fs.statSync(path.join(dir, entry), { throwIfNoEntry: false })?.isDirectory()) tops.add(entry);
  }
  return tops;
}

export function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** A file, or a directory holding nothing but (nested) empty directories. */
export function onlyEmptyDirs(file: string): boolean {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isDirectory()) return stat !== undefined;
  return safeList(file).every((name) => fs.lstatSync(path.join(file, name), { throwIfNoEntry: false })?.isDirectory() === true && onlyEmptyDirs(path.join(file, name)));
}

/** Removes the empty cgroup dir `name` below every hierarchy, deepest first. */
export function removeCgroupTree(name: string): void {
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

// ---------------------------------------------------------------- a bench's temp dir and cleanups

/** A bench run: its temp dir and what to undo at the end, last first. */
export interface PeerBench {
  dir: string;
  cleanups: Array<{ what: string; fn: () => void | Promise<void> }>;
}

export function addCleanup(bench: PeerBench, what: string, fn: () => void | Promise<void>): void {
  bench.cleanups.push({ what, fn });
}

// ---------------------------------------------------------------- the engines

/**
 * A copy of the built CLI (bin/, dist/src/ and dist/bundle/, the native executables and addon,
 * package.json; node_modules linked), so that a rebuild of the tree while the
 * bench runs cannot mix two versions of the code within one run.
 */
export function snapshotBuild(bench: PeerBench): string {
  const snapshot = path.join(bench.dir, 'build');
  fs.mkdirSync(snapshot, { recursive: true });
  fs.cpSync(path.join(TREE, 'bin'), path.join(snapshot, 'bin'), { recursive: true });
  fs.cpSync(path.join(TREE, 'dist', 'src'), path.join(snapshot, 'dist', 'src'), { recursive: true });
  // The bundle (npm run build) is what bin/ runs when it exists: measure that, as a user would run it.
  const bundle = path.join(TREE, 'dist', 'bundle');
  if (fs.existsSync(bundle)) fs.cpSync(bundle, path.join(snapshot, 'dist', 'bundle'), { recursive: true });
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
export async function prepareOurs(bench: PeerBench, bin: string, layout: string, linksBefore: Set<string>): Promise<{ root: string; runRoot: string; ref: string }> {
  const root = path.join(bench.dir, 'ours', 'root');
  const runRoot = path.join(bench.dir, 'ours', 'run');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(runRoot, { recursive: true });
  // The bridges of our networks outlive the containers; the temp root is going away, so they go too.
  // Asked through the CLI, so the answer comes from the same build as the runs.
  addCleanup(bench, 'our bridges', () => {
    const listed = run(process.execPath, [bin, '--root', root, '--run-root', runRoot, 'network', 'ls', '--format', 'json']);
    if (listed.status !== 0) throw new Error(`network ls: ${lastLines(listed.stderr)}`);
    const networks = JSON.parse(listed.stdout || '[]') as Array<{ Options?: Record<string, string> }>;
    for (const network of networks) {
      const bridge = network.Options?.['com.docker.network.bridge.name'];
      if (!bridge || linksBefore.has(bridge)) continue;
      // The network's own NAT and FORWARD rules (made with the bridge, found by their comment) go first.
      removeBridgeRules([bridge]);
      if (links().has(bridge)) run('ip', ['link', 'delete', bridge]);
    }
  });
  const registry = await startRegistry();
  try {
    const ref = `${registry.host}/${TAG}`;
    await pushWithSkopeo(layout, 'busybox', ref);
    must('our pull', run(process.execPath, [bin, '--root', root, '--run-root', runRoot, 'pull', '-q', ref]));
    return { root, runRoot, ref };
  } finally {
    await registry.stop();
  }
}

/** Podman with runc, cgroupfs and limits that fit these machines, storage in the temp dir. */
export function preparePodman(bench: PeerBench, layout: string): { args: string[]; env: NodeJS.ProcessEnv } {
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
export async function prepareDocker(bench: PeerBench, layout: string): Promise<NodeJS.ProcessEnv> {
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

export async function stopDaemon(daemon: ChildProcess): Promise<void> {
  if (daemon.exitCode !== null || daemon.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  daemon.kill('SIGTERM');
  const timer = setTimeout(() => daemon.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------- reporting

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The commit measured, and whether the work tree differed from it. */
export function gitState(): string {
  const cwd = TREE;
  const head = spawnSync('git', ['-C', cwd, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return 'not a git checkout';
  const dirty = spawnSync('git', ['-C', cwd, 'status', '--porcelain', '--untracked-files=no', '--', 'src', 'native'], { encoding: 'utf8' });
  return `commit ${head.stdout.trim()}${dirty.stdout.trim() === '' ? '' : ' + uncommitted changes in src/ or native/'}`;
}

export function loadAverage(): string {
  return os.loadavg().map((value) => value.toFixed(2)).join(', ');
}

export function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

// ---------------------------------------------------------------- the host before and after

/** What the host had before a bench, so that only what the run made is removed afterwards. */
export interface HostBefore {
  links: Set<string>;
  cgroups: Set<string>;
  podmanIpam: boolean;
  dockerOutside: string[];
  /** Whether the CNI plugins' shared chains (CNI-FORWARD...) were there: podman's CNI firewall plugin makes them and no plugin removes them. */
  cniChains: boolean;
}

function iptablesSave(): string {
  const saved = run('iptables-save', []);
  return saved.status === 0 ? saved.stdout : '';
}

export function hostBefore(): HostBefore {
  return {
    links: links(),
    cgroups: cgroupTops(),
    podmanIpam: fs.existsSync(PODMAN_IPAM),
    dockerOutside: DOCKER_OUTSIDE.filter((file) => fs.existsSync(file)),
    cniChains: /^:CNI-/m.test(iptablesSave()),
  };
}

/** Runs the bench's cleanups (last first), removes what the peers left on the host, and the temp dir. */
export async function cleanUp(bench: PeerBench, before: HostBefore): Promise<void> {
  for (const { what, fn } of [...bench.cleanups].reverse()) {
    try {
      await fn();
    } catch (error) {
      log(`cleanup of ${what} failed: ${(error as Error).message}`);
    }
  }
  bench.cleanups.length = 0;
  // What the peers leave on the host: bridges and cgroup parents that were not there before.
  for (const link of links()) if (!before.links.has(link) && ['docker0', 'cni-podman0', 'podman0'].includes(link)) run('ip', ['link', 'delete', link]);
  for (const top of cgroupTops()) if (!before.cgroups.has(top) && ['docker', 'didactic-bench-docker', 'didactic-bench-runc', 'libpod_parent'].includes(top)) removeCgroupTree(top);
  // podman's host-local IPAM store for its default network, when this run made it and holds no address.
  if (!before.podmanIpam && safeList(PODMAN_IPAM).every((name) => name === 'lock' || name.startsWith('last_reserved_ip'))) {
    fs.rmSync(PODMAN_IPAM, { recursive: true, force: true });
  }
  // The CNI plugins' shared chains, when this run made them and they hold nothing but their own jumps.
  if (!before.cniChains) {
    for (const script of planIdleChainRemoval(parseIptablesSave(iptablesSave()))) run('iptables-restore', ['--noflush', '-w'], process.env, Buffer.from(renderRestoreScript(script)));
  }
  // Directories only when nothing but empty directories is left in them (/run/docker/plugins, /run/containerd/s).
  for (const file of DOCKER_OUTSIDE) if (!before.dockerOutside.includes(file) && fs.existsSync(file) && onlyEmptyDirs(file)) fs.rmSync(file, { recursive: true, force: true });
  const left = unmountBelow(bench.dir);
  if (left.length > 0) log(`cleanup: detached ${left.length} mount(s) left below ${bench.dir}`);
  fs.rmSync(bench.dir, { recursive: true, force: true, maxRetries: 3 });
}
