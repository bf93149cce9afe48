/**
 * The native addon and the probe against the real kernel. The mount, device
 * and trusted.* xattr checks need root; the probe checks run as anyone.
 * Every mount made here is undone in a finally block, innermost first.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { isNativeError, nativeBinaryPath, nativeConstants, sys } from '../../src/sys/index.js';

const needsRoot = { skip: process.getuid?.() !== 0 ? 'needs root' : false };
const ST_RDONLY = 1;

/** The mount points of this process's mount namespace. */
function mountPoints(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected an exception');
}

/**
 * Runs fn with a fresh tmpfs mounted on a temp dir. `track` registers further
 * mounts made inside; all of them are detached afterwards, newest first.
 */
function withTmpfs(fn: (dir: string, track: (target: string) => void) => void): void {
  const c = nativeConstants();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'didactic-native-it-'));
  const mounted: string[] = [];
  try {
    sys.mount('didactic-test', dir, 'tmpfs', c.MS_NOSUID | c.MS_NODEV, 'size=4m,mode=0755');
    mounted.push(dir);
    fn(dir, (target) => mounted.push(target));
  } finally {
    for (const target of mounted.reverse()) {
      try {
        sys.umount2(target, c.MNT_DETACH);
      } catch (error) {
        if (!isNativeError(error, 'EINVAL')) throw error; // EINVAL: already unmounted by the test
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!mountPoints().includes(dir), `${dir} is still mounted`);
}

describe('native mount and umount2 (root)', needsRoot, () => {
  test('mount a tmpfs, see it in statfs and mountinfo, remount read-only, unmount', () => {
    const c = nativeConstants();
    withTmpfs((dir) => {
      assert.equal(sys.statfs(dir).type, c.TMPFS_MAGIC);
      assert.ok(mountPoints().includes(dir));
      fs.writeFileSync(path.join(dir, 'file'), 'data');

      sys.mount(null, dir, null, c.MS_REMOUNT | c.MS_RDONLY | c.MS_NOSUID | c.MS_NODEV, null);
      assert.equal(sys.statfs(dir).flags & ST_RDONLY, ST_RDONLY);
      assert.throws(() => fs.writeFileSync(path.join(dir, 'other'), 'x'), { code: 'EROFS' });
      assert.equal(fs.readFileSync(path.join(dir, 'file'), 'utf8'), 'data');

      sys.umount2(dir, 0);
      assert.ok(!mountPoints().includes(dir));
      assert.notEqual(sys.statfs(dir).type, c.TMPFS_MAGIC);
    });
  });

  test('bind-mount a directory onto another', () => {
    const c = nativeConstants();
    withTmpfs((dir, track) => {
      const source = path.join(dir, 'source');
      const target = path.join(dir, 'target');
      fs.mkdirSync(source);
      fs.mkdirSync(target);
      fs.writeFileSync(path.join(source, 'seen'), 'through the bind');
      sys.mount(source, target, null, c.MS_BIND, null);
      track(target);
      assert.equal(fs.readFileSync(path.join(target, 'seen'), 'utf8'), 'through the bind');
      sys.umount2(target, 0);
      assert.deepEqual(fs.readdirSync(target), []);
    });
  });

  test('failures carry code, negative errno, syscall and path', () => {
    withTmpfs((dir) => {
      const missing = path.join(dir, 'missing');
      const noTarget = thrown(() => sys.mount('none', missing, 'tmpfs', 0, null));
      assert.ok(isNativeError(noTarget, 'ENOENT'));
      assert.equal(noTarget.errno, -2);
      assert.equal(noTarget.syscall, 'mount');
      assert.equal(noTarget.path, missing);

      const noFs = thrown(() => sys.mount('none', dir, 'didactic-no-such-fs', 0, null));
      assert.ok(isNativeError(noFs, 'ENODEV'));

      const plain = path.join(dir, 'plain');
      fs.mkdirSync(plain);
      const notMounted = thrown(() => sys.umount2(plain, 0));
      assert.ok(isNativeError(notMounted, 'EINVAL'));
      assert.equal(notMounted.syscall, 'umount2');
      assert.ok(isNativeError(thrown(() => sys.umount2(missing, 0)), 'ENOENT'));
    });
  });

  test('umount2Async detaches on a worker thread and rejects with the same fs-style errors', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'didactic-native-it-'));
    try {
      sys.mount('none', dir, 'tmpfs', 0, null);
      try {
        assert.ok(mountPoints().includes(dir));
        await sys.umount2Async(dir, nativeConstants().MNT_DETACH);
        assert.ok(!mountPoints().includes(dir));
      } finally {
        if (mountPoints().includes(dir)) sys.umount2(dir, nativeConstants().MNT_DETACH);
      }
      const notMounted = await sys.umount2Async(dir, 0).then(() => undefined, (error: unknown) => error);
      assert.ok(isNativeError(notMounted, 'EINVAL'));
      assert.equal(notMounted.syscall, 'umount2');
      assert.equal(notMounted.path, dir);
      const missing = await sys.umount2Async(path.join(dir, 'missing'), 0).then(() => undefined, (error: unknown) => error);
      assert.ok(isNativeError(missing, 'ENOENT'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('native mknod (root)', needsRoot, () => {
  test('a 0/0 character device (an overlay whiteout) and /dev/null twin', () => {
    const c = nativeConstants();
    withTmpfs((dir) => {
      const whiteout = path.join(dir, 'whiteout');
      sys.mknod(whiteout, c.S_IFCHR | 0o000, 0, 0);
      const st = fs.lstatSync(whiteout);
      assert.ok(st.isCharacterDevice());
      assert.equal(st.rdev, 0);
      assert.equal(st.mode & 0o7777, 0);

      const nullDevice = path.join(dir, 'null');
      sys.mknod(nullDevice, c.S_IFCHR | 0o666, 1, 3);
      assert.equal(fs.lstatSync(nullDevice).rdev, fs.statSync('/dev/null').rdev);

      const again = thrown(() => sys.mknod(whiteout, c.S_IFCHR, 0, 0));
      assert.ok(isNativeError(again, 'EEXIST'));
      assert.ok(isNativeError(thrown(() => sys.mknod(path.join(dir, 'no/dir'), c.S_IFCHR, 0, 0)), 'ENOENT'));
    });
  });
});

/** The trusted.* checks, on whatever filesystem `dir` is on. */
function checkTrustedXattrs(dir: string): void {
  const c = nativeConstants();
  const opaque = path.join(dir, 'opaque-dir');
  const file = path.join(dir, 'file');
  const link = path.join(dir, 'link');
  fs.mkdirSync(opaque);
  fs.writeFileSync(file, 'target');
  fs.symlinkSync(file, link);

  sys.lsetxattr(opaque, 'trusted.overlay.opaque', Buffer.from('y'), c.XATTR_CREATE);
  assert.deepEqual(sys.lgetxattr(opaque, 'trusted.overlay.opaque'), Buffer.from('y'));
  assert.ok(sys.llistxattr(opaque).includes('trusted.overlay.opaque'));
  assert.ok(isNativeError(thrown(() => sys.lsetxattr(opaque, 'trusted.overlay.opaque', 'y', c.XATTR_CREATE)), 'EEXIST'));

  // The l* calls act on the link itself, never on the file it points to.
  sys.lsetxattr(link, 'trusted.didactic.on-link', Buffer.alloc(0), 0);
  assert.deepEqual(sys.lgetxattr(link, 'trusted.didactic.on-link'), Buffer.alloc(0));
  assert.equal(sys.lgetxattr(file, 'trusted.didactic.on-link'), null);
  assert.ok(sys.llistxattr(link).includes('trusted.didactic.on-link'));
  assert.ok(!sys.llistxattr(file).includes('trusted.didactic.on-link'));

  const missing = thrown(() => sys.lgetxattr(path.join(dir, 'missing'), 'trusted.overlay.opaque'));
  assert.ok(isNativeError(missing, 'ENOENT'));
  assert.equal(missing.syscall, 'lgetxattr');
}

describe('native trusted.* xattrs (root)', needsRoot, () => {
  test('on tmpfs, including on a symlink', () => {
    withTmpfs((dir) => checkTrustedXattrs(dir));
  });

  test(`on the filesystem of ${os.tmpdir()}, including on a symlink`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'didactic-native-xattr-'));
    try {
      checkTrustedXattrs(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('native calls together: an overlay with a whiteout and an opaque dir (root)', needsRoot, () => {
  test('the merged view hides what the upper layer deletes', () => {
    const c = nativeConstants();
    withTmpfs((dir, track) => {
      const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((name) => path.join(dir, name)) as [string, string, string, string];
      for (const d of [lower, upper, work, merged]) fs.mkdirSync(d);
      fs.writeFileSync(path.join(lower, 'deleted'), 'gone');
      fs.writeFileSync(path.join(lower, 'kept'), 'kept');
      fs.mkdirSync(path.join(lower, 'replaced'));
      fs.writeFileSync(path.join(lower, 'replaced', 'old'), 'hidden');
      sys.mknod(path.join(upper, 'deleted'), c.S_IFCHR, 0, 0);
      fs.mkdirSync(path.join(upper, 'replaced'));
      sys.lsetxattr(path.join(upper, 'replaced'), 'trusted.overlay.opaque', 'y', 0);

      sys.mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work}`);
      track(merged);
      assert.equal(sys.statfs(merged).type, c.OVERLAYFS_SUPER_MAGIC);
      assert.deepEqual(fs.readdirSync(merged).sort(), ['kept', 'replaced']);
      assert.deepEqual(fs.readdirSync(path.join(merged, 'replaced')), []);
      sys.umount2(merged, 0);
    });
  });
});

describe('didactic-probe', () => {
  const probe = nativeBinaryPath('didactic-probe');

  test('report prints one JSON object that matches this host', () => {
    const run = spawnSync(probe, ['report'], { encoding: 'utf8', env: { ...process.env, DIDACTIC_PROBE_MARK: 'a "quoted"\nvalue' } });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.pid, run.pid);
    assert.equal(report.ppid, process.pid);
    assert.equal(report.uid, process.getuid?.());
    assert.equal(report.gid, process.getgid?.());
    assert.equal(report.hostname, os.hostname());
    assert.equal(report.cwd, process.cwd());
    assert.ok(report.env.includes('DIDACTIC_PROBE_MARK=a "quoted"\nvalue'));
    assert.match(report.status.CapEff, /^[0-9a-f]{16}$/);
    assert.equal(report.status.NoNewPrivs, '0');
    assert.ok(report.processes > 1);
    assert.equal(typeof report.rlimit_nofile.soft, 'number');
    for (const check of ['mount', 'unshare_mnt', 'ptrace_pid1', 'proc_sys_write']) {
      assert.equal(typeof report.checks[check].ok, 'boolean', check);
    }
    if (process.getuid?.() === 0) {
      assert.deepEqual(report.checks.mount, { ok: true, errno: null });
      assert.deepEqual(report.checks.unshare_mnt, { ok: true, errno: null });
    } else {
      assert.equal(report.checks.mount.errno, 'EPERM');
    }
  });

  test('exit N exits N; bad arguments exit 2', () => {
    assert.equal(spawnSync(probe, ['exit', '7']).status, 7);
    assert.equal(spawnSync(probe, ['exit', '0']).status, 0);
    assert.equal(spawnSync(probe, ['exit', '256']).status, 2);
    assert.equal(spawnSync(probe, ['nonsense']).status, 2);
  });

  test('forks 3 prints 3', () => {
    const run = spawnSync(probe, ['forks', '3'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '3\n');
  });

  test('sleep waits about as long as asked', () => {
    const started = Date.now();
    assert.equal(spawnSync(probe, ['sleep', '0.3']).status, 0);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 280 && elapsed < 3000, `slept ${elapsed} ms`);
  });

  test('hog allocates, reports progress and holds until killed', async () => {
    const child = spawn(probe, ['hog', '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let output = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('holding')) resolve();
        });
        child.on('exit', () => reject(new Error(`hog exited early: ${output}`)));
      });
      assert.match(output, /allocated 4 MiB\nhog: holding 4 MiB\n/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
        child.kill('SIGKILL');
        assert.equal(await exited, 'SIGKILL');
      }
    }
  });
});

describe('crc32 (the CLI code cache check)', () => {
  test('equals zlib CRC-32 for every length and alignment, and sees a flipped bit', async () => {
    const { crc32: zlibCrc32 } = await import('node:zlib');
    const addonFile = path.join(path.dirname(nativeBinaryPath('didactic-launcher')), 'didactic_native.node');
    const module = { exports: {} as { crc32(data: Uint8Array): number } };
    process.dlopen(module, addonFile);
    const data = Buffer.alloc(70_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    for (const [start, end] of [[0, 0], [0, 1], [1, 8], [3, 17], [5, 4096], [7, 70_000], [0, 70_000]] as const) {
      const slice = data.subarray(start, end);
      assert.equal(module.exports.crc32(slice), zlibCrc32(slice), `bytes ${start}..${end}`);
    }
    const flipped = Buffer.from(data);
    flipped[40_000] = flipped[40_000]! ^ 0x10;
    assert.notEqual(module.exports.crc32(flipped), module.exports.crc32(data));
    assert.throws(() => module.exports.crc32('not bytes' as unknown as Uint8Array), TypeError);
  });
});
