/**
 * Pulls that go wrong, through the CLI binary: a fault-injecting registry in
 * front of the real one (500s, a truncated blob, a wrong digest, a stalled
 * body, a redirect loop, a dropped connection, garbage), a `kill -9` in the
 * middle of a big download followed by a resumed pull, and hostile layers
 * that try to write outside the layer directory. After each failure the
 * store must be consistent: `check` healthy, no image recorded, no layer
 * directory under its final name.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEngine } from '../../src/engine/index.js';
import { buildTar, type TarEntry } from '../../src/snapshot/tar-writer.js';
import { startFaultRegistry, type FaultRegistry } from '../helpers/fault-registry.js';
import { findFreePort } from '../helpers/registry.js';
import { addImage, FIXED_MTIME, OciLayout, pushWithSkopeo, sharedImages, type BuiltImage, type TestImages } from '../helpers/images.js';
import { createTempRoot, type TempRoot } from '../helpers/tmp-root.js';
import { layerDirsOf } from '../helpers/store.js';
import { runCliJson, runCliOk, startCli, type CliResult } from '../helpers/cli.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;


const cli = (root: TempRoot, args: string[]) => startCli(root, args).done;

/** After a failed pull: check healthy, no image, none of the image's layers visible, not even half-made. */
async function assertNothingRecorded(root: TempRoot, diffIds: string[]): Promise<void> {
  for (const dir of layerDirsOf(root, diffIds)) assert.equal(fs.existsSync(dir), false, `${dir} must not exist`);
  // Not even a half-unpacked temporary directory stays behind.
  const layers = path.join(root.root, 'layers');
  assert.deepEqual(fs.existsSync(layers) ? fs.readdirSync(layers) : [], []);
  // Through the engine API, in-process: a CLI start costs most of a second here.
  const engine = createEngine({ root: root.root, runRoot: root.runRoot });
  try {
    const report = await engine.checkStore();
    assert.deepEqual({ bad: report.blobs.bad, missing: report.layers.missing }, { bad: [], missing: [] });
    assert.deepEqual(await engine.listImages(), []);
  } finally {
    engine.close();
  }
}

/** Parses the CLI's "Status: downloaded 12.3MB for ..." line back into bytes (to the precision printed). */
function downloadedBytes(stderr: string): number {
  const match = /Status: downloaded ([\d.]+)(B|kB|MB|GB) for /.exec(stderr);
  assert.ok(match, `no status line in:\n${stderr}`);
  const scale = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[match[2] as 'B' | 'kB' | 'MB' | 'GB'];
  return Number(match[1]) * scale;
}

let images: TestImages;
let fault: FaultRegistry;
let layoutDir: string;
let outside: string;
const big: { ref: string; built?: BuiltImage } = { ref: '' };
const hostile: Record<string, { ref: string; entry: string; built: BuiltImage }> = {};

const file = (name: string, body: string | Buffer, extra: Partial<TarEntry> = {}) => ({ name, body, mode: 0o644, mtime: FIXED_MTIME, ...extra });

