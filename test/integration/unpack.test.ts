/**
 * Layers on the real kernel: unpack a three-layer stack (plain, gzip, zstd),
 * check each layer directory, mount them as overlay and check the merged
 * view; hostile layers refused with nothing written outside; GNU tar's own
 * archives (long names, binary xattrs) read right; the content store survives
 * a writer killed with SIGKILL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { isEngineError, resolvePaths, sha256Digest, type Digest } from '../../src/common/index.js';
import { createContentStore } from '../../src/content/index.js';
import { chainIds, createLayerStore, describeRootfsMount, unpackLayer, type MountDescription } from '../../src/snapshot/index.js';
import { buildTar, type TarEntry } from '../../src/snapshot/tar-writer.js';
import { nativeConstants, sys } from '../../src/sys/index.js';
import { createTempRoot, type TempRoot } from '../helpers/tmp-root.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;

// security.capability = cap_net_bind_service+ep (VFS_CAP_REVISION_2, 20 bytes): binary, not UTF-8.
const CAPABILITY = Buffer.from([0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

type Entries = Array<TarEntry & { body?: string | Uint8Array }>;

const BASE: Entries = [
  { name: 'etc', type: 'directory', mtime: 1_600_000_000 },
  { name: 'etc/passwd', body: 'root:x:0:0:old\n', mtime: 1_600_000_001 },
  { name: 'etc/gone', body: 'deleted by layer 2\n' },
  { name: 'opt', type: 'directory' },
  { name: 'opt/old1', body: 'hidden by the opaque dir\n' },
  { name: 'opt/sub', type: 'directory' },
  { name: 'opt/sub/old2', body: 'hidden too\n' },
  { name: 'bin', type: 'directory' },
  { name: 'bin/tool', body: '#!/bin/sh\n', mode: 0o4755, mtime: 1_600_000_002, xattrs: { 'security.capability': CAPABILITY, 'user.note': 'kept' } },
  { name: 'bin/alias', type: 'hardlink', linkname: 'bin/tool' },
  { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox', mtime: 1_600_000_003 },
  { name: 'dev', type: 'directory' },
  { name: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660, gid: 6 },
  { name: 'run/fifo', type: 'fifo', mode: 0o600 },
  { name: 'home/user', type: 'directory', uid: 1000, gid: 1000, mode: 0o750, mtime: 1_600_000_100 },
  { name: 'home/user/file', body: 'mine\n', uid: 1000, gid: 100, mode: 0o640, mtime: 1_600_000_123.25 },
  { name: 'tmp', type: 'directory', mode: 0o1777 },
];

const MIDDLE: Entries = [
  { name: 'etc', type: 'directory', mtime: 1_600_000_000 },
  { name: 'etc/.wh.gone' },
  { name: 'etc/added', body: 'from layer 2\n' },
  { name: 'opt', type: 'directory' },
  { name: 'opt/.wh..wh..opq' },
  { name: 'opt/new', body: 'only this in opt\n' },
];

const TOP: Entries = [
  { name: 'etc', type: 'directory', mtime: 1_600_000_000 },
  { name: 'etc/passwd', body: 'root:x:0:0:new\n' },
  { name: 'home/user/file2', body: 'second\n', uid: 1000, gid: 1000 },
];

function zstd(bytes: Buffer): Buffer {
  const result = spawnSync('zstd', ['-q', '-c'], { input: bytes });
  assert.equal(result.status, 0, result.stderr?.toString());
  return result.stdout;
}

function withRoot(t: { after(fn: () => void): void }): { root: TempRoot; paths: ReturnType<typeof resolvePaths> } {
  const root = createTempRoot('dctr-unpack-');
  t.after(() => root.dispose());
  return { root, paths: resolvePaths({ root: root.root, runRoot: root.runRoot }) };
}

/** mount(2) for a description, the way sys/ would carry it out. */
function mountDescribed(mount: MountDescription): void {
  const c = nativeConstants();
  const ro = mount.options.includes('ro');
  if (mount.options.includes('bind')) {
    sys.mount(mount.source, mount.target, null, c.MS_BIND, null);
    if (ro) sys.mount(null, mount.target, null, c.MS_REMOUNT | c.MS_BIND | c.MS_RDONLY, null);
    return;
  }
  sys.mount(mount.source, mount.target, mount.fstype, ro ? c.MS_RDONLY : 0, mount.data);
}

