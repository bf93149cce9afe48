import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ALL_CAPABILITIES,
  capabilityNumber,
  capsToMask,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultDeviceRules,
  defaultMounts,
  defaultRlimits,
  maskToCaps,
} from './defaults.js';

describe('capabilities', () => {
  it('numbers the 41 capabilities as the kernel does', () => {
    assert.equal(ALL_CAPABILITIES.length, 41);
    assert.equal(capabilityNumber('CAP_CHOWN'), 0);
    assert.equal(capabilityNumber('CAP_NET_ADMIN'), 12);
    assert.equal(capabilityNumber('CAP_SYS_ADMIN'), 21);
    assert.equal(capabilityNumber('CAP_SYS_RESOURCE'), 24);
    assert.equal(capabilityNumber('CAP_SETFCAP'), 31);
    assert.equal(capabilityNumber('CAP_CHECKPOINT_RESTORE'), 40);
    assert.equal(capabilityNumber('CAP_NOPE'), undefined);
  });

  it("Docker's default set is CapEff 00000000a80425fb", () => {
    assert.equal(capsToMask(DEFAULT_CAPABILITIES), 0xa80425fbn);
    assert.equal(capsToMask(DEFAULT_CAPABILITIES).toString(16).padStart(16, '0'), '00000000a80425fb');
    assert.equal(DEFAULT_CAPABILITIES.length, 14);
  });

  it('all capabilities make 0x1ffffffffff; masks round-trip', () => {
    assert.equal(capsToMask(ALL_CAPABILITIES), (1n << 41n) - 1n);
    assert.deepEqual(new Set(maskToCaps(0xa80425fbn)), new Set(DEFAULT_CAPABILITIES));
    assert.equal(capsToMask([]), 0n);
    assert.throws(() => capsToMask(['NET_ADMIN']), /unknown capability/);
  });
});

describe('paths, devices, mounts, rlimits', () => {
  it('masks /proc/kcore and friends and makes /proc/sys read-only', () => {
    for (const p of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/sys/firmware']) {
      assert.ok(DEFAULT_MASKED_PATHS.includes(p), p);
    }
    for (const p of ['/proc/sys', '/proc/sysrq-trigger', '/proc/bus', '/proc/fs', '/proc/irq']) {
      assert.ok(DEFAULT_READONLY_PATHS.includes(p), p);
    }
  });

  it('denies all devices first, then allows the standard ones, ptmx and pts', () => {
    const rules = defaultDeviceRules();
    assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
    const allowed = (major: number, minor?: number) =>
      rules.some((r) => r.allow && r.type === 'c' && r.major === major && r.minor === minor && r.access === 'rwm');
    for (const [major, minor] of [[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2]] as const) {
      assert.ok(allowed(major, minor), `${major}:${minor}`);
    }
    assert.ok(allowed(136), 'pts');
    assert.ok(!rules.slice(1).some((r) => r.allow && r.type === 'b' && r.access !== 'm'), 'no block device is usable');
  });

  it('mounts proc, a small /dev tmpfs, a new devpts, sysfs read-only, mqueue and a 64m shm', () => {
    const mounts = defaultMounts();
    const by = new Map(mounts.map((m) => [m.destination, m]));
    assert.deepEqual(mounts.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
    assert.equal(by.get('/proc')!.type, 'proc');
    assert.ok(by.get('/dev')!.options!.includes('size=65536k'));
    assert.ok(by.get('/dev')!.options!.includes('mode=755'));
    assert.ok(by.get('/dev/pts')!.options!.includes('newinstance'));
    assert.ok(by.get('/dev/pts')!.options!.includes('ptmxmode=0666'));
    assert.ok(by.get('/dev/pts')!.options!.includes('gid=5'));
    assert.ok(by.get('/sys')!.options!.includes('ro'));
    assert.ok(by.get('/sys/fs/cgroup')!.options!.includes('ro'));
    assert.ok(by.get('/dev/shm')!.options!.includes(`size=${64 * 1024 * 1024}`));
    const privileged = new Map(defaultMounts({ privileged: true }).map((m) => [m.destination, m]));
    assert.ok(privileged.get('/sys')!.options!.includes('rw'));
  });

  it('never asks for a higher open-files limit than the engine has', () => {
    assert.deepEqual(defaultRlimits(20000), [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 }]);
    assert.deepEqual(defaultRlimits(512), [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 512 }]);
  });
});