before(async () => {
  if (skip) return;
  images = await sharedImages();
  fault = await startFaultRegistry(images.registry);
  layoutDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-fault-images-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-outside-'));
  fs.writeFileSync(path.join(outside, 'target'), 'outside the store\n');
  const layout = new OciLayout(layoutDir);

  // A big layer: 20 MB of random data (gzip cannot shrink it).
  const tar = (entries: Array<TarEntry & { body?: string | Buffer }>) => buildTar(entries);
  big.built = addImage(layout, [{ tar: tar([file('big.bin', randomBytes(20 * 1024 * 1024)), file('small.txt', 'next to a big file\n')]) }]);
  layout.tag(big.built.manifest, 'big');

  const benign = file('benign.txt', 'written before the hostile entry\n');
  const cases: Record<string, { entries: Array<TarEntry & { body?: string | Buffer }>; entry: string }> = {
    dotdot: { entries: [benign, file('../evil-dotdot', 'escaped\n')], entry: '../evil-dotdot' },
    deepdotdot: { entries: [benign, file(`../../../../../../../..${outside}/evil-deep`, 'escaped\n')], entry: `../../../../../../../..${outside}/evil-deep` },
    absolute: { entries: [benign, file(`${outside}/evil-absolute`, 'escaped\n')], entry: `${outside}/evil-absolute` },
    symlink: {
      entries: [benign, { name: 'escape', type: 'symlink', linkname: outside, mtime: FIXED_MTIME }, file('escape/evil-symlink', 'escaped\n')],
      entry: 'escape/evil-symlink',
    },
    symlinkdir: {
      entries: [benign, { name: 'up', type: 'symlink', linkname: '../../../../../../../../..', mtime: FIXED_MTIME }, file(`up${outside}/evil-updir`, 'escaped\n')],
      entry: `up${outside}/evil-updir`,
    },
    hardlink: {
      entries: [benign, { name: 'hard', type: 'hardlink', linkname: `${outside}/target`, mtime: FIXED_MTIME }],
      entry: 'hard',
    },
    hardlinkdotdot: {
      entries: [benign, { name: 'hard2', type: 'hardlink', linkname: `../../../../../../../..${outside}/target`, mtime: FIXED_MTIME }],
      entry: 'hard2',
    },
  };
  for (const [name, { entries, entry }] of Object.entries(cases)) {
    const built = addImage(layout, [{ tar: tar(entries) }]);
    layout.tag(built.manifest, `hostile-${name}`);
    hostile[name] = { ref: `${images.registry}/didactic/hostile-${name}:latest`, entry, built };
  }
  big.ref = `${images.registry}/didactic/big:latest`;
  await Promise.all([
    pushWithSkopeo(layoutDir, 'big', big.ref),
    ...Object.entries(hostile).map(([name, h]) => pushWithSkopeo(layoutDir, `hostile-${name}`, h.ref)),
  ]);
});

after(async () => {
  await fault?.close();
  if (layoutDir) fs.rmSync(layoutDir, { recursive: true, force: true });
  if (outside) fs.rmSync(outside, { recursive: true, force: true });
});

/** One failing pull through the fault registry in a fresh root. */
async function failingPull(rules: Parameters<FaultRegistry['setFaults']>[0], expect: RegExp, image = images?.busybox): Promise<CliResult> {
  const root = createTempRoot('dctr-fault-');
  try {
    fault.setFaults(rules);
    const ref = `${fault.host}/${image.repository}:latest`;
    const result = await cli(root, ['pull', ref]);
    fault.setFaults([]);
    assert.equal(result.status, 125, result.stderr);
    assert.match(result.stderr, /^Error: /m);
    assert.match(result.stderr, expect);
    await assertNothingRecorded(root, image.layers.map((l) => l.diffId));
    return result;
  } finally {
    fault.setFaults([]);
    root.dispose();
  }
}

test('a 500 on the manifest or on a blob is a clear error naming the status', { skip }, async () => {
  await failingPull([{ match: 'manifest', fault: { kind: 'status', status: 500 } }], /500/);
  const layer = images.busybox.layers[0]!.digest;
  const result = await failingPull([{ match: layer, fault: { kind: 'status', status: 500 } }], /500/);
  assert.ok(result.stderr.includes(layer.slice(0, 19)), result.stderr);
  const limited = await failingPull([{ match: 'manifest', fault: { kind: 'status', status: 429, headers: { 'retry-after': '30' } } }], /rate limited/);
  assert.match(limited.stderr, /hint: try again in 30 seconds/);
  await failingPull([{ match: 'manifest', fault: { kind: 'status', status: 403 } }], /access denied/);
});