function unmount(target: string): void {
  try {
    sys.umount2(target, nativeConstants().MNT_DETACH);
  } catch {
    // not mounted
  }
}

function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      const child = rel ? `${rel}/${name}` : name;
      out.push(child);
      const stat = fs.lstatSync(path.join(dir, child));
      if (stat.isDirectory()) walk(child);
    }
  };
  walk('');
  return out.sort();
}

test('a three-layer stack: each layer on disk, then the merged overlay view', { skip }, async (t) => {
  const { root, paths } = withRoot(t);
  const layers = createLayerStore(paths);
  const tars = [buildTar(BASE), buildTar(MIDDLE), buildTar(TOP)];
  const blobs = [tars[0]!, zlib.gzipSync(tars[1]!), zstd(tars[2]!)];
  const diffIds = tars.map((tar) => sha256Digest(tar));
  const chain = chainIds(diffIds);

  for (const [i, blob] of blobs.entries()) {
    const progress: Array<[number, number]> = [];
    const result = await layers.unpackInto(chain[i]!, Readable.from([blob.subarray(0, 3), blob.subarray(3)]), diffIds[i]!, {
      onProgress: (bytesIn, bytesOut) => progress.push([bytesIn, bytesOut]),
    });
    assert.equal(result.diffId, diffIds[i]);
    assert.equal(result.size, tars[i]!.length);
    assert.equal(result.compression, ['none', 'gzip', 'zstd'][i]);
    assert.deepEqual(progress.at(-1), [blob.length, tars[i]!.length]);
    assert.ok(layers.hasLayer(chain[i]!));
  }
  assert.deepEqual(
    layers.listLayers().sort((a, b) => a.chainId.localeCompare(b.chainId)),
    chain.map((chainId, i) => ({ chainId, diffId: diffIds[i] })).sort((a, b) => a.chainId.localeCompare(b.chainId)),
  );
  assert.deepEqual(fs.readdirSync(paths.layers).filter((n) => n.startsWith('.')), []);

  const [l1, l2, l3] = chain.map((id) => layers.layerDir(id)) as [string, string, string];

  // Base layer: metadata as written.
  const tool = fs.lstatSync(path.join(l1, 'bin/tool'));
  assert.equal(tool.mode & 0o7777, 0o4755, 'setuid kept');
  assert.deepEqual(sys.lgetxattr(path.join(l1, 'bin/tool'), 'security.capability'), CAPABILITY);
  assert.deepEqual(sys.lgetxattr(path.join(l1, 'bin/tool'), 'user.note'), Buffer.from('kept'));
  assert.equal(tool.mtimeMs, 1_600_000_002_000);
  const alias = fs.lstatSync(path.join(l1, 'bin/alias'));
  assert.equal(alias.ino, tool.ino, 'hardlink shares the inode');
  assert.equal(tool.nlink, 2);
  assert.equal(fs.readlinkSync(path.join(l1, 'bin/sh')), '/bin/busybox');
  assert.equal(fs.lstatSync(path.join(l1, 'bin/sh')).mtimeMs, 1_600_000_003_000);
  const devNull = fs.lstatSync(path.join(l1, 'dev/null'));
  assert.ok(devNull.isCharacterDevice());
  assert.equal(devNull.rdev, (1 << 8) | 3);
  assert.equal(devNull.mode & 0o7777, 0o666);
  const loop = fs.lstatSync(path.join(l1, 'dev/loop9'));
  assert.ok(loop.isBlockDevice());
  assert.equal(loop.rdev, (7 << 8) | 9);
  assert.equal(loop.gid, 6);
  assert.ok(fs.lstatSync(path.join(l1, 'run/fifo')).isFIFO());
  const home = fs.lstatSync(path.join(l1, 'home/user'));
  assert.deepEqual([home.uid, home.gid, home.mode & 0o7777, home.mtimeMs], [1000, 1000, 0o750, 1_600_000_100_000]);
  const file = fs.lstatSync(path.join(l1, 'home/user/file'));
  assert.deepEqual([file.uid, file.gid, file.mode & 0o7777, file.mtimeMs], [1000, 100, 0o640, 1_600_000_123_250]);
  assert.equal(fs.lstatSync(path.join(l1, 'tmp')).mode & 0o7777, 0o1777);
  assert.equal(fs.lstatSync(path.join(l1, 'etc')).mtimeMs, 1_600_000_000_000, 'directory times set after its children');

  // Middle layer: overlay's whiteout forms.
  const gone = fs.lstatSync(path.join(l2, 'etc/gone'));
  assert.ok(gone.isCharacterDevice());
  assert.equal(gone.rdev, 0);
  assert.deepEqual(sys.lgetxattr(path.join(l2, 'opt'), 'trusted.overlay.opaque'), Buffer.from('y'));
  assert.equal(fs.existsSync(path.join(l2, 'opt/.wh..wh..opq')), false);
  assert.equal(fs.existsSync(path.join(l2, 'etc/.wh.gone')), false);

  // The merged view.
  const upper = path.join(root.dir, 'upper');
  const work = path.join(root.dir, 'work');
  const merged = path.join(root.dir, 'merged');
  for (const dir of [upper, work, merged]) fs.mkdirSync(dir);
  const mount = describeRootfsMount({ lowerDirs: [l3, l2, l1], upperDir: upper, workDir: work, target: merged });
  mountDescribed(mount);
  try {
    assert.equal(fs.existsSync(path.join(merged, 'etc/gone')), false, 'whited-out file is gone');
    assert.deepEqual(fs.readdirSync(path.join(merged, 'opt')), ['new'], 'opaque dir shows only upper contents');
    assert.equal(fs.readFileSync(path.join(merged, 'etc/passwd'), 'utf8'), 'root:x:0:0:new\n');
    assert.equal(fs.readFileSync(path.join(merged, 'etc/added'), 'utf8'), 'from layer 2\n');
    assert.deepEqual(fs.readdirSync(path.join(merged, 'home/user')).sort(), ['file', 'file2']);
    const mTool = fs.lstatSync(path.join(merged, 'bin/tool'));
    assert.equal(fs.lstatSync(path.join(merged, 'bin/alias')).ino, mTool.ino, 'hardlink shares the inode');
    assert.equal(mTool.mode & 0o7777, 0o4755);
    assert.deepEqual(sys.lgetxattr(path.join(merged, 'bin/tool'), 'security.capability'), CAPABILITY);
    assert.equal(fs.readlinkSync(path.join(merged, 'bin/sh')), '/bin/busybox');
    assert.ok(fs.lstatSync(path.join(merged, 'dev/null')).isCharacterDevice());
    assert.equal(fs.lstatSync(path.join(merged, 'dev/null')).rdev, (1 << 8) | 3);
    assert.equal(fs.lstatSync(path.join(merged, 'home/user/file')).uid, 1000);
    // Writes go to the upper dir; the layers stay as they were.
    fs.writeFileSync(path.join(merged, 'etc/passwd'), 'changed\n');
    fs.rmSync(path.join(merged, 'etc/added'));
    assert.equal(fs.readFileSync(path.join(l3, 'etc/passwd'), 'utf8'), 'root:x:0:0:new\n');
    assert.ok(fs.existsSync(path.join(l2, 'etc/added')));
    assert.equal(fs.readFileSync(path.join(upper, 'etc/passwd'), 'utf8'), 'changed\n');
  } finally {
    unmount(merged);
  }

  // Read-only views: two layers without an upper dir, and one layer (a bind mount).
  const view = path.join(root.dir, 'view');
  fs.mkdirSync(view);
  mountDescribed(describeRootfsMount({ lowerDirs: [l2, l1], target: view }));
  try {
    assert.deepEqual(fs.readdirSync(path.join(view, 'opt')), ['new']);
    assert.throws(() => fs.writeFileSync(path.join(view, 'x'), 'x'), { code: 'EROFS' });
  } finally {
    unmount(view);
  }
  const single = describeRootfsMount({ lowerDirs: [l1], target: view, readonly: true });
  assert.equal(single.fstype, 'none');
  mountDescribed(single);
  try {
    assert.equal(fs.readFileSync(path.join(view, 'etc/gone'), 'utf8'), 'deleted by layer 2\n');
    assert.throws(() => fs.writeFileSync(path.join(view, 'x'), 'x'), { code: 'EROFS' });
  } finally {
    unmount(view);
  }

  assert.ok(layers.removeLayer(chain[2]!));
  assert.equal(layers.hasLayer(chain[2]!), false);
  assert.equal(layers.removeLayer(chain[2]!), false);
});

