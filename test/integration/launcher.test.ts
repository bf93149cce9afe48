/**
 * The native launcher against the real kernel, as root: a busybox rootfs with
 * the static probe at /probe, specs from the spec planner (Docker's defaults)
 * or written by hand, launched through src/sys/launcher.ts. After every test
 * nothing may be mounted below the temp dir and no process of it may be left.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createRecordingExplainer, isEngineError, type Explainer } from '../../src/common/index.js';
import { createCgroupManager, detectCgroupLayout } from '../../src/runtime/index.js';
import { encodeLaunchPlan, planLaunch, type LaunchSpec, type PlanLaunchOptions } from '../../src/runtime/launch-plan.js';
import { compileSeccomp, planSpec, type RunOptions } from '../../src/spec/index.js';
import { execFailureStatus, launchContainer, launchFailureOf, nativeBinaryPath, type LaunchedContainer } from '../../src/sys/index.js';
import { createTempRoot, mountsBelow, type TempRoot } from '../helpers/tmp-root.js';

const needsRoot = { skip: process.getuid?.() !== 0 ? 'needs root' : false };
const APPLETS = ['sh', 'cat', 'wc', 'sleep', 'ls', 'stat', 'id', 'true'];

interface ProbeReport {
  pid: number;
  uid: number;
  gid: number;
  groups: number[];
  hostname: string;
  cwd: string;
  status: Record<string, string>;
  checks: Record<string, { ok: boolean; errno: string | null }>;
  kcore: { exists: boolean; masked?: boolean };
  processes: number;
  rlimit_nofile: { soft: number | string; hard: number | string };
  cgroup: string;
  env: string[];
}

/** A minimal root filesystem: busybox with a few applets, the probe, /etc/passwd. */
function buildRootfs(dir: string): string {
  const rootfs = path.join(dir, 'rootfs');
  for (const sub of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'home/app']) fs.mkdirSync(path.join(rootfs, sub), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  fs.copyFileSync(nativeBinaryPath('didactic-probe'), path.join(rootfs, 'probe'));
  fs.chmodSync(path.join(rootfs, 'probe'), 0o755);
  fs.writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  fs.writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:1001:app\n');
  return rootfs;
}

/** Docker's defaults through the spec planner: caps, masks, namespaces, seccomp. */
function dockerSpec(rootfs: string, command: string[], options: Partial<RunOptions> = {}): LaunchSpec & { seccomp?: Buffer } {
  const spec = planSpec(
    {
      containerId: 'c0ffee'.padEnd(64, '0'),
      imageConfig: { Env: ['PATH=/bin'] },
      rootfsPath: rootfs,
      command,
      network: 'none',
      ...options,
    },
    {
      nofileHard: 20000,
      passwd: fs.readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8'),
      group: fs.readFileSync(path.join(rootfs, 'etc/group'), 'utf8'),
    },
  );
  return spec.linux.seccomp ? { ...spec, seccomp: compileSeccomp(spec.linux.seccomp).toBuffer() } : spec;
}

interface Run {
  container?: LaunchedContainer;
  stdout: string;
  stderr: string;
  status?: number;
  error?: unknown;
}

function collect(stream: Readable | null): Promise<string> {
  if (stream === null) return Promise.resolve('');
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => stream.on('close', () => resolve(Buffer.concat(chunks).toString('utf8'))));
}