test('unknown tags, unreachable registries and garbage answers are clear errors', { skip }, async () => {
  const root = createTempRoot('dctr-fault-');
  try {
    const unknown = await cli(root, ['pull', `${images.registry}/didactic/busybox:no-such-tag`]);
    assert.equal(unknown.status, 125);
    assert.match(unknown.stderr, /manifest unknown|not found/i);
    assert.match(unknown.stderr, /no-such-tag/);
    const port = await findFreePort();
    const unreachable = await cli(root, ['pull', `127.0.0.1:${port}/didactic/busybox:latest`]);
    assert.equal(unreachable.status, 125);
    assert.match(unreachable.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(unreachable.stderr, /refused|cannot reach|unreachable/i);
  } finally {
    root.dispose();
  }
  const garbage = await failingPull([{ match: 'manifest', fault: { kind: 'garbage' } }], /^Error: pull .*didactic\/busybox:latest: manifest sha256:[0-9a-f]{64} from the registry is not valid$/m);
  assert.match(garbage.stderr, /caused by: manifest is not valid JSON/);
  await failingPull([{ match: images.busybox.layers[0]!.digest, fault: { kind: 'garbage' } }], /size mismatch/);
});

test('a truncated blob and a blob with the wrong digest are refused as INTEGRITY errors', { skip }, async () => {
  const layer = images.busybox.layers[0]!.digest;
  let result = await failingPull([{ match: layer, fault: { kind: 'truncate' } }], /size mismatch \(got \d+ bytes, expected \d+\)/);
  assert.ok(result.stderr.includes(layer), result.stderr);
  result = await failingPull([{ match: layer, fault: { kind: 'wrong-digest' } }], /digest mismatch \(got sha256:[0-9a-f]{64}\)/);
  assert.ok(result.stderr.includes(layer), result.stderr);
  await failingPull([{ match: 'manifest', fault: { kind: 'wrong-digest' } }], /the registry says the manifest is sha256:[0-9a-f]{64} but its content is sha256:/);

  // The error code, through the engine API.
  const root = createTempRoot('dctr-fault-');
  const engine = createEngine({ root: root.root, runRoot: root.runRoot });
  try {
    fault.setFaults([{ match: layer, fault: { kind: 'wrong-digest' } }]);
    await assert.rejects(engine.pull(`${fault.host}/${images.busybox.repository}:latest`), (error: any) => {
      assert.equal(error.code, 'INTEGRITY');
      return true;
    });
    // A config that does not match its digest (in another root: the first pull kept the good config).
    engine.close();
    fs.rmSync(root.root, { recursive: true });
    fault.setFaults([{ match: images.busybox.configDigest, fault: { kind: 'wrong-digest' } }]);
    await assert.rejects(engine.pull(`${fault.host}/${images.busybox.repository}:latest`), (error: any) => {
      assert.equal(error.code, 'INTEGRITY');
      return true;
    });
  } finally {
    fault.setFaults([]);
    engine.close();
    root.dispose();
  }
});

test('a registry error prints its detail, not "[object Object]"', { skip }, async () => {
  const result = await failingPull([{ match: 'manifest', fault: { kind: 'status', status: 500 } }], /registry error 500/);
  assert.doesNotMatch(result.stderr, /\[object Object\]/);
});

test('a redirect loop is an error, not a hang', { skip }, async () => {
  const layer = images.busybox.layers[0]!.digest;
  await failingPull([{ match: layer, fault: { kind: 'redirect-loop' } }], /redirect loop/);
});

test('a slow body still arrives; a stalled one times out with a clear error', { skip }, async (t) => {
  const layer = images.busybox.layers[0]!;
  const root = createTempRoot('dctr-fault-');
  try {
    fault.setFaults([{ match: layer.digest, fault: { kind: 'slow', bytesPerSecond: Math.ceil(layer.size / 1.5) } }]);
    const started = Date.now();
    const result = await runCliOk(root, ['pull', `${fault.host}/${images.busybox.repository}:latest`]);
    assert.ok(Date.now() - started > 1000, 'the body was throttled');
    assert.match(result.stderr, /Downloading/);
    fault.setFaults([]);
  } finally {
    fault.setFaults([]);
    root.dispose();
  }
  const stalled = createTempRoot('dctr-fault-');
  t.after(() => stalled.dispose());
  const engine = createEngine({ root: stalled.root, runRoot: stalled.runRoot });
  try {
    fault.setFaults([{ match: layer.digest, fault: { kind: 'stall', afterBytes: 100_000 } }]);
    await assert.rejects(
      engine.pull(`${fault.host}/${images.busybox.repository}:latest`, { signal: AbortSignal.timeout(1500) }),
      (error: any) => {
        assert.equal(error.code, 'UNAVAILABLE');
        assert.match(String(error.message), /^pull .*didactic\/busybox:latest: timed out$/);
        return true;
      },
    );
  } finally {
    fault.setFaults([]);
    engine.close();
  }
  await assertNothingRecorded(stalled, [layer.diffId]);
});

test('a connection dropped mid-blob fails the pull; the next pull resumes with a Range request', { skip }, async () => {
  const layer = images.busybox.layers[0]!;
  const root = createTempRoot('dctr-fault-');
  try {
    const ref = `${fault.host}/${images.busybox.repository}:latest`;
    fault.setFaults([{ match: layer.digest, fault: { kind: 'drop', afterBytes: Math.floor(layer.size / 2) } }]);
    const dropped = await cli(root, ['pull', ref]);
    fault.setFaults([]);
    assert.equal(dropped.status, 125, dropped.stderr);
    assert.ok(dropped.stderr.includes(layer.digest.slice(0, 19)), dropped.stderr);
    await assertNothingRecorded(root, [layer.diffId]);

    fault.clearRequests();
    const resumed = await runCliOk(root, ['pull', ref]);
    const asked = fault.requests.filter((r) => r.kind === 'blob' && r.digest === layer.digest);
    assert.equal(asked.length, 1);
    assert.match(asked[0]!.range ?? '', /^bytes=[1-9]\d*-$/);
    assert.ok(asked[0]!.bytesSent < layer.size);
    assert.match(resumed.stderr, /Resuming/);
    assert.ok(downloadedBytes(resumed.stderr) < layer.size);
    assert.equal((await runCliJson(root, ['check'])).healthy, true);
  } finally {
    fault.setFaults([]);
    root.dispose();
  }
});

test('kill -9 in the middle of a big download, then pull again: it resumes and completes', { skip }, async (t) => {
  const built = big.built!;
  const layer = built.layers[0]!;
  const root = createTempRoot('dctr-resume-');
  let child: ChildProcess | undefined;
  t.after(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fault.setFaults([]);
    root.dispose();
  });
  const ref = `${fault.host}/didactic/big:latest`;
  fault.setFaults([{ match: layer.digest, fault: { kind: 'slow', bytesPerSecond: 8 * 1024 * 1024 } }]);
  fault.clearRequests();
  const first = startCli(root, ['pull', ref]);
  child = first.child;
  const partial = path.join(root.root, 'content/ingest', layer.digest.slice(7), 'data');
  const deadline = Date.now() + 15_000;
  while (!(fs.existsSync(partial) && fs.statSync(partial).size > 4 * 1024 * 1024)) {
    assert.ok(Date.now() < deadline, 'the download never got going');
    assert.equal(child.exitCode, null, 'the pull ended early');
    await sleep(50);
  }
  child.kill('SIGKILL');
  const killed = await first.done;
  assert.equal(killed.status, null);
  const kept = fs.statSync(partial).size;
  assert.ok(kept > 4 * 1024 * 1024 && kept < layer.size, `partial of ${kept} bytes`);
  assert.deepEqual(await runCliJson(root, ['images']), []);

  fault.setFaults([]);
  fault.clearRequests();
  const again = await runCliOk(root, ['pull', ref]);
  const asked = fault.requests.filter((r) => r.kind === 'blob' && r.digest === layer.digest);
  assert.equal(asked.length, 1, JSON.stringify(asked));
  assert.equal(asked[0]!.range, `bytes=${kept}-`);
  assert.equal(asked[0]!.bytesSent, layer.size - kept);
  assert.match(again.stderr, /Resuming/);
  const second = downloadedBytes(again.stderr);
  assert.ok(second < layer.size, `downloaded ${second} of ${layer.size}`);
  assert.ok(second >= (layer.size - kept) * 0.95, `downloaded ${second}, expected about ${layer.size - kept}`);
  const inspect = (await runCliJson(root, ['image', 'inspect', ref]))[0];
  assert.equal(inspect.Id, built.configDigest);
  const [dir] = layerDirsOf(root, [layer.diffId]);
  assert.equal(fs.statSync(path.join(dir!, 'big.bin')).size, 20 * 1024 * 1024);
  assert.equal(fs.existsSync(partial), false, 'nothing left in ingest/');
  assert.equal((await runCliJson(root, ['check'])).healthy, true);
});