test('a wrong expected diff id: INTEGRITY, and no layer dir appears', { skip }, async (t) => {
  const { paths } = withRoot(t);
  const layers = createLayerStore(paths);
  const tar = buildTar(TOP);
  const wrong = sha256Digest('something else');
  const chainId = sha256Digest('chain');
  await assert.rejects(
    layers.unpackInto(chainId, Readable.from([zlib.gzipSync(tar)]), wrong),
    (e) => isEngineError(e, 'INTEGRITY') && e.message === `layer ${wrong}: diff id mismatch (got ${sha256Digest(tar)}, expected ${wrong})`,
  );
  assert.equal(layers.hasLayer(chainId), false);
  assert.deepEqual(fs.readdirSync(paths.layers), []);
});

test('layer store: beforeCommit runs after the diff id verified and a rejection leaves nothing', { skip }, async (t) => {
  const { paths } = withRoot(t);
  const layers = createLayerStore(paths);
  const tar = buildTar(TOP);
  const diffId = sha256Digest(tar);
  const chainId = sha256Digest('chain');
  const refused = new Error('the blob did not verify');
  let seen: string[] = [];
  await assert.rejects(
    layers.unpackInto(chainId, Readable.from([zlib.gzipSync(tar)]), diffId, {
      beforeCommit: async () => {
        // Unpacked and verified, still under its temporary name.
        seen = fs.readdirSync(paths.layers);
        throw refused;
      },
    }),
    (e) => e === refused,
  );
  assert.equal(seen.length, 1);
  assert.match(seen[0]!, /^\.tmp-/);
  assert.equal(layers.hasLayer(chainId), false);
  assert.deepEqual(fs.readdirSync(paths.layers), []);

  let called = 0;
  await layers.unpackInto(chainId, Readable.from([zlib.gzipSync(tar)]), diffId, { beforeCommit: async () => void called++ });
  assert.equal(called, 1);
  assert.ok(layers.hasLayer(chainId));
});

