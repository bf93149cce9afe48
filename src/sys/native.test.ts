/**
 * Unit checks of the native addon that need no root: constants, argument
 * validation, the error shape, and the calls an unprivileged user may make
 * (statfs, FIFOs through mknod, user.* xattrs). Root-only checks live in
 * test/integration/native.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isEngineError } from '../common/index.js';
import { isNativeError, loadNativeAddon, nativeBinaryPath, nativeBuildDir, nativeConstants, sys } from './native.js';

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'didactic-native-unit-'));
});
after(() => {
  if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs fn, expects it to throw, returns what it threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected an exception');
}

describe('native constants', () => {
  test('have the values of the kernel ABI', () => {
    const c = nativeConstants();
    assert.equal(c.MS_RDONLY, 1);
    assert.equal(c.MS_NOSUID, 2);
    assert.equal(c.MS_NODEV, 4);
    assert.equal(c.MS_NOEXEC, 8);
    assert.equal(c.MS_REMOUNT, 32);
    assert.equal(c.MS_BIND, 4096);
    assert.equal(c.MS_REC, 16384);
    assert.equal(c.MS_PRIVATE, 1 << 18);
    assert.equal(c.MS_SLAVE, 1 << 19);
    assert.equal(c.MNT_DETACH, 2);
    assert.equal(c.S_IFCHR, 0o020000);
    assert.equal(c.S_IFBLK, 0o060000);
    assert.equal(c.S_IFIFO, 0o010000);
    assert.equal(c.S_IFCHR, fs.constants.S_IFCHR);
    assert.equal(c.XATTR_CREATE, 1);
    assert.equal(c.XATTR_REPLACE, 2);
    assert.equal(c.TMPFS_MAGIC, 0x01021994);
    assert.equal(c.OVERLAYFS_SUPER_MAGIC, 0x794c7630);
    assert.equal(c.PROC_SUPER_MAGIC, 0x9fa0);
  });

  test('are frozen', () => {
    const c = nativeConstants() as { MS_RDONLY: number };
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      c.MS_RDONLY = 2;
    }, TypeError);
  });
});

describe('native statfs', () => {
  test('reports /proc as procfs', () => {
    const info = sys.statfs('/proc');
    assert.equal(info.type, nativeConstants().PROC_SUPER_MAGIC);
    assert.equal(typeof info.bsize, 'number');
    assert.ok(info.namelen > 0);
  });

  test('reports numbers that agree with fs.statfsSync', () => {
    const ours = sys.statfs(dir);
    const node = fs.statfsSync(dir);
    assert.equal(ours.type, node.type);
    assert.equal(ours.bsize, node.bsize);
    assert.equal(ours.blocks, node.blocks);
    assert.equal(ours.files, node.files);
  });

  test('throws an fs-style ENOENT for a missing path', () => {
    const missing = path.join(dir, 'missing');
    const error = thrown(() => sys.statfs(missing));
    assert.ok(isNativeError(error, 'ENOENT'));
    assert.equal(error.errno, -2);
    assert.equal(error.syscall, 'statfs');
    assert.equal(error.path, missing);
    assert.equal(error.message, `ENOENT: no such file or directory, statfs '${missing}'`);
  });
});

describe('native argument checks', () => {
  test('reject wrong types, fractions, NUL bytes and missing arguments', () => {
    const addon = loadNativeAddon() as unknown as Record<string, (...args: unknown[]) => unknown>;
    const mount = addon.mount!;
    assert.throws(() => mount(null, 42, null, 0, null), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => mount(null, '/x', null, 1.5, null), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => mount(null, '/x', null, 2 ** 33, null), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => mount(null, '/x\0/y', null, 0, null), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => mount(null, '/x'), { code: 'ERR_MISSING_ARGS' });
    assert.throws(() => addon.lsetxattr!('/x', 'user.a', 'not a buffer', 0), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => addon.lsetxattr!('/x', 'user.a', new Uint16Array(2), 0), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('native mknod', () => {
  test('makes a FIFO, and EEXIST the second time', () => {
    const c = nativeConstants();
    const fifo = path.join(dir, 'fifo');
    sys.mknod(fifo, c.S_IFIFO | 0o640, 0, 0);
    const st = fs.lstatSync(fifo);
    assert.ok(st.isFIFO());
    assert.equal(st.mode & 0o777, 0o640 & ~process.umask());
    const error = thrown(() => sys.mknod(fifo, c.S_IFIFO | 0o600, 0, 0));
    assert.ok(isNativeError(error, 'EEXIST'));
    assert.equal(error.syscall, 'mknod');
  });
});

describe('native user xattrs', () => {
  test('set, get, list and miss a user.* attribute on a regular file', (t) => {
    const c = nativeConstants();
    const file = path.join(dir, 'with-xattr');
    fs.writeFileSync(file, 'x');
    try {
      sys.lsetxattr(file, 'user.didactic.test', Buffer.from('value\0bytes'), 0);
    } catch (error) {
      if (isNativeError(error, 'ENOTSUP')) return t.skip(`${os.tmpdir()} does not support user xattrs`);
      throw error;
    }
    assert.deepEqual(sys.lgetxattr(file, 'user.didactic.test'), Buffer.from('value\0bytes'));
    assert.ok(sys.llistxattr(file).includes('user.didactic.test'));
    assert.equal(sys.lgetxattr(file, 'user.didactic.absent'), null);
    sys.lsetxattr(file, 'user.didactic.test', 'replaced', c.XATTR_REPLACE);
    assert.equal(sys.lgetxattr(file, 'user.didactic.test')?.toString(), 'replaced');
    const exists = thrown(() => sys.lsetxattr(file, 'user.didactic.test', 'again', c.XATTR_CREATE));
    assert.ok(isNativeError(exists, 'EEXIST'));
    const absent = thrown(() => sys.lsetxattr(file, 'user.didactic.other', 'x', c.XATTR_REPLACE));
    assert.ok(isNativeError(absent, 'ENODATA'));
  });

  test('report ENOENT for a missing file', () => {
    const missing = path.join(dir, 'nothing-here');
    assert.ok(isNativeError(thrown(() => sys.lgetxattr(missing, 'user.a')), 'ENOENT'));
    assert.ok(isNativeError(thrown(() => sys.llistxattr(missing)), 'ENOENT'));
    assert.ok(isNativeError(thrown(() => sys.lsetxattr(missing, 'user.a', 'v', 0)), 'ENOENT'));
  });
});

describe('native loading', () => {
  test('a missing addon is an UNAVAILABLE engine error with a hint', () => {
    const error = thrown(() => loadNativeAddon(path.join(dir, 'nope.node')));
    assert.ok(isEngineError(error, 'UNAVAILABLE'));
    assert.match(error.message, /^load native addon .*nope\.node: file not found$/);
    assert.equal(error.hint, 'run npm ci (needs g++ and make)');
  });

  test('a file that is not an addon is an UNAVAILABLE engine error with the cause', () => {
    const bogus = path.join(dir, 'bogus.node');
    fs.writeFileSync(bogus, 'not an elf file');
    const error = thrown(() => loadNativeAddon(bogus));
    assert.ok(isEngineError(error, 'UNAVAILABLE'));
    assert.ok(error.cause instanceof Error);
  });

  test('nativeBinaryPath finds the probe and refuses paths and unknown names', () => {
    const probe = nativeBinaryPath('didactic-probe');
    assert.equal(probe, path.join(nativeBuildDir(), 'didactic-probe'));
    assert.ok(path.isAbsolute(probe));
    assert.ok(fs.statSync(probe).isFile());
    assert.ok(isEngineError(thrown(() => nativeBinaryPath('../didactic-probe')), 'INVALID_ARGUMENT'));
    assert.ok(isEngineError(thrown(() => nativeBinaryPath('no-such-binary')), 'UNAVAILABLE'));
  });
});