test('a layer is unpacked while its blob downloads, and gets its name only once both verified', { skip }, async (t) => {
  const built = big.built!;
  const layer = built.layers[0]!;
  const root = createTempRoot('dctr-stream-');
  const engine = createEngine({ root: root.root, runRoot: root.runRoot });
  t.after(() => {
    fault.setFaults([]);
    engine.close();
    root.dispose();
  });
  fault.setFaults([{ match: layer.digest, fault: { kind: 'slow', bytesPerSecond: 8 * 1024 * 1024 } }]);
  const events: Array<{ kind: string; digest?: string }> = [];
  const pulling = engine.pull(`${fault.host}/didactic/big:latest`, { onProgress: (event) => events.push(event) });
  let settled = false;
  pulling.then(
    () => (settled = true),
    () => (settled = true),
  );
  const layersDir = path.join(root.root, 'layers');
  const partial = path.join(root.root, 'content/ingest', layer.digest.slice(7), 'data');
  const [finalDir] = layerDirsOf(root, [layer.diffId]);
  let overlapped = false;
  while (!settled && !overlapped) {
    const unpacking = (fs.existsSync(layersDir) ? fs.readdirSync(layersDir) : []).filter((name) => name.startsWith('.tmp-') && fs.existsSync(path.join(layersDir, name, 'diff/big.bin')));
    // Seen in this order: the unpack had written the first file while the blob was still partial.
    if (unpacking.length > 0 && fs.existsSync(partial) && fs.statSync(partial).size < layer.size) {
      overlapped = true;
      assert.equal(fs.existsSync(finalDir!), false, 'no final layer directory before the blob verified');
    }
    await sleep(20);
  }
  await pulling;
  assert.ok(overlapped, 'the unpack began before the download ended');
  assert.equal(fs.statSync(path.join(finalDir!, 'big.bin')).size, 20 * 1024 * 1024);
  // Per layer the events still read download, verify, extract, done.
  const kinds = events.filter((e) => e.digest === layer.digest).map((e) => e.kind).filter((kind, i, all) => kind !== all[i - 1]);
  assert.deepEqual(kinds.slice(-3), ['verify', 'extract', 'layer-done']);
  assert.deepEqual(kinds.slice(0, 1), ['download']);
  assert.deepEqual(fs.readdirSync(layersDir).filter((name) => name.startsWith('.')), []);
});