test('layer store: concurrent unpacks of one layer both succeed; stale temp dirs are swept', { skip }, async (t) => {
  const { paths } = withRoot(t);
  const tar = buildTar(BASE);
  const diffId = sha256Digest(tar);
  // A temp dir left by a process that was killed, and one still owned by a live process (us).
  fs.mkdirSync(path.join(paths.layers, '.tmp-dead/diff'), { recursive: true });
  fs.writeFileSync(path.join(paths.layers, '.tmp-dead/owner'), `${deadPid()}\n`);
  fs.mkdirSync(path.join(paths.layers, '.tmp-live/diff'), { recursive: true });
  fs.writeFileSync(path.join(paths.layers, '.tmp-live/owner'), `${process.pid}\n`);
  fs.mkdirSync(path.join(paths.layers, '.rm-half/x'), { recursive: true });

  const a = createLayerStore(paths);
  const b = createLayerStore(paths);
  const [ra, rb] = await Promise.all([
    a.unpackInto(diffId, Readable.from([zlib.gzipSync(tar)]), diffId),
    b.unpackInto(diffId, Readable.from([tar]), diffId),
  ]);
  assert.equal(ra.diffId, diffId);
  assert.equal(rb.diffId, diffId);
  assert.ok(a.hasLayer(diffId));
  assert.deepEqual(fs.readdirSync(path.join(paths.layers, diffId.slice(7))).sort(), ['diff', 'diff-id']);
  assert.deepEqual(fs.readdirSync(paths.layers).sort(), ['.tmp-live', diffId.slice(7)]);
});

