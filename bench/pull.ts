/**
 * Pull of a large image from a loopback registry, side by side in one run:
 * our `pull`, `skopeo copy docker://... oci:DIR` and `podman pull` (when
 * installed), with GNU `tar -xzf` of the same layer as the floor (unpacking
 * alone: no download, no digests, no store). Each tool starts from an empty store every round; the rounds
 * are interleaved so that all three see the same machine load. Prints the
 * medians and the ratios.
 *
 * The image is one layer holding a Debian bookworm minbase root file system
 * made by debootstrap (apt caches and lists removed: ~128 MB, ~6,600 files,
 * ~45-50 MB gzip). Without debootstrap (or without its mirror) a synthetic tree
 * of about the same shape is copied from /usr instead. The root file system
 * tarball is cached under /var/tmp/didactic-bench (--rebuild makes it again).
 *
 *   node dist/bench/pull.js [--rounds N] [--rebuild] [--synthetic]
 *
 * Not part of the tests: it needs root, takes minutes the first time, and
 * measures the machine as much as the code.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addImage, OciLayout, pushWithSkopeo } from '../test/helpers/images.js';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { unmountBelow } from '../test/helpers/tmp-root.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/didactic-container.js');
const CACHE = '/var/tmp/didactic-bench';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 3) || 3;
const rebuild = args.includes('--rebuild');
const forceSynthetic = args.includes('--synthetic');

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function run(command: string, argv: string[], options: { cwd?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  return { status: result.error ? -1 : result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? (result.error ? String(result.error) : '') };
}

function which(command: string): boolean {
  return run('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** The first Debian mirror apt is configured with (deb822 .sources or one-line sources.list). */
function aptMirror(): string {
  const files = ['/etc/apt/sources.list', ...safeList('/etc/apt/sources.list.d').map((f) => path.join('/etc/apt/sources.list.d', f))];
  for (const file of files) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const deb822 = /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text);
    if (deb822) return deb822[1]!;
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s+/m.exec(text);
    if (line) return line[1]!;
  }
  return 'http://deb.debian.org/debian';
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** A Debian minbase tree from debootstrap, or undefined when that is not possible here. */
function debootstrapTree(dir: string): string | undefined {
  if (!which('debootstrap')) {
    log('debootstrap is not installed (apt-get install debootstrap); using a synthetic tree');
    return undefined;
  }
  const mirror = aptMirror();
  log(`debootstrap --variant=minbase bookworm from ${mirror} (about a minute)...`);
  const result = run('debootstrap', ['--variant=minbase', 'bookworm', dir, mirror]);
  if (result.status !== 0) {
    log(`debootstrap failed (${result.status}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}; using a synthetic tree`);
    unmountBelow(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  unmountBelow(dir);
  // What an image build would drop: downloaded packages and apt's lists.
  for (const sub of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    for (const name of safeList(path.join(dir, sub))) {
      const full = path.join(dir, sub, name);
      if (fs.lstatSync(full).isFile()) fs.rmSync(full);
    }
  }
  for (const name of ['var/cache/apt/pkgcache.bin', 'var/cache/apt/srcpkgcache.bin', 'var/log/bootstrap.log']) fs.rmSync(path.join(dir, name), { force: true });
  return 'debootstrap bookworm minbase';
}

/** About 6,600 regular files (~128 MB) copied from /usr, with their directories and symlinks. */
function syntheticTree(dir: string): string {
  const wantFiles = 6600;
  const wantBytes = 128 * 1024 * 1024;
  let files = 0;
  let bytes = 0;
  const walk = (from: string, to: string) => {
    if (files >= wantFiles) return;
    fs.mkdirSync(to, { recursive: true });
    for (const entry of fs.readdirSync(from, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (files >= wantFiles) return;
      const src = path.join(from, entry.name);
      const dst = path.join(to, entry.name);
      if (entry.isDirectory()) walk(src, dst);
      else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dst);
      else if (entry.isFile()) {
        const size = fs.statSync(src).size;
        // Keep the average file near wantBytes / wantFiles.
        if (bytes + size > ((files + 1) * wantBytes) / wantFiles + 8 * 1024 * 1024) continue;
        fs.copyFileSync(src, dst);
        files++;
        bytes += size;
      }
    }
  };
  for (const top of ['lib', 'share', 'bin', 'sbin', 'libexec']) if (fs.existsSync(`/usr/${top}`)) walk(`/usr/${top}`, path.join(dir, 'usr', top));
  return `synthetic copy of /usr (${files} files, ${(bytes / 1e6).toFixed(0)} MB)`;
}

/** The root file system tar (cached), and what it is. */
function rootfsTar(): { tar: string; source: string } {
  fs.mkdirSync(CACHE, { recursive: true });
  const tar = path.join(CACHE, forceSynthetic ? 'rootfs-synthetic.tar' : 'rootfs.tar');
  const sourceFile = `${tar}.source`;
  if (!rebuild && fs.existsSync(tar) && fs.existsSync(sourceFile)) return { tar, source: fs.readFileSync(sourceFile, 'utf8').trim() };
  const tree = fs.mkdtempSync(path.join(CACHE, 'tree-'));
  try {
    const source = (!forceSynthetic && debootstrapTree(path.join(tree, 'root'))) || syntheticTree(path.join(tree, 'root'));
    const packed = run('tar', ['--numeric-owner', '--xattrs', '--sort=name', '-C', path.join(tree, 'root'), '-cf', tar, '.']);
    if (packed.status !== 0) throw new Error(`tar failed: ${packed.stderr}`);
    fs.writeFileSync(sourceFile, `${source}\n`);
    return { tar, source };
  } finally {
    unmountBelow(tree);
    fs.rmSync(tree, { recursive: true, force: true });
  }
}

function countEntries(tar: string): number {
  return run('tar', ['-tf', tar]).stdout.split('\n').filter(Boolean).length;
}

/** Runs a command and resolves to its wall time in ms (rejects when it fails). */
function timed(command: string, argv: string[]): Promise<{ ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (status === 0) resolve({ ms, stderr });
      else reject(new Error(`${command} ${argv.slice(0, 3).join(' ')}... exited ${status}: ${stderr.trim().slice(-500)}`));
    });
  });
}