test('hostile layers are refused naming the entry, and nothing is written outside the store', { skip }, async () => {
  // All at once, each in its own root (they share nothing but the outside directory they aim at).
  const results = await Promise.allSettled(
    Object.entries(hostile).map(async ([name, h]) => {
      const root = createTempRoot('dctr-hostile-');
      try {
        const result = await cli(root, ['pull', h.ref]);
        assert.equal(result.status, 125, `${name}: ${result.stderr}`);
        assert.ok(result.stderr.includes(h.entry), `${name}: the message names ${h.entry}:\n${result.stderr}`);
        assert.match(result.stderr, /escapes the layer directory|outside/, name);
        assert.deepEqual(findNamed(root.dir, /^evil/), [], `${name}: no escaped file anywhere in the temp root`);
        await assertNothingRecorded(root, h.built.layers.map((l) => l.diffId));
        assert.deepEqual(fs.readdirSync(path.join(root.root, 'content/blobs/sha256')).filter((hex) => hex === h.built.layers[0]!.digest.slice(7)), [], `${name}: the refused layer's blob is gone`);
      } finally {
        root.dispose();
      }
    }),
  );
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  assert.deepEqual(fs.readdirSync(outside), ['target'], `nothing written to ${outside}`);
  assert.equal(fs.statSync(path.join(outside, 'target')).nlink, 1, 'no hardlink to the outside');
  assert.equal(fs.readFileSync(path.join(outside, 'target'), 'utf8'), 'outside the store\n');
  assert.deepEqual(findNamed(path.dirname(outside), /^evil-/, 1), []);
});

/** Paths below `dir` whose last component matches, down to `depth` levels. */
function findNamed(dir: string, pattern: RegExp, depth = 64): string[] {
  const found: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (pattern.test(entry.name)) found.push(full);
    if (entry.isDirectory() && depth > 1) found.push(...findNamed(full, pattern, depth - 1));
  }
  return found;
}