function deadPid(): number {
  const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  for (let pid = max - 1; pid > 1; pid--) if (!fs.existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no free pid');
}

test('corrupt and truncated compressed layers are INTEGRITY errors', { skip }, async (t) => {
  const { paths } = withRoot(t);
  const layers = createLayerStore(paths);
  const tar = buildTar(BASE);
  const gz = zlib.gzipSync(tar);
  const zst = zstd(tar);
  const chainId = sha256Digest('chain');
  const cases: Array<[string, Buffer]> = [
    ['truncated gzip', gz.subarray(0, gz.length - 20)],
    ['corrupt gzip', Buffer.concat([gz.subarray(0, 40), Buffer.alloc(200, 0x55), gz.subarray(240)])],
    ['truncated zstd', zst.subarray(0, zst.length - 20)],
    ['truncated tar', tar.subarray(0, 2048 + 100)],
    ['not a tar', Buffer.from('<html>not found</html>'.repeat(40))],
  ];
  for (const [label, blob] of cases) {
    await assert.rejects(layers.unpackInto(chainId, Readable.from([blob]), sha256Digest(tar)), (e) => isEngineError(e, 'INTEGRITY'), label);
    assert.deepEqual(fs.readdirSync(paths.layers), [], label);
  }
});

test('a layer made by GNU tar: long names, hardlinks, binary xattrs in pax records', { skip }, async (t) => {
  const { root } = withRoot(t);
  const src = path.join(root.dir, 'src');
  const longDir = path.join(src, 'd'.repeat(90), 'e'.repeat(90));
  fs.mkdirSync(longDir, { recursive: true });
  const longFile = path.join(longDir, `${'f'.repeat(120)}.txt`);
  fs.writeFileSync(longFile, 'long\n');
  fs.linkSync(longFile, path.join(src, 'hard'));
  fs.symlinkSync('d'.repeat(90), path.join(src, 'sym'));
  fs.writeFileSync(path.join(src, 'cap'), 'x');
  sys.lsetxattr(path.join(src, 'cap'), 'security.capability', CAPABILITY, 0);
  sys.lsetxattr(path.join(src, 'cap'), 'user.bin', Buffer.from([0, 0xff, 0xfe, 0x0a, 0x3d]), 0);
  const big = randomBytes(3 * 1024 * 1024 + 17);
  fs.writeFileSync(path.join(src, 'big'), big);

  for (const format of ['gnu', 'pax']) {
    const archive = path.join(root.dir, `layer-${format}.tar`);
    const args = ['--format', format, '-cf', archive, '-C', src, '.'];
    if (format === 'pax') args.unshift('--xattrs', '--xattrs-include=*');
    const made = spawnSync('tar', args);
    assert.equal(made.status, 0, made.stderr.toString());
    const out = path.join(root.dir, `out-${format}`);
    const result = await unpackLayer(fs.createReadStream(archive), out);
    assert.equal(result.diffId, sha256Digest(fs.readFileSync(archive)));
    assert.deepEqual(listAll(out), listAll(src), format);
    const outLong = path.join(out, path.relative(src, longFile));
    assert.equal(fs.readFileSync(outLong, 'utf8'), 'long\n');
    assert.equal(fs.statSync(path.join(out, 'hard')).ino, fs.statSync(outLong).ino);
    assert.equal(fs.readlinkSync(path.join(out, 'sym')), 'd'.repeat(90));
    assert.deepEqual(fs.readFileSync(path.join(out, 'big')), big);
    if (format === 'pax') {
      assert.deepEqual(sys.lgetxattr(path.join(out, 'cap'), 'security.capability'), CAPABILITY);
      assert.deepEqual(sys.lgetxattr(path.join(out, 'cap'), 'user.bin'), Buffer.from([0, 0xff, 0xfe, 0x0a, 0x3d]));
    }
  }
});

// ---- hostile layers -------------------------------------------------------

interface Hostile {
  label: string;
  entries: Entries;
  /** The entry the error must name. */
  names: string;
  /** Paths (absolute) that must not exist afterwards. */
  mustNotExist: (outside: string) => string[];
  /** Paths that must be unchanged afterwards. */
  victims?: (outside: string) => string[];
}

const HOSTILE: Hostile[] = [
  {
    label: 'dot-dot',
    entries: [{ name: 'ok', body: 'fine' }, { name: '../evil', body: 'escaped' }],
    names: '../evil',
    mustNotExist: (outside) => [path.join(outside, '..', 'evil')],
  },
  {
    label: 'dot-dot deeper',
    entries: [{ name: 'a/b/../../../../evil2', body: 'escaped' }],
    names: 'a/b/../../../../evil2',
    mustNotExist: (outside) => [path.join(outside, '..', '..', 'evil2'), path.join(outside, '..', 'evil2')],
  },
  {
    label: 'absolute',
    entries: [{ name: `/etc/dctr-evil-${process.pid}`, body: 'escaped' }],
    names: `/etc/dctr-evil-${process.pid}`,
    mustNotExist: () => [`/etc/dctr-evil-${process.pid}`],
  },
  {
    label: 'through an absolute symlink',
    entries: [{ name: 'a', type: 'symlink', linkname: '%OUTSIDE%' }, { name: 'a/file', body: 'escaped' }],
    names: 'a/file',
    mustNotExist: (outside) => [path.join(outside, 'file')],
  },
  {
    label: 'through a relative symlink',
    entries: [
      { name: 'x/y', type: 'directory' },
      { name: 'x/y/up', type: 'symlink', linkname: '../../../../../../../../../../%OUTSIDE%' },
      { name: 'x/y/up/deeper/file', body: 'escaped' },
    ],
    names: 'x/y/up/deeper/file',
    mustNotExist: (outside) => [path.join(outside, 'deeper')],
  },
  {
    label: 'hardlink to ../../etc/passwd',
    entries: [{ name: 'h', type: 'hardlink', linkname: '../../etc/passwd' }],
    names: 'h',
    mustNotExist: () => [],
  },
  {
    label: 'hardlink to an absolute path',
    entries: [{ name: 'h', type: 'hardlink', linkname: '/etc/passwd' }],
    names: 'h',
    mustNotExist: () => [],
  },
  {
    label: 'hardlink through a symlink',
    entries: [{ name: 's', type: 'symlink', linkname: '%OUTSIDE%' }, { name: 'h', type: 'hardlink', linkname: 's/victim' }],
    names: 'h',
    mustNotExist: () => [],
    victims: (outside) => [path.join(outside, 'victim')],
  },
  {
    label: 'whiteout through a symlink',
    entries: [{ name: 's', type: 'symlink', linkname: '%OUTSIDE%' }, { name: 's/.wh.victim' }],
    names: 's/.wh.victim',
    mustNotExist: () => [],
    victims: (outside) => [path.join(outside, 'victim')],
  },
  {
    label: 'opaque marker through a symlink',
    entries: [{ name: 's', type: 'symlink', linkname: '%OUTSIDE%' }, { name: 's/.wh..wh..opq' }],
    names: 's/.wh..wh..opq',
    mustNotExist: () => [],
  },
  {
    label: 'directory entry through a symlink',
    entries: [{ name: 's', type: 'symlink', linkname: '%OUTSIDE%' }, { name: 's/newdir', type: 'directory' }],
    names: 's/newdir/',
    mustNotExist: (outside) => [path.join(outside, 'newdir')],
  },
  {
    label: 'device node through a symlink',
    entries: [{ name: 's', type: 'symlink', linkname: '%OUTSIDE%' }, { name: 's/null', type: 'char-device', devmajor: 1, devminor: 3 }],
    names: 's/null',
    mustNotExist: (outside) => [path.join(outside, 'null')],
  },
];

for (const hostile of HOSTILE) {
  test(`hostile layer refused: ${hostile.label}`, { skip }, async (t) => {
    const { root, paths } = withRoot(t);
    const outside = path.join(root.dir, 'outside');
    fs.mkdirSync(outside);
    const victim = path.join(outside, 'victim');
    fs.writeFileSync(victim, 'victim\n');
    const victimStat = fs.statSync(victim);
    const passwd = fs.statSync('/etc/passwd');
    // '%OUTSIDE%' alone is the outside dir's absolute path; after '../'s, the same path without its leading slash.
    const entries = hostile.entries.map((e) =>
      e.linkname?.includes('%OUTSIDE%')
        ? { ...e, linkname: e.linkname === '%OUTSIDE%' ? outside : e.linkname.replace('%OUTSIDE%', outside.slice(1)) }
        : e,
    );
    const tar = buildTar(entries);
    const layers = createLayerStore(paths);
    const chainId = sha256Digest(`hostile ${hostile.label}`);
    const what = `layer ${sha256Digest('blob')}`;
    fs.mkdirSync(paths.layers, { recursive: true });
    const before = listAll(root.dir);
    try {
      await assert.rejects(layers.unpackInto(chainId, Readable.from([zlib.gzipSync(tar)]), sha256Digest(tar), { what }), (e) => {
        assert.ok(isEngineError(e, 'INTEGRITY'), String(e));
        assert.ok(e.message.startsWith(`${what}: entry ${JSON.stringify(hostile.names)} `), e.message);
        assert.match(e.message, /escapes the layer directory|outside the layer directory/);
        return true;
      });
      for (const p of hostile.mustNotExist(outside)) assert.equal(fs.existsSync(p), false, `${p} was written`);
      for (const p of hostile.victims?.(outside) ?? []) {
        const now = fs.lstatSync(p);
        assert.ok(now.isFile(), `${p} replaced`);
        assert.equal(now.nlink, victimStat.nlink, `${p} got a hardlink`);
      }
      assert.equal(fs.statSync('/etc/passwd').nlink, passwd.nlink, '/etc/passwd got a hardlink');
      assert.equal(sys.lgetxattr(outside, 'trusted.overlay.opaque'), null);
      assert.equal(layers.hasLayer(chainId), false);
      assert.deepEqual(fs.readdirSync(paths.layers), [], 'temporary dir removed');
      assert.deepEqual(listAll(root.dir), before, 'nothing else changed in the test root');
    } finally {
      for (const p of hostile.mustNotExist(outside)) fs.rmSync(p, { force: true, recursive: true });
    }
  });
}

test('a symlink replaced by a directory entry is not followed', { skip }, async (t) => {
  const { root } = withRoot(t);
  const outside = path.join(root.dir, 'outside');
  fs.mkdirSync(outside);
  const out = path.join(root.dir, 'layer');
  const tar = buildTar([
    { name: 'a', type: 'symlink', linkname: outside },
    { name: 'a', type: 'directory' },
    { name: 'a/file', body: 'inside' },
  ]);
  await unpackLayer(Readable.from([tar]), out);
  assert.ok(fs.lstatSync(path.join(out, 'a')).isDirectory());
  assert.equal(fs.readFileSync(path.join(out, 'a/file'), 'utf8'), 'inside');
  assert.deepEqual(fs.readdirSync(outside), []);
});

test('the last component is never followed: hardlink to a symlink, file over a symlink', { skip }, async (t) => {
  const { root } = withRoot(t);
  const outside = path.join(root.dir, 'outside');
  fs.mkdirSync(outside);
  const victim = path.join(outside, 'victim');
  fs.writeFileSync(victim, 'victim\n');
  const out = path.join(root.dir, 'layer');
  const tar = buildTar([
    { name: 's', type: 'symlink', linkname: victim },
    { name: 'h', type: 'hardlink', linkname: 's' },
    { name: 'f', type: 'symlink', linkname: victim },
    { name: 'f', body: 'replaces the symlink', mode: 0o600 },
  ]);
  await unpackLayer(Readable.from([tar]), out);
  assert.ok(fs.lstatSync(path.join(out, 'h')).isSymbolicLink(), 'the hardlink is to the symlink itself');
  assert.equal(fs.lstatSync(victim).nlink, 1);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'victim\n');
  assert.ok(fs.lstatSync(path.join(out, 'f')).isFile());
  assert.equal(fs.readFileSync(path.join(out, 'f'), 'utf8'), 'replaces the symlink');
});

