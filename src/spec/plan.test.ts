import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEngineError } from '../common/index.js';
import { ALL_CAPABILITIES, capsToMask, DEFAULT_MASKED_PATHS } from './defaults.js';
import { planArgs, type PlanContext, planSpec, planWorkdir } from './plan.js';
import type { RunOptions } from './run-options.js';
import { compileSeccomp, decodeVerdict, runSeccompFilter, syscallNumber, AUDIT_ARCH_X86_64 } from './seccomp/index.js';
import type { Spec } from './types.js';
import { specProblems, validateSpec } from './validate.js';

const ID = 'abcdef0123456789'.repeat(4);
const MiB = 1024 * 1024;

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n';
const GROUP = 'root:x:0:root\nwheel:x:10:root,app\napp:x:1000:\n';

function options(extra: Partial<RunOptions> = {}): RunOptions {
  return {
    containerId: ID,
    rootfsPath: '/var/lib/didactic-container/containers/x/rootfs',
    imageConfig: {
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8'],
      Cmd: ['/bin/sh'],
      WorkingDir: '',
    },
    ...extra,
  };
}

const context: PlanContext = {
  passwd: PASSWD,
  group: GROUP,
  hostEnv: { FROM_HOST: 'yes' },
  nofileHard: 20000,
  hostHostname: 'the-host',
  hostCpus: 2,
  arch: 'x86_64',
};

const plan = (extra: Partial<RunOptions> = {}, ctx: Partial<PlanContext> = {}): Spec =>
  planSpec(options(extra), { ...context, ...ctx });

const fails = (pattern: RegExp, code = 'INVALID_ARGUMENT') => (error: unknown) =>
  isEngineError(error) && error.code === code && pattern.test(error.message);

describe('Entrypoint and Cmd', () => {
  const image = { Entrypoint: ['/entry.sh'], Cmd: ['serve', '--port', '80'] };
  it("runs the image's entrypoint with its Cmd", () => {
    assert.deepEqual(planArgs({ imageConfig: image }), ['/entry.sh', 'serve', '--port', '80']);
  });
  it("replaces Cmd with the command given", () => {
    assert.deepEqual(planArgs({ imageConfig: image, command: ['debug'] }), ['/entry.sh', 'debug']);
  });
  it("--entrypoint drops the image's Cmd unless a command is given", () => {
    assert.deepEqual(planArgs({ imageConfig: image, entrypoint: '/bin/sh' }), ['/bin/sh']);
    assert.deepEqual(planArgs({ imageConfig: image, entrypoint: '/bin/sh', command: ['-c', 'id'] }), ['/bin/sh', '-c', 'id']);
  });
  it("--entrypoint '' clears the entrypoint and keeps the image's Cmd", () => {
    assert.deepEqual(planArgs({ imageConfig: image, entrypoint: '' }), ['serve', '--port', '80']);
    assert.deepEqual(planArgs({ imageConfig: image, entrypoint: '', command: ['ls'] }), ['ls']);
  });
  it('fails when there is no command at all', () => {
    assert.throws(() => planArgs({ imageConfig: {} }), fails(/no command specified/));
    assert.throws(() => planArgs({ imageConfig: { Entrypoint: null, Cmd: null } }), fails(/no command specified/));
  });
});

describe('workdir', () => {
  it('takes -w, else the image, else /', () => {
    assert.equal(planWorkdir('/srv/', '/app'), '/srv');
    assert.equal(planWorkdir(undefined, '/app'), '/app');
    assert.equal(planWorkdir(undefined, ''), '/');
    assert.equal(planWorkdir('/a/../b', undefined), '/b');
    assert.throws(() => planWorkdir('rel', undefined), fails(/the working directory 'rel' is invalid, it needs to be an absolute path/));
  });
});