interface Tool {
  name: string;
  /** Runs one pull into a fresh directory below `dir`; returns ms. */
  pull(dir: string): Promise<number>;
}

function dropCaches(): void {
  // Same starting point for every tool: written data flushed (the registry's files stay cached for all).
  spawnSync('sync');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the pull benchmark needs root (it unpacks device nodes and owners, as podman does)');
  const { tar, source } = rootfsTar();
  const tarSize = fs.statSync(tar).size;
  const entries = countEntries(tar);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-bench-pull-'));
  let registry: TestRegistry | undefined;
  try {
    log(`building the image (gzip of ${(tarSize / 1e6).toFixed(0)} MB)...`);
    const layout = new OciLayout(path.join(work, 'layout'));
    const built = addImage(layout, [{ tar: fs.readFileSync(tar) }], { history: [`bench root file system: ${source}`], cmd: ['/bin/sh'] });
    layout.tag(built.manifest, 'bench');
    const layerSize = built.layers[0]!.size;
    registry = await startRegistry();
    const ref = `${registry.host}/bench/debian:minbase`;
    await pushWithSkopeo(layout.dir, 'bench', ref);
    // The layer itself, for the floor row: GNU tar unpacking it with nothing else to do.
    const layerFile = path.join(work, 'layer.tar.gz');
    fs.copyFileSync(path.join(layout.dir, 'blobs', ...built.layers[0]!.digest.split(':')), layerFile);
    fs.rmSync(layout.dir, { recursive: true, force: true });

    const tools: Tool[] = [
      {
        name: 'didactic-container pull',
        async pull(dir) {
          const { ms, stderr } = await timed(process.execPath, [BIN, '--root', path.join(dir, 'root'), '--run-root', path.join(dir, 'run'), 'pull', ref]);
          if (!/Status: downloaded/.test(stderr)) throw new Error(`no status line: ${stderr.slice(-300)}`);
          return ms;
        },
      },
      {
        name: 'skopeo copy docker:// oci:',
        async pull(dir) {
          return (await timed('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${path.join(dir, 'oci')}:bench`])).ms;
        },
      },
    ];
    tools.push({
      // Not a puller: what unpacking this one layer costs on this machine, no download, no digest.
      name: 'tar -xzf (unpack only)',
      async pull(dir) {
        const into = path.join(dir, 'rootfs');
        fs.mkdirSync(into);
        const { ms, stderr } = await timed('tar', ['--numeric-owner', '-xzf', layerFile, '-C', into]);
        if (!fs.existsSync(path.join(into, 'etc'))) throw new Error(`tar unpacked nothing: ${stderr.slice(-300)}`);
        return ms;
      },
    });
    if (which('podman')) {
      tools.push({
        name: 'podman pull',
        async pull(dir) {
          const common = ['--root', path.join(dir, 'storage'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'overlay', '--events-backend', 'none', '--cgroup-manager', 'cgroupfs'];
          try {
            return (await timed('podman', [...common, 'pull', '-q', '--tls-verify=false', ref])).ms;
          } finally {
            spawnSync('podman', [...common, 'system', 'reset', '-f'], { stdio: 'ignore' });
          }
        },
      });
    } else {
      log('podman is not installed: comparing with skopeo only');
    }

    const samples = new Map<string, number[]>(tools.map((tool) => [tool.name, []]));
    for (let round = 0; round <= rounds; round++) {
      // Round 0 warms the page cache and is not counted; later rounds rotate the order.
      const order = tools.map((_, i) => tools[(i + round) % tools.length]!);
      for (const tool of order) {
        const dir = fs.mkdtempSync(path.join(work, 'pull-'));
        try {
          dropCaches();
          const ms = await tool.pull(dir);
          if (round > 0) samples.get(tool.name)!.push(ms);
          log(`${round === 0 ? 'warm-up' : `round ${round}`}: ${tool.name} ${(ms / 1000).toFixed(2)} s`);
        } finally {
          unmountBelow(dir);
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
    }

    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const medians = new Map([...samples].map(([name, values]) => [name, median(values)]));
    const ours = medians.get(tools[0]!.name)!;
    console.log(`image: ${source}; ${entries} tar entries, ${(tarSize / 1e6).toFixed(1)} MB uncompressed, ${(layerSize / 1e6).toFixed(1)} MB gzip`);
    console.log(`machine: ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${rounds} rounds, medians`);
    for (const [name, m] of medians) {
      const ratio = name === tools[0]!.name ? '' : `   ours/this ${(ours / m).toFixed(2)}x`;
      console.log(`${name.padEnd(28)} ${(m / 1000).toFixed(2).padStart(7)} s   (${samples.get(name)!.map((v) => (v / 1000).toFixed(2)).join(', ')})${ratio}`);
    }
    const podman = medians.get('podman pull');
    if (podman !== undefined) console.log(`goal: at most 0.3x podman's time -> ${(ours / podman).toFixed(2)}x ${ours / podman <= 0.3 ? 'met' : 'not met'}`);
    const floor = medians.get('tar -xzf (unpack only)');
    if (podman !== undefined && floor !== undefined) console.log(`floor: unpacking alone (GNU tar) is ${(floor / podman).toFixed(2)}x podman's pull`);
  } finally {
    await registry?.stop();
    unmountBelow(work);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench pull: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