// ---- content store across processes ---------------------------------------

test('content store: a writer killed with SIGKILL leaves a partial that the next one resumes', { skip }, async (t) => {
  const { paths } = withRoot(t);
  const bytes = randomBytes(8 * 1024 * 1024);
  const digest = sha256Digest(bytes);
  const storeModule = new URL('../../src/content/index.js', import.meta.url).href;
  // The child writes the first 3 MiB, says so, and waits to be killed.
  const script = `
    import { createContentStore } from ${JSON.stringify(storeModule)};
    import fs from 'node:fs';
    const bytes = fs.readFileSync(0);
    const store = createContentStore(${JSON.stringify({ blobs: paths.blobs, ingest: paths.ingest })});
    const ingest = await store.openIngest(${JSON.stringify(digest)}, bytes.length);
    ingest.write(bytes.subarray(0, 3 * 1024 * 1024));
    process.stdout.write('written\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  child.stdin.end(bytes);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => data.toString().includes('written') && resolve());
    child.on('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  const store = createContentStore(paths);
  assert.deepEqual(store.listIngests(), [{ digest, offset: 3 * 1024 * 1024, expectedSize: bytes.length, locked: true }]);
  // While the writer lives, its lock holds.
  await assert.rejects(store.openIngest(digest, bytes.length, { lockTimeoutMs: 200 }), (e) => isEngineError(e, 'CONFLICT'));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));

  const ingest = await store.openIngest(digest, bytes.length, { lockTimeoutMs: 2000 });
  assert.equal(ingest.offset, 3 * 1024 * 1024);
  ingest.write(bytes.subarray(ingest.offset));
  await ingest.commit();
  assert.equal(store.has(digest), true);
  assert.deepEqual(await store.verifyAll(), { ok: [digest], bad: [] });
  assert.deepEqual(fs.readdirSync(paths.ingest), []);
});

test('content store: a wrong digest leaves nothing visible in blobs/', { skip }, async (t) => {
  const { paths } = withRoot(t);
  const store = createContentStore(paths);
  const bytes = randomBytes(100_000);
  const claimed = sha256Digest('not these bytes') as Digest;
  const ingest = await store.openIngest(claimed, bytes.length);
  ingest.write(bytes);
  await assert.rejects(ingest.commit(), (e) => isEngineError(e, 'INTEGRITY') && e.message === `blob ${claimed}: digest mismatch (got ${sha256Digest(bytes)})`);
  assert.deepEqual(fs.existsSync(path.join(paths.blobs, 'sha256')) ? fs.readdirSync(path.join(paths.blobs, 'sha256')) : [], []);
  assert.deepEqual(store.listIngests(), []);
});
