import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isEngineError } from '../common/index.js';
import {
  compileSeccomp,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultMounts,
  planSpec,
  type Spec,
} from '../spec/index.js';
import { nativeConstants } from '../sys/index.js';
import {
  CLONE_FLAGS,
  encodeLaunchPlan,
  LAUNCH_PLAN_MAGIC,
  MS,
  parseMountOptions,
  planLaunch,
  RLIM_INFINITY,
  TAGS,
  type LaunchSpec,
} from './launch-plan.js';

const ROOTFS = '/var/lib/didactic-container/containers/abc/rootfs';

/** A spec with Docker's defaults, written by hand as the launcher tests do. */
function dockerSpec(overrides: Partial<Spec['process']> = {}): LaunchSpec {
  const caps = [...DEFAULT_CAPABILITIES];
  return {
    process: {
      terminal: false,
      user: { uid: 1000, gid: 1000, additionalGids: [1001, 27] },
      args: ['/probe', 'report'],
      env: ['PATH=/bin', 'HOME=/'],
      cwd: '/work',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 }],
      noNewPrivileges: false,
      ...overrides,
    },
    hostname: 'c0ffee',
    mounts: defaultMounts(),
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
      sysctl: { 'net.ipv4.ip_unprivileged_port_start': '0' },
    },
  };
}

function invalidArgument(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error) => isEngineError(error, 'INVALID_ARGUMENT') && pattern.test(error.message));
}

/** Reads the wire format back: [tag, payload][]. */
function decode(buffer: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  for (let at = 0; at < buffer.length; ) {
    const length = buffer.readUInt32LE(at + 4);
    out.push([buffer.readUInt32LE(at), buffer.subarray(at + 8, at + 8 + length)]);
    at += 8 + length;
  }
  return out;
}

/** A payload as u64 numbers (the first `numbers`) and NUL-terminated strings. */
function fields(payload: Buffer, numbers: number): { n: bigint[]; s: string[] } {
  const n = Array.from({ length: numbers }, (_, i) => payload.readBigUInt64LE(i * 8));
  const rest = payload.subarray(numbers * 8).toString('utf8');
  return { n, s: rest === '' ? [] : rest.slice(0, -1).split('\0') };
}

describe('parseMountOptions', () => {
  test('flags, propagation and data, as runc reads them', () => {
    assert.deepEqual(parseMountOptions(['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']), {
      flags: MS.NOSUID | MS.NOEXEC,
      propagation: 0,
      data: 'newinstance,ptmxmode=0666,mode=0620,gid=5',
    });
    assert.deepEqual(parseMountOptions(['rbind', 'ro', 'rprivate']), { flags: MS.BIND | MS.REC | MS.RDONLY, propagation: MS.PRIVATE | MS.REC, data: '' });
    assert.equal(parseMountOptions(['ro', 'rw']).flags, 0, 'a later rw clears an earlier ro');
    assert.equal(parseMountOptions(['nosuid', 'strictatime', 'x-didactic.note', 'size=65536k']).data, 'size=65536k');
  });

  test('the flag numbers are the kernel headers\' ones', (t) => {
    let c;
    try {
      c = nativeConstants();
    } catch {
      t.skip('native addon not built');
      return;
    }
    for (const [name, value] of Object.entries(MS)) assert.equal(value, c[`MS_${name}` as keyof typeof c], `MS_${name}`);
  });
});