describe('didactic-launcher (root)', needsRoot, () => {
  let tmp: TempRoot;
  let rootfs: string;
  const pids: number[] = [];
  const layout = detectCgroupLayout();

  beforeEach(() => {
    tmp = createTempRoot('didactic-launcher-it-');
    rootfs = buildRootfs(tmp.dir);
  });

  afterEach(() => {
    const leftMounts = mountsBelow(tmp.dir);
    const alive = pids.splice(0).filter((pid) => {
      try {
        process.kill(pid, 0);
        process.kill(pid, 'SIGKILL');
        return true;
      } catch {
        return false;
      }
    });
    tmp.dispose();
    assert.deepEqual(leftMounts, [], 'mounts left behind');
    assert.deepEqual(alive, [], 'processes left behind');
  });

  /**
   * Launches spec and collects its output. The container's stdout and stderr are
   * pipes (the launcher is started by child_process), or with `fds` files of
   * the test (started by the addon, as the CLI's foreground run is).
   */
  async function launch(spec: LaunchSpec & { seccomp?: Buffer }, options: { explainer?: Explainer; onPid?: (pid: number) => Promise<void> | void; plan?: Partial<PlanLaunchOptions>; fds?: boolean } = {}): Promise<Run> {
    const plan = planLaunch(spec, {
      rootfs,
      cgroupLayout: layout,
      ...(spec.seccomp ? { seccompFilter: spec.seccomp } : {}),
      ...options.plan,
    });
    const run: Run = { stdout: '', stderr: '' };
    const files = [path.join(tmp.dir, 'stdout'), path.join(tmp.dir, 'stderr')];
    const fds = options.fds === true ? files.map((file) => fs.openSync(file, 'w')) : [];
    try {
      run.container = await launchContainer(encodeLaunchPlan(plan), {
        stdio: fds.length > 0 ? ['ignore', fds[0]!, fds[1]!] : ['ignore', 'pipe', 'pipe'],
        ...(options.explainer ? { explainer: options.explainer } : {}),
        onPid: async (pid) => {
          pids.push(pid);
          await options.onPid?.(pid);
        },
      });
      pids.push(run.container.launcherPid);
    } catch (error) {
      run.error = error;
      return run;
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
    if (fds.length > 0) {
      assert.equal(run.container.stdout, null);
      const { status } = await run.container.exited;
      return Object.assign(run, { stdout: fs.readFileSync(files[0]!, 'utf8'), stderr: fs.readFileSync(files[1]!, 'utf8'), status });
    }
    const [stdout, stderr, exit] = await Promise.all([collect(run.container.stdout), collect(run.container.stderr), run.container.exited]);
    Object.assign(run, { stdout, stderr, status: exit.status });
    return run;
  }

  async function report(spec: LaunchSpec & { seccomp?: Buffer }): Promise<ProbeReport> {
    const run = await launch(spec);
    assert.equal(run.error, undefined, String(run.error));
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout) as ProbeReport;
  }

  test('Docker defaults as root: pid 1, hostname, caps, seccomp, masks, read-only /proc/sys', { timeout: 20_000 }, async () => {
    const r = await report(dockerSpec(rootfs, ['/probe', 'report'], { hostname: 'probe-host' }));
    assert.equal(r.pid, 1);
    assert.equal(r.hostname, 'probe-host');
    assert.equal(r.status.CapEff, '00000000a80425fb');
    assert.equal(r.status.CapBnd, '00000000a80425fb');
    assert.equal(r.status.Seccomp, '2');
    assert.equal(r.checks.mount!.errno, 'EPERM');
    assert.equal(r.checks.mount!.ok, false);
    assert.equal(r.checks.unshare_mnt!.ok, false);
    assert.equal(r.checks.proc_sys_write!.errno, 'EROFS');
    assert.ok(!r.kcore.exists || r.kcore.masked, '/proc/kcore is masked where it exists');
    assert.ok(r.processes <= 2, `${r.processes} processes visible`);
    assert.deepEqual([r.uid, r.gid], [0, 0]);
    assert.equal(r.cwd, '/');
    assert.deepEqual(r.rlimit_nofile, { soft: 1024, hard: 20000 });
    assert.ok(r.env.includes('PATH=/bin'));
    assert.ok(r.env.includes('HOSTNAME=probe-host'));
  });

  test('masked files read empty; sysctls, oom_score_adj and umask as the spec says', { timeout: 20_000 }, async () => {
    const spec = dockerSpec(rootfs, [
      'sh',
      '-c',
      'wc -c < /proc/timer_list; cat /proc/sys/net/ipv4/ip_unprivileged_port_start; cat /proc/self/oom_score_adj; umask; ls /proc/acpi | wc -l',
    ]);
    spec.process = { ...spec.process, oomScoreAdj: 500, user: { ...spec.process.user, umask: 0o027 } };
    const run = await launch(spec);
    assert.equal(run.error, undefined, String(run.error));
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines[0], '0', '/proc/timer_list is /dev/null');
    assert.equal(lines[1], '0', 'net.ipv4.ip_unprivileged_port_start');
    assert.equal(lines[2], '500', 'oom_score_adj');
    assert.equal(lines[3], '0027', 'umask');
    assert.equal(lines[4], '0', '/proc/acpi is empty');
  });

  test('user, groups and working directory as asked; a non-root user has no effective caps', { timeout: 20_000 }, async () => {
    const r = await report(dockerSpec(rootfs, ['/probe', 'report'], { user: 'app', workdir: '/srv/work', securityOpt: ['no-new-privileges'] }));
    assert.deepEqual([r.uid, r.gid, r.groups], [1000, 1000, [1001]]);
    assert.equal(r.cwd, '/srv/work');
    assert.equal(r.status.CapEff, '0000000000000000');
    assert.equal(r.status.CapBnd, '00000000a80425fb');
    assert.equal(r.status.NoNewPrivs, '1');
    assert.equal(r.status.Seccomp, '2');
    const created = fs.statSync(path.join(rootfs, 'srv/work'));
    assert.deepEqual([created.uid, created.gid], [1000, 1000], 'the created workdir belongs to the user');
  });

  test('--read-only: the rootfs is remounted read-only, /dev/shm stays writable', { timeout: 20_000 }, async () => {
    const run = await launch(dockerSpec(rootfs, ['sh', '-c', 'echo x > /dev/shm/ok && echo x > /file'], { readOnly: true }));
    assert.equal(run.error, undefined, String(run.error));
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /Read-only file system/);
    assert.ok(!fs.existsSync(path.join(rootfs, 'file')));
  });

  test('the exit status is passed through', { timeout: 20_000 }, async () => {
    const run = await launch(dockerSpec(rootfs, ['/probe', 'exit', '7']));
    assert.equal(run.error, undefined, String(run.error));
    assert.equal(run.status, 7);
  });

  test('a missing command fails at the exec step with ENOENT (127); a directory with EACCES (126)', { timeout: 20_000 }, async () => {
    const missing = await launch(dockerSpec(rootfs, ['/no/such/binary']));
    assert.ok(isEngineError(missing.error, 'NOT_FOUND'), String(missing.error));
    assert.equal(missing.error.message, 'start container: exec: "/no/such/binary": stat /no/such/binary: no such file or directory');
    assert.deepEqual([launchFailureOf(missing.error)?.step, launchFailureOf(missing.error)?.errnoName], ['exec', 'ENOENT']);
    assert.equal(execFailureStatus(missing.error), 127);

    const notInPath = await launch(dockerSpec(rootfs, ['nosuch']));
    assert.ok(isEngineError(notInPath.error));
    assert.match(notInPath.error.message, /exec: "nosuch": executable file not found in \$PATH/);

    const directory = await launch(dockerSpec(rootfs, ['/etc']));
    assert.ok(isEngineError(directory.error, 'PERMISSION_DENIED'), String(directory.error));
    assert.equal(execFailureStatus(directory.error), 126);
  });

  test('a bad mount fails at the mount step and names it', { timeout: 20_000 }, async () => {
    const spec = dockerSpec(rootfs, ['/probe', 'exit', '0']);
    spec.mounts = [...spec.mounts, { destination: '/data', type: 'bind', source: path.join(tmp.dir, 'missing'), options: ['rbind'] }];
    const run = await launch(spec);
    assert.ok(isEngineError(run.error, 'NOT_FOUND'), String(run.error));
    assert.match(run.error.message, /^start container: mount: .*missing on \/data \(bind\): no such file or directory$/);
    assert.equal(launchFailureOf(run.error)?.step, 'mount');
    assert.equal(execFailureStatus(run.error), undefined);
  });

  test('a symlink in the image cannot move a mount target out of the rootfs', { timeout: 20_000 }, async () => {
    const outside = path.join(tmp.dir, 'outside');
    fs.mkdirSync(outside);
    // Absolute: inside the container it means <rootfs>/<outside>, which does not exist yet.
    fs.symlinkSync(outside, path.join(rootfs, 'escape'));
    fs.symlinkSync(`../../../../../../../..${outside}`, path.join(rootfs, 'climb'));
    const withMount = (destination: string) => {
      const spec = dockerSpec(rootfs, ['sh', '-c', `ls -d ${destination}`]);
      spec.mounts = [...spec.mounts, { destination, type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }];
      return spec;
    };
    const dangling = await launch(withMount('/escape/sub'));
    assert.ok(isEngineError(dangling.error), 'a dangling symlink on the way is refused');
    assert.match(dangling.error.message, /^start container: mount: tmpfs on \/escape\/sub: /);

    fs.mkdirSync(path.join(rootfs, outside), { recursive: true });
    for (const destination of ['/escape/sub', '/climb/sub2']) {
      const run = await launch(withMount(destination));
      assert.equal(run.error, undefined, String(run.error));
      assert.equal(run.stdout.trim(), destination);
    }
    assert.deepEqual(fs.readdirSync(outside), [], 'nothing was created outside the rootfs');
    assert.deepEqual(fs.readdirSync(path.join(rootfs, outside)).sort(), ['sub', 'sub2'], 'the targets were made inside it');
  });

  test('onPid runs while the process waits, in its own namespaces, and can put it in a cgroup', { timeout: 20_000 }, async () => {
    const cgroup = createCgroupManager({ name: `launcher-it-${process.pid}`, parent: 'didactic-test-launcher', layout });
    const seen: string[] = [];
    try {
      await cgroup.create();
      const run = await launch(dockerSpec(rootfs, ['/probe', 'report']), {
        onPid: async (pid) => {
          assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/pid`), fs.readlinkSync('/proc/self/ns/pid'));
          assert.equal(fs.readlinkSync(`/proc/${pid}/ns/cgroup`), fs.readlinkSync('/proc/self/ns/cgroup'), 'cgroupns is made after GO');
          await cgroup.apply(pid);
          seen.push(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
        },
      });
      assert.equal(run.error, undefined, String(run.error));
      assert.match(seen[0]!, new RegExp(`:${cgroup.path.replace(/^\/?/, '/')}\\n`));
      const r = JSON.parse(run.stdout) as ProbeReport;
      assert.match(r.cgroup, /:memory:\/\n/, 'inside its cgroup namespace the container is at the root');
    } finally {
      await cgroup.destroy();
      await cgroup.removeParentIfEmpty();
    }
  });

  test('an onPid failure kills the process and is what the launch rejects with', { timeout: 20_000 }, async () => {
    const boom = new Error('cgroup setup failed');
    const run = await launch(dockerSpec(rootfs, ['/probe', 'sleep', '30']), { onPid: () => Promise.reject(boom) });
    assert.equal(run.error, boom);
  });

  test('SIGTERM to the launcher is forwarded; the container\'s trap decides the status', { timeout: 20_000 }, async () => {
    const spec = dockerSpec(rootfs, ['sh', '-c', 'trap "exit 3" TERM; echo ready; sleep 30 & wait']);
    const plan = planLaunch(spec, { rootfs, cgroupLayout: layout, seccompFilter: spec.seccomp! });
    const container = await launchContainer(encodeLaunchPlan(plan), { stdio: ['ignore', 'pipe', 'inherit'] });
    pids.push(container.pid, container.launcherPid);
    await new Promise<void>((resolve) => container.stdout!.on('data', (chunk: Buffer) => chunk.includes('ready') && resolve()));
    container.kill('SIGTERM');
    assert.deepEqual(await container.exited, { status: 3 });
  });

  test('SIGKILL ends the container with 137', { timeout: 20_000 }, async () => {
    const spec = dockerSpec(rootfs, ['/probe', 'sleep', '30']);
    const plan = planLaunch(spec, { rootfs, cgroupLayout: layout, seccompFilter: spec.seccomp! });
    const container = await launchContainer(encodeLaunchPlan(plan), { stdio: ['ignore', 'ignore', 'inherit'] });
    pids.push(container.pid, container.launcherPid);
    container.kill('SIGKILL');
    assert.deepEqual(await container.exited, { status: 137 });
  });

  // Without no_new_privs the filter goes in while CAP_SYS_ADMIN is still held, so before capset.
  test('--explain: the steps come back as events, in order', { timeout: 20_000 }, async () => {
    const explainer = createRecordingExplainer();
    const run = await launch(dockerSpec(rootfs, ['/probe', 'exit', '0']), { explainer });
    assert.equal(run.error, undefined, String(run.error));
    const calls = explainer.events.map((e) => e.call ?? '');
    const index = (pattern: RegExp) => calls.findIndex((call) => pattern.test(call));
    const order = [/^clone\(.*CLONE_NEWPID.*\) = \d+$/, /^unshare\(CLONE_NEWCGROUP\)/, /^mount\("proc", "\/proc", "proc", MS_NOSUID\|MS_NODEV\|MS_NOEXEC/, /^pivot_root/, /^prctl\(PR_SET_SECCOMP/, /^capset\(eff=0xa80425fb/, /^execve\("\/probe"/, /^waitpid/].map(index);
    assert.ok(order.every((i) => i >= 0), `missing steps: ${JSON.stringify(order)}\n${calls.join('\n')}`);
    assert.deepEqual([...order].sort((a, b) => a - b), order, 'steps in order');
    assert.ok(explainer.events.every((e) => e.say.length > 0));
  });
  // The CLI's foreground run starts the launcher through the addon (stdio as plain fds), the API's
  // with pipes through child_process: the same protocol, the same container.
  test('through the addon (stdio as fds): Docker defaults, default signal dispositions, the exit status', { timeout: 20_000 }, async () => {
    for (const fds of [false, true]) {
      const run = await launch(dockerSpec(rootfs, ['/probe', 'report'], { hostname: 'probe-host' }), { fds });
      assert.equal(run.error, undefined, String(run.error));
      assert.equal(run.status, 0, run.stderr);
      const r = JSON.parse(run.stdout) as ProbeReport;
      assert.deepEqual([r.pid, r.hostname, r.status.CapEff, r.status.Seccomp], [1, 'probe-host', '00000000a80425fb', '2'], `fds: ${fds}`);
      // Node ignores SIGPIPE, and glibc's posix_spawn would leave its own signals 32 and 33 ignored: none may reach the container.
      const signals = await launch(dockerSpec(rootfs, ['cat', '/proc/self/status']), { fds });
      assert.deepEqual(signals.stdout.match(/^Sig(Ign|Blk):.*$/gm)?.map((line) => line.replace(/\s+/g, ' ')), ['SigBlk: 0000000000000000', 'SigIgn: 0000000000000000'], `fds: ${fds}`);
    }
    const run = await launch(dockerSpec(rootfs, ['sh', '-c', 'echo out; echo err >&2; exit 7']), { fds: true });
    assert.deepEqual([run.error, run.status, run.stdout, run.stderr], [undefined, 7, 'out\n', 'err\n']);
  });

  test('through the addon: exec failures, an onPid failure, SIGTERM forwarded and SIGKILL', { timeout: 20_000 }, async () => {
    const missing = await launch(dockerSpec(rootfs, ['/no/such/binary']), { fds: true });
    assert.ok(isEngineError(missing.error, 'NOT_FOUND'), String(missing.error));
    assert.equal(execFailureStatus(missing.error), 127);
    const boom = new Error('cgroup setup failed');
    const failed = await launch(dockerSpec(rootfs, ['/probe', 'sleep', '30']), { fds: true, onPid: () => Promise.reject(boom) });
    assert.equal(failed.error, boom);

    const spec = dockerSpec(rootfs, ['sh', '-c', 'trap "exit 3" TERM; echo ready; sleep 30 & wait']);
    const plan = planLaunch(spec, { rootfs, cgroupLayout: layout, seccompFilter: spec.seccomp! });
    const out = path.join(tmp.dir, 'ready');
    const fd = fs.openSync(out, 'w');
    const container = await launchContainer(encodeLaunchPlan(plan), { stdio: ['ignore', fd, 'inherit'] });
    fs.closeSync(fd);
    pids.push(container.pid, container.launcherPid);
    while (!fs.readFileSync(out, 'utf8').includes('ready')) await new Promise((resolve) => setTimeout(resolve, 10));
    container.kill('SIGTERM');
    assert.deepEqual(await container.exited, { status: 3 });
    container.kill('SIGTERM'); // after the exit: nothing to signal, and no error

    const sleeper = await launchContainer(encodeLaunchPlan(planLaunch(dockerSpec(rootfs, ['/probe', 'sleep', '30']), { rootfs, cgroupLayout: layout })), { stdio: ['ignore', 'ignore', 'inherit'] });
    pids.push(sleeper.pid, sleeper.launcherPid);
    sleeper.kill('SIGKILL');
    assert.deepEqual(await sleeper.exited, { status: 137 });
  });

  test('through the addon: --explain lines come back as events, in order', { timeout: 20_000 }, async () => {
    const explainer = createRecordingExplainer();
    const run = await launch(dockerSpec(rootfs, ['/probe', 'exit', '0']), { explainer, fds: true });
    assert.equal(run.error, undefined, String(run.error));
    const calls = explainer.events.map((e) => e.call ?? '');
    const order = [/^clone\(.*CLONE_NEWPID.*\) = \d+$/, /^pivot_root/, /^execve\("\/probe"/, /^waitpid/].map((pattern) => calls.findIndex((call) => pattern.test(call)));
    assert.ok(order.every((i) => i >= 0), `missing steps: ${JSON.stringify(order)}\n${calls.join('\n')}`);
    assert.deepEqual([...order].sort((a, b) => a - b), order, 'steps in order');
  });
});
