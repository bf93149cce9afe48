import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRecordingExplainer } from '../common/index.js';
import { spawnSync } from 'node:child_process';
import { bundlePaths, ensureRootfsDir, readRootfsFile, removeBundle, resolvConf, resolveInRoot, writeEtcFiles } from './container-fs.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dctr-cfs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A rootfs with hostile symlinks next to a host file they aim at. */
function hostileRoot(t: { after(fn: () => void): void }): { root: string; outside: string } {
  const dir = tempDir(t);
  const root = path.join(dir, 'rootfs');
  const outside = path.join(dir, 'host-secret');
  fs.writeFileSync(outside, 'host:x:0:0::/:/bin/sh\n');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/lib/group'), 'app:x:1000:\n');
  fs.symlinkSync(outside, path.join(root, 'etc/passwd')); // absolute, aimed at the host
  fs.symlinkSync('../../../../../../usr/lib/group', path.join(root, 'etc/group')); // climbs, lands inside
  fs.symlinkSync('/../../..', path.join(root, 'up'));
  return { root, outside };
}

test('symlinks in the rootfs resolve as the container sees them, never outside it', (t) => {
  const { root } = hostileRoot(t);
  // /etc/passwd -> <host path>: taken inside the rootfs, where it does not exist.
  assert.ok(resolveInRoot(root, '/etc/passwd').startsWith(`${root}/`));
  assert.equal(readRootfsFile(root, '/etc/passwd'), undefined);
  assert.equal(readRootfsFile(root, '/etc/group'), 'app:x:1000:\n');
  assert.equal(resolveInRoot(root, '/up/etc/../usr/lib'), path.join(root, 'usr/lib'));
  assert.equal(resolveInRoot(root, '/../../x'), path.join(root, 'x'));
  assert.equal(readRootfsFile(root, '/no/such/file'), undefined);
});

test('a symlink loop is refused, not followed forever', (t) => {
  const root = tempDir(t);
  fs.symlinkSync('/b', path.join(root, 'a'));
  fs.symlinkSync('/a', path.join(root, 'b'));
  assert.throws(() => resolveInRoot(root, '/a/x'), /too many levels of symbolic links/);
});

test('the working directory is created inside the rootfs, through the image\'s symlinks', (t) => {
  const { root, outside } = hostileRoot(t);
  fs.symlinkSync(path.dirname(outside), path.join(root, 'work')); // /work -> the host's temp dir
  const explainer = createRecordingExplainer();
  ensureRootfsDir(root, '/work/app/data', explainer);
  assert.ok(fs.statSync(path.join(root, path.dirname(outside), 'app/data')).isDirectory());
  assert.equal(fs.existsSync(path.join(path.dirname(outside), 'app')), false);
  assert.equal(explainer.events.length, 1);
  // Existing: nothing to do; a file in the way: refused.
  ensureRootfsDir(root, '/usr/lib', explainer);
  assert.equal(explainer.events.length, 1);
  assert.throws(() => ensureRootfsDir(root, '/usr/lib/group', explainer), /not a directory/);
});

test('resolv.conf drops loopback resolvers in a private network namespace, keeps the host\'s with --network host', () => {
  const host = 'search example.org\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n';
  assert.equal(resolvConf(host, false), 'search example.org\nnameserver 10.0.0.2\noptions edns0\n');
  assert.equal(resolvConf(host, true), host);
  assert.equal(resolvConf('nameserver 127.0.0.1\n', false), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  // --dns replaces every nameserver, in any mode; search and options stay.
  assert.equal(resolvConf(host, false, ['10.9.9.9', '10.9.9.10']), 'nameserver 10.9.9.9\nnameserver 10.9.9.10\nsearch example.org\noptions edns0\n');
  assert.equal(resolvConf(host, true, ['1.1.1.1']), 'nameserver 1.1.1.1\nsearch example.org\noptions edns0\n');
});

test('the /etc files are written into the bundle with the hostname', (t) => {
  const dir = tempDir(t);
  const bundle = bundlePaths(dir, 'a'.repeat(64));
  fs.mkdirSync(bundle.dir);
  writeEtcFiles(bundle, { hostname: 'box', network: 'none' }, createRecordingExplainer());
  assert.equal(fs.readFileSync(bundle.hostname, 'utf8'), 'box\n');
  assert.match(fs.readFileSync(bundle.hosts, 'utf8'), /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(fs.readFileSync(bundle.hosts, 'utf8'), /\tbox$/m);
  assert.ok(fs.existsSync(bundle.resolvConf));
});

test('removeBundle removes the whole tree, whiteouts and hidden files included, and follows no symlink', (t) => {
  const dir = tempDir(t);
  const bundle = bundlePaths(dir, 'c'.repeat(64));
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'keep'), 'host data');
  for (const sub of [bundle.rootfs, path.join(bundle.dir, 'upper/etc/deep/er'), path.join(bundle.dir, 'work/work')]) fs.mkdirSync(sub, { recursive: true });
  fs.writeFileSync(bundle.config, '{}');
  fs.writeFileSync(path.join(bundle.dir, 'upper/etc/deep/er/.hidden'), 'x');
  fs.symlinkSync(outside, path.join(bundle.dir, 'upper/etc/to-outside')); // a directory symlink: unlinked, not entered
  fs.symlinkSync(path.join(outside, 'keep'), path.join(bundle.dir, 'upper/keep-link'));
  if (process.getuid?.() === 0) spawnSync('mknod', [path.join(bundle.dir, 'upper/etc/whiteout'), 'c', '0', '0']);
  removeBundle(bundle);
  assert.equal(fs.existsSync(bundle.dir), false);
  assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'host data');
  removeBundle(bundle); // already gone: nothing to do
});

test('removeBundle refuses while something is mounted below the bundle, and deletes nothing', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, (t) => {
  const dir = tempDir(t);
  const bundle = bundlePaths(dir, 'd'.repeat(64));
  fs.mkdirSync(bundle.rootfs, { recursive: true });
  fs.writeFileSync(bundle.config, '{}');
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', bundle.rootfs]).status, 0);
  try {
    fs.writeFileSync(path.join(bundle.rootfs, 'inside'), 'x');
    assert.throws(() => removeBundle(bundle), (error: Error) => /still mounted at .*rootfs/.test(error.message));
    assert.equal(fs.readFileSync(path.join(bundle.rootfs, 'inside'), 'utf8'), 'x');
    assert.ok(fs.existsSync(bundle.config));
  } finally {
    // Before the temp dir's own removal (an after hook), which would descend into the mount.
    spawnSync('umount', ['-l', bundle.rootfs]);
  }
});