describe('planLaunch', () => {
  test('Docker defaults: namespaces, caps, devices, paths, identity', () => {
    const plan = planLaunch(dockerSpec(), { rootfs: ROOTFS });
    const expectFlags = CLONE_FLAGS.pid | CLONE_FLAGS.network | CLONE_FLAGS.ipc | CLONE_FLAGS.uts | CLONE_FLAGS.mount | CLONE_FLAGS.cgroup;
    assert.equal(plan.cloneFlags, expectFlags);
    assert.equal(plan.cloneFlags, 0x6e020000);
    assert.deepEqual(plan.joinNamespaces, []);
    assert.equal(plan.rootfsPropagation, MS.PRIVATE | MS.REC);
    assert.equal(plan.capabilities?.effective, 0xa80425fbn);
    assert.equal(plan.capabilities?.bounding, 0xa80425fbn);
    assert.equal(plan.capabilities?.ambient, 0n);
    assert.deepEqual(
      plan.devices.map((d) => [d.path, d.mode, d.major, d.minor]),
      [
        ['/dev/null', 0o20666, 1, 3], ['/dev/zero', 0o20666, 1, 5], ['/dev/full', 0o20666, 1, 7],
        ['/dev/random', 0o20666, 1, 8], ['/dev/urandom', 0o20666, 1, 9], ['/dev/tty', 0o20666, 5, 0],
      ],
    );
    assert.deepEqual(plan.links.find(([p]) => p === '/dev/ptmx'), ['/dev/ptmx', 'pts/ptmx']);
    assert.equal(plan.links.length, 5);
    assert.ok(plan.maskedPaths.includes('/proc/kcore'));
    assert.ok(plan.readonlyPaths.includes('/proc/sys'));
    assert.deepEqual(plan.sysctls, [{ path: 'net/ipv4/ip_unprivileged_port_start', value: '0' }]);
    assert.deepEqual([plan.uid, plan.gid, plan.additionalGids, plan.umask], [1000, 1000, [1001, 27], 0o022]);
    assert.deepEqual(plan.rlimits, [{ resource: 7, soft: 1024n, hard: 20000n }]);
    assert.equal(plan.hostname, 'c0ffee');
    const proc = plan.mounts[0]!;
    assert.deepEqual(proc, { source: 'proc', target: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NOEXEC | MS.NODEV, propagation: 0, data: '' });
    const shm = plan.mounts.find((m) => m.target === '/dev/shm')!;
    assert.equal(shm.data, 'mode=1777,size=67108864');
  });

  test('a cgroup mount becomes cgroup2, or a tmpfs with each v1 hierarchy, read-only at the end', () => {
    const v2 = planLaunch(dockerSpec(), { rootfs: ROOTFS }).mounts.filter((m) => m.target.startsWith('/sys/fs/cgroup'));
    assert.deepEqual(v2.map((m) => [m.fstype, m.target, (m.flags & MS.RDONLY) !== 0]), [['cgroup2', '/sys/fs/cgroup', true]]);

    const layout = {
      mode: 'hybrid' as const,
      v1Mounts: { cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct', memory: '/sys/fs/cgroup/memory' },
    };
    const v1 = planLaunch(dockerSpec(), { rootfs: ROOTFS, cgroupLayout: layout }).mounts.filter((m) => m.target.startsWith('/sys/fs/cgroup'));
    assert.deepEqual(
      v1.map((m) => [m.fstype, m.target, m.data, (m.flags & MS.RDONLY) !== 0, (m.flags & MS.REMOUNT) !== 0]),
      [
        ['tmpfs', '/sys/fs/cgroup', 'mode=755', false, false],
        ['cgroup', '/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct', true, false],
        ['cgroup', '/sys/fs/cgroup/memory', 'memory', true, false],
        ['', '/sys/fs/cgroup', '', true, true],
      ],
    );
    const none = planLaunch(dockerSpec(), { rootfs: ROOTFS, cgroupLayout: { mode: 'none', v1Mounts: {} } });
    assert.ok(!none.mounts.some((m) => m.target.startsWith('/sys/fs/cgroup')));
  });

  test('a namespace with a path is joined, not created', () => {
    const spec = dockerSpec();
    spec.linux.namespaces = [{ type: 'mount' }, { type: 'network', path: '/run/netns/x' }, { type: 'user', path: '/proc/9/ns/user' }];
    const plan = planLaunch({ ...spec, hostname: undefined }, { rootfs: ROOTFS });
    assert.equal(plan.cloneFlags, CLONE_FLAGS.mount);
    assert.deepEqual(plan.joinNamespaces.map((n) => [n.type, n.flag, n.path]), [
      ['user', CLONE_FLAGS.user, '/proc/9/ns/user'],
      ['network', CLONE_FLAGS.network, '/run/netns/x'],
    ]);
  });

  test('binds: /dev bound from the host means no device nodes; relative sources are refused', () => {
    const spec = dockerSpec();
    spec.mounts = [{ destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }, { destination: '/etc/hosts', source: '/x/hosts', options: ['bind', 'ro'] }];
    const plan = planLaunch(spec, { rootfs: ROOTFS });
    assert.deepEqual(plan.devices, []);
    assert.deepEqual(plan.links, []);
    assert.deepEqual(plan.mounts[1], { source: '/x/hosts', target: '/etc/hosts', fstype: '', flags: MS.BIND | MS.RDONLY, propagation: 0, data: '' });
    spec.mounts = [{ destination: '/data', type: 'bind', source: 'data' }];
    invalidArgument(() => planLaunch(spec, { rootfs: ROOTFS }), /bind mount source "data" is not absolute/);
  });

  test('extra devices are added to the defaults; unlimited rlimits and oomScoreAdj are carried', () => {
    const spec = dockerSpec({ rlimits: [{ type: 'RLIMIT_CORE', soft: -1, hard: 18446744073709552000 }], oomScoreAdj: -500 });
    spec.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600 }];
    const plan = planLaunch(spec, { rootfs: ROOTFS });
    assert.equal(plan.devices.length, 7);
    assert.deepEqual(plan.devices.at(-1), { path: '/dev/fuse', mode: 0o20600, major: 10, minor: 229, uid: 0, gid: 0 });
    assert.deepEqual(plan.rlimits, [{ resource: 4, soft: RLIM_INFINITY, hard: RLIM_INFINITY }]);
    assert.equal(plan.oomScoreAdj, -500);
  });

  test('refuses what cannot be launched safely', () => {
    const noMountNs = dockerSpec();
    noMountNs.linux.namespaces = [{ type: 'pid' }, { type: 'uts' }];
    invalidArgument(() => planLaunch(noMountNs, { rootfs: ROOTFS }), /new mount namespace is required/);
    const noUts = dockerSpec();
    noUts.linux.namespaces = [{ type: 'mount' }];
    invalidArgument(() => planLaunch(noUts, { rootfs: ROOTFS }), /hostname needs a new uts namespace/);
    invalidArgument(() => planLaunch(dockerSpec(), { rootfs: 'relative/rootfs' }), /rootfs "relative\/rootfs" is not absolute/);
    invalidArgument(() => planLaunch(dockerSpec({ args: ['/bin/sh', 'a\0b'] }), { rootfs: ROOTFS }), /argument contains a NUL byte/);
    invalidArgument(() => planLaunch(dockerSpec({ args: [] }), { rootfs: ROOTFS }), /no command/);
    invalidArgument(() => planLaunch(dockerSpec({ cwd: 'work' }), { rootfs: ROOTFS }), /cwd "work" is not absolute/);
    const badCap = dockerSpec({ capabilities: { bounding: ['CAP_FLY'], effective: [], permitted: [] } });
    invalidArgument(() => planLaunch(badCap, { rootfs: ROOTFS }), /unknown capability "CAP_FLY"/);
    const badSysctl = dockerSpec();
    badSysctl.linux.sysctl = { '../../etc/passwd': 'x' };
    invalidArgument(() => planLaunch(badSysctl, { rootfs: ROOTFS }), /invalid sysctl name/);
    invalidArgument(() => planLaunch(dockerSpec(), { rootfs: ROOTFS, seccompFilter: Buffer.alloc(12) }), /seccomp filter of 12 bytes/);
    const shared = dockerSpec();
    shared.linux.rootfsPropagation = 'rshared';
    assert.throws(() => planLaunch(shared, { rootfs: ROOTFS }), (error) => isEngineError(error, 'NOT_IMPLEMENTED'));
  });

  test('accepts the spec planner\'s output, seccomp filter included', () => {
    const spec = planSpec(
      { containerId: 'a'.repeat(64), imageConfig: { Cmd: ['/bin/sh'] }, rootfsPath: ROOTFS },
      { nofileHard: 20000 },
    );
    const filter = compileSeccomp(spec.linux.seccomp!).toBuffer();
    const plan = planLaunch(spec, { rootfs: ROOTFS, seccompFilter: filter });
    assert.equal(plan.capabilities?.effective, 0xa80425fbn);
    assert.equal(plan.cloneFlags, 0x6e020000);
    assert.deepEqual(plan.args, ['/bin/sh']);
    assert.equal(plan.seccompFilter, filter);
  });
});