describe('planSpec defaults', () => {
  const spec = plan();

  it('is a valid OCI 1.0.2 spec for runc', () => {
    assert.equal(spec.ociVersion, '1.0.2');
    assert.deepEqual(specProblems(spec), []);
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec, 'JSON-clean');
    assert.equal(spec.root.readonly, false);
    assert.equal(spec.process.terminal, false);
    assert.deepEqual(spec.process.args, ['/bin/sh']);
    assert.equal(spec.process.cwd, '/');
  });

  it('names the container after its short id', () => {
    assert.equal(spec.hostname, ID.slice(0, 12));
    assert.ok(spec.process.env.includes(`HOSTNAME=${ID.slice(0, 12)}`));
  });

  it("has the image's env after Docker's defaults, HOME from passwd", () => {
    assert.deepEqual(spec.process.env, [
      'PATH=/usr/local/bin:/usr/bin:/bin',
      `HOSTNAME=${ID.slice(0, 12)}`,
      'LANG=C.UTF-8',
      'HOME=/root',
    ]);
  });

  it("runs as root with Docker's capabilities (CapEff a80425fb), no inheritable or ambient", () => {
    assert.deepEqual(spec.process.user, { uid: 0, gid: 0, umask: 0o022, additionalGids: [0, 10] });
    const caps = spec.process.capabilities;
    assert.equal(capsToMask(caps.effective), 0xa80425fbn);
    assert.deepEqual(caps.bounding, caps.effective);
    assert.deepEqual(caps.permitted, caps.effective);
    assert.equal(caps.inheritable, undefined);
    assert.equal(caps.ambient, undefined);
    assert.equal(spec.process.noNewPrivileges, false);
  });

  it('asks for 1024 open files under the engine hard limit', () => {
    assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 }]);
  });

  it('creates pid, network, ipc, uts, mount and cgroup namespaces', () => {
    assert.deepEqual(spec.linux.namespaces.map((n) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    assert.equal(spec.linux.rootfsPropagation, 'rprivate');
    assert.equal(spec.linux.cgroupsPath, `/didactic-container/${ID}`);
    assert.equal(spec.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
  });

  it('masks /proc/kcore, makes /proc/sys read-only, limits devices, applies the default seccomp', () => {
    assert.ok(spec.linux.maskedPaths!.includes('/proc/kcore'));
    assert.ok(spec.linux.readonlyPaths!.includes('/proc/sys'));
    assert.deepEqual(spec.linux.resources.devices[0], { allow: false, access: 'rwm' });
    assert.deepEqual(spec.linux.devices, []);
    const seccomp = spec.linux.seccomp!;
    assert.equal(seccomp.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(seccomp.architectures, ['SCMP_ARCH_X86_64']);
    const names = seccomp.syscalls!.flatMap((s) => s.names);
    assert.ok(names.includes('read'));
    assert.ok(!names.includes('mount'), 'mount is gated on CAP_SYS_ADMIN');
    assert.ok(!names.includes('s390_runtime_instr'), 'other arches left out');
  });

  it("its seccomp section compiles to the filter our runtime loads", () => {
    const program = compileSeccomp(spec.linux.seccomp!, { arch: 'x86_64' });
    const call = (name: string) => decodeVerdict(runSeccompFilter(program, { nr: syscallNumber('x86_64', name)!, arch: AUDIT_ARCH_X86_64 }));
    assert.deepEqual(call('read'), { action: 'allow' });
    assert.deepEqual(call('mount'), { action: 'errno', errno: 1 });
  });

  it('mounts the defaults and no resource limits', () => {
    assert.deepEqual(spec.mounts.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
    assert.equal(spec.linux.resources.memory, undefined);
    assert.equal(spec.linux.resources.cpu, undefined);
    assert.equal(spec.linux.resources.pids, undefined);
  });
});

describe('planSpec options', () => {
  it('-e overrides the image env by name; -e NAME takes the host value; env files come first', () => {
    const spec = plan({ env: ['LANG=fr_FR', 'FROM_HOST', 'NOT_ON_HOST', 'NEW=1'], envFiles: ['NEW=0\nFILE=1\n'] });
    assert.deepEqual(spec.process.env, [
      'PATH=/usr/local/bin:/usr/bin:/bin',
      `HOSTNAME=${ID.slice(0, 12)}`,
      'LANG=fr_FR',
      'NEW=1',
      'FILE=1',
      'FROM_HOST=yes',
      'HOME=/root',
    ]);
  });

  it("sets PATH when the image has none, TERM with a tty, and keeps a HOME that was set", () => {
    const spec = plan({ imageConfig: { Cmd: ['sh'], Env: ['HOME=/data'] }, tty: true });
    assert.deepEqual(spec.process.env, [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      `HOSTNAME=${ID.slice(0, 12)}`,
      'TERM=xterm',
      'HOME=/data',
    ]);
    assert.equal(spec.process.terminal, true);
  });

  it('resolves -u and the image User against passwd', () => {
    const spec = plan({ user: 'app' });
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, umask: 0o022, additionalGids: [10] });
    assert.ok(spec.process.env.includes('HOME=/home/app'));
    assert.equal(plan({ imageConfig: { Cmd: ['sh'], User: '1000:10' } }).process.user.gid, 10);
    assert.equal(plan({ user: '77' }).process.user.uid, 77);
    assert.throws(() => plan({ user: 'ghost' }), fails(/unable to find user ghost: no matching entries in passwd file/, 'NOT_FOUND'));
  });

  it('--hostname, and the host name with --network host (no network namespace, no net sysctls)', () => {
    assert.equal(plan({ hostname: 'web' }).hostname, 'web');
    const host = plan({ network: 'host' });
    assert.equal(host.hostname, 'the-host');
    assert.ok(!host.linux.namespaces.some((n) => n.type === 'network'));
    assert.ok(host.linux.namespaces.some((n) => n.type === 'uts'));
    assert.equal(host.linux.sysctl, undefined);
    assert.equal(plan({ network: 'host', hostname: 'mine' }).hostname, 'mine');
    assert.ok(plan({ network: 'none' }).linux.namespaces.some((n) => n.type === 'network'));
    assert.throws(() => plan({ hostname: 'bad_name!' }), fails(/invalid hostname/));
    assert.throws(() => plan({ network: 'container:abc' }), fails(/not supported/, 'NOT_IMPLEMENTED'));
  });

  it('--read-only makes the root and the generated /etc files read-only', () => {
    const spec = plan({
      readOnly: true,
      networkFiles: [
        { source: '/run/x/hosts', destination: '/etc/hosts' },
        { source: '/run/x/resolv.conf', destination: '/etc/resolv.conf' },
      ],
      mounts: [{ source: '/srv/data', destination: '/data/' }],
    });
    assert.equal(spec.root.readonly, true);
    const hosts = spec.mounts.find((m) => m.destination === '/etc/hosts')!;
    assert.deepEqual(hosts, { destination: '/etc/hosts', type: 'bind', source: '/run/x/hosts', options: ['rbind', 'rprivate', 'ro'] });
    assert.deepEqual(spec.mounts.find((m) => m.destination === '/data')!.options, ['rbind', 'rprivate', 'rw']);
    const writable = plan({ networkFiles: [{ source: '/run/x/hosts', destination: '/etc/hosts' }] });
    assert.deepEqual(writable.mounts.find((m) => m.destination === '/etc/hosts')!.options, ['rbind', 'rprivate', 'rw']);
  });

  it('a bind on a default mount point replaces the default; bad destinations are refused', () => {
    const spec = plan({ mounts: [{ source: '/host/shm', destination: '/dev/shm' }] });
    const shm = spec.mounts.filter((m) => m.destination === '/dev/shm');
    assert.equal(shm.length, 1);
    assert.equal(shm[0]!.type, 'bind');
    assert.throws(() => plan({ mounts: [{ source: '/a', destination: 'rel' }] }), fails(/not absolute/));
    assert.throws(() => plan({ mounts: [{ source: 'rel', destination: '/a' }] }), fails(/mount source "rel" is not absolute/));
    assert.throws(
      () => plan({ mounts: [{ source: '/a', destination: '/x' }, { source: '/b', destination: '/x/' }] }),
      fails(/duplicate mount point: \/x/),
    );
  });

  it('--privileged: all capabilities the engine has, no seccomp, no masks, all devices, writable /sys', () => {
    const engineCaps = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
    const spec = plan(
      { privileged: true },
      { engineCaps, hostDevices: [{ path: '/dev/loop0', type: 'b', major: 7, minor: 0 }] },
    );
    assert.equal(spec.process.capabilities.effective.length, 40);
    assert.ok(!spec.process.capabilities.bounding.includes('CAP_SYS_RESOURCE'));
    assert.equal(spec.linux.seccomp, undefined);
    assert.deepEqual(spec.linux.maskedPaths, []);
    assert.deepEqual(spec.linux.readonlyPaths, []);
    assert.deepEqual(spec.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
    assert.deepEqual(spec.linux.devices, [{ path: '/dev/loop0', type: 'b', major: 7, minor: 0 }]);
    assert.ok(spec.mounts.find((m) => m.destination === '/sys')!.options!.includes('rw'));
  });

  it('--cap-add/--cap-drop change the capabilities and the seccomp rules that depend on them', () => {
    const spec = plan({ capAdd: ['SYS_ADMIN'], capDrop: ['NET_RAW'] });
    const caps = spec.process.capabilities.effective;
    assert.ok(caps.includes('CAP_SYS_ADMIN'));
    assert.ok(!caps.includes('CAP_NET_RAW'));
    const names = spec.linux.seccomp!.syscalls!.flatMap((s) => s.names);
    assert.ok(names.includes('mount'));
    assert.ok(names.includes('unshare'));
    assert.throws(() => plan({ capAdd: ['NOPE'] }), fails(/unknown capability: "CAP_NOPE"/));
  });

  it('--security-opt: seccomp=unconfined, a profile file, no-new-privileges, systempaths=unconfined', () => {
    assert.equal(plan({ securityOpt: ['seccomp=unconfined'] }).linux.seccomp, undefined);
    assert.equal(plan({ securityOpt: ['no-new-privileges'] }).process.noNewPrivileges, true);
    const unmasked = plan({ securityOpt: ['systempaths=unconfined'] });
    assert.deepEqual(unmasked.linux.maskedPaths, []);
    assert.deepEqual(plan().linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
    const profile = JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
        { names: ['chmod'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } },
      ],
    });
    const spec = plan({ securityOpt: ['seccomp=/p.json'], seccompProfileContent: profile });
    assert.deepEqual(spec.linux.seccomp, {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
    });
    assert.throws(() => plan({ securityOpt: ['seccomp=/p.json'] }), fails(/was not read/, 'FAILED_PRECONDITION'));
    assert.throws(
      () => plan({ securityOpt: ['seccomp=/p.json'], seccompProfileContent: '{nope' }),
      fails(/load seccomp profile \/p.json: not valid JSON/),
    );
  });

  it('resources: memory with Docker swap semantics, cpus, shares, cpuset, pids', () => {
    const spec = plan({ memory: 32 * MiB, cpus: 1.5, cpuShares: 512, cpusetCpus: '0-1', pidsLimit: 10 });
    assert.deepEqual(spec.linux.resources.memory, { limit: 32 * MiB, swap: 64 * MiB });
    assert.deepEqual(spec.linux.resources.cpu, { quota: 150000, period: 100000, shares: 512, cpus: '0-1' });
    assert.deepEqual(spec.linux.resources.pids, { limit: 10 });
    assert.deepEqual(plan({ memory: 32 * MiB, memorySwap: 32 * MiB }).linux.resources.memory, { limit: 32 * MiB, swap: 32 * MiB });
    assert.deepEqual(plan({ memory: 32 * MiB, memorySwap: -1 }).linux.resources.memory, { limit: 32 * MiB, swap: -1 });
    assert.equal(plan({ pidsLimit: -1 }).linux.resources.pids, undefined);
    assert.equal(plan({ pidsLimit: 0 }).linux.resources.pids, undefined);
  });

  it('without swap accounting drops the swap limit with a warning', () => {
    const warnings: string[] = [];
    const spec = plan({ memory: 32 * MiB, memorySwap: 64 * MiB }, { swapLimitSupported: false, warn: (m) => warnings.push(m) });
    assert.deepEqual(spec.linux.resources.memory, { limit: 32 * MiB });
    assert.equal(warnings.length, 1);
    assert.deepEqual(plan({ memory: 32 * MiB }, { swapLimitSupported: false }).linux.resources.memory, { limit: 32 * MiB });
  });

  it('rejects impossible resource combinations', () => {
    assert.throws(() => plan({ memory: 64 * MiB, memorySwap: 32 * MiB }), fails(/minimum memoryswap limit should be larger than memory limit/));
    assert.throws(() => plan({ memorySwap: 64 * MiB }), fails(/you should always set the memory limit when using memoryswap limit/));
    assert.throws(() => plan({ memory: 4 * MiB }), fails(/minimum memory limit allowed is 6MB/));
    assert.throws(() => plan({ cpus: 3 }), fails(/range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available/));
    assert.throws(() => plan({ cpusetCpus: '0-3' }), fails(/requested CPUs are not available - requested 0-3, available: 0-1/));
    assert.throws(() => plan({ cpuShares: -5 }), fails(/--cpu-shares/));
  });

  it('annotates name and image, and refuses a bad id or rootfs', () => {
    const spec = plan({ name: 'web', image: 'alpine:3.20' });
    assert.deepEqual(spec.annotations, { 'dev.didactic-container.name': 'web', 'dev.didactic-container.image': 'alpine:3.20' });
    assert.throws(() => plan({ containerId: 'short' }), fails(/invalid container id/));
    assert.throws(() => plan({ rootfsPath: 'rel' }), fails(/rootfs path "rel" is not absolute/));
  });

  it('warns about security options without effect here', () => {
    const warnings: string[] = [];
    plan({ securityOpt: ['apparmor=unconfined'] }, { warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, ['--security-opt apparmor=unconfined has no effect here']);
  });
});

describe('validateSpec', () => {
  it('lists every problem it finds', () => {
    const spec = plan();
    spec.process.args = [];
    spec.process.cwd = 'relative';
    spec.process.env.push('NOEQUALS');
    spec.process.user.uid = -1;
    spec.process.capabilities.effective.push('CAP_SYS_ADMIN');
    spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }];
    spec.mounts.push({ destination: '/proc' });
    spec.linux.namespaces.push({ type: 'pid' });
    spec.linux.resources.memory = { limit: 100, swap: 50 };
    spec.linux.resources.cpu = { quota: 10, period: 10 };
    spec.linux.seccomp!.syscalls!.push({ names: ['x'], action: 'SCMP_ACT_NOPE' as never, args: [{ index: 9, value: 0, op: 'SCMP_CMP_EQ' }] });
    const problems = specProblems(spec);
    for (const pattern of [
      /no command specified/,
      /process.cwd "relative" is not an absolute path/,
      /"NOEQUALS" is not NAME=VALUE/,
      /uid -1 is out of range/,
      /CAP_SYS_ADMIN is effective but not permitted/,
      /soft 10 is above hard 5/,
      /two mounts on \/proc/,
      /namespace pid is listed twice/,
      /memory limit 100 is below 6MB/,
      /memory\+swap 50 is below the memory limit 100/,
      /cpu quota 10 is below 1000/,
      /cpu period 10/,
      /seccomp action SCMP_ACT_NOPE/,
      /seccomp argument index 9/,
    ]) {
      assert.ok(problems.some((p) => pattern.test(p)), `missing ${pattern}: ${problems.join(' | ')}`);
    }
    assert.throws(() => validateSpec(spec), fails(/^invalid runtime spec: /));
  });

  it('needs a uts namespace for a hostname and a network namespace for net sysctls', () => {
    const spec = plan();
    spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'uts' && n.type !== 'network');
    const problems = specProblems(spec);
    assert.ok(problems.includes('a hostname needs a uts namespace'));
    assert.ok(problems.includes('net.* sysctls need a network namespace'));
  });
});