describe('encodeLaunchPlan', () => {
  test('records in the documented layout, MAGIC first, repeated records in order', () => {
    const filter = Buffer.from('0600000000000000', 'hex'); // one instruction: return KILL
    const plan = planLaunch(dockerSpec({ noNewPrivileges: true, args: ['sh', '-c', 'echo hi'] }), { rootfs: ROOTFS, seccompFilter: filter });
    const records = decode(encodeLaunchPlan(plan));
    const tags = records.map(([tag]) => tag);
    assert.equal(tags[0], TAGS.MAGIC);
    assert.deepEqual(fields(records[0]![1], 0).s, [LAUNCH_PLAN_MAGIC]);
    const one = (tag: number) => {
      const found = records.filter(([t]) => t === tag);
      assert.equal(found.length, 1, `one record with tag ${tag}`);
      return found[0]![1];
    };
    assert.deepEqual(fields(one(TAGS.CLONE), 1).n, [0x6e020000n]);
    assert.deepEqual(fields(one(TAGS.ROOTFS), 2), { n: [BigInt(MS.PRIVATE | MS.REC), 0n], s: [ROOTFS] });
    assert.deepEqual(fields(one(TAGS.USER), 3).n, [1000n, 1000n, 0o022n]);
    assert.deepEqual(fields(one(TAGS.GROUPS), 2).n, [1001n, 27n]);
    assert.deepEqual(fields(one(TAGS.CAPS), 5).n, [0xa80425fbn, 0xa80425fbn, 0xa80425fbn, 0n, 0n]);
    assert.equal(one(TAGS.NO_NEW_PRIVS).length, 0);
    assert.deepEqual(one(TAGS.SECCOMP), filter);
    assert.deepEqual(fields(one(TAGS.CWD), 0).s, ['/work']);
    assert.deepEqual(records.filter(([t]) => t === TAGS.ARG).map(([, p]) => fields(p, 0).s[0]), ['sh', '-c', 'echo hi']);
    const mounts = records.filter(([t]) => t === TAGS.MOUNT).map(([, p]) => fields(p, 2));
    assert.deepEqual(mounts[1], { n: [BigInt(MS.NOSUID | MS.STRICTATIME), 0n], s: ['tmpfs', '/dev', 'tmpfs', 'mode=755,size=65536k'] });
    assert.deepEqual(mounts[0]!.s, ['proc', '/proc', 'proc', '']);
    const links = records.filter(([t]) => t === TAGS.SYMLINK).map(([, p]) => fields(p, 0).s);
    assert.deepEqual(links[0], ['/proc/self/fd', '/dev/fd']);
    const rlimit = fields(one(TAGS.RLIMIT), 3).n;
    assert.deepEqual(rlimit, [7n, 1024n, 20000n]);
  });

  test('negative numbers travel as two\'s complement', () => {
    const plan = planLaunch(dockerSpec({ oomScoreAdj: -17 }), { rootfs: ROOTFS });
    const record = decode(encodeLaunchPlan(plan)).find(([t]) => t === TAGS.OOM_SCORE_ADJ)!;
    assert.equal(record[1].readBigInt64LE(0), -17n);
  });
});

describe('loopbackUp', () => {
  test('an empty LOOPBACK_UP record only when asked, and only with a new network namespace', () => {
    const tagsOf = (plan: ReturnType<typeof planLaunch>) => decode(encodeLaunchPlan(plan)).map(([tag]) => tag);
    const asked = decode(encodeLaunchPlan(planLaunch(dockerSpec(), { rootfs: ROOTFS, loopbackUp: true }))).filter(([t]) => t === TAGS.LOOPBACK_UP);
    assert.equal(asked.length, 1);
    assert.equal(asked[0]![1].length, 0);
    assert.equal(tagsOf(planLaunch(dockerSpec(), { rootfs: ROOTFS })).includes(TAGS.LOOPBACK_UP), false);
    const hostNetwork = dockerSpec();
    hostNetwork.linux.namespaces = hostNetwork.linux.namespaces!.filter((ns) => ns.type !== 'network');
    assert.throws(() => planLaunch(hostNetwork, { rootfs: ROOTFS, loopbackUp: true }), (error) => isEngineError(error, 'INVALID_ARGUMENT'));
  });
});
